"""A generated sweep of cylayers' public functions and Tensor methods against PyTorch, in the
spirit of PyTorch's OpInfo: one table of ops (TABLE, at the bottom), each expanded into cases of
calling form (function, method, in-place method) x dtype (float32, float64, int32, int64, uint8,
bool) x shape (0-d, empty, plain, broadcast, transposed, negative dims) x forward and gradient.

Each case runs in both libraries on the same numbers and compares: whether it raises (PyTorch
refusing means cylayers must refuse too), the result's type, dtype, shape and values (exact for
integers and booleans, NaN where PyTorch has NaN), and the gradient of every float input for a
random upstream gradient. Adding an entry to TABLE adds its cases.

    python tests/ops/op_sweep.py            # size and pass rate, failures grouped by op
"""
import itertools
import os
import sys
from dataclasses import dataclass, field

import numpy as np
import torch

import cylayers

FLOATS = ("float32", "float64")
INTS = ("int32", "int64", "uint8")
ALL = FLOATS + INTS + ("bool",)
NUMERIC = FLOATS + INTS

# Shapes: a string entry "T:(4, 3)" means a tensor of that shape transposed into a
# non-contiguous view (3, 4) before the op; it is the leaf that receives the gradient.
UNARY_SHAPES = [(), (0, 3), (3, 4), "T:(4, 3)", (2, 3, 4)]
BINARY_SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((), (3, 4)), ((3, 4), ()),
                 ((2, 1, 4), (3, 1)), ((0, 4), (4,)), ("T:(4, 3)", (3, 4))]
MIXED_SHAPES = [((3, 4), (3, 4)), ((), (3, 4)), ((3, 4), ())]
MIXED_PAIRS = [("float32", "float64"), ("float64", "float32"), ("float32", "int64"),
               ("int64", "float32"), ("int32", "int64"), ("uint8", "int32"), ("bool", "int32"),
               ("bool", "float32"), ("uint8", "bool"), ("int32", "float64")]
SCALARS = [2, 1.5, True, -3]
REDUCE_SHAPES = [(), (0, 3), (3, 4), "T:(4, 3)", (2, 3, 4)]


@dataclass
class Op:
    """One public op. ``call(L, *tensors, **kw)`` runs it with library L (torch or cylayers);
    ``kind`` picks the generated shapes and arguments; ``domain`` the input values."""
    name: str
    call: object
    kind: str
    dtypes: tuple = ALL
    domain: str = "normal"
    grad: bool = True
    kwargs: list = field(default_factory=lambda: [{}])
    forms: tuple = ("function", "method")
    inplace: bool = False
    special_values: bool = True
    tol: float = 1.0
    reflected: bool = False  # an operator: also run with the number on the left


@dataclass
class Case:
    op: Op
    form: str
    dtypes: tuple
    shapes: tuple
    kwargs: dict
    scalar: object = None
    scalar_first: bool = False
    special: bool = False

    @property
    def id(self):
        shape_text = "|".join(str(s).replace(" ", "") for s in self.shapes)
        extra = ""
        if self.scalar is not None:
            extra = f"-scalar{'L' if self.scalar_first else 'R'}{self.scalar!r}"
        if self.kwargs:
            extra += "-" + ",".join(f"{k}={v}" for k, v in self.kwargs.items())
        if self.special:
            extra += "-special"
        return f"{self.op.name}-{self.form}-{'/'.join(self.dtypes)}-{shape_text}{extra}"


# ---------------------------------------------------------------------------------------------
# inputs

SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0])


def _values(shape, dtype, domain, rng, special=False):
    if special:
        return SPECIAL.astype(dtype)
    size = int(np.prod(shape)) if shape else 1
    if dtype == "bool":
        return (rng.random(shape) > 0.5) if shape else np.bool_(rng.random() > 0.5)
    if domain == "distinct":  # no ties: sort, topk, median, max's index are then unique
        flat = rng.permutation(size).astype(np.float64) - size // 2
        if dtype in FLOATS:
            flat = flat + rng.random(size) * 0.5
        if dtype == "uint8" and size:
            flat = flat - flat.min()
        return flat.reshape(shape).astype(dtype)
    if domain in ("wellposed", "spd", "sym") and dtype in FLOATS and len(shape) >= 2:
        a = rng.standard_normal(shape)
        n = shape[-1]
        if domain == "wellposed":  # comfortably invertible
            a = a + 3 * np.eye(n)
        elif domain == "spd":
            a = a @ np.swapaxes(a, -1, -2) + n * np.eye(n)
        else:
            a = a + np.swapaxes(a, -1, -2)
        return a.astype(dtype)
    if domain == "sorted":
        return np.sort(_values(shape, dtype, "distinct", rng), axis=-1)
    if dtype in FLOATS and domain == "prob":
        return rng.uniform(0.05, 0.95, shape).astype(dtype)
    if dtype in FLOATS:
        v = rng.standard_normal(shape) * 1.5
        if domain == "positive":
            v = np.abs(v) + 0.5
        elif domain == "unit":
            v = rng.uniform(-0.9, 0.9, shape)
        elif domain == "ge1":
            v = np.abs(v) + 1.1
        elif domain == "nonzero":
            v = np.where(np.abs(v) < 0.3, 0.7, v)
        elif domain == "small":
            v = rng.uniform(-2, 2, shape)
        return np.asarray(v).astype(dtype)
    low, high = (-6, 7) if dtype != "uint8" else (0, 12)
    if domain in ("positive", "ge1", "nonzero"):
        low = 1
    if domain == "shift":
        low, high = 0, 5
    if domain == "sign":
        return np.where(rng.random(shape) > 0.5, 1, -1).astype(dtype)
    if domain == "index":  # valid positions in any dimension of size 3 or more
        low, high = 0, 3
    if domain in ("small", "unit"):
        low, high = (-2, 3) if dtype != "uint8" else (0, 3)
    return rng.integers(low, high, shape).astype(dtype)


def _parse(shape):
    if isinstance(shape, str) and shape.startswith("T:"):
        return eval(shape[2:]), True  # noqa: S307  (a literal tuple from this file's table)
    return shape, False


def _make_inputs(case, seed):
    """Numpy arrays for each tensor operand, and for each whether to transpose it."""
    rng = np.random.default_rng(seed)
    arrays, transposed = [], []
    for i, (shape, dtype) in enumerate(zip(case.shapes, case.dtypes)):
        shape, t = _parse(shape)
        domain = case.op.domain[i] if isinstance(case.op.domain, tuple) else case.op.domain
        arrays.append(np.array(_values(shape, dtype, domain, rng, case.special)))
        transposed.append(t)
    return arrays, transposed


def _leaves(L, arrays, grad_ok):
    leaves = []
    for a in arrays:
        if L is torch:
            x = torch.from_numpy(a.copy())
        else:
            x = cylayers.tensor(a.copy())
        if grad_ok and a.dtype.kind == "f":
            x.requires_grad_(True)
        leaves.append(x)
    return leaves


def _view(x, transposed):
    return x.transpose(-1, -2) if transposed else x


# ---------------------------------------------------------------------------------------------
# running and comparing

def _flatten(result):
    """(path, tensor-or-number) pairs of a result: a tensor, a tuple/list of them, a number."""
    if isinstance(result, (tuple, list)):
        out = []
        for i, r in enumerate(result):
            out += [((i,) + p, v) for p, v in _flatten(r)]
        return out
    return [((), result)]


def _dtype_name(x):
    return str(x.dtype).split(".")[-1]


def _as_numpy(x):
    if isinstance(x, torch.Tensor):
        return x.detach().numpy(force=True)
    if isinstance(x, cylayers.Tensor):
        return np.asarray(x.detach().numpy())
    return np.asarray(x)


def _tolerance(dtype_name, tol):
    if dtype_name == "float32":
        return dict(rtol=2e-5 * tol, atol=2e-5 * tol)
    if dtype_name == "float64":
        return dict(rtol=1e-10 * tol, atol=1e-10 * tol)
    return dict(rtol=0, atol=0)


def _compare(ours, theirs, what, tol, tol_dtype=None):
    problems = []
    flat_o, flat_t = _flatten(ours), _flatten(theirs)
    if len(flat_o) != len(flat_t):
        return [f"{what}: {len(flat_o)} results, PyTorch {len(flat_t)}"]
    if isinstance(theirs, tuple) and hasattr(theirs, "_fields"):
        for name in theirs._fields:
            if not hasattr(ours, name):
                problems.append(f"{what}: no .{name} on the result (PyTorch returns a "
                                f"named tuple)")
    for (path, o), (_, t) in zip(flat_o, flat_t):
        where = f"{what}{list(path) if path else ''}"
        if isinstance(t, torch.Tensor):
            if not isinstance(o, cylayers.Tensor):
                problems.append(f"{where}: {type(o).__name__}, PyTorch a Tensor")
                continue
            if _dtype_name(o) != _dtype_name(t):
                problems.append(f"{where}: dtype {_dtype_name(o)}, PyTorch {_dtype_name(t)}")
            if tuple(o.shape) != tuple(t.shape):
                problems.append(f"{where}: shape {tuple(o.shape)}, PyTorch {tuple(t.shape)}")
                continue
            a, b = _as_numpy(o), _as_numpy(t)
            opts = _tolerance(tol_dtype or _dtype_name(t), tol)
            try:
                if b.dtype.kind == "f":
                    np.testing.assert_allclose(a.astype(b.dtype), b, equal_nan=True, **opts)
                else:
                    np.testing.assert_array_equal(a.astype(b.dtype), b)
            except AssertionError as e:
                lines = [ln for ln in str(e).splitlines() if ln.strip()]
                problems.append(f"{where}: values differ ({'; '.join(lines[1:4])})")
        else:
            if isinstance(o, cylayers.Tensor) or type(o) is not type(t):
                problems.append(f"{where}: {type(o).__name__}, PyTorch {type(t).__name__}")
            elif not (o == t or (isinstance(t, float) and np.isnan(t) and np.isnan(o))):
                if not (isinstance(t, float) and np.isclose(o, t, rtol=1e-5)):
                    problems.append(f"{where}: {o!r}, PyTorch {t!r}")
    return problems


