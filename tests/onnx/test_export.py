"""ONNX export: every layer in eval mode, every seed sample model and every example model are
exported, pass onnx.checker.check_model(full_check=True), and ONNX Runtime's output matches
cylayers' eval output (1e-4 relative) at the exported batch size and at another one through the
dynamic batch axis. Bad exports fail with a message naming the op and where it ran."""
import importlib
import io
import pathlib
import sys
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import cylayers
import cylayers.onnx
from cylayers import nn

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _export(model, shape, n_inputs=1, other_batch=5, dtype=np.float32, **kw):
    rng = np.random.default_rng(0)
    example = [cylayers.tensor(rng.standard_normal(shape).astype(dtype)) for _ in range(n_inputs)]
    names = [f"in{i}" for i in range(n_inputs)]
    model.eval()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("error", cylayers.onnx.TracerWarning)  # nothing left the graph
        proto = cylayers.onnx.export(model, tuple(example), buf, input_names=names,
                                     dynamic_axes={n: {0: "batch"} for n in names}, **kw)
    onnx.checker.check_model(proto, full_check=True)
    session = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    model.eval()
    for batch in (shape[0], other_batch):
        xs = [rng.standard_normal((batch,) + tuple(shape[1:])).astype(dtype)
              for _ in range(n_inputs)]
        got = session.run(None, dict(zip(names, xs)))
        with cylayers.no_grad():
            want = model(*[cylayers.tensor(x) for x in xs])
        want = [want] if isinstance(want, cylayers.Tensor) else (
            list(want.values()) if isinstance(want, dict) else list(want))
        assert len(got) == len(want)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w.numpy(), rtol=1e-4, atol=1e-5)
    return proto


def _trained_stats(model, shape):
    """A few training-mode passes so BatchNorm's running statistics are not the defaults."""
    model.train()
    with cylayers.no_grad():
        for seed in range(3):
            model(cylayers.tensor(np.random.default_rng(seed).standard_normal(shape)
                                  .astype(np.float32) * 2 + 1))
    return model


LAYERS = [
    (lambda: nn.Linear(6, 4), (3, 6)), (lambda: nn.Linear(6, 4, bias=False), (3, 5, 6)),
    (lambda: nn.Conv1d(3, 4, 3, padding=1, dilation=2, groups=1), (2, 3, 10)),
    (lambda: nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2), (2, 4, 9, 9)),
    (lambda: nn.Conv2d(3, 4, (2, 3), padding="same", dilation=(1, 2)), (2, 3, 7, 8)),
    (lambda: nn.Conv3d(2, 3, 3, padding=(1, 0, 1), bias=False), (2, 2, 5, 6, 5)),
    (lambda: nn.MaxPool1d(3, stride=2, padding=1), (2, 3, 11)),
    (lambda: nn.MaxPool2d(2, ceil_mode=True), (2, 3, 7, 7)),
    (lambda: nn.MaxPool2d(3, stride=1, dilation=2), (2, 3, 8, 8)),
    (lambda: nn.MaxPool3d(2), (2, 2, 4, 4, 4)),
    (lambda: nn.AvgPool1d(3, stride=2), (2, 3, 11)),
    (lambda: nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), (2, 3, 8, 8)),
    (lambda: nn.AvgPool2d(2, ceil_mode=True), (2, 3, 7, 7)),
    (lambda: nn.AvgPool3d(2, padding=1), (2, 2, 4, 4, 4)),
    (lambda: nn.AdaptiveAvgPool1d(1), (2, 3, 9)),
    (lambda: nn.AdaptiveAvgPool2d((2, 3)), (2, 3, 8, 9)),
    (lambda: nn.AdaptiveAvgPool3d(1), (2, 3, 4, 4, 4)),
    (lambda: nn.BatchNorm1d(5), (4, 5)), (lambda: nn.BatchNorm1d(5), (4, 5, 7)),
    (lambda: nn.BatchNorm2d(3), (2, 3, 5, 5)),
    (lambda: nn.BatchNorm3d(3, affine=False), (2, 3, 3, 4, 4)),
    (lambda: nn.BatchNorm2d(3, track_running_stats=False), (4, 3, 5, 5)),
    (lambda: nn.InstanceNorm1d(3), (2, 3, 9)),
    (lambda: nn.InstanceNorm2d(3, affine=True), (2, 3, 6, 6)),
    (lambda: nn.InstanceNorm2d(3, affine=True, track_running_stats=True), (2, 3, 6, 6)),
    (lambda: nn.InstanceNorm3d(2), (2, 2, 3, 4, 4)),
    (lambda: nn.LayerNorm(6), (3, 6)), (lambda: nn.LayerNorm([4, 5]), (2, 3, 4, 5)),
    (lambda: nn.LayerNorm(5, elementwise_affine=False), (2, 5)),
    (lambda: nn.LayerNorm(5, bias=False), (2, 5)),
    (lambda: nn.GroupNorm(2, 6), (2, 6, 4, 4)), (lambda: nn.GroupNorm(3, 6, affine=False),
                                                 (2, 6, 5)),
    (lambda: nn.GroupNorm(6, 6), (2, 6, 5)),
    (lambda: nn.ReLU(), (2, 7)), (lambda: nn.Sigmoid(), (2, 7)), (lambda: nn.Tanh(), (2, 7)),
    (lambda: nn.SELU(), (2, 7)), (lambda: nn.ELU(0.7), (2, 7)), (lambda: nn.CELU(1.3), (2, 7)),
    (lambda: nn.LeakyReLU(0.2), (2, 7)), (lambda: nn.PReLU(), (2, 3, 4)),
    (lambda: nn.PReLU(3), (2, 3, 4)), (lambda: nn.GELU(), (2, 7)),
    (lambda: nn.GELU("tanh"), (2, 7)), (lambda: nn.SiLU(), (2, 7)),
    (lambda: nn.Softplus(), (2, 7)), (lambda: nn.Softplus(beta=2.0), (2, 7)),
    (lambda: nn.Hardtanh(-0.5, 0.8), (2, 7)), (lambda: nn.ReLU6(), (2, 7)),
    (lambda: nn.Mish(), (2, 7)), (lambda: nn.Hardswish(), (2, 7)),
    (lambda: nn.Hardsigmoid(), (2, 7)), (lambda: nn.Softmax(dim=1), (2, 7, 3)),
    (lambda: nn.Softmax(dim=-1), (2, 7, 3)), (lambda: nn.LogSoftmax(dim=0), (3, 7)),
    (lambda: nn.Softmin(dim=1), (2, 7)),
    (lambda: nn.Dropout(0.5), (2, 7)), (lambda: nn.Dropout2d(0.3), (2, 3, 4, 4)),
    (lambda: nn.AlphaDropout(0.2), (2, 7)), (lambda: nn.FeatureAlphaDropout(0.2), (2, 3, 4)),
    (lambda: nn.Flatten(), (2, 3, 4)), (lambda: nn.Unflatten(1, (2, 3)), (4, 6)),
    (lambda: nn.Identity(), (2, 3)),
]


