"""Solvers ``ortools-scip`` and ``ortools-sat``: one backend solve of the whole model."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from solverhub.core.backend import solve_whole_model
from solverhub.core.observers import NULL_NOTIFIER
from solverhub.core.options import RelGapOptions
from solverhub.core.result import Result
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
        # OR-Tools reports no incumbent while it runs: the one point is the end, not the first find
        return solve_whole_model(backend, time_limit, notifier, live_incumbents=False, seed=seed)


class ScipSolver(OrtoolsSolver):
    """``ortools-scip``."""

    which = "scip"


class SatSolver(OrtoolsSolver):
    """``ortools-sat``."""

    which = "sat"
