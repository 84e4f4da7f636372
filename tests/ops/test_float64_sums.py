"""Sums over the samples (the leading axes) accumulate in float64 for float32 data: bias
gradients (a linear layer's, a broadcast add's) and x.sum(0) / x.mean(0). Over those axes
numpy's sum is a running sum in the array's type, which drifts on many samples."""
import numpy as np
import pytest
import torch

import cylayers
from cylayers._ops.arith import column_sums, unbroadcast


@pytest.mark.parametrize("shape", [(0, 5), (5, 0), (1, 1), (7, 3), (300, 257), (40, 600),
                                   (4096, 10)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_column_sums_are_float64_sums_in_order(shape, dtype, threads):
    rng = np.random.default_rng(sum(shape))
    rows = rng.standard_normal(shape).astype(dtype)
    previous = cylayers.get_num_threads()
    cylayers.set_num_threads(threads)
    try:
        got = column_sums(rows)
    finally:
        cylayers.set_num_threads(previous)
    exact = rows.astype(np.float64).sum(axis=0)
    assert got.dtype == dtype and got.shape == (shape[1],)
    np.testing.assert_array_equal(got, exact.astype(dtype))  # float64 sums: exact here


def test_column_sums_of_a_strided_and_a_half_array():
    rows = np.arange(24, dtype=np.float32).reshape(6, 4)[:, ::2]
    np.testing.assert_array_equal(column_sums(rows), [60.0, 72.0])
    half = np.ones((3000, 2), np.float16)
    assert column_sums(half).dtype == np.float16 and column_sums(half)[0] == 3000


def test_a_large_first_sample_does_not_swallow_the_rest():
    # 2^24 then a thousand ones: a float32 running sum stays at 2^24 (each + 1 rounds away);
    # the float64 sum is 2^24 + 1000, which float32 holds.
    g = np.ones((1001, 16), np.float32)
    g[0] = 1 << 24
    want = (1 << 24) + 1000
    assert column_sums(g)[0] == want
    lin = cylayers.nn.Linear(16, 16)
    lin(cylayers.zeros(1001, 16)).backward(cylayers.tensor(g))
    assert lin.bias.grad[0].item() == want
    b = cylayers.zeros(16, requires_grad=True)
    (cylayers.zeros(1001, 16) + b).backward(cylayers.tensor(g))
    assert b.grad[0].item() == want


@pytest.mark.parametrize("grad_shape,shape", [
    ((4, 3), (3,)), ((4, 3), (1, 3)), ((4, 3), (4, 1)), ((2, 4, 3), (3,)),
    ((2, 4, 3), (4, 1)), ((2, 4, 3), (1, 4, 1)), ((2, 4, 3), (2, 1, 3)), ((2, 4, 3), ()),
    ((2, 4, 3), (1, 1, 1)), ((5, 1, 3), (1, 3)), ((0, 3), (3,)), ((3, 0), (1, 0))])
def test_unbroadcast_sums_what_broadcasting_stretched(grad_shape, shape):
    rng = np.random.default_rng(0)
    grad = rng.standard_normal(grad_shape).astype(np.float32)
    got = unbroadcast(grad, shape)
    # the reference: torch's sum_to_size on the same values, in float64
    want = torch.from_numpy(grad.astype(np.float64)).sum_to_size(shape).numpy()
    assert got.shape == shape and got.dtype == np.float32
    np.testing.assert_allclose(got, want.astype(np.float32), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("batch", [3, 1000])
def test_bias_gradients_match_pytorch(batch):
    rng = np.random.default_rng(batch)
    x = rng.standard_normal((batch, 7, 5)).astype(np.float32)
    w = rng.standard_normal((6, 5)).astype(np.float32)
    b = rng.standard_normal(6).astype(np.float32)
    grads = {}
    for lib in (cylayers, torch):
        xs = lib.tensor(x)
        ws = lib.tensor(w, requires_grad=True)
        bs = lib.tensor(b, requires_grad=True)
        b2 = lib.tensor(b, requires_grad=True)
        out = lib.nn.functional.linear(xs, ws, bs) + b2  # a linear bias and a broadcast one
        (out * out).sum().backward()
        grads[lib.__name__] = (bs.grad.numpy(), b2.grad.numpy(), ws.grad.numpy())
    for ours, theirs in zip(grads["cylayers"], grads["torch"]):
        np.testing.assert_allclose(ours, theirs, rtol=2e-5, atol=1e-3)


@pytest.mark.parametrize("dims,keepdim", [(0, False), (0, True), ((0, 1), False),
                                          ((0, 1), True), (1, False), ((1, 2), True),
                                          (None, False)])
@pytest.mark.parametrize("op", ["sum", "mean"])
def test_sum_and_mean_match_pytorch(dims, keepdim, op):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((40, 6, 5)).astype(np.float32)
    kwargs = {} if dims is None else {"dim": dims, "keepdim": keepdim}
    results = []
    for lib in (cylayers, torch):
        t = lib.tensor(x, requires_grad=True)
        out = getattr(t, op)(**kwargs)
        (out * out).sum().backward()
        results.append((out.detach().numpy(), t.grad.numpy()))
    for ours, theirs in zip(*results):
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


def test_sum_and_mean_over_samples_are_exact_float64_sums():
    x = np.ones((1001, 3), np.float32)
    x[0] = 1 << 24
    t = cylayers.tensor(x)
    assert t.sum(0).tolist() == [(1 << 24) + 1000] * 3
    assert t.sum((0,), keepdim=True).shape == (1, 3)
    mean = np.float32(np.float32((1 << 24) + 1000) / np.float32(1001))
    assert t.mean(0).tolist() == [mean] * 3
    assert t.mean(0).dtype == cylayers.float32
    assert cylayers.zeros(0, 3).mean(0).isnan().all()


def test_float16_means_over_samples_do_not_overflow():
    # the sum of 1001 x 100 is beyond float16's range; the mean is not (PyTorch: 100)
    x = np.full((1001, 2), 100, np.float16)
    assert cylayers.tensor(x).mean(0).tolist() == torch.tensor(x).mean(0).tolist() == [100, 100]
    assert cylayers.tensor(x).mean(0, keepdim=True).shape == (1, 2)
    assert cylayers.tensor(x).sum(0).tolist() == torch.tensor(x).sum(0).tolist()  # inf, both
