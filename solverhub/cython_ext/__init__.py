"""Compiled kernels for hot loops, each with a NumPy reference in :mod:`.reference`.

``COMPILED`` tells whether the Cython extension is in use; ``solverhub plugins`` reports it and CI
fails when it is False. Set ``SOLVERHUB_PURE_PYTHON=1`` to force the reference kernels.
"""

from __future__ import annotations

import os

from . import reference

__all__ = ["COMPILED", "IMPORT_ERROR", "row_activities", "max_row_violation", "reference"]

IMPORT_ERROR: str | None = None
if os.environ.get("SOLVERHUB_PURE_PYTHON"):
    COMPILED = False
    IMPORT_ERROR = "disabled by SOLVERHUB_PURE_PYTHON"
    row_activities = reference.row_activities
    max_row_violation = reference.max_row_violation
else:
    try:
        from ._kernels import max_row_violation, row_activities  # type: ignore[no-redef]

        COMPILED = True
    except ImportError as exc:  # extension not built: fall back, visibly
        COMPILED = False
        IMPORT_ERROR = str(exc)
        row_activities = reference.row_activities
        max_row_violation = reference.max_row_violation
