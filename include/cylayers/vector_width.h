/* Whether this build's vectors are 512 bits wide: where the register-blocked kernels
 * (direct_conv.h, small_gemm.h) beat the BLAS and im2col. With narrower vectors they are
 * correct but not faster, and the Python side keeps to the BLAS. */
#ifndef CYLAYERS_VECTOR_WIDTH_H
#define CYLAYERS_VECTOR_WIDTH_H

static inline int cyl_wide_vectors(void) {
#if defined(__AVX512F__)
    return 1;
#else
    return 0;
#endif
}

#endif
