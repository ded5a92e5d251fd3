"""Run a config: tasks = instances x solvers x seeds, through an executor, into a run folder.

Executors (DESIGN.md section 8):

* ``local``, 1 worker: tasks run one after another in this process (live incumbent display);
* ``local``, n > 1 workers: n worker processes managed here, so that one hung worker can be
  killed; forked from this process where that is safe (Linux, no other thread, no solver library
  with native threads loaded: see :func:`_fork_is_safe`), else spawned; each solves one task at a
  time with the next one waiting in its pipe, and is replaced after ``max_tasks_per_worker``
  tasks (HiGHS's ``threads`` is process-global and HiGHS leaks memory over many models);
* ``dask``: ``distributed.Client(address)`` (a cluster started separately), or a ``LocalCluster``
  of ``workers`` single-threaded worker processes bound to 127.0.0.1 when no address is given.
  Every task is submitted at once with ``pure=False``; a worker process runs one solve at a time.

The run folder holds ``config.toml`` (the resolved config), ``environment.json`` (written once),
``results.jsonl`` (one JSON line per finished task, appended, flushed and fsync'd by this process
as each task ends, with the resolved options and where the task was solved: versions, Python,
host, CPU), ``summary.csv``, ``solvers.csv``, ``report.md``, ``report.html`` and the plots. A task whose solver
raises, whose worker dies twice, or whose worker hangs past its time limit plus ``[executor]
task_grace`` gets a line with ``status = "error"`` and the reason. A task without a line is not
done: ``--resume`` runs it (and the tasks last recorded as ``interrupted``); a truncated last line,
from a killed run, is dropped.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable

from solverhub.core.config import RunConfig, config_to_toml, instance_label
from solverhub.core.errors import BadInputError, SolverhubError
from solverhub.core.runfolder import (CONFIG, ENVIRONMENT, INFLIGHT, RESULTS, SUMMARY,
                                      ResultWriter, read_results)
from solverhub.core.result import SolutionStatus, Status, TerminationCondition
from solverhub.core.serialize import atomic_write_text, jsonable

__all__ = ["Task", "RunSummary", "run_config", "run_task", "make_tasks", "read_results",
           "default_out_dir", "RESULTS", "CONFIG", "SUMMARY", "atomic_write_text",
           "RunInterrupted"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Task:
    instance: str            # resolved path or address
    solver: str              # the label of the [solvers.<label>] section
    kind: str                # the registered solver name
    seed: int
    time_limit: float | None
    options: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    reference: float | None = None
    group: str | None = None  # the solver section a grid (sweep) label was expanded from
    #: the user's consent to run code named by the instance (core/trust.py), for the worker
    allow_code: bool | list[str] = field(default=False, hash=False, compare=False)


    @property
    def key(self) -> tuple[str, str, int]:
        return (self.instance, self.solver, self.seed)

    def to_dict(self) -> dict[str, Any]:
        return {"instance": self.instance, "solver": self.solver, "kind": self.kind, "seed": self.seed,
                "time_limit": self.time_limit, "options": dict(self.options),
                "reference": self.reference, "group": self.group, "allow_code": self.allow_code}


def make_tasks(cfg: RunConfig) -> list[Task]:
    """Instances x solver labels x seeds, skipping the pairs whose problem kind the solver cannot
    take (a mixed-kind config runs each solver on the instances it applies to)."""
    from solverhub.core.api import can_take, source_kind
    from solverhub.core.manager import get_plugin_manager

    from solverhub.core.trust import code_allowed

    pm = get_plugin_manager()
    with code_allowed(cfg.allow_code):
        kinds = {inst: source_kind(inst) for inst in cfg.instances}
    takes = {label: pm.get_solver(entry.kind).problem_kind for label, entry in cfg.solvers.items()}
    return [Task(inst, label, cfg.solvers[label].kind, seed, cfg.time_limit,
                 dict(cfg.solvers[label].options), cfg.reference_for(inst),
                 cfg.solvers[label].group, cfg.allow_code)
            for inst, label, seed in cfg.tasks() if can_take(takes[label], kinds[inst])]


# ---------------------------------------------------------------------- the task function
def _base_record(task: dict[str, Any]) -> dict[str, Any]:
    rec = {
        "instance": task["instance"], "instance_name": instance_label(task["instance"]),
        "solver": task["solver"], "kind": task["kind"], "seed": task["seed"],
        "time_limit": task["time_limit"], "options": task.get("options") or {},
    }
    if task.get("group"):
        rec["group"] = task["group"]
    return rec


def _with_provenance(rec: dict[str, Any]) -> dict[str, Any]:
    """Add the solving process's versions, Python, host and CPU (see core/provenance.py)."""
    from solverhub.core.provenance import task_provenance

    rec.update(task_provenance(str(rec.get("kind"))))
    rec["pid"] = os.getpid()
    return rec