def _run(L, case, arrays, transposed, grad_ok):
    leaves = _leaves(L, arrays, grad_ok)
    operands = [_view(x, t) for x, t in zip(leaves, transposed)]
    if case.scalar is not None:
        operands = [case.scalar] + operands if case.scalar_first else operands + [case.scalar]
    if case.form == "method":
        result = _call_method(L, case.op, operands, case.kwargs)
    elif case.form == "inplace":
        first = operands[0].clone() if isinstance(operands[0], (torch.Tensor,
                                                                 cylayers.Tensor)) else None
        if first is None:
            raise _Skip()
        returned = _call_method(L, case.op, [first] + operands[1:], case.kwargs, suffix="_")
        if returned is not first:
            raise AssertionError("the in-place method did not return its tensor")
        result = first
    else:
        result = case.op.call(L, *operands, **case.kwargs)
    return leaves, result


class _Skip(Exception):
    pass


def _call_method(L, op, operands, kwargs, suffix=""):
    name = op.call if isinstance(op.call, str) else op.name
    return getattr(operands[0], name + suffix)(*operands[1:], **kwargs)


def _backward(leaves, result, seed):
    """Backpropagate sum(result_i * g_i) over float results that need a gradient; the leaves'
    gradients (None where none arrived)."""
    rng = np.random.default_rng(seed)
    total = None
    for _, r in _flatten(result):
        if not isinstance(r, (torch.Tensor, cylayers.Tensor)) or not r.is_floating_point():
            continue
        # drawn for every float result, so both libraries' results get the same gradients
        # whichever of them require grad
        g = rng.standard_normal(tuple(r.shape)).astype(_dtype_name(r))
        if r.requires_grad:
            g = torch.from_numpy(g) if isinstance(r, torch.Tensor) else cylayers.tensor(g)
            term = (r * g).sum()
            total = term if total is None else total + term
    if total is None:
        return None
    total.backward()
    return [x.grad for x in leaves]


def run_case(case, seed=0):
    """The problems of one case, as sentences; [] when cylayers behaves as PyTorch."""
    arrays, transposed = _make_inputs(case, seed)
    grad_ok = case.op.grad and case.form != "inplace"
    try:
        t_leaves, t_result = _run(torch, case, arrays, transposed, grad_ok)
    except _Skip:
        return []
    except Exception as e:  # PyTorch refuses: cylayers must refuse too
        try:
            _run(cylayers, case, arrays, transposed, grad_ok)
        except Exception:
            return []
        return [f"PyTorch raises {type(e).__name__}: {str(e).splitlines()[0][:120]}; "
                f"cylayers returns a result"]
    try:
        o_leaves, o_result = _run(cylayers, case, arrays, transposed, grad_ok)
    except Exception as e:
        return [f"raises {type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"]
    # with a float32 operand PyTorch may round intermediates in float32 (hypot, ldexp)
    problems = _compare(o_result, t_result, "value", case.op.tol,
                        "float32" if "float32" in case.dtypes else None)
    if problems or not grad_ok:
        return problems
    try:
        t_grads = _backward(t_leaves, t_result, seed + 1)
    except Exception:
        return problems  # PyTorch has no gradient here (a non-differentiable op)
    try:
        o_grads = _backward(o_leaves, o_result, seed + 1)
    except Exception as e:
        return [f"backward raises {type(e).__name__}: {str(e).splitlines()[0][:160]}"]
    if t_grads is None:
        return problems
    if o_grads is None:
        return ["no gradient (the result does not require grad)"]
    for i, (go, gt) in enumerate(zip(o_grads, t_grads)):
        if gt is None:
            continue
        if go is None:
            problems.append(f"grad[{i}]: None, PyTorch has one")
            continue
        # a float64 operand of a float32 result gets a gradient computed in float32
        grad_tol = "float32" if "float32" in case.dtypes else None
        problems += _compare(go, gt, f"grad[{i}]", case.op.tol * 5, grad_tol)
    return problems


# ---------------------------------------------------------------------------------------------
# expanding the table into cases

def _has_method(name):
    return hasattr(torch.Tensor, name) and hasattr(cylayers.Tensor, name)


def cases_of(op):
    out = []
    forms = [f for f in op.forms if f == "function" or _has_method(
        op.call if isinstance(op.call, str) else op.name)]
    if op.inplace and _has_method((op.call if isinstance(op.call, str) else op.name) + "_"):
        forms.append("inplace")
    for form, kwargs in itertools.product(forms, op.kwargs):
        if op.kind == "unary":
            for dtype, shape in itertools.product(op.dtypes, UNARY_SHAPES):
                out.append(Case(op, form, (dtype,), (shape,), kwargs))
            if op.special_values:
                for dtype in set(op.dtypes) & set(FLOATS):
                    out.append(Case(op, form, (dtype,), ((10,),), kwargs, special=True))
        elif op.kind == "binary":
            for dtype, shapes in itertools.product(op.dtypes, BINARY_SHAPES):
                out.append(Case(op, form, (dtype, dtype), shapes, kwargs))
            for pair, shapes in itertools.product(MIXED_PAIRS, MIXED_SHAPES):
                if set(pair) <= set(op.dtypes):
                    out.append(Case(op, form, pair, shapes, kwargs))
            for dtype, scalar in itertools.product(op.dtypes, SCALARS):
                out.append(Case(op, form, (dtype,), ((3, 4),), kwargs, scalar=scalar))
                if op.reflected:
                    out.append(Case(op, form, (dtype,), ((3, 4),), kwargs, scalar=scalar,
                                    scalar_first=True))
            if op.special_values:
                for dtype in set(op.dtypes) & set(FLOATS):
                    out.append(Case(op, form, (dtype, dtype), ((10,), (10,)), kwargs,
                                    special=True))
        elif op.kind == "reduce":
            for dtype, shape in itertools.product(op.dtypes, REDUCE_SHAPES):
                out.append(Case(op, form, (dtype,), (shape,), kwargs))
        elif op.kind.removeprefix("shapes:") in SHAPE_SETS:
            key = op.kind.removeprefix("shapes:")
            for dtype, shapes in itertools.product(op.dtypes, SHAPE_SETS[key]):
                dts = tuple(_other_dtype(dtype, key, i) for i, _ in enumerate(shapes))
                out.append(Case(op, form, dts, shapes, kwargs))
        else:
            raise ValueError(op.kind)
    return out


def _other_dtype(dtype, kind, i):
    """Extra operands' dtypes for ops whose other operands are not of the first's dtype."""
    return OTHER_OPERANDS.get(kind, {}).get(i, dtype)


# named shape sets for ops with their own operand layouts
SHAPE_SETS = {
    "matrix": [((3, 4),), ((4, 4),), ((2, 3, 4),), ("T:(4, 3)",), ((0, 3),), ((3,),)],
    "square": [((4, 4),), ((2, 4, 4),), ("T:(4, 4)",), ((0, 0),)],
    "vector": [((5,),), ((0,),), ((),), ((3, 4),)],
    "mm": [((3, 4), (4, 5)), ("T:(4, 3)", (4, 2)), ((0, 4), (4, 2)), ((3, 4), (5, 2))],
    "bmm": [((2, 3, 4), (2, 4, 5)), ((2, 3, 4), (3, 4, 5))],
    "matmul": [((3, 4), (4, 5)), ((4,), (4,)), ((4,), (4, 3)), ((2, 3, 4), (4,)),
               ((2, 1, 3, 4), (5, 4, 2)), ("T:(4, 3)", (4, 2)), ((3, 4), (3, 4))],
    "outer": [((3,), (4,)), ((0,), (2,)), ((3, 1), (2,))],
    "ternary": [((3, 4), (3, 4), (3, 4)), ((3, 4), (4,), ()), ((), (3, 4), (3, 1))],
    "where": [((3, 4), (3, 4), (3, 4)), ((3, 4), (4,), ()), ((2, 1, 4), (3, 1), (4,))],
    "masked": [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 3, 4), (3, 1))],
    "gather": [((3, 4), (3, 2)), ((3, 4), (2, 4)), ((3, 4), (2, 2)), ((4,), (3,))],
    "index1d": [((3, 4), (5,)), ((4,), (2,)), ((3, 4), (0,))],
    "pairs": [((3, 4), (3, 4)), ((2, 3), (4, 3)), ((0, 3), (0, 3))],
    "cdist": [((3, 4), (5, 4)), ((2, 3, 4), (2, 5, 4))],
}
OTHER_OPERANDS = {
    "masked": {1: "bool"},
    "gather": {1: "int64"},
    "index1d": {1: "int64"},
}


# ---------------------------------------------------------------------------------------------
# the table

def _fn(name):
    def call(L, *args, **kwargs):
        return getattr(L, name)(*args, **kwargs)
    call.__name__ = name
    return call


def unary(name, dtypes=ALL, domain="normal", inplace=True, **kw):
    return Op(name, _fn(name), "unary", dtypes=dtypes, domain=domain, inplace=inplace, **kw)


def binary(name, dtypes=ALL, domain="normal", inplace=True, **kw):
    return Op(name, _fn(name), "binary", dtypes=dtypes, domain=domain, inplace=inplace, **kw)


def operator(name, fn, dtypes=ALL, domain="normal", **kw):
    return Op(name, fn, "binary", dtypes=dtypes, domain=domain, forms=("function",),
              reflected=True, **kw)


