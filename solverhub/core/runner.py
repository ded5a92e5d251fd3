"""Run a config: tasks = instances x solvers x seeds, through an executor, into a run folder.

Executors (DESIGN.md section 8):

* ``local``, 1 worker: tasks run one after another in this process (live incumbent display);
* ``local``, n > 1 workers: a process pool with the ``spawn`` start method and one task per worker
  process (``max_tasks_per_child=1``): HiGHS's ``threads`` is process-global and HiGHS leaks memory
  over many models, so every solve gets a fresh process;
* ``dask``: ``distributed.Client(address)``, or a ``LocalCluster`` of ``workers`` single-threaded
  worker processes when no address is given. The same task function runs there unchanged.

The run folder holds ``config.toml`` (the resolved config), ``results.jsonl`` (one JSON line per
finished task, appended, flushed and fsync'd by this process as each task ends; a task that crashes
or whose worker dies still gets a line, with ``status = "error"``), ``summary.csv`` and the plots.
Under ``resume`` the tasks already in ``results.jsonl`` are skipped (a truncated last line, from a
killed run, is dropped) except those recorded as ``interrupted``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable

from solverhub.core.config import RunConfig, config_to_toml, instance_label
from solverhub.core.errors import BadInputError, SolverhubError

__all__ = ["Task", "RunSummary", "run_config", "run_task", "make_tasks", "read_results",
           "default_out_dir", "RESULTS", "CONFIG", "SUMMARY", "atomic_write_text"]

log = logging.getLogger(__name__)

RESULTS = "results.jsonl"
CONFIG = "config.toml"
SUMMARY = "summary.csv"

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
    rec["pid"] = os.getpid()
    return rec


# ---------------------------------------------------------------------- results file
def read_results(path: str | Path, *, repair: bool = False) -> list[dict[str, Any]]:
    """The records of a ``results.jsonl``. A truncated last line (a killed run) is skipped and,
    with ``repair``, cut from the file so that appending stays valid; a corrupt line elsewhere is
    skipped with a warning."""
    p = Path(path)
    if not p.exists():
        return []
    raw = p.read_bytes()
    complete_len = raw.rfind(b"\n") + 1  # bytes up to and including the last newline
    records: list[dict[str, Any]] = []

    def parse(chunk: bytes) -> dict[str, Any] | None:
        try:
            rec = json.loads(chunk)
        except (ValueError, UnicodeDecodeError):
            return None
        return rec if isinstance(rec, dict) else None

    for n, line in enumerate(raw[:complete_len].split(b"\n")[:-1], start=1):
        if not line.strip():
            continue
        rec = parse(line)
        if rec is None:
            log.warning("%s: line %d is not a JSON object; skipped", p, n)
            continue
        records.append(rec)
    tail = raw[complete_len:]
    if tail.strip():
        rec = parse(tail)
        if rec is not None:
            records.append(rec)
            if repair:
                with open(p, "ab") as fh:
                    fh.write(b"\n")
                    fh.flush()
                    os.fsync(fh.fileno())
        else:
            log.warning("%s: ignoring a truncated last line", p)
            if repair:
                with open(p, "r+b") as fh:
                    fh.truncate(complete_len)
                    fh.flush()
                    os.fsync(fh.fileno())
    return records


class ResultWriter:
    """Appends one JSON line per finished task: written, flushed and fsync'd at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh = open(path, "a", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, default=str, allow_nan=False)
        self._fh.write(line + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> "ResultWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _sanitize(rec: dict[str, Any]) -> dict[str, Any]:
    """NaN/inf become null so that every line is strict JSON."""
    def fix(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {str(k): fix(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [fix(x) for x in v]
        return v
    return fix(rec)


def atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


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


class _QueueObserver:
    """Forwards a worker process's incumbents to the parent (a multiprocessing manager queue), so
    that the progress display shows them live in pool runs too."""

    def __init__(self, queue: Any, key: Any) -> None:
        self.queue, self.key = queue, key

    def on_incumbent(self, solver: str, time: float, objective: float, bound: Any = None) -> None:
        try:
            self.queue.put_nowait((self.key, float(time), float(objective)))
        except Exception:  # the display is best effort; the solve goes on
            pass


class _IncumbentRelay:
    """Parent side of :class:`_QueueObserver`: a thread that hands queued incumbents to the progress
    display."""

    def __init__(self, progress: _Progress) -> None:
        import multiprocessing as mp
        import threading

        self.progress = progress
        self.tasks: dict[Any, Task] = {}
        self.manager = mp.get_context("spawn").Manager()
        self.queue = self.manager.Queue()
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def observer(self, task: Task) -> _QueueObserver:
        self.tasks[task.key] = task
        return _QueueObserver(self.queue, task.key)

    def _drain(self) -> None:
        while True:
            try:
                item = self.queue.get()
            except Exception:  # manager gone
                return
            if item is None:
                return
            key, t, obj = item
            task = self.tasks.get(key)
            if task is not None:
                try:
                    self.progress.incumbent(task, t, obj)
                except Exception:  # pragma: no cover - display only
                    pass

    def close(self) -> None:
        try:
            self.queue.put(None)
            self.thread.join(timeout=2)
        except Exception:  # pragma: no cover
            pass
        self.manager.shutdown()


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
INFLIGHT = ".inflight.json"


def _run_sequential(tasks: list[Task], emit: Callable[[Task, dict], None], progress: _Progress,
                    out: Path) -> None:
    """In this process, one task after another. The task being solved is noted in
    ``.inflight.json``: if a native crash kills the process, ``--resume`` records that task as an
    error instead of running it again."""
    marker = out / INFLIGHT
    stop = [False]

    def on_sigint(signum: int, frame: Any) -> None:
        # remember the request: some native solvers swallow the KeyboardInterrupt raised here
        stop[0] = True
        raise KeyboardInterrupt

    import signal
    import threading

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        for task in tasks:
            progress.task_started(task)
            atomic_write_text(marker, json.dumps(task.to_dict(), default=str))
            try:
                rec = run_task(task.to_dict(), observers=[_IncumbentObserver(progress, task)])
            except KeyboardInterrupt:
                stop[0] = True
                rec = error_record(task.to_dict(), "interrupted by the user")
                rec["status"] = "interrupted"
            finally:
                marker.unlink(missing_ok=True)
            if stop[0] and rec.get("status") not in ("optimal", "infeasible", "unbounded"):
                rec["status"] = "interrupted"
                rec["error"] = "interrupted by the user"
            emit(task, rec)
            if stop[0] or rec.get("status") == "interrupted":
                raise KeyboardInterrupt
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _spawn_pool(workers: int):
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                               max_tasks_per_child=1)


def _kill_pool(pool: Any) -> None:
    procs = list(getattr(pool, "_processes", {}) .values()) if getattr(pool, "_processes", None) else []
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        try:
            if p.is_alive():
                p.terminate()
        except Exception:  # pragma: no cover
            pass
    for p in procs:
        try:
            p.join(timeout=5)
        except Exception:  # pragma: no cover
            pass


def _collect(fut: Future, task: Task, emit: Callable[[Task, dict], None],
             suspects: list[Task]) -> bool:
    """Emit a finished future's record; a task whose pool broke becomes a suspect (to be retried
    alone) unless it already ran alone. Returns True when the pool is broken."""
    try:
        rec = fut.result()
    except BrokenProcessPool:
        if getattr(fut, "alone", False):
            emit(task, error_record(task.to_dict(), "the worker process died while solving this "
                                    "task (crash or out of memory)"))
        else:
            suspects.append(task)
        return True
    except Exception as exc:  # e.g. a result that cannot be pickled
        rec = error_record(task.to_dict(), f"{type(exc).__name__}: {exc}")
    emit(task, rec)
    return False


def _run_pool(tasks: list[Task], workers: int, emit: Callable[[Task, dict], None],
              progress: _Progress) -> None:
    """Process pool; at most ``workers`` tasks in flight. When a worker process dies, every task in
    flight fails with BrokenProcessPool; each of them is then retried alone in a fresh pool, and
    one that breaks its pool when alone gets an error line."""
    queue = list(tasks)
    suspects: list[Task] = []
    relay = _IncumbentRelay(progress)
    pool = _spawn_pool(workers)
    inflight: dict[Future, Task] = {}
    try:
        while queue or suspects or inflight:
            # suspects run one at a time, alone
            limit = 1 if suspects else workers
            while len(inflight) < limit and (suspects or queue):
                if suspects:
                    if inflight:
                        break
                    task = suspects.pop(0)
                    alone = True
                else:
                    task = queue.pop(0)
                    alone = False
                observers = [relay.observer(task)]
                try:
                    fut = pool.submit(run_task, task.to_dict(), observers)
                except BrokenProcessPool:
                    _kill_pool(pool)
                    pool = _spawn_pool(workers)
                    fut = pool.submit(run_task, task.to_dict(), observers)
                fut.alone = alone  # type: ignore[attr-defined]
                inflight[fut] = task
                progress.task_started(task)
            done, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
            broken = False
            for fut in done:
                broken |= _collect(fut, inflight.pop(fut), emit, suspects)
            if broken:
                # the remaining in-flight futures are broken too: collect them as suspects
                for fut, task in list(inflight.items()):
                    _collect(fut, task, emit, suspects)
                inflight.clear()
                _kill_pool(pool)
                pool = _spawn_pool(workers)
    except BaseException:
        _kill_pool(pool)
        raise
    else:
        pool.shutdown(wait=True)
    finally:
        relay.close()


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
              emit: Callable[[Task, dict], None], progress: _Progress) -> None:
    client, cluster = _dask_client(address, workers)
    try:
        ex = client.get_executor(pure=False)
        futs: dict[Future, Task] = {}
        for task in tasks:
            futs[ex.submit(run_task, task.to_dict())] = task
            progress.task_started(task)
        pending = set(futs)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                task = futs[fut]
                try:
                    rec = fut.result()
                except Exception as exc:  # KilledWorker and friends
                    rec = error_record(task.to_dict(), f"dask: {type(exc).__name__}: {exc}")
                emit(task, rec)
    finally:
        try:
            client.close()
        finally:
            if cluster is not None:
                cluster.close()


# ---------------------------------------------------------------------- the run
def _crashed_task(out: Path, resume: bool) -> tuple[str, str, int] | None:
    marker = out / INFLIGHT
    if not marker.exists():
        return None
    try:
        d = json.loads(marker.read_text(encoding="utf-8"))
        key = (d["instance"], d["solver"], d["seed"])
    except (OSError, ValueError, KeyError, TypeError):
        key = None
    marker.unlink(missing_ok=True)
    return key if resume else None


def run_config(cfg: RunConfig, out_dir: str | Path | None = None, *, resume: bool = False,
               executor: str | None = None, address: str | None = None, workers: int | None = None,
               progress: _Progress | None = None, plots: bool | None = None) -> RunSummary:
    """Run every task of ``cfg`` into ``out_dir`` and write summary.csv and plots.

    ``executor``/``address``/``workers`` override the config's ``[executor]``. A run folder that
    already has results is refused unless ``resume`` is set. Ctrl-C stops the run: lines written so
    far stay valid, and the summary is written; then KeyboardInterrupt propagates.
    """
    ex = cfg.executor.model_copy(update={k: v for k, v in (("kind", executor), ("address", address),
                                                              ("workers", workers)) if v is not None})
    if ex.kind not in ("local", "dask"):
        raise BadInputError(f"executor must be 'local' or 'dask', got {ex.kind!r}")
    if ex.workers < 1:
        raise BadInputError(f"workers must be at least 1, got {ex.workers}")
    cfg = cfg.model_copy(update={"executor": ex})
    out = Path(out_dir) if out_dir is not None else (Path(cfg.output.dir) if cfg.output.dir
                                                      else default_out_dir(cfg))
    progress = progress or _Progress()
    results_path = out / RESULTS
    if out.exists() and not out.is_dir():
        raise BadInputError(f"{out}: exists and is not a folder")
    previous: list[dict[str, Any]] = []
    if results_path.exists() and results_path.stat().st_size > 0:
        if not resume:
            raise BadInputError(f"{out}: already holds results; use --resume to continue that run "
                                f"or choose another --out")
        previous = read_results(results_path, repair=True)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / CONFIG, config_to_toml(cfg))

    done_keys = {(r.get("instance"), r.get("solver"), r.get("seed")) for r in previous
                 if r.get("status") not in RERUN_STATUSES}
    all_tasks = make_tasks(cfg)
    crashed = _crashed_task(out, resume)
    todo = [t for t in all_tasks if t.key not in done_keys]
    summary = RunSummary(out, len(all_tasks), len(all_tasks) - len(todo), 0, 0)
    new_records: list[dict[str, Any]] = []

    writer = ResultWriter(results_path)

    def emit(task: Task, rec: dict[str, Any]) -> None:
        rec = _sanitize(rec)
        writer.write(rec)
        new_records.append(rec)
        summary.finished += 1
        if rec.get("status") == "error":
            summary.errors += 1
        progress.task_done(task, rec)

    kind = "dask" if ex.kind == "dask" else ("sequential" if ex.workers == 1 else
                                             f"process pool ({ex.workers} workers)")
    progress.start(len(all_tasks), summary.skipped, kind)
    try:
        if crashed is not None:
            hit = [t for t in todo if t.key == crashed]
            if hit:
                emit(hit[0], error_record(hit[0].to_dict(), "the process died while solving this "
                                          "task in an earlier run (native crash or out of memory)"))
                todo = [t for t in todo if t.key != crashed]
        if todo:
            if ex.kind == "dask":
                _run_dask(todo, ex.address, ex.workers, emit, progress)
            elif ex.workers == 1:
                _run_sequential(todo, emit, progress, out)
            else:
                _run_pool(todo, min(ex.workers, len(todo)), emit, progress)
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
        raise KeyboardInterrupt
    return summary
