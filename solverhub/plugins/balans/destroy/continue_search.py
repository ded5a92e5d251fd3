"""Continue: the whole problem, nothing restricted, as an arm the bandit can pull like any neighbourhood.

The repair operator then runs the backend's own search on the full model, warm-started from the
incumbent (the backend prunes with it: HiGHS takes it as its incumbent, SCIP as a full hint). The
solver gives the pull its own time slice (``state.info["continue_slice"]``), doubles the slice after a
pull that closed part of the gap (a new best, or a dual bound rise of at least ``gap_share`` of the
gap), and never cuts a pull while its own search is closing the gap (docs/balans.md, "Continue").
Neither HiGHS nor SCIP (through OR-Tools) can resume a branch-and-bound tree, so each pull restarts
the backend's search; the dual bound of earlier pulls is kept by the solver.
"""

from __future__ import annotations

import numpy as np

from solverhub.core.metasearch import Neighbourhood, SearchState
from solverhub.plugins.balans.destroy.base import integer_columns

__all__ = ["ContinueSearch"]


class ContinueSearch:
    def __init__(self, name: str = "continue", gap_share: float = 0.1) -> None:
        if not 0.0 < gap_share <= 1.0:
            raise ValueError(f"continue: gap_share must be in (0, 1], got {gap_share}")
        self.name = name
        self.gap_share = float(gap_share)

    def __call__(self, state: SearchState, rng: np.random.Generator) -> Neighbourhood:
        return Neighbourhood(name=self.name, n_free=int(integer_columns(state).size),
                             time_limit=state.info.get("continue_slice"),
                             info={"continue": True, "warm_start": True,
                                   "gap_share": self.gap_share})
