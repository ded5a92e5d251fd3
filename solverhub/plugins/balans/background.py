"""The backend's own search of the whole problem, run in a thread and *paused* instead of ended.

Cutting the first solve to run neighbourhoods throws away its presolve, root LP, cuts and tree; a
"continue" pull that restarts the backend pays all of that again (air04: 14 s of root work before
the first incumbent, redone by every restart). With a backend that can hold a solve at its next
poll (capability ``"pause"``), the first solve runs in a thread; where the watchdog would cut it,
it is paused, the neighbourhoods are solved on a second instance of the backend, and a "continue"
pull resumes the same search where it stopped, handed the best solution found meanwhile. The time
is shared between the tree search and the neighbourhoods; nothing of the tree is lost.

    search = BackgroundSearch(backend, time_limit=..., on_incumbent=..., seed=...)
    search.start()
    search.run_until_paused()      # the watchdog calls search.interrupt() to pause it
    ...                            # the other instance solves sub-MIPs meanwhile
    search.offer(best_x)
    search.backend.resume(); search.run_until_paused()
    result = search.finish()       # interrupt, let go, join: the solve's BackendResult
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

from solverhub.core.backend import BackendResult
from solverhub.core.interrupt import stop_requested

__all__ = ["BackgroundSearch", "can_pause"]

_WAIT = 0.02


#: capabilities a backend needs for its search to run here, held and resumed
PAUSE_NEEDS = frozenset({"pause", "interrupt", "incumbent_callback"})


def can_pause(backend: Any) -> bool:
    caps = getattr(backend, "capabilities", frozenset[str]())
    return PAUSE_NEEDS <= set(caps)


class BackgroundSearch:
    """One ``backend.solve(**kwargs)`` in a daemon thread that the caller pauses and resumes.

    ``interrupt()`` *pauses* the search (the name lets the gap watchdog drive it as it drives a
    backend it cuts); ``finish()`` ends it for good. ``progress()`` and ``nodes()`` are the
    backend's own reports."""

    def __init__(self, backend: Any, **solve_kwargs: Any) -> None:
        self.backend = backend
        self._kwargs = solve_kwargs
        self.result: BackendResult | None = None
        self.error: BaseException | None = None
        self.started = 0.0
        self.pauses = 0  # pause requests (the watchdog's cuts)
        self.taken = False  # the caller has taken the result (finish() was read)
        self._thread = threading.Thread(target=self._run, daemon=True, name="balans-background-search")
        progress = getattr(backend, "progress", None)
        self.progress = progress if progress is not None else (lambda: None)
        nodes = getattr(backend, "nodes", None)
        if nodes is not None:
            self.nodes = nodes

    def _run(self) -> None:
        try:
            self.result = self.backend.solve(**self._kwargs)
        except BaseException as exc:  # reported by finish() in the caller's thread
            self.error = exc

    def start(self) -> None:
        self.backend.resume()
        self.started = time.perf_counter()
        self._thread.start()

    @property
    def finished(self) -> bool:
        return self.started > 0 and not self._thread.is_alive()

    @property
    def paused(self) -> bool:
        return self.backend.is_paused()

    def interrupt(self) -> None:
        """Pause (the watchdog's cut)."""
        self.pauses += 1
        self.backend.pause()

    def resume(self) -> None:
        self.backend.resume()

    def offer(self, x: np.ndarray | None, objective: float, tol: float) -> bool:
        """Hand ``x`` to the search when it beats the search's own incumbent by more than ``tol``."""
        if x is None:
            return False
        pr = self.progress()
        own = pr[1] if pr is not None else float("inf")
        if objective < own - tol:
            self.backend.offer_solution(x)
            return True
        return False

    def wait(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the search to end."""
        self._thread.join(timeout)

    def wait_paused(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a requested pause to hold; True when it holds."""
        end = time.perf_counter() + timeout
        while not self.finished and not self.backend.is_paused():
            left = end - time.perf_counter()
            if left <= 0 or stop_requested():
                return False
            self._thread.join(min(_WAIT, left))
        return self.backend.is_paused()

    def run_until_paused(self) -> bool:
        """Wait until the search holds at a pause or has ended (or the user stopped the run); True
        when it holds."""
        while True:
            if self.finished:
                return False
            if self.backend.is_paused():
                return True
            if stop_requested():
                return False
            self._thread.join(_WAIT)

    def finish(self, timeout: float = 30.0) -> BackendResult | None:
        """End the search (a paused one lets go at once) and return its result."""
        if self.started and self._thread.is_alive():
            self.backend.interrupt()
            self.backend.resume()
            self._thread.join(timeout)
        if self.error is not None:
            err, self.error = self.error, None
            raise err
        return self.result
