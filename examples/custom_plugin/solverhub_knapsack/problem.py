"""The ``knapsack`` problem kind: a small typed object the host can verify solutions against, its
text-file reader, and its conversion to solverhub's MIP matrix form and back."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

import solverhub as sh

__all__ = ["KnapsackProblem", "KnapsackReport", "read_knapsack", "to_mip", "from_mip", "packable_items"]

_TOL = 1e-6


@dataclass
class KnapsackReport:
    """What :meth:`KnapsackProblem.check` returns; the host reads ``feasible`` and ``objective``."""

    feasible: bool
    objective: float
    weight: float
    capacity: float
    max_integrality_violation: float

    def __str__(self) -> str:
        return (f"feasible={self.feasible} weight={self.weight:g}/{self.capacity:g} "
                f"int_viol={self.max_integrality_violation:.3g}")


class KnapsackProblem:
    """0/1 knapsack: maximise ``values @ x`` subject to ``weights @ x <= capacity``, x binary."""

    kind = "knapsack"   # the name of the problem kind this plugin registers
    sense = sh.MAX

    def __init__(self, values, weights, capacity: float, name: str = "knapsack",
                 source: str | None = None) -> None:
        self.values = np.asarray(values, dtype=np.float64).ravel()
        self.weights = np.asarray(weights, dtype=np.float64).ravel()
        self.capacity = float(capacity)
        self.name = name
        self.source = source
        who = source or name
        if self.values.size == 0:
            raise sh.BadInputError(f"{who}: a knapsack needs at least one item")
        if self.values.size != self.weights.size:
            raise sh.BadInputError(f"{who}: {self.values.size} values but {self.weights.size} weights")
        if not (np.all(np.isfinite(self.values)) and np.all(np.isfinite(self.weights))):
            raise sh.BadInputError(f"{who}: values and weights must be finite numbers")
        if np.any(self.weights < 0):
            raise sh.BadInputError(f"{who}: item {int(np.argmax(self.weights < 0))} has a negative weight")
        if not math.isfinite(self.capacity) or self.capacity < 0:
            raise sh.BadInputError(f"{who}: capacity must be a finite number >= 0, got {capacity!r}")

    @property
    def n(self) -> int:
        return self.values.size

    def evaluate(self, x) -> float:
        """Total value of the items selected by ``x``."""
        return float(self.values @ np.asarray(x, dtype=np.float64).ravel())

    def check(self, x) -> KnapsackReport:
        """Feasibility of ``x`` (binary, within capacity) and its value."""
        x = np.asarray(x, dtype=np.float64).ravel()
        if x.size != self.n:
            raise sh.BadInputError(f"{self.source or self.name}: solution has {x.size} entries, "
                                   f"expected {self.n}")
        if not np.all(np.isfinite(x)):
            return KnapsackReport(False, float("nan"), float("nan"), self.capacity, float("inf"))
        int_viol = float(np.max(np.abs(x - np.clip(np.round(x), 0.0, 1.0)), initial=0.0))
        weight = float(self.weights @ x)
        ok = int_viol <= 1e-5 and weight <= self.capacity + _TOL * max(1.0, self.capacity)
        return KnapsackReport(ok, self.evaluate(x), weight, self.capacity, int_viol)

    def accept_result(self, result: sh.Result) -> None:
        """Called by the host once a solve of this problem ends (also when it was solved as a MIP
        through the converter): record the chosen items."""
        if result.x is not None and len(result.x) == self.n:
            result.info["items"] = [int(i) for i in np.flatnonzero(np.round(result.x) > 0.5)]

    def __repr__(self) -> str:
        return f"KnapsackProblem({self.name}: {self.n} items, capacity {self.capacity:g})"


def read_knapsack(path: str | Path) -> KnapsackProblem:
    """Read the text format: first line ``n capacity``, then ``n`` lines ``value weight``. Blank
    lines and lines starting with ``#`` are skipped. Errors name the file and the line."""
    p = Path(path)
    if not p.is_file():
        raise sh.BadInputError(f"{path}: knapsack file not found")
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise sh.BadInputError(f"{path}: cannot read the knapsack file ({exc})") from None
    lines = [(no, raw.strip()) for no, raw in enumerate(text.splitlines(), start=1)
             if raw.strip() and not raw.lstrip().startswith("#")]
    if not lines:
        raise sh.BadInputError(f"{path}: empty knapsack file (expected a first line 'n capacity')")

    def numbers(no: int, line: str, what: str) -> tuple[float, float]:
        parts = line.split()
        if len(parts) != 2:
            raise sh.BadInputError(f"{path}, line {no}: expected '{what}' (two numbers), got {line!r}")
        try:
            a, b = float(parts[0]), float(parts[1])
        except ValueError:
            raise sh.BadInputError(f"{path}, line {no}: expected '{what}' (two numbers), got {line!r}") from None
        if not (math.isfinite(a) and math.isfinite(b)):
            raise sh.BadInputError(f"{path}, line {no}: numbers must be finite, got {line!r}")
        return a, b

    no, line = lines[0]
    n, capacity = numbers(no, line, "n capacity")
    if n != int(n) or n < 1:
        raise sh.BadInputError(f"{path}, line {no}: the item count must be a positive integer, got {line.split()[0]!r}")
    if capacity < 0:
        raise sh.BadInputError(f"{path}, line {no}: the capacity must be >= 0, got {capacity:g}")
    n = int(n)
    items = lines[1:]
    if len(items) < n:
        last = items[-1][0] if items else no
        raise sh.BadInputError(f"{path}, line {last}: the file ends after {len(items)} of {n} item lines")
    if len(items) > n:
        raise sh.BadInputError(f"{path}, line {items[n][0]}: more item lines than the {n} announced on line {no}")
    values, weights = np.empty(n), np.empty(n)
    for k, (no_k, line_k) in enumerate(items):
        values[k], weights[k] = numbers(no_k, line_k, "value weight")
        if weights[k] < 0:
            raise sh.BadInputError(f"{path}, line {no_k}: negative weight {weights[k]:g}")
    return KnapsackProblem(values, weights, capacity, name=p.stem, source=f"knapsack:{path}")


