"""How each cylayers op is written in ONNX: EXPORTERS maps a Function class to a function
(g, names, args, out, ctx) -> the name of the ONNX value holding ``out``.

``names[i]`` is the ONNX value of ``args[i]`` when it is a tensor or array (None for plain
Python arguments); ``out`` is the traced result, for its dtype and shape."""
import numpy as np

from cylayers._ops import activation, arith, indexing, pointwise, reduce, shape, untaped
from cylayers._tensor import DerivedInt, TracedInt
from cylayers.nn.functional.attention import AttentionSoftmax
from cylayers.nn.functional.conv import ConvFn
from cylayers.nn.functional.conv_transpose import ConvTransposeFn
from cylayers.nn.functional.dropout import DropoutFn
from cylayers.nn.functional.embedding import EmbeddingFn
from cylayers.nn.functional.linear import LinearFn
from cylayers.nn.functional.normalization import BlockNormFn, GroupNormFn, LayerNormFn
from cylayers.nn.functional.padding import PadFn, _pairs
from cylayers.nn.functional.pooling import AdaptiveAvgPoolFn, AvgPoolFn, MaxPoolFn
from cylayers.nn.functional.rnn import GRUGates, LSTMGates
from cylayers.nn.modules import _hooks
from cylayers.onnx.graph import GraphBuilder, OnnxExportError, scatter

EXPORTERS = {}


class Context:
    """What an op's exporter may ask beyond its arguments: the replay (ONNX values of other
    tensors, the shapes asked of reshapes) and where the op ran, for messages."""

    def __init__(self, replay, where):
        self.replay, self.where = replay, where
        self.batch_dynamic = replay.batch_dynamic
        self.dynamic = replay.dynamic


def exports(*classes):
    def register(fn):
        for cls in classes:
            EXPORTERS[cls] = fn
        return fn
    return register


def _dtype(out):
    return out._array.dtype


def _operand(g, name, value, dtype):
    """An operand's ONNX value in ``dtype``: its name (cast when the tensor's dtype differs,
    as PyTorch's promotion does implicitly), or a constant for a Python number."""
    if name is None:
        return g.const(np.asarray(value, dtype=dtype))
    arr = value._array if hasattr(value, "_array") else value
    if isinstance(arr, np.ndarray) and arr.dtype != np.dtype(dtype):
        from onnx import helper
        return g.node("Cast", [name], to=helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))
    return name


# ---------------------------------------------------------------- arithmetic
_BINARY = {arith.Add: "Add", arith.Sub: "Sub", arith.Mul: "Mul", arith.Div: "Div",
           arith.MatMul: "MatMul"}


for _cls, _op in _BINARY.items():
    def _make(op):
        def fn(g, names, args, out, ctx):
            dtype = _dtype(out)
            return g.node(op, [_operand(g, names[0], args[0], dtype),
                               _operand(g, names[1], args[1], dtype)])
        return fn
    EXPORTERS[_cls] = _make(_op)


@exports(arith.Neg)
def _neg(g, names, args, out, ctx):
    return g.node("Neg", [names[0]])


@exports(arith.Pow)
def _pow(g, names, args, out, ctx):
    dtype = _dtype(out)
    return g.node("Pow", [_operand(g, names[0], args[0], dtype),
                          _operand(g, names[1], args[1], dtype)])


@exports(arith.Clamp)
def _clamp(g, names, args, out, ctx):
    dtype = _dtype(out)
    lo = "" if args[1] is None else _operand(g, names[1], args[1], dtype)
    hi = "" if args[2] is None else _operand(g, names[2], args[2], dtype)
    return g.node("Clip", [names[0], lo, hi])


@exports(arith.Where)
def _where(g, names, args, out, ctx):
    dtype = _dtype(out)
    return g.node("Where", [names[0], _operand(g, names[1], args[1], dtype),
                            _operand(g, names[2], args[2], dtype)])


_UNARY = {"exp": "Exp", "log": "Log", "sqrt": "Sqrt", "abs": "Abs", "sin": "Sin", "cos": "Cos",
          "tan": "Tan", "asin": "Asin", "acos": "Acos", "atan": "Atan", "sinh": "Sinh",
          "cosh": "Cosh", "asinh": "Asinh", "acosh": "Acosh", "atanh": "Atanh", "erf": "Erf",
          "floor": "Floor", "ceil": "Ceil", "round": "Round", "sign": "Sign",
          "reciprocal": "Reciprocal"}


@exports(pointwise.Unary)
def _unary(g, names, args, out, ctx):
    op, x, dtype = args[1], names[0], _dtype(out)
    if op in _UNARY:
        return g.node(_UNARY[op], [x])
    if op == "rsqrt":
        return g.node("Reciprocal", [g.node("Sqrt", [x])])
    if op == "square":
        return g.node("Mul", [x, x])
    if op == "exp2":
        return g.node("Pow", [g.const(np.asarray(2.0, dtype)), x])
    if op == "expm1":
        return g.node("Sub", [g.node("Exp", [x]), g.const(np.asarray(1.0, dtype))])
    if op == "log1p":
        return g.node("Log", [g.node("Add", [x, g.const(np.asarray(1.0, dtype))])])
    if op in ("log2", "log10"):
        base = np.log(2.0 if op == "log2" else 10.0)
        return g.node("Div", [g.node("Log", [x]), g.const(np.asarray(base, dtype))])
    raise OnnxExportError(f"the elementwise function {op!r} has no ONNX form here")


@exports(pointwise.Lerp)
def _lerp(g, names, args, out, ctx):
    dtype = _dtype(out)
    start, end, weight = (_operand(g, n, a, dtype) for n, a in zip(names, args))
    return g.node("Add", [start, g.node("Mul", [weight, g.node("Sub", [end, start])])])


# ---------------------------------------------------------------- outside the tape
_ELEMENTWISE = {"equal": "Equal", "less": "Less", "less_equal": "LessOrEqual",
                "greater": "Greater", "greater_equal": "GreaterOrEqual",
                "logical_and": "And", "logical_or": "Or", "logical_xor": "Xor",
                "bitwise_and": "And", "bitwise_or": "Or", "bitwise_xor": "Xor"}
