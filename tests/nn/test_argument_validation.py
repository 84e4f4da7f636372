"""Arguments PyTorch rejects get a clear error here too (never a ZeroDivisionError, NaN output,
or a message about the wrong argument); non-native byte order works; kernel errors name the op."""
import numpy as np
import pytest
import torch

import cylayers
from cylayers import nn
import cylayers.nn.functional as F

X4 = cylayers.randn(2, 3, 8, 8)


@pytest.mark.parametrize("kw,match", [
    ({"kernel_size": 0}, "kernel_size must be greater than zero"),
    ({"kernel_size": -1}, "kernel_size must be greater than zero"),
    ({"kernel_size": 3, "stride": 0}, "stride must be greater than zero"),
    ({"kernel_size": 3, "stride": -2}, "stride must be greater than zero"),
    ({"kernel_size": 3, "padding": -1}, "padding must be non-negative"),
    ({"kernel_size": 3, "dilation": 0}, "dilation must be greater than zero"),
])
@pytest.mark.parametrize("cls", [nn.Conv1d, nn.Conv2d, nn.Conv3d])
def test_conv_modules_reject_bad_window_arguments(cls, kw, match):
    with pytest.raises(ValueError, match=match):
        cls(3, 4, **kw)


@pytest.mark.parametrize("kw,match", [
    ({"stride": 0}, "non-positive stride is not supported"),
    ({"stride": -1}, "non-positive stride is not supported"),
    ({"padding": -1}, "negative padding is not supported"),
    ({"dilation": 0}, "non-positive dilation is not supported"),
])
def test_functional_conv_rejects_bad_arguments_with_pytorchs_messages(kw, match):
    w = cylayers.randn(4, 3, 3, 3)
    with pytest.raises(RuntimeError, match=match):
        F.conv2d(X4, w, **kw)
    with pytest.raises(RuntimeError, match=match):
        torch.nn.functional.conv2d(torch.randn(2, 3, 8, 8), torch.randn(4, 3, 3, 3), **kw)


@pytest.mark.parametrize("pool", ["max_pool2d", "avg_pool2d"])
@pytest.mark.parametrize("kw,match", [
    ({"kernel_size": 0}, "kernel_size must be greater than zero"),
    ({"kernel_size": 2, "stride": 0}, "stride must be greater than zero"),
    ({"kernel_size": 2, "stride": -1}, "stride must be greater than zero"),
    ({"kernel_size": 2, "padding": -1}, "padding must be non-negative"),
    ({"kernel_size": 2, "dilation": 0}, "dilation must be greater than zero"),
    ({"kernel_size": 2, "dilation": -1}, "dilation must be greater than zero"),
])
def test_pooling_rejects_bad_window_arguments(pool, kw, match):
    if pool == "avg_pool2d" and "dilation" in kw:
        kw = dict(kw)
        kw.pop("dilation")
        kw["kernel_size"] = 0
        match = "kernel_size must be greater than zero"
    with pytest.raises(RuntimeError, match=match):
        getattr(F, pool)(X4, **kw)
    with pytest.raises(RuntimeError):  # PyTorch refuses every one of these too
        getattr(torch.nn.functional, pool)(torch.randn(2, 3, 8, 8), **kw)


@pytest.mark.parametrize("divisor", [0, -1])
def test_avg_pool_rejects_non_positive_divisor_override(divisor):
    with pytest.raises(RuntimeError, match="divisor_override must be a positive integer"):
        nn.AvgPool2d(2, divisor_override=divisor)(X4)


@pytest.mark.parametrize("eps", [0.0, -1e-5, float("nan")])
def test_batch_norm_training_needs_positive_eps(eps):
    m = nn.BatchNorm2d(3, eps=eps)
    with pytest.raises(ValueError, match="batch_norm eps must be positive during training"):
        m(X4)
    if eps == 0.0:  # PyTorch: positive during training, non-negative in eval
        m.eval()
        assert np.isfinite(m(X4).detach().numpy()).all()
        with pytest.raises(ValueError, match="batch_norm eps must be positive during training"):
            torch.nn.BatchNorm2d(3, eps=eps)(torch.randn(2, 3, 8, 8))
    else:
        with pytest.raises(ValueError, match="batch_norm eps must be non-negative"):
            m.eval()(X4)


