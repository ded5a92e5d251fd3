"""Helpers shared by the MIP backends: the objective-cutoff row (HiGHS's ``objective_bound`` is not
usable) and integral bounds for integer columns."""

from __future__ import annotations

import math

import numpy as np

from solverhub.core.mip import MAX, integral_objective

__all__ = ["cutoff_row", "objective_is_integral", "round_integer_bounds"]


def objective_is_integral(c: np.ndarray, integrality: np.ndarray) -> bool:
    """True when ``c @ x`` is an integer for every integral ``x`` (exact integer costs)."""
    return integral_objective(c, integrality)


def cutoff_row(c: np.ndarray, offset: float, integrality: np.ndarray, cutoff: float,
               sense: int) -> tuple[np.ndarray, np.ndarray, float, float]:
    """``(idx, vals, lower, upper)`` of a row that only solutions strictly better than ``cutoff``
    satisfy. With an integral objective the row asks for at least one unit of improvement;
    otherwise for a margin of ``1e-5 * max(1, |cutoff|)``: a margin at the solvers' feasibility
    tolerance (1e-6) still admitted the cutoff value itself."""
    c = np.asarray(c, dtype=np.float64)
    idx = np.flatnonzero(c)
    rhs = float(cutoff) - float(offset)
    if objective_is_integral(c, integrality) and float(offset) == round(float(offset)):
        if sense == MAX:
            lower = math.floor(rhs + 1e-9) + 1.0
            return idx, c[idx], lower, math.inf
        upper = math.ceil(rhs - 1e-9) - 1.0
        return idx, c[idx], -math.inf, upper
    margin = 1e-5 * max(1.0, abs(float(cutoff)))
    if sense == MAX:
        return idx, c[idx], rhs + margin, math.inf
    return idx, c[idx], -math.inf, rhs - margin


def round_integer_bounds(idx: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                         integrality: np.ndarray, tol: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of integer columns rounded inwards to integers (with ``tol`` slack): fixing a binary
    to a solver's 0.9999999999 made SCIP and CP-SAT declare the sub-MIP infeasible in 1 ms."""
    lo = np.array(lower, dtype=np.float64, copy=True)
    up = np.array(upper, dtype=np.float64, copy=True)
    mask = integrality[idx]
    if mask.any():
        with np.errstate(invalid="ignore"):
            lo[mask] = np.ceil(lo[mask] - tol)
            up[mask] = np.floor(up[mask] + tol)
    return lo, up
