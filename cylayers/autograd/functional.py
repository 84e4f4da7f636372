"""``torch.autograd.functional``: vjp, jacobian and jvp from reverse-mode passes (one per
output element for the Jacobian). Higher-order ones (hessian, hvp, vhp) would need the
backward pass on the tape, which cylayers does not record: they raise."""
import numpy as np

from cylayers._tensor_base import TensorBase
from cylayers.autograd.api import grad as _grad


def _as_tuple(x):
    return (x, False) if isinstance(x, tuple) else ((x,), True)


def _prepare(inputs):
    return tuple(i.detach().requires_grad_(True) for i in inputs)


def _refuse_create_graph(create_graph, name):
    if create_graph:
        raise NotImplementedError(f"{name}(create_graph=True): cylayers does not record the "
                                  f"backward pass, so the result cannot be differentiated again")


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J): the vector-Jacobian product."""
    _refuse_create_graph(create_graph, "vjp")
    inputs, single = _as_tuple(inputs)
    inputs = _prepare(inputs)
    outputs = func(*inputs)
    outs, single_out = _as_tuple(outputs)
    if v is None:
        if any(o.numel() != 1 for o in outs):
            raise RuntimeError("The vector v can only be None if the user-provided function "
                               "returns a single Tensor with a single element.")
        v = tuple(TensorBase._make(np.ones(o.shape, o._array.dtype)) for o in outs)
    vs, _ = _as_tuple(v)
    grads = _grad(outs, inputs, vs, allow_unused=True)
    grads = tuple(g if g is not None else TensorBase._make(np.zeros(i.shape, i._array.dtype))
                  for g, i in zip(grads, inputs))
    outs = tuple(o.detach() for o in outs)
    return (outs[0] if single_out else outs), (grads[0] if single else grads)


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """d func(inputs) / d inputs, one backward pass per output element; the result's shape is
    output.shape + input.shape (nested tuples for several outputs or inputs)."""
    _refuse_create_graph(create_graph, "jacobian")
    if strategy != "reverse-mode":
        raise NotImplementedError(f"jacobian(strategy={strategy!r}) is not supported by "
                                  f"cylayers; it computes reverse-mode Jacobians")
    inputs, single_in = _as_tuple(inputs)
    inputs = _prepare(inputs)
    outs, single_out = _as_tuple(func(*inputs))
    table = []
    for out in outs:
        rows = [np.zeros(tuple(out.shape) + tuple(i.shape), dtype=i._array.dtype)
                for i in inputs]
        flat = out.reshape(-1)
        for k in range(flat.shape[0]):
            gs = _grad([flat[k]], inputs, retain_graph=True, allow_unused=True)
            for row, g in zip(rows, gs):
                if g is not None:
                    row.reshape((flat.shape[0],) + row.shape[out.dim():])[k] = g._array
        table.append(tuple(TensorBase._make(r) for r in rows))
    if single_out:
        return table[0][0] if single_in else table[0]
    return tuple(t[0] if single_in else t for t in table)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v): the Jacobian-vector product, from the full Jacobian."""
    _refuse_create_graph(create_graph, "jvp")
    inputs_t, single_in = _as_tuple(inputs)
    if v is None:
        if any(i.numel() != 1 for i in inputs_t):
            raise RuntimeError("The vector v can only be None if the input to the user-provided "
                               "function is a single Tensor with a single element.")
        v = tuple(TensorBase._make(np.ones(i.shape, i._array.dtype)) for i in inputs_t)
    vs, _ = _as_tuple(v)
    outs, single_out = _as_tuple(func(*[i.detach() for i in inputs_t]))
    jac = jacobian(func, inputs_t)
    jac = jac if not single_out else (jac,)
    results = []
    for o, row in zip(outs, jac):
        total = np.zeros(o.shape, dtype=o._array.dtype)
        for j, vi in zip(row, vs):
            n_in = vi.dim()
            total = total + np.tensordot(j._array, vi._array, axes=n_in) if n_in else \
                total + j._array * vi._array
        results.append(TensorBase._make(np.asarray(total, dtype=o._array.dtype)))
    outs = tuple(o.detach() for o in outs)
    return (outs[0] if single_out else outs), (results[0] if single_out else tuple(results))


def _second_order(name):
    def fn(*args, **kwargs):
        raise NotImplementedError(f"autograd.functional.{name}: second derivatives need the "
                                  f"backward pass on the tape, which cylayers does not record")
    fn.__name__ = name
    return fn


hessian, hvp, vhp = _second_order("hessian"), _second_order("hvp"), _second_order("vhp")