@pytest.mark.parametrize("make", [lambda eps: nn.LayerNorm(8, eps=eps),
                                  lambda eps: nn.GroupNorm(3, 3, eps=eps),
                                  lambda eps: nn.InstanceNorm2d(3, eps=eps)])
def test_other_norms_reject_negative_eps_and_match_pytorch_at_zero(make):
    with pytest.raises(ValueError, match="eps must be non-negative, but got -1e-05"):
        make(-1e-5)(X4)
    out = make(0.0)(X4)  # PyTorch allows eps=0 for these; same numbers on non-constant rows
    tm = {nn.LayerNorm: torch.nn.LayerNorm(8, eps=0.0),
          nn.GroupNorm: torch.nn.GroupNorm(3, 3, eps=0.0),
          nn.InstanceNorm2d: torch.nn.InstanceNorm2d(3, eps=0.0)}[type(make(1e-5))]
    want = tm(torch.from_numpy(X4.numpy())).detach().numpy()
    np.testing.assert_allclose(out.detach().numpy(), want, rtol=1e-4, atol=1e-5)


def test_group_norm_rejects_non_positive_groups():
    with pytest.raises(RuntimeError, match="Expected num groups to be greater than 0, got -3"):
        F.group_norm(X4, -3)
    with pytest.raises(RuntimeError, match="Expected num groups to be greater than 0, got -3"):
        torch.nn.functional.group_norm(torch.randn(2, 3, 8, 8), -3)
    with pytest.raises(ValueError, match="num_groups must be a positive integer"):
        nn.GroupNorm(-1, 3)


@pytest.mark.parametrize("n", [3, 5])
def test_prelu_with_several_parameters_refuses_1d_input(n):
    with pytest.raises(RuntimeError, match="parameter numbers = 3 and channel size = 1"):
        nn.PReLU(3)(cylayers.randn(n))
    with pytest.raises(RuntimeError, match="parameter numbers = 3 and channel size = 1"):
        torch.nn.PReLU(3)(torch.randn(n))


def test_prelu_single_parameter_on_1d_input_matches_pytorch():
    x = np.array([-2.0, -0.5, 0.0, 1.5, 3.0], dtype=np.float32)
    m, tm = nn.PReLU(), torch.nn.PReLU()
    xs, tx = cylayers.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    m(xs).sum().backward()
    tm(tx).sum().backward()
    np.testing.assert_allclose(m(xs).detach().numpy(), tm(tx).detach().numpy())
    np.testing.assert_allclose(m.weight.grad.numpy(), tm.weight.grad.numpy())
    np.testing.assert_allclose(xs.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("op", [
    lambda t: F.relu(t), lambda t: F.softmax(t, dim=1), lambda t: F.layer_norm(t, (8,)),
    lambda t: F.batch_norm(t, None, None, training=True), lambda t: F.dropout(t, 0.5),
    lambda t: F.max_pool2d(t, 2), lambda t: F.conv2d(t, cylayers.randn(2, 3, 3, 3)),
    lambda t: F.gelu(t), lambda t: F.prelu(t, cylayers.tensor([0.25])),
    lambda t: F.group_norm(t, 3), lambda t: F.avg_pool2d(t, 2),
])
def test_non_native_byte_order_works(op):
    arr = np.random.default_rng(0).standard_normal((2, 3, 8, 8))
    big = arr.astype(">f4")
    native = cylayers.from_numpy(arr.astype(np.float32))
    cylayers.manual_seed(1)
    want = op(native)
    for make in (cylayers.from_numpy, cylayers.tensor):
        x = make(big).requires_grad_()
        cylayers.manual_seed(1)
        got = op(x)
        np.testing.assert_array_equal(got.detach().numpy(), want.numpy())
        got.sum().backward()
        assert x.grad.shape == x.shape


def test_kernel_argument_errors_name_the_kernel():
    from cylayers._ops import activation
    with pytest.raises(ValueError, match="cylayers kernel activation.relu_forward"):
        activation.K.relu_forward(np.zeros(4, np.float32), np.zeros(4, np.float64), 1)
