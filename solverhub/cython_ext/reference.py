"""NumPy/SciPy reference kernels: the fallback when the compiled extension is missing and the oracle
that tests compare the compiled kernels against.

Each function has the same signature and results (to rounding) as its compiled twin in
``_kernels.pyx``: ``X`` holds k candidate solutions as rows (k, n); a 1-D ``X`` is one candidate and
drops the k axis from the result.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["row_activities", "max_row_violation", "score_candidates"]


def _matrix(indptr, indices, data, n_cols) -> sp.csr_matrix:
    indptr = np.asarray(indptr)
    if indptr.ndim != 1 or indptr.size < 1:
        raise ValueError("indptr must be a 1-D array with at least one entry")
    m = indptr.size - 1
    return sp.csr_matrix((data, indices, indptr), shape=(m, int(n_cols)))


def _x2d(X, n: int) -> tuple[np.ndarray, bool]:
    X = np.asarray(X, dtype=np.float64)
    squeeze = X.ndim == 1
    if squeeze:
        X = X.reshape(1, -1)
    elif X.ndim != 2:
        raise ValueError(f"X must be 1-D or 2-D (k candidates x n columns), got {X.ndim}-D")
    if X.shape[1] != n:
        raise ValueError(f"X has {X.shape[1]} columns, the matrix has {n}")
    return X, squeeze


def _bounds(b, size: int, name: str) -> np.ndarray:
    b = np.asarray(b, dtype=np.float64)
    if b.ndim == 0:
        b = np.full(size, float(b))
    if b.shape != (size,):
        raise ValueError(f"{name} has shape {b.shape}, expected ({size},)")
    return b


def _activities(A: sp.csr_matrix, X: np.ndarray) -> np.ndarray:
    return np.asarray((A @ X.T).T)


def row_activities(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, n_cols: int,
                   X: np.ndarray) -> np.ndarray:
    """Row activities A @ x for each candidate x in the rows of X (shape (k, n)); returns (k, m)."""
    A = _matrix(indptr, indices, data, n_cols)
    X, squeeze = _x2d(X, A.shape[1])
    act = _activities(A, X)
    return act[0] if squeeze else act


def _max_viol(act: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    if act.shape[1] == 0:
        return np.zeros(act.shape[0])
    with np.errstate(invalid="ignore"):
        viol = np.maximum(np.maximum(lower - act, act - upper), 0.0)
    return viol.max(axis=1)


def max_row_violation(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, n_cols: int,
                      row_lower: np.ndarray, row_upper: np.ndarray, X: np.ndarray) -> np.ndarray:
    """For each candidate (rows of X), the largest violation of row_lower <= A x <= row_upper
    (0 when all rows hold; NaN when the check meets a NaN)."""
    A = _matrix(indptr, indices, data, n_cols)
    X, squeeze = _x2d(X, A.shape[1])
    m = A.shape[0]
    out = _max_viol(_activities(A, X), _bounds(row_lower, m, "row_lower"),
                    _bounds(row_upper, m, "row_upper"))
    return out[0] if squeeze else out


def score_candidates(indptr, indices, data, n_cols, row_lower, row_upper, col_lower, col_upper,
                     integrality, c, X):
    """``(objective, row_violation, bound_violation, integrality_violation)`` of each candidate:
    ``X @ c`` (no offset) and the absolute maximum violations (see the compiled twin)."""
    A = _matrix(indptr, indices, data, n_cols)
    m, n = A.shape
    X, squeeze = _x2d(X, n)
    lo, up = _bounds(row_lower, m, "row_lower"), _bounds(row_upper, m, "row_upper")
    clo, cup = _bounds(col_lower, n, "col_lower"), _bounds(col_upper, n, "col_upper")
    c = _bounds(c, n, "c")
    integ = np.asarray(integrality, dtype=bool)
    if integ.shape != (n,):
        raise ValueError(f"integrality has shape {integ.shape}, expected ({n},)")
    obj = X @ c if n else np.zeros(X.shape[0])
    rviol = _max_viol(_activities(A, X), lo, up)
    bviol = _max_viol(X, clo, cup)
    if integ.any():
        xi = X[:, integ]
        iviol = np.abs(xi - np.round(xi)).max(axis=1)
    else:
        iviol = np.zeros(X.shape[0])
    if squeeze:
        return obj[0], rviol[0], bviol[0], iviol[0]
    return obj, rviol, bviol, iviol
