/* Sliding-window index arithmetic, shared by im2col/col2im (convolutions, unfold/fold) and the
 * pooling kernels. All of them see an N-d window as 3-D and walk one axis at a time: output
 * position o, with a tap whose offset is tap * dilation, reads input index
 * o * stride - pad + offset, which is in the image when 0 <= index < size (outside, it is
 * padding). */
#ifndef CYLAYERS_WINDOW_H
#define CYLAYERS_WINDOW_H

#include <stddef.h>

static inline ptrdiff_t cyl_window_index(ptrdiff_t o, ptrdiff_t stride, ptrdiff_t pad,
                                         ptrdiff_t offset) {
    return o * stride - pad + offset;
}

static inline int cyl_inside(ptrdiff_t index, ptrdiff_t size) {
    return index >= 0 && index < size;
}

/* The first output position o (at most out) whose index for this offset is >= 0. */
static inline ptrdiff_t cyl_first_inside(ptrdiff_t out, ptrdiff_t stride, ptrdiff_t pad,
                                         ptrdiff_t offset) {
    ptrdiff_t start = pad - offset, o = 0;
    if (start > 0)
        o = (start + stride - 1) / stride;
    return o < out ? o : out;
}

/* One past the last output position o (at most out) whose index for this offset is < size. */
static inline ptrdiff_t cyl_end_inside(ptrdiff_t size, ptrdiff_t out, ptrdiff_t stride,
                                       ptrdiff_t pad, ptrdiff_t offset) {
    ptrdiff_t last = size - 1 + pad - offset, o = 0;
    if (last >= 0)
        o = last / stride + 1;
    return o < out ? o : out;
}

static inline ptrdiff_t cyl_min_index(ptrdiff_t a, ptrdiff_t b) { return a < b ? a : b; }
static inline ptrdiff_t cyl_max_index(ptrdiff_t a, ptrdiff_t b) { return a > b ? a : b; }

#endif
