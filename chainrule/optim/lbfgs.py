"""L-BFGS: a quasi-Newton method that calls a closure to re-evaluate the loss."""

from __future__ import annotations

import copy
import numbers
from collections.abc import Callable, Mapping
from typing import Any

from chainrule.autograd.compile_hooks import replayed_whole
from chainrule.autograd.grad_mode import enable_grad
from chainrule.autograd.tensor import Tensor
from chainrule.backend import xp
from chainrule.optim.optimizer import Optimizer, ParamsT, check_real


class LBFGS(Optimizer):
    r"""L-BFGS (Nocedal & Wright, algorithm 7.4), exactly PyTorch's ``LBFGS``.

    ``step(closure)`` runs up to ``max_iter`` iterations; ``closure()`` must zero the
    gradients, compute the loss, call ``backward()`` and return the loss. With x all parameters
    flattened into one vector and g the gradient at x, each iteration::

        d  = -g                                       (first iteration ever)
        d  = -H g                                     (later: two-loop recursion over the last
                                                       history_size pairs s = x(k+1) - x(k),
                                                       y = g(k+1) - g(k) with yᵀs > 1e-10,
                                                       H0 = yᵀs / yᵀy of the newest pair)
        t  = min(1, 1 / Σ|g|) · lr   on the very first iteration, else  t = lr
        x <- x + t d                                  (line_search_fn=None)
        x <- x + t* d                                 ("strong_wolfe": t* satisfies the strong
                                                       Wolfe conditions, c1 = 1e-4, c2 = 0.9)

    It stops early when max|g| <= tolerance_grad, gᵀd > -tolerance_change, max|t d| <=
    tolerance_change, the loss changes by less than tolerance_change, or after ``max_eval``
    closure calls. The curvature history carries over from one ``step`` to the next.

    Args:
        params: Tensors (one group only: L-BFGS treats all parameters as one vector).
        lr: step length scale (>= 0), 1 by default.
        max_iter: iterations per ``step`` (>= 1). max_eval: closure calls per ``step``
            (default ``max_iter * 5 // 4``). tolerance_grad, tolerance_change: stopping
            thresholds (>= 0). history_size: the number of (s, y) pairs kept (>= 1).
        line_search_fn: None or ``"strong_wolfe"``.

    State (under parameter index 0, as PyTorch keys it by the first parameter): ``func_evals``,
    ``n_iter``, ``d``, ``t``, ``old_dirs`` (the y's), ``old_stps`` (the s's), ``ro`` (1/yᵀs),
    ``H_diag``, ``prev_flat_grad``, ``prev_loss``.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ):
        if isinstance(max_iter, numbers.Integral) and max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(
            lr=lr,
            max_iter=max_iter,
            max_eval=max_eval,
            tolerance_grad=tolerance_grad,
            tolerance_change=tolerance_change,
            history_size=history_size,
            line_search_fn=line_search_fn,
        )
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError(
                "LBFGS doesn't support per-parameter options (parameter groups); pass one list "
                "of parameters"
            )
        self._params: list[Tensor] = self.param_groups[0]["params"]

    def _check_group(self, group: dict[str, Any]) -> None:
        group["lr"] = check_real("LBFGS", "lr", group["lr"])
        for key in ("tolerance_grad", "tolerance_change"):
            group[key] = check_real("LBFGS", key, group[key])
        for key in ("max_iter", "max_eval", "history_size"):
            v = group[key]
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
                raise ValueError(f"LBFGS: {key} must be an integer >= 1, got {v!r}")
            group[key] = int(v)
        if group["line_search_fn"] not in (None, "strong_wolfe"):
            raise ValueError(
                f"LBFGS: line_search_fn must be None or 'strong_wolfe', got "
                f"{group['line_search_fn']!r}"
            )

    # ----- the parameters as one flat vector -----
    def _gather_flat_grad(self) -> xp.ndarray:
        views = []
        for p in self._params:
            g = p.grad
            if g is None:
                views.append(xp.zeros(p._data.size, dtype=p._data.dtype))
            else:
                g = g._data if isinstance(g, Tensor) else xp.asarray(g)
                views.append(xp.asarray(g, dtype=p._data.dtype).reshape(-1))
        return xp.concatenate(views)

    def _add_grad(self, step_size: Any, update: xp.ndarray) -> None:
        offset = 0
        for p in self._params:
            n = p._data.size
            p._data += (step_size * update[offset : offset + n]).reshape(p._data.shape)
            offset += n

    def _clone_param(self) -> list[xp.ndarray]:
        return [p._data.copy() for p in self._params]

    def _set_param(self, params_data: list[xp.ndarray]) -> None:
        for p, x in zip(self._params, params_data):
            p._data[...] = x

    def _directional_evaluate(
        self, closure: Callable[[], Any], x: list[xp.ndarray], t: Any, d: xp.ndarray
    ) -> tuple[float, xp.ndarray]:
        self._add_grad(t, d)
        loss = _as_float(self._call(closure))
        flat_grad = self._gather_flat_grad()
        self._set_param(x)
        return loss, flat_grad

    def _call(self, closure: Callable[[], Any]) -> Any:
        with enable_grad():
            return closure()

    @replayed_whole
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Up to ``max_iter`` L-BFGS iterations; returns the loss of the first ``closure()``."""
        if closure is None:
            raise TypeError(
                "LBFGS.step needs a closure that zeroes the gradients, computes the loss, calls "
                "backward() and returns the loss: opt.step(closure)"
            )
        tolerance_grad = self.param_groups[0]["tolerance_grad"]
        state = self.state.setdefault(0, {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = self._call(closure)
        loss = _as_float(orig_loss)
        state["func_evals"] += 1

        flat_grad = self._gather_flat_grad()
        if not xp.abs(flat_grad).max() <= tolerance_grad:  # NaN iterates, as in PyTorch
            self._iterate(closure, state, loss, flat_grad)
        return orig_loss

    def _iterate(self, closure, state: dict, loss: float, flat_grad: xp.ndarray) -> None:
        """The L-BFGS iterations from the first evaluation (``loss``, ``flat_grad``), until
        ``max_iter``, ``max_eval`` or a tolerance stops them; the history lives in ``state``."""
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_change = group["tolerance_change"]
        current_evals = 1
        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        H_diag = state.get("H_diag")
        prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1
            else:
                H_diag = _remember(old_dirs, old_stps, ro, H_diag, flat_grad - prev_flat_grad,
                                   d * t, group["history_size"])  # fmt: skip
                d = _two_loop(flat_grad, old_dirs, old_stps, ro, H_diag)

            prev_flat_grad = flat_grad.copy()
            prev_loss = loss
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / xp.abs(flat_grad).sum()) * lr
            else:
                t = lr

            gtd = flat_grad.dot(d)
            if gtd > -tolerance_change:  # not a descent direction
                break

            loss, flat_grad, t, ls_func_evals, opt_cond = self._move(
                closure, d, t, loss, flat_grad, gtd, n_iter == max_iter, max_eval - current_evals
            )
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if xp.abs(d * t).max() <= tolerance_change:
                break
            if abs(loss - prev_loss) < tolerance_change:
                break

        state.update(
            d=d,
            t=t,
            old_dirs=old_dirs,
            old_stps=old_stps,
            ro=ro,
            H_diag=H_diag,
            prev_flat_grad=prev_flat_grad,
            prev_loss=prev_loss,
        )

    def _move(self, closure, d, t, loss, flat_grad, gtd, last: bool, evals_left: int):
        """Moves the parameters along ``d``: by a strong-Wolfe line search from step ``t``, or by
        ``t`` itself (then evaluating the closure there, unless this is the ``last`` iteration).
        Returns the loss and flat gradient there, the step taken, the closure calls made and
        whether the gradient is within ``tolerance_grad``."""
        tolerance_grad = self.param_groups[0]["tolerance_grad"]
        if self.param_groups[0]["line_search_fn"] is not None:
            x_init = self._clone_param()

            def obj_func(x, t, d):
                return self._directional_evaluate(closure, x, t, d)

            loss, flat_grad, t, evals = _strong_wolfe(
                obj_func, x_init, t, d, loss, flat_grad, gtd, max_ls=evals_left
            )
            self._add_grad(t, d)
            return loss, flat_grad, t, evals, xp.abs(flat_grad).max() <= tolerance_grad
        self._add_grad(t, d)
        if last:
            return loss, flat_grad, t, 0, False
        loss = _as_float(self._call(closure))
        flat_grad = self._gather_flat_grad()
        return loss, flat_grad, t, 1, xp.abs(flat_grad).max() <= tolerance_grad

    def state_dict(self) -> dict[str, Any]:
        """As ``Optimizer.state_dict``, the state (flat history vectors, as arrays, which
        ``load_state_dict`` takes back as they are) deep-copied."""
        out = super().state_dict()
        out["state"] = copy.deepcopy(self.state)
        return out

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restores a snapshot from ``state_dict()``; the history is flat vectors, not shaped
        like any one parameter, so it is copied as it is."""
        saved = dict(state_dict)
        history = {int(k): copy.deepcopy(dict(v)) for k, v in saved.get("state", {}).items()}
        super().load_state_dict({"state": {}, "param_groups": saved["param_groups"]})
        self._params = self.param_groups[0]["params"]
        self.state = history


def _as_float(loss: Any) -> float:
    return float(loss.item()) if isinstance(loss, Tensor) else float(loss)


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1, g2, clipped to
    ``bounds`` (default the interval between x1 and x2); its midpoint if the cubic has none."""
    if bounds is not None:
        xmin_bound, xmax_bound = bounds
    else:
        xmin_bound, xmax_bound = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1**2 - g1 * g2
    if d2_square >= 0:
        d2 = xp.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, xmin_bound), xmax_bound)
    return (xmin_bound + xmax_bound) / 2.0


