"""Run a config: tasks = instances x solvers x seeds, through an executor, into a run folder.

Executors (DESIGN.md section 8):

* ``local``, 1 worker: tasks run one after another in this process (live incumbent display);
* ``local``, n > 1 workers: up to n worker processes (``spawn``), one fresh process per task:
  HiGHS's ``threads`` is process-global and HiGHS leaks memory over many models. The runner manages
  them itself, so that one hung worker can be killed;
* ``dask``: ``distributed.Client(address)``, or a ``LocalCluster`` of ``workers`` single-threaded
  worker processes when no address is given. The same task function runs there unchanged.

The run folder holds ``config.toml`` (the resolved config), ``results.jsonl`` (one JSON line per
finished task, appended, flushed and fsync'd by this process as each task ends), ``summary.csv`` and
the plots. A task whose solver raises, whose worker dies twice, or whose worker hangs past its time
limit plus ``[executor] task_grace`` gets a line with ``status = "error"`` and the reason. A task
without a line is not done: ``--resume`` runs it (and the tasks last recorded as ``interrupted``);
a truncated last line, from a killed run, is dropped.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable

from solverhub.core.config import RunConfig, config_to_toml, instance_label
from solverhub.core.errors import BadInputError, SolverhubError
from solverhub.core.runfolder import (CONFIG, INFLIGHT, RESULTS, SUMMARY, ResultWriter,
                                      read_results)
from solverhub.core.serialize import atomic_write_text, jsonable

__all__ = ["Task", "RunSummary", "run_config", "run_task", "make_tasks", "read_results",
           "default_out_dir", "RESULTS", "CONFIG", "SUMMARY", "atomic_write_text",
           "RunInterrupted"]

log = logging.getLogger(__name__)


#: statuses that a resumed run solves again
RERUN_STATUSES = frozenset({"interrupted"})


@dataclass(frozen=True)
class Task:
    instance: str            # resolved path or address
    solver: str              # the label of the [solvers.<label>] section
    kind: str                # the registered solver name
    seed: int
    time_limit: float | None
    options: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    reference: float | None = None

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.instance, self.solver, self.seed)

    def to_dict(self) -> dict[str, Any]:
        return {"instance": self.instance, "solver": self.solver, "kind": self.kind, "seed": self.seed,
                "time_limit": self.time_limit, "options": dict(self.options),
                "reference": self.reference}


def make_tasks(cfg: RunConfig) -> list[Task]:
    return [Task(inst, label, cfg.solvers[label].kind, seed, cfg.time_limit,
                 dict(cfg.solvers[label].options), cfg.reference_for(inst))
            for inst, label, seed in cfg.tasks()]


# ---------------------------------------------------------------------- the task function
def _base_record(task: dict[str, Any]) -> dict[str, Any]:
    return {
        "instance": task["instance"], "instance_name": instance_label(task["instance"]),
        "solver": task["solver"], "kind": task["kind"], "seed": task["seed"],
        "time_limit": task["time_limit"],
    }


def error_record(task: dict[str, Any], message: str, *, tb: str | None = None,
                 runtime: float = 0.0) -> dict[str, Any]:
    rec = _base_record(task)
    rec.update({"status": "error", "objective": None, "bound": None, "runtime": runtime,
                "iterations": 0, "primal_integral": None, "trajectory": [], "reference":
                task.get("reference"), "sense": None, "error": message,
                "info": {"traceback": tb} if tb else {}})
    return rec


def run_task(task: dict[str, Any], observers: Iterable[Any] = ()) -> dict[str, Any]:
    """Solve one task (a :meth:`Task.to_dict`); always returns a result record, never raises
    (except KeyboardInterrupt outside the solve). Runs in a worker process or in this one."""
    from solverhub.core.api import load_problem, solve

    t0 = time.perf_counter()
    try:
        problem = load_problem(task["instance"])
        ref = task.get("reference")
        if ref is None:
            ref = getattr(problem, "reference_objective", None)
        res = solve(problem, task["kind"], time_limit=task["time_limit"], seed=task["seed"],
                    options=task.get("options") or {}, observers=observers,
                    reference=None if ref is None else float(ref))
    except BadInputError as exc:
        return error_record(task, str(exc), runtime=time.perf_counter() - t0)
    except Exception as exc:
        return error_record(task, f"{type(exc).__name__}: {exc}", tb=traceback.format_exc(),
                            runtime=time.perf_counter() - t0)
    rec = _base_record(task)
    d = res.to_dict()
    for k in ("status", "objective", "bound", "runtime", "iterations", "primal_integral",
              "trajectory"):
        rec[k] = d[k]
    rec["reference"] = None if ref is None or not math.isfinite(float(ref)) else float(ref)
    sense = getattr(problem, "sense", None)
    rec["sense"] = sense if isinstance(sense, int) else None
    rec["error"] = d.get("error")
    info = d.get("info") or {}
    rec["info"] = info
    rec["problem_kind"] = d.get("kind") or getattr(problem, "kind", "")
    rec["metrics"] = d.get("metrics") or {}
    rec["history"] = d.get("history") or {}
    rec["pid"] = os.getpid()
    return rec


def default_out_dir(cfg: RunConfig) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in cfg.name)
    return Path("runs") / f"{safe}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


# ---------------------------------------------------------------------- progress
class _Progress:
    """Progress callbacks; the CLI passes a rich implementation, the default is silent."""

    def start(self, total: int, done: int, executor: str) -> None: ...
    def task_started(self, task: Task) -> None: ...
    def incumbent(self, task: Task, time: float, objective: float) -> None: ...
    def task_done(self, task: Task, record: dict[str, Any]) -> None: ...
    def stop(self) -> None: ...


class _IncumbentObserver:
    def __init__(self, progress: _Progress, task: Task) -> None:
        self.progress, self.task = progress, task

    def on_incumbent(self, solver: str, time: float, objective: float, bound: Any = None) -> None:
        self.progress.incumbent(self.task, time, objective)


@dataclass
class RunSummary:
    out_dir: Path
    total: int
    skipped: int
    finished: int
    errors: int
    interrupted: bool = False
    records: list[dict[str, Any]] = field(default_factory=list)


# ---------------------------------------------------------------------- executors

#: a task whose process died this many times while solving it is recorded as an error, not run again
MAX_ATTEMPTS = 2
#: after Ctrl-C, how long running workers get to return their incumbent before they are killed
STOP_WAIT = 5.0
#: a pool worker that has not started its task this long after being spawned is killed
STARTUP_LIMIT = 120.0
#: statuses that stand even when Ctrl-C came while the task was ending
FINAL_STATUSES = frozenset({"optimal", "infeasible", "unbounded"})


def interrupted_record(task: dict[str, Any]) -> dict[str, Any]:
    rec = error_record(task, "interrupted by the user")
    rec["status"] = "interrupted"
    return rec


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


def _run_sequential(tasks: list[Task], emit: Callable[[Task, dict], None], progress: _Progress,
                    out: Path, attempts: dict[tuple[str, str, int], int]) -> None:
    """In this process, one task after another.

    The task being solved is noted in ``.inflight.json`` with the number of attempts. If the process
    dies meanwhile, nothing tells a solver's native crash from the run being killed (SIGKILL, out of
    memory): the task has no line, so ``--resume`` runs it again, and only a task whose process died
    ``MAX_ATTEMPTS`` times is recorded as an error (see :func:`run_config`).

    Ctrl-C: the first asks the running solve to stop (it returns its incumbent, recorded as
    ``interrupted``, which ``--resume`` runs again); then the run stops with KeyboardInterrupt.
    """
    from solverhub.core.interrupt import handle_sigint, stop_requested

    marker = out / INFLIGHT
    stop = False
    with handle_sigint():
        for task in tasks:
            if stop_requested():
                stop = True
                break
            progress.task_started(task)
            note = {**task.to_dict(), "attempts": attempts.get(task.key, 0) + 1}
            atomic_write_text(marker, json.dumps(note, default=str))
            try:
                rec = run_task(task.to_dict(), observers=[_IncumbentObserver(progress, task)])
            except KeyboardInterrupt:  # a second Ctrl-C outside the solve itself: no line
                marker.unlink(missing_ok=True)
                raise
            if stop_requested() and rec.get("status") not in FINAL_STATUSES:
                rec["status"] = "interrupted"
                rec["error"] = rec.get("error") or "interrupted by the user"
            emit(task, rec)
            marker.unlink(missing_ok=True)
            if stop_requested() or rec.get("status") == "interrupted":
                stop = True
                break
    if stop:
        raise KeyboardInterrupt


class _PipeObserver:
    """In a pool worker: forwards incumbents to the runner, for its live display."""

    def __init__(self, send: Callable[[tuple], None]) -> None:
        self.send = send

    def on_incumbent(self, solver: str, time: float, objective: float, bound: Any = None) -> None:
        try:
            self.send(("incumbent", float(time), float(objective)))
        except Exception:  # the display is best effort; the solve goes on
            pass


def _exit_with_parent() -> None:
    """A worker is in its own process group, so nothing would stop it if the runner were killed:
    it exits when its parent is gone."""
    import threading

    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, daemon=True, name="solverhub-parent-watch").start()


def _worker_main(task: dict[str, Any], conn: Any) -> None:
    """A pool worker process (spawned, one task): sends ``("ready",)`` when it starts the task, then
    ``("incumbent", t, obj)`` messages and one ``("result", record)``, and exits at once."""
    import sys
    import threading

    try:
        # out of the terminal's process group: a Ctrl-C reaches the runner only, which relays one
        # SIGINT to each worker (a second one would abort the solve without its incumbent)
        os.setpgid(0, 0)
    except OSError:  # pragma: no cover - not permitted here; the terminal's SIGINT then comes too
        pass
    _exit_with_parent()
    lock = threading.Lock()

    def send(msg: tuple) -> None:
        with lock:  # observers may call from a solver's threads
            conn.send(msg)

    import signal

    from solverhub.core.interrupt import handle_sigint

    # a stray SIGINT outside the solve must not print a traceback (not SIG_IGN: handle_sigint would
    # then leave SIGINT ignored during the solve too)
    signal.signal(signal.SIGINT, lambda signum, frame: None)
    try:
        with handle_sigint():
            from solverhub.core.manager import get_plugin_manager

            get_plugin_manager()  # load plugins before the task's clock starts
            send(("ready",))
            rec = run_task(task, observers=[_PipeObserver(send)])
    except KeyboardInterrupt:
        rec = interrupted_record(task)
    try:
        send(("result", rec))
    except Exception as exc:  # a record that cannot be pickled
        send(("result", error_record(task, f"the result could not be sent to the runner: "
                                           f"{type(exc).__name__}: {exc}")))
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # pragma: no cover
            pass
    # skip interpreter shutdown: a native library's exit handlers must not hang a finished task
    os._exit(0)


def _describe_exit(code: int | None) -> str:
    import signal

    if code is not None and code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


@dataclass
class _Worker:
    task: Task
    attempt: int
    proc: Any
    conn: Any
    spawned: float
    ready_at: float | None = None
    record: dict[str, Any] | None = None
    eof: bool = False

    def drain(self, progress: _Progress) -> None:
        """Read every message waiting in the pipe."""
        try:
            while not self.eof and self.conn.poll():
                msg = self.conn.recv()
                if msg[0] == "ready":
                    self.ready_at = time.monotonic()
                elif msg[0] == "incumbent":
                    progress.incumbent(self.task, msg[1], msg[2])
                elif msg[0] == "result":
                    self.record = msg[1]
        except (EOFError, OSError):
            self.eof = True

    def kill(self) -> None:
        try:
            self.proc.kill()
        except Exception:  # pragma: no cover - already gone
            pass

    def close(self) -> None:
        self.proc.join(timeout=5)
        if self.proc.is_alive():  # pragma: no cover - it exited right after sending its result
            self.kill()
            self.proc.join(timeout=5)
        self.conn.close()


def _pool_deadline(w: _Worker, time_limit: float | None, grace: float) -> float | None:
    if w.ready_at is None:
        return w.spawned + STARTUP_LIMIT
    if time_limit is None or not math.isfinite(time_limit):
        return None  # no limit: nothing to measure the task against
    return w.ready_at + time_limit + grace


def _run_pool(tasks: list[Task], workers: int, emit: Callable[[Task, dict], None],
              progress: _Progress, grace: float) -> None:
    """At most ``workers`` worker processes, one per task (spawned fresh: HiGHS's ``threads`` is
    process-global and HiGHS leaks memory), managed here rather than by concurrent.futures, so that
    a single worker can be killed:

    * a worker that dies without a result (a native crash, out of memory) is retried once in a
      fresh process, then recorded as an error with the reason;
    * a worker without a result ``time_limit + grace`` seconds after it started the task (a hang in
      native code) is killed and the task recorded as an error;
    * Ctrl-C: no new task starts, each running worker is asked once to stop (SIGINT) and gets
      ``STOP_WAIT`` seconds to return its incumbent (recorded as ``interrupted``), the others are
      killed and get no line (not done); then KeyboardInterrupt. A second Ctrl-C kills them at once.
    """
    import contextlib
    import multiprocessing as mp
    import signal
    from collections import deque
    from multiprocessing.connection import wait as mp_wait

    from solverhub.core.interrupt import handle_sigint, stop_requested

    ctx = mp.get_context("spawn")
    queue: deque[tuple[Task, int]] = deque((t, 1) for t in tasks)
    running: list[_Worker] = []
    stopping_at: float | None = None

    def start(task: Task, attempt: int) -> None:
        reader, writer = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_worker_main, args=(task.to_dict(), writer), daemon=True,
                           name=f"solverhub-task-{task.solver}-{task.seed}")
        proc.start()
        writer.close()  # the worker holds the only writer: EOF here when it dies
        running.append(_Worker(task, attempt, proc, reader, time.monotonic()))
        if attempt == 1:
            progress.task_started(task)

    def settle(w: _Worker, now: float) -> bool:
        """Handle a worker's outcome; True when it is finished with."""
        alive = w.proc.is_alive()
        w.drain(progress)  # after is_alive: a result sent just before exiting is not missed
        if w.record is not None:
            emit(w.task, w.record)
            return True
        if not alive or w.eof:
            w.proc.join(timeout=5)
            if stopping_at is not None:
                return True  # stopped by the user: no line, resume runs it
            how = _describe_exit(w.proc.exitcode)
            if w.attempt < MAX_ATTEMPTS:
                log.warning("%s: the worker process died (%s); trying once more in a fresh one",
                            _task_name(w.task), how)
                queue.appendleft((w.task, w.attempt + 1))
            else:
                emit(w.task, error_record(w.task.to_dict(), (
                    f"the worker process died while solving this task ({how}), {w.attempt} times: "
                    f"a crash in native code or out of memory")))
            return True
        if stopping_at is not None:
            if now - stopping_at >= STOP_WAIT:
                w.kill()
                return True
            return False
        deadline = _pool_deadline(w, w.task.time_limit, grace)
        if deadline is not None and now >= deadline:
            w.kill()
            if w.ready_at is None:
                msg = f"the worker process did not start within {STARTUP_LIMIT:g} s; worker killed"
            else:
                msg = (f"no result after {now - w.ready_at:.0f} s (time limit "
                       f"{w.task.time_limit:g} s + grace {grace:g} s); worker killed")
            emit(w.task, error_record(w.task.to_dict(), msg, runtime=now - (w.ready_at or now)))
            return True
        return False

    try:
        with handle_sigint():
            while queue or running:
                now = time.monotonic()
                if stop_requested() and stopping_at is None:
                    stopping_at = now
                    queue.clear()
                    for w in running:
                        if w.ready_at is not None:  # it can return an incumbent
                            with contextlib.suppress(OSError):
                                os.kill(w.proc.pid, signal.SIGINT)
                        else:
                            w.kill()
                while stopping_at is None and queue and len(running) < workers:
                    start(*queue.popleft())
                # wake for a message, a worker's exit, or at least every 0.2 s (Ctrl-C, deadlines)
                mp_wait([w.conn for w in running if not w.eof] + [w.proc.sentinel for w in running],
                        timeout=0.2)
                now = time.monotonic()
                for w in list(running):
                    if settle(w, now):
                        running.remove(w)
                        w.close()
    finally:
        for w in running:  # a second Ctrl-C, or an error in this loop
            w.kill()
        for w in running:
            w.close()
    if stopping_at is not None:
        raise KeyboardInterrupt


