"""Small highspy helpers shared by the MIP file reader and the HiGHS backend.

* :func:`new_highs` builds a ``highspy.Highs`` without its banner reaching stdout: HiGHS prints
  "Running HiGHS ..." from C++ on the first construction in a process, before any option can be
  set, so file descriptor 1 is pointed at /dev/null for that construction (C stdio is flushed
  before it is put back, otherwise a buffered banner would appear later on a pipe).
* :class:`LogCapture` collects HiGHS's log lines through the logging callback (console output
  off), so error messages can be quoted in exceptions instead of being printed.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from typing import Any

__all__ = ["new_highs", "LogCapture", "highs_kind_name"]

_BANNER_LOCK = threading.Lock()
_BANNER_DONE = False


def _flush_c_stdio() -> None:
    try:
        ctypes.CDLL(None).fflush(None)
    except Exception:  # pragma: no cover - no libc (not on these machines)
        pass


def new_highs() -> Any:
    """A silent ``highspy.Highs`` (no banner on stdout, ``output_flag`` off)."""
    import highspy

    global _BANNER_DONE
    with _BANNER_LOCK:
        if _BANNER_DONE:
            h = highspy.Highs()
        else:
            try:
                sys.stdout.flush()
            except Exception:
                pass
            saved = devnull = None
            try:
                saved = os.dup(1)
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 1)
            except OSError:  # no fd 1 (embedded interpreters): nothing to protect
                saved = None
            try:
                h = highspy.Highs()
                _flush_c_stdio()
            finally:
                if saved is not None:
                    os.dup2(saved, 1)
                    os.close(saved)
                if devnull is not None:
                    os.close(devnull)
            _BANNER_DONE = True
    h.silent()
    return h


class LogCapture:
    """``with LogCapture(h) as log: h.readModel(p)`` -- ``log.lines`` holds what HiGHS said.

    Output goes to the callback only (``log_to_console`` off); on exit the object is silent again.
    """

    def __init__(self, h: Any) -> None:
        self.h = h
        self.lines: list[str] = []

    def _cb(self, e: Any) -> None:
        msg = (getattr(e, "message", "") or "").strip()
        if msg:
            self.lines.append(msg)

    def __enter__(self) -> "LogCapture":
        self.h.setOptionValue("log_to_console", False)
        self.h.setOptionValue("output_flag", True)
        self.h.cbLogging.subscribe(self._cb)
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            self.h.cbLogging.unsubscribe(self._cb)
        except Exception:
            pass
        self.h.setOptionValue("output_flag", False)

    def errors(self) -> str:
        errs = [ln for ln in self.lines if "ERROR" in ln.upper() or "WARNING" in ln.upper()]
        text = "; ".join(ln.replace("ERROR:", "").strip() for ln in (errs or self.lines[-2:]))
        return " ".join(text.split())


def highs_kind_name(status: Any) -> str:
    return getattr(status, "name", str(status))
