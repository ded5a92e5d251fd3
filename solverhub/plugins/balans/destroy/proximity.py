"""Proximity(delta): minimise the Hamming distance to the incumbent over the binaries,

    sum_{x_inc[j] = 0} x_j + sum_{x_inc[j] = 1} (1 - x_j),

subject to the original constraints and the cutoff row c x <= c x_inc - max(delta |f_inc|, eps)
(f_inc = c x_inc + offset, the minimised objective), so every solution of the sub-MIP improves the
incumbent by at least delta (relative). The paper makes the cutoff soft with a penalised slack
column; the MIPBackend interface adds rows and swaps objectives but cannot add columns, so the
cutoff is hard here (docs/balans.md). The sub-MIP stops at its first solution (as in proximity
search) and the candidate is evaluated on the original objective. No warm start: the incumbent
violates the cutoff by construction."""

from __future__ import annotations

import numpy as np

from solverhub.core.metasearch import Neighbourhood, SearchState
from solverhub.plugins.balans.destroy.base import binary_columns, rounded_incumbent

#: smallest required improvement (absolute), so that a zero objective still asks for progress
MIN_IMPROVEMENT = 1e-6


class Proximity:
    def __init__(self, delta: float = 0.015, name: str | None = None,
                 stop_at_first: bool = True) -> None:
        self.delta = float(delta)
        self.stop_at_first = bool(stop_at_first)
        self.name = name or f"proximity_{self.delta:.3f}"

    def __call__(self, state: SearchState, rng: np.random.Generator) -> Neighbourhood:
        p = state.problem
        b = binary_columns(state)
        if b.size == 0:
            return Neighbourhood(self.name, info={"not_applicable": "no binary columns"})
        inc = rounded_incumbent(state, b)
        ones = inc > 0.5
        obj = np.zeros(p.n)
        obj[b] = np.where(ones, -1.0, 1.0)
        cx = float(p.c @ np.asarray(state.incumbent, dtype=np.float64))
        f_inc = cx + p.offset
        rhs = cx - max(self.delta * abs(f_inc), MIN_IMPROVEMENT)
        nz = np.flatnonzero(p.c)
        rows = [(nz.astype(np.int64), p.c[nz].copy(), -np.inf, rhs)] if nz.size else []
        return Neighbourhood(self.name, rows=rows, objective=obj, objective_offset=float(ones.sum()),
                             n_free=int(np.count_nonzero(p.integrality)),
                             info={"warm_start": False, "stop_at_first": self.stop_at_first,
                                   "cutoff_rhs": rhs})
