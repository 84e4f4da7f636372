"""Normalization ops: forward/backward pairs on cylayers._kernels.normalization.

Batch-, Instance- and GroupNorm share one op (BlockNormFn): the input (N, C, *spatial) is N*C
contiguous blocks of S = prod(spatial) elements; statistics are shared by a *group* of blocks
(BatchNorm: the N blocks of a channel; InstanceNorm: one block; GroupNorm: C/G consecutive blocks
of a sample), and gamma/beta are constant per block. LayerNorm normalizes rows and has
elementwise gamma/beta, so it has its own op. Backward keeps only per-group mean and inv_std
(plus x, which the graph holds anyway), never a normalized copy.
"""
import math

import numpy as np

from cylayers._kernels import normalization as _kernel_module
from cylayers._tensor import unwrap, writing
from cylayers._threads import get_num_threads, threads_for
from cylayers.autograd.function import Function
from cylayers.nn.functional.padding import pad
from cylayers.nn.functional.pooling import avg_pool2d, avg_pool3d
from cylayers._kernel_call import (c_array, float_input, grad_like, named_kernels,
                                   optional_array, thread_rows)

K = named_kernels(_kernel_module)


def _tiles_per_block(n_blocks, block_len):
    """Cut blocks into equal tiles when there are too few blocks to keep every thread busy."""
    want = 4 * get_num_threads()
    if n_blocks >= want or block_len < 4096:
        return 1
    k = -(-want // max(n_blocks, 1))
    while k <= 64 * want and block_len % k:
        k += 1
    return k if block_len % k == 0 else 1


class Moments:
    """Statistics of groups of values: count, mean and M2 (the sum of squared deviations from
    the mean), float64 arrays of one shape. Every batch statistic of Batch-, Instance-, Group-
    and SyncBatchNorm is one, and partial ones merge here only (Chan et al.'s formula, so a
    large mean keeps its variance). LayerNorm and the fused GroupNorm kernel compute theirs
    inside one kernel pass and never merge."""

    def __init__(self, count, mean, m2):
        self.count, self.mean, self.m2 = count, mean, m2

    def merged(self, axes):
        """The parts along ``axes`` (each of ``count`` values) as one group, dims kept."""
        parts = math.prod(self.mean.shape[a] for a in axes)
        if parts == 1:  # one part along each axis (BatchNorm1d's columns): nothing to merge
            return self
        mu = self.mean.mean(axis=axes, keepdims=True)
        with np.errstate(invalid="ignore", over="ignore"):  # inf - inf: NaN, as PyTorch's
            spread = ((self.mean - mu) ** 2).sum(axis=axes, keepdims=True)
        return Moments(self.count * parts, mu,
                       self.m2.sum(axis=axes, keepdims=True) + self.count * spread)

    @staticmethod
    def in_order(counts, means, m2s):
        """Parts of different counts (the ranks of a SyncBatchNorm) merged one after another
        in the order given."""
        n, mean, m2 = counts[0], means[0].copy(), m2s[0].copy()
        for nb, mb, m2b in zip(counts[1:], means[1:], m2s[1:]):
            if nb == 0:
                continue
            total = n + nb
            delta = mb - mean
            mean = mean + delta * (nb / total)
            m2 = m2 + m2b + delta * delta * (n * nb / total)
            n = total
        return Moments(n, mean, m2)

    def variance(self):
        """The biased variance (NaN for no values)."""
        if self.count:
            return self.m2 / self.count
        return np.full_like(self.m2, np.nan)  # 0 / 0, without numpy's warning

    def unbiased_variance(self):
        """M2 / (count - 1), NaN for a single value (PyTorch's running variance)."""
        return self.m2 / (self.count - 1) if self.count > 1 else self.m2 * np.nan


def block_statistics(x_flat, n_blocks, block_len):
    """Moments of each block of a C-contiguous (n_blocks, block_len) array, flat."""
    k = _tiles_per_block(n_blocks, block_len)
    mean = np.empty(n_blocks * k)
    m2 = np.empty(n_blocks * k)
    K.tile_stats(x_flat, mean, m2, block_len // k if block_len else 0,
                 threads_for(x_flat.shape[0]))
    tiles = Moments(block_len // k if block_len else 0, mean.reshape(n_blocks, k),
                    m2.reshape(n_blocks, k)).merged((1,) if k > 1 else ())
    return Moments(tiles.count, tiles.mean.reshape(n_blocks), tiles.m2.reshape(n_blocks))


class BlockLayout:
    """Blocks of an (N, C, *spatial) input and the groups that share statistics."""

    def __init__(self, shape, kind, num_groups=1):
        self.n, self.c = shape[0], shape[1]
        self.block_len = math.prod(shape[2:]) if len(shape) > 2 else 1
        self.n_blocks = self.n * self.c
        self.kind = kind
        if kind == "batch":
            self.grouped, self.axes = (self.n, self.c), (0,)
            self.channel_shape = (1, self.c)
        elif kind == "instance":
            self.grouped, self.axes = (self.n, self.c), ()
            self.channel_shape = (1, self.c)
        else:  # group
            g = num_groups
            self.grouped, self.axes = (self.n, g, self.c // g), (2,)
            self.channel_shape = (1, g, self.c // g)
        self.group_count = self.block_len * math.prod([self.grouped[a] for a in self.axes])

    def per_block(self, values):
        """Broadcast group- or channel-shaped values to one float64 value per block."""
        out = np.empty(self.grouped)
        out[...] = values  # one C-level broadcast (np.broadcast_to + a copy cost 3x more)
        return out.reshape(self.n_blocks)


class _TiledKernels:
    """Every norm's kernels: one value per (sample, channel) block, blocks cut into tiles when
    there are fewer of them than threads. Sums come back per block, in ``layout.grouped``
    shape; the axes in ``sum_axes`` are those a group's statistics run over.

    Each family takes its per-block / per-channel / per-column values from ``values`` (once
    per call of the op) and shares this interface, so BlockNormFn runs any of them."""

    def __init__(self, layout):
        self.layout = layout
        self.tiles = _tiles_per_block(layout.n_blocks, layout.block_len)
        self.sum_axes = layout.axes

    def values(self, grouped):
        """Group- or channel-shaped values (or a scalar) as the kernels' coefficient array."""
        return self.layout.per_block(grouped)

    def stats(self, flat, nt):
        lay = self.layout
        blocks = block_statistics(flat, lay.n_blocks, lay.block_len)
        return Moments(blocks.count, blocks.mean.reshape(lay.grouped),
                       blocks.m2.reshape(lay.grouped)).merged(lay.axes)

    def affine(self, flat, center, scale, shift, out, nt):
        K.block_affine(flat, center, scale, shift, out, self.layout.block_len, self.tiles, nt)

    def grad_sums(self, flat_g, flat_x, center, nt):
        lay = self.layout
        sum_g = np.empty(lay.n_blocks * self.tiles)
        sum_gxc = np.empty(lay.n_blocks * self.tiles)
        K.tile_grad_sums(flat_g, flat_x, center, sum_g, sum_gxc, lay.block_len, self.tiles, nt)
        if self.tiles > 1:
            sum_g = sum_g.reshape(lay.n_blocks, self.tiles).sum(axis=1)
            sum_gxc = sum_gxc.reshape(lay.n_blocks, self.tiles).sum(axis=1)
        return sum_g.reshape(lay.grouped), sum_gxc.reshape(lay.grouped)

    def affine_grad(self, flat_g, flat_x, center, ga, xa, c0, dx, nt):
        K.block_affine_grad(flat_g, flat_x, center, ga, xa, c0, dx, self.layout.block_len,
                            self.tiles, nt)


class _ChannelKernels:
    """BatchNorm with one value per channel, each channel summed in order on one thread (the
    sums do not depend on the thread count), no per-block copies of the channel values and no
    merging in Python. Sums come back as (1, C)."""

    sum_axes = (0,)

    def __init__(self, layout):
        self.n, self.c, self.block_len = layout.n, layout.c, layout.block_len

    def values(self, per_channel):
        if isinstance(per_channel, np.ndarray):
            return np.ascontiguousarray(per_channel, dtype=np.float64).reshape(self.c)
        return np.full(self.c, per_channel, dtype=np.float64)

    def stats(self, flat, nt):  # the kernel merges a channel's blocks, in order
        mean, m2 = np.empty(self.c), np.empty(self.c)
        K.channel_stats(flat, mean, m2, self.n, self.c, self.block_len, nt)
        return Moments(self.n * self.block_len, mean.reshape(1, self.c), m2.reshape(1, self.c))

    def affine(self, flat, center, scale, shift, out, nt):
        K.channel_affine(flat, center, scale, shift, out, self.n, self.c, self.block_len, nt)

    def grad_sums(self, flat_g, flat_x, center, nt):
        sum_g, sum_gxc = np.empty(self.c), np.empty(self.c)
        K.channel_grad_sums(flat_g, flat_x, center, sum_g, sum_gxc, self.n, self.c,
                            self.block_len, nt)
        return sum_g.reshape(1, self.c), sum_gxc.reshape(1, self.c)

    def affine_grad(self, flat_g, flat_x, center, ga, xa, c0, dx, nt):
        K.channel_affine_grad(flat_g, flat_x, center, ga, xa, c0, dx, self.n, self.c,
                              self.block_len, nt)


class _ColumnKernels(_ChannelKernels):
    """BatchNorm of small blocks (a 2-D input's are single elements) as N rows of C * L
    columns, one value per column: the kernels run along the rows and vectorize, where the
    per-block ones made a call per block."""

    def values(self, per_channel):
        v = super().values(per_channel)
        return v if self.block_len == 1 else np.repeat(v, self.block_len)

    def _channels(self, per_column):
        """Per-column sums added up per channel, as (1, C)."""
        if self.block_len == 1:
            return per_column.reshape(1, self.c)
        return per_column.reshape(self.c, self.block_len).sum(axis=1).reshape(1, self.c)

    def stats(self, flat, nt):
        k = self.c * self.block_len
        mean, m2 = np.empty(k), np.empty(k)
        K.column_stats(flat, mean, m2, self.n, k, nt)
        columns = Moments(self.n, mean.reshape(self.c, self.block_len),
                          m2.reshape(self.c, self.block_len)).merged((1,))
        return Moments(columns.count, columns.mean.reshape(1, self.c),
                       columns.m2.reshape(1, self.c))

    def affine(self, flat, center, scale, shift, out, nt):
        K.column_affine(flat, center, scale, shift, out, self.n, self.c * self.block_len, nt)

    def grad_sums(self, flat_g, flat_x, center, nt):
        k = self.c * self.block_len
        sum_g, sum_gxc = np.empty(k), np.empty(k)
        K.column_grad_sums(flat_g, flat_x, center, sum_g, sum_gxc, self.n, k, nt)
        return self._channels(sum_g), self._channels(sum_gxc)

    def affine_grad(self, flat_g, flat_x, center, ga, xa, c0, dx, nt):
        K.column_affine_grad(flat_g, flat_x, center, ga, xa, c0, dx, self.n,
                             self.c * self.block_len, nt)


# Blocks below this many elements take the column kernels.
COLUMN_KERNELS_BELOW = 64
# _norm_kernels' answer where GroupNormFn's one fused kernel call per direction pays off.
FUSED_GROUPS = "fused groups"


def _norm_kernels(layout, fusable=False):
    """The kernels for a layout, chosen in this one place and for speed alone
    (tests/nn/test_normalization.py runs every choice on the same inputs):
    - FUSED_GROUPS, for Group- and InstanceNorm with batch statistics that move no running
      estimates (``fusable``) when there are at least as many groups as threads: GroupNormFn
      runs one group per thread iteration, reading it once (fewer groups leave threads idle);
    - BatchNorm's column kernels for small blocks;
    - its channel kernels when there are at least as many channels as threads;
    - else the tiled kernels every norm can use (blocks cut into tiles when too few)."""
    if fusable and layout.kind != "batch" and layout.n * layout.grouped[1] >= get_num_threads():
        return FUSED_GROUPS
    if layout.kind == "batch":
        if layout.block_len < COLUMN_KERNELS_BELOW:
            return _ColumnKernels(layout)
        if layout.c >= get_num_threads():
            return _ChannelKernels(layout)
    return _TiledKernels(layout)


class Statistics:
    """The mean and variance a normalization uses: the input's own (``from_batch``: computed
    by ``batch_statistics`` before the op, so the caller can also update running estimates with
    them; the gradient then flows through them) or fixed running estimates (per channel)."""

    def __init__(self, mean, var, from_batch):
        self.mean, self.var, self.from_batch = mean, var, from_batch


def batch_statistics(x, layout):
    """The Moments of every group of ``x``, in ``layout.grouped`` shape with the merged axes
    kept."""
    flat = float_input(x, "normalization").reshape(-1)
    return _norm_kernels(layout).stats(flat, threads_for(flat.shape[0]))


class BlockNormFn(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, layout, eps, stats):
        xc = float_input(x, "normalization")
        flat = xc.reshape(-1)
        if stats.from_batch:
            mean, var = stats.mean, stats.var
        else:
            mean = np.asarray(stats.mean, dtype=np.float64).reshape(layout.channel_shape)
            var = np.asarray(stats.var, dtype=np.float64).reshape(layout.channel_shape)
        inv_std = 1.0 / np.sqrt(var + eps)
        gamma = (np.asarray(weight, dtype=np.float64).reshape(layout.channel_shape)
                 if weight is not None else 1.0)
        beta = (np.asarray(bias, dtype=np.float64).reshape(layout.channel_shape)
                if bias is not None else 0.0)
        out = np.empty_like(xc)
        kernels = _norm_kernels(layout)
        kernels.affine(flat, kernels.values(mean), kernels.values(inv_std * gamma),
                       kernels.values(beta), out.reshape(-1), threads_for(flat.shape[0]))
        ctx.layout, ctx.batch_stats = layout, stats.from_batch
        ctx.mean, ctx.inv_std, ctx.gamma = mean, inv_std, gamma  # per group / channel: small
        ctx.save_for_backward(x, weight)
        return out

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        layout = ctx.layout
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        xc = c_array(x)
        g = grad_like(g, xc)
        flat_x, flat_g = xc.reshape(-1), g.reshape(-1)
        nt = threads_for(flat_x.shape[0])
        kernels = _norm_kernels(layout)
        center = kernels.values(ctx.mean)
        sum_g, sum_gxc = kernels.grad_sums(flat_g, flat_x, center, nt)  # per block or channel
        r, gamma = ctx.inv_std, ctx.gamma
        dw = (r * sum_gxc).reshape(-1, layout.c).sum(axis=0).astype(xc.dtype) if need_w \
            else None
        db = sum_g.reshape(-1, layout.c).sum(axis=0).astype(xc.dtype) if need_b else None
        dx = None
        if need_x:
            if ctx.batch_stats:
                m = layout.group_count
                axes = kernels.sum_axes
                mean_dxhat = (gamma * sum_g).sum(axis=axes, keepdims=True) / m
                mean_dxhat_xhat = r * (gamma * sum_gxc).sum(axis=axes, keepdims=True) / m
                xa, c0 = -r * r * mean_dxhat_xhat, -r * mean_dxhat
            else:  # fixed (running) statistics: an affine map of x
                xa, c0 = 0.0, 0.0
            dx = np.empty_like(xc)
            kernels.affine_grad(flat_g, flat_x, center, kernels.values(r * gamma),
                                kernels.values(xa), kernels.values(c0), dx.reshape(-1), nt)
        return dx, dw, db, None, None, None


class GroupNormFn(Function):
    """Group- and InstanceNorm with batch statistics: one fused kernel call per direction, each
    group read from memory once (its statistics and its output computed while it is cached)."""

    @staticmethod
    def forward(ctx, x, weight, bias, num_groups, eps):
        xc = float_input(x, "group_norm")
        n, c = xc.shape[0], xc.shape[1]
        plane = math.prod(xc.shape[2:]) if xc.ndim > 2 else 1
        gamma, beta = optional_array(weight, xc.dtype), optional_array(bias, xc.dtype)
        out = np.empty_like(xc)
        mean = np.empty(n * num_groups)
        inv_std = np.empty(n * num_groups)
        K.group_norm_forward(xc.reshape(-1), gamma, beta, out.reshape(-1), mean, inv_std,
                             num_groups, c // num_groups, plane, eps, threads_for(xc.size))
        ctx.shape, ctx.num_groups, ctx.mean, ctx.inv_std = (n, c, plane), num_groups, mean, inv_std
        ctx.save_for_backward(x, weight)
        return out

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        n, c, plane = ctx.shape
        groups = ctx.num_groups
        xc = c_array(x)
        g = grad_like(g, xc)
        gamma = optional_array(weight, xc.dtype)
        dx = np.empty_like(xc) if need_x else np.empty(0, dtype=xc.dtype)
        sum_g = np.empty(n * c)
        sum_gxc = np.empty(n * c)
        K.group_norm_backward(g.reshape(-1), xc.reshape(-1), gamma, ctx.mean, ctx.inv_std,
                              dx.reshape(-1), sum_g, sum_gxc, groups, c // groups, plane,
                              threads_for(xc.size))
        inv_std_nc = np.repeat(ctx.inv_std, c // groups)
        dw = ((inv_std_nc * sum_gxc).reshape(n, c).sum(axis=0).astype(xc.dtype) if need_w
              else None)
        db = sum_g.reshape(n, c).sum(axis=0).astype(xc.dtype) if need_b else None
        return (dx if need_x else None), dw, db, None, None


class EmptyNormFn(Function):
    """A normalization of an input with no elements: an empty output, and zero gradients for
    the affine parameters (PyTorch's answer), so an optimizer step still sees them."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.shapes = (None if weight is None else weight.shape,
                      None if bias is None else bias.shape, x.dtype)
        return np.empty_like(x)

    @staticmethod
    def backward(ctx, g):
        w_shape, b_shape, dtype = ctx.shapes
        return (np.zeros_like(g),
                None if w_shape is None else np.zeros(w_shape, dtype),
                None if b_shape is None else np.zeros(b_shape, dtype))


def _check_eps(eps, op, positive=False):
    if positive and not eps > 0:
        raise ValueError(f"{op} eps must be positive during training, but got {eps}")
    if not eps >= 0:  # also refuses NaN
        raise ValueError(f"{op} eps must be non-negative, but got {eps}")


def update_running_statistics(running_mean, running_var, moments, momentum):
    """PyTorch's update of the running estimates (either may be None), the one place they
    move: running = (1 - momentum) * running + momentum * batch value, with the unbiased
    variance; per-instance statistics ((N, C): InstanceNorm) are averaged over the batch."""
    mean, unbiased = moments.mean, moments.unbiased_variance()
    if mean.ndim == 1 or mean.shape[0] == 1:  # one value per channel already
        batch_mean, batch_var = mean.reshape(-1), unbiased.reshape(-1)
    else:
        batch_mean = mean.mean(axis=0).reshape(-1)
        batch_var = unbiased.mean(axis=0).reshape(-1)
    for buf, value in ((running_mean, batch_mean), (running_var, batch_var)):
        if buf is not None:
            # written as PyTorch's kernel writes them, without four in-place ops' call costs
            with writing(buf) as (arr,):
                arr *= 1 - momentum
                arr += (momentum * value).astype(arr.dtype)


def _statistics(input, layout, use_batch_stats, update_running, running_mean, running_var,
                momentum):
    """The Statistics to normalize with; with ``update_running``, the batch's also move the
    running estimates (channel means of per-instance statistics, for InstanceNorm)."""
    if not use_batch_stats:
        return Statistics(unwrap(running_mean), unwrap(running_var), False)
    moments = batch_statistics(input._array, layout)
    if update_running:
        update_running_statistics(running_mean, running_var, moments, momentum)
    return Statistics(moments.mean, moments.variance(), True)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected at least 2D input (got {input.ndim}D input)")
    shape = tuple(input.shape)
    if training:
        size = shape[0] * (math.prod(shape[2:]) if len(shape) > 2 else 1)
        if size == 1:
            raise ValueError("Expected more than 1 value per channel when training, got input "
                             f"size {input.shape!r}")
    c = shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (c,):
            raise RuntimeError(f"batch_norm: {name} should contain {c} elements not "
                               f"{math.prod(t.shape)}")
    layout = BlockLayout(shape, "batch")
    use_batch_stats = training or running_mean is None
    _check_eps(eps, "batch_norm", positive=use_batch_stats)
    if input.numel() == 0:
        return EmptyNormFn.apply(input, weight, bias)
    stats = _statistics(input, layout, use_batch_stats, training, running_mean, running_var,
                        momentum)
    return BlockNormFn.apply(input, weight, bias, layout, eps, stats)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    if input.ndim < 3:
        raise ValueError(f"instance_norm: expected at least 3D input (N, C, *) (got "
                         f"{input.ndim}D input)")
    shape = tuple(input.shape)
    spatial = math.prod(shape[2:])
    if use_input_stats and spatial == 1:
        raise ValueError("Expected more than 1 spatial element when training, got input size "
                         f"{input.shape!r}")
    _check_eps(eps, "instance_norm")
    if input.numel() == 0:
        return EmptyNormFn.apply(input, weight, bias)
    use_batch_stats = use_input_stats or running_mean is None
    updates_running = use_input_stats and running_mean is not None
    layout = BlockLayout(shape, "instance")
    if _norm_kernels(layout, fusable=use_batch_stats and not updates_running) == FUSED_GROUPS:
        return GroupNormFn.apply(input, weight, bias, shape[1], eps)
    stats = _statistics(input, layout, use_batch_stats, updates_running, running_mean,
                        running_var, momentum)
    return BlockNormFn.apply(input, weight, bias, layout, eps, stats)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    if input.ndim < 2:
        raise RuntimeError(f"group_norm: expected at least 2D input (got {input.ndim}D input)")
    shape = tuple(input.shape)
    if num_groups <= 0:
        raise RuntimeError(f"Expected num groups to be greater than 0, got {num_groups}")
    if shape[1] % num_groups != 0:
        raise RuntimeError(f"Expected number of channels in input to be divisible by "
                           f"num_groups, but got input of shape {list(shape)} and "
                           f"num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (shape[1],):
            raise RuntimeError(f"group_norm: expected {name} to have {shape[1]} elements, got "
                               f"{math.prod(t.shape)}")
    _check_eps(eps, "group_norm")
    if input.numel() == 0:
        return EmptyNormFn.apply(input, weight, bias)
    layout = BlockLayout(shape, "group", num_groups)
    if _norm_kernels(layout, fusable=True) == FUSED_GROUPS:
        return GroupNormFn.apply(input, weight, bias, num_groups, eps)
    return BlockNormFn.apply(input, weight, bias, layout, eps,
                             _statistics(input, layout, True, False, None, None, None))


class LayerNormFn(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, row_len, param_ndim, eps):
        xc = float_input(x, "layer_norm")
        flat = xc.reshape(-1)
        n_rows = flat.shape[0] // row_len
        gamma, beta = optional_array(weight, xc.dtype), optional_array(bias, xc.dtype)
        out = np.empty_like(xc)
        mean = np.empty(n_rows)
        inv_std = np.empty(n_rows)
        K.layer_norm_forward(flat, gamma, beta, out.reshape(-1), mean, inv_std, row_len, eps,
                             threads_for(flat.shape[0]))
        ctx.row_len, ctx.param_ndim, ctx.mean, ctx.inv_std = row_len, param_ndim, mean, inv_std
        ctx.save_for_backward(x, weight)
        return out

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        xc = c_array(x)
        g = grad_like(g, xc)
        row_len = ctx.row_len
        nt = threads_for(xc.size)
        gamma = optional_array(weight, xc.dtype)
        dgamma_part = thread_rows(nt, row_len, zero=True)
        dbeta_part = thread_rows(nt, row_len, zero=True)
        dx = np.empty_like(xc) if need_x else np.empty(0, dtype=xc.dtype)
        K.layer_norm_backward(g.reshape(-1), xc.reshape(-1), gamma, ctx.mean, ctx.inv_std,
                              dx.reshape(-1), dgamma_part, dbeta_part, row_len, nt)
        param_shape = xc.shape[xc.ndim - ctx.param_ndim:]
        # one float64 row per thread (a sum over one row is that row, exactly)
        dgamma, dbeta = (part[:, :row_len].sum(axis=0) for part in (dgamma_part, dbeta_part))
        dw = dgamma.reshape(param_shape).astype(xc.dtype) if need_w else None
        db = dbeta.reshape(param_shape).astype(xc.dtype) if need_b else None
        return (dx if need_x else None), dw, db, None, None, None


def _check_param_shape(name, t, normalized_shape):
    if t.shape != normalized_shape:
        raise RuntimeError(f"layer_norm: expected {name} of shape {list(normalized_shape)}, "
                           f"got {list(t.shape)}")


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    normalized_shape = ((normalized_shape,) if isinstance(normalized_shape, int)
                        else tuple(normalized_shape))
    k = len(normalized_shape)
    shape = input.shape  # a Size: a tuple, as are its slices
    if k == 0 or shape[len(shape) - k:] != normalized_shape or len(shape) < k:
        raise RuntimeError(f"Given normalized_shape={list(normalized_shape)}, expected input "
                           f"with shape [*, {', '.join(map(str, normalized_shape))}], but got "
                           f"input of size{list(shape)}")
    if weight is not None:
        _check_param_shape("weight", weight, normalized_shape)
    if bias is not None:
        _check_param_shape("bias", bias, normalized_shape)
    _check_eps(eps, "layer_norm")
    if input.numel() == 0:
        return EmptyNormFn.apply(input, weight, bias)
    return LayerNormFn.apply(input, weight, bias, math.prod(normalized_shape), k, eps)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x^2) + eps) over the trailing ``normalized_shape`` dims, times weight;
    eps defaults to the dtype's machine epsilon, as in PyTorch."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else \
        tuple(normalized_shape)
    if tuple(input.shape[input.dim() - len(shape):]) != shape or len(shape) > input.dim():
        raise RuntimeError(f"Given normalized_shape={list(shape)}, expected input with shape "
                           f"[*, {', '.join(str(s) for s in shape)}], but got input of size "
                           f"{list(input.shape)}")
    if weight is not None:
        _check_param_shape("weight", weight, shape)
    if eps is None:
        eps = float(np.finfo(input._array.dtype).eps)
    dims = tuple(range(input.dim() - len(shape), input.dim()))
    out = input * ((input * input).mean(dims, keepdim=True) + eps).rsqrt()
    return out * weight if weight is not None else out


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """Each activation divided by (k + alpha * mean of squares over ``size`` neighbouring
    channels) ** beta: AlexNet's normalization, as PyTorch pads and averages it."""
    if input.dim() < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {input.dim()} "
                         f"dimensions)")
    if input.numel() == 0:
        return input
    squares = (input * input).unsqueeze(1)
    before, after = size // 2, (size - 1) // 2
    if input.dim() == 3:
        div = avg_pool2d(pad(squares, (0, 0, before, after)), (size, 1), stride=1).squeeze(1)
    else:
        n, c = input.shape[:2]
        div = squares.reshape(n, 1, c, input.shape[2], -1)
        div = avg_pool3d(pad(div, (0, 0, 0, 0, before, after)), (size, 1, 1),
                         stride=1).squeeze(1).reshape(*input.shape)
    return input / (div * alpha + k) ** beta
