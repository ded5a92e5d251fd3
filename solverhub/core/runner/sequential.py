"""The in-process executor (``local`` with 1 worker): one task after another in this process, with
the live incumbent display."""

from __future__ import annotations

import json
from pathlib import Path

from solverhub.core.runfolder import INFLIGHT
from solverhub.core.runner.base import Emit, IncumbentObserver, Progress, mark_interrupted
from solverhub.core.runner.tasks import Task, run_task
from solverhub.core.serialize import atomic_write_text

__all__ = ["SequentialExecutor"]


class SequentialExecutor:
    """In this process, one task after another.

    The task being solved is noted in ``.inflight.json`` with the number of attempts. If the process
    dies meanwhile, nothing tells a solver's native crash from the run being killed (SIGKILL, out of
    memory): the task has no line, so ``--resume`` runs it again, and only a task whose process died
    ``MAX_ATTEMPTS`` times is recorded as an error (see :func:`~solverhub.core.runner.run_config`).

    Ctrl-C: the first asks the running solve to stop (it returns its incumbent, recorded as
    ``interrupted``, which ``--resume`` runs again); then the run stops with KeyboardInterrupt.
    """

    description = "sequential"

    def __init__(self, out: Path, attempts: dict[tuple[str, str, int], int]) -> None:
        self.out, self.attempts = out, attempts

    def prepare(self, tasks: list[Task]) -> None:
        pass

    def close(self) -> None:
        pass

    def run(self, tasks: list[Task], emit: Emit, progress: Progress) -> None:
        from solverhub.core.interrupt import handle_sigint, stop_requested

        marker = self.out / INFLIGHT
        stop = False
        with handle_sigint():
            for task in tasks:
                if stop_requested():
                    stop = True
                    break
                progress.task_started(task)
                note = {**task.to_dict(), "attempts": self.attempts.get(task.key, 0) + 1}
                atomic_write_text(marker, json.dumps(note, default=str))
                try:
                    rec = run_task(task, observers=[IncumbentObserver(progress, task)])
                except KeyboardInterrupt:  # a second Ctrl-C outside the solve itself: no line
                    marker.unlink(missing_ok=True)
                    raise
                if stop_requested():
                    mark_interrupted(rec)
                emit(task, rec)
                marker.unlink(missing_ok=True)
                if stop_requested() or rec.status == "interrupted":
                    stop = True
                    break
        if stop:
            raise KeyboardInterrupt
