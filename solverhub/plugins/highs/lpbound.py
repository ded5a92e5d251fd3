"""The dual bound of a pure LP solved by HiGHS.

HiGHS's ``info.mip_dual_bound`` belongs to its MIP solver: after an LP solve it stays 0, which
solverhub used to report as the bound of every LP. The bound of an LP is the objective of a dual
solution. Here it is the Lagrangian bound of HiGHS's row duals ``y``, which is a valid bound for
*any* ``y``, so nothing depends on HiGHS's sign conventions being read right (a wrong reading
gives a weak or infinite bound, which the check against the primal objective catches):

    min c x + offset  >=  offset + sum_i min_{L_i <= r <= U_i} y_i r
                                 + sum_j min_{l_j <= x <= u_j} (c - A^T y)_j x

(a maximisation is handled as the minimisation of -c x).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = ["lagrangian_bound", "lp_bound", "LP_BOUND_RTOL"]

#: how far the dual objective may lie from the primal one when HiGHS reports optimal
LP_BOUND_RTOL = 1e-6


def _box_min(v: np.ndarray, lower: np.ndarray, upper: np.ndarray, tol: float) -> float:
    """sum_k min over [lower_k, upper_k] of v_k t. A multiplier within ``tol`` of zero on an
    infinite side counts as zero (HiGHS's dual feasibility tolerance); a larger one gives -inf."""
    side = np.where(v > 0, lower, upper)
    small = np.abs(v) <= tol
    with np.errstate(invalid="ignore", over="ignore"):
        terms = np.where(small & ~np.isfinite(side), 0.0, v * side)
    terms = np.where(v == 0, 0.0, terms)
    total = float(terms.sum())
    return total if math.isfinite(total) else -math.inf


def lagrangian_bound(h: Any) -> float | None:
    """The bound (in the model's own sense) proved by the current row duals of ``h``, or None
    when HiGHS holds no dual values or the bound is infinite."""
    sol = h.getSolution()
    if not getattr(sol, "dual_valid", False):
        return None
    lp = h.getLp()
    n, m = int(lp.num_col_), int(lp.num_row_)
    y = np.asarray(sol.row_dual, dtype=np.float64)
    if y.size != m:
        return None
    a = lp.a_matrix_
    value = np.asarray(a.value_, dtype=np.float64)
    index = np.asarray(a.index_, dtype=np.int64)
    start = np.asarray(a.start_, dtype=np.int64)
    if start.size == 0:
        start = np.zeros((m if getattr(a.format_, "name", "") == "kRowwise" else n) + 1, np.int64)
    if getattr(a.format_, "name", "") == "kRowwise":
        A = sp.csr_matrix((value, index, start), shape=(m, n))
    else:
        A = sp.csc_matrix((value, index, start), shape=(m, n))
    s = -1.0 if getattr(lp.sense_, "name", "") == "kMaximize" else 1.0
    ys = s * y                                   # multipliers of the minimisation form
    d = s * np.asarray(lp.col_cost_, dtype=np.float64) - A.T @ ys
    tol = float(h.getOptionValue("dual_feasibility_tolerance")[1])
    total = (_box_min(d, np.asarray(lp.col_lower_, dtype=np.float64),
                      np.asarray(lp.col_upper_, dtype=np.float64), tol)
             + _box_min(ys, np.asarray(lp.row_lower_, dtype=np.float64),
                        np.asarray(lp.row_upper_, dtype=np.float64), tol))
    if not math.isfinite(total):
        return None
    return s * (total + s * float(lp.offset_))


def lp_bound(h: Any, model_status: str, objective: float | None,
             sense: int) -> tuple[float | None, str | None, bool]:
    """(bound, note, proved) for an LP after ``h.run()``; ``proved`` is False when HiGHS says
    ``kOptimal`` but nothing backs it (the caller then reports ``feasible``).

    At ``kOptimal`` the Lagrangian bound must agree with the primal objective to
    ``LP_BOUND_RTOL``; it is then clipped to the objective (a bound past the incumbent means
    nothing). When it does not (e.g. PDLP, whose dual is feasible only to its own looser
    tolerance, so the bound comes out infinite) but HiGHS reports a feasible dual solution, the
    bound is the primal objective, as HiGHS claims, with a note. Otherwise the (weaker, valid)
    dual bound is kept and the optimum is not proved. At other statuses the dual bound is given
    only when HiGHS reports a feasible dual solution (e.g. dual simplex stopped by a limit).
    """
    if model_status in ("kInfeasible", "kUnbounded", "kUnboundedOrInfeasible"):
        return None, None, True
    dual_feasible = int(h.getInfo().dual_solution_status) == 2
    if model_status != "kOptimal" and not dual_feasible:
        return None, None, True
    b = lagrangian_bound(h)
    if model_status != "kOptimal" or objective is None:
        return b, None, True
    if b is not None and abs(b - objective) <= LP_BOUND_RTOL * max(1.0, abs(objective)):
        return (min(b, objective) if sense > 0 else max(b, objective)), None, True
    found = "no finite bound" if b is None else f"{b!r}"
    note = (f"the dual objective worked out from HiGHS's duals ({found}) is not within "
            f"{LP_BOUND_RTOL:g} of the primal objective {objective!r}")
    if dual_feasible:
        return objective, note + "; HiGHS reports a feasible dual solution: bound = objective", True
    return b, note + " and HiGHS reports no feasible dual solution: optimality not proved", False
