"""Stopping rules (all combinable; the search stops when any says so)."""

from __future__ import annotations

from solverhub.core.records import MetaComponent
from solverhub.plugins.balans.stop.rules import MaxIterations, NoImprovement, Optimality, TimeLimit, gap_closed

__all__ = ["TimeLimit", "MaxIterations", "NoImprovement", "Optimality", "gap_closed", "components"]


def components() -> list[MetaComponent]:
    return [
        MetaComponent("time", "stopping", TimeLimit, {"margin": 0.0}, "stop at the global deadline"),
        MetaComponent("max_iterations", "stopping", MaxIterations, {"n": 1000},
                      "stop after n iterations"),
        MetaComponent("no_improvement", "stopping", NoImprovement, {"n": 100},
                      "stop after n iterations without a new best"),
        MetaComponent("optimality", "stopping", Optimality, {"rel_gap": 1e-4, "abs_gap": 1e-9},
                      "stop when the best solution is proved optimal (gap to the dual bound closed)"),
    ]