def error_record(task: dict[str, Any], message: str, *, tb: str | None = None,
                 runtime: float = 0.0) -> dict[str, Any]:
    rec = _base_record(task)
    rec.update({"status": Status.ERROR.value, "termination": TerminationCondition.ERROR.value,
                "solution_status": SolutionStatus.NO_SOLUTION.value, "objective": None, "bound": None, "runtime": runtime,
                "iterations": 0, "primal_integral": None, "trajectory": [], "reference":
                task.get("reference"), "sense": None, "error": message,
                "info": {"traceback": tb} if tb else {}})
    return rec


def run_task(task: dict[str, Any], observers: Iterable[Any] = ()) -> dict[str, Any]:
    """Solve one task (a :meth:`Task.to_dict`); always returns a result record, never raises
    (except KeyboardInterrupt outside the solve). Runs in a worker process or in this one."""
    from solverhub.core.api import load_problem, solve
    from solverhub.core.trust import code_allowed

    t0 = time.perf_counter()
    try:
        with code_allowed(task.get("allow_code") or False):
            problem = load_problem(task["instance"])
        ref = task.get("reference")
        if ref is None:
            ref = getattr(problem, "reference_objective", None)
        res = solve(problem, task["kind"], time_limit=task["time_limit"], seed=task["seed"],
                    options=task.get("options") or {}, observers=observers,
                    reference=None if ref is None else float(ref))
    except BadInputError as exc:
        return _with_provenance(error_record(task, str(exc), runtime=time.perf_counter() - t0))
    except Exception as exc:
        return _with_provenance(error_record(task, f"{type(exc).__name__}: {exc}",
                                             tb=traceback.format_exc(),
                                             runtime=time.perf_counter() - t0))
    rec = _base_record(task)
    d = res.to_dict()
    if d.get("options"):
        rec["options"] = d["options"]  # resolved: the options model's defaults filled in
    for k in ("status", "termination", "solution_status", "objective", "bound", "runtime",
              "iterations", "primal_integral", "trajectory"):
        rec[k] = d[k]
    if d.get("incumbents_unknown"):
        rec["incumbents_unknown"] = True  # no primal integral: the solver reports no incumbent times
    rec["reference"] = None if ref is None or not math.isfinite(float(ref)) else float(ref)
    sense = getattr(problem, "sense", None)
    rec["sense"] = sense if isinstance(sense, int) else None
    rec["error"] = d.get("error")
    for k in ("corrections", "conversion"):
        if d.get(k):
            rec[k] = d[k]
    info = d.get("info") or {}
    rec["info"] = info
    rec["problem_kind"] = d.get("kind") or getattr(problem, "kind", "")
    rec["metrics"] = d.get("metrics") or {}
    rec["history"] = d.get("history") or {}
    return _with_provenance(rec)


def default_out_dir(cfg: RunConfig) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in cfg.name)
    return Path("runs") / f"{safe}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


# ---------------------------------------------------------------------- progress
class _Progress:
    """Progress callbacks; the CLI passes a rich implementation, the default is silent."""

    def start(self, total: int, done: int, executor: str) -> None: ...
    def task_started(self, task: Task) -> None: ...
    def incumbent(self, task: Task, time: float, objective: float,
                  bound: float | None = None) -> None: ...
    def task_done(self, task: Task, record: dict[str, Any]) -> None: ...
    def stop(self) -> None: ...


