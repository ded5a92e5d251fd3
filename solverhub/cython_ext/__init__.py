"""Compiled kernels for hot loops, each with a NumPy reference in :mod:`.reference`.

This package is the home of every compiled kernel: one ``.pyx`` per extension module, listed in
:data:`EXTENSIONS` (``setup.py`` builds each ``solverhub/cython_ext/*.pyx``, and a test keeps the
two in step). :func:`load_extension` is the one way to pick the compiled module or learn why it
is not in use; callers fall back to their NumPy reference (the oracle of the kernel tests) when it
returns None. Set ``SOLVERHUB_PURE_PYTHON=1`` to force the references everywhere.

``COMPILED`` tells whether the ``_kernels`` extension is in use; ``solverhub plugins`` reports it
for every extension, and CI fails when one is not compiled (``tests/test_kernels.py``).
``IMPORT_ERROR`` holds why ``_kernels`` is not in use (or None).

Kernels (same signature and results in both implementations; ``X`` holds k candidates as rows):

* ``row_activities(indptr, indices, data, n_cols, X) -> (k, m)``
* ``max_row_violation(indptr, indices, data, n_cols, row_lower, row_upper, X) -> (k,)``
* ``score_candidates(indptr, indices, data, n_cols, row_lower, row_upper, col_lower, col_upper,
  integrality, c, X) -> (objective, row_violation, bound_violation, integrality_violation)``

:func:`score_problem` is the convenience form for a :class:`~solverhub.core.mip.MIPProblem`.
Measured speed-ups are in ``docs/benchmarks.md`` (``python benchmarks/bench_kernels.py``).
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Any

import numpy as np

from . import reference

__all__ = ["COMPILED", "IMPORT_ERROR", "KERNELS", "EXTENSIONS", "load_extension", "extension_status",
           "row_activities", "max_row_violation", "score_candidates", "score_problem", "reference", "info"]

KERNELS = ("row_activities", "max_row_violation", "score_candidates")
#: every compiled extension module of the package, one per ``solverhub/cython_ext/<name>.pyx``
#: (setup.py builds each); the plugins take theirs (``_exact_al``, ``_bilevel``, ``_linsys``)
#: through :func:`load_extension`, with their own NumPy references as fallback
EXTENSIONS = ("_kernels", "_exact_al", "_bilevel", "_linsys")

_LOADED: dict[str, tuple[ModuleType | None, str | None]] = {}


def load_extension(name: str) -> tuple[ModuleType | None, str | None]:
    """``(module, None)`` for the compiled extension ``name`` (one of :data:`EXTENSIONS`), or
    ``(None, why not)``: not built, or ``SOLVERHUB_PURE_PYTHON`` set. Imported once."""
    if name not in EXTENSIONS:
        raise ValueError(f"unknown kernel extension {name!r}; known: {', '.join(EXTENSIONS)}")
    if name not in _LOADED:
        if os.environ.get("SOLVERHUB_PURE_PYTHON"):
            _LOADED[name] = (None, "disabled by SOLVERHUB_PURE_PYTHON")
        else:
            try:
                _LOADED[name] = (importlib.import_module(f"{__name__}.{name}"), None)
            except ImportError as exc:  # not built: the caller falls back, visibly
                _LOADED[name] = (None, f"{type(exc).__name__}: {exc}")
    return _LOADED[name]


_compiled, IMPORT_ERROR = load_extension("_kernels")
COMPILED = _compiled is not None
_impl: Any = _compiled if _compiled is not None else reference

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
    """Each compiled extension module: None when it is in use, else why not."""
    return {name: load_extension(name)[1] for name in EXTENSIONS}


def info() -> dict[str, Any]:
    """What ``solverhub plugins`` can show about the kernels."""
    return {"compiled": COMPILED, "import_error": IMPORT_ERROR, "kernels": list(KERNELS),
            "module": getattr(_impl, "__name__", str(_impl)), "extensions": extension_status()}
