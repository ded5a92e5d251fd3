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
    deadline_guard: bool = Field(True, description="keep the time limit where HiGHS itself does "
                                 "not: its feasibility jump and MIP presolve check no limit (an "
                                 "80,000-column set cover ran 56-117 s at 30 s on a loaded machine), "
                                 "so feasibility jump is switched off where its predicted worst "
                                 "case exceeds 80 % of the limit and presolve where it exceeds the "
                                 "limit "
                                 "(info['feasibility_jump'], info['presolve']); false: HiGHS "
                                 "exactly as configured")

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
        from .backend import FJ_SECONDS_PER_NNZ, PRESOLVE_SECONDS_PER_NNZ, HighsBackend, check_highs_options

        check_highs_options(dict(self.highs_options or {}), "solver 'highs' option highs_options")
        guard: dict[str, Any] = {}
        if self.deadline_guard:
            # the shares of Balans's first solve (docs/balans.md). The price is early solutions:
            # the 80k set cover at 20 s (load 2.4-3.5) ended at 574 on time with the guard, at 140
            # 1.7-5.7 s late without it
            guard = dict(fj_seconds_per_nnz=FJ_SECONDS_PER_NNZ, fj_share=0.8,
                         presolve_seconds_per_nnz=PRESOLVE_SECONDS_PER_NNZ, presolve_share=1.0)
        backend = HighsBackend(problem, threads=self.threads, seed=seed,
                               mip_rel_gap=self.rel_gap, presolve=self.presolve,
                               highs_options=self.highs_options, **guard)
        return solve_whole_model(backend, time_limit, notifier, node_limit=self.node_limit,
                                 seed=seed)
