"""One write path: outside the core (Tensor, autograd, the taped ops), a tensor's values are
written through its in-place ops under no_grad, or inside ``cylayers._tensor.writing`` where a
kernel writes them; either moves the tensor's version on, so backward refuses values saved
before the write. No module, optimizer or utility writes ``._array`` or bumps a version itself."""
import ast
import pathlib

import numpy as np
import pytest

import cylayers
from cylayers import nn

PACKAGE = pathlib.Path(cylayers.__file__).parent
CORE = ("_tensor.py", "_tensor_base.py", "_tensor_arithmetic.py", "_tensor_math.py",
        "_tensor_reductions.py", "_tensor_shape.py", "_tensor_inplace.py",
        "_tensor_conversions.py", "_tensor_autograd.py", "_functions.py", "_creation.py",
        "_random_ops.py", "_composite.py", "autograd/", "_ops/")


def _writes_outside_the_core(root=PACKAGE):
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith(CORE):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, ast.AugAssign):
                targets = [node.target]
            for t in targets:
                while isinstance(t, ast.Subscript):
                    t = t.value
                if isinstance(t, ast.Attribute) and t.attr == "_array":
                    found.append(f"{rel}:{node.lineno} writes ._array")
            if not isinstance(node, ast.Call):
                continue
            if isinstance(node.func, ast.Attribute) and node.func.attr == "_bump_version":
                found.append(f"{rel}:{node.lineno} bumps a version")
            # numpy writing into an array: out=t._array, np.copyto(t._array, ...)
            into = [k.value for k in node.keywords if k.arg == "out"]
            if isinstance(node.func, ast.Attribute) and node.func.attr == "copyto":
                into += node.args[:1]
            if any(isinstance(a, ast.Attribute) and a.attr == "_array" for a in into):
                found.append(f"{rel}:{node.lineno} writes ._array through numpy")
    return found


def test_nothing_outside_the_core_writes_arrays_or_bumps_versions(tmp_path):
    assert _writes_outside_the_core() == []
    # and the scan sees each kind of write
    (tmp_path / "nn").mkdir()
    (tmp_path / "nn" / "bad.py").write_text(
        "t._array[...] = 0\nt._array += 1\nt._bump_version()\n"
        "np.copyto(t._array, v)\nnp.clip(a, 0, 1, out=t._array)\n")
    assert len(_writes_outside_the_core(tmp_path)) == 5


def _linear_with_saved_weight():
    layer = nn.Linear(3, 2)
    out = layer(cylayers.randn(4, 3, requires_grad=True)).sum()
    return layer, out


@pytest.mark.parametrize("write", [
    lambda layer: cylayers.optim.SGD(layer.parameters(), lr=0.1).step(),
    lambda layer: cylayers.optim.LBFGS(layer.parameters())._restore(
        [p.detach().numpy().copy() for p in layer.parameters()]),
    lambda layer: nn.init.normal_(layer.weight),
    lambda layer: layer.load_state_dict(nn.Linear(3, 2).state_dict()),
    lambda layer: nn.utils.clip_grad_norm_(layer.parameters(), 1e-3),
    lambda layer: nn.utils.clip_grad_value_(layer.parameters(), 1e-3),
], ids=["optimizer step", "LBFGS restore", "nn.init", "load_state_dict", "clip_grad_norm_",
        "clip_grad_value_"])
def test_each_writer_moves_the_version_on(write):
    layer, out = _linear_with_saved_weight()
    for p in layer.parameters():
        p.grad = cylayers.ones_like(p)
    before = [(p._version, p.grad._version) for p in layer.parameters()]
    write(layer)
    after = [(p._version, p.grad._version) for p in layer.parameters()]
    assert any(a != b for a, b in zip(after, before))
    if layer.weight._version != before[0][0]:  # the forward saved the weight: now stale
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            out.backward()


def test_batchnorm_buffers_move_on_through_their_in_place_ops():
    bn = nn.BatchNorm1d(3)
    versions = [b._version for b in bn.buffers()]
    bn(cylayers.randn(5, 3))
    assert all(b._version > v for b, v in zip(bn.buffers(), versions))
    assert int(bn.num_batches_tracked) == 1
    versions = [b._version for b in bn.buffers()]
    bn.reset_running_stats()
    assert all(b._version > v for b, v in zip(bn.buffers(), versions))
    np.testing.assert_array_equal(bn.running_mean.numpy(), np.zeros(3, np.float32))
    np.testing.assert_array_equal(bn.running_var.numpy(), np.ones(3, np.float32))
    assert int(bn.num_batches_tracked) == 0


def test_writing_moves_versions_on_even_when_the_write_fails():
    from cylayers._tensor import writing
    a, b = cylayers.zeros(3), cylayers.zeros(2)
    with writing(a, b) as (x, y):
        x += 1
    assert a._version == 1 and b._version == 1 and a.tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(ZeroDivisionError):
        with writing(a):
            1 / 0
    assert a._version == 2 and b._version == 1
