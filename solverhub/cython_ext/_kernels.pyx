# cython: boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True, language_level=3
"""Compiled kernels that check and score a batch of candidate solutions ``X`` (shape (k, n))
against a CSR matrix ``A`` (m x n) given as ``indptr, indices, data``.

Each kernel has a NumPy/SciPy twin in :mod:`solverhub.cython_ext.reference` with the same
signature and results (to rounding): the twin is the fallback and the test oracle.

Layout: for a few candidates (k < ``TRANSPOSE_MIN_K``) each candidate is a contiguous row and the
matrix is walked once per candidate; for more, ``X`` is converted once to an (n, k) C array so
that each nonzero updates k contiguous accumulators (one pass over the matrix, SIMD-friendly).
``max_row_violation`` and ``score_candidates`` are fused: they keep only k accumulators per row,
never a (k, m) temporary. All loops run without the GIL.

Index arrays may be int32 or int64 (anything else is converted to int64); the CSR structure is
checked (``indptr`` inside ``[0, nnz]`` up front, column indices inside ``[0, n_cols)`` as the
loops read them, which costs one predictable branch), so a malformed matrix raises ``ValueError``
instead of crashing.
"""

import numpy as np
cimport numpy as cnp
from libc.math cimport NAN, fabs, rint
from libc.stdlib cimport free, malloc

cnp.import_array()

ctypedef fused idx_t:
    cnp.int32_t
    cnp.int64_t

#: from this many candidates on, X is laid out as (n, k) and the matrix is walked once
TRANSPOSE_MIN_K = 4

__all__ = ["row_activities", "max_row_violation", "score_candidates", "TRANSPOSE_MIN_K"]


# ---------------------------------------------------------------------------------- validation
cdef int _bad_indptr(const idx_t[::1] indptr, Py_ssize_t nnz) noexcept nogil:
    """1 when some indptr entry lies outside [0, nnz] (then a row range could leave the arrays);
    a decreasing pair only gives an empty row, as in SciPy."""
    cdef Py_ssize_t i
    cdef int bad = 0
    for i in range(indptr.shape[0]):  # OR-reduction: vectorises
        bad |= (indptr[i] < 0) | (indptr[i] > nnz)
    return bad


_CSR_ERRORS = {
    1: "an indptr entry lies outside [0, number of stored entries]",
    2: "a column index lies outside [0, n_cols)",
}


cdef tuple _prep_csr(indptr, indices, data, n_cols):
    indices = np.asarray(indices)
    if indices.dtype != np.int32 and indices.dtype != np.int64:
        indices = indices.astype(np.int64)
    indices = np.ascontiguousarray(indices)
    indptr = np.ascontiguousarray(indptr, dtype=indices.dtype)
    data = np.ascontiguousarray(data, dtype=np.float64)
    if indptr.ndim != 1 or indptr.shape[0] < 1:
        raise ValueError("indptr must be a 1-D array with at least one entry")
    if indices.ndim != 1 or data.ndim != 1:
        raise ValueError("indices and data must be 1-D arrays")
    n = int(n_cols)
    if n < 0:
        raise ValueError(f"n_cols must be >= 0, got {n}")
    cdef Py_ssize_t nnz = min(indices.shape[0], data.shape[0])
    cdef int code
    if indices.dtype == np.int32:
        code = _bad_indptr[cnp.int32_t](indptr, nnz)
    else:
        code = _bad_indptr[cnp.int64_t](indptr, nnz)
    if code:
        raise ValueError(f"malformed CSR matrix: {_CSR_ERRORS[code]}")
    return indptr, indices, data, n


cdef _raise(int code):
    if code == -1:
        raise MemoryError()
    if code:
        raise ValueError(f"malformed CSR matrix: {_CSR_ERRORS[code]}")


cdef tuple _prep_x(X, Py_ssize_t n):
    """(X as float64 2-D, squeezed?) with the column count checked."""
    X = np.asarray(X, dtype=np.float64)
    squeeze = X.ndim == 1
    if squeeze:
        X = X.reshape(1, -1)
    elif X.ndim != 2:
        raise ValueError(f"X must be 1-D or 2-D (k candidates x n columns), got {X.ndim}-D")
    if X.shape[1] != n:
        raise ValueError(f"X has {X.shape[1]} columns, the matrix has {n}")
    return X, squeeze