_BITWISE_INTS = {"bitwise_and": "BitwiseAnd", "bitwise_or": "BitwiseOr",
                 "bitwise_xor": "BitwiseXor"}


def _cast_to(g, name, dtype):
    from onnx import helper
    return g.node("Cast", [name], to=helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))


@exports(untaped.Elementwise)
def _untaped_elementwise(g, names, args, out, ctx):
    a, b, op = args
    if op == "logical_not":
        x = names[0] if a._array.dtype == bool else _cast_to(g, names[0], bool)
        return g.node("Not", [x])
    arrays = [v._array if hasattr(v, "_array") else np.asarray(v) for v in (a, b)]
    logical = op.startswith("logical_") or (op in _BITWISE_INTS and out._array.dtype == bool)
    common = np.dtype(bool) if logical else (
        out._array.dtype if op in _BITWISE_INTS else np.result_type(*arrays))
    operands = []
    for name, value, arr in zip(names[:2], (a, b), arrays):
        if name is None:
            operands.append(g.const(np.asarray(value, dtype=common)))
        else:
            operands.append(name if arr.dtype == common else _cast_to(g, name, common))
    if op == "not_equal":
        return g.node("Not", [g.node("Equal", operands)])
    if op in _BITWISE_INTS and not logical:
        return g.node(_BITWISE_INTS[op], operands)
    if op not in _ELEMENTWISE:
        raise OnnxExportError(f"the elementwise op {op!r} has no ONNX form here")
    return g.node(_ELEMENTWISE[op], operands)


@exports(untaped.ArgExtreme)
def _arg_extreme(g, names, args, out, ctx):
    a, dim, keepdim, fn = args
    op = "ArgMax" if fn == "argmax" else "ArgMin"
    if dim is None:  # over the flattened tensor
        flat = g.node("Reshape", [names[0], g.int64s([-1])])
        return g.node(op, [flat], axis=0, keepdims=0)
    axis = dim % a._array.ndim if a._array.ndim else 0
    return g.node(op, [names[0]], axis=axis, keepdims=int(keepdim))


# ---------------------------------------------------------------- reductions
def _axes(g, dims):
    return [g.int64s(dims)] if dims else []


def _reduction(op):
    def fn(g, names, args, out, ctx):
        a, dim, keepdim = args
        dims = reduce.norm_dims(dim, a._array.ndim)
        return g.node(op, [names[0]] + _axes(g, dims), keepdims=int(keepdim))
    return fn


EXPORTERS[reduce.Sum] = _reduction("ReduceSum")
EXPORTERS[reduce.Mean] = _reduction("ReduceMean")


@exports(reduce.MaxAll)
def _max_all(g, names, args, out, ctx):
    return g.node("ReduceMin" if args[1] else "ReduceMax", [names[0]], keepdims=0)


@exports(reduce.MaxDim)
def _max_dim(g, names, args, out, ctx):
    a, dim, keepdim, use_min = args
    dims = reduce.norm_dims(dim, a._array.ndim)
    return g.node("ReduceMin" if use_min else "ReduceMax", [names[0]] + _axes(g, dims),
                  keepdims=int(keepdim))


@exports(reduce.AmaxAmin)
def _amax(g, names, args, out, ctx):
    a, dims, keepdim, use_min = args
    return g.node("ReduceMin" if use_min else "ReduceMax", [names[0]] + _axes(g, dims),
                  keepdims=int(keepdim))


@exports(reduce.LogSumExp)
def _logsumexp(g, names, args, out, ctx):
    a, dims, keepdim = args
    return g.node("ReduceLogSumExp", [names[0]] + _axes(g, dims), keepdims=int(keepdim))


@exports(reduce.CumSum)
def _cumsum(g, names, args, out, ctx):
    return g.node("CumSum", [names[0], g.const(np.asarray(args[1], np.int64))])


# ---------------------------------------------------------------- shape and memory
def _keep_batch(shape_out, shape_in, ctx):
    """A reshape target with the batch dim written as 0 (copy the input's), so a dynamic batch
    axis stays dynamic, when the batch dim is carried through unchanged."""
    target = list(shape_out)
    if ctx.batch_dynamic and target and shape_in and target[0] == shape_in[0]:
        target[0] = 0
    return target


@exports(shape.Reshape)
def _reshape(g, names, args, out, ctx):
    a = args[0]
    spec = ctx.replay.trace.annotations.get(id(out), {}).get("spec")
    if spec is None:  # a reshape inside cylayers' own code
        return g.node("Reshape", [names[0], g.int64s(_keep_batch(out.shape, a.shape, ctx))])
    return g.node("Reshape", [names[0], _shape_value(g, spec, "view/reshape", ctx)])


def _shape_value(g, spec, what, ctx):
    """A 1-D int64 ONNX value for a shape as asked: a size read from a graph tensor (a
    TracedInt) becomes that tensor's Shape at run time, anything else a constant."""
    pieces, constants = [], []
    for n in spec:
        source = n.source if isinstance(n, TracedInt) else None
        if isinstance(n, DerivedInt) and ctx.replay.is_graph_value(n.source[0]):
            ctx.replay.derived_size(int(n), what, ctx.where)
        if source is not None and ctx.replay.is_graph_value(source[0]):
            if constants:
                pieces.append(g.int64s(constants))
                constants = []
            tensor, dim = source
            pieces.append(g.node("Shape", [ctx.replay.name_of(tensor, ctx.where)], start=dim,
                                 end=dim + 1))
        else:
            ctx.replay.check_constant_size(int(n), what, ctx.where)
            constants.append(int(n))
    if constants:
        pieces.append(g.int64s(constants))
    return pieces[0] if len(pieces) == 1 else g.node("Concat", pieces, axis=0)


@exports(shape.Permute)
def _permute(g, names, args, out, ctx):
    return g.node("Transpose", [names[0]], perm=list(args[1]))