def _remember(old_dirs, old_stps, ro, H_diag, y, s, history_size: int):
    """Adds the curvature pair (y = Δgradient, s = Δx) to the history, dropping the oldest past
    ``history_size``, when it has positive curvature (yᵀs > 1e-10); returns the initial inverse
    Hessian scale yᵀs / yᵀy (unchanged when the pair is dropped)."""
    ys = y.dot(s)
    if ys > 1e-10:
        if len(old_dirs) == history_size:
            old_dirs.pop(0)
            old_stps.pop(0)
            ro.pop(0)
        old_dirs.append(y)
        old_stps.append(s)
        ro.append(1.0 / ys)
        H_diag = ys / y.dot(y)
    return H_diag


def _two_loop(flat_grad, old_dirs, old_stps, ro, H_diag):
    """The L-BFGS direction -H·g by the two-loop recursion over the history (Nocedal & Wright,
    Algorithm 7.4), in PyTorch's order of operations."""
    num_old = len(old_dirs)
    al = [None] * num_old
    q = -flat_grad
    for i in range(num_old - 1, -1, -1):
        al[i] = old_stps[i].dot(q) * ro[i]
        q += old_dirs[i] * -al[i]
    r = q * H_diag
    for i in range(num_old):
        be_i = old_dirs[i].dot(r) * ro[i]
        r += old_stps[i] * (al[i] - be_i)
    return r


