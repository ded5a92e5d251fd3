"""The ``mip`` kind's protocol: exact checking, MIP metrics, ``.solu`` references, conformance
instances. Everything MIP-specific that the host used to do itself lives here."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from solverhub.core.kinds import KindProtocol, MetricSpec, Reference, Verification
from solverhub.core.mip import MIPProblem
from solverhub.core.result import bound_gap, finite_or_none, primal_gap, primal_integral

__all__ = ["MIPKind", "SNAP_TOL"]

#: integer columns this close to an integer are reported as that integer (as SCIP does)
SNAP_TOL = 1e-9


class MIPKind(KindProtocol):
    """A MIP solution is exact: it satisfies every row, bound and integrality within the check's
    tolerances, or it is not reported (the result becomes an error)."""

    exact = True
    metrics = (
        MetricSpec("primal_gap", "Berthold's primal gap to the reference objective, in [0, 1]"),
        MetricSpec("primal_integral", "primal gap integrated over the time limit, normalised to [0, 1]"),
        MetricSpec("gap", "relative gap between objective and dual bound"),
    )
    context_features = ("variables", "constraints", "integers", "nonzeros")

    def context(self, problem: Any) -> dict[str, float]:
        """Sizes, for contextual tuners (``solverhub tune``)."""
        return {"variables": float(problem.n), "constraints": float(problem.m),
                "integers": float(np.count_nonzero(problem.integrality)),
                "nonzeros": float(problem.A.nnz)}

    def verify(self, problem: MIPProblem, x: Any) -> Verification | None:
        x = np.array(x, dtype=np.float64).ravel()
        if x.shape != (problem.n,):
            return Verification(False, message=f"the solution has {x.size} entries, the model "
                                               f"{problem.n} columns")
        integrality = problem.integrality
        if np.any(integrality):
            xi = x[integrality]
            near = np.abs(xi - np.round(xi)) <= SNAP_TOL
            xi[near] = np.round(xi[near])
            x[integrality] = xi
        report = problem.check(x)
        residuals = {"max_bound_violation": float(report.max_bound_violation),
                     "max_row_violation": float(report.max_row_violation),
                     "max_integrality_violation": float(report.max_integrality_violation)}
        evaluated = report.objective if report.objective is not None and \
            math.isfinite(report.objective) else None
        return Verification(bool(report.feasible), x=x, objective=evaluated, residuals=residuals,
                            message=str(report))

    def reference(self, problem: Any) -> Reference | None:
        obj = getattr(problem, "reference_objective", None)
        if obj is None:
            return None
        return Reference(float(obj), None, str(getattr(problem, "reference_kind", "known")))

    def compute_metrics(self, problem: Any, result: Any, reference: Reference | None,
                        horizon: float) -> dict[str, float]:
        out: dict[str, float] = {}
        gap = bound_gap(finite_or_none(result.objective), finite_or_none(result.bound))
        if gap is not None:  # the progress line shows the same number (one gap formula)
            out["gap"] = gap
        if reference is not None and reference.objective is not None:
            out["primal_gap"] = primal_gap(result.objective, reference.objective)
            if not getattr(result, "incumbents_unknown", False):  # unknown: not a 100 % gap
                out["primal_integral"] = primal_integral(result.trajectory, reference.objective,
                                                         horizon)
        return out

    def conformance_instances(self) -> list[tuple[Any, float | None]]:
        from solverhub.testing.instances import tiny_mip_instances

        return list(tiny_mip_instances())  # as list[tuple[Any, float | None]]

    def infeasible_instances(self) -> list[Any]:
        from solverhub.testing.instances import infeasible_mip

        return [infeasible_mip()]

    def hard_instance(self) -> Any | None:
        from solverhub.testing.instances import hard_mip

        return hard_mip()

    def malformed_instances(self) -> list[tuple[str, Any]]:
        import copy

        from solverhub.testing.instances import tiny_mip_instances

        base = tiny_mip_instances()[1][0]
        wrong_rows = copy.deepcopy(base)
        wrong_rows.row_lower = np.zeros(base.m + 2)  # bypasses __post_init__ validation
        nan_cost = copy.deepcopy(base)
        nan_cost.c = base.c.copy()
        nan_cost.c[0] = np.nan
        return [("mip-row-bounds-wrong-length", wrong_rows), ("mip-nan-objective", nan_cost)]
