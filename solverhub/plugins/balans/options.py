"""Options of the ``balans`` solver (validated by the host; unknown keys are errors)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from solverhub.core.options import IterationLimitOptions, RelGapOptions
from solverhub.plugins.balans.destroy import DEFAULT_ARMS

__all__ = ["BalansOptions", "DEFAULT_SCORES"]

#: rewards of the outcomes (best, better, accept, reject): the paper's default
DEFAULT_SCORES = [8.0, 4.0, 2.0, 1.0]


class BalansOptions(IterationLimitOptions, RelGapOptions):
    """Balans: bandit-based adaptive large-neighbourhood search over a MIP backend.

    Names of destroy/repair operators, the policy, the acceptance criterion and extra stopping rules
    are looked up in the plugin registries, so components from third-party plugins work by name.
    ``rel_gap`` was ``gap_tolerance`` (the old name is accepted, deprecated).
    """

    backend: str = Field("highs", description="MIP backend (registry name): first solve, root LP, and "
                                              "the sub-MIPs unless sub_backends is set")
    first_backend: str | None = Field(
        "auto", description="backend of the first full-problem solve (registry name) when it differs "
                          "from `backend` (which keeps the root LP and the sub-MIPs); 'auto': "
                          "chosen from cheap model features (first_phase_backend: with backend "
                          "'highs', SCIP for large set-partitioning models, where HiGHS is slow "
                          "to a first solution; `backend` otherwise); None: `backend`. Ignored "
                          "with a portfolio (raced)")
    sub_backends: list[str] | None = Field(
        None, description="backends for the sub-MIPs (registry names); with more than one, a "
                          "Thompson-sampling bandit picks one per iteration from the same rewards")
    portfolio: list[str] | None = Field(
        None, description="backends raced for the first solution (with `backend` first), each "
                          "paused, never restarted, while another runs; the winner goes on as the "
                          "first solve, the others are resumed by 'continue' pulls on their "
                          "backend; also the sub-MIP backends unless sub_backends is set. Needs "
                          "backends with the 'pause' capability (highs, scip)")
    race_share: float = Field(
        0.1, ge=0, le=1, description="share of the budget the portfolio's race lasts at least; 0: "
                                     "it ends with the first turn that finds an incumbent (then a "
                                     "backend whose first turn finds one races alone)")
    race_slice: float = Field(
        0.05, gt=0, le=1, description="share of the budget of each backend's first turn in the "
                                      "race (later rounds double it)")
    backend_options: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="keyword arguments of each backend's factory, by backend "
                                          "name (e.g. {'highs': {'presolve': 'off'}, 'ortools-scip': "
                                          "{'solver_parameters': 'presolving/maxrounds = 1'}})")
    sub_node_limit: int | None = Field(None, ge=1, description="node limit of every sub-MIP (not "
                                                               "of 'continue' pulls)")
    continue_slice: float | None = Field(
        None, gt=0, description="first time slice of a 'continue' pull in seconds (None: twice the "
                                "sub-MIP limit); doubled after a pull that closes part of the gap")
    progress_window: float = Field(
        0.1, gt=0, le=1, description="share of the budget over which a backend search's gap-closing "
                                     "rate is measured (it is never cut while that rate would close "
                                     "the gap within the time left)")
    destroy: list[str] = Field(default_factory=lambda: list(DEFAULT_ARMS),
                               description="destroy operators (default: the paper's 16 arms and "
                                           "'continue')")
    repair: list[str] = Field(default_factory=lambda: ["sub_mip"], description="repair operators")
    destroy_params: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="per destroy operator keyword overrides, by name")
    repair_params: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="per repair operator keyword overrides, by name")
    policy: str = Field("thompson", description="bandit policy (epsilon_greedy, softmax, ucb1, thompson)")
    policy_params: dict[str, Any] = Field(default_factory=dict)
    acceptance: str = Field("hill_climbing", description="acceptance criterion")
    acceptance_params: dict[str, Any] = Field(default_factory=dict)
    scores: list[float] = Field(default_factory=lambda: list(DEFAULT_SCORES),
                                description="rewards of the outcomes [best, better, accept, reject]")
    sub_time_limit: float | None = Field(
        None, gt=0, description="seconds per sub-MIP (None: 10 % of the budget, within [0.5, 60])")
    initial_time_limit: float | None = Field(
        None, gt=0, description="seconds for the first full-problem solve (None: initial_share x budget)")
    initial_share: float = Field(0.6, gt=0, le=1,
                                 description="largest share of the budget for the first full-problem "
                                             "solve")
    initial_min_share: float = Field(0.2, ge=0, le=1,
                                     description="the first solve is never cut before this share")
    initial_stall: float | None = Field(
        0.2, gt=0, description="cut the first solve (after initial_min_share) when its incumbent has "
                               "not improved for this share of the budget; None: never")
    initial_spare_root: bool = Field(
        False, description="never cut the first solve while the backend reports it still at the "
                           "root node (HiGHS: no branch-and-bound node yet); off: measured to lose "
                           "on mkc, qiu and the 80k set cover (docs/balans.md)")
    resume_search: bool = Field(
        True, description="where the first solve is cut, pause it instead and let 'continue' pulls "
                          "resume the same search (its tree kept; neighbourhoods are solved on a "
                          "second instance of the backend); needs a backend with the 'pause' "
                          "capability (HiGHS), others restart the backend on each pull")
    resume_improving: bool = Field(
        True, description="where the first solve is paused at its cap (initial_share) while still "
                          "improving (its last new incumbent younger than initial_stall), the "
                          "loop's first pull resumes it ('continue'), before the bandit weighs it "
                          "against the neighbourhoods; off: the bandit alone decides")
    gain_per_second: bool = Field(
        True, description="the first level of the bandit (the backend's own search against the "
                          "neighbourhoods) compares what each side gained per second above a "
                          "reject's score; off: its whole reward per second (a reject's score then "
                          "pays for speed alone)")
    initial_emphasis: Literal["default", "feasibility"] = Field(
        "default", description="backend emphasis of the first full-problem solve")
    first_probe: bool = Field(
        False, description="before the first solve, a short solve without presolve whose "
                           "feasibility jump looks for a first solution (HiGHS: on the "
                           "facility-location models its presolve took 20-27 s of 30 before the "
                           "heuristic ran); it ends at its first solution, which warm-starts the "
                           "first solve, or after first_probe_share of the budget")
    first_probe_share: float = Field(
        0.05, gt=0, le=1, description="share of the budget after which the probe is interrupted "
                                      "(the heuristic itself polls nothing: it runs to its end)")
    lp_time_limit: float | None = Field(
        None, gt=0, description="seconds for the root LP (None: 10 % of the budget)")
    max_iterations: int | None = Field(None, ge=0, description="stop after this many iterations")
    no_improvement: int | None = Field(None, ge=1,
                                       description="stop after this many iterations without a new best")
    stopping: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="extra stopping rules by registry name, with their parameters")
    rel_gap: float = Field(1e-4, ge=0, description="relative gap at which the best is optimal")
    improvement_tolerance: float = Field(
        1e-6, ge=0, description="relative change below which an objective is not an improvement "
                                "(plus 1e-9 absolute)")
    pool_size: int = Field(10, ge=0, description="earlier best solutions kept for crossover")
    default_time_limit: float = Field(60.0, gt=0, description="budget when solve() gets no time limit")
    verbose: bool = Field(False, description="log each iteration at INFO level")

    @field_validator("scores")
    @classmethod
    def _four_scores(cls, v: list[float]) -> list[float]:
        if len(v) != 4:
            raise ValueError(f"scores needs 4 values [best, better, accept, reject], got {len(v)}")
        return [float(s) for s in v]

    @field_validator("destroy", "repair")
    @classmethod
    def _non_empty(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("needs at least one operator name")
        if len(set(v)) != len(v):
            raise ValueError(f"operator names repeat: {v}")
        return v

    @model_validator(mode="after")
    def _registered_names(self) -> "BalansOptions":
        # names are looked up in the plugin registries; an unknown one is bad input now, before
        # a run starts its workers, not when the search builds its components
        from solverhub.core.manager import get_plugin_manager

        pm = get_plugin_manager()
        for name in self.destroy:
            pm.get_meta("destroy", name)
        for name in self.repair:
            pm.get_meta("repair", name)
        pm.get_meta("policy", self.policy)
        pm.get_meta("acceptance", self.acceptance)
        for name in self.stopping:
            pm.get_meta("stopping", name)
        first = [self.first_backend] if self.first_backend not in (None, "auto") else []
        for name in [self.backend, *(self.sub_backends or []), *first]:
            pm.get_backend(name)
        return self
