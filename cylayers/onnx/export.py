"""Tracing a forward pass and assembling the ONNX graph."""
import contextlib
import io
import os
import warnings

import numpy as np

from cylayers._stacklevel import user_stacklevel
from cylayers._tensor import Tensor
from cylayers.autograd import tracer as _tracer_slot
from cylayers.autograd.grad_mode import no_grad
from cylayers.nn.modules.module import Module
from cylayers.onnx import ops
from cylayers.onnx.graph import GraphBuilder, OnnxExportError, TracerWarning
from cylayers.onnx.replay import Replay

DEFAULT_OPSET = 22
MIN_OPSET = 21  # GroupNormalization with per-channel scale and bias


def _onnx():
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError:
        raise ImportError("cylayers.onnx.export needs the onnx package: "
                          "pip install 'cylayers[onnx]'") from None
    return onnx, helper, numpy_helper


class _Trace:
    """Every op the forward pass runs, in order, with the module it ran in."""

    def __init__(self, inputs):
        self.calls = []
        self.module_stack = []
        self.traced = {id(t) for t in inputs}  # inputs and every op's output so far
        self.snapshots = {}  # id(tensor) -> (tensor, its array before an in-place write)
        # id(op output) -> arguments its Function never saw: the shape a reshape or expand
        # was asked for ("spec": TracedInts, -1), embedding's max_norm
        self.annotations = {}

    def record(self, cls, args, out):
        self.calls.append((cls, args, out, self.where(), False))
        self.traced.add(id(out))

    def before_inplace(self, target):
        # A tensor made during forward and then written in place (a mask filled in, say)
        # enters the graph as a constant: its value before the first write, not after them.
        root = target._base if target._base is not None else target
        if id(root) not in self.traced and id(root) not in self.snapshots:
            self.snapshots[id(root)] = (root, root._array.copy())

    def leaves_graph(self, tensor, how):
        if id(tensor) in self.traced:
            warnings.warn(f"cylayers.onnx.export: {how} on a traced value (in {self.where()}) "
                          "turns it into a Python value; the exported graph holds it as a "
                          "constant, which will not follow other inputs", TracerWarning,
                          stacklevel=user_stacklevel())

    def record_inplace(self, cls, args, target):
        # An in-place op produces a new value of target: recorded like any op, with target as
        # both its first input and its output (the graph renames the value).
        self.calls.append((cls, args, target, self.where(), True))
        self.traced.add(id(target))

    def where(self):
        return self.module_stack[-1] if self.module_stack else "the model's forward"


def _flatten_outputs(out):
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, dict):
        return [t for v in out.values() for t in _flatten_outputs(v)]
    if isinstance(out, (tuple, list)):
        return [t for v in out for t in _flatten_outputs(v)]
    raise OnnxExportError(f"model output of type {type(out).__name__} cannot be exported: "
                          "return Tensors, or tuples / lists / dicts of them")


def _elem_type(onnx, dtype):
    from onnx import helper
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


@contextlib.contextmanager
def _tracing(model, trace):
    """Record ops while the model runs in eval mode, with the module path of each op."""
    handles = []
    if isinstance(model, Module):
        names = {id(m): (n or type(model).__name__) for n, m in model.named_modules()}
        for m in model.modules():
            label = f"{names[id(m)]} ({type(m).__name__})"
            handles.append(m.register_forward_pre_hook(  # hooks return None: nothing replaced
                lambda mod, args, label=label: trace.module_stack.append(label)))
            handles.append(m.register_forward_hook(
                lambda mod, args, out: trace.module_stack.pop() and None))
    previous = _tracer_slot.state.active
    _tracer_slot.state.active = trace
    try:
        yield
    finally:
        _tracer_slot.state.active = previous
        for h in handles:
            h.remove()