def reduce(name, kwargs, dtypes=ALL, domain="normal", **kw):
    return Op(name, _fn(name), "reduce", dtypes=dtypes, domain=domain, kwargs=kwargs, **kw)


DIMS = [{}, {"dim": 0}, {"dim": -1}, {"dim": 1, "keepdim": True}]
MULTI_DIMS = DIMS + [{"dim": (0, -1)}, {"dim": (0, 1), "keepdim": True}]
ONE_DIM = [{"dim": 0}, {"dim": -1}, {"dim": 1, "keepdim": True}]
SCAN = [{"dim": 0}, {"dim": -1}]

TABLE = [
    # unary elementwise
    unary("abs"), unary("neg"), unary("negative"),
    unary("sign"), unary("square"), unary("relu", dtypes=NUMERIC),
    unary("exp"), unary("exp2"), unary("expm1"), unary("log", domain="positive"),
    unary("log2", domain="positive"), unary("log10", domain="positive"),
    unary("log1p", domain="positive"), unary("sqrt", domain="positive"),
    unary("rsqrt", domain="positive"), unary("reciprocal", domain="nonzero"),
    unary("sin"), unary("cos"), unary("tan", domain="unit"), unary("sinh"), unary("cosh"),
    unary("tanh"), unary("sigmoid"), unary("erf"),
    unary("asin", domain="unit"), unary("acos", domain="unit"), unary("atan"),
    unary("asinh"), unary("acosh", domain="ge1"), unary("atanh", domain="unit"),
    unary("arcsin", domain="unit"), unary("arccos", domain="unit"), unary("arctan"),
    unary("floor"), unary("ceil"), unary("round"), unary("trunc"), unary("fix"),
    unary("frac", dtypes=FLOATS), unary("isnan", inplace=False, grad=False),
    unary("isinf", inplace=False), unary("isfinite", inplace=False),
    unary("isposinf", dtypes=NUMERIC, inplace=False),
    unary("isneginf", dtypes=NUMERIC, inplace=False),
    unary("logical_not", inplace=False), unary("bitwise_not", dtypes=INTS + ("bool",)),
    unary("nan_to_num"), unary("clone", inplace=False),
    Op("round_decimals", lambda L, x: L.round(x, decimals=1), "unary", dtypes=FLOATS),
    Op("clamp", _fn("clamp"), "unary", kwargs=[{"min": -1, "max": 2}, {"min": 0.5},
                                               {"max": -0.5}], inplace=True, dtypes=NUMERIC),
    Op("clip", _fn("clip"), "unary", kwargs=[{"min": -1, "max": 2}], inplace=True,
       dtypes=NUMERIC),
    Op("clamp_min", "clamp_min", "unary", forms=("method",), kwargs=[{"min": 0.5}],
       dtypes=NUMERIC),
    Op("clamp_max", "clamp_max", "unary", forms=("method",), kwargs=[{"max": 0.5}],
       dtypes=NUMERIC),
    Op("pow_scalar", lambda L, x: L.pow(x, 2), "unary", dtypes=NUMERIC),
    Op("pow_neg_scalar", lambda L, x: L.pow(x, -1), "unary", dtypes=NUMERIC,
       domain="nonzero"),
    Op("pow_half", lambda L, x: x ** 0.5, "unary", dtypes=NUMERIC, domain="positive"),
    Op("rpow", lambda L, x: 2 ** x, "unary", dtypes=NUMERIC),
    Op("float_method", lambda L, x: x.float(), "unary"),
    Op("double_method", lambda L, x: x.double(), "unary"),
    Op("long_method", lambda L, x: x.long(), "unary"),
    Op("int_method", lambda L, x: x.int(), "unary"),
    Op("bool_method", lambda L, x: x.bool(), "unary"),
    Op("to_float64", lambda L, x: x.to(L.float64), "unary"),
    Op("to_int32", lambda L, x: x.to(L.int32), "unary"),
    Op("softmax", _fn("softmax"), "unary", dtypes=FLOATS, kwargs=[{"dim": -1}, {"dim": 0}]),
    Op("log_softmax", _fn("log_softmax"), "unary", dtypes=FLOATS,
       kwargs=[{"dim": -1}, {"dim": 0}]),
    Op("sigmoid_nn", lambda L, x: L.nn.functional.sigmoid(x), "unary", dtypes=FLOATS),

    # binary elementwise and operators
    binary("add"), binary("sub"), binary("mul"),
    binary("div", domain=("normal", "nonzero")),
    binary("true_divide", domain=("normal", "nonzero")),
    binary("floor_divide", domain=("normal", "nonzero"), dtypes=NUMERIC),
    binary("remainder", domain=("normal", "nonzero"), dtypes=NUMERIC),
    binary("fmod", domain=("normal", "nonzero"), dtypes=NUMERIC),
    binary("pow", domain=("positive", "small"), dtypes=NUMERIC),
    binary("atan2", dtypes=NUMERIC), binary("arctan2", dtypes=NUMERIC),
    binary("maximum", inplace=False), binary("minimum", inplace=False),
    binary("copysign", dtypes=NUMERIC), binary("logaddexp", dtypes=FLOATS, inplace=False),
    binary("xlogy", domain=("normal", "positive"), dtypes=NUMERIC),
    binary("eq"), binary("ne"), binary("lt"), binary("le"), binary("gt"), binary("ge"),
    binary("greater"), binary("less_equal"), binary("not_equal"),
    binary("logical_and", inplace=False), binary("logical_or", inplace=False),
    binary("logical_xor", inplace=False),
    binary("bitwise_and", dtypes=INTS + ("bool",)), binary("bitwise_or", dtypes=INTS + ("bool",)),
    binary("bitwise_xor", dtypes=INTS + ("bool",)),
    binary("bitwise_left_shift", dtypes=INTS, domain="shift"),
    binary("bitwise_right_shift", dtypes=INTS, domain="shift"),
    Op("div_trunc", lambda L, a, b: L.div(a, b, rounding_mode="trunc"), "binary",
       dtypes=NUMERIC, domain=("normal", "nonzero")),
    Op("div_floor", lambda L, a, b: L.div(a, b, rounding_mode="floor"), "binary",
       dtypes=NUMERIC, domain=("normal", "nonzero")),
    operator("op_add", lambda L, a, b: a + b), operator("op_sub", lambda L, a, b: a - b),
    operator("op_neg", lambda L, a, b: -a + b),
    operator("op_mul", lambda L, a, b: a * b),
    operator("op_truediv", lambda L, a, b: a / b, domain=("normal", "nonzero")),
    operator("op_floordiv", lambda L, a, b: a // b, dtypes=NUMERIC,
             domain=("normal", "nonzero")),
    operator("op_mod", lambda L, a, b: a % b, dtypes=NUMERIC, domain=("normal", "nonzero")),
    operator("op_pow", lambda L, a, b: a ** b, dtypes=NUMERIC, domain=("positive", "small")),
    operator("op_and", lambda L, a, b: a & b, dtypes=INTS + ("bool",)),
    operator("op_or", lambda L, a, b: a | b, dtypes=INTS + ("bool",)),
    operator("op_xor", lambda L, a, b: a ^ b, dtypes=INTS + ("bool",)),
    operator("op_lshift", lambda L, a, b: a << b, dtypes=INTS, domain="shift"),
    operator("op_rshift", lambda L, a, b: a >> b, dtypes=INTS, domain="shift"),
    operator("op_eq", lambda L, a, b: a == b), operator("op_lt", lambda L, a, b: a < b),
    operator("op_ge", lambda L, a, b: a >= b),

    # reductions and scans
    reduce("sum", MULTI_DIMS), reduce("mean", MULTI_DIMS, dtypes=FLOATS),
    reduce("prod", [{}, {"dim": 0}, {"dim": -1, "keepdim": True}], domain="small"),
    reduce("amax", MULTI_DIMS, domain="distinct"), reduce("amin", MULTI_DIMS, domain="distinct"),
    reduce("max", DIMS, domain="distinct"), reduce("min", DIMS, domain="distinct"),
    reduce("argmax", DIMS, domain="distinct"), reduce("argmin", DIMS, domain="distinct"),
    reduce("std", MULTI_DIMS + [{"dim": 0, "correction": 0}], dtypes=FLOATS),
    reduce("var", MULTI_DIMS + [{"dim": -1, "unbiased": False}], dtypes=FLOATS),
    reduce("std_mean", [{}, {"dim": 0}], dtypes=FLOATS),
    reduce("var_mean", [{}, {"dim": -1, "keepdim": True}], dtypes=FLOATS),
    reduce("logsumexp", [{"dim": 0}, {"dim": -1, "keepdim": True}, {"dim": (0, 1)}],
           dtypes=FLOATS),
    reduce("all", [{}, {"dim": 0}, {"dim": -1, "keepdim": True}]),
    reduce("any", [{}, {"dim": 0}, {"dim": -1, "keepdim": True}]),
    reduce("count_nonzero", [{}, {"dim": 0}, {"dim": (0, -1)}]),
    reduce("norm", [{}, {"p": 1}, {"dim": -1}, {"p": float("inf"), "dim": 0}],
           dtypes=FLOATS),
    # bool: PyTorch refuses it, except an empty one without dim, whose value it leaves
    # unspecified (True in 2.13; the integer dtypes give their smallest value)
    reduce("median", [{}, {"dim": 0}, {"dim": -1, "keepdim": True}], domain="distinct",
           dtypes=NUMERIC),
    Op("median_bool", _fn("median"), "unary", dtypes=("bool",), kwargs=[{"dim": 0}],
       special_values=False),
    reduce("mode", [{}, {"dim": 0}], dtypes=NUMERIC),
    reduce("cumsum", SCAN), reduce("cumprod", SCAN, domain="small"),
    reduce("cummax", SCAN, domain="distinct"), reduce("cummin", SCAN, domain="distinct"),
    reduce("logcumsumexp", SCAN, dtypes=FLOATS),
    reduce("sort", [{}, {"dim": 0}, {"descending": True}], domain="distinct",
           dtypes=NUMERIC),
    reduce("argsort", [{}, {"dim": 0, "descending": True}], domain="distinct",
           dtypes=NUMERIC),
    reduce("msort", [{}], domain="distinct", dtypes=NUMERIC),
    reduce("topk", [{"k": 2}, {"k": 1, "dim": 0}, {"k": 2, "largest": False}],
           domain="distinct", dtypes=NUMERIC),
    reduce("kthvalue", [{"k": 2}, {"k": 1, "dim": 0, "keepdim": True}], domain="distinct",
           dtypes=NUMERIC),
    reduce("diff", [{}, {"dim": 0}, {"n": 2}], dtypes=NUMERIC),

    # shape and indexing
    Op("reshape", lambda L, x: x.reshape(-1), "unary", forms=("function",)),
    Op("reshape_fn", lambda L, x: L.reshape(x, (-1, 1)), "unary", forms=("function",)),
    Op("flatten", _fn("flatten"), "unary", kwargs=[{}, {"start_dim": 1}]),
    Op("unsqueeze", _fn("unsqueeze"), "unary", kwargs=[{"dim": 0}, {"dim": -1}]),
    Op("squeeze", _fn("squeeze"), "unary", kwargs=[{}, {"dim": 0}, {"dim": -1}]),
    Op("flip", _fn("flip"), "unary", kwargs=[{"dims": (0,)}, {"dims": (0, -1)}]),
    Op("roll", _fn("roll"), "unary", kwargs=[{"shifts": 1}, {"shifts": -2, "dims": 0}]),
    Op("t", _fn("t"), "shapes:matrix"),
    Op("transpose", _fn("transpose"), "shapes:matrix", kwargs=[{"dim0": 0, "dim1": -1}]),
    Op("narrow", _fn("narrow"), "shapes:matrix", kwargs=[{"dim": 0, "start": 1,
                                                          "length": 1}]),
    Op("chunk", _fn("chunk"), "shapes:matrix", kwargs=[{"chunks": 2}, {"chunks": 3,
                                                                       "dim": -1}]),
    Op("split", lambda L, x: L.split(x, 2), "shapes:matrix"),
    Op("split_sections", lambda L, x: L.split(x, [1, 2], dim=0), "shapes:matrix"),
    Op("split_method", lambda L, x: x.split(2, dim=-1), "shapes:matrix", forms=("function",)),
    Op("unbind", _fn("unbind"), "shapes:matrix", kwargs=[{}, {"dim": -1}]),
    Op("tril", _fn("tril"), "shapes:matrix", kwargs=[{}, {"diagonal": 1}], inplace=True),
    Op("triu", _fn("triu"), "shapes:matrix", kwargs=[{}, {"diagonal": -1}], inplace=True),
    Op("diag", _fn("diag"), "shapes:vector", kwargs=[{}, {"diagonal": 1}]),
    Op("diag_matrix", lambda L, x: L.diag(x), "shapes:matrix"),
    Op("diagonal", _fn("diagonal"), "shapes:matrix", kwargs=[{}, {"offset": 1},
                                                            {"dim1": -1, "dim2": 0}]),
    Op("diag_embed", _fn("diag_embed"), "shapes:vector", kwargs=[{}, {"offset": -1}]),
    Op("trace", _fn("trace"), "shapes:square"),
    Op("repeat", lambda L, x: x.repeat(2, 1, 3), "shapes:matrix", forms=("function",)),
    Op("repeat_interleave", _fn("repeat_interleave"), "shapes:matrix",
       kwargs=[{"repeats": 2}, {"repeats": 2, "dim": 0}]),
    Op("expand", lambda L, x: x.expand(2, *x.shape), "shapes:matrix", forms=("function",)),
    Op("unfold", "unfold", "shapes:matrix", forms=("method",),
       kwargs=[{"dimension": -1, "size": 2, "step": 1}]),
    Op("unflatten", _fn("unflatten"), "shapes:matrix", kwargs=[{"dim": -1, "sizes": (2, -1)}]),
    Op("cat", lambda L, a, b: L.cat([a, b]), "shapes:pairs", forms=("function",)),
    Op("cat_last", lambda L, a, b: L.cat([a, b], dim=-1), "shapes:pairs",
       forms=("function",)),
    Op("stack", lambda L, a, b: L.stack([a, b], dim=1), "shapes:pairs", forms=("function",)),
    Op("where", lambda L, a, b, c: L.where(c > 0, a, b), "shapes:where",
       forms=("function",)),
    Op("where_scalar", lambda L, a, b: L.where(b > 0, a, 0.5), "shapes:pairs",
       forms=("function",)),
    Op("lerp", _fn("lerp"), "shapes:ternary", dtypes=FLOATS, inplace=True),
    Op("masked_fill", lambda L, x, m: x.masked_fill(m, 2.0), "shapes:masked",
       forms=("function",)),
    Op("masked_select", _fn("masked_select"), "shapes:masked"),
    Op("gather", lambda L, x, i: L.gather(x, -1, i), "shapes:gather",
       domain=("normal", "index")),
    Op("gather_dim0", lambda L, x, i: x.gather(0, i), "shapes:gather",
       domain=("normal", "index"), forms=("function",)),
    Op("index_select", lambda L, x, i: L.index_select(x, 0, i), "shapes:index1d",
       domain=("normal", "index")),
    Op("take_along_index", lambda L, x, i: x[i], "shapes:index1d",
       domain=("normal", "index"), forms=("function",)),
    Op("scatter_add", lambda L, x, i: L.scatter_add(x, 0, i, L.ones_like(i, dtype=x.dtype)),
       "shapes:gather", domain=("normal", "index"), forms=("function",), dtypes=NUMERIC),
    Op("nonzero", _fn("nonzero"), "unary", grad=False),
    Op("argwhere", _fn("argwhere"), "unary", grad=False),
    Op("unique", lambda L, x: L.unique(x, return_counts=True), "unary", grad=False),
    Op("getitem_mixed", lambda L, x: x[1:, None, ..., ::2], "shapes:matrix",
       forms=("function",)),
    Op("getitem_bool", lambda L, x: x[x > 0], "shapes:matrix", forms=("function",)),

    # linear algebra
    Op("mm", _fn("mm"), "shapes:mm", dtypes=NUMERIC),
    Op("matmul", _fn("matmul"), "shapes:matmul", dtypes=NUMERIC),
    Op("op_matmul", lambda L, a, b: a @ b, "shapes:matmul", dtypes=NUMERIC,
       forms=("function",)),
    Op("bmm", _fn("bmm"), "shapes:bmm", dtypes=NUMERIC),
    Op("outer", _fn("outer"), "shapes:outer", dtypes=NUMERIC),
    Op("tensordot", lambda L, a, b: L.tensordot(a, b, dims=1), "shapes:mm", dtypes=FLOATS,
       forms=("function",)),
    Op("einsum", lambda L, a, b: L.einsum("ij,jk->ik", a, b), "shapes:mm", dtypes=NUMERIC,
       forms=("function",)),
    Op("cdist", _fn("cdist"), "shapes:cdist", dtypes=FLOATS, forms=("function",)),
    Op("isclose", _fn("isclose"), "shapes:pairs", grad=False),
    Op("equal", _fn("equal"), "shapes:pairs", grad=False),
]


