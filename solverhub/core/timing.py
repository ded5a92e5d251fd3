"""Wall-clock budgets. A time limit counts from the call that is given it (``solverhub.solve``,
the CLI's ``main``), never from the process's start: a long-running process (a notebook, a test
session, a worker) that solves late gets its whole budget. Reading the problem and verifying the
solution are inside it, so ``--time-limit 10`` ends within a hair of 10 s after the command
started running."""

from __future__ import annotations

import math
import numbers
import time
from typing import Any

from solverhub.core.errors import BadInputError

__all__ = ["RESERVE_SECONDS", "check_time_limit", "parse_time_limit",
           "deadline_of", "limit_status"]

#: kept back from a solver's share of a budget for verification, output and interpreter exit
RESERVE_SECONDS = 0.15


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
