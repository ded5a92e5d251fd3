"""``bilevel-implicit``: approximate implicit differentiation (AID) for lower levels that are
strongly convex in y and unconstrained (no g, Y the whole space).

There y*(x) = argmin_y f(x, y) is the unique root of grad_y f(x, y) = 0, differentiable in x by the
implicit function theorem, and the hyper-objective phi(x) = F(x, y*(x)) has the gradient

    grad phi(x) = grad_x F(x, y*) - H_xy(x, y*) w,    H_yy(x, y*) w = grad_y F(x, y*),

(H_yy the lower level's Hessian in y, H_xy its mixed block; Ghadimi and Wang 2018, Pedregosa
2016). Second derivatives enter only as products with a vector, taken by central differences of
the gradient of f (or exactly, from the recognised quadratic form), so the method needs the same
derivatives as LV-HBA. Each outer step solves the lower level by Newton-CG (warm started), the
adjoint system by CG, and takes a projected gradient step on x with Armijo backtracking on phi.
A stationary point of phi over X is a local solution of the bilevel program.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

import solverhub as sh
from solverhub.core.errors import BadInputError
from solverhub.core.observers import NULL_NOTIFIER
from solverhub.core.solver import SolverBase
from solverhub.core.timing import deadline_of, limit_status

from .common import finish, require_problem
from .options import ImplicitOptions
from .problem import BilevelProblem
from .sets import Box, is_convex_set

__all__ = ["BilevelImplicit", "why_no_implicit"]


def why_no_implicit(P: BilevelProblem) -> str | None:
    """None when the implicit-gradient method applies to ``P``, else why not."""
    if P.l:
        return "the lower level has constraints g (the implicit function theorem needs an " \
               "unconstrained lower level here)"
    if not (isinstance(P.Y, Box) and np.all(np.isinf(P.Y.lower)) and np.all(np.isinf(P.Y.upper))):
        return "Y is not the whole space"
    if P.L:
        return "the upper level has constraints G (only X is handled, by projection)"
    if not is_convex_set(P.X):
        return "X is not declared convex"
    return None


class _LowerLevel:
    """Products with the lower level's Hessian blocks at a point: exact from the recognised
    quadratic form, else central differences of grad f along the vector."""

    def __init__(self, P: BilevelProblem) -> None:
        self.P = P
        q = P._quad.get("f")
        self.H = None if q is None else np.asarray(q[0], dtype=float)

    def hyy(self, x: np.ndarray, y: np.ndarray, v: np.ndarray) -> np.ndarray:
        P = self.P
        if self.H is not None:
            return self.H[P.nx:, P.nx:] @ v
        h = _fd_step(y, v)
        return (P.grad_f(x, y + h * v)[1] - P.grad_f(x, y - h * v)[1]) / (2 * h)

    def hxy(self, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
        """H_xy w: the change of grad_x f along w in y."""
        P = self.P
        if self.H is not None:
            return self.H[:P.nx, P.nx:] @ w
        h = _fd_step(y, w)
        return (P.grad_f(x, y + h * w)[0] - P.grad_f(x, y - h * w)[0]) / (2 * h)


def _fd_step(y: np.ndarray, v: np.ndarray) -> float:
    nv = float(np.linalg.norm(v))
    return 0.0 if nv == 0 else 1e-6 * max(1.0, float(np.linalg.norm(y))) / nv


def _cg(apply: Any, b: np.ndarray, tol: float, max_iter: int, deadline: float) -> tuple[np.ndarray, str]:
    """Conjugate gradients for a symmetric positive definite operator: (solution, outcome) with
    outcome "ok", "negative curvature" or a stop status value."""
    x = np.zeros_like(b)
    r = b.copy()
    p = r.copy()
    rr = float(r @ r)
    target = (tol * max(1e-300, math.sqrt(rr))) ** 2
    for _ in range(max_iter):
        if rr <= target:
            return x, "ok"
        stopped = limit_status(deadline)
        if stopped is not None:
            return x, stopped.value
        Ap = apply(p)
        pAp = float(p @ Ap)
        if not pAp > 0:
            return x, "negative curvature"
        a = rr / pAp
        x += a * p
        r -= a * Ap
        rr_new = float(r @ r)
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x, "ok"


class _Stop(Exception):
    """A lower-level or adjoint solve could not go on (negative curvature, limit, Ctrl-C)."""


class BilevelImplicit(SolverBase[ImplicitOptions]):
    Options = ImplicitOptions

    def solve(self, problem: Any, *, time_limit: float | None = None, seed: int = 0,
              notifier: Any = NULL_NOTIFIER) -> sh.Result:
        t0 = time.perf_counter()
        o = self.options
        P = require_problem(problem, "bilevel-implicit")
        why = why_no_implicit(P)
        if why is not None:
            raise BadInputError(f"{P.source or P.name}: bilevel-implicit does not apply: {why}")
        deadline = deadline_of(t0, time_limit)
        L = _LowerLevel(P)
        projX = P.X.project
        x = projX(P.x0.copy())
        y = P.y0.copy()
        info: dict[str, Any] = {"local": True, "inner_iterations": 0, "cg_iterations": 0}
        status = sh.Status.ITERATION_LIMIT
        step = o.step
        k = 0
        stat = math.nan

        def lower(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, str]:
            """Newton-CG on grad_y f(x, .) = 0 from y."""
            for _ in range(o.inner_iterations):
                g = P.grad_f(x, y)[1]
                if float(np.linalg.norm(g)) <= o.inner_tolerance * max(1.0, float(np.linalg.norm(y))):
                    return y, "ok"
                d, out = _cg(lambda v: L.hyy(x, y, v), -g, 1e-2, 10 * P.ny + 10, deadline)
                info["inner_iterations"] += 1
                if out != "ok":
                    return y, out
                y = y + d   # a Newton step: exact for a quadratic lower level
            return y, "ok"

        state: dict[str, Any] = {"y": y, "out": "ok", "evals": 0}

        def phi_grad(xv: np.ndarray) -> tuple[float, np.ndarray]:
            """phi(x) = F(x, y*(x)) and its hypergradient (the lower level warm started)."""
            yv, out = lower(xv, state["y"])
            state["evals"] += 1
            if out != "ok":
                state["out"] = out
                raise _Stop
            gFx, gFy = P.grad_F(xv, yv)
            w, out = _cg(lambda v: L.hyy(xv, yv, v), gFy, o.adjoint_tolerance, 10 * P.ny + 10,
                         deadline)
            if out != "ok":
                state["out"] = out
                raise _Stop
            d = gFx - L.hxy(xv, yv, w)
            state["y"] = yv
            return P.F(xv, yv), d

        if isinstance(P.X, Box):
            # bound-constrained quasi-Newton on phi (SciPy's L-BFGS-B): far fewer lower-level solves
            # than projected gradient steps on ill-conditioned hyper-objectives
            from scipy.optimize import minimize

            bounds = [(None if not math.isfinite(a) else a, None if not math.isfinite(b) else b)
                      for a, b in zip(P.X.lower, P.X.upper)]
            iters = [0]

            def cb(*_: Any) -> None:
                iters[0] += 1
                stopped = limit_status(deadline)
                if stopped is not None:
                    state["out"] = stopped.value
                    raise StopIteration

            best = {"x": x}
            try:
                res = minimize(lambda v: phi_grad(v), x, jac=True, method="L-BFGS-B", bounds=bounds,
                               callback=cb, options={"maxiter": o.max_iterations, "ftol": 0.0,
                                                     "gtol": o.tolerance, "maxcor": 20})
                x = np.asarray(res.x, dtype=float)
            except _Stop:
                x = best["x"]
            k = iters[0]
            _, d = phi_grad(x) if state["out"] == "ok" else (None, None)
            if d is not None:
                stat = float(np.linalg.norm(x - projX(x - d)))
                if stat <= o.tolerance * max(1.0, float(np.linalg.norm(x))):
                    status = sh.Status.OPTIMAL
            out = state["out"]
        else:
            out = "ok"
            for k in range(o.max_iterations):
                stopped = limit_status(deadline)
                if stopped is not None:
                    status = stopped
                    break
                try:
                    phi, d = phi_grad(x)
                except _Stop:
                    out = state["out"]
                    break
                stat = float(np.linalg.norm(x - projX(x - d)))
                if stat <= o.tolerance * max(1.0, float(np.linalg.norm(x))):
                    status = sh.Status.OPTIMAL
                    break
                # Armijo backtracking on phi; the step grows again after a success
                y_keep = state["y"]
                while True:
                    xn = projX(x - step * d)
                    yn, out = lower(xn, y_keep)
                    if out != "ok" or P.F(xn, yn) <= phi - 1e-4 * float(d @ (x - xn)) or step < 1e-12:
                        break
                    step *= 0.5
                if out != "ok":
                    break
                x = xn
                state["y"] = yn
                step = min(2.0 * step, o.max_step)
                if (k + 1) % o.log_every == 0:
                    notifier.iteration(k + 1, {"stationarity": stat, "upper": P.F(x, yn), "step": step})
            else:
                k = o.max_iterations
        y = state["y"]
        info["hyper_evaluations"] = state["evals"]
        if out == "negative curvature":
            raise BadInputError(f"{P.source or P.name}: bilevel-implicit: the lower level is not "
                                f"strongly convex in y (negative curvature of H_yy)")
        if out in ("interrupted", "time_limit"):
            status = sh.Status(out)
        info["stationarity"] = stat
        return finish(P, status, x, y, t0, k, info, notifier)
