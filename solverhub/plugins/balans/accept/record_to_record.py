"""Record-to-record travel: accept a candidate within ``threshold`` of the best objective,
candidate - best <= threshold (relative to |best| when ``relative``, floored at 1). The threshold
goes from ``start_threshold`` to ``end_threshold`` by ``step`` per iteration."""

from __future__ import annotations

import math

import numpy as np

from solverhub.plugins.balans.accept.schedule import Schedule


class RecordToRecordTravel:
    def __init__(self, start_threshold: float = 0.02, end_threshold: float = 0.0, step: float = 0.001,
                 method: str = "linear", relative: bool = True) -> None:
        if start_threshold < 0 or end_threshold < 0 or end_threshold > start_threshold:
            raise ValueError("record-to-record travel needs start_threshold >= end_threshold >= 0")
        self.schedule = Schedule(start_threshold, end_threshold, step, method)
        self.relative = bool(relative)

    def step(self) -> None:
        self.schedule.step()

    def __call__(self, rng: np.random.Generator, best: float, current: float, candidate: float) -> bool:
        thr = self.schedule.value * (max(abs(best), 1.0) if self.relative else 1.0)
        self.schedule.step()
        return math.isfinite(candidate) and (candidate <= current or candidate - best <= thr)
