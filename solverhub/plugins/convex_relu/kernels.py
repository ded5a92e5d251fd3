"""Masked products of the convex ReLU program, with the NumPy oracle and, where it was measured
faster, a compiled kernel.

For data X (n x d) and patterns D (n x P, bool; D[k, i] = 1[x_k . g_i >= 0]):

* :func:`masked_forward`  ``sum_i D_i X u_i`` for m stacked weight sets ``U`` (m, P, d) -> (m, n)
* :func:`masked_adjoint`  ``X' (D_i q_j)`` for all i and m vectors ``q`` (m, n) -> (m, P, d)

The ``*_ref`` functions are the oracle (the form admm.py used: one BLAS product with an
(m P) x n intermediate). :func:`masked_forward` re-associates, ``Z_j = D U_j`` (n x d) then
row-wise ``x_k . Z_j[k]``: the inner dimension of the BLAS product becomes P instead of d and no
(m P) x n array is formed (1.2-2.2x faster than the oracle form; a compiled version was level with
it and was removed). :func:`masked_adjoint` runs the compiled kernel ``solverhub.cython_ext._relu``
(row blocks, the mask applied in a cache-sized buffer, BLAS ``dgemm``) on host float64 data with a
bool mask: 1.24-1.34x faster than NumPy at the small single-output sizes, level at the large ones;
elsewhere (not built, CuPy arrays from the CUDA plugin, ``SOLVERHUB_PURE_PYTHON=1``) it runs the
oracle's product one output at a time. Both accept D as bool or as 0/1 floats (pass floats to
skip a conversion on each call of the NumPy paths). Measurements:
``benchmarks/bench_relu_kernels.py``, docs/benchmarks.md ("Convex ReLU: scnn peer and pattern
kernels"). The patterns themselves (``X G >= 0``) stay one BLAS product
(``problem.patterns_from_gates``): a compiled version was slower.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any

import numpy as np

from solverhub.core.arrays import namespace

__all__ = ["COMPILED", "IMPORT_ERROR", "USE_COMPILED", "masked_forward", "masked_adjoint",
           "masked_forward_ref", "masked_adjoint_ref"]

IMPORT_ERROR: str | None = None
_compiled: ModuleType | None
if os.environ.get("SOLVERHUB_PURE_PYTHON"):
    _compiled, IMPORT_ERROR = None, "disabled by SOLVERHUB_PURE_PYTHON"
else:
    try:
        from solverhub.cython_ext import _relu as _compiled  # type: ignore[attr-defined]
    except ImportError as exc:  # not built: the oracle runs, visibly
        _compiled, IMPORT_ERROR = None, str(exc)
COMPILED: bool = _compiled is not None

#: products that dispatch to the compiled code (host float64 data, bool mask) when it is built,
#: as measured (docs/benchmarks.md); False sends a product to NumPy
USE_COMPILED: dict[str, bool] = {"masked_adjoint": True}


# ------------------------------------------------------------------ the oracle (any namespace)
def masked_forward_ref(X: Any, D: Any, U: Any) -> Any:
    """``out[j] = sum_i D_i X U[j, i]`` (m x n) for ``U`` (m, P, d)."""
    xp = namespace(X)
    m, P, d = U.shape
    XU = xp.reshape(xp.reshape(U, (m * P, d)) @ X.T, (m, P, X.shape[0]))   # (m, P, n)
    return xp.sum(XU * D.T.astype(XU.dtype, copy=False)[None], axis=1)


def masked_adjoint_ref(X: Any, D: Any, q: Any) -> Any:
    """``out[j, i] = X' (D_i q_j)`` (m x P x d) for ``q`` (m, n)."""
    xp = namespace(X)
    m, n = q.shape
    Dq = D.T.astype(q.dtype, copy=False)[None] * q[:, None, :]          # (m, P, n)
    return xp.reshape(xp.reshape(Dq, (m * D.shape[1], n)) @ X, (m, D.shape[1], X.shape[1]))


def _forward_rowdot(X: Any, D: Any, U: Any) -> Any:
    """The forward product as ``Z_j = D U_j`` (n x d), then ``out[j, k] = x_k . Z_j[k]``."""
    xp = namespace(X)
    Df = D if D.dtype == X.dtype else D.astype(X.dtype)
    return xp.stack([xp.einsum("nd,nd->n", X, Df @ U[j]) for j in range(U.shape[0])])


def _adjoint_per_output(X: Any, D: Any, q: Any) -> Any:
    """The oracle's product one output at a time, ``(D' o q_j) X`` (a P x n masked copy per output
    instead of one (m P) x n array: the same for m = 1, 2.3x faster at m = 10)."""
    xp = namespace(X)
    DT = (D if D.dtype == X.dtype else D.astype(X.dtype)).T
    return xp.stack([(DT * q[j][None, :]) @ X for j in range(q.shape[0])])


# ------------------------------------------------------------------ dispatch
def _host_f64(*arrays: Any) -> bool:
    return all(isinstance(a, np.ndarray) and a.dtype == np.float64 for a in arrays)


def _check(X: Any, D: Any, what: str) -> None:
    if getattr(X, "ndim", 0) != 2 or getattr(D, "ndim", 0) != 2 or D.shape[0] != X.shape[0]:
        raise ValueError(f"{what}: X must be (n x d) and D (n x P) with the same n; got "
                         f"{getattr(X, 'shape', '?')} and {getattr(D, 'shape', '?')}")


def masked_forward(X: Any, D: Any, U: Any) -> Any:
    """``sum_i D_i X u_i`` per output: ``U`` (m, P, d) -> (m, n); a 2-D ``U`` (P, d) -> (n,)."""
    _check(X, D, "masked_forward")
    single = getattr(U, "ndim", 0) == 2
    U3 = U[None] if single else U
    if U3.ndim != 3 or U3.shape[1:] != (D.shape[1], X.shape[1]):
        raise ValueError(f"masked_forward: U must be (m, P, d) = (m, {D.shape[1]}, {X.shape[1]}), "
                         f"got {getattr(U, 'shape', '?')}")
    out = _forward_rowdot(X, D, U3)
    return out[0] if single else out


def masked_adjoint(X: Any, D: Any, q: Any) -> Any:
    """``X' (D_i q_j)`` for every pattern i: ``q`` (m, n) -> (m, P, d); a 1-D ``q`` -> (P, d)."""
    _check(X, D, "masked_adjoint")
    single = getattr(q, "ndim", 0) == 1
    q2 = q[None] if single else q
    if q2.ndim != 2 or q2.shape[1] != X.shape[0]:
        raise ValueError(f"masked_adjoint: q must be (m, n) with n = {X.shape[0]}, got "
                         f"{getattr(q, 'shape', '?')}")
    if USE_COMPILED["masked_adjoint"] and _compiled is not None and _host_f64(X, q2) \
            and isinstance(D, np.ndarray) and D.dtype == bool:
        out = np.empty((q2.shape[0], D.shape[1], X.shape[1]))
        _compiled.masked_adjoint(np.ascontiguousarray(X), np.ascontiguousarray(D).view(np.uint8),
                                 np.ascontiguousarray(q2), out)
    else:
        out = _adjoint_per_output(X, D, q2)
    return out[0] if single else out