cdef object _prep_vec(b, Py_ssize_t m, str name):
    b = np.asarray(b, dtype=np.float64)
    if b.ndim == 0:
        b = np.full(m, float(b))
    b = np.ascontiguousarray(b)
    if b.ndim != 1 or b.shape[0] != m:
        raise ValueError(f"{name} has shape {b.shape}, expected ({m},)")
    return b


# ---------------------------------------------------------------------------------- loops
# Each loop takes typed memoryviews (built with the GIL held) and releases the GIL inside.
# Return codes: 0 ok, 2 bad column index, -1 out of memory.

cdef inline double _viol(double act, double lo, double up, double best, bint* nan) noexcept nogil:
    """max(best, lo - act, act - up), remembering whether a NaN was met."""
    cdef double d1 = lo - act, d2 = act - up
    if d1 != d1 or d2 != d2:
        nan[0] = True
    if d1 > best:
        best = d1
    if d2 > best:
        best = d2
    return best


cdef int _rows_k(const idx_t[::1] indptr, const idx_t[::1] indices, const double[::1] data,
                 Py_ssize_t n, const double[:, ::1] X, double[:, ::1] act,
                 const double[::1] lo, const double[::1] up, double[::1] viol) noexcept:
    """Candidate-major (small k): each candidate row of X walks the matrix once.

    Fills ``act[p, i]`` when ``act`` has k rows (activities) or ``viol[p]`` when it has none
    (fused violation: the activity lives in a register only)."""
    cdef Py_ssize_t k = X.shape[0], m = indptr.shape[0] - 1, p, i, jj
    cdef size_t un = <size_t> n
    cdef idx_t j
    cdef double s, best
    cdef bint nan, want_act = act.shape[0] > 0
    cdef const double* xp
    with nogil:
        for p in range(k):
            xp = &X[p, 0] if n > 0 else NULL
            best = 0.0
            nan = False
            for i in range(m):
                s = 0.0
                for jj in range(indptr[i], indptr[i + 1]):
                    j = indices[jj]
                    if <size_t> j >= un:
                        return 2
                    s = s + data[jj] * xp[j]
                if want_act:
                    act[p, i] = s
                else:
                    best = _viol(s, lo[i], up[i], best, &nan)
            if not want_act:
                viol[p] = NAN if nan else best
    return 0


cdef int _rows_t(const idx_t[::1] indptr, const idx_t[::1] indices, const double[::1] data,
                 Py_ssize_t n, const double[:, ::1] XT, double[:, ::1] actT,
                 const double[::1] lo, const double[::1] up, double[::1] viol) noexcept:
    """Matrix-major (many candidates): X is (n, k) and each nonzero updates k contiguous
    accumulators. Fills ``actT[i, p]`` when ``actT`` has m rows, else the fused ``viol[p]``."""
    cdef Py_ssize_t k = XT.shape[1], m = indptr.shape[0] - 1, p, i, jj
    cdef size_t un = <size_t> n
    cdef idx_t j
    cdef double a, l, u
    cdef const double* xr
    cdef double* acc
    cdef bint want_act = actT.shape[0] > 0
    cdef double* buf = NULL
    cdef bint* nan = <bint*> malloc(k * sizeof(bint) + 1)
    if nan == NULL:
        return -1
    if not want_act:
        buf = <double*> malloc(k * sizeof(double) + 1)
        if buf == NULL:
            free(nan)
            return -1
    with nogil:
        for p in range(k):
            viol[p] = 0.0
            nan[p] = False
        for i in range(m):
            acc = &actT[i, 0] if want_act else buf
            for p in range(k):
                acc[p] = 0.0
            for jj in range(indptr[i], indptr[i + 1]):
                j = indices[jj]
                if <size_t> j >= un:
                    free(nan)
                    free(buf)
                    return 2
                a = data[jj]
                xr = &XT[j, 0]
                for p in range(k):
                    acc[p] = acc[p] + a * xr[p]
            if not want_act:
                l = lo[i]
                u = up[i]
                for p in range(k):
                    viol[p] = _viol(acc[p], l, u, viol[p], &nan[p])
        for p in range(k):
            if nan[p]:
                viol[p] = NAN
        free(nan)
        free(buf)
    return 0


