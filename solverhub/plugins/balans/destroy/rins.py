"""RINS(p): among the integer columns whose incumbent value differs from the root-LP value, free a
random fraction p (without replacement); fix every other integer column to the incumbent. Without
an LP solution it falls back to mutation over all integer columns (recorded in ``info``)."""

from __future__ import annotations

import numpy as np

from solverhub.core.metasearch import Neighbourhood, SearchState
from solverhub.plugins.balans.destroy.base import fix_except, integer_columns, sample_fraction

#: a column "differs" when |x_inc - x_lp| exceeds this
DIFF_TOL = 1e-6


class RINS:
    def __init__(self, fraction: float = 0.5, name: str | None = None) -> None:
        self.fraction = float(fraction)
        self.name = name or f"rins_{round(self.fraction * 100)}"

    def __call__(self, state: SearchState, rng: np.random.Generator) -> Neighbourhood:
        ints = integer_columns(state)
        if state.lp_x is None:
            return fix_except(state, sample_fraction(rng, ints, self.fraction), self.name,
                              fallback="no LP solution: mutation")
        diff = ints[np.abs(np.asarray(state.incumbent)[ints] - state.lp_x[ints]) > DIFF_TOL]
        free = sample_fraction(rng, diff, self.fraction)
        return fix_except(state, free, self.name, n_candidates=int(diff.size))