def _task_name(task: Task) -> str:
    return f"{instance_label(task.instance)} / {task.solver} / seed {task.seed}"


def _dask_client(address: str | None, workers: int):
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise BadInputError("the dask executor needs dask.distributed: "
                            "pip install 'solverhub[dask]'") from None
    for name in ("distributed", "distributed.scheduler", "distributed.nanny", "distributed.worker",
                 "distributed.core", "distributed.http.proxy"):
        lg = logging.getLogger(name)
        if lg.getEffectiveLevel() < logging.WARNING:
            lg.setLevel(logging.WARNING)
    if address:
        try:
            return Client(address, timeout="20s"), None
        except Exception as exc:
            raise BadInputError(f"cannot connect to the dask scheduler at {address}: {exc}") from None
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=":0", silence_logs=logging.ERROR)
    return Client(cluster), cluster


def _run_dask(tasks: list[Task], address: str | None, workers: int,
              emit: Callable[[Task, dict], None], progress: _Progress, grace: float) -> None:
    """Through dask. Only as many tasks are submitted as the cluster has threads, so that a task
    starts about when it is submitted and the watchdog can count from there. Dask cannot stop a
    task's thread: a task without a result ``time_limit + grace`` seconds after submission is
    recorded as an error, its future cancelled, and its worker restarted (best effort: a worker
    without a nanny cannot be restarted, and its thread then stays busy)."""
    from collections import deque

    client, cluster = _dask_client(address, workers)
    try:
        nthreads = sum(client.nthreads().values()) if address else workers
        slots = max(1, nthreads)
        queue: deque[Task] = deque(tasks)
        inflight: dict[Any, tuple[Task, float]] = {}
        while queue or inflight:
            while queue and len(inflight) < slots:
                task = queue.popleft()
                inflight[client.submit(run_task, task.to_dict(), pure=False)] = (task, time.monotonic())
                progress.task_started(task)
            time.sleep(0.2)
            now = time.monotonic()
            for fut, (task, t0) in list(inflight.items()):
                if fut.done():
                    try:
                        rec = fut.result()
                    except Exception as exc:  # KilledWorker and friends
                        rec = error_record(task.to_dict(), f"dask: {type(exc).__name__}: {exc}")
                    del inflight[fut]
                    emit(task, rec)
                elif (task.time_limit is not None and math.isfinite(task.time_limit)
                      and now - t0 >= task.time_limit + grace):
                    del inflight[fut]
                    killed = _restart_dask_worker(client, fut)
                    fut.cancel()
                    emit(task, error_record(task.to_dict(), (
                        f"no result after {now - t0:.0f} s (time limit {task.time_limit:g} s + grace "
                        f"{grace:g} s); " + ("dask worker restarted" if killed else
                                             "dask cannot stop the task: its worker stays busy")),
                        runtime=now - t0))
    finally:
        try:
            client.close()
        finally:
            if cluster is not None:
                cluster.close()


