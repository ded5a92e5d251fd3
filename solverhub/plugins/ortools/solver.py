"""Solvers ``ortools-scip`` and ``ortools-sat``: one backend solve of the whole model."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from solverhub.core.observers import NULL_NOTIFIER
from solverhub.core.options import RelGapOptions
from solverhub.core.result import Result, Status
from solverhub.core.solver import SolverBase

__all__ = ["OrtoolsOptions", "OrtoolsSolver", "ScipSolver", "SatSolver"]


class OrtoolsOptions(RelGapOptions):
    """Options of ``ortools-scip`` / ``ortools-sat``; ``rel_gap`` was ``relative_gap``."""

    rel_gap: float | None = Field(None, ge=0.0, description="relative gap limit "
                                  "(None: the solver's default, 0 for SCIP and CP-SAT)")
    solver_parameters: str = Field("", description="passed to the solver as is: SCIP 'name = value' "
                                   "lines, CP-SAT 'name:value' comma list")


class OrtoolsSolver(SolverBase[OrtoolsOptions]):
    """One OR-Tools backend solve of the whole model; ``which`` is ``scip`` or ``sat``."""

    Options = OrtoolsOptions
    which = "scip"

    def solve(self, problem: Any, *, time_limit: float | None = None, seed: int = 0,
              notifier: Any = NULL_NOTIFIER) -> Result:
        from .backend import SatBackend, ScipBackend

        cls = ScipBackend if self.which == "scip" else SatBackend
        backend = cls(problem, threads=1, seed=seed, relative_gap=self.rel_gap,
                      solver_parameters=self.solver_parameters)
        br = backend.solve(time_limit, seed=seed)
        trajectory: list[tuple[float, float]] = []
        if br.objective is not None:
            trajectory.append((br.runtime, br.objective))
            notifier.incumbent(br.runtime, br.objective, br.bound)
        # OR-Tools reports no incumbent while it runs: the one point is the end, not the first find
        res = Result(br.status, objective=br.objective, bound=br.bound, x=br.x, runtime=br.runtime,
                     trajectory=trajectory, info=dict(br.info),
                     incumbents_unknown=br.objective is not None)
        if br.status == Status.ERROR:
            res.error = str(br.info.get("error", br.info.get("solver_status")))
        return res


class ScipSolver(OrtoolsSolver):
    """``ortools-scip``."""

    which = "scip"


class SatSolver(OrtoolsSolver):
    """``ortools-sat``."""

    which = "sat"
