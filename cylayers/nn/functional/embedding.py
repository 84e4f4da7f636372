"""F.embedding (a table lookup whose gradient scatter-adds into the looked-up rows) and
F.one_hot."""
import numpy as np

from cylayers._ops import untaped
from cylayers._tensor import Tensor, writing
from cylayers.autograd.function import Function


class EmbeddingFn(Function):
    @staticmethod
    def forward(ctx, weight, indices, padding_idx, scale_grad_by_freq):
        if indices.dtype.kind not in "iu":
            raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the "
                               f"following scalar types: Long, Int; but got {indices.dtype} "
                               "instead")
        n = weight.shape[0]
        if indices.size and (indices.min() < -n or indices.max() >= n):
            raise IndexError("index out of range in self")
        ctx.shape, ctx.indices = weight.shape, indices
        ctx.padding_idx, ctx.scale = padding_idx, scale_grad_by_freq
        return weight[indices]

    @staticmethod
    def backward(ctx, g):
        flat = ctx.indices.reshape(-1) % ctx.shape[0]
        rows = g.reshape(flat.size, -1)
        if ctx.scale:
            counts = np.bincount(flat, minlength=ctx.shape[0])
            rows = rows / counts[flat][:, None]
        grad = np.zeros((ctx.shape[0], rows.shape[1]), dtype=g.dtype)
        if flat.size:
            # rows grouped by index (stable sort), each group summed: np.add.at scatters one
            # row at a time
            order = np.argsort(flat, kind="stable")
            ordered = flat[order]
            starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
            grad[ordered[starts]] = np.add.reduceat(rows[order], starts, axis=0)
        if ctx.padding_idx is not None:
            grad[ctx.padding_idx] = 0  # the padding row never learns
        return grad.reshape(ctx.shape), None, None, None


def _renorm_(weight, indices, max_norm, norm_type):
    """Rescale, in place and outside autograd, the looked-up rows whose norm exceeds max_norm
    (PyTorch's embedding_renorm_)."""
    rows = np.unique(indices.reshape(-1))
    with writing(weight) as (w,):  # untraced: an export notes max_norm on the lookup instead
        norms = np.linalg.norm(w[rows].astype(np.float64), ord=norm_type, axis=1)
        scale = np.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
        w[rows] = (w[rows] * scale[:, None]).astype(w.dtype)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    if sparse:
        raise NotImplementedError("sparse=True: cylayers has no sparse gradients; use dense "
                                  "ones (sparse=False)")
    indices = input._array if isinstance(input, Tensor) else np.asarray(input)
    if padding_idx is not None:
        n = weight.shape[0]
        if not -n <= padding_idx < n:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx %= n
    if max_norm is not None:
        _renorm_(weight, indices, max_norm, norm_type)
        return untaped.annotate(EmbeddingFn.apply(weight, indices, padding_idx,
                                                  scale_grad_by_freq),
                                max_norm=max_norm, norm_type=norm_type)
    return EmbeddingFn.apply(weight, indices, padding_idx, scale_grad_by_freq)


def one_hot(tensor, num_classes=-1):
    arr = tensor._array if isinstance(tensor, Tensor) else np.asarray(tensor)
    if arr.dtype.kind not in "iu":
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if num_classes == -1:
        if arr.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(arr.max()) + 1
    if arr.size and arr.min() < 0:
        raise RuntimeError("Class values must be non-negative.")
    if arr.size and arr.max() >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    return Tensor._make(np.eye(num_classes, dtype=np.int64)[arr])
