"""Great deluge: accept a candidate below the water level. The level starts at
best + alpha * max(|best|, 1) on the first call and falls each iteration by beta * (level - best)."""

from __future__ import annotations

import math

import numpy as np


class GreatDeluge:
    def __init__(self, alpha: float = 0.01, beta: float = 0.05) -> None:
        if alpha < 0 or not 0 < beta <= 1:
            raise ValueError("great deluge needs alpha >= 0 and 0 < beta <= 1")
        self.alpha, self.beta = float(alpha), float(beta)
        self.level: float | None = None
        self._best = math.inf

    def step(self) -> None:
        if self.level is not None:
            self.level -= self.beta * (self.level - self._best)

    def __call__(self, rng: np.random.Generator, best: float, current: float, candidate: float) -> bool:
        self._best = best
        if self.level is None:
            self.level = best + self.alpha * max(abs(best), 1.0)
        ok = math.isfinite(candidate) and (candidate <= current or candidate <= self.level)
        self.step()
        return ok
