"""Stopping rules: ``rule(state) -> bool`` (True stops the search). Each run builds fresh instances
(from the registry), so a reused solver starts over (reference defect 6). Rules are combined with OR.
The global deadline is also enforced by the loop itself, whatever rules are configured."""

from __future__ import annotations

import math

from solverhub.core.metasearch import SearchState


class TimeLimit:
    """Stop when the global deadline has passed (``state.time_left <= margin``)."""

    def __init__(self, margin: float = 0.0) -> None:
        self.margin = float(margin)

    def __call__(self, state: SearchState) -> bool:
        return state.time_left <= self.margin


class MaxIterations:
    def __init__(self, n: int = 1000) -> None:
        if int(n) < 0:
            raise ValueError(f"max_iterations must be >= 0, got {n}")
        self.n = int(n)

    def __call__(self, state: SearchState) -> bool:
        return state.iteration >= self.n


class NoImprovement:
    """Stop after ``n`` consecutive iterations without a new best solution."""

    def __init__(self, n: int = 100) -> None:
        if int(n) < 1:
            raise ValueError(f"no_improvement must be >= 1, got {n}")
        self.n = int(n)

    def __call__(self, state: SearchState) -> bool:
        return state.iterations_without_improvement >= self.n


def gap_closed(best: float, bound: float, rel_gap: float = 1e-4, abs_gap: float = 1e-9) -> bool:
    """True when ``best - bound <= max(abs_gap, rel_gap * |best|)`` (minimisation)."""
    if not (math.isfinite(best) and math.isfinite(bound)):
        return False
    return best - bound <= max(abs_gap, rel_gap * abs(best))


class Optimality:
    """Stop when the best solution is proved optimal: best - dual_bound within the gap tolerance."""

    def __init__(self, rel_gap: float = 1e-4, abs_gap: float = 1e-9) -> None:
        self.rel_gap, self.abs_gap = float(rel_gap), float(abs_gap)

    def __call__(self, state: SearchState) -> bool:
        return gap_closed(state.best_objective, state.dual_bound, self.rel_gap, self.abs_gap)
