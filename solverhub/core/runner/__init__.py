"""Run a config: tasks = instances x solvers x seeds, through an executor, into a run folder.

Executors (DESIGN.md section 8), each behind the :class:`~solverhub.core.runner.base.Executor`
protocol, one module each:

* ``local``, 1 worker (:mod:`.sequential`): tasks run one after another in this process (live
  incumbent display);
* ``local``, n > 1 workers (:mod:`.pool`): n worker processes managed here, so that one hung worker
  can be killed; forked where safe, else spawned; each solves one task at a time with the next one
  waiting in its pipe, and is replaced after ``max_tasks_per_worker`` tasks;
* ``dask`` (:mod:`.dask_cluster`): ``distributed.Client(address)`` (a cluster started separately),
  or a ``LocalCluster`` of ``workers`` single-threaded worker processes bound to 127.0.0.1 when no
  address is given.

The run folder holds ``config.toml`` (the resolved config), ``environment.json`` (written once),
``results.jsonl`` (one :class:`~solverhub.core.taskrecord.TaskRecord` line per finished task,
appended, flushed and fsync'd by this process as each task ends, with the resolved options and
where the task was solved: versions, Python, host, CPU), ``summary.csv``, ``solvers.csv``,
``report.md``, ``report.html`` and the plots. A task whose solver raises gets a line with ``status = "error"`` and
``error_origin = "solver"``; one whose worker died twice, hung past its time limit plus
``[executor] task_grace``, or was lost by the cluster gets ``error_origin = "infrastructure"``. A
task without a line is not done: ``--resume`` runs it (and the tasks last recorded as
``interrupted``; with ``retry_errors`` also the infrastructure failures, or every error); a
truncated last line, from a killed run, is dropped.
"""

from __future__ import annotations

import errno
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from solverhub.core.config import RunConfig, config_to_toml
from solverhub.core.errors import BadInputError, SolverhubError
from solverhub.core.runfolder import (
    CONFIG,
    ENVIRONMENT,
    INFLIGHT,
    RESULTS,
    SUMMARY,
    ResultWriter,
    read_results,
    read_task_records,
)
from solverhub.core.runner.base import FINAL_STATUSES, MAX_ATTEMPTS, RERUN_STATUSES, STOP_WAIT, Emit, Executor, Progress
from solverhub.core.runner.dask_cluster import DaskExecutor
from solverhub.core.runner.pool import PoolExecutor
from solverhub.core.runner.sequential import SequentialExecutor
from solverhub.core.runner.tasks import (
    Task,
    error_record,
    infrastructure_error,
    interrupted_record,
    make_tasks,
    run_task,
)
from solverhub.core.serialize import atomic_write_text, jsonable
from solverhub.core.taskrecord import TaskRecord

__all__ = ["Task", "TaskRecord", "RunSummary", "run_config", "run_task", "make_tasks",
           "read_results", "default_out_dir", "RESULTS", "CONFIG", "SUMMARY", "atomic_write_text",
           "RunInterrupted", "RunFolderError", "Executor", "Emit", "Progress", "SequentialExecutor",
           "PoolExecutor", "DaskExecutor", "make_executor", "RETRY_CHOICES", "error_record",
           "infrastructure_error", "interrupted_record", "ResultWriter", "INFLIGHT",
           "MAX_ATTEMPTS", "STOP_WAIT", "FINAL_STATUSES", "RERUN_STATUSES"]

log = logging.getLogger(__name__)

#: what ``--resume --retry-errors`` runs again besides the unfinished tasks
RETRY_CHOICES = ("infrastructure", "all")
RetryErrors = Literal["infrastructure", "all"]

#: the old name of :class:`~solverhub.core.runner.base.Progress`
_Progress = Progress


class RunFolderError(SolverhubError):
    """The run folder could not be written (a full disk, a folder made read-only mid-run); the
    message names the file. The lines written before stay valid: ``--resume`` continues."""


def default_out_dir(cfg: RunConfig) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in cfg.name)
    return Path("runs") / f"{safe}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