# ---------------------------------------------------------------------------------------------
# nn.functional and the rest of the Tensor API

SHAPE_SETS.update({
    "activation": [((4, 5),), ((),), ((0, 3),), ("T:(5, 4)",), ((2, 3, 4),)],
    "nc": [((4, 5),), ((2, 3, 4),), ("T:(5, 4)",)],
    "ncl": [((2, 3, 7),), ((1, 2, 9),)],
    "nchw": [((2, 3, 6, 6),), ((1, 2, 5, 7),)],
    "ncdhw": [((1, 2, 4, 4, 4),)],
    "loss": [((4, 5), (4, 5)), ((3,), (3,)), ((2, 3, 4), (2, 3, 4)), ((0, 2), (0, 2))],
    "classes": [((4, 5), (4,)), ((2, 5, 3), (2, 3)), ((5,), ())],
    "linear": [((3, 4), (5, 4), (5,)), ((2, 3, 4), (2, 4), (2,)), ((4,), (3, 4), (3,))],
    "conv1d": [((2, 4, 9), (6, 4, 3), (6,))],
    "conv2d": [((2, 4, 7, 7), (6, 4, 3, 3), (6,))],
    "conv2d_groups": [((2, 4, 7, 7), (6, 2, 3, 3), (6,))],
    "embedding": [((5,), (7, 3)), ((2, 3), (7, 3))],
    "scatter": [((3, 4), (2, 4), (2, 4)), ((4,), (3,), (3,)), ((3, 4), (3, 2), (3, 2))],
    "index_add": [((5, 3), (4,), (4, 3)), ((5,), (2,), (2,))],
    "sorted": [((6,), (4,)), ((2, 6), (2, 3))],
    "masked_scatter": [((3, 4), (3, 4), (12,)), ((3, 4), (4,), (3, 4))],
    "cosine": [((4, 5), (4, 5)), ((3, 5), (1, 5))],
})
OTHER_OPERANDS.update({
    "classes": {1: "int64"}, "embedding": {0: "int64"}, "scatter": {1: "int64"},
    "index_add": {1: "int64"}, "masked_scatter": {1: "bool"},
})


