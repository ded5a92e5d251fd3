"""The result of a solve, common to every solver and problem kind (DESIGN.md section 3)."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from solverhub.core.serialize import jsonable

__all__ = ["Status", "Result", "primal_gap", "primal_integral"]


class Status(str, enum.Enum):
    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    TIME_LIMIT = "time_limit"
    ITERATION_LIMIT = "iteration_limit"
    INTERRUPTED = "interrupted"
    ERROR = "error"

    def __str__(self) -> str:
        return self.value

    @property
    def has_solution_possible(self) -> bool:
        return self in (Status.OPTIMAL, Status.FEASIBLE, Status.TIME_LIMIT,
                        Status.ITERATION_LIMIT, Status.INTERRUPTED)


def primal_gap(value: float | None, reference: float) -> float:
    """Berthold's primal gap in [0, 1]: 1 without an incumbent or with opposite signs."""
    if value is None or not math.isfinite(value):
        return 1.0
    if abs(reference) < 1e-12 and abs(value) < 1e-12:
        return 0.0
    if reference * value < 0:
        return 1.0
    denom = max(abs(reference), abs(value))
    return min(1.0, abs(reference - value) / denom) if denom > 0 else 0.0


def primal_integral(trajectory: list[tuple[float, float]], reference: float, horizon: float,
                    *, normalize: bool = True, sense: int = 1) -> float:
    """Primal integral (Berthold 2013) of a (time, incumbent) trajectory over [0, horizon].

    Before the first incumbent the gap is 1. With ``normalize`` the integral is divided by the
    horizon, giving a number in [0, 1]. ``sense`` is unused for the gap (it is symmetric) but kept
    so that callers state what the objective values mean.
    """
    if horizon <= 0:
        return float("nan")
    total, t_prev, g_prev = 0.0, 0.0, 1.0
    for t, obj in sorted(trajectory):
        t = min(max(t, 0.0), horizon)
        total += g_prev * (t - t_prev)
        t_prev, g_prev = t, primal_gap(obj, reference)
    total += g_prev * (horizon - t_prev)
    return total / horizon if normalize else total


@dataclass
class Result:
    """What every solver returns.

    ``objective`` is in the problem's own sense (a maximisation reports the maximum); ``bound`` is
    the best proven dual bound in the same sense, or ``None``; ``trajectory`` lists (seconds since
    start, incumbent objective) pairs at each improvement.
    """

    status: Status
    objective: float | None = None
    bound: float | None = None
    x: np.ndarray | None = None
    runtime: float = 0.0
    iterations: int = 0
    trajectory: list[tuple[float, float]] = field(default_factory=list)
    primal_integral: float | None = None
    solver: str = ""
    instance: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    #: the problem kind's scalars (MIP: primal_gap, gap; continuous kinds: residuals, errors ...)
    metrics: dict[str, float] = field(default_factory=dict)
    #: thinned column-wise iteration log: {"iteration": [...], "time": [...], "<scalar>": [...]}
    history: dict[str, list[Any]] = field(default_factory=dict)
    #: the problem kind's name (``mip``, ...), set by the host
    kind: str = ""

    def __post_init__(self) -> None:
        self.status = Status(self.status)

    @property
    def gap(self) -> float | None:
        """Relative gap between objective and bound, or None when either is missing."""
        if self.objective is None or self.bound is None:
            return None
        denom = max(abs(self.objective), 1e-10)
        return abs(self.objective - self.bound) / denom

    def with_reference(self, reference: float, horizon: float | None = None) -> "Result":
        """Fill ``primal_integral`` (normalised by ``horizon``, default the runtime) from a known
        optimal or best-known value."""
        h = horizon if horizon is not None else self.runtime
        self.primal_integral = primal_integral(self.trajectory, reference, h)
        return self

    def to_dict(self, *, include_x: bool = False) -> dict[str, Any]:
        """The JSON contract of DESIGN.md section 5 (plus ``info``). An error result shows no
        objective, bound or x, whatever a solver left in them: they would read as an answer."""
        failed = self.status == Status.ERROR
        d: dict[str, Any] = {
            "status": self.status.value,
            "objective": None if failed else finite_or_none(self.objective),
            "bound": None if failed else finite_or_none(self.bound),
            "runtime": self.runtime,
            "iterations": self.iterations,
            "solver": self.solver,
            "instance": self.instance,
            "primal_integral": finite_or_none(self.primal_integral),
            "trajectory": [[float(t), float(v)] for t, v in self.trajectory],
            "options": _jsonable(self.options),
            "info": _jsonable(self.info),
            "kind": self.kind,
            "metrics": _jsonable(self.metrics),
            "history": _jsonable(self.history),
        }
        if self.error is not None:
            d["error"] = self.error
        if include_x and self.x is not None and not failed:
            d["x"] = [float(v) for v in np.asarray(self.x).ravel()]
        return d

    def plot(self, ax=None, reference: float | None = None):
        """Plot the incumbent (and bound, where tracked) over time; returns the matplotlib axes."""
        from solverhub.core.plotting import plot_trajectory

        return plot_trajectory(self, ax=ax, reference=reference)


def finite_or_none(v: Any) -> float | None:
    """``float(v)`` when it is a finite number (booleans excluded), else None."""
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


# one sanitizer for every JSON the project writes
_jsonable = jsonable
