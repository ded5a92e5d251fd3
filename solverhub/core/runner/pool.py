"""The local process pool (``local`` with n > 1 workers): n worker processes managed here, so that
one hung worker can be killed; forked from this process where that is safe (Linux, no other thread,
no solver library with native threads loaded: see :func:`_fork_is_safe`), else spawned; each solves
one task at a time with the next one waiting in its pipe, and is replaced after
``max_tasks_per_worker`` tasks (HiGHS's ``threads`` is process-global and HiGHS leaks memory over
many models)."""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from solverhub.core.errors import BadInputError
from solverhub.core.result import finite_or_none
from solverhub.core.runner.base import MAX_ATTEMPTS, STARTUP_LIMIT, STOP_WAIT, Emit, Progress
from solverhub.core.runner.tasks import Task, infrastructure_error, interrupted_record, run_task, task_name
from solverhub.core.taskrecord import TaskRecord

__all__ = ["PoolExecutor", "FORK_UNSAFE_MODULES", "POOL_START_ENV", "PREFETCH"]

log = logging.getLogger(__name__)


class _PipeObserver:
    """In a pool worker: forwards incumbents to the runner, for its live display."""

    def __init__(self, send: Callable[[tuple], None]) -> None:
        self.send = send

    def on_incumbent(self, solver: str, time: float, objective: float, bound: Any = None) -> None:
        try:
            self.send(("incumbent", float(time), float(objective), finite_or_none(bound)))
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
                send(("result", infrastructure_error(
                    task, f"the result could not be sent to the runner: {type(exc).__name__}: {exc}")))
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
    results: list[tuple[Task, TaskRecord]] = field(default_factory=list)  # not yet recorded

    @property
    def task(self) -> Task | None:
        return self.assigned[0][0] if self.assigned else None

    def assign(self, task: Task, attempt: int) -> None:
        self.conn.send(task)
        if not self.assigned:
            self.idle_since = time.monotonic()
        self.assigned.append((task, attempt))
        self.sent += 1

    def drain(self, progress: Progress) -> None:
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

    from solverhub.core.interrupt import listener_threads

    own = listener_threads()  # the Ctrl-C listener: fork-safe (interrupt.py)
    if not sys.platform.startswith("linux") or threading.active_count() - own != 1:
        return False
    if any(name in sys.modules for name in FORK_UNSAFE_MODULES):
        return False
    allowance = _blas_thread_allowance() + own
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
    proc = ctx.Process(target=_worker_main, args=(there, inherited, forked),  # type: ignore[attr-defined]
                       daemon=True, name="solverhub-worker")
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


def _run_pool(tasks: list[Task], workers: int, emit: Emit,
              progress: Progress, grace: float, max_tasks: int = 200,
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
                        task_name(task), how)
            queue.appendleft((task, attempt + 1))
        else:
            emit(task, infrastructure_error(task, (
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
            emit(task, infrastructure_error(task, msg, runtime=now - (w.ready_at or now)))
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


def _ask_to_stop(w: _Worker, progress: Progress) -> None:
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




class PoolExecutor:
    """The local process pool (see the module docstring and :func:`_run_pool`)."""

    def __init__(self, workers: int, grace: float, max_tasks: int = 200) -> None:
        self.workers, self.grace, self.max_tasks = workers, grace, max_tasks
        self.description = f"process pool ({workers} workers)"
        self._prestarted: list[_Worker] = []

    def prepare(self, tasks: list[Task]) -> None:
        """Start the workers now, while this process runs no other thread (they can be forked)."""
        self._prestarted = _start_pool(min(self.workers, len(tasks)))

    def run(self, tasks: list[Task], emit: Emit, progress: Progress) -> None:
        size = max(1, min(self.workers, len(tasks)))
        _run_pool(tasks, size, emit, progress, self.grace, self.max_tasks,
                  prestarted=self._prestarted)

    def close(self) -> None:
        _discard_workers(self._prestarted)  # those _run_pool did not take over (an error before it)
