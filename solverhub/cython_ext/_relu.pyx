# cython: boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True, language_level=3
"""Activation-pattern kernel of the convex ReLU program (plugin convex_relu).

``masked_adjoint(X, D, q, out)``: ``out[j, i] = X' (D_i q_j)`` = ``sum_k D[k, i] q[j, k] X[k]`` for
data X (n x d), the pattern mask D (n x P, uint8 0/1: a bool array's ``.view(np.uint8)``) and m
vectors q (m x n); ``out`` (m, P, d) is overwritten. Same result as the NumPy oracle
``solverhub.plugins.convex_relu.kernels.masked_adjoint_ref`` (tests compare them). It works row
block by row block: the masked block (D_b o q) (B x m P) is built in a cache-sized buffer and
accumulated by BLAS ``dgemm``, so no n x P array is formed.

Only this kernel won against NumPy at the benchmark sizes (docs/benchmarks.md). Measured and
removed: the patterns 1[X G >= 0] (slower than NumPy's one product), the forward product
sum_i D_i X u_i in both associations (level with NumPy's ``D U`` re-association) and without
BLAS (slower).
"""

import numpy as np
cimport numpy as cnp
from scipy.linalg.cython_blas cimport dgemm

cnp.import_array()

# rows per block: a B-row buffer holds up to 2^19 doubles (4 MiB, L3-resident) and at least 256
# rows, because BLAS repacks the other operand once per block (blocks of 16-512 rows made the
# blocked kernels slower than NumPy at 20000 x 784, P = 500)
cdef Py_ssize_t _block_rows(Py_ssize_t n, Py_ssize_t cols) noexcept nogil:
    cdef Py_ssize_t b = 524288 // (cols if cols > 0 else 1)
    if b < 256:
        b = 256
    if b > 4096:
        b = 4096
    if b > n:
        b = n
    return b


def masked_adjoint(const double[:, ::1] X, const cnp.uint8_t[:, ::1] D,
                   const double[:, ::1] q, double[:, :, ::1] out):
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], P = D.shape[1], m = q.shape[0]
    if D.shape[0] != n or q.shape[1] != n or out.shape[0] != m or out.shape[1] != P \
            or out.shape[2] != d:
        raise ValueError("masked_adjoint: X (n x d), D (n x P), q (m x n) and out (m x P x d) "
                         "do not match")
    out[:, :, :] = 0.0
    if n == 0 or P == 0 or m == 0 or d == 0:
        return
    cdef Py_ssize_t mP = m * P
    if mP > 2147483647 or d > 2147483647:
        raise ValueError("masked_adjoint: m P and d must fit a BLAS int")
    cdef Py_ssize_t B = _block_rows(n, mP)
    cdef double[:, ::1] Q = np.empty((B, mP))
    cdef Py_ssize_t k0, k, i, j, b
    cdef int imp = <int>mP, ib, ik = <int>d
    cdef double one = 1.0, qk
    cdef char tt = b'T', tn = b'N'
    with nogil:
        k0 = 0
        while k0 < n:
            b = B if k0 + B <= n else n - k0
            ib = <int>b
            for k in range(b):
                for j in range(m):
                    qk = q[j, k0 + k]
                    for i in range(P):
                        Q[k, j * P + i] = D[k0 + k, i] * qk
            # out (mP x d) += Q' X_b; Fortran view: out' (d x mP) += X_b' (d x b) Q (b x mP)
            dgemm(&tn, &tt, &ik, &imp, &ib, &one, <double*>&X[k0, 0], &ik,
                  &Q[0, 0], &imp, &one, &out[0, 0, 0], &ik)
            k0 = k0 + b
