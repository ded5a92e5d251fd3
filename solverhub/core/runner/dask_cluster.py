"""The dask executor: ``distributed.Client(address)`` (a cluster started separately), or a
``LocalCluster`` of ``workers`` single-threaded worker processes bound to 127.0.0.1 when no address
is given. Every task is submitted at once with ``pure=False``; a worker process runs one solve at a
time."""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import time
from typing import Any

from solverhub.core.errors import BadInputError
from solverhub.core.runner.base import MAX_ATTEMPTS, STOP_WAIT, Emit, Progress, mark_interrupted, one_line
from solverhub.core.runner.tasks import Task, infrastructure_error, run_task
from solverhub.core.taskrecord import TaskRecord

__all__ = ["DaskExecutor", "DASK_START_TOPIC", "dask_failure"]

log = logging.getLogger(__name__)


#: the dask event topic on which a task announces that it started (for the watchdog's clock)
DASK_START_TOPIC = "solverhub-task-start"
#: one solve per dask worker process at a time
_DASK_TASK_LOCK = threading.Lock()
#: guards the two below, shared by the task thread and the worker's event loop (client.run)
_DASK_STATE_LOCK = threading.Lock()
#: runs stopped by their runner's Ctrl-C: their tasks that have not started do not start
_DASK_STOPPED_RUNS: set[str] = set()
_DASK_CURRENT_RUN: str | None = None


def _dask_task(task: dict[str, Any], token: str, run_id: str = "") -> TaskRecord | None:
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
            # a fresh worker loads the plugins first, as a pool worker does before its first
            # task's clock starts: imports (seconds on a loaded machine) are not the task's time
            try:
                from solverhub.core.manager import get_plugin_manager

                get_plugin_manager()
            except Exception:  # run_task reports what is wrong, with the task's line
                pass
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
                                f"{connect_timeout:g} s ({one_line(exc)}); is `dask scheduler` "
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
    and the runner then stops them as a pool's workers are stopped (see :class:`DaskExecutor`)."""
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


def dask_failure(res: Any) -> str:
    """The line of a task that dask reports as failed: ``as_completed(raise_errors=False)`` gives
    an ``(type, exception, traceback)`` tuple for an erred future and the exception itself for a
    cancelled one. A worker that died on the task as often as the scheduler allows is KilledWorker."""
    exc = res[1] if isinstance(res, tuple) and len(res) == 3 else res
    name = type(exc).__name__
    if name == "KilledWorker":
        allowed = getattr(exc, "allowed_failures", None)  # the attempts are one more
        times = allowed + 1 if isinstance(allowed, int) else MAX_ATTEMPTS
        return (f"the dask worker died while solving this task, {times} times: a crash in native "
                f"code or out of memory")
    if name == "CancelledError":
        return "dask: the task was cancelled (its worker or the scheduler went away)"
    if isinstance(exc, BaseException):
        return f"dask: {name}: {one_line(exc)}"
    return f"dask: the task failed without an exception ({type(res).__name__})"


class DaskExecutor:
    """Through dask. Every task is submitted at once (``pure=False``, one ``client.map``): the
    scheduler queues them and hands each single-threaded worker one at a time, so workers never
    wait for the runner. Each task announces its start (a dask event), and the watchdog counts from
    there. Finished tasks come back through done-callbacks and are fetched in batches. A worker
    that dies (SIGKILL, out of memory) loses its task, which the scheduler runs once more on another
    worker (``allowed-failures``) before it fails with KilledWorker, recorded as an infrastructure
    error. Dask cannot stop a task's thread: a task without a result ``time_limit + grace`` seconds
    after it started is recorded as an error, its future cancelled, and its worker restarted (best
    effort: a worker without a nanny cannot be restarted, and its thread then stays busy).

    Ctrl-C, as in the pool: no new task starts (the ones not known to have started are cancelled,
    and the workers drop any of this run's tasks that come to them), the running tasks' solvers
    are asked to stop and get ``STOP_WAIT`` seconds to return their incumbents (recorded as
    ``interrupted`` unless final); tasks still running then get no line (not done: ``--resume``
    runs them); then KeyboardInterrupt. A second Ctrl-C stops at once."""

    description = "dask"

    def __init__(self, address: str | None, workers: int, grace: float, *,
                 connect_timeout: float = 30.0, host: str = "127.0.0.1") -> None:
        self.address, self.workers, self.grace = address, workers, grace
        self.connect_timeout, self.host = connect_timeout, host
        self.client: Any = None
        self.cluster: Any = None

    def prepare(self, tasks: list[Task]) -> None:
        pass  # the client is made in run(): a LocalCluster's threads must not precede a pool's fork

    def close(self) -> None:
        client, cluster, self.client, self.cluster = self.client, self.cluster, None, None
        try:
            if client is not None:
                with contextlib.suppress(Exception):
                    client.unsubscribe_topic(DASK_START_TOPIC)
                client.close()
        finally:
            if cluster is not None:
                cluster.close()

    def run(self, tasks: list[Task], emit: Emit, progress: Progress) -> None:
        from solverhub.core.interrupt import handle_sigint

        self.client, self.cluster = _dask_client(self.address, self.workers,
                                                 connect_timeout=self.connect_timeout,
                                                 host=self.host)
        try:
            with handle_sigint():  # from here on, a first Ctrl-C stops the run as described above
                try:
                    stopped = self._run(tasks, emit, progress)
                finally:
                    self.close()
        finally:
            self.close()  # an error before the handler was in place
        if stopped:
            raise KeyboardInterrupt

    def _run(self, tasks: list[Task], emit: Emit, progress: Progress) -> bool:
        """The run; True when Ctrl-C stopped it."""
        import queue as queue_mod

        from distributed import as_completed

        from solverhub.core.interrupt import stop_requested

        client, grace = self.client, self.grace
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
        client.subscribe_topic(DASK_START_TOPIC, on_start)
        run_id = f"{os.getpid()}-{time.time_ns()}"
        tokens = [f"solverhub-{run_id}-{n}" for n in range(len(tasks))]
        # one graph update for every task (a submit per task is one scheduler message each)
        futures = client.map(_dask_task, [t.to_dict() for t in tasks], tokens,
                             [run_id] * len(tasks), pure=False, key=tokens)
        inflight: dict[Any, tuple[Task, str]] = {f: (t, k) for f, t, k in
                                                  zip(futures, tasks, tokens)}
        by_token = dict(zip(tokens, tasks))
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
                if isinstance(res, TaskRecord):
                    rec = mark_interrupted(res) if stopping_at is not None else res
                else:
                    rec = infrastructure_error(task, dask_failure(res))
                fut.release()
                emit(task, rec)
            if None in batch and inflight and stopping_at is None:
                # the collector ended with tasks outstanding (the cluster went away)
                for fut, (task, _) in list(inflight.items()):
                    emit(task, infrastructure_error(task, f"dask: the result was lost "
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
                emit(task, infrastructure_error(task, (
                    f"no result after {now - t0:.0f} s (time limit {task.time_limit:g} s + grace "
                    f"{grace:g} s); " + ("dask worker restarted" if killed else
                                         "dask cannot stop the task: its worker stays busy")),
                    runtime=now - t0))
        if stopping_at is not None:  # what still runs gets no line; its result is dropped
            with contextlib.suppress(Exception):
                client.cancel(list(inflight))
        return stopping_at is not None


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
            log.warning("could not ask the dask workers to stop: %s", one_line(exc))

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