def functional(name, kind="activation", dtypes=FLOATS, kwargs=None, domain="normal", **kw):
    def call(L, *args, **k):
        return getattr(L.nn.functional, name)(*args, **k)
    call.__name__ = name
    return Op("F." + name + kw.pop("suffix", ""), call, kind, dtypes=dtypes, domain=domain,
              kwargs=kwargs or [{}], forms=("function",), **kw)


TABLE += [
    functional(n) for n in ("relu", "relu6", "elu", "selu", "celu", "gelu", "silu", "mish",
                            "softplus", "softsign", "tanhshrink", "logsigmoid", "hardswish",
                            "hardsigmoid", "sigmoid", "tanh")
] + [
    functional("relu", dtypes=INTS, suffix="_int"),
    functional("hardtanh", kwargs=[{}, {"min_val": -0.5, "max_val": 0.3}]),
    functional("leaky_relu", kwargs=[{}, {"negative_slope": 0.2}]),
    functional("elu", kwargs=[{"alpha": 0.5}], suffix="_alpha"),
    functional("celu", kwargs=[{"alpha": 2.0}], suffix="_alpha"),
    functional("gelu", kwargs=[{"approximate": "tanh"}], suffix="_tanh"),
    functional("softplus", kwargs=[{"beta": 2, "threshold": 1}], suffix="_beta"),
    functional("hardshrink", kwargs=[{}, {"lambd": 1.0}]),
    functional("softshrink", kwargs=[{}, {"lambd": 1.0}]),
    functional("threshold", kwargs=[{"threshold": 0.1, "value": -2.0}]),
    functional("softmax", kwargs=[{"dim": -1}, {"dim": 0}], suffix="_F"),
    functional("log_softmax", kwargs=[{"dim": 1}], kind="nc", suffix="_F"),
    functional("softmin", kwargs=[{"dim": -1}], kind="nc"),
    functional("glu", kwargs=[{"dim": -1}], kind="shapes:glu"),
    functional("normalize", kwargs=[{}, {"p": 1.0, "dim": 0}], kind="nc"),
    functional("dropout", kwargs=[{"p": 0.0}, {"training": False}], kind="nc"),
    functional("layer_norm", kwargs=[{"normalized_shape": (5,)}], kind="shapes:ln"),
    functional("group_norm", kwargs=[{"num_groups": 3}], kind="ncl"),
    functional("instance_norm", kind="ncl"),
    Op("F.batch_norm", lambda L, x, **k: L.nn.functional.batch_norm(x, None, None, **k), "ncl",
       dtypes=FLOATS, forms=("function",), kwargs=[{"training": True},
                                                   {"training": True, "momentum": 0.5}]),
    functional("local_response_norm", kwargs=[{"size": 2}], kind="nchw"),
    functional("pad", kwargs=[{"pad": (1, 2)}, {"pad": (1, 1, 0, 2), "mode": "reflect"},
                              {"pad": (2, 0), "mode": "replicate"},
                              {"pad": (1, 1), "mode": "circular"}, {"pad": (-1, 1)}],
               kind="nchw"),
    functional("max_pool1d", kwargs=[{"kernel_size": 2}, {"kernel_size": 3, "stride": 2,
                                                          "padding": 1}], kind="ncl"),
    functional("avg_pool1d", kwargs=[{"kernel_size": 2}, {"kernel_size": 3, "stride": 2,
                                                          "padding": 1,
                                                          "count_include_pad": False}],
               kind="ncl"),
    functional("max_pool2d", kwargs=[{"kernel_size": 2}, {"kernel_size": 3, "stride": 2,
                                                          "padding": 1, "ceil_mode": True},
                                     {"kernel_size": 2, "dilation": 2}], kind="nchw"),
    functional("avg_pool2d", kwargs=[{"kernel_size": 2}, {"kernel_size": 3, "stride": 1,
                                                          "padding": 1, "ceil_mode": True},
                                     {"kernel_size": 2, "divisor_override": 3}], kind="nchw"),
    functional("adaptive_avg_pool1d", kwargs=[{"output_size": 3}], kind="ncl"),
    functional("adaptive_avg_pool2d", kwargs=[{"output_size": 3}, {"output_size": (2, 4)}],
               kind="nchw"),
    functional("adaptive_max_pool2d", kwargs=[{"output_size": 3}], kind="nchw"),
    functional("max_pool3d", kwargs=[{"kernel_size": 2}], kind="ncdhw"),
    functional("avg_pool3d", kwargs=[{"kernel_size": 2}], kind="ncdhw"),
    functional("interpolate", kwargs=[{"scale_factor": 2}, {"size": 4, "mode": "linear"},
                                      {"size": 5, "mode": "linear", "align_corners": True}],
               kind="ncl"),
    functional("interpolate", kwargs=[{"scale_factor": 2}, {"size": (3, 4), "mode": "bilinear"},
                                      {"scale_factor": 1.5, "mode": "bicubic"},
                                      {"size": 4, "mode": "nearest-exact"},
                                      {"size": 3, "mode": "area"}],
               kind="nchw", suffix="_2d"),
    functional("pixel_shuffle", kwargs=[{"upscale_factor": 2}], kind="shapes:shuffle"),
    functional("unfold", kwargs=[{"kernel_size": 2}, {"kernel_size": 3, "padding": 1,
                                                      "stride": 2}], kind="nchw"),
    functional("linear", kind="shapes:linear"),
    functional("conv1d", kind="shapes:conv1d", kwargs=[{}, {"stride": 2, "padding": 1},
                                                       {"padding": "same", "dilation": 2}]),
    functional("conv2d", kind="shapes:conv2d", kwargs=[{}, {"stride": 2, "padding": 1},
                                                       {"padding": "same"}]),
    functional("conv2d", kind="shapes:conv2d_groups", kwargs=[{"groups": 2}],
               suffix="_groups"),
    functional("cosine_similarity", kind="shapes:cosine", kwargs=[{}, {"dim": 0}]),
    functional("pairwise_distance", kind="shapes:cosine", kwargs=[{}, {"p": 1.0}]),
    functional("mse_loss", kind="shapes:loss", kwargs=[{}, {"reduction": "sum"},
                                                       {"reduction": "none"}]),
    functional("l1_loss", kind="shapes:loss", kwargs=[{}, {"reduction": "none"}]),
    functional("smooth_l1_loss", kind="shapes:loss", kwargs=[{}, {"beta": 0.5}]),
    functional("huber_loss", kind="shapes:loss", kwargs=[{}, {"delta": 0.5}]),
    functional("soft_margin_loss", kind="shapes:loss"),
    functional("kl_div", kind="shapes:loss", kwargs=[{"reduction": "batchmean"},
                                                     {"reduction": "sum",
                                                      "log_target": True}]),
    functional("binary_cross_entropy", kind="shapes:loss", domain=("prob", "prob")),
    functional("binary_cross_entropy_with_logits", kind="shapes:loss", domain=("normal", "prob"),
               kwargs=[{}, {"reduction": "sum"}]),
    functional("poisson_nll_loss", kind="shapes:loss", domain=("normal", "positive")),
    functional("gaussian_nll_loss", kind="shapes:loss_var", domain=("normal", "normal",
                                                                    "positive")),
    functional("cross_entropy", kind="shapes:classes", domain=("normal", "index"),
               kwargs=[{}, {"reduction": "sum"}, {"label_smoothing": 0.1},
                       {"ignore_index": 1}, {"reduction": "none"}]),
    functional("nll_loss", kind="shapes:classes", domain=("normal", "index"),
               kwargs=[{}, {"reduction": "none"}, {"ignore_index": 0}]),
    functional("cross_entropy", kind="shapes:loss", domain=("normal", "prob"),
               suffix="_probabilities"),
    functional("embedding", kind="shapes:embedding", domain=("index", "normal"),
               kwargs=[{}, {"padding_idx": 1}]),
    functional("one_hot", kind="shapes:vector", dtypes=("int64",), domain="index",
               kwargs=[{}, {"num_classes": 4}]),
    Op("scatter", lambda L, x, i, v: x.scatter(0, i, v), "shapes:scatter",
       domain=("normal", "index", "normal"), forms=("function",), dtypes=NUMERIC),
    Op("scatter_value", lambda L, x, i, v: x.scatter(-1, i, 2.0), "shapes:scatter",
       domain=("normal", "index", "normal"), forms=("function",), dtypes=FLOATS),
    Op("scatter_add_", lambda L, x, i, v: x.scatter_add(0, i, v), "shapes:scatter",
       domain=("normal", "index", "normal"), forms=("function",), dtypes=NUMERIC),
    Op("scatter_reduce", lambda L, x, i, v, **k: x.scatter_reduce(0, i, v, **k),
       "shapes:scatter", domain=("normal", "index", "normal"), forms=("function",),
       dtypes=NUMERIC, kwargs=[{"reduce": "sum"}, {"reduce": "prod"}, {"reduce": "mean"},
                               {"reduce": "amax"}, {"reduce": "amin", "include_self": False},
                               {"reduce": "mean", "include_self": False}]),
    Op("index_add", lambda L, x, i, v, **k: x.index_add(0, i, v, **k), "shapes:index_add",
       domain=("normal", "index", "normal"), forms=("function",), dtypes=NUMERIC,
       kwargs=[{}, {"alpha": 2}]),
    Op("index_copy", lambda L, x, i, v: x.index_copy(0, i[:1], v[:1]), "shapes:index_add",
       domain=("normal", "index", "normal"), forms=("function",), dtypes=NUMERIC),
    Op("index_fill", lambda L, x, i, v: x.index_fill(0, i, -1), "shapes:index_add",
       domain=("normal", "index", "normal"), forms=("function",), dtypes=NUMERIC),
    Op("masked_scatter", lambda L, x, m, v: x.masked_scatter(m, v), "shapes:masked_scatter",
       forms=("function",), dtypes=NUMERIC),
    Op("searchsorted", lambda L, s, v, **k: L.searchsorted(s, v, **k), "shapes:sorted",
       domain=("sorted", "normal"), forms=("function",), dtypes=NUMERIC, grad=False,
       kwargs=[{}, {"right": True}]),
    Op("bincount", lambda L, x: L.bincount(x), "shapes:vector", dtypes=("int64", "uint8"),
       domain="index", forms=("function",)),
    Op("histc", lambda L, x: L.histc(x, bins=4, min=-2, max=2), "shapes:vector",
       dtypes=FLOATS, forms=("function",)),
    Op("repeat_interleave_tensor", lambda L, x: x.repeat_interleave(L.tensor([1, 0, 2])),
       "shapes:vector", forms=("function",)),
    Op("sum_dtype", lambda L, x: x.sum(dtype=L.float64), "unary"),
    Op("sum_int_result", lambda L, x: x.sum(0), "unary", special_values=False),
    Op("mean_dtype", lambda L, x: x.mean(dtype=L.float64), "unary", dtypes=NUMERIC),
    Op("squeeze_dims", lambda L, x: x.unsqueeze(0).unsqueeze(-1).squeeze((0, -1)), "unary"),
    Op("unique_options", lambda L, x, **k: L.unique(x, **k), "unary", grad=False,
       kwargs=[{"return_inverse": True}, {"sorted": True, "return_counts": True,
                                          "return_inverse": True}]),
    Op("unique_dim", lambda L, x: L.unique(x, dim=0), "shapes:matrix", grad=False),
    Op("nan_to_num_args", lambda L, x: L.nan_to_num(x, nan=1.0, posinf=2.0, neginf=-3.0),
       "unary"),
    Op("where_python", lambda L, x: L.where(x > 0, 1.0, 0), "unary"),
    Op("setitem_slice", lambda L, x: _setitem(x, (slice(1, None), 0), 5), "shapes:matrix",
       forms=("function",)),
    Op("setitem_mask", lambda L, x: _setitem(x, x > 0, 0), "unary", forms=("function",)),
    Op("setitem_tensor", lambda L, x: _setitem(x, (L.tensor([0, 2]),), x[1:2] * 2),
       "shapes:matrix", forms=("function",)),
    Op("index_mixed_advanced", lambda L, x: x[1:, L.tensor([0, 2]), 0:2], "shapes:cube",
       forms=("function",)),
    Op("index_separated_advanced", lambda L, x: x[L.tensor([0, 1]), :, L.tensor([1, 0])],
       "shapes:cube", forms=("function",)),
    Op("index_adjacent_advanced", lambda L, x: x[:, L.tensor([0, 2]), L.tensor([1, 1])],
       "shapes:cube", forms=("function",)),
    Op("index_bool_and_slice", lambda L, x: x[L.tensor([True, False, True]), 1:],
       "shapes:cube", forms=("function",)),
    Op("index_none_ellipsis", lambda L, x: x[None, ..., 1, None], "shapes:cube",
       forms=("function",)),
    Op("index_negative", lambda L, x: x[-1, L.tensor([-1, 0])], "shapes:cube",
       forms=("function",)),
    Op("index_step_slices", lambda L, x: x[::2, 1:3], "shapes:cube", forms=("function",)),
]
SHAPE_SETS.update({
    "glu": [((4, 6),), ((2, 3, 4),)],
    "ln": [((4, 5),), ((2, 3, 5),)],
    "shuffle": [((1, 8, 3, 3),)],
    "loss_var": [((4, 5), (4, 5), (4, 5)), ((4, 5), (4, 5), (4, 1))],
    "cube": [((3, 4, 5),), ("T:(3, 5, 4)",)],
    "bucket": [((3, 4), (5,)), ((6,), (4,))],
})


