# cython: language_level=3
"""Kernels of the linear_system plugin (solverhub/plugins/linear_system): CSR loops of SOR and
SSOR. NumPy/SciPy references and oracles: ``solverhub.plugins.linear_system.kernels``
(``sor_solve_reference``, ``ssor_apply_reference``).

* ``sor_solve(indptr, indices, data, diag, b, x, omega, max_sweeps, tol_abs) -> (sweeps, rnorm)``:
  up to ``max_sweeps`` forward SOR sweeps in place on ``x``, stopping after the first sweep whose
  residual ||b - A x||_2 is at most ``tol_abs`` (the residual is computed in the same pass as the
  next sweep's row products would be, as one extra CSR pass per sweep).
* ``ssor_apply(indptr, indices, data, diag, r, omega, z)``: z = M^{-1} r for the SSOR
  preconditioner M = (D + omega L) D^{-1} (D + omega U) / (omega (2 - omega)) of a symmetric A
  (A = L + D + U): the forward sweep (D + omega L) y = omega (2 - omega) r, then w = D y, then the
  backward sweep (D + omega U) z = w.
"""

import numpy as np
cimport numpy as cnp
from libc.math cimport sqrt

cnp.import_array()

ctypedef fused index_t:
    int
    long long


cdef double _sweep_residual(const index_t[::1] indptr, const index_t[::1] indices,
                            const double[::1] data, const double[::1] diag, const double[::1] b,
                            double[::1] x, double omega) noexcept nogil:
    """One forward SOR sweep in place, then ||b - A x||^2 of the new x."""
    cdef Py_ssize_t n = x.shape[0], i
    cdef index_t k
    cdef double s, r, acc = 0.0
    for i in range(n):
        s = b[i]
        for k in range(indptr[i], indptr[i + 1]):
            s -= data[k] * x[indices[k]]
        # s = b_i - sum_j a_ij x_j with the new x_j (j < i) and the old (j >= i), diagonal included
        x[i] += omega * s / diag[i]
    for i in range(n):
        r = b[i]
        for k in range(indptr[i], indptr[i + 1]):
            r -= data[k] * x[indices[k]]
        acc += r * r
    return acc


def sor_solve(const index_t[::1] indptr, const index_t[::1] indices, const double[::1] data,
              const double[::1] diag, const double[::1] b, double[::1] x, double omega,
              int max_sweeps, double tol_abs):
    cdef int s, sweeps = 0
    cdef double rn2 = 0.0, tol2 = tol_abs * tol_abs
    with nogil:
        for s in range(max_sweeps):
            rn2 = _sweep_residual(indptr, indices, data, diag, b, x, omega)
            sweeps = s + 1
            if rn2 <= tol2:
                break
    return sweeps, sqrt(rn2)


def ssor_apply(const index_t[::1] indptr, const index_t[::1] indices, const double[::1] data,
               const double[::1] diag, const double[::1] r, double omega, double[::1] z):
    cdef Py_ssize_t n = r.shape[0], i
    cdef index_t k, j
    cdef double s, scale = omega * (2.0 - omega)
    with nogil:
        # forward: (D + omega L) y = scale * r, y stored in z
        for i in range(n):
            s = scale * r[i]
            for k in range(indptr[i], indptr[i + 1]):
                j = indices[k]
                if j < i:
                    s -= omega * data[k] * z[j]
            z[i] = s / diag[i]
        # w = D y, then backward: (D + omega U) z = w, in place (row i reads only z_j, j > i)
        for i in range(n - 1, -1, -1):
            s = diag[i] * z[i]
            for k in range(indptr[i], indptr[i + 1]):
                j = indices[k]
                if j > i:
                    s -= omega * data[k] * z[j]
            z[i] = s / diag[i]