def _strong_wolfe(obj_func, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """A step length t along d satisfying the strong Wolfe conditions (bracketing, then zoom
    with cubic interpolation), PyTorch's ``_strong_wolfe`` on NumPy vectors.

    Returns ``(loss, flat gradient, t, closure calls)`` at the chosen step."""
    bracket, done, ls_iter, evals = _bracket(obj_func, x, t, d, f, g.copy(), gtd, c1, c2, max_ls)
    return _zoom(obj_func, x, d, f, gtd, bracket, done, ls_iter, evals, c1, c2,
                 tolerance_change, max_ls)  # fmt: skip


def _bracket(obj_func, x, t, d, f, g, gtd, c1, c2, max_ls):
    """The first phase: steps out from ``t`` until [t_prev, t] brackets steps that satisfy the
    strong Wolfe conditions, or t itself does (``done``). Returns the bracket as
    ``(steps, losses, gradients, slopes)``, done, the iterations and the closure calls."""
    f_new, g_new = obj_func(x, t, d)
    evals = 1
    gtd_new = g_new.dot(d)
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    ls_iter = 0
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket = [t_prev, t], [f_prev, f_new], [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            return bracket, False, ls_iter, evals
        if abs(gtd_new) <= -c2 * gtd:
            return ([t], [f_new], [g_new], None), True, ls_iter, evals
        if gtd_new >= 0:
            bracket = [t_prev, t], [f_prev, f_new], [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            return bracket, False, ls_iter, evals
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        tmp = t
        t = _cubic_interpolate(
            t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(min_step, max_step)
        )
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new.copy(), gtd_new
        f_new, g_new = obj_func(x, t, d)
        evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
    return ([0, t], [f, f_new], [g, g_new], None), False, ls_iter, evals


def _zoom(obj_func, x, d, f, gtd, bracket, done, ls_iter, evals, c1, c2, tolerance_change,
          max_ls):  # fmt: skip
    """The second phase: shrinks the bracket by cubic interpolation until a step satisfies the
    strong Wolfe conditions, the bracket is below ``tolerance_change`` or ``max_ls`` iterations
    are spent. Returns ``(loss, flat gradient, t, closure calls)`` at the bracket's best end."""
    bracket, bracket_f, bracket_g, bracket_gtd = bracket
    d_norm = xp.abs(d).max()
    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(
            bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1]
        )
        t, insuf_progress = _away_from_ends(t, bracket, insuf_progress)
        f_new, g_new = obj_func(x, t, d)
        evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1

        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            bracket[high_pos], bracket_f[high_pos] = t, f_new
            bracket_g[high_pos], bracket_gtd[high_pos] = g_new.copy(), gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                bracket_g[high_pos] = bracket_g[low_pos]
                bracket_gtd[high_pos] = bracket_gtd[low_pos]
            bracket[low_pos], bracket_f[low_pos] = t, f_new
            bracket_g[low_pos], bracket_gtd[low_pos] = g_new.copy(), gtd_new
    return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], evals


def _away_from_ends(t, bracket, insuf_progress):
    """Keeps t a tenth of the bracket away from its ends unless progress has stalled (PyTorch's
    ``insuf_progress`` rule); returns the step and the new flag."""
    eps = 0.1 * (max(bracket) - min(bracket))
    if min(max(bracket) - t, t - min(bracket)) >= eps:
        return t, False
    if insuf_progress or t >= max(bracket) or t <= min(bracket):
        if abs(t - max(bracket)) < abs(t - min(bracket)):
            return max(bracket) - eps, False
        return min(bracket) + eps, False
    return t, True