SHAPE_SETS.update({
    "addmm": [((3, 5), (3, 4), (4, 5)), ((5,), (3, 4), (4, 5)), ((), (3, 4), (4, 5))],
    "addmv": [((3,), (3, 4), (4,)), ((), (3, 4), (4,))],
    "addr": [((3, 4), (3,), (4,)), ((4,), (3,), (4,))],
    "baddbmm": [((2, 3, 5), (2, 3, 4), (2, 4, 5)), ((3, 5), (2, 3, 4), (2, 4, 5))],
    "addbmm": [((3, 5), (2, 3, 4), (2, 4, 5))],
    "mv": [((3, 4), (4,)), ((0, 4), (4,)), ((3, 4), (3,))],
    "dot": [((4,), (4,)), ((0,), (0,)), ((4,), (3,)), ((2, 2), (2, 2))],
    "inner": [((3, 4), (2, 4)), ((4,), (4,)), ((), (3,)), ((2, 3, 4), (4,))],
    "kron": [((2, 3), (3, 2)), ((2,), (3, 2)), ((2, 1, 2), (2, 2))],
    "cross": [((4, 3), (4, 3)), ((3,), (2, 3)), ((3, 5), (3, 5))],
    "stackable": [((3, 4), (3, 4)), ((4,), (4,)), ((), ()), ((2, 3, 4), (2, 3, 4))],
    "square_or_vector": [((4, 4),), ((3, 5),), ((4,),)],
    "rows": [((6, 4),), ((5,),), ((2, 3, 4),)],
    "cov": [((3, 6),), ((5,),), ((1, 4),)],
    "quantile": [((7,),), ((3, 5),), ((2, 3, 4),), ((),)],
})


