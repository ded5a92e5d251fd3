"""The ``scip`` solver: SCIP branch-and-cut on a MIP, through :class:`ScipBackend` (PySCIPOpt)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from solverhub.core.backend import solve_whole_model
from solverhub.core.observers import NULL_NOTIFIER
from solverhub.core.options import RelGapOptions
from solverhub.core.result import Result
from solverhub.core.solver import SolverBase

__all__ = ["ScipOptions", "ScipSolver"]


class ScipOptions(RelGapOptions):
    """Options of the ``scip`` solver (SCIP's own defaults)."""

    rel_gap: float = Field(0.0, ge=0.0, description="relative gap at which SCIP stops (limits/gap)")
    node_limit: int | None = Field(None, ge=0, description="branch-and-bound node limit")
    emphasis: Literal["default", "feasibility"] = Field(
        "default", description="feasibility: aggressive primal heuristics (first solutions fast)")
    heuristics: Literal["default", "aggressive", "fast", "off"] = Field(
        "default", description="SCIP's heuristics emphasis (setHeuristics)")
    lns_frequency: dict[str, int] = Field(
        default_factory=dict, description="frequency of SCIP's own LNS heuristics, by name (rins, "
                                          "rens, crossover, localbranching, dins, mutation, alns, "
                                          "gins, lpface, proximity): -1 off, 0 root only, k every "
                                          "k-th depth")
    scip_params: dict[str, Any] = Field(default_factory=dict,
                                        description="further SCIP parameters passed through as is")


class ScipSolver(SolverBase[ScipOptions]):
    """``ScipSolver(options).solve(problem, time_limit=..., seed=...) -> Result``."""

    Options = ScipOptions

    def solve(self, problem: Any, *, time_limit: float | None = None, seed: int = 0,
              notifier: Any = NULL_NOTIFIER) -> Result:
        from .backend import ScipBackend, check_scip_params

        check_scip_params(self.scip_params, self.lns_frequency, "solver 'scip' option scip_params")
        backend = ScipBackend(problem, threads=1, seed=seed, relative_gap=self.rel_gap,
                              scip_params=self.scip_params, heuristics=self.heuristics,
                              lns_frequency=self.lns_frequency)
        return solve_whole_model(backend, time_limit, notifier, node_limit=self.node_limit,
                                 seed=seed, emphasis=self.emphasis)
