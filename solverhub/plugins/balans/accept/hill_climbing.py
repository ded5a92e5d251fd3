"""Hill climbing: accept a candidate that is not worse than the current solution."""

from __future__ import annotations

import numpy as np


class HillClimbing:
    def __call__(self, rng: np.random.Generator, best: float, current: float, candidate: float) -> bool:
        return candidate <= current
