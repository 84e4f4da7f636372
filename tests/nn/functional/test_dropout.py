"""Dropout family: statistics, exact scaling, regenerated masks, channel zeroing, AlphaDropout
moments, determinism across thread counts, and PyTorch's edge-case semantics."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import cylayers
from cylayers import nn
import cylayers.nn.functional as F
from cylayers.autograd import gradcheck
from helpers import assert_close

ALPHA_PRIME = 1.7580993408473766


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_keep_rate_scaling_and_grad(p, dtype):
    n = 200_003  # odd size: the last block of 4 is partial
    x = cylayers.tensor(np.random.default_rng(0).uniform(1, 2, n).astype(dtype),
                        requires_grad=True)
    y = F.dropout(x, p)
    kept = y.detach().numpy() != 0
    sigma = np.sqrt(n * p * (1 - p))
    assert abs(kept.sum() - n * (1 - p)) < 5 * sigma
    np.testing.assert_allclose(y.detach().numpy()[kept], x.data[kept] / (1 - p), rtol=1e-6)
    y.backward(cylayers.ones(n, dtype=dtype))
    # backward regenerates the forward's mask from (seed, offset): grad == mask / (1 - p)
    np.testing.assert_allclose(x.grad.numpy(), kept / (1 - p), rtol=1e-6)


def test_dropout_saves_no_mask():
    x = cylayers.randn(1000, requires_grad=True)
    y = F.dropout(x, 0.5)
    node = y.grad_fn
    assert node.saved_tensors == ()
    assert not any(isinstance(v, np.ndarray) for v in vars(node).values())


def test_edge_probabilities_and_eval():
    x = cylayers.randn(50, requires_grad=True)
    assert F.dropout(x, 0.0) is x
    assert F.dropout(x, 0.7, training=False) is x
    z = F.dropout(x, 1.0)
    assert z.detach().numpy().tolist() == [0.0] * 50
    z.sum().backward()
    assert x.grad.numpy().tolist() == [0.0] * 50
    assert F.alpha_dropout(x, 1.0, training=True).detach().numpy().tolist() == [0.0] * 50
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
            nn.Dropout(bad)
        with pytest.raises(ValueError, match="between 0 and 1"):
            F.dropout(x, bad)
    m = nn.Dropout(0.5)
    m.eval()
    assert m(x) is x


def test_manual_seed_reproducible_and_fresh_masks():
    x = cylayers.ones(1000)
    cylayers.manual_seed(7)
    a = F.dropout(x, 0.5).numpy().copy()
    b = F.dropout(x, 0.5).numpy().copy()
    cylayers.manual_seed(7)
    assert np.array_equal(a, F.dropout(x, 0.5).numpy())
    assert not np.array_equal(a, b)


def test_masks_identical_for_one_and_two_threads_in_subprocesses():
    code = ("import cylayers, cylayers.nn.functional as F, hashlib;"
            "cylayers.manual_seed(3); x = cylayers.ones(1_000_003);"
            "m = F.dropout(x, 0.4).numpy(); a = F.alpha_dropout(x, 0.2, True).numpy();"
            "c = F.dropout2d(cylayers.ones(8, 64, 32, 32), 0.3).numpy();"
            "print(cylayers.get_num_threads(), hashlib.sha256(m.tobytes() + a.tobytes()"
            " + c.tobytes()).hexdigest())")
    digests = {}
    for n in ("1", "2"):
        env = dict(os.environ, OMP_NUM_THREADS=n)
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True).stdout.split()
        assert out[0] == n
        digests[n] = out[1]
    assert digests["1"] == digests["2"]


@pytest.mark.parametrize("fn,shape", [(F.dropout1d, (8, 16, 40)), (F.dropout1d, (16, 40)),
                                      (F.dropout2d, (8, 16, 6, 7)), (F.dropout3d, (4, 16, 3, 5, 4)),
                                      (F.dropout3d, (16, 3, 5, 4))])
def test_feature_dropout_zeroes_whole_channels(fn, shape):
    x = cylayers.tensor(np.random.default_rng(0).uniform(1, 2, shape).astype(np.float32),
                        requires_grad=True)
    y = fn(x, 0.5)
    batched = len(shape) in (3, 4, 5) and not (fn is F.dropout1d and len(shape) == 2) \
        and not (fn is F.dropout3d and len(shape) == 4)
    rows = y.detach().numpy().reshape(shape[0] * shape[1] if batched else shape[0], -1)
    zero_rows = (rows == 0).all(axis=1)
    assert ((rows != 0).all(axis=1) | zero_rows).all()
    assert 0 < zero_rows.sum() < len(zero_rows)
    y.sum().backward()
    g = x.grad.numpy().reshape(rows.shape)
    np.testing.assert_allclose(g, np.broadcast_to(np.where(zero_rows[:, None], 0.0, 2.0), g.shape))


def test_dropout2d_3d_input_warns_like_pytorch():
    with pytest.warns(UserWarning, match="Received a 3D input to dropout2d"):
        F.dropout2d(cylayers.randn(2, 3, 4), 0.5)
    with pytest.raises(RuntimeError, match="Expected 2D or 3D input"):
        F.dropout1d(cylayers.randn(2, 3, 4, 5), 0.5)


@pytest.mark.parametrize("p", [0.1, 0.2, 0.5])
def test_alpha_dropout_keeps_moments_and_exact_values(p):
    x = cylayers.randn(400_000, dtype=cylayers.float64)
    y = F.alpha_dropout(x, p, training=True).numpy()
    assert abs(y.mean()) < 0.01 and abs(y.var() - 1) < 0.02
    a = 1.0 / np.sqrt((ALPHA_PRIME ** 2 * p + 1) * (1 - p))
    b = ALPHA_PRIME * a * p
    dropped_value = -ALPHA_PRIME * a + b
    dropped = np.isclose(y, dropped_value, rtol=0, atol=1e-12)
    np.testing.assert_allclose(y[~dropped], a * x.numpy()[~dropped] + b, rtol=1e-12, atol=1e-15)
    assert abs(dropped.mean() - p) < 5 * np.sqrt(p * (1 - p) / y.size)
    # PyTorch's formula, independently: its dropped value and kept affine map
    t = torch.nn.functional.alpha_dropout(torch.zeros(100000, dtype=torch.float64), p, True)
    assert np.isclose(t.min().item(), dropped_value) or np.isclose(t.max().item(), dropped_value)


def test_feature_alpha_dropout_and_gradcheck():
    x = cylayers.randn(4, 6, 5, dtype=cylayers.float64, requires_grad=True)
    y = F.feature_alpha_dropout(x, 0.5, training=True)
    rows = y.detach().numpy().reshape(24, 5)
    const = np.ptp(rows, axis=1) == 0
    assert const.any() and (~const).any()

    def seeded(fn):
        def f(t):
            cylayers.manual_seed(11)
            return fn(t)
        return f

    for fn in (lambda t: F.dropout(t, 0.4), lambda t: F.dropout2d(t.view(4, 6, 5, 1), 0.4),
               lambda t: F.alpha_dropout(t, 0.3, True),
               lambda t: F.feature_alpha_dropout(t, 0.3, True)):
        assert gradcheck(seeded(fn), [x])


def test_inplace_dropout_writes_input_and_backprops():
    base = cylayers.ones(1000, requires_grad=True)
    h = base * 1.0
    out = nn.Dropout(0.5, inplace=True)(h)
    assert out is h
    out.sum().backward()
    np.testing.assert_array_equal(base.grad.numpy(), h.detach().numpy())


def test_tutorial_nets_in_eval_match_torch_and_train_grads_finite():
    class SimpleNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear1 = nn.Linear(100, 50)
            self.dropout = nn.Dropout(p=0.5)
            self.linear2 = nn.Linear(50, 10)

        def forward(self, x):
            x = F.relu(self.linear1(x))
            x = self.dropout(x)
            return self.linear2(x)

    class TSimpleNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear1 = torch.nn.Linear(100, 50)
            self.dropout = torch.nn.Dropout(p=0.5)
            self.linear2 = torch.nn.Linear(50, 10)

        def forward(self, x):
            x = torch.nn.functional.relu(self.linear1(x))
            x = self.dropout(x)
            return self.linear2(x)

    ours, theirs = SimpleNet(), TSimpleNet()
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                            for k, v in ours.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((8, 100)).astype(np.float32)
    ours.eval(), theirs.eval()
    assert_close(ours(cylayers.tensor(x)), theirs(torch.from_numpy(x)))
    ours.train()
    ours(cylayers.tensor(x)).sum().backward()
    assert all(np.isfinite(p.grad.numpy()).all() for p in ours.parameters())
    assert repr(nn.Dropout(0.5)) == repr(torch.nn.Dropout(0.5))
    assert repr(nn.AlphaDropout(0.3)) == repr(torch.nn.AlphaDropout(0.3))
    assert repr(nn.Dropout3d(0.3)) == repr(torch.nn.Dropout3d(0.3))


@settings(max_examples=40, deadline=None)
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]),
       p=st.floats(0.05, 0.95))
def test_property_dropout_any_shape_and_stride(data, dtype, p):
    arr = data.draw(hnp.arrays(dtype, hnp.array_shapes(min_dims=1, max_dims=4, min_side=0,
                                                       max_side=7),
                               elements=st.floats(0.5, 2, width=32)))
    if arr.ndim > 1 and data.draw(st.booleans()):
        arr = arr.T
    y = F.dropout(cylayers.from_numpy(arr), p).numpy()
    kept = y != 0
    np.testing.assert_allclose(y[kept], arr[kept] / (1 - p), rtol=1e-6)
    if arr.ndim >= 3:
        z = F.dropout2d(cylayers.from_numpy(arr), p) if arr.ndim == 4 else \
            F.dropout1d(cylayers.from_numpy(arr), p)
        rows = z.numpy().reshape(arr.shape[0] * arr.shape[1], int(np.prod(arr.shape[2:])))
        assert ((rows == 0).all(axis=1) | (rows != 0).all(axis=1)).all()


def test_wrong_rank_warnings_match_pytorch_text():
    with pytest.warns(UserWarning, match="Received a 5-D input to dropout2d") as ours:
        F.dropout2d(cylayers.randn(2, 3, 4, 5, 6), 0.5)
    with pytest.warns(UserWarning) as theirs:
        torch.nn.functional.dropout2d(torch.randn(2, 3, 4, 5, 6), 0.5)
    assert str(ours[0].message) == str(theirs[0].message)
    with pytest.warns(UserWarning, match="Received a 3-D input to dropout3d") as ours:
        F.dropout3d(cylayers.randn(2, 3, 4), 0.5)
    with pytest.warns(UserWarning) as theirs:
        torch.nn.functional.dropout3d(torch.randn(2, 3, 4), 0.5)
    assert str(ours[0].message) == str(theirs[0].message)


def test_dropped_inf_becomes_nan_like_pytorch_and_kept_values_propagate():
    x = cylayers.full((4096,), float("inf"))
    y = F.dropout(x, 0.5).numpy()
    t = torch.nn.functional.dropout(torch.full((4096,), float("inf")), 0.5).numpy()
    assert set(np.unique(np.isnan(y))) == set(np.unique(np.isnan(t))) == {False, True}
    assert np.all(np.isinf(y[~np.isnan(y)]))
    nan = F.dropout(cylayers.full((64,), float("nan")), 0.3).numpy()
    assert np.isnan(nan).all()


def test_keep_mask_kernel_matches_the_applied_mask():
    from cylayers._kernels import dropout as K
    cylayers.manual_seed(5)
    seed, offset = cylayers.random.get_rng_state()["seed"], 0
    y = F.dropout(cylayers.ones(1003), 0.25).numpy()
    mask = np.empty(1003, dtype=np.uint8)
    K.keep_mask(1003, seed, offset, int(round(0.75 * 2 ** 32)), mask)
    np.testing.assert_array_equal(y != 0, mask.astype(bool))


@pytest.mark.parametrize("p", [0.9999, 0.99999, 0.999999, 1e-5, 0.3])
def test_keep_rate_is_unbiased_in_the_tails(p):
    """16-bit thresholds kept 7.8% too many at p=0.9999, doubled the mean at p=0.99999 and
    dropped everything at p=0.999999; the keep rate must be (1 - p) within sampling noise."""
    n = 1 << 25
    cylayers.manual_seed(11)
    out = F.dropout(cylayers.ones(n, requires_grad=True), p)
    kept = int(np.count_nonzero(out.detach().numpy()))
    expected = n * (1 - p)
    assert abs(kept - expected) <= 5 * np.sqrt(n * p * (1 - p)), (kept, expected)
    # The kernel keeps a unit when its uniform is below the threshold (the keep_mask test
    # above); that threshold is (1 - p) to 2^-32, far finer than sampling can resolve here.
    threshold = out.grad_fn.mask_key[2]
    assert abs(threshold / 2 ** 32 - (1 - p)) <= 2 ** -32