def _finite(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


class _IncumbentObserver:
    def __init__(self, progress: _Progress, task: Task) -> None:
        self.progress, self.task = progress, task

    def on_incumbent(self, solver: str, time: float, objective: float, bound: Any = None) -> None:
        self.progress.incumbent(self.task, time, objective, _finite(bound))


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
def _status_of(rec: dict[str, Any]) -> Status | None:
    value = rec.get("status")
    return Status(value) if value in _STATUS_VALUES else None


_STATUS_VALUES = frozenset(s.value for s in Status)


def _is_final(rec: dict[str, Any]) -> bool:
    """The record's status stands even when Ctrl-C came while the task was ending."""
    status = _status_of(rec)
    return status is not None and status.is_final


def _mark_interrupted(rec: dict[str, Any]) -> None:
    """Ctrl-C reached the task: ``interrupted``, with the incumbent it holds (if any)."""
    rec["status"] = Status.INTERRUPTED.value
    rec["termination"] = TerminationCondition.INTERRUPTED.value
    held = rec.get("objective") is not None
    rec["solution_status"] = (SolutionStatus.FEASIBLE if held else SolutionStatus.NO_SOLUTION).value
    rec["error"] = rec.get("error") or "interrupted by the user"


def interrupted_record(task: dict[str, Any]) -> dict[str, Any]:
    rec = error_record(task, "interrupted by the user")
    _mark_interrupted(rec)
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
            if stop_requested() and not _is_final(rec):
                _mark_interrupted(rec)
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
            self.send(("incumbent", float(time), float(objective), _finite(bound)))
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


def _worker_main(conn: Any, inherited: tuple[Any, ...] = (), forked: bool = False) -> None:
    """A pool worker process (forked or spawned, see :func:`_pool_start_method`): takes task dicts
    from ``conn`` one at a time until it gets ``None`` or the runner is gone. For each task it
    sends ``("ready",)``, then ``("incumbent", t, obj, bound)`` messages and one ``("result",
    record)``. Plugins are loaded once, before the first task's clock starts (a forked worker has
    the runner's already), so a reused worker costs little per task; HiGHS's process-global
    ``threads`` is then fixed by the first task of this process. ``inherited``: a forked worker's
    copies of the runner's ends of the pipes, closed at once (the runner must see EOF when a
    worker dies, which a sibling holding that end would prevent)."""
    import signal
    import sys
    import threading

    for other in inherited:
        with contextlib.suppress(OSError):
            other.close()
    if forked:
        # the runner's Ctrl-C state is not this process's: start clean (fork happens only with
        # no other thread running, so no wakeup listener is lost here)
        from solverhub.core.interrupt import reset_after_fork

        reset_after_fork()
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

    from solverhub.core.interrupt import clear_stop, handle_sigint
    from solverhub.core.manager import get_plugin_manager

    # a stray SIGINT outside the solve must not print a traceback (not SIG_IGN: handle_sigint would
    # then leave SIGINT ignored during the solve too)
    signal.signal(signal.SIGINT, lambda signum, frame: None)
    get_plugin_manager()
    # one handler for the worker's life (the solves' own are then no-ops): no per-task set-up
    with handle_sigint():
        while True:
            try:
                task = conn.recv()
            except (EOFError, OSError, KeyboardInterrupt):
                break
            if task is None:
                break
            try:
                send(("ready",))
                rec = run_task(task, observers=[_PipeObserver(send)])
            except KeyboardInterrupt:
                rec = interrupted_record(task)
            try:
                send(("result", rec))
            except Exception as exc:  # a record that cannot be pickled
                send(("result", error_record(task, f"the result could not be sent to the runner: "
                                                   f"{type(exc).__name__}: {exc}")))
            clear_stop()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # pragma: no cover
            pass
    # skip interpreter shutdown: a native library's exit handlers must not hang a finished worker
    os._exit(0)


def _describe_exit(code: int | None) -> str:
    import signal

    if code is not None and code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


#: tasks sent ahead to a pool worker: the next one waits in its pipe, so the worker never idles
#: while the runner records a result (fsync) and decides what comes next
PREFETCH = 2


@dataclass
class _Worker:
    proc: Any
    conn: Any
    spawned: float
    #: tasks sent, in order, with their attempt numbers; the first is the one being solved
    assigned: list[tuple[Task, int]] = field(default_factory=list)
    ready_at: float | None = None    # when the first assigned task started
    idle_since: float = 0.0          # when the previous task ended (its successor's start-up)
    eof: bool = False
    sent: int = 0                    # tasks sent to this process in all
    start_method: str = "spawn"      # how the process was started (fork or spawn)
    results: list[tuple[Task, dict[str, Any]]] = field(default_factory=list)  # not yet recorded

    @property
    def task(self) -> Task | None:
        return self.assigned[0][0] if self.assigned else None

    def assign(self, task: Task, attempt: int) -> None:
        self.conn.send(task.to_dict())
        if not self.assigned:
            self.idle_since = time.monotonic()
        self.assigned.append((task, attempt))
        self.sent += 1

    def drain(self, progress: _Progress) -> None:
        """Read every message waiting in the pipe."""
        try:
            while not self.eof and self.conn.poll():
                msg = self.conn.recv()
                if msg[0] == "ready":
                    self.ready_at = time.monotonic()
                    if self.task is not None:  # started now, not when it was sent ahead
                        progress.task_started(self.task)
                elif msg[0] == "incumbent" and self.task is not None:
                    progress.incumbent(self.task, msg[1], msg[2], msg[3] if len(msg) > 3 else None)
                elif msg[0] == "result" and self.assigned:
                    # in order: a "ready" of the task sent ahead may follow in this same batch
                    task, _ = self.assigned.pop(0)
                    self.results.append((task, msg[1]))
                    self.ready_at, self.idle_since = None, time.monotonic()
        except (EOFError, OSError):
            self.eof = True

    def kill(self) -> None:
        try:
            self.proc.kill()
        except Exception:  # pragma: no cover - already gone
            pass

    def close(self, *, retire: bool = False) -> None:
        if retire:  # ask it to exit after its last task
            try:
                self.conn.send(None)
            except (OSError, ValueError):
                pass
        self.proc.join(timeout=5)
        if self.proc.is_alive():  # pragma: no cover - it should exit at once
            self.kill()
            self.proc.join(timeout=5)
        self.conn.close()


#: modules that own native thread pools or process-global solver state (a solve in this process may
#: have started them): a child forked from a process that loaded one could inherit a half-made copy
#: (a HiGHS scheduler without its threads hangs), so pool workers are then spawned instead
FORK_UNSAFE_MODULES = ("highspy", "ortools", "pyscipopt", "cvxpy", "gurobipy", "mosek", "torch",
                       "cupy", "jax", "numba", "distributed", "cyipopt", "casadi")
#: environment variable: ``spawn`` makes every pool worker a fresh interpreter; ``auto`` (default)
#: forks from the runner where that is safe
POOL_START_ENV = "SOLVERHUB_POOL_START"


def _blas_thread_allowance() -> int:
    """How many idle threads OpenBLAS may hold in this process (numpy and scipy each load their
    own copy, which starts ``threads - 1`` helpers at import). OpenBLAS shuts them down itself
    around fork (a pthread_atfork handler), so they do not make a fork unsafe."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
            libs = {line.split()[-1] for line in fh
                    if "openblas" in line.rsplit("/", 1)[-1].lower() and ".so" in line}
    except OSError:
        return 0
    per_lib = None
    for var in ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS"):
        try:
            per_lib = int(os.environ[var].split(",")[0])
            break
        except (KeyError, ValueError):
            continue
    if per_lib is None:
        per_lib = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
            os.cpu_count() or 1)
    return len(libs) * max(per_lib - 1, 0)


def _fork_is_safe() -> bool:
    """True when a forked child gets a consistent copy of this process: Linux; no thread but this
    one (a thread holding a lock at fork time would leave it held forever in the child), counted
    by the OS so that native threads count too, OpenBLAS's idle helpers excepted; no solver library
    with native thread pools loaded (:data:`FORK_UNSAFE_MODULES`)."""
    import sys

    if not sys.platform.startswith("linux") or threading.active_count() != 1:
        return False
    if any(name in sys.modules for name in FORK_UNSAFE_MODULES):
        return False
    allowance = _blas_thread_allowance()
    for _ in range(5):
        try:
            threads = len(os.listdir("/proc/self/task"))
        except OSError:
            return False
        if threads - 1 <= allowance:
            return True
        # a thread that was just joined (environment.json's writer of a previous run) is listed
        # until the OS has reaped it: give it a moment; a solver's thread pool stays and counts
        time.sleep(0.02)
    return False


def _pool_start_method() -> str:
    """``fork`` where :func:`_fork_is_safe` (a worker then starts in milliseconds with the runner's
    imports and plugin registries), else ``spawn`` (a fresh interpreter: about 0.7 s of imports and
    plugin loading per worker here); ``SOLVERHUB_POOL_START=spawn`` forces spawn."""
    choice = os.environ.get(POOL_START_ENV, "auto").strip().lower() or "auto"
    if choice not in ("auto", "spawn"):
        raise BadInputError(f"{POOL_START_ENV} must be 'auto' or 'spawn', got {choice!r}")
    return "fork" if choice == "auto" and _fork_is_safe() else "spawn"


def _start_worker(pool: list[_Worker]) -> _Worker:
    """Start one pool worker (forked or spawned) and append it to ``pool``."""
    import multiprocessing as mp
    import sys
    import warnings

    method = _pool_start_method()
    ctx = mp.get_context(method)
    here, there = ctx.Pipe(duplex=True)
    forked = method == "fork"
    # a spawned worker inherits no descriptors; a forked one closes its copies of the runner's ends
    inherited = tuple(w.conn for w in pool) + (here,) if forked else ()
    proc = ctx.Process(target=_worker_main, args=(there, inherited, forked), daemon=True,
                       name="solverhub-worker")
    with warnings.catch_warnings():
        # Python >= 3.12 warns of fork in a process with threads: the only ones allowed here are
        # OpenBLAS's idle helpers, which OpenBLAS itself parks around fork
        warnings.simplefilter("ignore", DeprecationWarning)
        for stream in (sys.stdout, sys.stderr):  # nothing buffered here may be written twice
            with contextlib.suppress(Exception):
                stream.flush()
        proc.start()
    there.close()  # the worker holds the only other end: EOF here when it dies
    log.debug("pool worker %s started (%s)", proc.pid, method)
    w = _Worker(proc, here, time.monotonic(), start_method=method)
    pool.append(w)
    return w


def _start_pool(workers: int) -> list[_Worker]:
    """Start ``workers`` pool workers now: called before the run starts any thread of its own (the
    live display, environment.json's writer), so that they can be forked."""
    pool: list[_Worker] = []
    try:
        for _ in range(workers):
            _start_worker(pool)
    except BaseException:
        _discard_workers(pool)
        raise
    return pool


def _discard_workers(pool: list[_Worker]) -> None:
    for w in pool:
        w.kill()
    for w in pool:
        with contextlib.suppress(Exception):
            w.close()
    pool.clear()


def _pool_deadline(w: _Worker, time_limit: float | None, grace: float) -> float | None:
    if w.ready_at is None:
        # counted from when its task was sent (or the previous one ended): a first task also
        # waits for the worker's start-up (imports, plugins); a successor spawned early may have
        # waited idle far longer than that before it got its first task
        return w.idle_since + STARTUP_LIMIT
    if time_limit is None or not math.isfinite(time_limit):
        return None  # no limit: nothing to measure the task against
    return w.ready_at + time_limit + grace


def _run_pool(tasks: list[Task], workers: int, emit: Callable[[Task, dict], None],
              progress: _Progress, grace: float, max_tasks: int = 200,
              prestarted: list[_Worker] | None = None) -> None:
    """At most ``workers`` worker processes (``prestarted`` ones first: taken over, the list
    emptied), each solving one task at a time with the next one waiting in its pipe, and replaced
    after ``max_tasks`` tasks (HiGHS leaks memory over many models); managed here rather than by
    concurrent.futures, so that a single worker can be killed:

    * a worker that dies without a result (a native crash, out of memory) is replaced and the task
      it was solving tried once more, then recorded as an error with the reason (the task waiting
      in its pipe goes back to the queue);
    * a worker without a result ``time_limit + grace`` seconds after it started the task (a hang in
      native code) is killed and the task recorded as an error;
    * Ctrl-C: no new task starts, each running worker is asked once to stop (SIGINT) and gets
      ``STOP_WAIT`` seconds to return its incumbent (recorded as ``interrupted``), the others are
      killed and get no line (not done); then KeyboardInterrupt. A second Ctrl-C kills them at once.
    """
    from collections import deque
    from multiprocessing.connection import wait as mp_wait

    from solverhub.core.interrupt import handle_sigint, stop_requested

    queue: deque[tuple[Task, int]] = deque((t, 1) for t in tasks)
    pool: list[_Worker] = list(prestarted or ())
    if prestarted is not None:
        prestarted.clear()  # ours now: killed or retired below
    for w in pool:
        w.idle_since = time.monotonic()  # its start-up limit counts from now
    stopping_at: float | None = None

    def give(w: _Worker) -> None:
        task, attempt = queue.popleft()
        try:
            w.assign(task, attempt)
        except (OSError, ValueError):  # it died: settle() notices, the task waits
            w.eof = True
            queue.appendleft((task, attempt))
            return

    def requeue(w: _Worker) -> None:
        """The tasks waiting in ``w``'s pipe (not started) go back to the front of the queue."""
        if stopping_at is None:
            queue.extendleft(reversed(w.assigned[1:]))
        w.assigned = w.assigned[:1]

    def crashed(w: _Worker) -> None:
        """``w`` died while solving its first assigned task."""
        requeue(w)
        task, attempt = w.assigned.pop(0)
        if stopping_at is not None:
            return  # stopped by the user: no line, resume runs it
        how = _describe_exit(w.proc.exitcode)
        if attempt < MAX_ATTEMPTS:
            log.warning("%s: the worker process died (%s); trying once more in a fresh one",
                        _task_name(task), how)
            queue.appendleft((task, attempt + 1))
        else:
            emit(task, error_record(task.to_dict(), (
                f"the worker process died while solving this task ({how}), {attempt} times: "
                f"a crash in native code or out of memory")))

    def settle(w: _Worker, now: float) -> bool:
        """Handle a worker's news; True when the worker is gone (dead, killed or retired)."""
        alive = w.proc.is_alive()
        w.drain(progress)  # after is_alive: a result sent just before exiting is not missed
        while w.results:
            task, rec = w.results.pop(0)
            emit(task, rec)
        if stopping_at is not None and not w.assigned:
            w.kill()  # it may have started a task that waited in its pipe: no line for that one
            w.close()
            return True
        if not alive or w.eof:
            w.proc.join(timeout=5)
            if w.assigned:
                crashed(w)
            w.conn.close()
            return True
        if not w.assigned:
            if w.sent >= max_tasks:
                w.close(retire=True)
                return True
            return False
        if stopping_at is not None:
            if now - stopping_at >= STOP_WAIT:
                w.kill()
                w.close()
                return True
            return False
        task = w.assigned[0][0]
        deadline = _pool_deadline(w, task.time_limit, grace)
        if deadline is not None and now >= deadline:
            w.kill()
            requeue(w)
            if w.ready_at is None:
                msg = f"the worker process did not start within {STARTUP_LIMIT:g} s; worker killed"
            else:
                msg = (f"no result after {now - w.ready_at:.0f} s (time limit "
                       f"{task.time_limit:g} s + grace {grace:g} s); worker killed")
            emit(task, error_record(task.to_dict(), msg, runtime=now - (w.ready_at or now)))
            w.close()
            return True
        return False

    try:
        with handle_sigint():
            while queue or any(w.assigned for w in pool):
                now = time.monotonic()
                if stop_requested() and stopping_at is None:
                    stopping_at = now
                    queue.clear()
                    for w in pool:
                        w.drain(progress)  # first: a task sent ahead may have started meanwhile
                        requeue(w)  # the tasks waiting in pipes will not run: no line
                        _ask_to_stop(w, progress)
                if stopping_at is None:
                    # `workers` processes that can take tasks: a retiring worker's successor is
                    # spawned as soon as the old one has its last task, so that its start-up
                    # overlaps that task; it gets a task only when the old one is gone
                    fresh = [w for w in pool if not w.eof and w.sent < max_tasks]
                    while queue and len(fresh) < workers:
                        fresh.append(_start_worker(pool))
                    # breadth first: every worker one task, then one waiting in each pipe
                    for depth in range(PREFETCH):
                        for w in fresh:
                            if not queue or len(w.assigned) != depth or w.sent >= max_tasks:
                                continue
                            if depth == 0 and sum(1 for x in pool if x.assigned) >= workers:
                                continue
                            give(w)
                # wake for a message, a worker's exit, or at least every 0.2 s (Ctrl-C, deadlines)
                mp_wait([w.conn for w in pool if not w.eof] + [w.proc.sentinel for w in pool],
                        timeout=0.2)
                now = time.monotonic()
                for w in list(pool):
                    if settle(w, now):
                        pool.remove(w)
    finally:
        for w in pool:  # a second Ctrl-C, or an error in this loop: kill what still runs
            if w.assigned:
                w.kill()
        for w in pool:
            with contextlib.suppress(Exception):
                w.close(retire=True)
    if stopping_at is not None:
        raise KeyboardInterrupt


def _ask_to_stop(w: _Worker, progress: _Progress) -> None:
    """Ctrl-C in a pool: a worker solving a task gets one SIGINT (it returns its incumbent); one
    that has not started its task is killed (no line: not done). Its pipe is read first, so that a
    task that has started is known as started even when the runner has not yet read its "ready"."""
    import signal

    w.drain(progress)
    if not w.assigned:
        return
    if w.ready_at is not None:
        with contextlib.suppress(OSError):
            os.kill(w.proc.pid, signal.SIGINT)
    else:
        w.kill()


def _task_name(task: Task) -> str:
    return f"{instance_label(task.instance)} / {task.solver} / seed {task.seed}"


#: the dask event topic on which a task announces that it started (for the watchdog's clock)
DASK_START_TOPIC = "solverhub-task-start"
#: one solve per dask worker process at a time
_DASK_TASK_LOCK = threading.Lock()
#: guards the two below, shared by the task thread and the worker's event loop (client.run)
_DASK_STATE_LOCK = threading.Lock()
#: runs stopped by their runner's Ctrl-C: their tasks that have not started do not start
_DASK_STOPPED_RUNS: set[str] = set()
_DASK_CURRENT_RUN: str | None = None


def _dask_task(task: dict[str, Any], token: str, run_id: str = "") -> dict[str, Any] | None:
    """The task function on a dask worker: one solve per worker process at a time (a worker with
    several threads would otherwise run two solves that share HiGHS's process-global ``threads``),
    and a start event so that the runner's watchdog counts from the real start. None: the run was
    stopped (Ctrl-C) before this task started; the runner records nothing for it."""
    global _DASK_CURRENT_RUN
    from solverhub.core.interrupt import clear_stop

    with _DASK_TASK_LOCK:
        with _DASK_STATE_LOCK:
            if run_id and run_id in _DASK_STOPPED_RUNS:
                return None
            _DASK_CURRENT_RUN = run_id
            clear_stop()  # a stop of an earlier run on this worker is not this task's
        try:
            try:
                from distributed import get_worker

                get_worker().log_event(DASK_START_TOPIC, {"token": token})
            except Exception:  # the runner then counts from submission
                pass
            return run_task(task)
        finally:
            with _DASK_STATE_LOCK:
                _DASK_CURRENT_RUN = None
                clear_stop()


def _dask_stop_run(run_id: str) -> None:
    """On each dask worker (through ``client.run``), when the runner of ``run_id`` got Ctrl-C: its
    tasks that have not started will not start, and the running one's solver is asked to stop (it
    returns its incumbent, as a pool worker does on SIGINT)."""
    from solverhub.core.interrupt import request_stop

    with _DASK_STATE_LOCK:
        _DASK_STOPPED_RUNS.add(run_id)
        if _DASK_CURRENT_RUN == run_id:
            request_stop()


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _dask_client(address: str | None, workers: int, *, connect_timeout: float = 30.0,
                 host: str = "127.0.0.1"):
    """A client of the scheduler at ``address``, else of a new LocalCluster of ``workers``
    single-threaded worker processes whose scheduler and dashboard listen on ``host`` only."""
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError:
        raise BadInputError("the dask executor needs dask.distributed: "
                            "pip install 'solverhub[dask]'") from None
    for name in ("distributed", "distributed.scheduler", "distributed.nanny", "distributed.worker",
                 "distributed.core", "distributed.http.proxy", "distributed.client",
                 "distributed.comm", "distributed.batched"):
        lg = logging.getLogger(name)
        if lg.getEffectiveLevel() < logging.ERROR:
            lg.setLevel(logging.ERROR)
    if address:
        try:
            return Client(address, timeout=f"{connect_timeout}s"), None
        except Exception as exc:
            raise BadInputError(f"cannot reach the dask scheduler at {address} within "
                                f"{connect_timeout:g} s ({_one_line(exc)}); is `dask scheduler` "
                                f"running there?") from None
    # a task whose worker dies is run once more elsewhere, then recorded (KilledWorker)
    with dask.config.set({"distributed.scheduler.allowed-failures": MAX_ATTEMPTS - 1}), \
            _terminal_sigint_ignored():
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               host=host, scheduler_port=0, dashboard_address=f"{host}:0",
                               silence_logs=logging.ERROR)
    return Client(cluster), cluster


@contextlib.contextmanager
def _terminal_sigint_ignored() -> Any:
    """While LocalCluster starts its worker processes: they share the terminal's process group, so
    a Ctrl-C would kill them with their tasks; an ignored SIGINT is inherited (across exec too),
    and the runner then stops them as a pool's workers are stopped (see :func:`_run_dask`)."""
    import signal

    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is None):  # None: set outside Python, left alone
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _run_dask(tasks: list[Task], address: str | None, workers: int,
              emit: Callable[[Task, dict], None], progress: _Progress, grace: float, *,
              connect_timeout: float = 30.0, host: str = "127.0.0.1") -> None:
    """Through dask. Every task is submitted at once (``pure=False``): the scheduler queues them
    and hands each single-threaded worker one at a time, so workers never wait for the runner.
    Each task announces its start (a dask event), and the watchdog counts from there. Finished
    tasks come back through done-callbacks and are fetched in batches. A worker that dies
    (SIGKILL, out of memory) loses its task, which the scheduler runs once more on another worker
    (``allowed-failures``) before it fails with KilledWorker, recorded as an error. Dask cannot
    stop a task's thread: a task without a result ``time_limit + grace`` seconds after it started
    is recorded as an error, its future cancelled, and its worker restarted (best effort: a worker
    without a nanny cannot be restarted, and its thread then stays busy).

    Ctrl-C, as in the pool: no new task starts (the ones not known to have started are cancelled,
    and the workers drop any of this run's tasks that come to them), the running tasks' solvers
    are asked to stop and get ``STOP_WAIT`` seconds to return their incumbents (recorded as
    ``interrupted`` unless final); tasks still running then get no line (not done: ``--resume``
    runs them); then KeyboardInterrupt. A second Ctrl-C stops at once."""
    import queue as queue_mod

    from distributed import as_completed

    from solverhub.core.interrupt import handle_sigint, stop_requested

    client, cluster = _dask_client(address, workers, connect_timeout=connect_timeout, host=host)
    started: dict[str, float] = {}
    lock = threading.Lock()
    done_q: queue_mod.SimpleQueue[Any] = queue_mod.SimpleQueue()

    def on_start(event: Any) -> None:
        # (timestamp, {"token": ...}) from a worker, delivered in the client's thread
        try:
            msg = event[1] if isinstance(event, tuple) else event
            with lock:
                started.setdefault(str(msg["token"]), time.monotonic())
        except Exception:
            pass

    stopping_at: float | None = None
    sigint: Any = None
    try:
        sigint = handle_sigint()  # from here on, a first Ctrl-C stops the run as described above
        sigint.__enter__()
        client.subscribe_topic(DASK_START_TOPIC, on_start)
        inflight: dict[Any, tuple[Task, str]] = {}
        run_id = f"{os.getpid()}-{time.time_ns()}"
        for n, task in enumerate(tasks):
            token = f"solverhub-{run_id}-{n}"
            fut = client.submit(_dask_task, task.to_dict(), token, run_id, pure=False, key=token)
            inflight[fut] = (task, token)
        by_token = {token: task for task, token in inflight.values()}
        announced: set[str] = set()

        def collect() -> None:
            # results are fetched in the client's event loop as tasks finish (no round trip from
            # this thread per task) and handed over through done_q; None marks the end
            try:
                for fut, res in as_completed(list(inflight), with_results=True, raise_errors=False):
                    done_q.put((fut, res))
            except Exception as exc:  # the client closed under it: the loop below ends anyway
                log.debug("dask result collector stopped: %s", exc)
            done_q.put(None)

        collector = threading.Thread(target=collect, name="solverhub-dask-results", daemon=True)
        collector.start()
        last_check = time.monotonic()
        while inflight:
            if stopping_at is None and stop_requested():
                stopping_at = time.monotonic()
                with lock:
                    known = announced | set(started)
                _stop_dask_run(client, run_id, inflight, known)
            if stopping_at is not None and (not inflight
                                            or time.monotonic() - stopping_at >= STOP_WAIT):
                break
            batch: list[Any] = []
            try:  # wake at a result, or every 0.2 s for the watchdog
                batch.append(done_q.get(timeout=0.2))
                while True:
                    batch.append(done_q.get_nowait())
            except queue_mod.Empty:
                pass
            with lock:
                news = [t for t in started if t not in announced]
            for token in news:  # started on a worker (a dask event): shown as running
                announced.add(token)
                if token in by_token:
                    progress.task_started(by_token[token])
            for item in batch:
                if item is None or item[0] not in inflight:
                    continue
                fut, res = item
                task, token = inflight.pop(fut)
                by_token.pop(token, None)  # a start event arriving after the result is ignored
                with lock:
                    started.pop(token, None)
                if res is None:  # not started: the run was stopped first (no line: not done)
                    fut.release()
                    continue
                if isinstance(res, dict):
                    rec = res
                    if stopping_at is not None and not _is_final(rec):
                        _mark_interrupted(rec)
                else:
                    name = type(res).__name__
                    why = (f"the dask worker died while solving this task, {MAX_ATTEMPTS} times: "
                           f"a crash in native code or out of memory" if name == "KilledWorker"
                           else f"dask: {name}: {_one_line(res)}")
                    rec = error_record(task.to_dict(), why)
                fut.release()
                emit(task, rec)
            if None in batch and inflight and stopping_at is None:
                # the collector ended with tasks outstanding (the cluster went away)
                for fut, (task, _) in list(inflight.items()):
                    emit(task, error_record(task.to_dict(), f"dask: the result was lost "
                                                            f"({fut.status})"))
                inflight.clear()
            now = time.monotonic()
            if now - last_check < 0.2 or stopping_at is not None:
                continue
            last_check = now
            for fut, (task, token) in list(inflight.items()):
                if task.time_limit is None or not math.isfinite(task.time_limit):
                    continue
                with lock:
                    t0 = started.get(token)
                if t0 is None or now < t0 + task.time_limit + grace or fut.done():
                    continue  # queued, in time, or its result is on the way
                del inflight[fut]
                by_token.pop(token, None)
                killed = _restart_dask_worker(client, fut)
                fut.cancel()
                emit(task, error_record(task.to_dict(), (
                    f"no result after {now - t0:.0f} s (time limit {task.time_limit:g} s + grace "
                    f"{grace:g} s); " + ("dask worker restarted" if killed else
                                         "dask cannot stop the task: its worker stays busy")),
                    runtime=now - t0))
        if stopping_at is not None:  # what still runs gets no line; its result is dropped
            with contextlib.suppress(Exception):
                client.cancel(list(inflight))
    finally:
        try:
            with contextlib.suppress(Exception):
                client.unsubscribe_topic(DASK_START_TOPIC)
            client.close()
        finally:
            try:
                if cluster is not None:
                    cluster.close()
            finally:
                if sigint is not None:
                    sigint.__exit__(None, None, None)
    if stopping_at is not None:
        raise KeyboardInterrupt


