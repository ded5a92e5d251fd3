"""Local branching(p): add the row

    sum_{j binary, x_inc[j] = 0} x_j + sum_{j binary, x_inc[j] = 1} (1 - x_j) <= k

(at most k binaries flip), with k drawn uniformly from 1..K, K = max(1, round(p * #binaries)); nothing
is fixed. As in the paper, the sub-MIP gets a longer limit (``time_factor`` x the per-iteration limit;
paper: 150 s against 60 s). Without binaries the neighbourhood is the whole problem, which is not a
neighbourhood: it is returned empty with ``info["not_applicable"]`` and the loop rejects it without a
solve."""

from __future__ import annotations

import numpy as np

from solverhub.core.metasearch import Neighbourhood, SearchState
from solverhub.plugins.balans.destroy.base import binary_columns, rounded_incumbent


class LocalBranching:
    def __init__(self, fraction: float = 0.25, name: str | None = None, random_k: bool = True,
                 time_factor: float = 2.5) -> None:
        self.fraction = float(fraction)
        self.random_k = bool(random_k)
        self.time_factor = float(time_factor)
        self.name = name or f"local_branching_{round(self.fraction * 100)}"

    def __call__(self, state: SearchState, rng: np.random.Generator) -> Neighbourhood:
        b = binary_columns(state)
        if b.size == 0:
            return Neighbourhood(self.name, info={"not_applicable": "no binary columns"})
        kmax = max(1, int(np.floor(self.fraction * b.size + 0.5)))
        k = int(rng.integers(1, kmax + 1)) if self.random_k else kmax
        inc = rounded_incumbent(state, b)
        ones = inc > 0.5
        vals = np.where(ones, -1.0, 1.0)
        upper = float(k - int(ones.sum()))
        limit = state.info.get("sub_time_limit")
        return Neighbourhood(self.name, rows=[(b.astype(np.int64), vals, -np.inf, upper)],
                             n_free=int(b.size),
                             time_limit=None if limit is None else self.time_factor * float(limit),
                             info={"k": k, "kmax": kmax})
