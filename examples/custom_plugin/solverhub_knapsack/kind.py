"""The ``knapsack`` kind's protocol: how the host checks a knapsack solution and which metrics
the kind reports, whichever solver produced it (``knapsack-dp`` directly, or a MIP solver through
the ``knapsack-to-mip`` converter, whose results come back as knapsack results)."""

from __future__ import annotations

from typing import Any

import numpy as np

import solverhub as sh

__all__ = ["KnapsackKind"]


class KnapsackKind(sh.KindProtocol):
    """Exact: a solution over capacity or not 0/1 is an error. Metrics: ``dantzig_gap``, the
    value's relative distance to the LP (Dantzig) bound, which needs no known optimum, and
    ``capacity_used``; ``objective_error`` when a reference value is known."""

    exact = True
    metrics = (
        sh.MetricSpec("dantzig_gap", "(LP bound - value) / LP bound: 0 proves optimality",
                      better="lower"),
        sh.MetricSpec("capacity_used", "share of the capacity the packed items weigh",
                      better="higher"),
    )

    def verify(self, problem: Any, x: Any) -> sh.Verification | None:
        x = np.asarray(x, dtype=np.float64).ravel()
        if x.size != problem.n:
            return sh.Verification(False, message=f"x has {x.size} entries, the knapsack "
                                                  f"{problem.n} items")
        report = problem.check(x)
        return sh.Verification(report.feasible, x=np.round(x), objective=report.objective,
                               residuals={"overweight": max(0.0, report.weight - report.capacity)},
                               message=str(report))

    def compute_metrics(self, problem: Any, result: Any, reference: sh.Reference | None,
                        horizon: float) -> dict[str, float]:
        from solverhub_knapsack.dp import dantzig_bound

        out = super().compute_metrics(problem, result, reference, horizon)
        if result.x is None or result.objective is None:
            return out
        lp = dantzig_bound(problem)
        out["dantzig_gap"] = (lp - result.objective) / lp if lp > 0 else 0.0
        weight = float(problem.weights @ np.asarray(result.x, dtype=np.float64))
        out["capacity_used"] = weight / problem.capacity if problem.capacity > 0 else 1.0
        return out

    def conformance_instances(self) -> list[tuple[Any, float | None]]:
        from solverhub_knapsack.problem import KnapsackProblem

        return [(KnapsackProblem([10, 7, 4], [5, 4, 3], 7, name="mini"), 11.0),
                # item 2 is heavier than the knapsack, item 3 worthless: not MIP columns
                (KnapsackProblem([6, 5, 9, 0], [4, 3, 20, 1], 7, name="with-unpackable"), 11.0)]
