"""Compiled kernels for hot loops, each with a NumPy reference in :mod:`.reference`.

``COMPILED`` tells whether the Cython extension is in use; ``solverhub plugins`` reports it and CI
fails when it is False (``tests/test_kernels.py``). Set ``SOLVERHUB_PURE_PYTHON=1`` to force the
reference kernels. ``IMPORT_ERROR`` holds why the extension is not in use (or None).

Kernels (same signature and results in both implementations; ``X`` holds k candidates as rows):

* ``row_activities(indptr, indices, data, n_cols, X) -> (k, m)``
* ``max_row_violation(indptr, indices, data, n_cols, row_lower, row_upper, X) -> (k,)``
* ``score_candidates(indptr, indices, data, n_cols, row_lower, row_upper, col_lower, col_upper,
  integrality, c, X) -> (objective, row_violation, bound_violation, integrality_violation)``

:func:`score_problem` is the convenience form for a :class:`~solverhub.core.mip.MIPProblem`.
Measured speed-ups are in ``docs/benchmarks.md`` (``python benchmarks/bench_kernels.py``).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from . import reference

__all__ = ["COMPILED", "IMPORT_ERROR", "KERNELS", "EXTENSIONS", "extension_status", "row_activities", "max_row_violation",
           "score_candidates", "score_problem", "reference", "info"]

KERNELS = ("row_activities", "max_row_violation", "score_candidates")
#: every compiled extension module of the package (setup.py builds each one, optionally); the
#: plugins import their own (``_exact_al``, ``_bilevel``) with a NumPy fallback of their own
EXTENSIONS = ("_kernels", "_exact_al", "_bilevel")

IMPORT_ERROR: str | None = None
if os.environ.get("SOLVERHUB_PURE_PYTHON"):
    COMPILED = False
    IMPORT_ERROR = "disabled by SOLVERHUB_PURE_PYTHON"
    _impl: Any = reference
else:
    try:
        from . import _kernels as _impl  # type: ignore[no-redef]

        COMPILED = True
    except ImportError as exc:  # extension not built: fall back, visibly
        COMPILED = False
        IMPORT_ERROR = str(exc)
        _impl = reference

row_activities = _impl.row_activities
max_row_violation = _impl.max_row_violation
score_candidates = _impl.score_candidates


def score_problem(problem: Any, X: np.ndarray) -> dict[str, np.ndarray]:
    """Score candidate solutions (rows of ``X``) of a MIPProblem in one pass.

    Returns ``objective`` (in the problem's own sense, offset included), ``row_violation``,
    ``bound_violation`` and ``integrality_violation`` (absolute maxima; 0 means satisfied
    exactly), each of shape (k,).
    """
    A = problem.A
    obj, rv, bv, iv = score_candidates(A.indptr, A.indices, A.data, problem.n, problem.row_lower,
                                       problem.row_upper, problem.col_lower, problem.col_upper,
                                       problem.integrality, problem.c, np.atleast_2d(X))
    return {"objective": obj + problem.offset, "row_violation": rv, "bound_violation": bv,
            "integrality_violation": iv}


def extension_status() -> dict[str, str | None]:
    """Each compiled extension module: None when it imports, else why not."""
    import importlib

    out: dict[str, str | None] = {}
    for name in EXTENSIONS:
        try:
            importlib.import_module(f"{__name__}.{name}")
            out[name] = None
        except ImportError as exc:
            out[name] = str(exc)
    return out


def info() -> dict[str, Any]:
    """What ``solverhub plugins`` can show about the kernels."""
    return {"compiled": COMPILED, "import_error": IMPORT_ERROR, "kernels": list(KERNELS),
            "module": getattr(_impl, "__name__", str(_impl)), "extensions": extension_status()}
