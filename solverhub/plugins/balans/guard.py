"""A backend proxy that enforces the run's one wall-clock deadline on every solve.

Every ``solve`` (the first solution, each sub-MIP, a crossover's random-objective solve, a third-party
operator's extra solve) gets ``time_limit = min(requested, time left)``, and, where the backend can be
interrupted, a timer that interrupts it ``grace`` seconds after that limit: HiGHS checks its own time
limit rarely during root-node work (on qiu a 3 s limit returned after 6 s) but polls its interrupt
callback often. Everything else is forwarded to the wrapped backend.

Some work cannot be interrupted at all (HiGHS's feasibility jump at the root, which checks neither
the time limit nor the callbacks: Balans builds HiGHS with a guard that switches it off where its
predicted worst case does not fit, see docs/balans.md "Deadlines"; presolve of a large sub-MIP): the
proxy keeps the largest overrun seen in this run (seconds past a solve's limit) and holds that much
back from every later limit (or, inside ``reserving(s)``, the caller's own prediction ``s``), and
starts no solve when less than that is left. It also keeps the
longest *unresponsive stretch* of the solves since ``take_stretch()`` was last called (the backend's
``info["max_poll_gap"]`` where it reports one, else the seconds past its limit), from which the solver
predicts the stretch of its next solve.
"""

from __future__ import annotations

import contextlib
import inspect
import threading
import time
from typing import Any, Iterator

from solverhub.core.backend import BackendResult
from solverhub.core.result import Status

__all__ = ["DeadlineBackend"]


def _accepts(fn: Any, name: str) -> bool:
    """Whether ``fn`` takes keyword ``name`` (by name or through ``**kwargs``)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == name or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


class DeadlineBackend:
    def __init__(self, backend: Any, deadline: float, grace: float = 0.02) -> None:
        self._backend = backend
        self._deadline = float(deadline)
        self._grace = float(grace)
        self.capabilities = frozenset(getattr(backend, "capabilities", frozenset[str]()))
        self.name = getattr(backend, "name", "backend")
        self.problem = backend.problem
        self.interrupts = 0
        self.overrun = 0.0   # largest seconds a solve ran past its limit so far
        self.skipped = 0     # solves not started for lack of time
        self.stretch = 0.0   # longest unresponsive stretch since take_stretch()
        self._reserve: float | None = None  # the caller's own hold-back (reserving()), else overrun
        #: passed as every solve's ``presolve_share`` (MIPBackend.solve) unless the call sets one;
        #: None: the backend's own default. Balans sets it per phase (the first solve, the rest)
        self.presolve_share: float | None = None
        # a backend written before MIPBackend.solve took ``presolve_share`` is still a backend
        self._takes_presolve_share = _accepts(backend.solve, "presolve_share")

    def __getattr__(self, item: str) -> Any:
        return getattr(self._backend, item)

    def time_left(self) -> float:
        return self._deadline - time.perf_counter()

    def usable(self) -> float:
        held = self.overrun if self._reserve is None else self._reserve
        return self.time_left() - held

    @contextlib.contextmanager
    def reserving(self, seconds: float) -> Iterator["DeadlineBackend"]:
        """Inside, hold back ``seconds`` (the caller's prediction of these solves' unresponsive
        stretch) instead of the largest overrun of the run: a small sub-MIP need not keep back what a
        whole-problem solve once overran."""
        prev, self._reserve = self._reserve, max(float(seconds), 0.0)
        try:
            yield self
        finally:
            self._reserve = prev

    def _cap(self, time_limit: float | None) -> float:
        left = max(self.usable(), 1e-3)
        return left if time_limit is None else max(min(float(time_limit), left), 1e-3)

    def take_stretch(self) -> float:
        """The longest unresponsive stretch (seconds) of the solves since the last call; resets it."""
        out, self.stretch = self.stretch, 0.0
        return out

    def _timed(self, limit: float, call) -> BackendResult:
        t = time.perf_counter()
        res = None
        try:
            res = call()
            return res
        finally:
            ran = time.perf_counter() - t
            self.overrun = max(self.overrun, ran - limit)
            gap = res.info.get("max_poll_gap") if res is not None else None
            self.stretch = max(self.stretch, float(gap) if gap is not None else max(ran - limit, 0.0))

    def _fire(self) -> None:
        self.interrupts += 1
        self._backend.interrupt()

    def solve(self, time_limit: float | None = None, **kwargs: Any) -> BackendResult:
        if self.usable() <= 0.01:
            self.skipped += 1
            return BackendResult(Status.TIME_LIMIT, info={"skipped": "no time left"})
        limit = self._cap(time_limit)
        if self.presolve_share is not None and self._takes_presolve_share:
            kwargs.setdefault("presolve_share", self.presolve_share)
        timer = None
        # a limit past threading.TIMEOUT_MAX (time_limit=1e10 or inf: no limit) needs no timer,
        # and a Timer that long would die with OverflowError in its thread
        if "interrupt" in self.capabilities and limit + self._grace < threading.TIMEOUT_MAX / 2:
            timer = threading.Timer(limit + self._grace, self._fire)
            timer.daemon = True
            timer.start()
        try:
            return self._timed(limit, lambda: self._backend.solve(time_limit=limit, **kwargs))
        finally:
            if timer is not None:
                timer.cancel()

    def solve_relaxation(self, time_limit: float | None = None) -> BackendResult:
        if self.usable() <= 0.01:
            self.skipped += 1
            return BackendResult(Status.TIME_LIMIT, info={"skipped": "no time left"})
        limit = self._cap(time_limit)
        return self._timed(limit, lambda: self._backend.solve_relaxation(time_limit=limit))

    @contextlib.contextmanager
    def modified(self) -> Iterator["DeadlineBackend"]:
        try:
            yield self
        finally:
            self._backend.restore()
