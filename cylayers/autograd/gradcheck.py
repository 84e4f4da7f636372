"""Finite-difference gradient checking in float64."""
import numpy as np

from cylayers._tensor_base import TensorBase


class GradcheckError(RuntimeError):
    pass


def _outputs(fn, inputs):
    out = fn(*inputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o for o in outs if isinstance(o, TensorBase) and o._array.dtype.kind == "f"]


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """Compare backward's Jacobian with central differences ``(f(x+eps) - f(x-eps)) / 2eps``.

    Every input that requires grad must be float64. Returns True, or raises GradcheckError
    naming the input and the worst element (returns False when ``raise_exception=False``).
    """
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    diff_inputs = [(k, t) for k, t in enumerate(inputs)
                   if isinstance(t, TensorBase) and t.requires_grad]
    if not diff_inputs:
        raise ValueError("gradcheck expects at least one input tensor to require gradient")
    for k, t in diff_inputs:
        if t._array.dtype != np.float64:
            raise ValueError(f"gradcheck: input {k} is {t._array.dtype}; gradcheck needs float64 "
                             "inputs for finite differences to be meaningful")
    outs = _outputs(fn, inputs)
    out_sizes = [o._array.size for o in outs]
    n_out = sum(out_sizes)

    # Analytical Jacobian, one vector-Jacobian product per output element.
    analytical = {k: np.zeros((n_out, t._array.size)) for k, t in diff_inputs}
    row = 0
    for oi, size in enumerate(out_sizes):
        for j in range(size):
            for _, t in diff_inputs:
                t.grad = None
            fresh = _outputs(fn, inputs)
            total = None
            for oj, o in enumerate(fresh):
                if not o.requires_grad:
                    continue
                seed = np.zeros(o._array.shape)
                if oj == oi:
                    seed.reshape(-1)[j] = 1.0
                term = (o * TensorBase._make(seed)).sum()
                total = term if total is None else total + term
            if total is not None and total.requires_grad:
                total.backward()
            for k, t in diff_inputs:
                if t.grad is not None:
                    analytical[k][row] = t.grad._array.reshape(-1)
            row += 1
    for _, t in diff_inputs:
        t.grad = None

    # Numerical Jacobian.
    for k, t in diff_inputs:
        flat = t._array.reshape(-1)
        numerical = np.zeros((n_out, flat.size))
        for j in range(flat.size):
            orig = flat[j]
            flat[j] = orig + eps
            plus = np.concatenate([o._array.reshape(-1) for o in _outputs(fn, inputs)] or [[]])
            flat[j] = orig - eps
            minus = np.concatenate([o._array.reshape(-1) for o in _outputs(fn, inputs)] or [[]])
            flat[j] = orig
            numerical[:, j] = (plus - minus) / (2 * eps)
        a = analytical[k]
        bad = ~np.isclose(a, numerical, rtol=rtol, atol=atol, equal_nan=True)
        if bad.any():
            r, c = np.argwhere(bad)[0]
            msg = (f"Jacobian mismatch for output {r} with respect to input {k} element {c}: "
                   f"analytical {a[r, c]!r} vs numerical {numerical[r, c]!r}\n"
                   f"max abs difference {np.max(np.abs(a - numerical)):.3g}")
            if raise_exception:
                raise GradcheckError(msg)
            return False
    return True
