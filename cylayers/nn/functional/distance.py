"""Cosine similarity, pairwise (p-norm) distance and p-norm normalization, composed from
differentiable tensor ops."""


def _clamped_norm(x, dim, eps):
    """||x|| clamped at eps in value only: PyTorch clamps the norm in place outside autograd,
    so the gradient still goes through the unclamped norm."""
    n = x.norm(dim=dim, keepdim=True)
    return n + (n.clamp_min(eps) - n).detach()


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 * x2) / (max(||x1||, eps) * max(||x2||, eps)) along ``dim``, as PyTorch
    computes it (each norm clamped separately)."""
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
