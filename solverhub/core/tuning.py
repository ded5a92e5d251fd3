"""Online tuning across an instance sequence (issue 24; Khodak, Chow, Balcan, Talwalkar, "Learning
to Relax", ICLR 2024): before each solve a tuner picks a value of one solver option from a
:class:`ParameterSpace`; after it, the tuner sees only that solve's cost (iterations, runtime, any
metric) and, for contextual tuners, the instance's context features.

Tuners are registered through the ``solverhub_tuners`` hook as :class:`~solverhub.core.records.
TunerSpec` records (built-ins: ``tsallis-inf``, ``chebcb``, ``exp3``, ``ucb1``, ``fixed`` in
:mod:`solverhub.plugins.tuners`). A tuner object follows :class:`Tuner`: ``choose(context)``
returns the option value, ``observe(cost)`` reports the cost of the last choice.
"""

from __future__ import annotations

import math
from typing import Any, Literal, Protocol, Sequence, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["ParameterSpace", "Tuner", "ArmTuner"]


class ParameterSpace(BaseModel):
    """The values one option may take: a ``grid`` of given ``values``, or an ``interval`` /
    ``log-interval`` [low, high] discretized into ``points`` arms (evenly, or evenly in log) for
    the discrete tuners (the paper's omega grid)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="the solver option tuned (e.g. omega)")
    kind: Literal["grid", "interval", "log-interval"] = "interval"
    values: list[float] | None = None
    low: float | None = None
    high: float | None = None
    points: int = Field(20, ge=1, le=10_000, description="arms of an interval's discretization")

    @model_validator(mode="after")
    def _check(self) -> "ParameterSpace":
        if self.kind == "grid":
            if not self.values:
                raise ValueError(f"parameter {self.name!r}: a grid needs a non-empty 'values' list")
            if self.low is not None or self.high is not None:
                raise ValueError(f"parameter {self.name!r}: a grid takes 'values', not low/high")
            return self
        if self.values is not None:
            raise ValueError(f"parameter {self.name!r}: an {self.kind} takes low/high, not values")
        if self.low is None or self.high is None or not (math.isfinite(self.low)
                                                         and math.isfinite(self.high)):
            raise ValueError(f"parameter {self.name!r}: an {self.kind} needs finite low and high")
        if not self.low < self.high:
            raise ValueError(f"parameter {self.name!r}: low {self.low} must be below high {self.high}")
        if self.kind == "log-interval" and self.low <= 0:
            raise ValueError(f"parameter {self.name!r}: a log-interval needs low > 0, got {self.low}")
        return self

    def arms(self) -> list[float]:
        """The discrete values the bandit tuners choose among (midpoints of ``points`` equal
        cells for an interval, so the open ends of omega in (0, 2) are never chosen)."""
        if self.kind == "grid":
            return [float(v) for v in self.values or []]
        assert self.low is not None and self.high is not None
        cells = (np.arange(self.points) + 0.5) / self.points
        if self.kind == "interval":
            return [float(v) for v in self.low + cells * (self.high - self.low)]
        lo, hi = math.log(self.low), math.log(self.high)
        return [float(v) for v in np.exp(lo + cells * (hi - lo))]


@runtime_checkable
class Tuner(Protocol):
    """What a :class:`~solverhub.core.records.TunerSpec` factory returns."""

    def choose(self, context: Sequence[float] | None = None) -> float: ...

    def observe(self, cost: float) -> None: ...


class ArmTuner:
    """Base of the discrete tuners: arms from the space, costs scaled to losses in [0, 1] by
    ``cost_bound`` (the paper's iteration cap: a solve that hits the cap costs 1), a seeded
    generator, and the index of the last arm chosen."""

    contextual = False

    def __init__(self, space: ParameterSpace, *, cost_bound: float, seed: int = 0) -> None:
        if not (cost_bound > 0 and math.isfinite(cost_bound)):
            raise ValueError(f"cost_bound must be a positive number, got {cost_bound!r}")
        self.space = space
        self.arms = space.arms()
        self.k = len(self.arms)
        self.cost_bound = float(cost_bound)
        self.rng = np.random.default_rng(seed)
        self.t = 0  # decisions made
        self.last: int | None = None

    def loss(self, cost: float) -> float:
        c = float(cost)
        if math.isnan(c):
            c = self.cost_bound  # a failed solve costs the cap
        return min(1.0, max(0.0, c / self.cost_bound))

    def choose(self, context: Sequence[float] | None = None) -> float:
        self.t += 1
        self.last = int(self._pick(context))
        return self.arms[self.last]

    def observe(self, cost: float) -> None:
        if self.last is None:
            raise RuntimeError(f"{type(self).__name__}.observe called before choose")
        self._update(self.last, self.loss(cost))

    def _pick(self, context: Sequence[float] | None) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def _update(self, arm: int, loss: float) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def probabilities(self) -> np.ndarray | None:
        """The current sampling distribution over arms, where the tuner has one."""
        return None
