"""L-BFGS, step for step as PyTorch's torch.optim.LBFGS: each step(closure) runs up to max_iter
iterations of the two-loop recursion over the last history_size curvature pairs, with a fixed
step (lr; the first one scaled by the gradient's size) or a strong-Wolfe line search.

All parameters are handled as one flat vector (one parameter group, as PyTorch requires)."""
import numpy as np

from cylayers._tensor import writing
from cylayers.autograd.grad_mode import enable_grad, no_grad
from cylayers.optim.optimizer import Optimizer


def _cubic_minimum(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimizer of the cubic through (x1, f1, g1) and (x2, f2, g2), kept in bounds (the
    interval's midpoint when the cubic has no real minimizer)."""
    lo, hi = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    square = d1 * d1 - g1 * g2
    if square >= 0:
        d2 = np.sqrt(square)
        if x1 <= x2:
            x = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            x = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(x, lo), hi)
    return (lo + hi) / 2.0


def _strong_wolfe(evaluate, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9,
                  max_ls=25):
    """A step t along d meeting the strong Wolfe conditions (sufficient decrease, curvature):
    bracketing with cubic extrapolation, then zooming with cubic interpolation. ``evaluate(x,
    t, d)`` returns (loss, flat gradient) at x + t d. Returns (f, g, t, evaluations)."""
    d_norm = np.abs(d).max()
    g = g.copy()
    f_new, g_new = evaluate(x, t, d)
    evals, gtd_new = 1, float(g_new @ d)
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done, it = False, 0
    bracket = bracket_f = bracket_g = bracket_gtd = None
    while it < max_ls:
        if f_new > f + c1 * t * gtd or (it > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        # extrapolate: at least a step of 0.01 (t - t_prev) beyond t, at most 10 t
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        tmp = t
        t = _cubic_minimum(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                           bounds=(min_step, max_step))
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new.copy(), gtd_new
        f_new, g_new = evaluate(x, t, d)
        evals += 1
        gtd_new = float(g_new @ d)
        it += 1
    if it == max_ls:  # reached the maximum number of searches: the last two points
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]
    # zoom: shrink the bracket until a point satisfies the conditions
    insufficient_progress = False
    low, high = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and it < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_minimum(bracket[0], bracket_f[0], bracket_gtd[0],
                           bracket[1], bracket_f[1], bracket_gtd[1])
        # a point too near an end makes no progress: move it inside, once in a row
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insufficient_progress or t >= max(bracket) or t <= min(bracket):
                t = max(bracket) - eps if abs(t - max(bracket)) < abs(t - min(bracket)) \
                    else min(bracket) + eps
                insufficient_progress = False
            else:
                insufficient_progress = True
        else:
            insufficient_progress = False
        f_new, g_new = evaluate(x, t, d)
        evals += 1
        gtd_new = float(g_new @ d)
        it += 1
        if f_new > f + c1 * t * gtd or f_new >= bracket_f[low]:
            bracket[high], bracket_f[high] = t, f_new
            bracket_g[high], bracket_gtd[high] = g_new.copy(), gtd_new
            low, high = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:
                bracket[high], bracket_f[high] = bracket[low], bracket_f[low]
                bracket_g[high], bracket_gtd[high] = bracket_g[low], bracket_gtd[low]
            bracket[low], bracket_f[low] = t, f_new
            bracket_g[low], bracket_gtd[low] = g_new.copy(), gtd_new
    t = bracket[low]
    return bracket_f[low], bracket_g[low], t, evals


class LBFGS(Optimizer):
    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, history_size=100, line_search_fn=None):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError("only 'strong_wolfe' is supported")
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                                      tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change,
                                      history_size=history_size,
                                      line_search_fn=line_search_fn))
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    # ---------------------------------------------------------------- the flat vector
    def _flat_grad(self):
        parts = [np.zeros(p._array.size, dtype=p._array.dtype) if p.grad is None
                 else p.grad._array.reshape(-1) for p in self._params]
        return np.concatenate(parts)

    def _add(self, step, direction):
        offset = 0
        for p in self._params:
            with writing(p) as (value,):
                n = value.size
                value += (step * direction[offset:offset + n]).reshape(value.shape) \
                    .astype(value.dtype, copy=False)
            offset += n

    def _values(self):
        return [p._array.copy() for p in self._params]

    def _restore(self, values):
        for p, v in zip(self._params, values):
            with writing(p) as (value,):
                value[...] = v

    def _evaluate(self, closure, x, t, d):
        """Loss and flat gradient at x + t d; the parameters are left at x."""
        self._add(t, d)
        with enable_grad():
            loss = float(closure())
        flat = self._flat_grad()
        self._restore(x)
        return loss, flat

    def step(self, closure):
        """One optimization step: ``closure`` clears the gradients, computes the loss, calls
        backward and returns the loss (it is called several times)."""
        if closure is None:
            raise RuntimeError("LBFGS requires a closure: step(closure) that re-evaluates the "
                               "model and returns the loss")
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        history_size, line_search_fn = group["history_size"], group["line_search_fn"]
        state = self.state.setdefault(self._params[0], {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        self._opt_called = True
        with enable_grad():
            orig_loss = closure()
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        with no_grad():
            flat_grad = self._flat_grad()
            if np.abs(flat_grad).max() <= tolerance_grad:
                return orig_loss
            d, t = state.get("d"), state.get("t")
            old_dirs, old_stps = state.get("old_dirs", []), state.get("old_stps", [])
            ro, H_diag = state.get("ro", []), state.get("H_diag", 1)
            prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")
            n_iter = 0
            while n_iter < max_iter:
                n_iter += 1
                state["n_iter"] += 1
                if state["n_iter"] == 1:
                    d = -flat_grad
                    old_dirs, old_stps, ro, H_diag = [], [], [], 1
                else:
                    y = flat_grad - prev_flat_grad
                    s = d * t
                    ys = float(y @ s)
                    if ys > 1e-10:  # a curvature pair only where it keeps H positive definite
                        if len(old_dirs) == history_size:
                            old_dirs.pop(0)
                            old_stps.pop(0)
                            ro.pop(0)
                        old_dirs.append(y)
                        old_stps.append(s)
                        ro.append(1.0 / ys)
                        H_diag = ys / float(y @ y)
                    # two-loop recursion: d = -H grad
                    q = -flat_grad
                    al = [0.0] * len(old_dirs)
                    for i in range(len(old_dirs) - 1, -1, -1):
                        al[i] = float(old_stps[i] @ q) * ro[i]
                        q = q - al[i] * old_dirs[i]
                    r = q * H_diag
                    for i in range(len(old_dirs)):
                        be_i = float(old_dirs[i] @ r) * ro[i]
                        r = r + old_stps[i] * (al[i] - be_i)
                    d = r
                prev_flat_grad, prev_loss = flat_grad.copy(), loss
                # the first step is scaled down by the gradient's size
                t = min(1.0, 1.0 / np.abs(flat_grad).sum()) * lr if state["n_iter"] == 1 \
                    else lr
                gtd = float(flat_grad @ d)
                if gtd > -tolerance_change:  # not a descent direction any more
                    break
                evals = 0
                if line_search_fn is not None:
                    x = self._values()
                    loss, flat_grad, t, evals = _strong_wolfe(
                        lambda x_, t_, d_: self._evaluate(closure, x_, t_, d_), x, t, d, loss,
                        flat_grad, gtd)
                    self._add(t, d)
                    opt_cond = np.abs(flat_grad).max() <= tolerance_grad
                else:
                    self._add(t, d)
                    opt_cond = False
                    if n_iter != max_iter:  # re-evaluate, except after the last iteration
                        with enable_grad():
                            loss = float(closure())
                        flat_grad = self._flat_grad()
                        opt_cond = np.abs(flat_grad).max() <= tolerance_grad
                        evals = 1
                current_evals += evals
                state["func_evals"] += evals
                if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                    break
                if np.abs(d * t).max() <= tolerance_change:
                    break
                if abs(loss - prev_loss) < tolerance_change:
                    break
            state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=H_diag,
                         prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return orig_loss
