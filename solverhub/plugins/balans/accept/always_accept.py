"""Always accept (a random walk over the sub-MIP solutions; the best is still kept)."""

from __future__ import annotations

import numpy as np


class AlwaysAccept:
    def __call__(self, rng: np.random.Generator, best: float, current: float, candidate: float) -> bool:
        return True