cdef int _run(indptr, indices, data, Py_ssize_t n, X, act, lo, up, viol, bint transposed):
    """Dispatch on the index dtype and the layout; raises on a bad code."""
    cdef int rc
    if indices.dtype == np.int32:
        if transposed:
            rc = _rows_t[cnp.int32_t](indptr, indices, data, n, X, act, lo, up, viol)
        else:
            rc = _rows_k[cnp.int32_t](indptr, indices, data, n, X, act, lo, up, viol)
    else:
        if transposed:
            rc = _rows_t[cnp.int64_t](indptr, indices, data, n, X, act, lo, up, viol)
        else:
            rc = _rows_k[cnp.int64_t](indptr, indices, data, n, X, act, lo, up, viol)
    _raise(rc)
    return rc


_EMPTY1 = np.zeros(0)
_EMPTY2 = np.zeros((0, 0))


def row_activities(indptr, indices, data, n_cols, X):
    """Row activities ``A @ x`` for each candidate ``x`` in the rows of ``X`` (k, n): shape (k, m).

    A 1-D ``X`` is one candidate and gives shape (m,). With many candidates the result is the
    transpose of a C-ordered (m, k) array (as SciPy's ``(A @ X.T).T``).
    """
    indptr, indices, data, n = _prep_csr(indptr, indices, data, n_cols)
    X, squeeze = _prep_x(X, n)
    cdef Py_ssize_t k = X.shape[0], m = indptr.shape[0] - 1
    if k == 0 or m == 0:
        out = np.zeros((k, m))
    elif k < TRANSPOSE_MIN_K or n == 0:
        out = np.empty((k, m))
        _run(indptr, indices, data, n, np.ascontiguousarray(X), out, _EMPTY1, _EMPTY1, _EMPTY1, False)
    else:
        outT = np.empty((m, k))
        _run(indptr, indices, data, n, np.ascontiguousarray(X.T), outT, _EMPTY1, _EMPTY1,
             np.empty(k), True)
        out = outT.T
    return out[0] if squeeze else out


def max_row_violation(indptr, indices, data, n_cols, row_lower, row_upper, X):
    """For each candidate (rows of ``X``), ``max(0, max_i(row_lower_i - a_i x, a_i x - row_upper_i))``.

    Fused: no (k, m) temporary. Infinite bounds are allowed; a candidate whose check meets a NaN
    (NaN in ``x``, or an infinite activity against an infinite bound) gets NaN, as in the NumPy
    reference. Shape (k,); a 1-D ``X`` gives a NumPy float.
    """
    indptr, indices, data, n = _prep_csr(indptr, indices, data, n_cols)
    X, squeeze = _prep_x(X, n)
    cdef Py_ssize_t k = X.shape[0], m = indptr.shape[0] - 1
    lo = _prep_vec(row_lower, m, "row_lower")
    up = _prep_vec(row_upper, m, "row_upper")
    out = np.zeros(k)
    if k and m:
        _rows_viol(indptr, indices, data, n, X, lo, up, out)
    return out[0] if squeeze else out


cdef _rows_viol(indptr, indices, data, Py_ssize_t n, X, lo, up, out):
    if X.shape[0] < TRANSPOSE_MIN_K or n == 0:
        _run(indptr, indices, data, n, np.ascontiguousarray(X), _EMPTY2, lo, up, out, False)
    else:
        _run(indptr, indices, data, n, np.ascontiguousarray(X.T), _EMPTY2, lo, up, out, True)


# ---------------------------------------------------------------------------------- scoring
cdef inline void _int_viol(double x, double* best, bint* nan) noexcept nogil:
    cdef double d = fabs(x - rint(x))
    if d != d:
        nan[0] = True
    elif d > best[0]:
        best[0] = d