@pytest.mark.parametrize("make,shape", LAYERS, ids=[f"{i}" for i in range(len(LAYERS))])
def test_every_layer_exports_and_runs_in_onnx_runtime(make, shape):
    model = make()
    if any(isinstance(m, nn.modules.batchnorm._NormBase) for m in model.modules()):
        _trained_stats(model, shape)
    _export(model, shape)


def _tutorial_models():
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        import test_tutorial_samples as tutorial
    finally:
        sys.path.remove(str(ROOT / "tests"))
    return tutorial


TUTORIAL = [("SimpleNet", (), (4, 100)), ("SELUNet", (), (4, 100)),
        ("AlphaDropoutNet", (), (4, 100)), ("SelfNormalizingNet", (784, 512, 10, 0.2), (4, 784)),
        ("SigmoidExample", (), (4, 10)), ("TanhExample", (), (4, 10)),
        ("ReLUExample", (), (4, 20)), ("PReLUExample", (), (4, 10)),
        ("SoftmaxExample", (), (4, 100)), ("MultiClassClassifier", (64, 32, 10), (4, 64)),
        ("ConvBNReLU", (3, 16), (4, 3, 12, 12)), ("ConvNet", (), (2, 3, 16, 16)),
        ("Conv3DNet", (), (2, 1, 8, 8, 8)), ("ComplexNet", (), (2, 3, 32, 32))]


@pytest.mark.parametrize("name,args,shape", TUTORIAL, ids=[s[0] for s in TUTORIAL])
def test_tutorial_sample_models_export(name, args, shape):
    model = _tutorial_models().OURS[name](*args)
    if any(isinstance(m, nn.modules.batchnorm._NormBase) for m in model.modules()):
        _trained_stats(model, shape)
    _export(model, shape, other_batch=3)


class NormalizationExample(nn.Module):  # the layer tutorial's, verbatim but for comments
    def __init__(self, channels):
        super().__init__()
        self.batch_norm = nn.BatchNorm2d(channels)
        self.layer_norm = nn.LayerNorm([channels, 32, 32])
        self.instance_norm = nn.InstanceNorm2d(channels)
        self.group_norm = nn.GroupNorm(8, channels)

    def forward(self, x):
        batch_norm_out = self.batch_norm(x)
        layer_norm_out = self.layer_norm(x)
        instance_norm_out = self.instance_norm(x)
        group_norm_out = self.group_norm(x)
        return {
            'batch_norm': batch_norm_out,
            'layer_norm': layer_norm_out,
            'instance_norm': instance_norm_out,
            'group_norm': group_norm_out
        }


def test_tutorial_normalization_example_with_dict_outputs():
    model = _trained_stats(NormalizationExample(16), (2, 16, 32, 32))
    proto = _export(model, (2, 16, 32, 32), other_batch=3)
    assert [o.name for o in proto.graph.output] == ["output_0", "output_1", "output_2",
                                                    "output_3"]


