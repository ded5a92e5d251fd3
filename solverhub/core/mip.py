"""``MIPProblem``: a mixed-integer linear program in matrix form.

    min/max  c @ x + offset
    s.t.     row_lower <= A @ x <= row_upper
             col_lower <=   x   <= col_upper,   x[j] integer where integrality[j]

Infinite bounds are ``+-inf``. Solutions are always checked against this original form
(:meth:`MIPProblem.check`), whatever a backend reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from solverhub.core.errors import BadInputError

__all__ = ["MIPProblem", "FeasibilityReport", "MIN", "MAX", "integral_objective"]

MIN, MAX = 1, -1

#: absolute/relative tolerances of the feasibility check (HiGHS's mip_feasibility_tolerance is 1e-6)
FEAS_TOL = 1e-6
INT_TOL = 1e-5


def integral_objective(c: np.ndarray, integrality: np.ndarray, tol: float = 0.0) -> bool:
    """True when ``c @ x`` is an integer for every integral ``x``: zero cost on continuous columns,
    integer costs (within ``tol``) on integer ones. Cutoff rows and dual-bound rounding use it."""
    c = np.asarray(c, dtype=np.float64)
    if np.any(c[~integrality] != 0.0):
        return False
    ci = c[integrality]
    return bool(np.all(np.abs(ci - np.round(ci)) <= tol))


@dataclass
class FeasibilityReport:
    feasible: bool
    max_bound_violation: float
    max_row_violation: float
    max_integrality_violation: float
    objective: float

    def __str__(self) -> str:
        return (f"feasible={self.feasible} bound_viol={self.max_bound_violation:.3g} "
                f"row_viol={self.max_row_violation:.3g} int_viol={self.max_integrality_violation:.3g}")


@dataclass
class MIPProblem:
    c: np.ndarray
    A: sp.csr_matrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    integrality: np.ndarray  # bool, True for integer (binary included) columns
    offset: float = 0.0
    sense: int = MIN  # MIN (1) or MAX (-1)
    name: str = "mip"
    col_names: list[str] | None = None
    row_names: list[str] | None = None
    source: str | None = field(default=None, compare=False)  # path or address it came from

    kind = "mip"

    def __post_init__(self) -> None:
        self.c = np.asarray(self.c, dtype=np.float64).ravel()
        n = self.c.size
        A = self.A if sp.issparse(self.A) else sp.csr_matrix(np.atleast_2d(np.asarray(self.A, float)))
        if A.shape[0] == 0 and A.shape[1] != n:
            A = sp.csr_matrix((0, n))
        self.A = sp.csr_matrix(A, dtype=np.float64)
        self.A.sort_indices()
        m = self.A.shape[0]
        self.row_lower = _vec(self.row_lower, m, -np.inf, "row_lower")
        self.row_upper = _vec(self.row_upper, m, np.inf, "row_upper")
        self.col_lower = _vec(self.col_lower, n, 0.0, "col_lower")
        self.col_upper = _vec(self.col_upper, n, np.inf, "col_upper")
        self.integrality = np.asarray(self.integrality, dtype=bool).ravel()
        if self.integrality.size == 0 and n:
            self.integrality = np.zeros(n, dtype=bool)
        self.offset = float(self.offset)
        if self.sense not in (MIN, MAX):
            raise BadInputError(f"{self.name}: sense must be 1 (min) or -1 (max), got {self.sense!r}")
        self.validate()

    # ------------------------------------------------------------------ shape and sanity
    @property
    def n(self) -> int:
        return self.c.size

    @property
    def m(self) -> int:
        return self.A.shape[0]

    @property
    def integer_mask(self) -> np.ndarray:
        return self.integrality

    @property
    def binary_mask(self) -> np.ndarray:
        return self.integrality & (self.col_lower >= 0) & (self.col_upper <= 1) & (self.col_lower > -1)

    def validate(self) -> None:
        """Raise :class:`BadInputError` naming the first inconsistency."""
        n, m = self.n, self.m
        who = self.source or self.name
        if self.A.shape[1] != n:
            raise BadInputError(f"{who}: A has {self.A.shape[1]} columns but c has {n} entries")
        for nm, arr, size in (("integrality", self.integrality, n), ("row_lower", self.row_lower, m),
                              ("row_upper", self.row_upper, m), ("col_lower", self.col_lower, n),
                              ("col_upper", self.col_upper, n)):
            if arr.size != size:
                raise BadInputError(f"{who}: {nm} has {arr.size} entries, expected {size}")
        for nm, arr in (("c", self.c), ("A", self.A.data)):
            if not np.all(np.isfinite(arr)):
                raise BadInputError(f"{who}: {nm} contains NaN or infinite values")
        for nm, arr in (("row_lower", self.row_lower), ("row_upper", self.row_upper),
                        ("col_lower", self.col_lower), ("col_upper", self.col_upper)):
            if np.any(np.isnan(arr)):
                raise BadInputError(f"{who}: {nm} contains NaN")
        if not np.isfinite(self.offset):
            raise BadInputError(f"{who}: objective offset is not finite")
        if self.col_names is not None and len(self.col_names) != n:
            raise BadInputError(f"{who}: {len(self.col_names)} column names for {n} columns")
        if self.row_names is not None and len(self.row_names) != m:
            raise BadInputError(f"{who}: {len(self.row_names)} row names for {m} rows")

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, x: np.ndarray) -> float:
        """Objective value of ``x`` in the problem's own sense (offset included)."""
        return float(self.c @ np.asarray(x, dtype=np.float64) + self.offset)

    def check(self, x: np.ndarray, tol: float = FEAS_TOL, int_tol: float = INT_TOL) -> FeasibilityReport:
        """Check ``x`` against bounds, rows (relative tolerance on large rows) and integrality."""
        from solverhub.cython_ext import max_row_violation

        x = np.asarray(x, dtype=np.float64).ravel()
        if x.size != self.n:
            raise BadInputError(f"{self.source or self.name}: solution has {x.size} entries, "
                                f"expected {self.n}")
        if not np.all(np.isfinite(x)):
            return FeasibilityReport(False, np.inf, np.inf, np.inf, float("nan"))
        bviol = float(np.max(np.maximum(np.maximum(self.col_lower - x, x - self.col_upper), 0.0),
                             initial=0.0))
        rviol = 0.0
        if self.m:
            # scale the tolerance by the row's magnitude: HiGHS/SCIP use relative feasibility too
            rviol = float(max_row_violation(self.A.indptr, self.A.indices, self.A.data, self.n,
                                            self.row_lower - 0.0, self.row_upper, x[None, :])[0])
            if rviol > tol:
                act = self.A @ x
                scale = np.maximum(1.0, np.abs(act))
                rel = np.maximum(np.maximum(self.row_lower - act, act - self.row_upper), 0.0) / scale
                rviol = float(rel.max())
        iviol = 0.0
        if self.integrality.any():
            xi = x[self.integrality]
            iviol = float(np.max(np.abs(xi - np.round(xi)), initial=0.0))
        ok = bviol <= tol and rviol <= tol and iviol <= int_tol
        return FeasibilityReport(ok, bviol, rviol, iviol, self.evaluate(x))

    def is_feasible(self, x: np.ndarray, tol: float = FEAS_TOL) -> bool:
        return self.check(x, tol).feasible

    # ------------------------------------------------------------------ transforms
    def copy(self) -> "MIPProblem":
        return MIPProblem(self.c.copy(), self.A.copy(), self.row_lower.copy(), self.row_upper.copy(),
                          self.col_lower.copy(), self.col_upper.copy(), self.integrality.copy(),
                          self.offset, self.sense, self.name,
                          None if self.col_names is None else list(self.col_names),
                          None if self.row_names is None else list(self.row_names), self.source)

    def as_minimization(self) -> "MIPProblem":
        """A copy whose objective is minimised: a max problem has c and offset negated."""
        p = self.copy()
        if p.sense == MAX:
            p.c, p.offset, p.sense = -p.c, -p.offset, MIN
        return p

    def column_name(self, j: int) -> str:
        return self.col_names[j] if self.col_names else f"x{j}"

    def summary(self) -> str:
        nint = int(self.integrality.sum())
        nbin = int(self.binary_mask.sum())
        return (f"{self.name}: {self.m} rows, {self.n} cols ({nbin} binary, {nint - nbin} general "
                f"integer, {self.n - nint} continuous), {self.A.nnz} nonzeros, "
                f"{'min' if self.sense == MIN else 'max'}")

    def __repr__(self) -> str:
        return f"MIPProblem({self.summary()})"


def _vec(v, size: int, default: float, name: str) -> np.ndarray:
    if v is None:
        return np.full(size, default)
    a = np.asarray(v, dtype=np.float64).ravel()
    if a.size == 1 and size != 1:
        a = np.full(size, float(a[0]))
    if a.size != size:
        raise BadInputError(f"{name} has {a.size} entries, expected {size}")
    return a
