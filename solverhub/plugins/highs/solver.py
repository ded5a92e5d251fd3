"""The ``highs`` solver: HiGHS branch-and-cut on a MIP, through :class:`HighsBackend`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from solverhub.core.backend import solve_whole_model
from solverhub.core.observers import NULL_NOTIFIER
from solverhub.core.options import RelGapOptions
from solverhub.core.result import Result
from solverhub.core.solver import SolverBase

__all__ = ["HighsOptions", "HighsSolver"]


class HighsOptions(RelGapOptions):
    """Options of the ``highs`` solver (HiGHS's own defaults); ``rel_gap`` was ``mip_rel_gap``."""

    presolve: Literal["choose", "on", "off"] = "choose"
    rel_gap: float = Field(1e-4, ge=0.0, description="relative gap at which HiGHS stops "
                                                     "(HiGHS's mip_rel_gap)")
    threads: int = Field(1, ge=1, description="HiGHS threads; process-global, fixed by the first "
                                              "HiGHS solve of the process")
    node_limit: int | None = Field(None, ge=0, description="branch-and-bound node limit")
    highs_options: dict[str, Any] = Field(default_factory=dict,
                                          description="further HiGHS options passed through as is")

    @field_validator("presolve", mode="before")
    @classmethod
    def _presolve_bool(cls, v: Any) -> Any:
        if isinstance(v, bool):
            return "on" if v else "off"
        return v


class HighsSolver(SolverBase[HighsOptions]):
    """``HighsSolver(options).solve(problem, time_limit=..., seed=...) -> Result``."""

    Options = HighsOptions

    def solve(self, problem: Any, *, time_limit: float | None = None, seed: int = 0,
              notifier: Any = NULL_NOTIFIER) -> Result:
        from .backend import HighsBackend, check_highs_options

        check_highs_options(dict(self.highs_options or {}), "solver 'highs' option highs_options")
        backend = HighsBackend(problem, threads=self.threads, seed=seed,
                               mip_rel_gap=self.rel_gap, presolve=self.presolve,
                               highs_options=self.highs_options)
        return solve_whole_model(backend, time_limit, notifier, node_limit=self.node_limit,
                                 seed=seed)