cdef int _cols_k(const double[::1] c, const double[::1] clo, const double[::1] cup,
                 const cnp.uint8_t[::1] integ, const double[:, ::1] X, double[::1] obj,
                 double[::1] bviol, double[::1] iviol) noexcept:
    """Objective, bound and integrality violations, candidate-major over a (k, n) C array."""
    cdef Py_ssize_t k = X.shape[0], n = X.shape[1], p, j
    cdef double x, s, bb, ib
    cdef bint nb, ni
    with nogil:
        for p in range(k):
            s = 0.0
            bb = 0.0
            ib = 0.0
            nb = False
            ni = False
            for j in range(n):
                x = X[p, j]
                s = s + c[j] * x
                bb = _viol(x, clo[j], cup[j], bb, &nb)
                if integ[j]:
                    _int_viol(x, &ib, &ni)
            obj[p] = s
            bviol[p] = NAN if nb else bb
            iviol[p] = NAN if ni else ib
    return 0


cdef int _cols_t(const double[::1] c, const double[::1] clo, const double[::1] cup,
                 const cnp.uint8_t[::1] integ, const double[:, ::1] XT, double[::1] obj,
                 double[::1] bviol, double[::1] iviol) noexcept:
    """Same on the (n, k) layout: each column updates k contiguous accumulators."""
    cdef Py_ssize_t k = XT.shape[1], n = XT.shape[0], p, j
    cdef double cj, l, u
    cdef const double* xr
    cdef bint* nb = <bint*> malloc(2 * k * sizeof(bint) + 1)
    if nb == NULL:
        return -1
    cdef bint* ni = nb + k
    with nogil:
        for p in range(k):
            obj[p] = 0.0
            bviol[p] = 0.0
            iviol[p] = 0.0
            nb[p] = False
            ni[p] = False
        for j in range(n):
            xr = &XT[j, 0]
            cj = c[j]
            l = clo[j]
            u = cup[j]
            for p in range(k):
                obj[p] = obj[p] + cj * xr[p]
            for p in range(k):
                bviol[p] = _viol(xr[p], l, u, bviol[p], &nb[p])
            if integ[j]:
                for p in range(k):
                    _int_viol(xr[p], &iviol[p], &ni[p])
        for p in range(k):
            if nb[p]:
                bviol[p] = NAN
            if ni[p]:
                iviol[p] = NAN
    free(nb)
    return 0


def score_candidates(indptr, indices, data, n_cols, row_lower, row_upper, col_lower, col_upper,
                     integrality, c, X):
    """Score a batch of candidates in one call: ``(objective, row_violation, bound_violation,
    integrality_violation)``, each of shape (k,).

    ``objective`` is ``X @ c`` (no offset, no sense change); the violations are absolute maxima,
    ``0`` for a candidate that satisfies everything exactly (see :func:`max_row_violation` for the
    row part and its NaN rule). ``integrality`` is a boolean mask of the integer columns. This is
    what a meta-search scores its candidate pool with (e.g. many roundings of an LP solution).
    """
    indptr, indices, data, n = _prep_csr(indptr, indices, data, n_cols)
    X, squeeze = _prep_x(X, n)
    cdef Py_ssize_t k = X.shape[0], m = indptr.shape[0] - 1
    lo = _prep_vec(row_lower, m, "row_lower")
    up = _prep_vec(row_upper, m, "row_upper")
    clo = _prep_vec(col_lower, n, "col_lower")
    cup = _prep_vec(col_upper, n, "col_upper")
    cc = _prep_vec(c, n, "c")
    integ = np.ascontiguousarray(integrality, dtype=bool)
    if integ.ndim != 1 or integ.shape[0] != n:
        raise ValueError(f"integrality has shape {integ.shape}, expected ({n},)")
    obj = np.zeros(k)
    rviol = np.zeros(k)
    bviol = np.zeros(k)
    iviol = np.zeros(k)
    if k:
        if k < TRANSPOSE_MIN_K or n == 0:
            Xl = np.ascontiguousarray(X)
            if m:
                _run(indptr, indices, data, n, Xl, _EMPTY2, lo, up, rviol, False)
            _raise(_cols_k(cc, clo, cup, integ.view(np.uint8), Xl, obj, bviol, iviol))
        else:
            XT = np.ascontiguousarray(X.T)  # converted once, shared by both passes
            if m:
                _run(indptr, indices, data, n, XT, _EMPTY2, lo, up, rviol, True)
            _raise(_cols_t(cc, clo, cup, integ.view(np.uint8), XT, obj, bviol, iviol))
    if squeeze:
        return obj[0], rviol[0], bviol[0], iviol[0]
    return obj, rviol, bviol, iviol
