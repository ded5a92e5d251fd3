# cython: boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True, language_level=3
"""Sketch-and-project inner loops of the exact augmented Lagrangian solver (plugin exact_al).

Same steps as the NumPy reference ``solverhub.plugins.exact_al.sketch.gaussian_steps_ref`` /
``kaczmarz_steps_ref`` (the oracle in tests): ``K`` dense symmetric (N x N, C order), ``z`` and
``r = K z - b`` updated in place, random sketches drawn by the caller. Each returns the number of
steps taken (it stops after the step that brings ``||r|| <= tol``).
"""

import numpy as np
cimport numpy as cnp
from scipy.linalg.cython_blas cimport ddot, dgemv

cnp.import_array()


def gaussian_steps(double[:, ::1] K, double[::1] z, double[::1] r, double[:, ::1] S, double tol):
    # u = K s and w = K u by BLAS dgemv (K is symmetric, so its C-order buffer read as a
    # Fortran matrix is K itself); the rest is O(N) per step
    cdef int N = <int>K.shape[0], T = <int>S.shape[0]
    cdef int one = 1, k, i
    cdef double[::1] u = np.empty(N)
    cdef double[::1] w = np.empty(N)
    cdef double uu, sr, a, rr, tol2 = tol * tol, alpha = 1.0, beta = 0.0
    cdef char trans = b'N'
    cdef int done = T
    if K.shape[1] != N or z.shape[0] != N or r.shape[0] != N or S.shape[1] != N:
        raise ValueError("gaussian_steps: shapes do not match")
    if N == 0:
        return 0
    with nogil:
        for k in range(T):
            dgemv(&trans, &N, &N, &alpha, &K[0, 0], &N, &S[k, 0], &one, &beta, &u[0], &one)
            uu = ddot(&N, &u[0], &one, &u[0], &one)
            if uu <= 0.0:
                continue
            sr = ddot(&N, &S[k, 0], &one, &r[0], &one)
            a = sr / uu
            dgemv(&trans, &N, &N, &alpha, &K[0, 0], &N, &u[0], &one, &beta, &w[0], &one)
            rr = 0.0
            for i in range(N):
                z[i] = z[i] - a * u[i]
                r[i] = r[i] - a * w[i]
                rr = rr + r[i] * r[i]
            if rr <= tol2:
                done = k + 1
                break
    return done


def kaczmarz_steps(double[:, ::1] K, double[:, ::1] K2, double[::1] rownorm2, double[::1] z,
                   double[::1] r, long long[::1] rows, double tol):
    cdef Py_ssize_t N = K.shape[0], T = rows.shape[0]
    cdef Py_ssize_t k, i, j
    cdef double a, rr, tol2 = tol * tol
    cdef Py_ssize_t done = T
    if K.shape[1] != N or K2.shape[0] != N or K2.shape[1] != N or z.shape[0] != N \
            or r.shape[0] != N or rownorm2.shape[0] != N:
        raise ValueError("kaczmarz_steps: shapes do not match")
    for k in range(T):
        if rows[k] < 0 or rows[k] >= N:
            raise ValueError("kaczmarz_steps: row index out of range")
    with nogil:
        for k in range(T):
            i = rows[k]
            if rownorm2[i] <= 0.0:
                continue
            a = r[i] / rownorm2[i]
            rr = 0.0
            # K2 is symmetric (K symmetric), so its row i is its column i: contiguous access
            for j in range(N):
                z[j] = z[j] - a * K[i, j]
                r[j] = r[j] - a * K2[i, j]
                rr = rr + r[j] * r[j]
            if rr <= tol2:
                done = k + 1
                break
    return done