def _restart_dask_worker(client: Any, fut: Any) -> bool:
    """Restart the worker that runs ``fut`` (through its nanny); False when that failed."""
    try:
        where = [addr for addr, keys in client.processing().items() if fut.key in keys]
        if not where:
            return False
        client.restart_workers(where, timeout=10, raise_for_error=True)
        return True
    except Exception as exc:
        log.warning("could not restart the dask worker of a timed-out task: %s", exc)
        return False


# ---------------------------------------------------------------------- the run
class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a run; ``out_dir`` is its folder (to resume). A KeyboardInterrupt, so that
    callers catching that keep working."""

    def __init__(self, out_dir: Path) -> None:
        super().__init__(str(out_dir))
        self.out_dir = out_dir


def _new_run_folder(base: Path) -> Path:
    """Create ``base``, or ``base-2``, ``base-3`` ... when it exists: mkdir is atomic, so two runs
    started in the same second never share a folder."""
    base.parent.mkdir(parents=True, exist_ok=True)
    for n in range(1, 10_000):
        path = base if n == 1 else base.with_name(f"{base.name}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise SolverhubError(f"{base}: could not create a new run folder (9999 taken)")


def _open_results(out: Path, resume: bool) -> ResultWriter:
    """Claim the run folder: ``results.jsonl`` is created exclusively for a new run (an existing one
    means the folder holds a run: refused without ``resume``), and locked while the run writes."""
    path = out / RESULTS
    try:
        writer = ResultWriter(path, exclusive=not resume)
    except FileExistsError:
        raise BadInputError(f"{out}: already holds a run ({RESULTS}); use --resume to continue "
                            f"that run or choose another --out") from None
    if not writer.lock():
        writer.close()
        raise BadInputError(f"{out}: another solverhub run is writing to this folder")
    return writer


def run_config(cfg: RunConfig, out_dir: str | Path | None = None, *, resume: bool = False,
               executor: str | None = None, address: str | None = None, workers: int | None = None,
               progress: _Progress | None = None, plots: bool | None = None) -> RunSummary:
    """Run every task of ``cfg`` into a run folder and write summary.csv and plots.

    The folder is ``out_dir``, else the config's ``[output] dir``, else a new
    ``runs/<name>-<timestamp>`` (suffixed ``-2``, ``-3`` ... when taken). A folder that already
    holds a run is refused unless ``resume`` is set; two runs never write to one folder at once.
    ``executor``/``address``/``workers`` override the config's ``[executor]``. Ctrl-C stops the run:
    lines written so far stay valid, the summary is written, then :class:`RunInterrupted` (a
    KeyboardInterrupt) propagates.
    """
    ex = cfg.executor.model_copy(update={k: v for k, v in (("kind", executor), ("address", address),
                                                              ("workers", workers)) if v is not None})
    if ex.kind not in ("local", "dask"):
        raise BadInputError(f"executor must be 'local' or 'dask', got {ex.kind!r}")
    if ex.workers < 1:
        raise BadInputError(f"workers must be at least 1, got {ex.workers}")
    cfg = cfg.model_copy(update={"executor": ex})
    chosen = out_dir if out_dir is not None else cfg.output.dir
    if chosen is not None:
        out = Path(chosen)
        if out.exists() and not out.is_dir():
            raise BadInputError(f"{out}: exists and is not a folder")
        out.mkdir(parents=True, exist_ok=True)
    else:
        out = _new_run_folder(default_out_dir(cfg))
    progress = progress or _Progress()
    writer = _open_results(out, resume)
    try:
        previous = read_results(out / RESULTS, repair=True) if resume else []
        atomic_write_text(out / CONFIG, config_to_toml(cfg))
    except BaseException:
        writer.close()
        raise

    # the last line of a task counts: one last recorded as interrupted is not done
    done_keys: set[tuple[Any, Any, Any]] = set()
    for r in previous:
        key = (r.get("instance"), r.get("solver"), r.get("seed"))
        if r.get("status") in RERUN_STATUSES:
            done_keys.discard(key)
        else:
            done_keys.add(key)
    all_tasks = make_tasks(cfg)
    todo = [t for t in all_tasks if t.key not in done_keys]
    summary = RunSummary(out, len(all_tasks), len(all_tasks) - len(todo), 0, 0)
    new_records: list[dict[str, Any]] = []

    def emit(task: Task, rec: dict[str, Any]) -> None:
        rec = jsonable(rec)
        writer.write(rec)
        new_records.append(rec)
        summary.finished += 1
        if rec.get("status") == "error":
            summary.errors += 1
        progress.task_done(task, rec)

    # a task in flight when a sequential run's process died: run again, unless it died twice
    died_key, died = _read_attempts(out) if resume else (None, 0)
    (out / INFLIGHT).unlink(missing_ok=True)
    attempts = {died_key: died} if died_key is not None and died_key not in done_keys else {}

    kind = "dask" if ex.kind == "dask" else ("sequential" if ex.workers == 1 else
                                             f"process pool ({ex.workers} workers)")
    progress.start(len(all_tasks), summary.skipped, kind)
    try:
        for task in todo:
            if attempts.get(task.key, 0) >= MAX_ATTEMPTS:
                emit(task, error_record(task.to_dict(), (
                    f"the run's process died {attempts[task.key]} times while solving this task "
                    f"(a crash in native code, out of memory, or the run was killed); not run again")))
        todo = [t for t in todo if attempts.get(t.key, 0) < MAX_ATTEMPTS]
        if todo:
            if ex.kind == "dask":
                _run_dask(todo, ex.address, ex.workers, emit, progress, ex.task_grace)
            elif ex.workers == 1:
                _run_sequential(todo, emit, progress, out, attempts)
            else:
                _run_pool(todo, min(ex.workers, len(todo)), emit, progress, ex.task_grace)
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        writer.close()
        progress.stop()

    summary.records = previous + new_records
    from solverhub.core.report import write_outputs

    try:
        write_outputs(out, summary.records, plots=cfg.output.plots if plots is None else plots)
    except SolverhubError:
        raise
    except Exception as exc:  # a plotting failure must not lose the run
        log.warning("could not write the summary or plots of %s: %s", out, exc)
    if summary.interrupted:
        raise RunInterrupted(out)
    return summary
