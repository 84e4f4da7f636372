"""Transposed convolutions against PyTorch: F.conv_transpose1d/2d/3d and nn.ConvTranspose*
over stride, padding, output_padding, dilation, groups, bias, unbatched input and output_size;
outputs and input/weight/bias gradients in float64 and float32; gradcheck; errors; ONNX."""
import io
import itertools

import numpy as np
import pytest
import torch

import cylayers
from cylayers import nn
import cylayers.nn.functional as F
from cylayers.autograd import gradcheck
from helpers import assert_close, assert_close_sum

rng = np.random.default_rng(0)

CONFIGS = [dict(), dict(stride=2), dict(stride=2, padding=1, output_padding=1),
           dict(stride=3, dilation=2, padding=2, output_padding=2), dict(groups=2, stride=2),
           dict(padding=1, dilation=2), dict(stride=(2, 1, 3), padding=(0, 1, 1),
                                             output_padding=(1, 0, 2))]
SHAPES = {1: (2, 4, 7), 2: (2, 4, 5, 6), 3: (2, 4, 3, 4, 3)}


def _per_dim(kw, nd):
    return {k: (v[:nd] if isinstance(v, tuple) else v) for k, v in kw.items()}


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("kw", CONFIGS, ids=[str(i) for i in range(len(CONFIGS))])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bias", [True, False])
def test_conv_transpose_matches_pytorch(nd, kw, dtype, bias):
    kw = _per_dim(kw, nd)
    groups = kw.get("groups", 1)
    x = rng.standard_normal(SHAPES[nd]).astype(dtype)
    w = rng.standard_normal((4, 6 // groups) + (3,) * nd).astype(dtype)
    b = rng.standard_normal(6).astype(dtype) if bias else None
    tf = getattr(torch.nn.functional, f"conv_transpose{nd}d")
    cf = getattr(F, f"conv_transpose{nd}d")
    t_args = [torch.tensor(a, requires_grad=True) for a in (x, w)] + \
        ([torch.tensor(b, requires_grad=True)] if bias else [None])
    c_args = [cylayers.tensor(a, requires_grad=True) for a in (x, w)] + \
        ([cylayers.tensor(b, requires_grad=True)] if bias else [None])
    theirs, ours = tf(*t_args, **kw), cf(*c_args, **kw)
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert_close_sum(ours, theirs, dtype, 4 * 27)
    g = rng.standard_normal(tuple(theirs.shape)).astype(dtype)
    theirs.backward(torch.tensor(g))
    ours.backward(cylayers.tensor(g))
    for a, t in zip(c_args, t_args):
        if t is not None:
            assert_close_sum(a.grad, t.grad, dtype, int(np.prod(g.shape)))


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_modules_match_pytorch_with_output_size_and_unbatched_input(nd):
    kw = dict(stride=2, padding=1, groups=2, dilation=1)
    theirs = getattr(torch.nn, f"ConvTranspose{nd}d")(4, 6, 3, **kw).double()
    ours = getattr(nn, f"ConvTranspose{nd}d")(4, 6, 3, **kw).double()
    ours.load_state_dict({k: cylayers.tensor(v.detach().numpy())
                          for k, v in theirs.state_dict().items()})
    assert repr(ours) == repr(theirs)
    assert tuple(ours.weight.shape) == tuple(theirs.weight.shape)
    x = rng.standard_normal(SHAPES[nd])
    for size in (None, [2 * s for s in SHAPES[nd][2:]]):  # output_padding 0, then 1
        t = theirs(torch.tensor(x), output_size=size)
        c = ours(cylayers.tensor(x), output_size=size)
        assert_close(c, t, np.float64)
    unbatched = x[0]
    assert_close(ours(cylayers.tensor(unbatched)), theirs(torch.tensor(unbatched)), np.float64)
    with pytest.raises(ValueError, match="requested an output size"):
        ours(cylayers.tensor(x), output_size=[3 * s for s in SHAPES[nd][2:]])


def test_gradcheck_and_initialization_and_errors():
    x = cylayers.tensor(rng.standard_normal((1, 2, 4, 3)), requires_grad=True)
    w = cylayers.tensor(rng.standard_normal((2, 3, 2, 3)), requires_grad=True)
    b = cylayers.tensor(rng.standard_normal(3), requires_grad=True)
    assert gradcheck(lambda a, bw, bb: F.conv_transpose2d(a, bw, bb, stride=2, padding=1,
                                                          output_padding=1), (x, w, b))
    m = nn.ConvTranspose2d(8, 4, 3)
    bound = 1 / np.sqrt(4 * 9)  # fan_in = out_channels / groups * kernel, as PyTorch's
    assert np.abs(m.weight.detach().numpy()).max() <= bound
    assert np.abs(m.bias.detach().numpy()).max() <= bound
    with pytest.raises(ValueError, match='Only "zeros" padding mode is supported'):
        nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect")
    with pytest.raises(RuntimeError, match="output padding must be smaller than either stride "
                                           "or dilation"):
        F.conv_transpose2d(x, w, stride=1, output_padding=1)
    with pytest.raises(RuntimeError, match="expected input\\[1, 2, 4, 3\\] to have 5 channels"):
        F.conv_transpose2d(x, cylayers.randn(5, 3, 2, 2).double())


def test_conv_transpose_exports_to_onnx():
    import onnxruntime as ort
    model = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(),
                          nn.ConvTranspose2d(8, 3, 3, stride=2, padding=1, output_padding=1,
                                             groups=1, dilation=1)).eval()
    buf = io.BytesIO()
    cylayers.onnx.export(model, cylayers.randn(2, 3, 8, 8), buf, input_names=["x"],
                         dynamic_axes={"x": {0: "batch"}})
    session = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    for n in (2, 5):
        x = rng.standard_normal((n, 3, 8, 8)).astype(np.float32)
        with cylayers.no_grad():
            want = model(cylayers.tensor(x)).numpy()
        np.testing.assert_allclose(session.run(None, {"x": x})[0], want, rtol=1e-4, atol=1e-5)