EXAMPLES = [("self_normalizing_net", "SelfNormalizingNet", (64, 256, 10), (4, 64)),
            ("conv_bn_relu", "ConvBNReLUNet", (1, 10, 8), (4, 1, 8, 8)),
            ("complex_net", "ComplexNet", (1, 8), (4, 1, 8, 8)),
            ("pytorch_script", "Net", (), (4, 1, 8, 8))]


@pytest.mark.parametrize("module,cls,args,shape", EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_example_models_export(module, cls, args, shape):
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        mod = importlib.import_module(module)
    finally:
        sys.path.remove(str(ROOT / "examples"))
    model = getattr(mod, cls)(*args)
    _trained_stats(model, shape)
    _export(model, shape, other_batch=7)


def test_tensor_arithmetic_in_forward_and_tuple_outputs():
    class Arithmetic(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(6, 6)

        def forward(self, x, y):
            h = self.fc(x) * 2 - y / 3 + 1
            h = cylayers.cat([h.exp().sqrt(), (-h).abs(), h.clamp(-1, 1)], dim=1)
            z = h.view(h.size(0), 3, 6).permute(0, 2, 1).reshape(h.size(0), -1)
            return z.mean(1, keepdim=True), z.sum(1), cylayers.tanh(z[:, 2:5] ** 2)

    _export(Arithmetic(), (4, 6), n_inputs=2)


def test_errors_name_the_op_and_where_it_ran():
    class Cumulative(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Sequential(nn.Linear(3, 3))

        def forward(self, x):
            return self.inner(x).prod(1)

    with pytest.raises(cylayers.onnx.OnnxExportError, match="op Prod .*no ONNX mapping"):
        cylayers.onnx.export(Cumulative().eval(), cylayers.randn(2, 3), io.BytesIO())
    pool = nn.AdaptiveAvgPool2d(3).eval()
    with pytest.raises(cylayers.onnx.OnnxExportError,
                       match=r"AdaptiveAvgPoolFn \(in AdaptiveAvgPool2d .*unequal sizes"):
        cylayers.onnx.export(pool, cylayers.randn(1, 2, 8, 8), io.BytesIO())
    with pytest.raises(cylayers.onnx.OnnxExportError, match="opset"):
        cylayers.onnx.export(nn.ReLU(), cylayers.randn(2), io.BytesIO(), opset_version=13)


def test_training_mode_model_is_exported_in_eval_and_restored():
    model = _trained_stats(nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.BatchNorm1d(4)),
                           (3, 4))
    buf = io.BytesIO()
    with pytest.warns(UserWarning, match="exported in eval mode"):
        cylayers.onnx.export(model, cylayers.randn(3, 4), buf, input_names=["x"])
    assert model.training and all(m.training for m in model.modules())
    session = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    model.eval()
    np.testing.assert_allclose(session.run(None, {"x": x})[0],
                               model(cylayers.tensor(x)).detach().numpy(), rtol=1e-4, atol=1e-5)


def test_export_to_a_path_and_initializer_names(tmp_path):
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU()).eval()
    path = tmp_path / "m.onnx"
    cylayers.onnx.export(model, cylayers.randn(1, 3), path, input_names=["x"],
                         output_names=["y"])
    proto = onnx.load(str(path))
    assert {i.name for i in proto.graph.initializer} == {"0.weight", "0.bias"}
    assert [i.name for i in proto.graph.input] == ["x"]
    assert proto.opset_import[0].version == cylayers.onnx.DEFAULT_OPSET


def test_conv_bn_relu_example_exports_the_trained_model(tmp_path, capsys):
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        mod = importlib.import_module("conv_bn_relu")
        path = tmp_path / "cnn.onnx"
        accuracy = mod.main(["--no-progress", "--epochs", "3", "--width", "16",
                             "--checkpoint", str(tmp_path / "c.cyl"),
                             "--plot", str(tmp_path / "c.png"), "--export", str(path)])
    finally:
        sys.path.remove(str(ROOT / "examples"))
    assert "exported the trained model" in capsys.readouterr().out
    # The README's lines, checked: ONNX Runtime classifies the test split as cylayers did.
    import onnxruntime as ort
    from cylayers.datasets import load_digits
    images, labels = (a.numpy() for a in load_digits(seed=0)[1].tensors)
    session = ort.InferenceSession(str(path))
    logits = session.run(["logits"], {"image": images})[0]
    onnx_accuracy = (logits.argmax(1) == labels).mean()
    assert accuracy > 0.8 and abs(onnx_accuracy - accuracy) < 1e-9


def test_ops_run_in_another_thread_during_export_stay_out_of_the_graph():
    import threading
    stop = threading.Event()

    def train_elsewhere():
        x = cylayers.randn(16, 16, requires_grad=True)
        while not stop.is_set():
            (x.exp() * 2).sum().backward()

    worker = threading.Thread(target=train_elsewhere)
    worker.start()
    try:
        model = nn.Sequential(nn.Linear(4, 3), nn.ReLU()).eval()
        proto = cylayers.onnx.export(model, cylayers.randn(2, 4), io.BytesIO())
    finally:
        stop.set()
        worker.join()
    assert [n.op_type for n in proto.graph.node] == ["Gemm", "Relu", "Identity"]