def export(model, args, f, export_params=True, verbose=False, input_names=None,
           output_names=None, opset_version=None, dynamic_axes=None, do_constant_folding=True,
           training=None, **unused):
    """Trace ``model(*args)`` once in eval mode and write it as an ONNX model to ``f`` (a path
    or a binary file object). Returns the onnx.ModelProto."""
    onnx, helper, numpy_helper = _onnx()
    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    if opset < MIN_OPSET:
        raise OnnxExportError(f"opset_version={opset}: cylayers exports with opset "
                              f">= {MIN_OPSET} (GroupNormalization with per-channel scale)")
    if not export_params:
        raise OnnxExportError("export_params=False is not supported: parameters are stored "
                              "as initializers")
    args = args if isinstance(args, tuple) else (args,)
    inputs = [a for a in args if isinstance(a, Tensor)]
    input_names = list(input_names or [f"input_{i}" for i in range(len(inputs))])
    if len(input_names) != len(inputs):
        raise OnnxExportError(f"{len(input_names)} input_names for {len(inputs)} tensor inputs")

    modules = list(model.modules()) if hasattr(model, "modules") else []
    was_training = [m.training for m in modules]
    if any(was_training):
        warnings.warn("cylayers.onnx.export: the model is in training mode; it is exported in "
                      "eval mode (dropout off, BatchNorm with running statistics), like "
                      "torch.onnx.export's default", UserWarning, stacklevel=2)
    for m in modules:
        m.training = False
    trace = _Trace(inputs)
    try:
        with no_grad(), _tracing(model, trace):
            out = model(*args)
    finally:
        for m, flag in zip(modules, was_training):
            m.training = flag

    dynamic_axes = dynamic_axes or {}
    g = GraphBuilder(helper, numpy_helper, opset)
    replay = Replay(g, trace, dynamic_axes, dict(zip(input_names, inputs)))
    state = model.state_dict(keep_vars=True) if hasattr(model, "state_dict") else {}
    for name, t in state.items():
        if t is not None:
            g.const(t._array, name=name)
            replay.name(t, name)
    for name, t in zip(input_names, inputs):
        replay.name(t, name)
    for cls, call_args, result, where, inplace in trace.calls:
        replay.op(ops.EXPORTERS.get(cls), cls, call_args, result, where, inplace)

    outputs = _flatten_outputs(out)
    output_names = list(output_names or [f"output_{i}" for i in range(len(outputs))])
    if len(output_names) != len(outputs):
        raise OnnxExportError(f"{len(output_names)} output_names for {len(outputs)} outputs")
    for t, name in zip(outputs, output_names):
        g.nodes.append(helper.make_node("Identity", [replay.name_of(t, "the model's output")],
                                        [name], name=g.fresh("Identity_output")))

    used = {name for node in g.nodes for name in node.input}
    g.initializers = [i for i in g.initializers if i.name in used]  # e.g. num_batches_tracked
    graph = helper.make_graph(g.nodes, type(model).__name__,
                              [_value_info(helper, n, t, dynamic_axes)
                               for n, t in zip(input_names, inputs)],
                              [_value_info(helper, n, t, dynamic_axes)
                               for n, t in zip(output_names, outputs)],
                              initializer=g.initializers)
    if dynamic_axes:
        _declare_inferred_output_shapes(onnx, graph, opset, dynamic_axes)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="cylayers")
    proto.ir_version = min(proto.ir_version, 10)  # what current ONNX Runtime releases read
    onnx.checker.check_model(proto, full_check=True)
    if hasattr(f, "write"):
        f.write(proto.SerializeToString())
    else:
        with open(os.fspath(f), "wb") as fh:
            fh.write(proto.SerializeToString())
    if verbose:
        print(helper.printable_graph(proto.graph))
    return proto


def _value_info(helper, name, t, dynamic_axes):
    axes = dynamic_axes.get(name, {})
    axes = axes if isinstance(axes, dict) else {a: f"{name}_dim{a}" for a in axes}
    shape = [axes.get(i, d) for i, d in enumerate(t.shape)]
    return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(t._array.dtype),
                                         shape)


def _declare_inferred_output_shapes(onnx, graph, opset, dynamic_axes):
    """Outputs whose shapes follow a dynamic input axis are declared with ONNX's inferred
    symbolic dims (ONNX Runtime warns on every run whose shape differs from a declared one)."""
    from onnx import helper, shape_inference
    probe = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    probe.ir_version = min(probe.ir_version, 10)
    for out in probe.graph.output:
        if out.name not in dynamic_axes:
            out.type.tensor_type.ClearField("shape")
    inferred = shape_inference.infer_shapes(probe, data_prop=True).graph
    known = {v.name: v for v in list(inferred.value_info) + list(inferred.output)}
    for out in graph.output:
        if out.name in dynamic_axes:
            continue
        declared = out.type.tensor_type.shape.dim
        found = known.get(out.name)
        dims = found.type.tensor_type.shape.dim if found is not None and \
            found.type.tensor_type.HasField("shape") else []
        for i, d in enumerate(declared):
            symbolic = dims[i].dim_param if i < len(dims) and len(dims) == len(declared) \
                else ""
            inferred_value = dims[i].dim_value if i < len(dims) and \
                len(dims) == len(declared) else 0
            if symbolic:
                d.Clear()
                d.dim_param = symbolic
            elif not inferred_value:  # unknown to inference: do not promise the traced size
                d.Clear()
                d.dim_param = f"{out.name}_dim{i}"


def to_bytes(model, args, **kwargs):
    """The exported model as bytes (for tests and in-memory sessions)."""
    buf = io.BytesIO()
    export(model, args, buf, **kwargs)
    return buf.getvalue()
