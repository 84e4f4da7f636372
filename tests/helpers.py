"""Shared test helpers. PyTorch is a test-only dependency: it is required here, never skipped, so
that a CI run without it fails loudly instead of silently passing fewer tests."""
import numpy as np

import torch  # noqa: F401  (required: parity tests must run)

import cylayers




def to_torch(x, requires_grad=False):
    arr = x.data if isinstance(x, cylayers.Tensor) else np.asarray(x)
    t = torch.from_numpy(np.array(arr, copy=True))
    if requires_grad:
        t.requires_grad_(True)
    return t


def tols(dtype):
    return dict(rtol=1e-5, atol=1e-6) if np.dtype(dtype) == np.float64 else dict(rtol=2e-4,
                                                                                  atol=2e-5)


def sum_tols(dtype, terms, reference):
    """Tolerances for values that are sums of up to ``terms`` products (a gradient, a
    convolution): two libraries that add in different orders differ by a rounding error that
    grows with the length of the sum and the size of its values (about sqrt(terms) * eps *
    magnitude for random rounding; 4x that as the bound), so a fixed atol is either too tight for
    a long sum of values near 100 or too loose for short sums of small ones."""
    eps = float(np.finfo(dtype).eps)
    magnitude = float(np.max(np.abs(reference))) if np.size(reference) else 0.0
    return dict(rtol=4 * eps * np.sqrt(terms), atol=4 * eps * np.sqrt(terms) * magnitude)


def assert_close_sum(ours, theirs, dtype, terms):
    """assert_close with sum_tols: ``theirs`` holds sums of up to ``terms`` products."""
    b = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    assert_close(ours, b, dtype, **sum_tols(dtype, terms, b))


def assert_close(ours, theirs, dtype=np.float32, **kw):
    a = ours.data if isinstance(ours, cylayers.Tensor) else np.asarray(ours)
    b = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    opts = tols(dtype)
    opts.update(kw)
    assert a.shape == b.shape, f"shape {a.shape} != {b.shape}"
    np.testing.assert_allclose(a, b, equal_nan=True, **opts)


def pair(shape, dtype=np.float32, scale=1.0, seed=0):
    """The same random data as a cylayers tensor and a torch tensor, both requiring grad."""
    arr = (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)
    return (cylayers.tensor(arr, requires_grad=True), to_torch(arr, requires_grad=True))
