"""Destroy operator ``knapsack_ratio_destroy`` for LNS meta-solvers such as Balans.

It works on any MIP (not only knapsacks). Each integer column j gets an *efficiency*: its objective
benefit per unit of row usage, ``-c_j / (eps + sum_i |a_ij| / scale_i)`` (the problem seen by
operators is a minimisation; ``scale_i`` is the row's largest finite bound, at least 1). Columns
whose incumbent value disagrees with their efficiency are suspicious: an efficient column at its
lower bound (an item worth packing that is left out) or an inefficient one above it (a poor item
that is packed). The operator frees ``rate`` of the integer columns: the most suspicious
``(1 - random_share)`` of them plus random others, and fixes every other integer column to the
incumbent. Continuous columns keep their bounds.
"""

from __future__ import annotations

import numpy as np

from solverhub import Neighbourhood, SearchState

__all__ = ["RatioDestroy", "NAME"]

NAME = "knapsack_ratio_destroy"


class RatioDestroy:
    """Built fresh per run by the MetaComponent factory: ``RatioDestroy(rate=0.2, random_share=0.5)``."""

    def __init__(self, rate: float = 0.2, random_share: float = 0.5, name: str = NAME) -> None:
        if not 0.0 < rate <= 1.0:
            raise ValueError(f"{name}: rate must be in (0, 1], got {rate!r}")
        if not 0.0 <= random_share <= 1.0:
            raise ValueError(f"{name}: random_share must be in [0, 1], got {random_share!r}")
        self.rate = float(rate)
        self.random_share = float(random_share)
        self.name = name
        self._rank_cache: tuple[int, np.ndarray] | None = None

    def _efficiency_rank(self, state: SearchState, ints: np.ndarray) -> np.ndarray:
        """Rank in [0, 1] of each integer column's efficiency (1 = most efficient); cached per problem."""
        p = state.problem
        if self._rank_cache is not None and self._rank_cache[0] == id(p):
            return self._rank_cache[1]
        bounds = np.column_stack([np.abs(p.row_lower), np.abs(p.row_upper)])
        bounds[~np.isfinite(bounds)] = 0.0
        scale = np.maximum(bounds.max(axis=1), 1.0) if p.m else np.ones(0)
        A = abs(p.A[:, ints]).tocsc()
        usage = np.asarray(A.multiply(1.0 / scale[:, None]).sum(axis=0)).ravel() if p.m else np.zeros(ints.size)
        efficiency = -p.c[ints] / (usage + 1e-9)
        order = np.argsort(efficiency, kind="stable")
        rank = np.empty(ints.size)
        rank[order] = np.arange(ints.size) / max(ints.size - 1, 1)
        self._rank_cache = (id(p), rank)
        return rank

    def __call__(self, state: SearchState, rng: np.random.Generator) -> Neighbourhood:
        p = state.problem
        ints = np.flatnonzero(p.integrality)
        if ints.size == 0:
            return Neighbourhood(name=self.name, info={"reason": "no integer columns"})
        k = min(ints.size, max(1, int(round(self.rate * ints.size))))
        rank = self._efficiency_rank(state, ints)
        x = np.asarray(state.incumbent, dtype=np.float64)[ints]
        at_lower = x <= p.col_lower[ints] + 0.5
        suspicion = np.where(at_lower, rank, 1.0 - rank)
        n_greedy = int(round(k * (1.0 - self.random_share)))
        # ties are broken at random so that equal columns (e.g. copies of one item) take turns
        order = np.lexsort((rng.random(ints.size), -suspicion))
        chosen = order[:n_greedy]
        rest = order[n_greedy:]
        if k > n_greedy:
            chosen = np.concatenate([chosen, rng.choice(rest, size=k - n_greedy, replace=False)])
        free = np.zeros(ints.size, dtype=bool)
        free[chosen] = True
        fixed = ints[~free]
        values = np.clip(np.round(np.asarray(state.incumbent, dtype=np.float64)[fixed]),
                         p.col_lower[fixed], p.col_upper[fixed])
        return Neighbourhood(name=self.name, bound_idx=fixed.astype(np.int64), lower=values,
                             upper=values.copy(), n_free=int(k),
                             info={"n_fixed": int(fixed.size), "n_suspicious": n_greedy,
                                   "n_random": int(k - n_greedy)})
