"""A start -> end schedule stepped once per iteration (linear or exponential)."""

from __future__ import annotations


class Schedule:
    def __init__(self, start: float, end: float, step: float, method: str = "linear") -> None:
        if method not in ("linear", "exponential"):
            raise ValueError(f"schedule method must be 'linear' or 'exponential', got {method!r}")
        if method == "exponential" and not 0 < step < 1:
            raise ValueError(f"an exponential schedule needs 0 < step < 1, got {step}")
        if step < 0:
            raise ValueError(f"schedule step must be >= 0, got {step}")
        self.start, self.end, self.step_size, self.method = float(start), float(end), float(step), method
        self.value = self.start

    def step(self) -> None:
        if self.method == "linear":
            self.value = max(self.end, self.value - self.step_size)
        else:
            self.value = max(self.end, self.value * self.step_size)