def packable_items(problem: KnapsackProblem) -> np.ndarray:
    """The items a solution may contain with profit: positive value and no heavier than the
    knapsack (the others are never packed in an optimal solution)."""
    return np.flatnonzero((problem.values > 0) & (problem.weights <= problem.capacity + _TOL))


def to_mip(problem: KnapsackProblem) -> sh.MIPProblem:
    """The same knapsack as a MIP (one row, binary columns, maximisation) over the packable items
    only: column k is item ``packable_items(problem)[k]``. :func:`from_mip` maps a result back."""
    items = packable_items(problem)
    A = sp.csr_matrix(problem.weights[items].reshape(1, items.size))
    return sh.MIPProblem(
        c=problem.values[items].copy(), A=A, row_lower=np.array([-np.inf]),
        row_upper=np.array([problem.capacity]), col_lower=np.zeros(items.size),
        col_upper=np.ones(items.size), integrality=np.ones(items.size, dtype=bool),
        sense=sh.MAX, name=problem.name, source=problem.source,
        col_names=[f"item{j}" for j in items], row_names=["capacity"],
    )


def from_mip(problem: KnapsackProblem, mip: sh.MIPProblem, result: sh.Result) -> sh.Result:
    """The converter's inverse: a result of the MIP made by :func:`to_mip` as a knapsack result
    (``x`` has one entry per item, the left-out items at 0). Objective, bound and trajectory are
    already the knapsack's (same sense, same values); the host re-checks ``x`` as a knapsack."""
    if result.x is not None:
        x = np.zeros(problem.n)
        x[packable_items(problem)] = np.round(np.asarray(result.x, dtype=np.float64))
        result.x = x
    return result
