"""The penalty method of J. Kwon, D. Kwon, S. Wright, R. Nowak, "On Penalty Methods for Nonconvex
Bilevel Optimization and First-Order Stochastic Approximation", ICLR 2024 (arXiv 2309.01753).

In this package's notation (F upper, f lower): h_sigma = sigma F + f,
l(x, sigma) = min_{y in Y(.)} h_sigma(x, y), psi_sigma(x) = (l(x, sigma) - l(x, 0)) / sigma, whose
gradient (their value-function gradient formula for a lower-level set independent of x;
equation numbers are not cited here, the formula is) is

    grad psi_sigma(x) = grad_x F(x, y_sigma) + (grad_x f(x, y_sigma) - grad_x f(x, z*)) / sigma,

y_sigma in argmin h_sigma(x, .), z* in argmin f(x, .). The double loop solves both inner problems by
projected gradient (warm started), then x <- P_X(x - alpha grad psi_sigma). The single-loop variant
takes one inner step per outer step and a momentum average of grad psi_sigma. The lower-level
feasible set must not depend on x (g independent of x), and the upper constraints G only on x.
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

from .common import (
    DIVERGENCE_FACTOR,
    breakdown,
    diverged,
    finish,
    nonfinite,
    require_problem,
)
from .options import PenaltyOptions
from .problem import BilevelProblem
from .sets import Box, dykstra, is_convex_set

__all__ = ["BilevelPenalty", "projectors"]


def _projector(P: BilevelProblem, S: Any, rows: tuple | None, eq: np.ndarray, what: str) -> Any:
    """The projection onto {v in S : A v <= b (rows ``eq``: ==)} (Dykstra's method for a box S)."""
    if rows is None or rows[0].shape[0] == 0:
        return S.project
    if not isinstance(S, Box):
        raise BadInputError(f"{P.source or P.name}: {what} is not a box while constraint rows are "
                            f"present")
    A, b = rows
    lo, up = S.lower, S.upper

    def proj(p: np.ndarray) -> np.ndarray:
        r = A @ p - b
        if np.all(np.where(eq, r == 0.0, r <= 0.0)) and np.all(p >= lo) and np.all(p <= up):
            return p
        return dykstra(p, A, b, eq, lo, up)[0]
    return proj


def projectors(P: BilevelProblem) -> tuple[Any, Any]:
    """``(P_X', P_Y')``: X' = X with G <= 0 (G affine in x only), Y' = Y with g <= 0 (g affine
    in y only); ``P_Y'`` is None when g couples x and y (the Lagrangian variant,
    :func:`_coupled_step`). BadInputError says why the penalty method does not apply otherwise."""
    who = P.source or P.name
    for what, s in (("X", P.X), ("Y", P.Y)):
        if not is_convex_set(s):
            raise BadInputError(f"{who}: {what} is not declared convex: bilevel-penalty needs its "
                                f"projection")
    if P.l and P.g_affine is None:
        raise BadInputError(f"{who}: bilevel-penalty needs affine lower-level constraints "
                            f"(g is nonlinear); use lv-hba with a projection")
    if P.L and (P.G_affine is None or np.any(P.G_affine[0][:, P.nx:] != 0)):
        raise BadInputError(f"{who}: bilevel-penalty handles upper-level constraints on x only "
                            f"(affine); G depends on y or is nonlinear: use lv-hba")
    Gx = None if not P.L or P.G_affine is None else (P.G_affine[0][:, :P.nx], P.G_affine[1])
    projX = _projector(P, P.X, Gx, P.upper_eq, "X")
    if P.l and P.g_affine is not None and np.any(P.g_affine[0][:, :P.nx] != 0):
        return projX, None
    gx = None if not P.l or P.g_affine is None else (P.g_affine[0][:, P.nx:], P.g_affine[1])
    return projX, _projector(P, P.Y, gx, P.lower_eq, "Y")


def _inner_with_multipliers(P: BilevelProblem, x: np.ndarray, start: np.ndarray,
                            sigma: float) -> tuple[np.ndarray, np.ndarray, int]:
    """min_y sigma F(x, y) + f(x, y) s.t. g(x, y) <= 0, y in Y (sigma = 0: the lower level) by
    SciPy's SLSQP from ``start``: (y, multipliers of g in the sign of L = obj + lam'g, iterations).
    The coupled variant needs the multipliers: with g depending on x, the value function's
    x-gradient is that of the Lagrangian (Danskin), grad_x f + J_x g' lam."""
    from scipy.optimize import minimize

    eq = P.lower_eq

    def obj(t: np.ndarray) -> tuple[float, np.ndarray]:
        v = P.f(x, t)
        g = P.grad_f(x, t)[1]
        if sigma:
            v += sigma * P.F(x, t)
            g = g + sigma * P.grad_F(x, t)[1]
        return v, g

    cons = []
    if np.any(eq):
        cons.append({"type": "eq", "fun": lambda t: P.g(x, t)[eq], "jac": lambda t: P.jac_g(x, t)[1][eq]})
    if np.any(~eq):
        cons.append({"type": "ineq", "fun": lambda t: -P.g(x, t)[~eq],
                     "jac": lambda t: -P.jac_g(x, t)[1][~eq]})
    bounds = None
    if isinstance(P.Y, Box):
        bounds = [(None if not math.isfinite(lo) else lo, None if not math.isfinite(up) else up)
                  for lo, up in zip(P.Y.lower, P.Y.upper)]
    res = minimize(obj, P.Y.project(np.asarray(start, dtype=float)), jac=True, method="SLSQP",
                   bounds=bounds, constraints=cons, options={"maxiter": 500, "ftol": 1e-14})
    mult = np.asarray(getattr(res, "multipliers", np.zeros(P.l)), dtype=float)
    lam = np.zeros(P.l)
    n_eq = int(np.sum(eq))
    # SciPy orders the equality rows first, with the sign of L = obj - mu'c (c = g there)
    lam[eq] = -mult[:n_eq]
    lam[~eq] = mult[n_eq:n_eq + int(np.sum(~eq))]
    return np.asarray(res.x, dtype=float), lam, int(res.nit)


class BilevelPenalty(SolverBase[PenaltyOptions]):
    Options = PenaltyOptions

    def solve(self, problem: Any, *, time_limit: float | None = None, seed: int = 0,
              notifier: Any = NULL_NOTIFIER) -> sh.Result:
        t0 = time.perf_counter()
        o = self.options
        P = require_problem(problem, "bilevel-penalty")
        projX, projY = projectors(P)
        deadline = deadline_of(t0, time_limit)
        x = projX(P.x0.copy())
        coupled = projY is None     # g couples x and y: inner problems with their multipliers
        y = P.Y.project(P.y0.copy()) if coupled else projY(P.y0.copy())   # y_sigma: argmin sigma F + f
        z = y.copy()                # z*: argmin f
        if P.constraint_violation(x, y) > 1e-6 * max(1.0, float(np.max(np.abs(np.concatenate([x, y]))))):
            if P.C_is_empty():
                return sh.Result(sh.Status.INFEASIBLE, runtime=time.perf_counter() - t0,
                                 info={"reason": "the feasible set is empty"})
        sig, a, b = o.sigma, o.alpha, o.inner_step
        limit = DIVERGENCE_FACTOR * max(1e-2, float(np.max(np.abs(np.concatenate([x, y])), initial=0.0)))
        info: dict[str, Any] = {"variant": o.variant, "sigma": sig, "local": True}
        m = np.zeros(P.nx)
        status = sh.Status.ITERATION_LIMIT
        inner_total = 0
        step = math.inf
        k = 0
        single = o.variant == "single-loop"
        for k in range(o.max_iterations):
            stopped = limit_status(deadline)
            if stopped is not None:
                status = stopped
                break
            if coupled:
                y, lam_y, it_y = _inner_with_multipliers(P, x, y, sig)
                z, lam_z, it_z = _inner_with_multipliers(P, x, z, 0.0)
                inner_total += it_y + it_z
                moved = 0.0
            # inner problems: projected gradient on h_sigma(x, .) and f(x, .) (warm started)
            n_inner = 0 if coupled else 1 if single else o.inner_iterations
            for i_in in range(n_inner):
                if i_in and i_in % 10 == 0 and limit_status(deadline) is not None:
                    break
                gFy = P.grad_F(x, y)[1]
                gfy = P.grad_f(x, y)[1]
                y_n = projY(y - b * (sig * gFy + gfy))
                z_n = projY(z - b * P.grad_f(x, z)[1])
                moved = max(float(np.max(np.abs(y_n - y), initial=0.0)),
                            float(np.max(np.abs(z_n - z), initial=0.0)))
                y, z = y_n, z_n
                inner_total += 1
                if moved <= o.inner_tolerance * b:
                    break
            # outer step: grad psi_sigma(x) by the formula in the module docstring
            gFx = P.grad_F(x, y)[0]
            d = gFx + (P.grad_f(x, y)[0] - P.grad_f(x, z)[0]) / sig
            if coupled:   # the Lagrangians' x-gradients: + J_x g' lambda at each inner solution
                d = d + (P.jac_g(x, y)[0].T @ lam_y - P.jac_g(x, z)[0].T @ lam_z) / sig
            if single:
                m = o.momentum * m + (1.0 - o.momentum) * d
                d = m
            if not np.all(np.isfinite(d)):
                return nonfinite(P, t0, k, info, "bilevel-penalty", x, y, z)
            x_n = projX(x - a * d)
            bad = diverged((x_n, y, z), limit)
            if bad is not None:
                return breakdown(t0, k + 1, info, "bilevel-penalty", bad)
            step = float(np.linalg.norm(x_n - x)) / a
            x = x_n
            if (k + 1) % o.log_every == 0:
                notifier.iteration(k + 1, {"step": step, "upper": P.F(x, z),
                                           "penalty_gap": float(np.linalg.norm(y - z)),
                                           "inner_iterations": inner_total})
            if step <= o.tolerance and moved <= o.inner_tolerance * b:
                status = sh.Status.OPTIMAL
                k += 1
                break
        else:
            k = o.max_iterations
        if coupled and k:
            # the last x step moved the lower-level feasible set: y_sigma is solved again at the
            # reported x, so that (x, y) satisfies the coupled constraints
            y, _, it_y = _inner_with_multipliers(P, x, y, sig)
            inner_total += it_y
        info.update({"final_step": step, "inner_iterations": inner_total,
                     "penalty_gap": float(np.linalg.norm(y - z))})
        # the reported point is (x, y_sigma): y_sigma is O(sigma)-optimal for the lower level and
        # picks, among (near) lower-level solutions, a good one for F (the optimistic bilevel
        # solution); z* alone may be any lower-level solution when they are not unique
        return finish(P, status, x, y, t0, k, info, notifier)
