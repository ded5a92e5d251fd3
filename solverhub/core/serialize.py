"""The one JSON sanitizer and the one atomic text writer of solverhub.

``jsonable`` turns results, records and options into strict JSON values (NaN and inf become null,
NumPy arrays and scalars plain lists and numbers, enums their values); ``atomic_write_text`` writes
a file so that a reader (or a crash) sees either the old or the new content, never half of it.
"""

from __future__ import annotations

import enum
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["jsonable", "atomic_write_text"]


def jsonable(obj: Any) -> Any:
    """``obj`` as strict-JSON data; anything unknown becomes its ``str``."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, enum.Enum):
        return obj.value
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    return str(obj)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, fsync it, then rename it over ``path``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
