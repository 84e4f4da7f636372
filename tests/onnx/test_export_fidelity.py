"""ONNX export off the happy path: in-place writes through views, constants under dynamic axes,
values that leave the graph, declared output shapes. Each case either exports a graph that ONNX
Runtime runs to cylayers' numbers or fails (raises, warns) where a wrong graph would be silent."""
import io
import subprocess
import sys
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import cylayers
import cylayers.nn.functional as F
from cylayers import nn
from cylayers.onnx import OnnxExportError, TracerWarning


class Lambda(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


def _session(model, example, **kw):
    model.eval()
    buf = io.BytesIO()
    cylayers.onnx.export(model, example, buf, input_names=["x"], output_names=["y"], **kw)
    return ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])


def _run(session, x):
    return session.run(None, {"x": x})[0]


def _strict_export(model, example, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error", TracerWarning)
        return _session(model, example, **kw)


def _times_one(x):
    return x * 1


INPLACE_ON_VIEWS = {
    "mul_ on a column": lambda x: (lambda y: (y[:, 0].mul_(2), y)[1])(_times_one(x)),
    "add_ on a flat view": lambda x: (lambda y: (y.view(-1).add_(3), y)[1])(_times_one(x)),
    "setitem on a row": lambda x: (lambda y: (y.__setitem__(0, 0.0), y)[1])(_times_one(x)),
    "setitem with a tensor": lambda x: (lambda y: (y.__setitem__(
        (slice(None), slice(1, 3)), x[:, :2] * 10), y)[1])(_times_one(x)),
    "relu inplace on a slice": lambda x: (lambda y: (F.relu(y[1:, 2:], inplace=True), y)[1])(
        _times_one(x) - 0.5),
    "two writes through two views": lambda x: (lambda y: (
        y[:, 1].mul_(-1), y.t()[2].add_(5), y)[2])(_times_one(x)),
    "a write into a view of a view": lambda x: (lambda y: (
        y.view(2, 2, 3)[1][:, ::2].sub_(7), y)[1])(_times_one(x)),
    "the view returned after the write": lambda x: (lambda y: y[:, 0].mul_(3))(_times_one(x)),
    "a tensor made in forward, written in place": lambda x: x + cylayers.ones(3).mul_(2),
    "a mask made in forward, filled by index": lambda x: (lambda m: (
        m.__setitem__(1, 1.0), x * m)[1])(cylayers.zeros(4, 1)),
}


@pytest.mark.parametrize("name", INPLACE_ON_VIEWS)
def test_inplace_writes_through_views_export_the_written_values(name):
    model = Lambda(INPLACE_ON_VIEWS[name])
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    session = _strict_export(model, cylayers.tensor(x))
    want = model(cylayers.tensor(x)).numpy()
    np.testing.assert_allclose(_run(session, x), want, rtol=1e-6)


@pytest.mark.parametrize("name", ["mul_ on a column", "add_ on a flat view", "setitem on a row"])
def test_inplace_writes_through_views_refuse_dynamic_axes(name):
    model = Lambda(INPLACE_ON_VIEWS[name])
    with pytest.raises(OnnxExportError, match="cannot be exported with dynamic axes"):
        _session(model, cylayers.randn(4, 3), dynamic_axes={"x": {0: "batch"}})


def test_a_view_read_after_its_base_was_written_is_refused():
    def stale(x):
        y = x * 1
        v = y[:, 0]
        y.mul_(2)  # v now holds the doubled values
        return v + 1

    assert np.allclose(stale(cylayers.ones(2, 3)).numpy(), 3.0)
    with pytest.raises(OnnxExportError, match="a view is read after the tensor it views was "
                                              "written in place"):
        _session(Lambda(stale), cylayers.randn(2, 3))


@pytest.mark.parametrize("beta,threshold", [(1.0, 20.0), (1.0, 0.5), (2.0, 1.0), (0.5, 3.0)])
def test_softplus_exports_beta_and_threshold(beta, threshold):
    model = Lambda(lambda x: F.softplus(x, beta=beta, threshold=threshold))
    x = np.linspace(-6, 6, 97, dtype=np.float32).reshape(1, -1)
    session = _strict_export(model, cylayers.tensor(x), dynamic_axes={"x": {0: "b"}})
    np.testing.assert_allclose(_run(session, x), model(cylayers.tensor(x)).numpy(),
                               rtol=1e-5, atol=1e-6)
    # and what PyTorch computes
    import torch
    np.testing.assert_allclose(
        _run(session, x), torch.nn.functional.softplus(torch.tensor(x), beta, threshold).numpy(),
        rtol=1e-5, atol=1e-6)


def test_a_constant_shape_under_a_dynamic_axis_is_kept_and_warned_about():
    model = Lambda(lambda x: x.view(2, -1))
    with pytest.warns(TracerWarning, match="constant size 2.*x's dynamic axis 0"):
        session = _session(model, cylayers.randn(2, 3), dynamic_axes={"x": {0: "batch"}})
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    got = _run(session, x)
    assert got.shape == (2, 6)  # the model's answer, not a rewritten (4, 3)
    np.testing.assert_array_equal(got, model(cylayers.tensor(x)).numpy())


SIZE_FOLLOWING = {
    "view(x.size(0), -1)": lambda x: x.view(x.size(0), -1) * 2,
    "reshape(x.shape[0], 2, -1)": lambda x: x.reshape(x.shape[0], 2, -1),
    "view(-1, 6)": lambda x: x.view(-1, 6),
    "flatten(1)": lambda x: x.flatten(1),
    "unflatten(1, (3, 4))": lambda x: x.flatten(1).unflatten(1, (3, 4)),
    "squeeze / unsqueeze": lambda x: x.unsqueeze(1).squeeze(1) + 1,
    "view_as": lambda x: x.flatten(1).view_as(x),
    "view(x.size(0) * 2, -1)": lambda x: x.view(x.size(0) * 2, -1),
}


@pytest.mark.parametrize("name", SIZE_FOLLOWING)
def test_sizes_read_from_the_input_follow_the_dynamic_axis(name):
    model = Lambda(SIZE_FOLLOWING[name])
    if name == "view(x.size(0) * 2, -1)":  # arithmetic on a size: a constant, and said so
        with pytest.warns(TracerWarning, match="size 14 computed from a traced tensor's size"):
            _session(model, cylayers.randn(7, 3, 4), dynamic_axes={"x": {0: "batch"}})
        return
    session = _strict_export(model, cylayers.randn(7, 3, 4), dynamic_axes={"x": {0: "batch"}})
    for batch in (7, 5, 1):
        x = np.random.default_rng(batch).standard_normal((batch, 3, 4)).astype(np.float32)
        want = model(cylayers.tensor(x)).numpy()
        got = _run(session, x)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("how", ["item", "numpy", "tolist", "bool", "float"])
def test_values_that_leave_the_graph_are_warned_about(how):
    def leaves(x):
        s = x.sum()
        value = {"item": lambda: s.item(), "numpy": lambda: float(s.numpy()),
                 "tolist": lambda: s.tolist(), "bool": lambda: float(bool(s)),
                 "float": lambda: float(s)}[how]()
        return x * value

    with pytest.warns(TracerWarning, match="turns it into a Python value"):
        _session(Lambda(leaves), cylayers.randn(2, 3))


def test_python_values_of_parameters_and_constants_are_not_warned_about():
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(cylayers.tensor(2.0))

        def forward(self, x):
            return x * self.scale.item() + cylayers.tensor([1.0, 2.0, 3.0]).tolist()[0]

    _strict_export(Scaled(), cylayers.randn(2, 3))


def test_output_shapes_follow_the_dynamic_input_axis(capfd):
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 36, 10))
    model.eval()
    buf = io.BytesIO()
    proto = cylayers.onnx.export(model, cylayers.randn(8, 1, 8, 8), buf, input_names=["x"],
                                 output_names=["y"], dynamic_axes={"x": {0: "batch"}})
    dims = proto.graph.output[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and not dims[0].dim_value and dims[1].dim_value == 10
    onnx.checker.check_model(proto, full_check=True)
    options = ort.SessionOptions()
    options.log_severity_level = 1  # warnings and up
    session = ort.InferenceSession(buf.getvalue(), options, providers=["CPUExecutionProvider"])
    for batch in (11, 8, 1):
        x = np.random.default_rng(batch).standard_normal((batch, 1, 8, 8)).astype(np.float32)
        np.testing.assert_allclose(_run(session, x),
                                   model(cylayers.tensor(x)).detach().numpy(), rtol=1e-4,
                                   atol=1e-5)
    assert "does not match actual shape" not in capfd.readouterr().err


def test_onnx_is_there_after_import_cylayers():
    code = ("import cylayers as torch, io\n"
            "m = torch.nn.Linear(3, 2)\n"
            "torch.onnx.export(m, torch.randn(1, 3), io.BytesIO())\n"
            "print(torch.onnx.TracerWarning.__name__)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "TracerWarning", out.stderr


MASKS = {
    "x > 0": lambda x: x * (x > 0),
    "masked_fill(x < -0.5)": lambda x: x.masked_fill(x < -0.5, 0.0),
    "where(x >= mean)": lambda x: cylayers.where(x >= x.mean(1, keepdim=True), x, -x),
    "eq / ne / logical ops": lambda x: ((x > 0) & (x < 1) | (x == 0) ^ (x != 2)).float() * x,
    "logical_not and ~": lambda x: (~(x > 0)).float() + cylayers.logical_not(x < 0).float(),
    "argmax(1)": lambda x: x.argmax(1),
    "argmin(0, keepdim)": lambda x: x.argmin(0, keepdim=True),
    "argmax()": lambda x: x.argmax(),
    "one-hot of argmax": lambda x: (x == x.max(1, keepdim=True)[0]).float(),
}


@pytest.mark.parametrize("name", MASKS)
def test_masks_and_argmax_computed_from_the_input_are_part_of_the_graph(name):
    model = Lambda(MASKS[name])
    session = _strict_export(model, cylayers.randn(5, 4), dynamic_axes={"x": {0: "batch"}})
    for seed, batch in ((0, 5), (1, 5), (2, 3)):
        x = np.random.default_rng(seed).standard_normal((batch, 4)).astype(np.float32)
        if name == "argmin(0, keepdim)" or name == "argmax()":
            x = x[:5]
        want = model(cylayers.tensor(x)).numpy()
        np.testing.assert_array_equal(_run(session, x), want)
