"""Wall-clock budgets. A time limit given to ``solverhub solve`` covers the whole command: the
interpreter's start, reading the problem and verifying the solution included, so that
``--time-limit 10`` ends within a hair of 10 s of real time."""

from __future__ import annotations

import math
import numbers
import os
import time
from typing import Any

from solverhub.core.errors import BadInputError

__all__ = ["process_started_at", "RESERVE_SECONDS", "check_time_limit", "parse_time_limit",
           "deadline_of", "limit_status"]

#: kept back from a solver's share of a budget for verification, output and interpreter exit
RESERVE_SECONDS = 0.15


def process_started_at() -> float:
    """The ``time.perf_counter()`` reading at which this process started (Linux: from /proc;
    elsewhere: now, i.e. start-up is not counted)."""
    now_perf = time.perf_counter()
    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        start_ticks = int(fields[19])  # field 22 of stat(5), counted after the ")" of comm
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        age = uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return now_perf
    if not 0 <= age < 3600:  # clock oddities: don't trust it
        return now_perf
    return now_perf - age


def check_time_limit(value: Any, where: str = "time_limit") -> float | None:
    """The one rule for a time limit, in the API, the CLI and run configs alike: ``None`` (no
    limit), or a positive number of seconds (``int`` or ``float``; ``inf`` also means no limit).
    Booleans, strings and NaN are refused, with a message naming ``where``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise BadInputError(f"{where} must be a positive number of seconds (inf: no limit), "
                            f"got {value!r} of type {type(value).__name__}")
    v = float(value)
    if math.isnan(v) or v <= 0:
        raise BadInputError(f"{where} must be a positive number of seconds (inf: no limit), "
                            f"got {value!r}")
    return v


def parse_time_limit(text: str, where: str = "--time-limit") -> float:
    """A command-line time limit: a number (``30``, ``2.5``, ``1e3``) or ``inf``."""
    try:
        v = float(text)
    except ValueError:
        raise BadInputError(f"{where} expects a number of seconds, got {text!r}") from None
    out = check_time_limit(v, where)
    assert out is not None
    return out


def deadline_of(t0: float, time_limit: float | None) -> float:
    """The ``time.perf_counter()`` reading at which a solve started at ``t0`` must stop
    (``inf`` without a finite limit)."""
    return math.inf if time_limit is None or not math.isfinite(time_limit) else t0 + float(time_limit)


def limit_status(deadline: float) -> Any:
    """The status an iterative solver stops with now: ``interrupted`` after a stop request
    (Ctrl-C), ``time_limit`` past ``deadline``, else None (go on). Cheap: call it every
    iteration or every few."""
    from solverhub.core.interrupt import stop_requested
    from solverhub.core.result import Status

    if stop_requested():
        return Status.INTERRUPTED
    if time.perf_counter() >= deadline:
        return Status.TIME_LIMIT
    return None
