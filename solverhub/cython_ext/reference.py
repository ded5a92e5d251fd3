"""NumPy/SciPy reference kernels: the fallback when the compiled extension is missing and the oracle
that tests compare the compiled kernels against."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["row_activities", "max_row_violation"]


def row_activities(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, n_cols: int,
                   X: np.ndarray) -> np.ndarray:
    """Row activities A @ x for each candidate x in the rows of X (shape (k, n)); returns (k, m)."""
    m = len(indptr) - 1
    A = sp.csr_matrix((data, indices, indptr), shape=(m, n_cols))
    return np.asarray((A @ np.asarray(X, dtype=np.float64).T).T)


def max_row_violation(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, n_cols: int,
                      row_lower: np.ndarray, row_upper: np.ndarray, X: np.ndarray) -> np.ndarray:
    """For each candidate (rows of X), the largest violation of row_lower <= A x <= row_upper."""
    act = row_activities(indptr, indices, data, n_cols, X)
    if act.shape[1] == 0:
        return np.zeros(act.shape[0])
    with np.errstate(invalid="ignore"):
        viol = np.maximum(np.maximum(row_lower - act, act - row_upper), 0.0)
    return viol.max(axis=1)