@exports(shape.Expand)
def _expand(g, names, args, out, ctx):
    a, target = args
    spec = ctx.replay.trace.annotations.get(id(out), {}).get("spec", target)
    in_shape = (1,) * (len(target) - a._array.ndim) + tuple(a._array.shape)
    # 1 where the input already has the size: Expand broadcasts, so such dims stay dynamic;
    # a size read from a graph tensor stays tied to it.
    dims = [t if isinstance(t, TracedInt) and ctx.replay.is_graph_value(t.source[0])
            else 1 if (t == -1 or i == t) else t for i, t in zip(in_shape, spec)]
    return g.node("Expand", [names[0], _shape_value(g, dims, "expand", ctx)])


@exports(shape.GetItem)
def _getitem(g, names, args, out, ctx):
    a, index = args
    items = index if isinstance(index, tuple) else (index,)
    if any(isinstance(i, (np.ndarray, list)) or hasattr(i, "_array") for i in items):
        if len(items) == 1 and np.asarray(items[0]).dtype.kind in "iu":
            return g.node("Gather", [names[0], g.const(np.asarray(items[0], np.int64))],
                          axis=0)
        raise OnnxExportError("advanced (array) indexing beyond one integer array is not "
                              "exportable")
    n_real = sum(1 for i in items if i is not None and i is not Ellipsis)
    if sum(1 for i in items if i is Ellipsis) > 1:
        raise OnnxExportError("more than one Ellipsis in an index")
    expanded = []
    for i in items:
        if i is Ellipsis:
            expanded += [slice(None)] * (a._array.ndim - n_real)
        else:
            expanded.append(i)
    starts, ends, axes, steps, squeeze, unsqueeze = [], [], [], [], [], []
    dim = 0
    out_dim = 0
    for i in expanded:
        if i is None:
            unsqueeze.append(out_dim)
            out_dim += 1
            continue
        size = a.shape[dim]
        if isinstance(i, (int, np.integer)):
            k = int(i) % size
            starts.append(k)
            ends.append(k + 1)
            axes.append(dim)
            steps.append(1)
            squeeze.append(dim)
        else:
            start, stop, step = i.indices(size)
            if (start, stop, step) != (0, size, 1):
                starts.append(start)
                ends.append(stop if step > 0 or stop >= 0 else -(2 ** 62))
                axes.append(dim)
                steps.append(step)
            out_dim += 1
        dim += 1
    value = names[0]
    if axes:
        value = g.node("Slice", [value, g.int64s(starts), g.int64s(ends), g.int64s(axes),
                                 g.int64s(steps)])
    if squeeze:
        value = g.node("Squeeze", [value, g.int64s(squeeze)])
    if unsqueeze:
        value = g.node("Unsqueeze", [value, g.int64s(unsqueeze)])
    return value if value != names[0] else g.node("Identity", [value])


@exports(shape.SetItem)
def _setitem(g, names, args, out, ctx):
    target, index, value = args
    if ctx.dynamic:
        raise OnnxExportError("an indexed assignment cannot be exported with dynamic axes "
                              "(which elements it writes depends on the input's shape): write "
                              "it out of place (torch.where, masked_fill, torch.cat) or export "
                              "without dynamic_axes")
    plain = tuple(i._array if hasattr(i, "_array") else i for i in
                  (index if isinstance(index, tuple) else (index,)))
    positions = np.arange(target._array.size, dtype=np.int64).reshape(target.shape)[plain]
    positions = np.asarray(positions)
    if np.unique(positions).size != positions.size:
        raise OnnxExportError("an indexed assignment that writes an element twice has no "
                              "ONNX form here")
    dtype = target._array.dtype
    updates = _operand(g, names[2], value, dtype)
    if isinstance(value, np.ndarray) or hasattr(value, "_array"):
        if np.asarray(value._array if hasattr(value, "_array") else value).dtype != dtype:
            from onnx import helper
            updates = g.node("Cast", [updates], to=helper.np_dtype_to_tensor_dtype(dtype))
    updates = g.node("Expand", [updates, g.int64s(positions.shape or (1,))])
    return scatter(g, names[0], target.shape, positions, updates)


@exports(shape.Cast)
def _cast(g, names, args, out, ctx):
    from onnx import helper
    return g.node("Cast", [names[0]], to=helper.np_dtype_to_tensor_dtype(np.dtype(args[1])))


@exports(shape.Clone, _hooks._OutputHook, _hooks._InputHook)
def _identity(g, names, args, out, ctx):
    return g.node("Identity", [names[0]])


@exports(shape.Cat)
def _cat(g, names, args, out, ctx):
    return g.node("Concat", names[1:], axis=int(args[0]))


@exports(shape.Stack)
def _stack(g, names, args, out, ctx):
    axis = g.int64s([int(args[0])])
    return g.node("Concat", [g.node("Unsqueeze", [n, axis]) for n in names[1:]],
                  axis=int(args[0]))


@exports(indexing.IndexSelect)
def _index_select(g, names, args, out, ctx):
    return g.node("Gather", [names[0], names[2]], axis=int(args[1]))


@exports(indexing.Gather)
def _gather(g, names, args, out, ctx):
    return g.node("GatherElements", [names[0], names[2]], axis=int(args[1]))


@exports(indexing.MaskedFill)
def _masked_fill(g, names, args, out, ctx):
    value = _operand(g, names[2], args[2], _dtype(out))
    return g.node("Where", [names[1], value, names[0]])


@exports(indexing.Repeat)
def _repeat(g, names, args, out, ctx):
    a, repeats = args
    value = names[0]
    if len(repeats) > a._array.ndim:
        value = g.node("Reshape", [value, g.int64s((1,) * (len(repeats) - a._array.ndim)
                                                   + tuple(a.shape))])
    return g.node("Tile", [value, g.int64s(repeats)])


@exports(indexing.Triangle)
def _triangle(g, names, args, out, ctx):
    return g.node("Trilu", [names[0], g.const(np.asarray(args[1], np.int64))],
                  upper=int(args[2]))


