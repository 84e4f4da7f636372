"""Winograd F(2x2, 3x3) for ConvFn: when it applies, and the plan that drives the transforms of
cylayers._kernels.winograd (weights, data, and their adjoints) and the batched products between
them, forward and backward."""
import numpy as np

from cylayers import _blas as blas
from cylayers._kernel_call import c_array, named_kernels
from cylayers._kernels import winograd as _kernel_module
from cylayers._threads import threads_for

WK = named_kernels(_kernel_module)


def use_winograd(geom, groups, in_channels, out_channels):
    """3x3, stride 1, no dilation, one group, 2-D: Winograd F(2x2, 3x3) does 16 multiplies per
    2x2 outputs and channel pair instead of 36, and needs no im2col columns. Its products are
    over the input channels only (im2col's over 9 times as many), so with few input channels
    they are too thin to gain. Measured fwd+bwd against im2col (batch 64, 2 threads): faster
    from 16 input channels whatever the output channels and image size (1x1 to 32x32 outputs),
    from 8 with 16 output channels or more, slower with 8 -> 4, 6 -> 16 or fewer inputs."""
    return (groups == 1 and geom.nd == 2 and geom.k3 == (1, 3, 3) and geom.s3 == (1, 1, 1)
            and geom.d3 == (1, 1, 1)
            and (in_channels >= _WINOGRAD_MIN_IN_CHANNELS
                 or (in_channels >= _WINOGRAD_FEW_IN_CHANNELS
                     and out_channels >= _WINOGRAD_MIN_OUT_CHANNELS_FOR_FEW)))


_WINOGRAD_MIN_IN_CHANNELS = 16
_WINOGRAD_FEW_IN_CHANNELS = 8
_WINOGRAD_MIN_OUT_CHANNELS_FOR_FEW = 16


# An image's M (16 x tiles x output channels) up to this size is made and transformed at once:
# it fits the per-core cache with room for the rest (measurements: docs/performance.md).
FUSED_MAX_BYTES = 256 << 10


def _transposed(u):
    """U (16, O, C) as (16, C, O), contiguous: the right-hand side of the products V U^T."""
    return np.ascontiguousarray(u.transpose(0, 2, 1))


class WinogradPlan:
    """Tiles of a Winograd convolution: TH x TW tiles of 2x2 outputs per image."""

    def __init__(self, geom, n):
        _, self.h, self.w = geom.in3
        _, self.pad_h, self.pad_w = geom.p3
        _, self.oh, self.ow = geom.out3
        self.th, self.tw = (self.oh + 1) // 2, (self.ow + 1) // 2
        self.n, self.tiles = n, n * self.th * self.tw

    def transform_weight(self, w):
        """(O, C, 3, 3) -> U, (16, O, C): G w G^T for every channel pair."""
        o, c = w.shape[:2]
        u = np.empty((16, o, c), dtype=w.dtype)
        WK.weight_transform(w.reshape(-1), u.reshape(-1), o * c, threads_for(16 * o * c))
        return u

    @staticmethod
    def product(v, u):
        """M = V U^T per transform component: (16, tiles, C) x (16, O, C) -> (16, tiles, O)."""
        return blas.thin_matmul(v, _transposed(u))

    def forward_output(self, v, u, bias, nt):
        """The convolution's output from V and U (bias: an empty array for none). Where the
        thin product's register kernel applies and an image's M is small (FUSED_MAX_BYTES),
        product and output transform run image by image, M staying in the cache."""
        c, o = v.shape[2], u.shape[1]
        fused = (blas.thin_fits(v.dtype, c, o)
                 and 16 * (self.tiles // max(self.n, 1)) * o * v.itemsize <= FUSED_MAX_BYTES)
        if not fused:
            return self.output(self.product(v, u), bias, nt)
        out = np.empty((self.n, o, self.oh, self.ow), dtype=v.dtype)
        WK.product_output(v.reshape(-1), _transposed(u).reshape(-1), bias, out.reshape(-1),
                          self.n, c, o, self.oh, self.ow, self.th, self.tw, nt)
        return out

    def weight_grad(self, du):
        """The adjoint of transform_weight: G^T dU G, back to (O, C, 3, 3)."""
        o, c = du.shape[1:]
        dw = np.empty((o, c, 3, 3), dtype=du.dtype)
        WK.weight_transform_backward(c_array(du).reshape(-1), dw.reshape(-1), o * c,
                                     threads_for(16 * o * c))
        return dw

    def input(self, x, nt):
        """x -> V, (16, tiles, C): channels last, so the transform vectorizes over them."""
        c = x.shape[1]
        v = np.empty((16, self.tiles, c), dtype=x.dtype)
        WK.input_transform(x.reshape(-1), v.reshape(-1), self.n, c, self.h, self.w,
                           self.pad_h, self.pad_w, self.th, self.tw, nt)
        return v

    def output(self, m, bias, nt):
        """The products (16, tiles, O) -> the output, plus the bias (empty: none)."""
        o = m.shape[2]
        out = np.empty((self.n, o, self.oh, self.ow), dtype=m.dtype)
        WK.output_transform(m.reshape(-1), bias, out.reshape(-1), self.n, o, self.oh, self.ow,
                            self.th, self.tw, nt)
        return out

    def output_grad(self, g, nt):
        """The output's gradient -> dM (16, tiles, O)."""
        o = g.shape[1]
        dm = np.empty((16, self.tiles, o), dtype=g.dtype)
        WK.output_transform_backward(g.reshape(-1), dm.reshape(-1), self.n, o, self.oh,
                                     self.ow, self.th, self.tw, nt)
        return dm

    def input_grad(self, dv, nt):
        """dV (16, tiles, C) -> the input's gradient."""
        c = dv.shape[2]
        dx = np.empty((self.n, c, self.h, self.w), dtype=dv.dtype)
        WK.input_transform_backward(c_array(dv).reshape(-1), dx.reshape(-1), self.n, c,
                                    self.h, self.w, self.pad_h, self.pad_w, self.th, self.tw, nt)
        return dx


def winograd_backward(ctx, g):
    """The input's and weight's gradients for a ConvFn forward that ran as Winograd
    (ctx.winograd = (plan, U, V)); g is the output's gradient, contiguous in x's dtype."""
    x, weight = ctx.saved_tensors
    plan, u, v = ctx.winograd
    need_x, need_w = ctx.needs_input_grad[:2]
    g = g.reshape(plan.n, weight.shape[0], plan.oh, plan.ow)
    nt = threads_for(g.size)
    dm = plan.output_grad(g, nt)  # (16, tiles, o)
    dx = dw = None
    if need_w:
        dw = plan.weight_grad(blas.matmul(dm, v, trans_a=True)).reshape(weight.shape)
    if need_x:
        dx = plan.input_grad(blas.thin_matmul(dm, u), nt).reshape(x.shape)
    return dx, dw
