"""Live progress of ``solverhub run``: tasks done / running / failed, elapsed time, an estimate of
the time left, and the best gap per instance.

On a terminal it is a rich live display (a bar, the counts, the running tasks with their latest
incumbent, and a small table of instances); otherwise (a log file, a cluster job's output) one
plain line per finished task, carrying the same counts and estimate, so that ``tail -f`` tells
how far a run is.

The best gap of an instance is the least, over its tasks, of the primal gap of the incumbent to
the instance's reference value where the config knows one (or the loader, once a task of that
instance has ended and its record carries the value), else of the gap between an incumbent and the
bound its solver reported (a proven bound; ``-`` when there is none).
"""

from __future__ import annotations

import time
from typing import Any

from solverhub.core.config import instance_label
from solverhub.core.result import bound_gap, finite_or_none, primal_gap

__all__ = ["RunProgress", "bound_gap", "format_duration"]

#: the live table shows at most this many instances (the ones with the largest best gap)
MAX_INSTANCE_ROWS = 8


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = int(round(max(0.0, seconds)))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}"


class RunProgress:
    """The runner's progress callbacks (see ``runner._Progress``), drawn on a rich console."""

    def __init__(self, console: Any, *, live: bool | None = None) -> None:
        self.console = console
        self.live = console.is_terminal if live is None else live
        self.total = self.done = self.failed = self.session_done = 0
        self.t0 = time.monotonic()
        self.executor = ""
        self._live: Any = None
        self._bar: Any = None
        self._bar_id: Any = None
        self._running: dict[tuple, Any] = {}
        self._incumbent: dict[tuple, tuple[float, float]] = {}
        self._gap: dict[str, float] = {}          # instance -> best gap so far
        self._best_obj: dict[str, float] = {}
        self._refs: dict[str, float] = {}         # references the loader knew (from records)
        self._objs: dict[str, list[float]] = {}   # every objective seen, per instance

    # ------------------------------------------------------------------ numbers
    def eta(self) -> float | None:
        """Seconds left, from this session's throughput (None before the first task ends)."""
        if self.session_done == 0:
            return None
        rate = self.session_done / max(time.monotonic() - self.t0, 1e-9)
        return (self.total - self.done) / rate

    def counts(self) -> str:
        return (f"done {self.done}/{self.total}, running {len(self._running)}, failed {self.failed}"
                f" | elapsed {format_duration(time.monotonic() - self.t0)}, left "
                f"{format_duration(self.eta()) if self.done < self.total else '0:00:00'}")

    def _note_gap(self, task: Any, objective: float | None, bound: float | None) -> None:
        if objective is None:
            return
        inst = task.instance
        self._objs.setdefault(inst, []).append(objective)
        ref = finite_or_none(getattr(task, "reference", None))
        if ref is None:
            ref = self._refs.get(inst)
        gap = primal_gap(objective, ref) if ref is not None else bound_gap(objective, bound)
        if gap is not None and gap < self._gap.get(inst, float("inf")):
            self._gap[inst] = gap
            self._best_obj[inst] = objective

    @staticmethod
    def _name(task: Any) -> str:
        return f"{instance_label(task.instance)} / {task.solver} / seed {task.seed}"

    # ------------------------------------------------------------------ callbacks
    def start(self, total: int, done: int, executor: str) -> None:
        from rich.markup import escape

        self.total, self.done, self.executor = total, done, executor
        self.t0 = time.monotonic()
        self.console.print(f"{total} tasks ({done} already done), executor: {escape(executor)}")
        if self.live:
            from rich.live import Live
            from rich.progress import BarColumn, MofNCompleteColumn, Progress

            self._bar = Progress(BarColumn(), MofNCompleteColumn(), console=self.console)
            self._bar_id = self._bar.add_task("tasks", total=total, completed=done)
            self._live = Live(get_renderable=self._render, console=self.console,
                              refresh_per_second=4, transient=True)
            self._live.start()

    def task_started(self, task: Any) -> None:
        self._running[task.key] = task

    def incumbent(self, task: Any, time: float, objective: float,
                  bound: float | None = None) -> None:
        self._incumbent[task.key] = (time, objective)
        self._note_gap(task, finite_or_none(objective), finite_or_none(bound))

    def task_done(self, task: Any, rec: dict[str, Any]) -> None:
        from rich.markup import escape

        self._running.pop(task.key, None)
        self._incumbent.pop(task.key, None)
        self.done += 1
        self.session_done += 1
        status = str(rec.get("status"))
        if status == "error":
            self.failed += 1
        obj = finite_or_none(rec.get("objective"))
        ref = finite_or_none(rec.get("reference"))
        if ref is not None and task.instance not in self._refs:
            # the loader's known value (MIPLIB .solu): later gaps of this instance use it
            self._refs[task.instance] = ref
            objs = self._objs.get(task.instance, [])
            if objs:
                best = min(objs, key=lambda o: primal_gap(o, ref))
                self._gap[task.instance], self._best_obj[task.instance] = primal_gap(best, ref), best
        self._note_gap(task, obj, finite_or_none(rec.get("bound")))
        colour = "red" if status == "error" else "green" if status == "optimal" else "yellow"
        gap = self._gap.get(task.instance)
        msg = (f"[{self.done}/{self.total}] {escape(self._name(task))}: [{colour}]{status}[/{colour}]"
               f"  obj {'-' if obj is None else f'{obj:.10g}'}  {rec.get('runtime') or 0:.1f}s")
        if status == "error" and rec.get("error"):
            msg += f"  [red]{escape(' '.join(str(rec['error']).split())[:200])}[/red]"
        if self._live is not None:
            self._bar.update(self._bar_id, completed=self.done)
            self._live.console.print(msg)
        else:
            # plain: the counts and the instance's best gap on every line, for logs
            msg += (f"  | best gap {'-' if gap is None else f'{100 * gap:.3g}%'}"
                    f" | {self.counts()}")
            self.console.print(msg, highlight=False, soft_wrap=True)

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
            self.console.print(self.counts())

    # ------------------------------------------------------------------ the live view
    def _render(self) -> Any:
        from rich.console import Group
        from rich.markup import escape
        from rich.table import Table
        from rich.text import Text

        parts: list[Any] = [self._bar, Text(self.counts())]
        if self._running:
            run = Table(box=None, show_header=False, pad_edge=False)
            run.add_column(style="cyan")
            run.add_column(justify="right")
            for key, task in list(self._running.items())[:8]:
                inc = self._incumbent.get(key)
                run.add_row(escape(self._name(task)),
                            f"{inc[1]:.8g} @ {inc[0]:.1f}s" if inc else "no incumbent yet")
            if len(self._running) > 8:
                run.add_row(f"... and {len(self._running) - 8} more", "")
            parts.append(run)
        if self._gap:
            t = Table(box=None, header_style="bold", pad_edge=False)
            t.add_column("instance")
            t.add_column("best objective", justify="right")
            t.add_column("best gap", justify="right")
            worst = sorted(self._gap.items(), key=lambda kv: -kv[1])[:MAX_INSTANCE_ROWS]
            for inst, gap in worst:
                t.add_row(escape(instance_label(inst)), f"{self._best_obj[inst]:.10g}",
                          f"{100 * gap:.3g}%")
            parts.append(t)
        return Group(*parts)
