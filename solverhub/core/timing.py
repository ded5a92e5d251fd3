"""Wall-clock budgets. A time limit given to ``solverhub solve`` covers the whole command: the
interpreter's start, reading the problem and verifying the solution included, so that
``--time-limit 10`` ends within a hair of 10 s of real time."""

from __future__ import annotations

import os
import time

__all__ = ["process_started_at", "RESERVE_SECONDS"]

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
