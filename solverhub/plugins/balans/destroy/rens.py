"""RENS(p): among the integer columns that are fractional in the root LP, a random fraction p
(without replacement) may move inside their LP rounding box [floor(x_lp), ceil(x_lp)] (widened to
contain the incumbent value, so that the incumbent stays a valid warm start); every other integer
column is fixed to the incumbent. With ``textbook=True`` the LP-integral columns are fixed to their
LP value instead (classic RENS; the incumbent is then usually outside the neighbourhood)."""

from __future__ import annotations

import numpy as np

from solverhub.core.metasearch import Neighbourhood, SearchState
from solverhub.plugins.balans.destroy.base import (
    fix_except,
    integer_columns,
    rounded_incumbent,
    sample_fraction,
)

FRAC_TOL = 1e-6


class RENS:
    def __init__(self, fraction: float = 0.5, name: str | None = None, textbook: bool = False) -> None:
        self.fraction = float(fraction)
        self.textbook = bool(textbook)
        self.name = name or f"rens_{round(self.fraction * 100)}"

    def __call__(self, state: SearchState, rng: np.random.Generator) -> Neighbourhood:
        p = state.problem
        ints = integer_columns(state)
        if state.lp_x is None:
            return fix_except(state, sample_fraction(rng, ints, self.fraction), self.name,
                              fallback="no LP solution: mutation")
        xl = state.lp_x[ints]
        frac = ints[np.abs(xl - np.round(xl)) > FRAC_TOL]
        chosen = sample_fraction(rng, frac, self.fraction)
        inc = rounded_incumbent(state, chosen)
        lo = np.maximum(p.col_lower[chosen], np.minimum(np.floor(state.lp_x[chosen]), inc))
        up = np.minimum(p.col_upper[chosen], np.maximum(np.ceil(state.lp_x[chosen]), inc))
        nb = fix_except(state, chosen[:0], self.name, extra_idx=chosen, extra_lower=lo,
                        extra_upper=up, n_candidates=int(frac.size))
        nb.n_free = int(chosen.size)
        if self.textbook:
            integral = ints[np.abs(xl - np.round(xl)) <= FRAC_TOL]
            pos = {int(j): k for k, j in enumerate(nb.bound_idx)}
            vals = np.clip(np.round(state.lp_x[integral]), p.col_lower[integral], p.col_upper[integral])
            for j, v in zip(integral, vals):
                k = pos[int(j)]
                nb.lower[k] = nb.upper[k] = v
        return nb
