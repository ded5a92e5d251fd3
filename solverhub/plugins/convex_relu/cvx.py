"""``convex-relu-cvxpy``: the sampled convex program through CVXPY (reference and certificate).

Same program and scaling as the kind (problem.py); CLARABEL by default, SCS when CLARABEL is
missing or fails (``solver="auto"``). Adversarial training: the robust margin
``y_k yhat_k - eps ||sum_i d_ik (v_i - w_i)||_1`` and, when ``robust_cones``, the robust cones
``(2 d_ik - 1) x_k'v_i >= eps ||v_i||_1``. cvxpy is imported inside ``solve``.
"""

from __future__ import annotations

import math
import time
from importlib.util import find_spec
from typing import Any, Literal

import numpy as np
from pydantic import Field

from solverhub.core.errors import BadInputError
from solverhub.core.observers import NULL_NOTIFIER
from solverhub.core.options import SolverOptions
from solverhub.core.result import Result, Status
from solverhub.core.solver import SolverBase

from .problem import ReLUTraining

__all__ = ["CvxpyOptions", "ConvexReluCvxpy", "cvxpy_unavailable"]


def cvxpy_unavailable() -> str | None:
    if find_spec("cvxpy") is None:
        return "cvxpy is not installed (pip install 'solverhub[cvxpy]')"
    return None


class CvxpyOptions(SolverOptions):

    solver: Literal["auto", "CLARABEL", "SCS", "ECOS"] = Field(
        "auto", description="conic solver; auto: CLARABEL, SCS as fallback")
    tolerance: float = Field(1e-8, gt=0, description="solver feasibility/gap tolerance")
    verbose: bool = Field(False, description="solver log (on stderr)")


class ConvexReluCvxpy(SolverBase[CvxpyOptions]):
    Options = CvxpyOptions

    @staticmethod
    def build(pb: ReLUTraining):
        """The CVXPY problem and its variables [(V_j, W_j)] per output."""
        import cvxpy as cp

        X, D, n = pb.X, pb.D.astype(np.float64), pb.n_samples
        E = 2.0 * D - 1.0
        nb = list(range(pb.d))[pb.nonbias]
        wts = pb.weights
        terms, cons, blocks = [], [], []
        for j in range(pb.c):
            V = cp.Variable((pb.P, pb.d))
            W = cp.Variable((pb.P, pb.d))
            blocks.append((V, W))
            yhat = cp.sum(cp.multiply(D, X @ (V - W).T), axis=1)
            y = pb.Y[:, j]
            if pb.loss == "squared":
                terms.append(cp.sum_squares(cp.multiply(np.sqrt(wts), yhat - y)) / (2.0 * n))
            else:
                margin = cp.multiply(y, yhat)
                if pb.eps > 0:
                    margin = margin - pb.eps * cp.norm(D @ (V - W)[:, nb], 1, axis=1)
                if pb.loss == "hinge":
                    terms.append(wts @ cp.pos(1.0 - margin) / n)
                else:
                    terms.append(wts @ cp.logistic(-margin) / n)
            terms.append(pb.beta * (cp.sum(cp.norm(V, 2, axis=1)) + cp.sum(cp.norm(W, 2, axis=1))))
            for B in (V, W):
                lhs = cp.multiply(E, X @ B.T)
                if pb.robust_cones and pb.eps > 0:
                    cons.append(lhs >= pb.eps * cp.reshape(cp.norm(B[:, nb], 1, axis=1),
                                                           (1, pb.P), order="C"))
                else:
                    cons.append(lhs >= 0)
        return cp.Problem(cp.Minimize(cp.sum(terms)), cons), blocks

    def _options(self, name: str, time_limit: float | None) -> dict:
        tol = self.tolerance
        if name == "CLARABEL":
            o = {"tol_gap_abs": tol, "tol_gap_rel": tol, "tol_feas": tol}
            if time_limit is not None and math.isfinite(time_limit):
                o["time_limit"] = max(float(time_limit), 1e-3)
            return o
        if name == "SCS":
            o = {"eps_abs": tol, "eps_rel": tol, "max_iters": 200000}
            if time_limit is not None and math.isfinite(time_limit):
                o["time_limit_secs"] = max(float(time_limit), 1e-3)
            return o
        return {"abstol": tol, "reltol": tol, "feastol": tol}

    def solve(self, problem: Any, *, time_limit: float | None = None, seed: int = 0,
              notifier: Any = NULL_NOTIFIER) -> Result:
        t0 = time.perf_counter()
        import cvxpy as cp

        prob, blocks = self.build(problem)
        installed = set(cp.installed_solvers())
        order = ["CLARABEL", "SCS"] if self.solver == "auto" else [self.solver]
        order = [s for s in order if s in installed]
        if not order:
            raise BadInputError(f"convex-relu-cvxpy: solver {self.solver!r} is not installed "
                                f"(installed: {', '.join(sorted(installed))})")
        errors = []
        used = None
        for name in order:
            remaining = None if time_limit is None or not math.isfinite(time_limit) \
                else float(time_limit) - (time.perf_counter() - t0)
            if remaining is not None and remaining <= 0:
                break
            try:
                prob.solve(solver=name, verbose=self.verbose, **self._options(name, remaining))
            except cp.error.SolverError as exc:
                errors.append(f"{name}: {exc}")
                continue
            used = name
            if prob.status in ("optimal", "optimal_inaccurate"):
                break
            errors.append(f"{name}: status {prob.status}")
        t = time.perf_counter() - t0
        info: dict[str, Any] = {"conic_solver": used, "cvxpy_status": prob.status,
                                "errors": errors}
        if used is None or blocks[0][0].value is None:
            status = Status.TIME_LIMIT if time_limit is not None and t >= float(time_limit) \
                else Status.ERROR
            return Result(status, runtime=t, info=info,
                          error=None if status != Status.ERROR else
                          "convex-relu-cvxpy: no solution (" + "; ".join(errors) + ")")
        U = np.stack([np.stack([V.value, W.value]) for V, W in blocks])
        x = U.ravel()
        obj = problem.objective(x)
        status = Status.OPTIMAL if prob.status == "optimal" else Status.FEASIBLE
        stats = prob.solver_stats
        iters = int(getattr(stats, "num_iters", 0) or 0)
        info["solve_time"] = getattr(stats, "solve_time", None)
        info["cvxpy_objective"] = float(prob.value)
        notifier.iteration(max(iters, 1), {"objective": obj})
        notifier.incumbent(t, obj, None)
        return Result(status, objective=obj, x=x, runtime=t, iterations=iters,
                      trajectory=[(t, obj)], info=info)
