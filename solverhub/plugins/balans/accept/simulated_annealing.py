"""Simulated annealing: accept a candidate not worse than the current one; accept a worse one with
probability exp(-(candidate - current) / T). The temperature T goes from ``start_temperature`` to
``end_temperature`` by ``step`` each iteration (linear decay; the paper: 20 -> 1 by 0.1). The loop calls
``step()`` on iterations without a candidate, so the schedule is per iteration."""

from __future__ import annotations

import math

import numpy as np

from solverhub.plugins.balans.accept.schedule import Schedule


class SimulatedAnnealing:
    def __init__(self, start_temperature: float = 20.0, end_temperature: float = 1.0, step: float = 0.1,
                 method: str = "linear") -> None:
        if not (start_temperature > 0 and end_temperature > 0 and end_temperature <= start_temperature):
            raise ValueError("simulated annealing needs start_temperature >= end_temperature > 0")
        self.schedule = Schedule(start_temperature, end_temperature, step, method)

    @property
    def temperature(self) -> float:
        return self.schedule.value

    def step(self) -> None:
        self.schedule.step()

    def __call__(self, rng: np.random.Generator, best: float, current: float, candidate: float) -> bool:
        t = self.schedule.value
        self.schedule.step()
        if candidate <= current:
            return True
        if not math.isfinite(candidate):
            return False
        return bool(rng.random() < math.exp(-(candidate - current) / t))