@exports(indexing.Einsum)
def _einsum(g, names, args, out, ctx):
    equation = args[0].replace(" ", "")
    if "->" not in equation:
        letters = equation.replace(",", "")
        equation += "->" + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    return g.node("Einsum", names[1:], equation=equation)


@exports(PadFn)
def _pad(g, names, args, out, ctx):
    x, pad, mode, value = args
    widths = _pairs(pad, x._array.ndim)
    pads = [b for b, _ in widths] + [a for _, a in widths]
    onnx_mode = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
                 "circular": "wrap"}[mode]
    inputs = [names[0], g.int64s(pads)]
    if mode == "constant":
        inputs.append(g.const(np.asarray(value, _dtype(out))))
    return g.node("Pad", inputs, mode=onnx_mode)


@exports(EmbeddingFn)
def _embedding(g, names, args, out, ctx):
    rows = g.node("Gather", [names[0], names[1]], axis=0)
    renorm = ctx.replay.trace.annotations.get(id(out))
    if renorm is None:
        return rows
    # max_norm: PyTorch rescales each looked-up row whose norm exceeds it before the lookup
    # (in the weight itself); the graph rescales the rows it gathers the same way.
    dtype, p = _dtype(out), float(renorm["norm_type"])
    last = g.int64s([-1])
    if p == 2.0:
        norm = g.node("ReduceL2", [rows, last], keepdims=1)
    elif p == 1.0:
        norm = g.node("ReduceL1", [rows, last], keepdims=1)
    else:
        power = g.const(np.asarray(p, dtype))
        total = g.node("ReduceSum", [g.node("Pow", [g.node("Abs", [rows]), power]), last],
                       keepdims=1)
        norm = g.node("Pow", [total, g.const(np.asarray(1.0 / p, dtype))])
    max_norm = g.const(np.asarray(renorm["max_norm"], dtype))
    scale = g.node("Div", [max_norm, g.node("Add", [norm, g.const(np.asarray(1e-7, dtype))])])
    scale = g.node("Where", [g.node("Greater", [norm, max_norm]), scale,
                             g.const(np.asarray(1.0, dtype))])
    return g.node("Mul", [rows, scale])


# ---------------------------------------------------------------- layers
@exports(LinearFn)
def _linear(g, names, args, out, ctx):
    x, weight, bias = args
    if x._array.ndim == 2:
        inputs = [names[0], names[1]] + ([names[2]] if bias is not None else [])
        return g.node("Gemm", inputs, transB=1)
    y = g.node("MatMul", [names[0], g.node("Transpose", [names[1]], perm=[1, 0])])
    return g.node("Add", [y, names[2]]) if bias is not None else y


def _window_attrs(geom):
    return dict(kernel_shape=list(geom.kernel), strides=list(geom.stride),
                pads=list(geom.pad_before) + list(geom.pad_after))


@exports(ConvFn)
def _conv(g, names, args, out, ctx):
    x, weight, bias, geom, groups = args
    inputs = [names[0], names[1]] + ([names[2]] if bias is not None else [])
    return g.node("Conv", inputs, dilations=list(geom.dilation), group=int(groups),
                  **_window_attrs(geom))


@exports(ConvTransposeFn)
def _conv_transpose(g, names, args, out, ctx):
    x, weight, bias, geom, groups = args
    inputs = [names[0], names[1]] + ([names[2]] if bias is not None else [])
    # geom describes the convolution this one transposes: its input is our output
    output_padding = [o - ((i - 1) * s - 2 * p + d * (k - 1) + 1) for o, i, s, p, d, k in zip(
        out.shape[2:], x.shape[2:], geom.stride, geom.pad_before, geom.dilation, geom.kernel)]
    return g.node("ConvTranspose", inputs, dilations=list(geom.dilation), group=int(groups),
                  kernel_shape=list(geom.kernel), strides=list(geom.stride),
                  pads=list(geom.pad_before) + list(geom.pad_after),
                  output_padding=output_padding)


@exports(MaxPoolFn)
def _max_pool(g, names, args, out, ctx):
    geom = args[1]
    return g.node("MaxPool", [names[0]], dilations=list(geom.dilation),
                  ceil_mode=int(geom.ceil_mode), **_window_attrs(geom))


@exports(untaped.MaxPoolIndices)
def _max_pool_indices(g, names, args, out, ctx):
    x, geom = args
    _, flat = g.node("MaxPool", [names[0]], n_outputs=2, dilations=list(geom.dilation),
                     ceil_mode=int(geom.ceil_mode), **_window_attrs(geom))
    # ONNX counts positions over the whole tensor, PyTorch within each (sample, channel) plane
    plane = int(np.prod(x.shape[2:]))
    return g.node("Mod", [flat, g.const(np.asarray(plane, np.int64))])


@exports(AvgPoolFn)
def _avg_pool(g, names, args, out, ctx):
    x, geom, count_include_pad, divisor_override = args
    if divisor_override is not None:
        raise OnnxExportError("avg_pool with divisor_override has no ONNX form")
    return g.node("AveragePool", [names[0]], count_include_pad=int(count_include_pad),
                  ceil_mode=int(geom.ceil_mode), **_window_attrs(geom))


