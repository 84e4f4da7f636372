"""unfold (sliding blocks into columns) and fold (columns summed back into an image), on the
convolution's im2col/col2im kernels, whose layout with one image per block is PyTorch's,
(N, C * taps, L)."""
import numpy as np

from cylayers._threads import threads_for
from cylayers.autograd.function import Function
from cylayers._kernel_call import c_array, float_input
from cylayers.nn.functional.conv import K, ConvGeometry, ntuple


def _im2col(x, geom):
    """x (N, C, H, W) -> (N, C * taps, L)."""
    n, c = x.shape[:2]
    taps, L = int(np.prod(geom.k3)), int(np.prod(geom.out3))
    cols = np.empty((n, c * taps, L), dtype=x.dtype)
    K.im2col(c_array(x).reshape(-1), cols.reshape(-1), n, c, *geom.kernel_args(), 1,
             threads_for(cols.size))
    return cols


def _col2im(cols, geom, n, c):
    """cols (N, C * taps, L) -> the image (N, C, H, W) with overlapping blocks summed."""
    image = np.empty((n, c) + tuple(geom.in3[1:]), dtype=cols.dtype)
    K.col2im(c_array(cols).reshape(-1), image.reshape(-1), n, c, *geom.kernel_args(), 1,
             threads_for(cols.size))
    return image


class UnfoldFn(Function):
    @staticmethod
    def forward(ctx, x, geom):
        xc = float_input(x, "unfold")
        ctx.geom, ctx.shape = geom, xc.shape
        return _im2col(xc, geom)

    @staticmethod
    def backward(ctx, g):
        n, c = ctx.shape[:2]
        return _col2im(g, ctx.geom, n, c), None


class FoldFn(Function):
    @staticmethod
    def forward(ctx, cols, geom, channels):
        cc = float_input(cols, "fold")
        ctx.geom = geom
        return _col2im(cc, geom, cc.shape[0], channels)

    @staticmethod
    def backward(ctx, g):
        return _im2col(g, ctx.geom), None, None


def _geometry(spatial, kernel_size, dilation, padding, stride):
    kernel, dilation = ntuple(kernel_size, 2, "kernel_size"), ntuple(dilation, 2, "dilation")
    padding, stride = ntuple(padding, 2, "padding"), ntuple(stride, 2, "stride")
    for name, values, low in (("kernel", kernel, 1), ("stride", stride, 1),
                              ("dilation", dilation, 1), ("padding", padding, 0)):
        if any(v < low for v in values):
            relation = "greater than zero" if low else "non-negative"
            raise RuntimeError(f"{name} should be {relation}, but got {name}_height: "
                               f"{values[0]} {name}_width: {values[1]}")
    blocks = [(s + 2 * p - (d * (k - 1) + 1)) // st + 1
              for s, p, d, k, st in zip(spatial, padding, dilation, kernel, stride)]
    if any(b < 1 for b in blocks):
        raise RuntimeError(f"Given input with spatial size {tuple(spatial)}, "
                           f"kernel_size={kernel}, dilation={dilation}, padding={padding}, "
                           f"calculated shape of the array of sliding blocks as "
                           f"{tuple(blocks)}, but its components must be at least one.")
    return ConvGeometry(tuple(spatial), kernel, stride, padding, padding, dilation)


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """(N, C, H, W) -> (N, C * kh * kw, L): every sliding block as a column."""
    if input.dim() not in (3, 4):
        raise RuntimeError(f"Input Error: Only 3D or 4D input Tensors are supported "
                           f"(got {input.dim()}D)")
    x = input.unsqueeze(0) if input.dim() == 3 else input
    out = UnfoldFn.apply(x, _geometry(tuple(x.shape[2:]), kernel_size, dilation, padding,
                                      stride))
    return out.squeeze(0) if input.dim() == 3 else out


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """(N, C * kh * kw, L) -> (N, C, H, W): the inverse layout of unfold, overlaps summed."""
    if input.dim() not in (2, 3):
        raise RuntimeError(f"Input Error: Only unbatched (2D) or batched (3D) input Tensors "
                           f"are supported (got {input.dim()}D)")
    cols = input.unsqueeze(0) if input.dim() == 2 else input
    geom = _geometry(ntuple(output_size, 2, "output_size"), kernel_size, dilation, padding,
                     stride)
    taps, blocks = int(np.prod(geom.kernel)), int(np.prod(geom.out_spatial))
    if cols.shape[1] % taps:
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the "
                           f"product of kernel_size, but got input.size(1)={cols.shape[1]} "
                           f"and kernel_size={geom.kernel}.")
    if cols.shape[2] != blocks:
        raise RuntimeError(f"Given output_size={tuple(geom.in3[1:])}, kernel_size="
                           f"{geom.kernel}, dilation={geom.dilation}, padding="
                           f"{geom.pad_before}, stride={geom.stride}, expected size of "
                           f"input's dimension 2 to match the calculated number of sliding "
                           f"blocks {' * '.join(map(str, geom.out_spatial))} = {blocks}, but "
                           f"got input.size(2)={cols.shape[2]}.")
    out = FoldFn.apply(cols, geom, cols.shape[1] // taps)
    return out.squeeze(0) if input.dim() == 2 else out