TABLE += [
    Op("addmm", _fn("addmm"), "shapes:addmm", dtypes=NUMERIC, inplace=True,
       kwargs=[{}, {"beta": 0.5, "alpha": 2}, {"beta": 0}]),
    Op("addmv", _fn("addmv"), "shapes:addmv", dtypes=NUMERIC, kwargs=[{}, {"alpha": 3}]),
    Op("addr", _fn("addr"), "shapes:addr", dtypes=NUMERIC, kwargs=[{}, {"beta": 2}]),
    Op("baddbmm", _fn("baddbmm"), "shapes:baddbmm", dtypes=NUMERIC, inplace=True,
       kwargs=[{}, {"beta": 0.5, "alpha": 0.25}]),
    Op("addbmm", _fn("addbmm"), "shapes:addbmm", dtypes=NUMERIC),
    Op("addcmul", _fn("addcmul"), "shapes:ternary", dtypes=NUMERIC, inplace=True,
       kwargs=[{}, {"value": 0.5}]),
    Op("addcdiv", _fn("addcdiv"), "shapes:ternary", dtypes=NUMERIC, inplace=True,
       domain=("normal", "normal", "nonzero"), kwargs=[{}, {"value": 2}]),
    Op("mv", _fn("mv"), "shapes:mv", dtypes=NUMERIC),
    Op("dot", _fn("dot"), "shapes:dot", dtypes=NUMERIC),
    Op("vdot", _fn("vdot"), "shapes:dot", dtypes=FLOATS),
    Op("inner", _fn("inner"), "shapes:inner", dtypes=NUMERIC),
    Op("kron", _fn("kron"), "shapes:kron", dtypes=NUMERIC),
    Op("cross", lambda L, a, b, **k: L.cross(a, b, **k),
       "shapes:cross", dtypes=NUMERIC, kwargs=[{"dim": -1}, {"dim": 0}]),
    binary("hypot", dtypes=FLOATS), binary("logaddexp2", dtypes=FLOATS, inplace=False),
    binary("fmax", inplace=False, dtypes=NUMERIC), binary("fmin", inplace=False,
                                                         dtypes=NUMERIC),
    binary("float_power", dtypes=NUMERIC, domain=("positive", "small")),
    binary("ldexp", dtypes=FLOATS, domain=("normal", "small")),
    binary("gcd", dtypes=("int32", "int64")), binary("lcm", dtypes=("int32", "int64")),
    binary("nextafter", dtypes=FLOATS, inplace=False),
    binary("heaviside", dtypes=NUMERIC, inplace=False),
    binary("multiply"), binary("subtract", dtypes=NUMERIC),
    unary("deg2rad", dtypes=NUMERIC), unary("rad2deg", dtypes=NUMERIC), unary("sinc"),
    # special values: PyTorch's float32 and float64 kernels disagree on the sign of the
    # gradient at -0.0
    unary("logit", dtypes=FLOATS, domain="prob", special_values=False),
    Op("logit_special", lambda L, x: L.logit(x.abs()), "unary", dtypes=FLOATS),
    unary("erfc"),
    unary("erfinv", dtypes=FLOATS, domain="unit"), unary("signbit", dtypes=NUMERIC,
                                                         inplace=False),
    unary("sgn", dtypes=NUMERIC), unary("positive", inplace=False),
    unary("frexp", dtypes=FLOATS, inplace=False),
    # special values: PyTorch's float32 and float64 kernels disagree on logit(NaN, eps)'s
    # gradient (NaN and 0)
    Op("logit_eps", lambda L, x: L.logit(x, eps=0.1), "unary", dtypes=FLOATS,
       special_values=False),
    Op("clamp_min_fn", lambda L, x: L.clamp_min(x, 0.2), "unary", dtypes=NUMERIC),
    Op("clamp_max_fn", lambda L, x: L.clamp_max(x, 1), "unary", dtypes=NUMERIC),
    Op("movedim", _fn("movedim"), "shapes:cube", kwargs=[{"source": 0, "destination": -1},
                                                        {"source": (0, 1),
                                                         "destination": (2, 0)}]),
    Op("swapaxes", _fn("swapaxes"), "shapes:cube", kwargs=[{"axis0": 0, "axis1": 2}]),
    Op("ravel", _fn("ravel"), "unary", special_values=False),
    Op("tile", _fn("tile"), "shapes:matrix", kwargs=[{"dims": (2,)}, {"dims": (2, 1, 2)}]),
    Op("rot90", _fn("rot90"), "shapes:cube", kwargs=[{}, {"k": 2}, {"k": -1, "dims": (1, 2)}]),
    Op("fliplr", _fn("fliplr"), "shapes:matrix"), Op("flipud", _fn("flipud"), "shapes:matrix"),
    Op("take", lambda L, x: L.take(x, L.tensor([0, -1, 2])), "shapes:matrix"),
    Op("take_along_dim", lambda L, x: L.take_along_dim(x, x.argsort(dim=-1), dim=-1),
       "shapes:matrix", forms=("function",), dtypes=NUMERIC),
    Op("tensor_split", lambda L, x: L.tensor_split(x, 3), "shapes:rows"),
    Op("tensor_split_indices", lambda L, x: L.tensor_split(x, [1, 4]), "shapes:rows"),
    Op("tensor_split_dim", lambda L, x: x.tensor_split(2, dim=-1), "shapes:rows",
       forms=("function",)),
    Op("hsplit", lambda L, x: L.hsplit(x, [1]), "shapes:rows"),
    Op("vsplit", lambda L, x: L.vsplit(x, [1, 2]), "shapes:rows"),
    Op("hstack", lambda L, a, b: L.hstack([a, b]), "shapes:stackable", forms=("function",)),
    Op("vstack", lambda L, a, b: L.vstack([a, b]), "shapes:stackable", forms=("function",)),
    Op("dstack", lambda L, a, b: L.dstack([a, b]), "shapes:stackable", forms=("function",)),
    Op("column_stack", lambda L, a, b: L.column_stack([a, b]), "shapes:stackable",
       forms=("function",)),
    Op("atleast_3d", lambda L, a, b: L.atleast_3d(a, b), "shapes:stackable",
       forms=("function",)),
    Op("broadcast_tensors", lambda L, a, b: L.broadcast_tensors(a, b), "binary",
       forms=("function",), special_values=False),
    Op("select", lambda L, x: L.select(x, 1, -1), "shapes:cube"),
    Op("diagflat", _fn("diagflat"), "shapes:matrix", kwargs=[{}, {"offset": 1}]),
    Op("block_diag", lambda L, a, b: L.block_diag(a, b), "shapes:pairs", forms=("function",)),
    Op("cartesian_prod", lambda L, a, b: L.cartesian_prod(a, b), "shapes:outer",
       forms=("function",)),
    Op("combinations", lambda L, x, **k: L.combinations(x, **k), "shapes:vector",
       kwargs=[{}, {"r": 3}, {"with_replacement": True}]),
    Op("vander", lambda L, x, **k: L.vander(x, **k), "shapes:vector", dtypes=NUMERIC,
       kwargs=[{}, {"N": 3, "increasing": True}]),
    Op("dist", _fn("dist"), "shapes:pairs", dtypes=FLOATS, kwargs=[{}, {"p": 1}]),
    Op("renorm", _fn("renorm"), "shapes:matrix", dtypes=FLOATS,
       kwargs=[{"p": 2, "dim": 0, "maxnorm": 1.0}]),
    reduce("aminmax", [{}, {"dim": 0}, {"dim": -1, "keepdim": True}], domain="distinct",
           dtypes=NUMERIC),
    reduce("nansum", [{}, {"dim": 0}, {"dim": -1, "keepdim": True}]),
    reduce("nanmean", [{}, {"dim": 0}, {"dim": (0, -1), "keepdim": True}], dtypes=FLOATS),
    Op("nansum_nan", lambda L, x, **k: L.nansum(x, **k), "unary", dtypes=FLOATS),
    Op("nanmean_nan", lambda L, x: L.nanmean(x), "unary", dtypes=FLOATS),
    Op("nanmedian", _fn("nanmedian"), "unary", dtypes=FLOATS, kwargs=[{}, {"dim": 0}]),
    Op("quantile", _fn("quantile"), "shapes:quantile", dtypes=FLOATS,
       kwargs=[{"q": 0.3}, {"q": 0.5, "dim": 0, "keepdim": True},
               {"q": 0.75, "dim": -1, "interpolation": "lower"},
               {"q": 0.4, "interpolation": "nearest"}, {"q": 0.6, "interpolation": "midpoint"},
               {"q": 0.25, "dim": 0, "interpolation": "higher"}]),
    Op("quantile_tensor_q", lambda L, x: L.quantile(x, L.tensor([0.1, 0.9], dtype=x.dtype),
                                                      dim=0), "shapes:quantile",
       dtypes=FLOATS, forms=("function",)),
    Op("nanquantile", lambda L, x: L.nanquantile(x, 0.4), "unary", dtypes=FLOATS),
    Op("cov", _fn("cov"), "shapes:cov", dtypes=NUMERIC, kwargs=[{}, {"correction": 0}]),
    Op("corrcoef", _fn("corrcoef"), "shapes:cov", dtypes=FLOATS),
    Op("bucketize", lambda L, x, b, **k: L.bucketize(x, b, **k), "shapes:bucket",
       domain=("normal", "sorted"), dtypes=NUMERIC, forms=("function",), grad=False,
       kwargs=[{}, {"right": True}]),
    Op("trapezoid", lambda L, y, **k: L.trapezoid(y, **k), "unary", dtypes=FLOATS,
       kwargs=[{}, {"dx": 0.5}], special_values=False),
    Op("cumulative_trapezoid", lambda L, y: L.cumulative_trapezoid(y), "unary",
       dtypes=FLOATS, special_values=False),
    Op("unique_consecutive", lambda L, x, **k: L.unique_consecutive(x, **k), "unary",
       grad=False, domain="small", kwargs=[{}, {"return_inverse": True,
                                                "return_counts": True}]),
    Op("unique_consecutive_dim", lambda L, x: L.unique_consecutive(x, dim=0,
                                                                     return_counts=True),
       "shapes:matrix", grad=False, domain="small"),
    Op("diagonal_scatter", lambda L, x: L.diagonal_scatter(x, x.diagonal() * 2),
       "shapes:square"),
    Op("select_scatter", lambda L, x: L.select_scatter(x, x[0] * 2, 0, -1), "shapes:square"),
    Op("slice_scatter", lambda L, x: L.slice_scatter(x, x[:, ::2] * 2, 1, step=2),
       "shapes:square"),
    Op("index_put_accumulate", lambda L, x: x.clone().index_put_(
        (L.tensor([0, 1, 0]),), x[0] * 0 + 1, accumulate=True), "shapes:square",
       forms=("function",), dtypes=NUMERIC),
    Op("fill_diagonal_", lambda L, x: x.clone().fill_diagonal_(3), "shapes:square",
       forms=("function",)),
    Op("sum_to_size", lambda L, x: x.sum_to_size(1, 4) if x.dim() == 2 else x.sum_to_size(1),
       "shapes:matrix", forms=("function",)),
    Op("type_as", lambda L, a, b: a.type_as(b), "shapes:pairs", forms=("function",)),
    Op("eq_", lambda L, a, b: a.clone().eq_(b), "shapes:pairs", forms=("function",),
       grad=False),
    Op("cumsum_", lambda L, x: x.clone().cumsum_(0), "shapes:matrix", forms=("function",),
       dtypes=NUMERIC),
]


# constructions from plain arguments (the generated operand is only a carrier)
SHAPE_SETS["one"] = [((),)]
TABLE += [
    Op(name, call, "shapes:one", dtypes=("float32",), forms=("function",), grad=False)
    for name, call in [
        ("logspace", lambda L, x: L.logspace(0, 2, 5)),
        ("logspace_base", lambda L, x: L.logspace(-1, 1, 4, base=2, dtype=L.float64)),
        ("tril_indices", lambda L, x: L.tril_indices(4, 3, 1)),
        ("triu_indices", lambda L, x: L.triu_indices(3, 5, -1)),
        ("broadcast_shapes", lambda L, x: L.broadcast_shapes((2, 1), (3, 1, 4), (4,))),
        ("is_nonzero", lambda L, x: L.is_nonzero(L.tensor([2.5]))),
        ("unravel_index", lambda L, x: L.unravel_index(L.tensor([0, 7, -1]), (2, 4))),
        ("histogram", lambda L, x: L.histogram(L.tensor([0.1, 0.5, 0.7, 2.0]), bins=3)),
        ("atleast_2d_scalar", lambda L, x: L.atleast_2d(L.tensor(3.0))),
        ("isin", lambda L, x: L.isin(L.tensor([1, 2, 3, 4]), L.tensor([2, 4]))),
        ("isin_invert", lambda L, x: L.isin(L.tensor([1, 2, 3]), L.tensor([2]), invert=True)),
        ("row_stack", lambda L, x: L.row_stack([L.tensor([1, 2]), L.tensor([3, 4])])),
        ("concatenate_axis", lambda L, x: L.concatenate([L.ones(2, 1), L.zeros(2, 2)],
                                                        axis=1)),
        ("fill_diagonal_wrap", lambda L, x: L.zeros(7, 3).fill_diagonal_(5, wrap=True)),
        ("sum_to_size_args", lambda L, x: L.ones(2, 3, 4).sum_to_size(3, 1)),
        ("split_with_sizes", lambda L, x: L.arange(6).split_with_sizes([2, 4])),
        ("byte_char_short", lambda L, x: (L.tensor([1.7, -2.2]).byte(),
                                          L.tensor([1.7]).char(), L.tensor([3.9]).short())),
        ("nbytes_itemsize", lambda L, x: (L.ones(3, 2).nbytes, L.ones(1).itemsize)),
    ]
]


