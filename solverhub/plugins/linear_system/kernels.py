"""SOR and SSOR kernels: the compiled CSR loops of ``solverhub.cython_ext._linsys`` and their
NumPy/SciPy references (the fallback when the extension is not built, and the oracle the tests
compare against).

* :func:`sor_solve` -- forward SOR sweeps x <- x + omega (D + omega L)^{-1} (b - A x) in place,
  until ||b - A x|| <= ``tol_abs`` or ``max_sweeps``; returns (sweeps, residual norm).
* :func:`ssor_apply` -- z = M^{-1} r for the SSOR preconditioner
  M = (D + omega L) D^{-1} (D + omega U) / (omega (2 - omega)) of a symmetric A.

The reference SOR sweep uses SciPy's sparse triangular solve (the equivalent matrix form of the
row loop); :func:`sor_sweep_numpy_loop` is the plain Python/NumPy row loop (benchmarks only).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve_triangular

from solverhub.cython_ext import load_extension

__all__ = ["KERNEL_COMPILED", "KERNEL_IMPORT_ERROR", "sor_solve", "ssor_apply", "sor_solve_reference",
           "ssor_apply_reference", "sor_sweep_numpy_loop", "split_csr"]

_kernel, KERNEL_IMPORT_ERROR = load_extension("_linsys")
KERNEL_COMPILED = _kernel is not None


def split_csr(A: sp.csr_matrix) -> tuple[sp.csr_matrix, sp.csr_matrix, np.ndarray]:
    """The pieces of A = L + D + U: strictly lower L, strictly upper U, the diagonal D."""
    return sp.tril(A, k=-1, format="csr"), sp.triu(A, k=1, format="csr"), A.diagonal()


def sor_solve_reference(A: sp.csr_matrix, diag: np.ndarray, b: np.ndarray, x: np.ndarray,
                        omega: float, max_sweeps: int, tol_abs: float) -> tuple[int, float]:
    """SciPy form of :func:`sor_solve`: each sweep solves (D + omega L) d = omega (b - A x)."""
    L = sp.tril(A, k=-1, format="csr")
    M = (L * omega + sp.diags(diag)).tocsr()
    sweeps, rn = 0, float(np.linalg.norm(b - A @ x))
    for s in range(max_sweeps):
        x += spsolve_triangular(M, omega * (b - A @ x), lower=True)
        sweeps = s + 1
        rn = float(np.linalg.norm(b - A @ x))
        if rn <= tol_abs:
            break
    return sweeps, rn


def ssor_apply_reference(A: sp.csr_matrix, diag: np.ndarray, r: np.ndarray, omega: float,
                         z: np.ndarray) -> None:
    """SciPy form of :func:`ssor_apply` (two sparse triangular solves)."""
    L, U, _ = split_csr(A)
    D = sp.diags(diag)
    y = spsolve_triangular((D + omega * L).tocsr(), omega * (2.0 - omega) * r, lower=True)
    z[:] = spsolve_triangular((D + omega * U).tocsr(), diag * y, lower=False)


def sor_sweep_numpy_loop(A: sp.csr_matrix, diag: np.ndarray, b: np.ndarray, x: np.ndarray,
                         omega: float) -> None:
    """One SOR sweep as a row loop over the CSR arrays with NumPy dot products per row."""
    indptr, indices, data = A.indptr, A.indices, A.data
    for i in range(x.size):
        lo, hi = indptr[i], indptr[i + 1]
        s = b[i] - float(np.dot(data[lo:hi], x[indices[lo:hi]]))
        x[i] += omega * s / diag[i]


def _csr_arrays(A: sp.csr_matrix):
    if A.indices.dtype != A.indptr.dtype:
        dt = np.int64 if np.int64 in (A.indices.dtype, A.indptr.dtype) else np.int32
        return A.indptr.astype(dt), A.indices.astype(dt)
    return A.indptr, A.indices


def sor_solve(A: sp.csr_matrix, diag: np.ndarray, b: np.ndarray, x: np.ndarray, omega: float,
              max_sweeps: int, tol_abs: float, *, use_kernel: bool = True) -> tuple[int, float]:
    """Up to ``max_sweeps`` SOR sweeps on ``x`` in place (compiled when available)."""
    if use_kernel and _kernel is not None:
        indptr, indices = _csr_arrays(A)
        return _kernel.sor_solve(indptr, indices, A.data, diag, b, x, float(omega), int(max_sweeps),
                                 float(tol_abs))
    return sor_solve_reference(A, diag, b, x, omega, max_sweeps, tol_abs)


def ssor_apply(A: sp.csr_matrix, diag: np.ndarray, r: np.ndarray, omega: float, z: np.ndarray, *,
               use_kernel: bool = True) -> None:
    """z = M_SSOR(omega)^{-1} r in place (compiled when available)."""
    if use_kernel and _kernel is not None:
        indptr, indices = _csr_arrays(A)
        _kernel.ssor_apply(indptr, indices, A.data, diag, r, float(omega), z)
    else:
        ssor_apply_reference(A, diag, r, omega, z)