@dataclass
class RunSummary:
    out_dir: Path
    total: int
    skipped: int
    finished: int
    errors: int
    interrupted: bool = False
    records: list[TaskRecord] = field(default_factory=list)
    #: infrastructure failures among ``errors`` (retried by ``--resume --retry-errors``)
    infrastructure_errors: int = 0


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a run; ``out_dir`` is its folder (to resume). A KeyboardInterrupt, so that
    callers catching that keep working."""

    def __init__(self, out_dir: Path) -> None:
        super().__init__(str(out_dir))
        self.out_dir = out_dir


def _os_error(path: Path, exc: OSError, doing: str = "cannot write") -> str:
    return f"{path}: {doing} ({exc.strerror or type(exc).__name__})"


def _user_folder_error(path: Path, exc: OSError, doing: str = "cannot write") -> BadInputError:
    """An output folder the user named that cannot be created or written: their input (exit 2)."""
    return BadInputError(_os_error(path, exc, doing) + "; choose another --out or fix its "
                         "permissions")


def _new_run_folder(base: Path) -> Path:
    """Create ``base``, or ``base-2``, ``base-3`` ... when it exists: mkdir is atomic, so two runs
    started in the same second never share a folder."""
    try:
        base.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _user_folder_error(base.parent, exc, "cannot create the folder") from None
    for n in range(1, 10_000):
        path = base if n == 1 else base.with_name(f"{base.name}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
        except OSError as exc:
            raise _user_folder_error(path, exc, "cannot create the folder") from None
    raise SolverhubError(f"{base}: could not create a new run folder (9999 taken)")


def _chosen_folder(chosen: str | Path) -> Path:
    out = Path(chosen)
    if out.exists() and not out.is_dir():
        raise BadInputError(f"{out}: exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _user_folder_error(out, exc, "cannot create the folder") from None
    return out


def _open_results(out: Path, resume: bool) -> ResultWriter:
    """Claim the run folder: ``results.jsonl`` is created exclusively for a new run (an existing one
    means the folder holds a run: refused without ``resume``), and locked while the run writes."""
    path = out / RESULTS
    try:
        writer = ResultWriter(path, exclusive=not resume)
    except FileExistsError:
        raise BadInputError(f"{out}: already holds a run ({RESULTS}); use --resume to continue "
                            f"that run or choose another --out") from None
    except OSError as exc:
        raise _user_folder_error(path, exc) from None
    if not writer.lock():
        writer.close()
        raise BadInputError(f"{out}: another solverhub run is writing to this folder")
    return writer


def _write_environment(path: Path) -> Any:
    """Write ``environment.json`` once per folder, in a thread (listing every installed
    distribution takes a while and the tasks need not wait for it); returns the thread."""
    if path.exists():
        return None
    import threading

    def write() -> None:
        from solverhub.core.provenance import environment

        try:
            atomic_write_text(path, json.dumps(jsonable(environment()), indent=1))
        except Exception as exc:  # provenance must not fail a run
            log.warning("could not write %s: %s", path, exc)

    t = threading.Thread(target=write, name="solverhub-environment", daemon=True)
    t.start()
    return t


def _read_attempts(out: Path) -> tuple[tuple[str, str, int] | None, int]:
    """The task noted in ``.inflight.json`` (in flight when a sequential run's process died) and how
    many times its process has died while solving it."""
    marker = out / INFLIGHT
    try:
        d = json.loads(marker.read_text(encoding="utf-8"))
        return (d["instance"], d["solver"], d["seed"]), int(d.get("attempts", 1))
    except FileNotFoundError:
        return None, 0
    except (OSError, ValueError, KeyError, TypeError):
        log.warning("%s: unreadable; ignored", marker)
        return None, 0


def done_task_keys(previous: list[TaskRecord], retry_errors: RetryErrors | None = None
                   ) -> set[tuple[str, str, int]]:
    """The (instance, solver label, seed) tasks a resumed run skips: those whose last line is
    neither ``interrupted`` nor, with ``retry_errors``, an error of that sort."""
    done: set[tuple[str, str, int]] = set()
    for r in previous:
        again = r.status in RERUN_STATUSES or (
            r.failed and (retry_errors == "all"
                          or (retry_errors == "infrastructure" and r.infrastructure_failure)))
        if again:
            done.discard(r.task_key)
        else:
            done.add(r.task_key)
    return done


def make_executor(kind: str, workers: int, *, out: Path, address: str | None = None,
                  grace: float = 30.0, max_tasks: int = 200, connect_timeout: float = 30.0,
                  host: str = "127.0.0.1",
                  attempts: dict[tuple[str, str, int], int] | None = None) -> Executor:
    """The executor of an ``[executor]`` section (its ``kind``: ``local`` or ``dask``)."""
    if kind == "dask":
        return DaskExecutor(address, workers, grace, connect_timeout=connect_timeout, host=host)
    if workers == 1:
        return SequentialExecutor(out, attempts or {})
    return PoolExecutor(workers, grace, max_tasks)


def run_config(cfg: RunConfig, out_dir: str | Path | None = None, *, resume: bool = False,
               executor: str | None = None, address: str | None = None, workers: int | None = None,
               progress: Progress | None = None, plots: bool | None = None,
               retry_errors: RetryErrors | None = None) -> RunSummary:
    """Run every task of ``cfg`` into a run folder and write summary.csv and plots.

    The folder is ``out_dir``, else the config's ``[output] dir``, else a new
    ``runs/<name>-<timestamp>`` (suffixed ``-2``, ``-3`` ... when taken). A folder that already
    holds a run is refused unless ``resume`` is set; two runs never write to one folder at once.
    With ``resume``, ``retry_errors="infrastructure"`` also runs again the tasks whose last line
    is an infrastructure failure (a worker died, a hang, a lost cluster), ``"all"`` every task
    whose last line is an error. ``executor``/``address``/``workers`` override the config's
    ``[executor]``. A folder that cannot be created or written is a :class:`BadInputError` naming
    it; a write that fails mid-run (a full disk) stops the run with :class:`RunFolderError`. Ctrl-C
    stops the run: lines written so far stay valid, the summary is written, then
    :class:`RunInterrupted` (a KeyboardInterrupt) propagates.
    """
    if retry_errors is not None and retry_errors not in RETRY_CHOICES:
        raise BadInputError(f"retry_errors must be one of {', '.join(RETRY_CHOICES)}, "
                            f"got {retry_errors!r}")
    if retry_errors is not None and not resume:
        raise BadInputError("--retry-errors needs --resume (it runs a folder's failed tasks again)")
    ex = cfg.executor.model_copy(update={k: v for k, v in (("kind", executor), ("address", address),
                                                              ("workers", workers)) if v is not None})
    if ex.kind not in ("local", "dask"):
        raise BadInputError(f"executor must be 'local' or 'dask', got {ex.kind!r}")
    if ex.workers < 1:
        raise BadInputError(f"workers must be at least 1, got {ex.workers}")
    cfg = cfg.model_copy(update={"executor": ex})
    # every task is known before a folder is made: a run that cannot start leaves nothing behind
    all_tasks = make_tasks(cfg)
    if not all_tasks:
        raise BadInputError(f"{cfg.name}: no tasks: no solver of this config takes any of its "
                            f"instances")
    chosen = out_dir if out_dir is not None else cfg.output.dir
    out = _chosen_folder(chosen) if chosen is not None else _new_run_folder(default_out_dir(cfg))
    progress = progress or Progress()
    writer = _open_results(out, resume)
    try:
        previous = read_task_records(out / RESULTS, repair=True) if resume else []
        try:
            atomic_write_text(out / CONFIG, config_to_toml(cfg))
        except OSError as exc:
            raise _user_folder_error(out / CONFIG, exc) from None
    except BaseException:
        writer.close()
        raise

    # the last line of a task counts: one last recorded as interrupted is not done
    done_keys = done_task_keys(previous, retry_errors)
    todo = [t for t in all_tasks if t.key not in done_keys]
    summary = RunSummary(out, len(all_tasks), len(all_tasks) - len(todo), 0, 0)
    new_records: list[TaskRecord] = []

    def emit(task: Task, rec: TaskRecord) -> None:
        try:
            writer.write(rec.to_dict())
        except OSError as exc:
            how = ("the disk is full" if exc.errno == errno.ENOSPC else
                   exc.strerror or type(exc).__name__)
            raise RunFolderError(
                f"{writer.path}: could not record the result of {task.solver} on "
                f"{rec.instance_name} (seed {task.seed}): {how}; the {summary.finished} line(s) "
                f"written before are kept: make room, then continue with --resume") from None
        new_records.append(rec)
        summary.finished += 1
        if rec.failed:
            summary.errors += 1
            summary.infrastructure_errors += rec.infrastructure_failure
        progress.task_done(task, rec)

    # a task in flight when a sequential run's process died: run again, unless it died twice
    died_key, died = _read_attempts(out) if resume else (None, 0)
    (out / INFLIGHT).unlink(missing_ok=True)
    attempts = {died_key: died} if died_key is not None and died_key not in done_keys else {}

    runnable = [t for t in todo if attempts.get(t.key, 0) < MAX_ATTEMPTS]
    runner: Executor = make_executor(
        ex.kind, ex.workers, out=out, address=ex.address, grace=ex.task_grace,
        max_tasks=ex.max_tasks_per_worker, connect_timeout=ex.connect_timeout, host=ex.host,
        attempts=attempts)
    env_writer = None
    try:
        # the pool's workers first, while this process runs no other thread (they can be forked)
        if runnable:
            runner.prepare(runnable)
        env_writer = _write_environment(out / ENVIRONMENT)
        progress.start(len(all_tasks), summary.skipped, runner.description)
        for task in todo:
            if attempts.get(task.key, 0) >= MAX_ATTEMPTS:
                emit(task, infrastructure_error(task, (
                    f"the run's process died {attempts[task.key]} times while solving this task "
                    f"(a crash in native code, out of memory, or the run was killed); not run again")))
        if runnable:
            runner.run(runnable, emit, progress)
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        runner.close()
        writer.close()
        progress.stop()

    if env_writer is not None:
        env_writer.join()
    summary.records = previous + new_records
    from solverhub.core.report import write_outputs

    try:
        write_outputs(out, summary.records, plots=cfg.output.plots if plots is None else plots)
    except SolverhubError:
        raise
    except OSError as exc:
        log.warning("could not write the summary or plots of %s: %s", out,
                    _os_error(Path(exc.filename or out), exc))
    except Exception as exc:  # a plotting failure must not lose the run
        log.warning("could not write the summary or plots of %s: %s", out, exc)
    if summary.interrupted:
        raise RunInterrupted(out)
    return summary