SHAPE_SETS.update({
    "hinge": [((4, 5), (4, 5))], "multi_margin": [((4, 5), (4,)), ((5,), ())],
    "multilabel": [((3, 4), (3, 4))], "triplet": [((4, 5), (4, 5), (4, 5)), ((5,), (5,), (5,))],
    "bilinear": [((3, 4), (3, 5), (2, 4, 5), (2,)), ((2, 3, 4), (2, 3, 5), (6, 4, 5), (6,))],
    "pdist": [((5, 3),), ((1, 3),), ((4, 1),)],
    "rms": [((4, 5), (5,)), ((2, 3, 5), (5,))],
})
OTHER_OPERANDS.update({"multi_margin": {1: "int64"}, "multilabel": {1: "int64"}})


def _multilabel_target(L, t):
    """Targets of multilabel_margin_loss: class indices, -1 ending each row's list."""
    return (t.abs() % 5 - 1).clamp(min=-1, max=3)


TABLE += [
    functional("hinge_embedding_loss", kind="shapes:hinge", domain=("normal", "sign"),
               kwargs=[{}, {"margin": 0.5, "reduction": "none"}]),
    functional("multilabel_soft_margin_loss", kind="shapes:hinge", domain=("normal", "prob"),
               kwargs=[{}, {"reduction": "sum"}]),
    functional("multi_margin_loss", kind="shapes:multi_margin", domain=("normal", "index"),
               kwargs=[{}, {"p": 2, "margin": 0.5}, {"reduction": "none"}]),
    Op("F.multilabel_margin_loss", lambda L, x, t, **k: L.nn.functional.multilabel_margin_loss(
        x, _multilabel_target(L, t), **k), "shapes:multilabel", dtypes=FLOATS,
       forms=("function",), kwargs=[{}, {"reduction": "none"}]),
    functional("triplet_margin_loss", kind="shapes:triplet",
               kwargs=[{}, {"margin": 0.3, "p": 1.0, "swap": True}]),
    functional("triplet_margin_with_distance_loss", kind="shapes:triplet",
               kwargs=[{}, {"swap": True, "reduction": "sum"}]),
    functional("bilinear", kind="shapes:bilinear"),
    functional("pdist", kind="shapes:pdist", kwargs=[{}, {"p": 1.0}]),
    functional("rms_norm", kind="shapes:rms", kwargs=[{"normalized_shape": (5,)},
                                                      {"normalized_shape": (5,), "eps": 0.1}]),
    functional("pixel_unshuffle", kwargs=[{"downscale_factor": 2}], kind="shapes:unshuffle"),
    functional("channel_shuffle", kwargs=[{"groups": 2}], kind="shapes:shuffle"),
    functional("adaptive_max_pool1d", kwargs=[{"output_size": 3},
                                              {"output_size": 2, "return_indices": True}],
               kind="ncl"),
    functional("adaptive_max_pool3d", kwargs=[{"output_size": 2}], kind="ncdhw"),
    functional("lp_pool1d", kwargs=[{"norm_type": 2, "kernel_size": 2}], kind="ncl",
               domain="positive"),
    functional("lp_pool2d", kwargs=[{"norm_type": 3, "kernel_size": 2, "stride": 1}],
               kind="nchw", domain="positive"),
    functional("max_pool2d_with_indices", kwargs=[{"kernel_size": 2}], kind="nchw"),
    functional("upsample_nearest", kwargs=[{"scale_factor": 2}], kind="nchw"),
    functional("upsample_bilinear", kwargs=[{"size": (4, 5)}], kind="nchw"),
    functional("elu_", kind="nc", suffix="_inplace_fn"),
    functional("leaky_relu_", kind="nc", kwargs=[{"negative_slope": 0.3}]),
    functional("rrelu", kind="nc"),
    functional("hardtanh_", kind="nc"),
]
SHAPE_SETS["unshuffle"] = [((1, 2, 4, 6),)]


SHAPE_SETS.update({
    "la_square": [((4, 4),), ((2, 3, 3),), ((0, 2, 2),)],
    "la_tall": [((5, 3),), ((2, 4, 2),)],
    "la_wide": [((3, 5),)],
    "la_solve": [((4, 4), (4, 2)), ((2, 3, 3), (2, 3)), ((2, 3, 3), (3, 1)),
                 ((3, 3), (3,)), ((1, 3, 3), (2, 3, 4))],
})


def _linalg(name, call, kind, domain="normal", **kw):
    return Op("linalg." + name, call, kind, dtypes=FLOATS, domain=domain,
              forms=("function",), **kw)


TABLE += [
    _linalg("inv", lambda L, a: L.linalg.inv(a), "shapes:la_square", domain="wellposed"),
    _linalg("det", lambda L, a: L.linalg.det(a), "shapes:la_square"),
    _linalg("slogdet", lambda L, a: L.linalg.slogdet(a), "shapes:la_square",
            domain="wellposed"),
    _linalg("solve", lambda L, a, b: L.linalg.solve(a, b), "shapes:la_solve",
            domain=("wellposed", "normal")),
    _linalg("solve_right", lambda L, a, b: L.linalg.solve(a, b.transpose(-2, -1), left=False)
            if b.dim() > 1 else L.linalg.solve(a, b), "shapes:la_solve",
            domain=("wellposed", "normal")),
    _linalg("cholesky", lambda L, a: L.linalg.cholesky(a), "shapes:la_square", domain="spd"),
    _linalg("cholesky_upper", lambda L, a: L.linalg.cholesky(a, upper=True),
            "shapes:la_square", domain="spd"),
    # eigenvectors are unique up to sign, and LAPACK builds pick different ones: compared
    # through sign-free quantities (the gradients through them do not depend on the signs)
    _linalg("eigh", lambda L, a: (lambda w, v: (w, v.abs(), (v * w.unsqueeze(-2)) @ v.mT))(
        *L.linalg.eigh(a)), "shapes:la_square", domain="sym"),
    _linalg("eigvalsh_upper", lambda L, a: L.linalg.eigvalsh(a, UPLO="U"), "shapes:la_square",
            domain="sym"),
    _linalg("svd_tall", lambda L, a: L.linalg.svd(a, full_matrices=False), "shapes:la_tall"),
    # a wide matrix's singular vectors come with other signs than PyTorch's LAPACK call gives
    # (both valid): compared through quantities that do not depend on the signs
    _linalg("svd_wide", lambda L, a: (lambda u, s, vh: (s, u @ vh, u.abs()))(
        *L.linalg.svd(a, full_matrices=False)), "shapes:la_wide"),
    _linalg("svdvals", lambda L, a: L.linalg.svdvals(a), "shapes:la_tall"),
    _linalg("qr", lambda L, a: L.linalg.qr(a), "shapes:la_tall"),
    _linalg("pinv", lambda L, a: L.linalg.pinv(a), "shapes:la_tall"),
    _linalg("matrix_power", lambda L, a: L.linalg.matrix_power(a, 3), "shapes:la_square"),
    _linalg("matrix_power_neg", lambda L, a: L.linalg.matrix_power(a, -1), "shapes:la_square",
            domain="wellposed"),
    _linalg("matrix_power_0", lambda L, a: L.linalg.matrix_power(a, 0), "shapes:la_square"),
    _linalg("matrix_exp", lambda L, a: L.linalg.matrix_exp(a), "shapes:la_square"),
    _linalg("solve_triangular", lambda L, a, b: L.linalg.solve_triangular(a, b, upper=False),
            "shapes:la_solve", domain=("wellposed", "normal")),
    _linalg("lstsq", lambda L, a: L.linalg.lstsq(a, a[..., :1] * 2 + 1).solution,
            "shapes:la_tall"),
    _linalg("matrix_rank", lambda L, a: L.linalg.matrix_rank(a), "shapes:la_tall"),
    _linalg("multi_dot", lambda L, a: L.linalg.multi_dot([a, a.transpose(-2, -1), a]),
            "shapes:matrix"),
    _linalg("vecdot", lambda L, a, b: L.linalg.vecdot(a, b), "binary"),
    Op("torch.logdet", lambda L, a: L.logdet(a), "shapes:la_square", dtypes=FLOATS),
    Op("torch.svd", lambda L, a: L.svd(a), "shapes:la_tall", dtypes=FLOATS),
    Op("torch.cholesky_solve", lambda L, a, b: L.cholesky_solve(b, L.linalg.cholesky(a)),
       "shapes:la_solve", dtypes=FLOATS, domain=("spd", "normal"), forms=("function",)),
    Op("torch.cholesky_inverse", lambda L, a: L.cholesky_inverse(L.linalg.cholesky(a)),
       "shapes:la_square", dtypes=FLOATS, domain="spd", forms=("function",)),
]


def _setitem(x, index, value):
    y = x.clone() if x.requires_grad else x.clone()
    y[index] = value
    return y


def all_cases():
    cases = {}
    for op in TABLE:
        for case in cases_of(op):
            cases.setdefault(case.id, case)
    return cases


if __name__ == "__main__":
    import warnings
    warnings.filterwarnings("ignore")
    np.seterr(all="ignore")
    wanted = sys.argv[1:]
    cases = all_cases()
    failures = {}
    for cid, case in cases.items():
        if wanted and case.op.name not in wanted:
            continue
        problems = run_case(case)
        if problems:
            failures.setdefault(case.op.name, []).append((cid, problems))
    total = sum(1 for c in cases.values() if not wanted or c.op.name in wanted)
    failed = sum(len(v) for v in failures.values())
    for name, items in sorted(failures.items()):
        print(f"== {name}: {len(items)} failing")
        for cid, problems in items[:int(os.environ.get("SWEEP_SHOW", "6"))]:
            print(f"   {cid}: {problems[0]}")
    print(f"{total} cases, {total - failed} pass ({100 * (total - failed) / max(total, 1):.1f}%)")