@exports(AdaptiveAvgPoolFn)
def _adaptive_avg_pool(g, names, args, out, ctx):
    x, out_spatial = args
    in_spatial = x.shape[-len(out_spatial):]
    if all(o == 1 for o in out_spatial):
        value = g.node("GlobalAveragePool", [names[0]]) if x._array.ndim == len(
            out_spatial) + 2 else None
        if value is not None:
            return value
    if all(i % o == 0 for i, o in zip(in_spatial, out_spatial)) and \
            x._array.ndim == len(out_spatial) + 2:
        k = [i // o for i, o in zip(in_spatial, out_spatial)]
        return g.node("AveragePool", [names[0]], kernel_shape=k, strides=k)
    raise OnnxExportError(f"adaptive average pooling from {tuple(in_spatial)} to "
                          f"{tuple(out_spatial)} needs windows of unequal sizes, which ONNX "
                          "cannot express (an output size dividing the input size can)")


# ---------------------------------------------------------------- activations
def _simple(op):
    def fn(g, names, args, out, ctx):
        return g.node(op, [names[0]])
    return fn


EXPORTERS[activation.ReLUFn] = _simple("Relu")
EXPORTERS[activation.SigmoidFn] = _simple("Sigmoid")
EXPORTERS[activation.TanhFn] = _simple("Tanh")
EXPORTERS[activation.MishFn] = _simple("Mish")


@exports(activation.HardtanhFn)
def _hardtanh(g, names, args, out, ctx):
    dtype = _dtype(out)
    return g.node("Clip", [names[0], g.const(np.asarray(args[1], dtype)),
                           g.const(np.asarray(args[2], dtype))])


@exports(activation.LeakyReLUFn)
def _leaky_relu(g, names, args, out, ctx):
    return g.node("LeakyRelu", [names[0]], alpha=float(args[1]))


@exports(activation.ELUFn)
def _elu(g, names, args, out, ctx):
    x, alpha, scale, input_scale = args
    if scale == 1.0 and input_scale == 1.0:
        return g.node("Elu", [names[0]], alpha=float(alpha))
    if input_scale == 1.0:
        return g.node("Selu", [names[0]], alpha=float(alpha), gamma=float(scale))
    if scale == 1.0 and abs(input_scale * alpha - 1.0) < 1e-12:
        return g.node("Celu", [names[0]], alpha=float(alpha))
    raise OnnxExportError("an ELU variant with these parameters has no ONNX form")


@exports(activation.GELUFn)
def _gelu(g, names, args, out, ctx):
    return g.node("Gelu", [names[0]], approximate="tanh" if args[1] else "none")


@exports(activation.SiLUFn)
def _silu(g, names, args, out, ctx):
    return g.node("Mul", [names[0], g.node("Sigmoid", [names[0]])])


@exports(activation.HardswishFn)
def _hardswish(g, names, args, out, ctx):
    return g.node("HardSwish", [names[0]])


@exports(activation.HardsigmoidFn)
def _hardsigmoid(g, names, args, out, ctx):
    return g.node("HardSigmoid", [names[0]], alpha=1.0 / 6.0, beta=0.5)


@exports(activation.SoftplusFn)
def _softplus(g, names, args, out, ctx):
    x, beta, threshold = args
    dtype = _dtype(out)
    scaled = names[0]
    if beta != 1.0:
        b = g.const(np.asarray(beta, dtype))
        scaled = g.node("Mul", [names[0], b])
    soft = g.node("Softplus", [scaled])
    if beta != 1.0:
        soft = g.node("Div", [soft, b])
    # Above the threshold PyTorch returns x itself (beta * x > threshold).
    linear = g.node("Greater", [scaled, g.const(np.asarray(threshold, dtype))])
    return g.node("Where", [linear, names[0], soft])


@exports(activation.PReLUFn)
def _prelu(g, names, args, out, ctx):
    x, weight = args
    slope = names[1]
    if x._array.ndim >= 2 and weight.shape[0] > 1:  # one slope per channel (dim 1)
        slope = g.node("Reshape", [slope, g.int64s([weight.shape[0]] + [1] * (x._array.ndim
                                                                           - 2))])
    return g.node("PRelu", [names[0], slope])


@exports(activation.SoftmaxFn)
def _softmax(g, names, args, out, ctx):
    x, dim, log_output = args
    axis = dim % max(x._array.ndim, 1) if x._array.ndim else 0
    return g.node("LogSoftmax" if log_output else "Softmax", [names[0]], axis=axis)


@exports(DropoutFn)
def _dropout(g, names, args, out, ctx):
    raise OnnxExportError("dropout was applied with training=True inside forward; an exported "
                          "model is an inference model (call dropout with "
                          "training=self.training)")


# ---------------------------------------------------------------- normalization
def _affine(g, name, value, n, dtype, fill):
    return name if value is not None else g.const(np.full(n, fill, dtype=dtype))


@exports(BlockNormFn)
def _block_norm(g, names, args, out, ctx):
    x, weight, bias, layout, eps, stats = args
    c, dtype = layout.c, _dtype(out)
    scale = _affine(g, names[1], weight, c, dtype, 1.0)
    shift = _affine(g, names[2], bias, c, dtype, 0.0)
    group_kind = len(layout.grouped) == 3
    if not stats.from_batch:  # running statistics: the same per-channel affine for any kind
        running = [g.const(np.asarray(v).reshape(c)) for v in (stats.mean, stats.var)]
        return g.node("BatchNormalization", [names[0], scale, shift] + running,
                      epsilon=float(eps))
    if group_kind:
        return g.node("GroupNormalization", [names[0], scale, shift],
                      num_groups=int(layout.grouped[1]), epsilon=float(eps))
    if layout.axes == ():  # instance statistics
        return g.node("InstanceNormalization", [names[0], scale, shift], epsilon=float(eps))
    # batch statistics in an inference graph (track_running_stats=False): computed there
    axes = [0] + list(range(2, x._array.ndim))
    mean = g.node("ReduceMean", [names[0], g.int64s(axes)], keepdims=1)
    centered = g.node("Sub", [names[0], mean])
    var = g.node("ReduceMean", [g.node("Mul", [centered, centered]), g.int64s(axes)],
                 keepdims=1)
    std = g.node("Sqrt", [g.node("Add", [var, g.const(np.asarray(eps, dtype))])])
    shape = g.int64s([1, c] + [1] * (x._array.ndim - 2))
    y = g.node("Div", [centered, std])
    y = g.node("Mul", [y, g.node("Reshape", [scale, shape])])
    return g.node("Add", [y, g.node("Reshape", [shift, shape])])


@exports(GroupNormFn)
def _group_norm(g, names, args, out, ctx):
    x, weight, bias, num_groups, eps = args
    c, dtype = x.shape[1], _dtype(out)
    scale = _affine(g, names[1], weight, c, dtype, 1.0)
    shift = _affine(g, names[2], bias, c, dtype, 0.0)
    if num_groups == c and x._array.ndim > 2:
        return g.node("InstanceNormalization", [names[0], scale, shift], epsilon=float(eps))
    return g.node("GroupNormalization", [names[0], scale, shift], num_groups=int(num_groups),
                  epsilon=float(eps))


@exports(LayerNormFn)
def _layer_norm(g, names, args, out, ctx):
    x, weight, bias, row_len, param_ndim, eps = args
    normalized = tuple(x.shape[x._array.ndim - param_ndim:])
    dtype = _dtype(out)
    scale = names[1] if weight is not None else g.const(np.ones(normalized, dtype))
    inputs = [names[0], scale] + ([names[2]] if bias is not None else [])
    return g.node("LayerNormalization", inputs, axis=-int(param_ndim), epsilon=float(eps))


# ---------------------------------------------------------------- attention and recurrent
@exports(AttentionSoftmax)
def _attention_softmax(g, names, args, out, ctx):
    scores, keep, fully_masked_rows_zero = args
    dtype = _dtype(out)
    x = names[0]
    if isinstance(keep, str) and keep == "causal":  # lower triangle of the scores' last dims
        ones = g.node("ConstantOfShape", [g.node("Shape", [x], start=-2)],
                      value=_tensor_proto(np.ones(1, dtype)))
        lower = g.node("Cast", [g.node("Trilu", [ones], upper=0)], to=9)  # 9: BOOL
        x = g.node("Where", [lower, x, g.const(np.asarray(-np.inf, dtype))])
    elif keep is not None:
        x = g.node("Where", [names[1], x, g.const(np.asarray(-np.inf, dtype))])
    p = g.node("Softmax", [x], axis=-1)
    if fully_masked_rows_zero:  # PyTorch's safe softmax: a row with every key masked is 0
        top = g.node("ReduceMax", [x, g.int64s([-1])], keepdims=1)
        empty = g.node("Equal", [top, g.const(np.asarray(-np.inf, dtype))])
        p = g.node("Where", [empty, g.const(np.asarray(0, dtype)), p])
    return p


def _tensor_proto(arr):
    from onnx import numpy_helper
    return numpy_helper.from_array(arr)


def _split(g, name, parts, size):
    return g.node("Split", [name, g.int64s([size] * parts)], n_outputs=parts, axis=1)


@exports(LSTMGates)
def _lstm_gates(g, names, args, out, ctx):
    gates, c_prev = args
    H = c_prev.shape[-1]
    i, f, cell, o = _split(g, names[0], 4, H)
    i, f, o = (g.node("Sigmoid", [v]) for v in (i, f, o))
    c = g.node("Add", [g.node("Mul", [f, names[1]]), g.node("Mul", [i, g.node("Tanh", [cell])])])
    h = g.node("Mul", [o, g.node("Tanh", [c])])
    return g.node("Concat", [h, c], axis=1)


@exports(GRUGates)
def _gru_gates(g, names, args, out, ctx):
    gi, gh, h_prev = args
    H = h_prev.shape[-1]
    i_r, i_z, i_n = _split(g, names[0], 3, H)
    h_r, h_z, h_n = _split(g, names[1], 3, H)
    r = g.node("Sigmoid", [g.node("Add", [i_r, h_r])])
    z = g.node("Sigmoid", [g.node("Add", [i_z, h_z])])
    n = g.node("Tanh", [g.node("Add", [i_n, g.node("Mul", [r, h_n])])])
    return g.node("Add", [n, g.node("Mul", [z, g.node("Sub", [names[2], n])])])


# PyTorch's gate blocks in ONNX's order: LSTM i,f,g,o -> i,o,f,c; GRU r,z,n -> z,r,h
_GATE_ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN_TANH": [0], "RNN_RELU": [0]}


def _reordered(arr, mode):
    blocks = np.split(np.asarray(arr), len(_GATE_ORDER[mode]), axis=0)
    return np.concatenate([blocks[k] for k in _GATE_ORDER[mode]], axis=0)


@exports(untaped.Filled)
def _filled(g, names, args, out, ctx):
    spec, value = args
    return g.node("ConstantOfShape", [_shape_value(g, spec, "a new tensor's size", ctx)],
                  value=_tensor_proto(np.asarray([value], dtype=_dtype(out))))


@exports(untaped.Arange)
def _arange(g, names, args, out, ctx):
    """start + step * (0, 1, ..., count - 1) with count from the run-time size: a CumSum of
    ones, not ONNX's Range (ONNX Runtime's optimizer turned Gather(weight, Range) into a Slice
    it then rejected: 'Starts must be a 1-D array')."""
    start, end, step = args
    if any(isinstance(v, TracedInt) for v in (start, step)) or not isinstance(end, TracedInt):
        raise OnnxExportError("arange exports with only its end read from a tensor's size")
    tensor, dim = end.source
    if not ctx.replay.is_graph_value(tensor):
        return g.const(out._array)
    size = g.node("Shape", [ctx.replay.name_of(tensor, ctx.where)], start=dim, end=dim + 1)
    count = size
    if start != 0 or step != 1:  # ceil((end - start) / step), for a positive step
        if step <= 0:
            raise OnnxExportError("arange with a size read from a tensor exports with a "
                                  "positive step")
        shifted = g.node("Sub", [size, g.int64s([int(start) - int(step) + 1])])
        count = g.node("Div", [shifted, g.int64s([int(step)])])
        count = g.node("Max", [count, g.int64s([0])])
    positions = _positions(g, count)
    if start != 0 or step != 1:
        positions = g.node("Add", [g.node("Mul", [positions, g.int64s([int(step)])]),
                                   g.int64s([int(start)])])
    dtype = _dtype(out)
    return positions if dtype == np.int64 else g.node("Cast", [positions], to=_onnx_type(dtype))


def _positions(g, count):
    """0, 1, ..., count - 1 (int64) for a 1-element int64 count: a CumSum of ones, not
    ONNX's Range (see _arange)."""
    ones = g.node("ConstantOfShape", [count], value=_tensor_proto(np.ones(1, np.int64)))
    return g.node("Sub", [g.node("CumSum", [ones, g.const(np.asarray(0, np.int64))]),
                          g.int64s([1])])


def _step_mask(g, x, lengths, ndim=3):
    """(T, N, 1, ...) booleans, ``ndim`` dimensions: step t of sequence n is within its length
    (x: (T, N, *) time-major)."""
    positions = _positions(g, g.node("Shape", [x], start=0, end=1))
    lengths = g.node("Cast", [lengths], to=_onnx_type(np.int64))
    inside = g.node("Less", [g.node("Unsqueeze", [positions, g.int64s([1])]),
                             g.node("Unsqueeze", [lengths, g.int64s([0])])])
    return g.node("Unsqueeze", [inside, g.int64s(range(2, ndim))]) if ndim > 2 else inside


def _projected_lstm_layer(g, x, directions, h0, c0, mask, dtype, H, P):
    """One layer of an LSTM with proj_size P as a Scan per direction: x (T, N, *) time-major,
    h0 (D, N, P) / c0 (D, N, H) or None, mask (T, N, 1) or None (steps past a sequence's
    length keep its state and output zeros). Returns (T, N, D * P), h_n (D, N, P) and
    c_n (D, N, H)."""
    helper = g.helper
    elem = _onnx_type(dtype)
    outputs, h_last, c_last = [], [], []
    batch = g.node("Shape", [x], start=1, end=2)
    for d, (w_ih, w_hh, b_ih, b_hh, w_hr) in enumerate(directions):
        bias = sum(b._array for b in (b_ih, b_hh) if b is not None)
        projected = g.node("MatMul", [x, g.const(np.ascontiguousarray(w_ih._array.T), dtype)])
        if b_ih is not None or b_hh is not None:
            projected = g.node("Add", [projected, g.const(bias, dtype)])
        states = []
        for init, size in ((h0, P), (c0, H)):
            if init is None:
                shape = g.node("Concat", [batch, g.int64s([size])], axis=0)
                states.append(g.node("ConstantOfShape", [shape],
                                     value=_tensor_proto(np.zeros(1, dtype))))
            else:
                one = g.node("Slice", [init, g.int64s([d]), g.int64s([d + 1]), g.int64s([0])])
                states.append(g.node("Squeeze", [one, g.int64s([0])]))
        body = GraphBuilder(helper, g.numpy_helper, g.opset)
        body.counter = g.counter  # one namespace: a body may not reuse an outer name
        # (its weights are its own initializers: the checker does not look for a body's
        # inputs among the outer graph's)
        h_prev, c_prev, step_in = body.fresh("h_prev"), body.fresh("c_prev"), body.fresh("x_t")
        gates = body.node("Add", [step_in, body.node("MatMul", [
            h_prev, body.const(np.ascontiguousarray(w_hh._array.T), dtype)])])
        i, f, cell, o = body.node("Split", [gates], n_outputs=4, axis=1, num_outputs=4)
        c_new = body.node("Add", [body.node("Mul", [body.node("Sigmoid", [f]), c_prev]),
                                  body.node("Mul", [body.node("Sigmoid", [i]),
                                                    body.node("Tanh", [cell])])])
        h_full = body.node("Mul", [body.node("Sigmoid", [o]), body.node("Tanh", [c_new])])
        h_new = body.node("MatMul", [h_full,
                                     body.const(np.ascontiguousarray(w_hr._array.T), dtype)])
        inputs = [(h_prev, elem, ["N", P]), (c_prev, elem, ["N", H]),
                  (step_in, elem, ["N", 4 * H])]
        results = [h_new, c_new, h_new]
        if mask is not None:
            inside = body.fresh("inside_t")
            inputs.append((inside, _onnx_type(np.bool_), ["N", 1]))
            zero = body.const(np.zeros((), dtype))
            results = [body.node("Where", [inside, h_new, h_prev]),
                       body.node("Where", [inside, c_new, c_prev]),
                       body.node("Where", [inside, h_new, zero])]
        outs = [body.node("Identity", [r]) for r in results]  # names of the body's outputs
        graph = helper.make_graph(
            body.nodes, body.fresh("lstm_step"),
            [helper.make_tensor_value_info(n, kind, shape) for n, kind, shape in inputs],
            [helper.make_tensor_value_info(n, elem, shape) for n, shape in
             zip(outs, (["N", P], ["N", H], ["N", P]))], initializer=body.initializers)
        scanned = [projected] + ([mask] if mask is not None else [])
        reverse = [d] * len(scanned)
        h_n, c_n, y = g.node("Scan", states + scanned, n_outputs=3, body=graph,
                             num_scan_inputs=len(scanned), scan_input_directions=reverse,
                             scan_output_directions=[d])
        outputs.append(y)
        h_last.append(g.node("Unsqueeze", [h_n, g.int64s([0])]))
        c_last.append(g.node("Unsqueeze", [c_n, g.int64s([0])]))
    if len(directions) == 1:
        return outputs[0], h_last[0], c_last[0]
    return (g.node("Concat", outputs, axis=2), g.node("Concat", h_last, axis=0),
            g.node("Concat", c_last, axis=0))


def _first_steps(g, x, count):
    """x's first ``count`` (a 1-element int64 value) entries along axis 0."""
    return g.node("Slice", [x, g.int64s([0]), count, g.int64s([0])])


@exports(untaped.PadPacked)
def _pad_packed(g, names, args, out, ctx):
    """pad_packed_sequence from the packed sequence's padded form: the steps past each length
    set to padding_value, as many steps as the longest sequence (or total_length)."""
    padded, lengths, source_batch_first, batch_first, padding_value, total_length = args
    x, lengths_name = names[0], g.node("Cast", [names[1]], to=_onnx_type(np.int64))
    if source_batch_first:
        x = g.node("Transpose", [x], perm=[1, 0] + list(range(2, padded.ndim)))
    inside = _step_mask(g, x, lengths_name, padded.ndim)
    x = g.node("Where", [inside, x, g.const(np.asarray(padding_value, dtype=_dtype(out)))])
    if total_length is None:
        x = _first_steps(g, x, g.node("ReduceMax", [lengths_name], keepdims=1))
    else:  # exactly total_length steps: cut, then pad what is missing
        x = _first_steps(g, x, g.int64s([total_length]))
        missing = g.node("Sub", [g.int64s([total_length]),
                                 g.node("Shape", [x], start=0, end=1)])
        pads = g.node("Concat", [g.int64s([0] * padded.ndim), missing,
                                 g.int64s([0] * (padded.ndim - 1))], axis=0)
        x = g.node("Pad", [x, pads, g.const(np.asarray(padding_value, dtype=_dtype(out)))])
    if batch_first:
        x = g.node("Transpose", [x], perm=[1, 0] + list(range(2, padded.ndim)))
    return x


def _onnx_type(dtype):
    from onnx import helper
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


@exports(untaped.Recurrent)
def _recurrent(g, names, args, out, ctx):
    x_in, h0, c0, module, which, lengths, batch_first = args
    cache = ctx.replay.cache
    key = ("recurrent", id(module), id(x_in))
    if key not in cache:
        cache[key] = _recurrent_graph(g, names, x_in, module, lengths is not None, batch_first)
    return cache[key][which]


def _recurrent_graph(g, names, x_in, module, packed, batch_first):
    """The module's ONNX ops; ``packed``: x_in is a packed sequence's padded form and names[5]
    its lengths (ONNX's sequence_lens: the steps past each length are not run, their outputs
    zero, the states those of each sequence's last step)."""
    mode = module.mode
    dtype = x_in._array.dtype
    batched = x_in._array.ndim == 3
    x = names[0]
    if not batched:
        x = g.node("Unsqueeze", [x, g.int64s([1])])
    elif batch_first:
        x = g.node("Transpose", [x], perm=[1, 0, 2])
    sequence_lens = g.node("Cast", [names[5]], to=_onnx_type(np.int32)) if packed else ""
    longest = (g.node("ReduceMax", [g.node("Cast", [names[5]], to=_onnx_type(np.int64))],
                      keepdims=1) if packed else None)
    h_init, c_init = names[1], names[2]
    if h_init is not None and not batched:
        h_init = g.node("Unsqueeze", [h_init, g.int64s([1])])
    if c_init is not None and not batched:
        c_init = g.node("Unsqueeze", [c_init, g.int64s([1])])
    D = 2 if module.bidirectional else 1
    H = module.hidden_size
    op = {"LSTM": "LSTM", "GRU": "GRU"}.get(mode, "RNN")
    attrs = dict(hidden_size=H, direction="bidirectional" if D == 2 else "forward")
    if op == "GRU":
        attrs["linear_before_reset"] = 1
    if op == "RNN":
        attrs["activations"] = ["Tanh" if mode == "RNN_TANH" else "Relu"] * D
    gates = len(_GATE_ORDER[mode]) * H
    h_last, c_last = [], []
    weights = module._weights_per_direction()
    if module.proj_size > 0:
        mask = _step_mask(g, x, names[5]) if packed else None
    for layer in range(module.num_layers):
        directions = weights[layer * D:(layer + 1) * D]
        bounds = [g.int64s([layer * D]), g.int64s([(layer + 1) * D]), g.int64s([0])]
        if module.proj_size > 0:  # ONNX's LSTM has no projection: a Scan over the steps
            layer_h0 = g.node("Slice", [h_init] + bounds) if h_init is not None else None
            layer_c0 = g.node("Slice", [c_init] + bounds) if c_init is not None else None
            x, h_n, c_n = _projected_lstm_layer(g, x, directions, layer_h0, layer_c0, mask,
                                                dtype, H, module.proj_size)
            h_last.append(h_n)
            c_last.append(c_n)
            continue
        W = np.stack([_reordered(w[0]._array, mode) for w in directions]).astype(dtype)
        R = np.stack([_reordered(w[1]._array, mode) for w in directions]).astype(dtype)
        B = np.stack([np.concatenate([
            _reordered(w[2]._array, mode) if w[2] is not None else np.zeros(gates, dtype),
            _reordered(w[3]._array, mode) if w[3] is not None else np.zeros(gates, dtype)])
            for w in directions]).astype(dtype)
        inputs = [x, g.const(W), g.const(R), g.const(B), sequence_lens]
        inputs.append(g.node("Slice", [h_init] + bounds) if h_init is not None else "")
        if op == "LSTM":
            inputs.append(g.node("Slice", [c_init] + bounds) if c_init is not None else "")
        while inputs and inputs[-1] == "":
            inputs.pop()
        results = g.node(op, inputs, n_outputs=3 if op == "LSTM" else 2, **attrs)
        y = g.node("Transpose", [results[0]], perm=[0, 2, 1, 3])  # (T, N, D, H)
        x = g.node("Reshape", [y, g.int64s([0, 0, -1])])
        h_last.append(results[1])
        if op == "LSTM":
            c_last.append(results[2])
    output = x
    if packed:  # time-major, as long as the longest sequence (the padded input may be longer)
        output = _first_steps(g, output, longest)
    elif not batched:
        output = g.node("Squeeze", [output, g.int64s([1])])
    elif module.batch_first:
        output = g.node("Transpose", [output], perm=[1, 0, 2])
    states = [g.node("Concat", h_last, axis=0)] if len(h_last) > 1 else [h_last[0]]
    if op == "LSTM":
        states.append(g.node("Concat", c_last, axis=0) if len(c_last) > 1 else c_last[0])
    if not batched:
        states = [g.node("Squeeze", [s, g.int64s([1])]) for s in states]
    return [output] + states
