"""Tensor's methods are defs in class bodies (TensorBase and one mixin per area), so reading
the class or an IDE finds each one: nothing attaches methods to Tensor from outside."""
import ast
import pathlib
import sys
import types

import cylayers
from cylayers import Tensor
from cylayers._tensor_base import TensorBase

PACKAGE = pathlib.Path(cylayers.__file__).parent
CLASS_NAMES = {"Tensor", "TensorBase", "_Tensor"}


def _attachments(root=PACKAGE):
    """``Tensor.x = ...`` and ``setattr(Tensor, ...)`` anywhere in the package."""
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for t in (target.elts if isinstance(target, ast.Tuple) else [target]):
                    if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and \
                            t.value.id in CLASS_NAMES:
                        found.append(f"{rel}:{node.lineno} {t.value.id}.{t.attr} = ...")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                    node.func.id == "setattr" and node.args and \
                    isinstance(node.args[0], ast.Name) and node.args[0].id in CLASS_NAMES:
                found.append(f"{rel}:{node.lineno} setattr({node.args[0].id}, ...)")
    return found


def test_nothing_attaches_methods_to_tensor():
    assert _attachments() == []


def test_the_scan_sees_an_attachment(tmp_path):
    (tmp_path / "m.py").write_text("Tensor.foo = lambda self: 1\nsetattr(Tensor, 'bar', 2)\n"
                                   "Tensor.a, Tensor.b = 1, 2\n")
    assert len(_attachments(tmp_path)) == 4


def _defining_class(name):
    for cls in Tensor.__mro__:
        if name in vars(cls):
            return cls, vars(cls)[name]
    raise AssertionError(name)


def test_every_method_is_a_def_of_a_tensor_class_or_a_torch_function():
    """Each function of Tensor's API was written in a class body of Tensor's mixins or base
    (its qualified name says so), or is a module's function, the torch-level form with the
    tensor first (``x.addmm(...)`` is ``addmm(x, ...)``)."""
    classes = {cls.__name__ for cls in Tensor.__mro__}
    checked = 0
    for name in dir(Tensor):
        if name.startswith("__") and name not in ("__add__", "__getitem__", "__setitem__",
                                                  "__eq__", "__iter__", "__format__"):
            continue
        cls, attr = _defining_class(name)
        fn = attr.fget if isinstance(attr, property) else attr
        if isinstance(fn, (classmethod, staticmethod)):
            fn = fn.__func__
        if not isinstance(fn, types.FunctionType):
            continue
        checked += 1
        in_class_body = fn.__qualname__.split(".")[0] in classes and \
            "<locals>" not in fn.__qualname__
        module = sys.modules[fn.__module__]
        torch_function = any(getattr(module, n, None) is fn for n in (name, fn.__name__))
        assert in_class_body or torch_function, (name, fn.__qualname__)
    assert checked > 400


def test_the_ops_make_public_tensors():
    """TensorBase is what the ops import; whatever they create is a cylayers.Tensor."""
    import numpy as np
    assert type(TensorBase._make(np.zeros(2))) is Tensor
    assert type(TensorBase([1.0, 2.0])) is Tensor
    assert type(cylayers.ones(2) + 1) is Tensor
    assert type(cylayers.FloatTensor(2, 3)) is Tensor
    p = cylayers.nn.Parameter(cylayers.ones(2))
    assert type(p) is cylayers.nn.Parameter and isinstance(p, Tensor)
    assert hash(cylayers.ones(1)) != hash(cylayers.ones(1))  # hashable by identity
