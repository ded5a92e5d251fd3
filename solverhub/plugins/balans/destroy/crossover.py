"""Crossover: take a second feasible solution and fix the integer columns on which it agrees with the
incumbent; the others are free.

The second solution is, in order: a random earlier improving solution of this run (the solution pool
kept in ``state.solutions``) that differs from the incumbent on some integer column; otherwise the
result of a short solve of the whole problem under a random objective with feasibility emphasis
(the paper's way; the reference discards it with SCIP 10, defect 4: here it is kept, and it is also
offered to the loop as a side solution in ``state.info["side_solutions"]`` since it is feasible). If
no second solution exists, the operator falls back to mutation 50 % (recorded in ``info``)."""

from __future__ import annotations

import numpy as np

from solverhub.core.metasearch import Neighbourhood, SearchState
from solverhub.plugins.balans.destroy.base import (
    fix_except,
    integer_columns,
    rounded_incumbent,
    sample_fraction,
)
from solverhub.plugins.balans.destroy.random_objective import random_objective_vector


class Crossover:
    def __init__(self, name: str = "crossover", use_pool: bool = True, time_fraction: float = 0.5,
                 fallback_fraction: float = 0.5) -> None:
        self.name = name
        self.use_pool = bool(use_pool)
        self.time_fraction = float(time_fraction)
        self.fallback_fraction = float(fallback_fraction)

    def _second_solution(self, state: SearchState, rng: np.random.Generator):
        ints = integer_columns(state)
        inc = rounded_incumbent(state, ints)
        if self.use_pool and state.solutions:
            order = rng.permutation(len(state.solutions))
            for k in order:
                x = np.asarray(state.solutions[k])
                if np.any(np.abs(np.round(x[ints]) - inc) > 0.5):
                    return x, "pool"
        backend = state.backend
        if backend is None:
            return None, "none"
        limit = float(state.info.get("sub_time_limit", 1.0)) * self.time_fraction
        limit = min(limit, max(0.0, state.time_left))
        if limit <= 0.01:
            return None, "no time"
        with backend.modified():
            backend.set_objective(random_objective_vector(state.problem, rng))
            res = backend.solve(time_limit=limit, emphasis="feasibility",
                                seed=int(rng.integers(0, 2**31 - 1)))
        if res.x is None:
            return None, "random objective found nothing"
        x = np.asarray(res.x, dtype=np.float64)
        state.info.setdefault("side_solutions", []).append(x)
        return x, "random_objective"

    def __call__(self, state: SearchState, rng: np.random.Generator) -> Neighbourhood:
        ints = integer_columns(state)
        other, source = self._second_solution(state, rng)
        if other is None:
            return fix_except(state, sample_fraction(rng, ints, self.fallback_fraction), self.name,
                              fallback=f"no second solution ({source}): mutation")
        inc = rounded_incumbent(state, ints)
        differ = ints[np.abs(np.round(other[ints]) - inc) > 0.5]
        return fix_except(state, differ, self.name, source=source, n_differ=int(differ.size))
