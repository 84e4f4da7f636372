"""The ONNX graph under construction (GraphBuilder), the exporter's error and warning, and
the scatter of values written in place through a view (a node pattern ops and the replay share)."""
import collections

import numpy as np


class OnnxExportError(RuntimeError):
    """An op or an argument the exporter cannot express in ONNX."""


class TracerWarning(Warning):
    """The exported graph may not generalize: a traced value became a Python value (a
    constant in the graph), or a constant size stands where an input's size varies
    (PyTorch's torch.jit.TracerWarning)."""


class GraphBuilder:
    """Names values, emits nodes and constants."""

    def __init__(self, helper, numpy_helper, opset):
        self.helper, self.numpy_helper, self.opset = helper, numpy_helper, opset
        self.nodes, self.initializers = [], []
        self.counter = collections.Counter()

    def fresh(self, stem):
        self.counter[stem] += 1
        return f"{stem}_{self.counter[stem]}"

    def node(self, op, inputs, n_outputs=1, name_hint=None, **attrs):
        outs = [self.fresh(name_hint or op) for _ in range(n_outputs)]
        self.nodes.append(self.helper.make_node(op, list(inputs), outs,
                                                name=self.fresh(op + "_node"), **attrs))
        return outs[0] if n_outputs == 1 else outs

    def const(self, value, dtype=None, name=None):
        arr = np.asarray(value, dtype=dtype)
        if arr.dtype == np.float16:
            arr = arr.astype(np.float32)
        name = name or self.fresh("const")
        self.initializers.append(self.numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def int64s(self, values):
        return self.const(np.asarray(list(values), dtype=np.int64))


def storage_positions(root, view):
    """The flat positions in ``root``'s (C-contiguous) array of each element of ``view``'s."""
    base, arr = root._array, view._array
    if not base.flags.c_contiguous or not np.shares_memory(base, arr):
        raise OnnxExportError("an in-place write into a view whose storage layout the exporter "
                              "cannot follow (the viewed tensor is not contiguous)")
    offset = arr.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    flat = np.arange(base.size, dtype=np.int64)
    item = base.itemsize
    positions = np.lib.stride_tricks.as_strided(
        flat[offset // item:], shape=arr.shape,
        strides=[s // item * flat.itemsize for s in arr.strides])
    return np.array(positions)


def scatter(g, base_name, base_shape, positions, updates_name):
    """``base`` with the elements at flat ``positions`` replaced by ``updates`` (one each)."""
    flat = g.node("Reshape", [base_name, g.int64s([-1])])
    updates = g.node("Reshape", [updates_name, g.int64s([-1])])
    written = g.node("ScatterND", [flat, g.const(positions.reshape(-1, 1).astype(np.int64)),
                                   updates])
    return g.node("Reshape", [written, g.int64s(base_shape)])
