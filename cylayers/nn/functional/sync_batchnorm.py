"""Batch normalization with statistics over every rank's samples (SyncBatchNorm's op).

Forward: each rank's per-channel count, mean and sum of squared deviations (float64) are
gathered and merged in rank order with Chan's formula, so the global variance keeps float64
accuracy whatever the ranks' batch sizes. Backward: one allreduce of the per-channel sums of
dy and dy * x_hat."""
import numpy as np

from cylayers.distributed import _group
from cylayers.autograd.function import Function
from cylayers.nn.functional.normalization import Moments


def _channels_last(x):
    """(rows, C) view of an (N, C, *) array, as float64."""
    c = x.shape[1]
    return np.moveaxis(x, 1, -1).reshape(-1, c).astype(np.float64)


def global_statistics(x):
    """The Moments per channel of every rank's samples of x (N, C, *), each rank's merged in
    rank order. The ranks' batch sizes may differ; their channels and dtype may not (the
    gathered rows would be cut or misread), which the ranks agree on first."""
    g = _group.group()
    c = x.shape[1]
    call = f"SyncBatchNorm forward({c} channels, {x.dtype}, {x.ndim}-D input)"
    _group.agree(call)
    rows = _channels_last(x)
    n_local = rows.shape[0]
    mean_local = rows.mean(axis=0) if n_local else np.zeros(c)
    m2_local = ((rows - mean_local) ** 2).sum(axis=0) if n_local else np.zeros(c)
    mine = np.concatenate([[n_local], mean_local, m2_local])
    gathered = np.empty((g.size, mine.size))
    _group.wait(g.comm.Iallgather(mine, gathered), call)
    moments = Moments.in_order(gathered[:, 0], gathered[:, 1:1 + c], gathered[:, 1 + c:])
    if moments.count <= 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got "
                         f"{int(moments.count)} over all ranks")
    return moments


class SyncBatchNormFn(Function):
    """Normalization with the global statistics (global_statistics); the caller moves the
    running estimates with them (a Function never writes module buffers)."""

    @staticmethod
    def forward(ctx, x, weight, bias, eps, moments):
        n, mean, var = moments.count, moments.mean, moments.variance()
        c = x.shape[1]
        invstd = 1.0 / np.sqrt(var + eps)
        shape = (1, c) + (1,) * (x.ndim - 2)
        xhat = (x - mean.reshape(shape)) * invstd.reshape(shape)
        out = xhat * (weight.reshape(shape) if weight is not None else 1.0)
        if bias is not None:
            out = out + bias.reshape(shape)
        ctx.n, ctx.invstd, ctx.mean = n, invstd, mean
        ctx.save_for_backward(x, weight)
        return np.asarray(out, dtype=x.dtype)

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        c = x.shape[1]
        xhat = (_channels_last(x) - ctx.mean) * ctx.invstd
        dy = _channels_last(g)
        sums = np.concatenate([dy.sum(axis=0), (dy * xhat).sum(axis=0)])
        local_dw, local_db = sums[c:].copy(), sums[:c].copy()
        g = _group.group()
        call = f"SyncBatchNorm backward({c} channels, {x.dtype}, {x.ndim}-D input)"
        _group.agree(call)
        _group.wait(g.comm.Iallreduce(_group.mpi().IN_PLACE, sums), call)
        mean_dy, mean_dy_xhat = sums[:c] / ctx.n, sums[c:] / ctx.n
        w = weight.astype(np.float64) if weight is not None else np.ones(c)
        dx_rows = (dy - mean_dy - xhat * mean_dy_xhat) * (w * ctx.invstd)
        dx = np.moveaxis(dx_rows.reshape((x.shape[0],) + x.shape[2:] + (c,)), -1, 1)
        need_w, need_b = ctx.needs_input_grad[1:3]
        return (np.ascontiguousarray(dx, dtype=x.dtype),
                local_dw.astype(x.dtype) if need_w else None,
                local_db.astype(x.dtype) if need_b else None, None, None)
