"""The ``scip`` solver: SCIP branch-and-cut on a MIP, through :class:`ScipBackend` (PySCIPOpt)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from solverhub.core.observers import NULL_NOTIFIER
from solverhub.core.options import RelGapOptions
from solverhub.core.result import Result, Status
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
        trajectory: list[tuple[float, float]] = []

        def on_incumbent(t: float, obj: float, x: Any) -> None:
            if trajectory and trajectory[-1][1] == obj:
                return
            trajectory.append((t, obj))
            notifier.incumbent(t, obj, None)

        backend = ScipBackend(problem, threads=1, seed=seed, relative_gap=self.rel_gap,
                              scip_params=self.scip_params, heuristics=self.heuristics,
                              lns_frequency=self.lns_frequency)
        try:
            br = backend.solve(time_limit, on_incumbent=on_incumbent, node_limit=self.node_limit,
                               seed=seed, emphasis=self.emphasis)
        finally:
            backend.close()
        if br.objective is not None and (not trajectory or trajectory[-1][1] != br.objective):
            trajectory.append((br.runtime, br.objective))
        res = Result(br.status, objective=br.objective, bound=br.bound, x=br.x, runtime=br.runtime,
                     iterations=int(br.info.get("nodes", 0)), trajectory=trajectory,
                     info=dict(br.info))
        if br.status == Status.ERROR and "error" in br.info:
            res.error = str(br.info["error"])
        return res
