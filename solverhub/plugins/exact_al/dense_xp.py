"""The dense linear algebra of an ``exact-al`` Newton iteration on an array namespace ``xp``
(``device`` other than "cpu"): the KKT matrix, its direct solve, the LICQ guard's
``lambda_min(G G')`` and the null-space curvature ``lambda_min(Z'HZ)``. The problem's callbacks
return host NumPy (dense or SciPy sparse); their values are densified on the host and moved to the
device once per iteration with :func:`~solverhub.core.arrays.asarray_on`. Results that steer the
iteration (scalars, the direction ``z``) come back as host values. Only ``xp`` calls that NumPy
and CuPy share (``concatenate``, ``eye``, ``linalg.solve/eigvalsh/svd/norm``)."""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import numpy as np
import scipy.sparse as sp

from solverhub.core.arrays import asarray_on, to_host

__all__ = ["kkt_dense", "lambda_min_ggt", "nullspace_lambda_min", "solve_dense", "to_device_dense"]


def to_device_dense(xp: ModuleType, A: Any) -> Any:
    """A host matrix (dense or SciPy sparse) as a dense float64 array of ``xp``."""
    return asarray_on(xp, A.toarray() if sp.issparse(A) else np.asarray(A), dtype=xp.float64)


def kkt_dense(xp: ModuleType, B: Any, J: Any, reg: float) -> Any:
    """``K = [[B, G'], [G, -reg I]]`` on the device (``reg = 0``: the paper's zero block)."""
    Bd, Jd = to_device_dense(xp, B), to_device_dense(xp, J)
    m = int(Jd.shape[0])
    lower_right = -reg * xp.eye(m, dtype=xp.float64) if reg else xp.zeros((m, m), dtype=xp.float64)
    top = xp.concatenate([Bd, Jd.T], axis=1)
    bottom = xp.concatenate([Jd, lower_right], axis=1)
    return xp.concatenate([top, bottom], axis=0)


def solve_dense(xp: ModuleType, K: Any, b: np.ndarray) -> tuple[np.ndarray | None, str]:
    """``K z = b`` by ``xp.linalg.solve``: ``(host z, "")``, or ``(None, reason)`` when ``K`` is
    singular (NumPy raises; a device library may instead return non-finite numbers)."""
    try:
        z = xp.linalg.solve(K, asarray_on(xp, b, dtype=xp.float64))
    except np.linalg.LinAlgError as exc:
        return None, str(exc)
    except Exception as exc:  # e.g. cupy's LinAlgError, which is not NumPy's class
        if type(exc).__name__ != "LinAlgError":
            raise
        return None, str(exc)
    zh = np.asarray(to_host(z), dtype=np.float64)
    if not np.all(np.isfinite(zh)):
        return None, "Singular matrix (non-finite solution)"
    return zh, ""


def lambda_min_ggt(xp: ModuleType, J: Any) -> float:
    """``lambda_min(G G')`` by dense ``eigvalsh`` on the device (``inf`` when m = 0)."""
    if J.shape[0] == 0:
        return math.inf
    Jd = to_device_dense(xp, J)
    return float(xp.linalg.eigvalsh(Jd @ Jd.T)[0])


def nullspace_lambda_min(xp: ModuleType, H: Any, J: Any) -> float:
    """``lambda_min(Z'HZ)`` with ``Z`` an orthonormal basis of null(G), from the full SVD of G
    with SciPy ``null_space``'s rank cut-off (``eps * max(m, n) * s_max``); ``inf`` when the null
    space is trivial."""
    m, n = J.shape
    if n <= m:
        return math.inf
    Hd = to_device_dense(xp, H)
    if m == 0:
        return float(xp.linalg.eigvalsh(Hd)[0])
    Jd = to_device_dense(xp, J)
    _, s, vh = xp.linalg.svd(Jd, full_matrices=True)
    smax = float(s[0]) if s.shape[0] else 0.0
    rank = int(xp.sum(s > np.finfo(np.float64).eps * max(m, n) * smax))
    Z = vh[rank:, :].T
    if Z.shape[1] == 0:
        return math.inf
    return float(xp.linalg.eigvalsh(Z.T @ Hd @ Z)[0])
