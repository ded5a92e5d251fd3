"""DINS: an integer column whose incumbent value is at least 0.5 away from its root-LP value is
bounded by |x - x_lp| <= |x_inc - x_lp| (intersected with its bounds and rounded inwards); every
other integer column is fixed to the incumbent. Binaries follow the same rule (the interval then
usually covers {0, 1}, i.e. the binary is free). Without an LP solution: mutation 50 %."""

from __future__ import annotations

import numpy as np

from solverhub.core.metasearch import Neighbourhood, SearchState
from solverhub.plugins.balans.destroy.base import (
    fix_except,
    integer_columns,
    rounded_incumbent,
    sample_fraction,
)


class DINS:
    def __init__(self, name: str = "dins") -> None:
        self.name = name

    def __call__(self, state: SearchState, rng: np.random.Generator) -> Neighbourhood:
        p = state.problem
        ints = integer_columns(state)
        if state.lp_x is None:
            return fix_except(state, sample_fraction(rng, ints, 0.5), self.name,
                              fallback="no LP solution: mutation")
        inc = rounded_incumbent(state, ints)
        lp = state.lp_x[ints]
        dist = np.abs(inc - lp)
        far = dist >= 0.5
        j = ints[far]
        lo = np.maximum(p.col_lower[j], np.ceil(lp[far] - dist[far] - 1e-9))
        up = np.minimum(p.col_upper[j], np.floor(lp[far] + dist[far] + 1e-9))
        lo, up = np.minimum(lo, inc[far]), np.maximum(up, inc[far])  # keep the incumbent inside
        nb = fix_except(state, j[:0], self.name, extra_idx=j, extra_lower=lo, extra_upper=up)
        nb.n_free = int(j.size)
        return nb
