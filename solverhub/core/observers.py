"""Observers of a run (ALNS-style callbacks). A solver receives a :class:`Notifier` and calls
``incumbent`` and ``iteration``; the host calls ``run_start`` and ``run_end``. Each notification
goes to the plugin hooks (``solverhub_on_*``) and to the user's observer objects, any of whose
methods (``on_run_start``, ``on_incumbent``, ``on_iteration``, ``on_run_end``) may be missing.
A crashing observer is reported once and then ignored: it never loses a solve."""

from __future__ import annotations

import time
import warnings
from typing import Any, Iterable

from solverhub.core.history import DEFAULT_MAX_ROWS, History

__all__ = ["Notifier", "NULL_NOTIFIER"]


class Notifier:
    """Fans notifications out to hooks and observers, and keeps the thinned iteration log that
    becomes ``Result.history`` (so a solver needs no log of its own)."""

    def __init__(self, solver: str = "", observers: Iterable[Any] = (), pm: Any = None,
                 history_rows: int = DEFAULT_MAX_ROWS) -> None:
        self.solver = solver
        self.observers = list(observers)
        self.pm = pm
        self._failed: set[int] = set()
        self.history = History(history_rows)
        self._t0 = time.perf_counter()

    def _emit(self, method: str, hook: str, **kw: Any) -> None:
        if self.pm is not None:
            try:
                getattr(self.pm.hook, hook)(solver=self.solver, **kw)
            except Exception as exc:
                if -1 not in self._failed:
                    self._failed.add(-1)
                    warnings.warn(f"solverhub: observer hook {hook} raised {exc!r}; ignored", stacklevel=3)
        for i, obs in enumerate(self.observers):
            fn = getattr(obs, method, None)
            if fn is None or i in self._failed:
                continue
            try:
                fn(self.solver, **kw)
            except Exception as exc:
                self._failed.add(i)
                warnings.warn(f"solverhub: observer {obs!r}.{method} raised {exc!r}; it is ignored "
                              f"from now on", stacklevel=3)

    def run_start(self, problem: Any, options: dict) -> None:
        self._t0 = time.perf_counter()
        self._emit("on_run_start", "solverhub_on_run_start", problem=problem, options=options)

    def incumbent(self, time: float, objective: float, bound: Any = None) -> None:
        self._emit("on_incumbent", "solverhub_on_incumbent", time=time, objective=objective, bound=bound)

    def iteration(self, iteration: int, info: dict) -> None:
        t = info.get("time")
        t = float(t) if isinstance(t, (int, float)) and not isinstance(t, bool) \
            else time.perf_counter() - self._t0
        self.history.append(iteration, t, info)
        self._emit("on_iteration", "solverhub_on_iteration", iteration=iteration, info=info)

    def run_end(self, result: Any) -> None:
        self._emit("on_run_end", "solverhub_on_run_end", result=result)


class _NullNotifier(Notifier):
    """What a solver gets when nobody listens: notifications cost nothing and keep nothing."""

    def iteration(self, iteration: int, info: dict) -> None:
        return


NULL_NOTIFIER = _NullNotifier()
