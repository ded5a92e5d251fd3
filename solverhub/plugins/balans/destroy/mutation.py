"""Mutation(p): free a random fraction p of the integer columns, fix the others to the incumbent."""

from __future__ import annotations

import numpy as np

from solverhub.core.metasearch import Neighbourhood, SearchState
from solverhub.plugins.balans.destroy.base import fix_except, integer_columns, sample_fraction


class Mutation:
    def __init__(self, fraction: float = 0.5, name: str | None = None) -> None:
        self.fraction = float(fraction)
        self.name = name or f"mutation_{round(self.fraction * 100)}"

    def __call__(self, state: SearchState, rng: np.random.Generator) -> Neighbourhood:
        free = sample_fraction(rng, integer_columns(state), self.fraction)
        return fix_except(state, free, self.name)
