"""Cosine similarity, pairwise (p-norm) distance and p-norm normalization, composed from
differentiable tensor ops."""
import numpy as np

from cylayers._tensor import Tensor


def _clamped_norm(x, dim, eps):
    """||x|| clamped at eps in value only: PyTorch clamps the norm in place outside autograd,
    so the gradient still goes through the unclamped norm."""
    n = x.norm(dim=dim, keepdim=True)
    return n + (n.clamp_min(eps) - n).detach()


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 * x2) / (max(||x1||, eps) * max(||x2||, eps)) along ``dim``, as PyTorch
    computes it (each norm clamped separately)."""
    # broadcast first: the norms are taken over the broadcast shape ((3, 5) with (1, 5) along
    # dim 0 normalizes x2's single row three times over)
    shape = np.broadcast_shapes(tuple(x1.shape), tuple(x2.shape))
    x1, x2 = x1.expand(shape), x2.expand(shape)
    return ((x1 / _clamped_norm(x1, dim, eps)) * (x2 / _clamped_norm(x2, dim, eps))).sum(dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p over the last dimension."""
    diff = x1 - x2 + eps
    dim = -1 if max(x1.ndim, x2.ndim) > 0 else None
    return diff.norm(p, dim=dim, keepdim=keepdim)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """input / max(||input||_p, eps) along ``dim``; unlike cosine_similarity the clamp is part
    of the graph (as in PyTorch), so a norm below eps passes no gradient through it."""
    if out is not None:
        raise TypeError("normalize(): out= is not supported by cylayers")
    return input / input.norm(p, dim=dim, keepdim=True).clamp_min(eps).expand_as(input)


def pdist(input, p=2.0):
    """The p-norm distances between every pair of rows i < j of a 2-D input, in row-major
    order of the pairs (the condensed upper triangle)."""
    if input.dim() != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.dim()}D")
    n = input.shape[0]
    i, j = np.triu_indices(n, 1)
    diff = input[Tensor._make(i)] - input[Tensor._make(j)]
    return diff.norm(p, dim=1)
