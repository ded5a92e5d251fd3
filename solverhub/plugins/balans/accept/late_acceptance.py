"""Late-acceptance hill climbing (Burke & Bykov): accept a candidate not worse than the current
solution or than the current solution of ``history_length`` iterations ago."""

from __future__ import annotations

import math

import numpy as np


class LateAcceptanceHillClimbing:
    def __init__(self, history_length: int = 10) -> None:
        if int(history_length) < 1:
            raise ValueError(f"history_length must be >= 1, got {history_length}")
        self.history_length = int(history_length)
        self.history: list[float] | None = None
        self.position = 0
        self._current = math.inf

    def _record(self, value: float) -> None:
        if self.history is None:
            self.history = [value] * self.history_length
        self.history[self.position] = value
        self.position = (self.position + 1) % self.history_length

    def step(self) -> None:
        if self.history is not None:
            self._record(self._current)

    def __call__(self, rng: np.random.Generator, best: float, current: float, candidate: float) -> bool:
        if self.history is None:
            self.history = [current] * self.history_length
        ok = math.isfinite(candidate) and (candidate <= current or candidate <= self.history[self.position])
        self._current = candidate if ok else current
        self._record(self._current)
        return ok
