"""Protocols of the meta-search building blocks that plugins register through the meta-search hooks
(``solverhub_destroy_operators`` ...). They are deliberately tiny (as in ALNS): a meta-solver such as
Balans composes them; a third-party plugin adds one by returning a ``MetaComponent`` whose factory
builds an object of the matching protocol.

All objective values seen by these objects are *minimised* (a max problem is negated first).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from solverhub.core.mip import MIPProblem

__all__ = [
    "SearchState",
    "Neighbourhood",
    "Candidate",
    "DestroyOperator",
    "RepairOperator",
    "BanditPolicy",
    "AcceptanceCriterion",
    "StoppingRule",
    "Outcome",
]


class Outcome:
    """Outcome indices of one iteration; rewards are ``scores[outcome]``."""

    BEST, BETTER, ACCEPT, REJECT = 0, 1, 2, 3
    NAMES = ("best", "better", "accept", "reject")


@dataclass
class SearchState:
    """What operators may look at. ``problem`` is the minimisation form; ``backend`` the run's
    :class:`~solverhub.core.backend.MIPBackend` (for operators that need extra solves, e.g.
    crossover); ``lp_x`` the root LP relaxation solution (or None)."""

    problem: MIPProblem
    incumbent: np.ndarray          # current solution (accepted by the acceptance criterion)
    incumbent_objective: float
    best: np.ndarray               # best solution found so far
    best_objective: float
    lp_x: np.ndarray | None
    lp_objective: float | None
    dual_bound: float              # best proven lower bound (-inf if none)
    backend: Any
    iteration: int = 0
    elapsed: float = 0.0
    time_left: float = float("inf")
    iterations_without_improvement: int = 0
    solutions: list[np.ndarray] = field(default_factory=list)  # pool of earlier improving solutions
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class Neighbourhood:
    """A restriction of the problem around the incumbent, applied to the backend by the repair
    operator and undone afterwards.

    ``bound_idx/lower/upper`` change column bounds (fixing when lower == upper); ``rows`` are extra
    constraints ``(idx, vals, lo, up)``; ``objective`` replaces the objective (minimised) when set.
    ``solution_filter`` is whether a sub-MIP solution is compared on the *original* objective
    (always true for Balans). ``n_free`` counts integer columns left free, for statistics.
    """

    name: str
    bound_idx: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    lower: np.ndarray = field(default_factory=lambda: np.zeros(0))
    upper: np.ndarray = field(default_factory=lambda: np.zeros(0))
    rows: list[tuple[np.ndarray, np.ndarray, float, float]] = field(default_factory=list)
    objective: np.ndarray | None = None
    objective_offset: float = 0.0
    n_free: int = 0
    time_limit: float | None = None  # operator-specific cap (e.g. longer for local branching)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        """True when nothing is restricted (the sub-MIP would be the whole problem)."""
        return self.bound_idx.size == 0 and not self.rows and self.objective is None


@dataclass
class Candidate:
    """A repaired solution: ``x`` (or None when the sub-MIP found nothing), its original
    objective (minimised), and the backend status of the sub-MIP."""

    x: np.ndarray | None
    objective: float
    status: str
    runtime: float = 0.0
    bound: float | None = None   # sub-MIP dual bound (a bound on the whole problem only if nothing was restricted)
    info: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class DestroyOperator(Protocol):
    def __call__(self, state: SearchState, rng: np.random.Generator) -> Neighbourhood: ...


@runtime_checkable
class RepairOperator(Protocol):
    def __call__(self, state: SearchState, neighbourhood: Neighbourhood, time_limit: float,
                 rng: np.random.Generator) -> Candidate: ...


@runtime_checkable
class BanditPolicy(Protocol):
    """Built by ``factory(n_arms=..., **params)``."""

    def select(self, rng: np.random.Generator) -> int: ...

    def update(self, arm: int, reward: float) -> None: ...


@runtime_checkable
class AcceptanceCriterion(Protocol):
    def __call__(self, rng: np.random.Generator, best: float, current: float, candidate: float) -> bool: ...


@runtime_checkable
class StoppingRule(Protocol):
    def __call__(self, state: SearchState) -> bool: ...
