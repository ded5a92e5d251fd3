"""The protocol of the ``bilevel`` kind: tolerance checks, metrics, references, test instances."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from solverhub.core.kinds import (
    KindProtocol,
    MetricSpec,
    Reference,
    Verification,
    relative_error,
)

from .problem import BilevelProblem

__all__ = ["BilevelKind"]


class BilevelKind(KindProtocol):
    """Checked to a tolerance (``exact = False``): a point (x, y) is rejected only when it is not
    a point (wrong length, NaN or infinite entries). Its residuals become metrics:
    ``constraint_violation`` (x in X, y in Y, G <= 0, g <= 0) and ``lower_residual``
    (f(x, y) - min_t {f(x, t) : t in Y, g(x, t) <= 0}, the value function computed by SLSQP, a
    local minimum when the lower level is nonconvex; >= 0 up to rounding). An ``optimal`` claim
    (a stationary point of the method, info["local"] = True) with a violation above
    ``feasibility_tol`` or a lower-level residual above ``lower_tol * max(1, |f|)`` becomes
    ``feasible``.

    Metrics against a reference (the published x*, y*, F*): ``F_error`` = |F - F*| / max(1, |F*|)
    (defined at F* = 0, unlike a primal gap), ``x_error``, ``y_error``, ``solution_error`` (the
    relative errors of x, y and (x, y)), plus ``upper_objective`` and ``lower_objective``.
    """

    exact = False
    metrics = (
        MetricSpec("F_error", "|F - F*| / max(1, |F*|) to the published optimum", "lower", "geomean"),
        MetricSpec("solution_error", "||(x, y) - (x*, y*)|| / max(1, ||(x*, y*)||)", "lower", "geomean"),
        MetricSpec("x_error", "||x - x*|| / max(1, ||x*||)", "lower", "geomean"),
        MetricSpec("y_error", "||y - y*|| / max(1, ||y*||)", "lower", "geomean"),
        MetricSpec("upper_objective", "F(x, y)", "lower", "mean"),
        MetricSpec("lower_objective", "f(x, y)", "lower", "mean"),
        MetricSpec("lower_residual", "f(x, y) - min_t f(x, t) over the lower-level feasible set",
                   "lower", "geomean"),
        MetricSpec("constraint_violation", "largest violation of X, Y, G <= 0, g <= 0", "lower",
                   "geomean"),
    )

    def __init__(self, feasibility_tol: float = 1e-6, lower_tol: float = 1e-4) -> None:
        self.feasibility_tol = float(feasibility_tol)
        self.lower_tol = float(lower_tol)

    def verify(self, problem: Any, x: Any) -> Verification | None:
        if not isinstance(problem, BilevelProblem):
            return None
        try:
            v = np.asarray(x, dtype=np.float64).ravel()
        except (TypeError, ValueError) as exc:
            return Verification(ok=False, message=f"(x, y) is not a numeric vector: {exc}")
        if v.shape != (problem.n,):
            return Verification(ok=False, message=f"(x, y) has {v.size} entries, expected "
                                                  f"{problem.nx} + {problem.ny}")
        if not np.all(np.isfinite(v)):
            return Verification(ok=False, message="(x, y) has NaN or infinite entries")
        xs, ys = v[:problem.nx], v[problem.nx:]
        F = problem.F(xs, ys)
        fv = problem.f(xs, ys)
        if not (math.isfinite(F) and math.isfinite(fv)):
            return Verification(ok=False, message=f"F = {F}, f = {fv} at the reported point")
        viol = problem.constraint_violation(xs, ys)
        val = problem.lower_value(xs, ys)
        lower_res = math.nan if val is None else max(0.0, fv - val)
        res = {"constraint_violation": viol, "upper_objective": F, "lower_objective": fv}
        if val is not None:
            res["lower_residual"] = lower_res
        optimal_ok = viol <= self.feasibility_tol and val is not None \
            and lower_res <= self.lower_tol * max(1.0, abs(fv))
        msg = (f"constraint violation {viol:.3g} (tolerance {self.feasibility_tol:g}), lower-level "
               f"residual {lower_res:.3g} (tolerance {self.lower_tol:g} relative)")
        return Verification(ok=True, x=v, objective=F, residuals=res, message=msg,
                            optimal_ok=optimal_ok)

    def reference(self, problem: Any) -> Reference | None:
        if not isinstance(problem, BilevelProblem):
            return None
        if problem.reference_objective is None and problem.reference_solution is None:
            return None
        return Reference(problem.reference_objective, problem.reference_solution,
                         problem.reference_kind)

    def compute_metrics(self, problem: Any, result: Any, reference: Reference | None,
                        horizon: float) -> dict[str, float]:
        out: dict[str, float] = {}
        if not isinstance(problem, BilevelProblem) or result.x is None:
            return out
        v = np.asarray(result.x, dtype=np.float64).ravel()
        if v.shape != (problem.n,) or not np.all(np.isfinite(v)):
            return out
        if reference is None:
            return out
        if reference.objective is not None and result.objective is not None:
            out["F_error"] = relative_error(result.objective, reference.objective)
        sol = reference.solution
        if sol is not None and np.asarray(sol).shape == (problem.n,):
            sol = np.asarray(sol, dtype=np.float64)
            out["solution_error"] = relative_error(v, sol)
            out["x_error"] = relative_error(v[:problem.nx], sol[:problem.nx])
            out["y_error"] = relative_error(v[problem.nx:], sol[problem.nx:])
        return out

    # ------------------------------------------------------------------ test instances
    def conformance_instances(self) -> list[tuple[Any, float | None]]:
        from .bolib import load_bolib

        # optima None: first-order methods reach them to a tolerance, not to 1e-6 relative
        return [(load_bolib("bolib:LucchettiEtal1987", {}), None),
                (load_bolib("bolib:Bard1988Ex1", {}), None)]

    def infeasible_instances(self) -> list[Any]:
        # X = [0, 1] and the upper-level constraint x >= 2: C is empty
        return [BilevelProblem(1, 1, lambda x, y: (x[0] - 1) ** 2 + y[0] ** 2,
                               lambda x, y: (y[0] - x[0]) ** 2, G=lambda x, y: np.array([2.0 - x[0]]),
                               X=(0.0, 1.0), name="empty-C")]

    def hard_instance(self) -> Any | None:
        from .bolib import lvhba_toy

        return lvhba_toy(50_000)

    def malformed_instances(self) -> list[tuple[str, Any]]:
        from .bolib import load_bolib

        p = load_bolib("bolib:Bard1988Ex1", {})
        p.x0 = np.array([np.nan])
        q = load_bolib("bolib:Bard1988Ex1", {})
        q.y0 = np.zeros(3)
        return [("NaN start", p), ("start of the wrong size", q)]
