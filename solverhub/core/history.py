"""``Result.history``: a thinned, column-wise log of a solver's iterations.

Every solver may report iterations through ``notifier.iteration(k, info)``; the host keeps the
scalars of ``info`` (numbers, booleans, short strings) in columns, one row per kept iteration.
To bound memory whatever the iteration count, at most ``max_rows`` rows are kept: when the log
is full, every other row is dropped and the stride doubles, so a million iterations cost a few
thousand rows spread evenly over the run; the first and the last iteration are always kept.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

__all__ = ["History", "DEFAULT_MAX_ROWS"]

DEFAULT_MAX_ROWS = 1000
_MAX_STR = 64


def _scalar(v: Any) -> Any:
    """A JSON-able scalar, or a sentinel for what a log cannot hold (arrays, objects)."""
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, numbers.Integral):
        return int(v)
    if isinstance(v, numbers.Real):
        f = float(v)
        return f if math.isfinite(f) else None
    if isinstance(v, str):
        return v if len(v) <= _MAX_STR else v[:_MAX_STR]
    item = getattr(v, "item", None)  # NumPy / CuPy 0-d arrays
    if callable(item) and getattr(v, "ndim", None) == 0:
        return _scalar(item())
    return _SKIP


_SKIP = object()


class History:
    """Column-wise iteration log with stride doubling; ``to_dict()`` is what ``Result`` holds."""

    def __init__(self, max_rows: int = DEFAULT_MAX_ROWS) -> None:
        if max_rows < 4:
            raise ValueError("max_rows must be at least 4")
        self.max_rows = int(max_rows)
        self.stride = 1
        self.columns: dict[str, list[Any]] = {"iteration": [], "time": []}
        self._seen = 0
        self._last: tuple[int, float, dict[str, Any]] | None = None

    def __len__(self) -> int:
        return len(self.columns["iteration"])

    def append(self, iteration: int, time: float, info: dict[str, Any]) -> None:
        row = {k: s for k, v in info.items() if (s := _scalar(v)) is not _SKIP
               and k not in ("iteration", "time")}
        self._seen += 1
        self._last = (int(iteration), float(time), row)
        if (self._seen - 1) % self.stride:
            return
        self._add(int(iteration), float(time), row)
        if len(self) >= self.max_rows:
            self._halve()

    def _add(self, iteration: int, time: float, row: dict[str, Any]) -> None:
        n = len(self)
        for k in row:
            if k not in self.columns:
                self.columns[k] = [None] * n
        self.columns["iteration"].append(iteration)
        self.columns["time"].append(time)
        for k, col in self.columns.items():
            if k not in ("iteration", "time"):
                col.append(row.get(k))

    def _halve(self) -> None:
        for k, col in self.columns.items():
            self.columns[k] = col[::2]
        self.stride *= 2

    def to_dict(self) -> dict[str, list[Any]]:
        """The columns, with the last iteration appended when thinning skipped it."""
        out = {k: list(v) for k, v in self.columns.items()}
        if self._last is not None and (not out["iteration"] or out["iteration"][-1] != self._last[0]):
            it, t, row = self._last
            n = len(out["iteration"])
            for k in row:
                if k not in out:
                    out[k] = [None] * n
            out["iteration"].append(it)
            out["time"].append(t)
            for k, col in out.items():
                if k not in ("iteration", "time"):
                    col.append(row.get(k))
        return out
