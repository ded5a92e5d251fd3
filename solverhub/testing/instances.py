"""Small built-in MIP instances for the conformance checks (all deterministic, no files).

``tiny_mip_instances()`` returns ``(problem, optimum)`` pairs whose optima are known exactly (pure
integer ones are enumerated, the mixed one is worked out in its docstring); every solver must
solve them to optimality in well under a second. ``infeasible_mip()`` has no feasible point.
``hard_mip(seed)`` is a market-split instance (Cornuejols and Dawande 1999): a few dozen binaries,
yet branch-and-bound needs far longer than the one-second limits the checks use.
"""

from __future__ import annotations

import itertools

import numpy as np
import scipy.sparse as sp

from solverhub.core.mip import MAX, MIN, MIPProblem

__all__ = ["tiny_mip_instances", "infeasible_mip", "hard_mip", "brute_force_optimum"]


def brute_force_optimum(p: MIPProblem) -> float:
    """Exact optimum of a small, bounded, pure-integer MIP by enumeration (in its own sense)."""
    if not p.integrality.all():
        raise ValueError("brute force needs a pure integer problem")
    ranges = [range(int(np.ceil(lo)), int(np.floor(up)) + 1) for lo, up in zip(p.col_lower, p.col_upper)]
    best = None
    for x in itertools.product(*ranges):
        xv = np.asarray(x, dtype=float)
        if p.check(xv).feasible:
            v = p.evaluate(xv)
            if best is None or (v < best if p.sense == MIN else v > best):
                best = v
    if best is None:
        raise ValueError(f"{p.name} is infeasible")
    return float(best)


def _knapsack_max() -> MIPProblem:
    """Two-constraint 0/1 knapsack, maximised."""
    A = sp.csr_matrix(np.array([[3, 4, 2, 3, 2, 3], [2, 3, 1, 2, 2, 1]], dtype=float))
    return MIPProblem(c=np.array([10, 13, 7, 8, 6, 9]), A=A,
                      row_lower=np.array([-np.inf, -np.inf]), row_upper=np.array([9, 6]),
                      col_lower=np.zeros(6), col_upper=np.ones(6), integrality=np.ones(6, bool),
                      sense=MAX, name="conformance-knapsack-max")


def _mixed_min() -> MIPProblem:
    """min 2 x0 + 3 x1 + y + 0.5 z + 1.5 (offset) over integers x0 in [0, 10], x1 in [-5, 5] and
    continuous y, z >= 0 with  x0 + x1 + y >= 4.5,  x0 - x1 = 1,  -2 <= y - z <= 2.

    With x0 = x1 + 1 the cost is 5 x1 + 2 + y + 0.5 z, y >= 3.5 - 2 x1, z >= y - 2: lowering x1 by
    one saves 2, so x1 takes its smallest value allowed by x0 >= 0, x1 = -1; then y = 5.5, z = 3.5
    and the optimum is 0 - 3 + 5.5 + 1.75 + 1.5 = 5.75 (unique).
    """
    A = sp.csr_matrix(np.array([[1, 1, 1, 0], [1, -1, 0, 0], [0, 0, 1, -1]], dtype=float))
    return MIPProblem(c=np.array([2, 3, 1, 0.5]), A=A,
                      row_lower=np.array([4.5, 1, -2]), row_upper=np.array([np.inf, 1, 2]),
                      col_lower=np.array([0, -5, 0, 0]), col_upper=np.array([10, 5, np.inf, np.inf]),
                      integrality=np.array([True, True, False, False]), offset=1.5, sense=MIN,
                      name="conformance-mixed-min",
                      col_names=["x0", "x1", "y", "z"], row_names=["cover", "link", "range"])


def _general_integer_max() -> MIPProblem:
    """max 3 a + 2 b - c over general integers with a <= 4, b, c in [0, 5]: 2a + 3b - c <= 12,
    a + b + c <= 7, a - b >= -2."""
    A = sp.csr_matrix(np.array([[2, 3, -1], [1, 1, 1], [1, -1, 0]], dtype=float))
    return MIPProblem(c=np.array([3, 2, -1]), A=A,
                      row_lower=np.array([-np.inf, -np.inf, -2]), row_upper=np.array([12, 7, np.inf]),
                      col_lower=np.array([0, 0, 0]), col_upper=np.array([4, 5, 5]),
                      integrality=np.array([True, True, True]),
                      sense=MAX, name="conformance-general-integer-max")


def tiny_mip_instances() -> list[tuple[MIPProblem, float]]:
    """(problem, known optimum in the problem's own sense) pairs: a maximised 0/1 knapsack, a
    minimised mixed-integer program with equality, ranged and one-sided rows, infinite bounds and
    an objective offset, and a maximised general-integer program."""
    out = []
    for make in (_knapsack_max, _general_integer_max):
        p = make()
        out.append((p, brute_force_optimum(p)))
    out.insert(1, (_mixed_min(), 5.75))
    return out


def infeasible_mip() -> MIPProblem:
    """x0 + x1 >= 3 over two binaries: no feasible point."""
    return MIPProblem(c=np.array([1, 1]), A=sp.csr_matrix(np.array([[1.0, 1.0]])), row_lower=np.array([3]),
                      row_upper=np.array([np.inf]), col_lower=np.array([0, 0]), col_upper=np.array([1, 1]),
                      integrality=np.array([True, True]),
                      name="conformance-infeasible")


def hard_mip(seed: int = 0, rows: int = 5) -> MIPProblem:
    """A market-split instance: ``rows`` equality rows over 10 (rows - 1) binaries with random
    weights in [0, 99] and right-hand sides half the row sums, (integer, bounded) slack variables
    minimised; pure integer, so solvers that take only integer columns run it too.
    Small, but hard for branch-and-bound (used to check that solvers honour time limits)."""
    rng = np.random.default_rng(seed)
    n = 10 * (rows - 1)
    W = rng.integers(0, 100, size=(rows, n)).astype(float)
    b = np.floor(W.sum(axis=1) / 2)
    A = sp.hstack([sp.csr_matrix(W), sp.eye(rows), -sp.eye(rows)]).tocsr()
    c = np.concatenate([np.zeros(n), np.ones(2 * rows)])
    slack_cap = float(W.sum(axis=1).max())
    return MIPProblem(c=c, A=A, row_lower=b, row_upper=b,
                      col_lower=np.zeros(n + 2 * rows),
                      col_upper=np.concatenate([np.ones(n), np.full(2 * rows, slack_cap)]),
                      integrality=np.ones(n + 2 * rows, bool),
                      name=f"conformance-market-split-{rows}x{n}-s{seed}")
