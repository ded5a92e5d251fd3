"""What every executor shares: the protocol the run drives (:class:`Executor`), the progress
callbacks, and the constants of fault handling."""

from __future__ import annotations

from typing import Any, Callable, Protocol

from solverhub.core.result import SolutionStatus, Status, TerminationCondition, finite_or_none
from solverhub.core.runner.tasks import Task
from solverhub.core.taskrecord import TaskRecord

__all__ = ["Executor", "Emit", "Progress", "IncumbentObserver", "MAX_ATTEMPTS", "STOP_WAIT",
           "STARTUP_LIMIT", "FINAL_STATUSES", "RERUN_STATUSES", "one_line",
           "mark_interrupted"]

#: a task whose process died this many times while solving it is recorded as an error, not run again
MAX_ATTEMPTS = 2
#: after Ctrl-C, how long running workers get to return their incumbent before they are killed
STOP_WAIT = 5.0
#: a pool worker that has not started its task this long after being spawned is killed
STARTUP_LIMIT = 120.0
#: statuses that stand even when Ctrl-C came while the task was ending (``Status.is_final``)
FINAL_STATUSES = frozenset(s.value for s in Status if s.is_final)
#: statuses that a resumed run solves again (``Status.rerun_on_resume``)
RERUN_STATUSES = frozenset(s.value for s in Status if s.rerun_on_resume)

#: how an executor hands a finished task's record to the run (which writes its line)
Emit = Callable[[Task, TaskRecord], None]


class Progress:
    """Progress callbacks; the CLI passes a rich implementation (core/progress.py), the default
    is silent."""

    def start(self, total: int, done: int, executor: str) -> None: ...
    def task_started(self, task: Task) -> None: ...
    def incumbent(self, task: Task, time: float, objective: float,
                  bound: float | None = None) -> None: ...
    def task_done(self, task: Task, record: TaskRecord) -> None: ...
    def stop(self) -> None: ...


class Executor(Protocol):
    """One way of running tasks (in this process, a local process pool, a dask cluster).

    The run calls :meth:`prepare` first, while this process runs no thread of its own (a pool
    forks its workers then), then :meth:`run` once, then :meth:`close` whatever happened.
    ``run`` hands each finished task's record to ``emit`` as soon as it has it, records a task
    whose worker died or hung as an infrastructure error, and raises KeyboardInterrupt after a
    Ctrl-C once the running tasks have returned their incumbents (or were stopped)."""

    #: how the progress display names it ("sequential", "process pool (2 workers)", "dask")
    description: str

    def prepare(self, tasks: list[Task]) -> None: ...
    def run(self, tasks: list[Task], emit: Emit, progress: Progress) -> None: ...
    def close(self) -> None: ...


class IncumbentObserver:
    """Forwards a solve's incumbents to the progress display."""

    def __init__(self, progress: Progress, task: Task) -> None:
        self.progress, self.task = progress, task

    def on_incumbent(self, solver: str, time: float, objective: float, bound: Any = None) -> None:
        self.progress.incumbent(self.task, time, objective, finite_or_none(bound))


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def mark_interrupted(rec: TaskRecord) -> TaskRecord:
    """A task that ended after Ctrl-C: ``interrupted`` (resume runs it again), with the incumbent
    it holds (if any), unless its status is final."""
    if rec.status not in FINAL_STATUSES:
        rec.status = Status.INTERRUPTED.value
        rec.termination = TerminationCondition.INTERRUPTED.value
        held = rec.objective is not None
        rec.solution_status = (SolutionStatus.FEASIBLE if held else SolutionStatus.NO_SOLUTION).value
        rec.error = rec.error or "interrupted by the user"
        rec.error_origin = None
    return rec