def _stop_dask_run(client: Any, run_id: str, inflight: dict[Any, tuple[Task, str]],
                   started: set[str]) -> None:
    """Ctrl-C in a dask run: cancel the tasks not known to have started (dropped from ``inflight``:
    no line) and ask every worker to stop this run (see :func:`_dask_stop_run`). A task that
    started but whose start event has not arrived yet is cancelled too: its worker stops it, its
    result is dropped, and resume runs it again."""
    queued = [fut for fut, (_, token) in inflight.items() if token not in started]
    for fut in queued:
        del inflight[fut]

    def tell_workers() -> None:
        # in a thread: a slow or gone worker must not hold up this loop (STOP_WAIT bounds it)
        try:
            client.run(_dask_stop_run, run_id, on_error="ignore")
        except Exception as exc:  # the running tasks then end on their own and are dropped
            log.warning("could not ask the dask workers to stop: %s", _one_line(exc))

    threading.Thread(target=tell_workers, name="solverhub-dask-stop", daemon=True).start()
    with contextlib.suppress(Exception):
        client.cancel(queued)


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
    # every task is known before a folder is made: a run that cannot start leaves nothing behind
    all_tasks = make_tasks(cfg)
    if not all_tasks:
        raise BadInputError(f"{cfg.name}: no tasks: no solver of this config takes any of its "
                            f"instances")
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
        status = _status_of(r)
        if status is not None and status.rerun_on_resume:
            done_keys.discard(key)
        else:
            done_keys.add(key)
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
    runnable = sum(1 for t in todo if attempts.get(t.key, 0) < MAX_ATTEMPTS)
    pool_size = min(ex.workers, runnable) if ex.kind == "local" and ex.workers > 1 else 0
    env_writer = None
    prestarted: list[_Worker] = []
    try:
        # the pool's workers first, while this process runs no other thread (they can be forked)
        prestarted = _start_pool(pool_size) if pool_size else []
        env_writer = _write_environment(out / ENVIRONMENT)
        progress.start(len(all_tasks), summary.skipped, kind)
        for task in todo:
            if attempts.get(task.key, 0) >= MAX_ATTEMPTS:
                emit(task, error_record(task.to_dict(), (
                    f"the run's process died {attempts[task.key]} times while solving this task "
                    f"(a crash in native code, out of memory, or the run was killed); not run again")))
        todo = [t for t in todo if attempts.get(t.key, 0) < MAX_ATTEMPTS]
        if todo:
            if ex.kind == "dask":
                _run_dask(todo, ex.address, ex.workers, emit, progress, ex.task_grace,
                          connect_timeout=ex.connect_timeout, host=ex.host)
            elif ex.workers == 1:
                _run_sequential(todo, emit, progress, out, attempts)
            else:
                _run_pool(todo, pool_size, emit, progress, ex.task_grace,
                          ex.max_tasks_per_worker, prestarted=prestarted)
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        _discard_workers(prestarted)  # those _run_pool did not take over (an error before it)
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
    except Exception as exc:  # a plotting failure must not lose the run
        log.warning("could not write the summary or plots of %s: %s", out, exc)
    if summary.interrupted:
        raise RunInterrupted(out)
    return summary
