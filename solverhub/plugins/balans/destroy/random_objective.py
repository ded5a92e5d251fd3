"""Random objective: replace the objective by a random one (uniform in [-1, 1] on the integer columns
with finite bounds, 0 elsewhere, so the sub-MIP stays bounded), keep every constraint and fix a
fraction ``1 - free_fraction`` of the integer columns to the incumbent (default: nothing fixed, as in
the paper). A diversification move: the candidate is evaluated on the original objective."""

from __future__ import annotations

import numpy as np

from solverhub.core.metasearch import Neighbourhood, SearchState
from solverhub.plugins.balans.destroy.base import fix_except, integer_columns, sample_fraction


def random_objective_vector(problem, rng: np.random.Generator) -> np.ndarray:
    c = np.zeros(problem.n)
    ok = problem.integrality & np.isfinite(problem.col_lower) & np.isfinite(problem.col_upper)
    c[ok] = rng.uniform(-1.0, 1.0, size=int(ok.sum()))
    return c


class RandomObjective:
    def __init__(self, free_fraction: float = 1.0, name: str = "random_objective") -> None:
        self.free_fraction = float(free_fraction)
        self.name = name

    def __call__(self, state: SearchState, rng: np.random.Generator) -> Neighbourhood:
        ints = integer_columns(state)
        free = ints if self.free_fraction >= 1.0 else sample_fraction(rng, ints, self.free_fraction)
        nb = fix_except(state, free, self.name)
        nb.objective = random_objective_vector(state.problem, rng)
        nb.info["warm_start"] = True
        return nb
