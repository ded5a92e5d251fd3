"""Solver ``knapsack-dp``: exact dynamic programming over the capacity (integer weights).

``best[c]`` is the best value with total weight at most ``c`` using the items seen so far; each item
updates it in one vectorised step and records, in a bit table, where taking it helped, so the chosen
items are recovered by walking the table backwards. Time and memory are ``O(n * capacity)``.

A greedy solution (items by value/weight) is the first incumbent; when ``time_limit`` runs out
before the table is complete (or Ctrl-C asks it to stop) the solver returns that incumbent with
status ``time_limit`` (``interrupted``) and the
Dantzig (LP relaxation) bound.
"""

from __future__ import annotations

import time

import numpy as np
from pydantic import Field

import solverhub as sh
from solverhub.core.timing import deadline_of, limit_status
from solverhub_knapsack.problem import KnapsackProblem

__all__ = ["KnapsackDPOptions", "KnapsackDP", "greedy", "dantzig_bound"]


class KnapsackDPOptions(sh.SolverOptions):
    """Options of ``knapsack-dp`` (unknown keys are errors; the defaults live here only)."""

    max_cells: int = Field(100_000_000, ge=1,
                           description="largest DP table (items x (capacity + 1)) allowed; one byte per cell")


def greedy(problem: KnapsackProblem) -> np.ndarray:
    """Items by decreasing value/weight, each taken when it still fits (zero-weight ones first)."""
    v, w = problem.values, problem.weights
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(w > 0, v / np.where(w > 0, w, 1.0), np.inf)
    x = np.zeros(problem.n)
    left = problem.capacity
    for j in np.argsort(-ratio, kind="stable"):
        if v[j] > 0 and w[j] <= left:
            x[j] = 1.0
            left -= w[j]
    return x


def dantzig_bound(problem: KnapsackProblem) -> float:
    """Optimal value of the LP relaxation (fill by ratio, the last item fractionally)."""
    v, w = problem.values, problem.weights
    useful = v > 0
    bound = float(v[useful & (w == 0)].sum())
    idx = np.flatnonzero(useful & (w > 0))
    left = problem.capacity
    for j in idx[np.argsort(-(v[idx] / w[idx]), kind="stable")]:
        if w[j] <= left:
            bound += v[j]
            left -= w[j]
        else:
            bound += v[j] * left / w[j]
            break
    return bound


class KnapsackDP(sh.SolverBase[KnapsackDPOptions]):
    """The host builds it as ``KnapsackDP(options)`` with validated options (``KnapsackDP(max_cells=
    ...)`` works too); options read as attributes, ``solve`` may be called repeatedly."""

    Options = KnapsackDPOptions

    def solve(self, problem: KnapsackProblem, *, time_limit: float | None = None, seed: int = 0,
              notifier=None) -> sh.Result:
        t0 = time.perf_counter()
        w = problem.weights
        if not np.all(w == np.round(w)):
            raise sh.BadInputError(f"{problem.source or problem.name}: knapsack-dp needs integer "
                                   f"weights (item {int(np.argmax(w != np.round(w)))} weighs "
                                   f"{w[w != np.round(w)][0]:g}); use --solver highs instead")
        cap = int(np.floor(problem.capacity + 1e-9))
        # items that can matter: positive value, not heavier than the knapsack
        cand = np.flatnonzero((problem.values > 0) & (w <= cap))
        cells = cand.size * (cap + 1)
        if cells > self.max_cells:
            raise sh.BadInputError(f"{problem.source or problem.name}: the DP table would have "
                                   f"{cells} cells (> max_cells={self.max_cells}); raise max_cells or "
                                   f"use --solver highs")

        def elapsed() -> float:
            return time.perf_counter() - t0

        deadline = deadline_of(t0, time_limit)

        x0 = greedy(problem)
        obj0 = problem.evaluate(x0)
        trajectory = [(elapsed(), obj0)]
        if notifier is not None:
            notifier.incumbent(trajectory[0][0], obj0, None)

        best = np.zeros(cap + 1)
        took = np.zeros((cand.size, cap + 1), dtype=bool)
        for k, j in enumerate(cand):
            wj, vj = int(w[j]), float(problem.values[j])
            gain = best[: cap + 1 - wj] + vj
            better = gain > best[wj:]
            took[k, wj:] = better
            best[wj:] = np.where(better, gain, best[wj:])
            # one stop check per item (O(capacity) work): the time limit and Ctrl-C both hold
            stop = limit_status(deadline)
            if stop is not None:
                return sh.Result(stop, objective=obj0, bound=dantzig_bound(problem),
                                 x=x0, runtime=elapsed(), iterations=k + 1, trajectory=trajectory,
                                 info={"greedy_objective": obj0, "items_processed": k + 1,
                                       "table_cells": int(cells)})

        x = np.zeros(problem.n)
        c = cap
        for k in range(cand.size - 1, -1, -1):
            if took[k, c]:
                j = cand[k]
                x[j] = 1.0
                c -= int(w[j])
        obj = problem.evaluate(x)
        if obj > obj0 + 1e-9:
            trajectory.append((elapsed(), obj))
            if notifier is not None:
                notifier.incumbent(trajectory[-1][0], obj, obj)
        else:  # the greedy solution was already optimal
            x, obj = x0, obj0
        return sh.Result(sh.Status.OPTIMAL, objective=obj, bound=obj, x=x, runtime=elapsed(),
                         iterations=int(cand.size), trajectory=trajectory,
                         info={"greedy_objective": obj0, "items_processed": int(cand.size),
                               "table_cells": int(cells)})
