"""Replaying a trace into ONNX nodes: which ONNX value holds each tensor at each point.

A tensor's ONNX value changes when it is written in place, and a write through a view changes
the tensor it views: the replay then writes the view's new value back into its base (ScatterND
at the view's positions), and refuses to read any other view named before the write, since
its ONNX value no longer holds what the tensor holds."""
import collections
import warnings

import numpy as np

from cylayers._stacklevel import user_stacklevel
from cylayers._tensor import Tensor
from cylayers.onnx import ops
from cylayers.onnx.graph import OnnxExportError, TracerWarning, scatter, storage_positions


def _root(t):
    return t._base if t._base is not None else t


class Replay:
    def __init__(self, g, trace, dynamic_axes, inputs_by_name):
        self.g, self.trace = g, trace
        self.values = {}  # id(tensor or array) -> the ONNX value holding it now
        self.keep = []  # what the ids above belong to, kept alive so ids stay unique
        self.writes = collections.Counter()  # id(storage root) -> in-place writes so far
        self.named_at = {}  # id(tensor) -> writes of its root when its value was named
        self.dynamic_sizes = {}  # size of a dynamic input axis here -> which axis
        batch_dynamic = False
        for name, axes in dynamic_axes.items():
            t = inputs_by_name.get(name)
            for axis in (axes if t is not None else ()):
                self.dynamic_sizes.setdefault(t.shape[axis], f"{name}'s dynamic axis {axis}")
                batch_dynamic |= axis == 0
        self.batch_dynamic = batch_dynamic or any(
            0 in (axes if isinstance(axes, dict) else dict.fromkeys(axes))
            for axes in dynamic_axes.values())
        self.dynamic = bool(dynamic_axes)
        self.cache = {}  # what several ops share: one ONNX LSTM for its output and states

    # ------------------------------------------------------------------ values
    def name(self, t, name, with_array=True):
        self.values[id(t)] = name
        if with_array:
            self.values[id(t._array)] = name
        self.keep.append(t)
        self.named_at[id(t)] = self.writes[id(_root(t))]

    def is_graph_value(self, t):
        return id(t) in self.trace.traced and id(t) in self.values

    def name_of(self, value, where):
        """The ONNX value for a traced argument: a graph value, an initializer, or a new
        constant (a tensor or array created during forward, e.g. a mask)."""
        if isinstance(value, Tensor):
            key = id(value)
            if key not in self.values:
                snapshot = self.trace.snapshots.get(key)
                self.name(value, self.g.const(snapshot[1] if snapshot else value._array),
                          with_array=False)
            elif self.named_at.get(key, 0) != self.writes[id(_root(value))]:
                raise OnnxExportError(
                    f"in {where}: a view is read after the tensor it views was written in "
                    "place through the tensor itself or another view; the exported graph "
                    "cannot follow that write into this view: take the view again after the "
                    "write, or clone() it before")
            return self.values[key]
        if isinstance(value, np.ndarray):
            key = id(value)
            if key not in self.values:
                self.values[key] = self.g.const(value)
                self.keep.append(value)
            return self.values[key]
        return None

    # ------------------------------------------------------------------ ops
    def op(self, exporter, cls, args, result, where, inplace):
        if exporter is None:
            raise OnnxExportError(f"cylayers.onnx.export: op {cls.__name__} (in {where}) has "
                                  "no ONNX mapping")
        names = [self.name_of(a, where) for a in args]
        ctx = ops.Context(self, where)
        try:
            out_name = exporter(self.g, names, args, result, ctx)
            if inplace and result._base is not None:
                base_name = self.write_back(result, out_name, where)
        except OnnxExportError as e:
            raise OnnxExportError(f"cylayers.onnx.export: op {cls.__name__} (in {where}): "
                                  f"{e}") from None
        if not inplace:
            self.name(result, out_name)
            return
        root = _root(result)
        self.writes[id(root)] += 1
        if root is not result:
            self.name(root, base_name)
        self.name(result, out_name)

    def write_back(self, view, new_view_name, where):
        """The new value of ``view``'s base after ``view`` was written in place."""
        if self.dynamic:
            raise OnnxExportError(
                "an in-place write into a view cannot be exported with dynamic axes (which "
                "elements it writes depends on the input's shape): write it out of place "
                "(torch.cat, torch.where, masked_fill) or export without dynamic_axes")
        root = view._base
        base_name = self.name_of(root, where)
        return scatter(self.g, base_name, root.shape, storage_positions(root, view),
                       new_view_name)

    def derived_size(self, n, what, where):
        if self.dynamic:
            warnings.warn(
                f"cylayers.onnx.export: {what} (in {where}) has the size {n} computed from a "
                "traced tensor's size; the exported graph keeps it as the constant "
                f"{n}, which will not follow a dynamic axis (write -1 where you can)",
                TracerWarning, stacklevel=user_stacklevel())

    def check_constant_size(self, n, what, where):
        """Warn when a constant size equals a dynamic axis' size here: it will not follow it."""
        if n > 1 and n in self.dynamic_sizes:
            warnings.warn(
                f"cylayers.onnx.export: {what} (in {where}) has the constant size {n}, which "
                f"{self.dynamic_sizes[n]} also has in this trace; the exported graph keeps {n}. "
                "Take sizes that should follow the input from the tensor (x.size(0), "
                "x.shape[0]) or write -1", TracerWarning, stacklevel=user_stacklevel())

