"""The runner's overhead: N tasks of about D seconds each on W workers, through the local process
pool and through Dask (a LocalCluster), against the ideal wall time (the sum of the task times
divided by W).

    python benchmarks/bench_runner_overhead.py                      # 200 tasks x 50 ms, 2 workers
    python benchmarks/bench_runner_overhead.py --tasks 200 --task-ms 50 --workers 2 --repeat 3

Each task runs a test solver (a plugin written to a temporary folder and put on PYTHONPATH, as a
third-party plugin would be) that keeps one core busy for D seconds; its time is the runtime it
reports. The wall time is that of ``run_config`` as a whole: creating the run folder, starting the
workers (spawned processes importing solverhub, or the LocalCluster), every task, writing
results.jsonl line by line, and summary.csv (plots off). Overhead = wall / ideal - 1; targets:
15 % for the local pool, 30 % for Dask. The best of ``--repeat`` runs is reported (this machine is
shared: the best run is the one least disturbed by other work).

Where the local pool's time goes, in CPU seconds (less disturbed by other work than wall time):

    python benchmarks/bench_runner_overhead.py --account --tasks 200 --workers 2 --repeat 3

runs the pool with tasks of 0 ms: 2 tasks (the workers' start-up) and ``--tasks`` tasks (plus the
per-task cost in the workers and in the runner), and prints the CPU seconds of the runner and of
its workers. ``SOLVERHUB_POOL_START=spawn`` measures spawned workers instead of forked ones.

Before and after a change, side by side in one script run (the load of a shared machine then
weighs on both alike):

    git archive main | tar -x -C /tmp/before   # the code before the change
    python benchmarks/bench_runner_overhead.py --compare-tree /tmp/before --repeat 3

runs each executor's tasks alternately with the solverhub of ``/tmp/before`` and with this tree's
(each run in a fresh interpreter, ``PYTHONPATH`` pointing at the tree), best of ``--repeat`` each.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

PLUGIN = '''
import time

from pydantic import BaseModel, ConfigDict

from solverhub import SolverSpec, hookimpl
from solverhub.core.result import Result, Status


class SpinOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float = 0.05


class _Spin:
    def __init__(self, seconds):
        self.seconds = seconds

    def solve(self, problem, *, time_limit=None, seed=0, notifier=None):
        t0 = time.perf_counter()
        end = t0 + self.seconds
        x = 0
        while time.perf_counter() < end:  # busy: a CPU-bound task, like a solver
            x += 1
        return Result(Status.FEASIBLE, objective=float(seed), runtime=time.perf_counter() - t0)


@hookimpl
def solverhub_solvers():
    return [SolverSpec("bench-spin", "mip", lambda seconds: _Spin(seconds), SpinOptions)]
'''

INSTANCE = "generate:set_cover?rows=10&cols=20&density=0.2&seed=1"


def install_plugin(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "benchspin.py").write_text(PLUGIN)
    info = root / "benchspin-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: benchspin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[solverhub]\nbenchspin = benchspin\n")
    sys.path.insert(0, str(root))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root),
                                                             os.environ.get("PYTHONPATH")]))


def one_run(kind: str, tasks: int, seconds: float, workers: int, out: Path) -> dict[str, float]:
    """``kind``: ``local`` (the process pool), ``dask`` (a LocalCluster that run_config starts and
    stops: included in the wall time) or ``dask-cluster`` (a cluster already running, as on a real
    cluster: a LocalCluster started before the clock and passed by address)."""
    from solverhub.core.config import parse_config
    from solverhub.core.runfolder import RESULTS, read_results
    from solverhub.core.runner import run_config

    executor: dict = {"kind": "local" if kind == "local" else "dask", "workers": workers}
    cluster = None
    if kind == "dask-cluster":
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, host="127.0.0.1",
                               dashboard_address="127.0.0.1:0")
        with Client(cluster) as c:  # warm the workers: import solverhub and load the plugins
            from solverhub.core.manager import get_plugin_manager

            c.run(lambda: bool(get_plugin_manager()))
        executor["address"] = cluster.scheduler_address
    cfg = parse_config({"name": f"overhead-{kind}", "instances": [INSTANCE], "seeds": tasks,
                        "time_limit": 60,
                        "solvers": {"spin": {"kind": "bench-spin", "options": {"seconds": seconds}}},
                        "executor": executor})
    try:
        cpu0, children0 = time.process_time(), os.times()
        t0 = time.perf_counter()
        run_config(cfg, out, plots=False)
        wall = time.perf_counter() - t0
        cpu, children = time.process_time() - cpu0, os.times()
    finally:
        if cluster is not None:
            cluster.close()
    recs = read_results(out / RESULTS)
    assert len(recs) == tasks and all(r["status"] == "feasible" for r in recs), "a task failed"
    busy = sum(float(r["runtime"]) for r in recs)
    ideal = busy / workers
    # the pool's workers are joined before run_config returns: their CPU time is in os.times()
    workers_cpu = (children.children_user - children0.children_user
                   + children.children_system - children0.children_system)
    return {"wall": wall, "ideal": ideal, "overhead": wall / ideal - 1.0 if ideal > 0 else math.inf,
            "per_task_ms": 1000 * (wall - ideal) * workers / tasks, "runner_cpu": cpu,
            "workers_cpu": workers_cpu, "busy": busy}


def account(tasks: int, workers: int, repeat: int, tmp: Path) -> dict[str, float]:
    """CPU seconds of the local pool with 0 ms tasks: start-up (2 tasks) and per task (the
    difference to ``tasks`` tasks), in the workers and in the runner; the least of ``repeat``."""
    def least(n: int, key: str) -> float:
        return min(one_run("local", n, 0.0, workers, tmp / f"account-{n}-{key}-{i}")[key]
                   for i in range(repeat))

    few, many = workers, max(tasks, workers + 1)
    start_workers, all_workers = least(few, "workers_cpu"), least(many, "workers_cpu")
    start_runner, all_runner = least(few, "runner_cpu"), least(many, "runner_cpu")
    return {"worker_start_cpu_s": start_workers / workers,
            "worker_per_task_cpu_ms": 1000 * (all_workers - start_workers) / (many - few),
            "runner_fixed_cpu_s": start_runner,
            "runner_per_task_cpu_ms": 1000 * (all_runner - start_runner) / (many - few)}


def _one_in_subprocess(tree: Path, kind: str, args: argparse.Namespace, out: Path,
                       plugin: Path) -> dict[str, float]:
    """:func:`one_run` in a fresh interpreter whose solverhub is the one in ``tree``."""
    import subprocess

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin), str(tree)])}
    r = subprocess.run([sys.executable, __file__, "--one", kind, "--one-out", str(out),
                        "--tasks", str(args.tasks), "--task-ms", str(args.task_ms),
                        "--workers", str(args.workers)], env=env, cwd=str(tree),
                       capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise RuntimeError(f"{tree}: {kind} run failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def compare(args: argparse.Namespace, tmp: Path) -> int:
    """Before (``--compare-tree``) and after (this tree), alternating, best of ``--repeat``."""
    before, after = Path(args.compare_tree).resolve(), Path(__file__).resolve().parents[1]
    plugin = tmp / "plugin"
    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    table = {}
    for kind in args.executors.split(","):
        runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
        for i in range(args.repeat):
            for name, tree in (("before", before), ("after", after)):
                runs[name].append(_one_in_subprocess(tree, kind, args, tmp / f"{kind}-{name}-{i}",
                                                     plugin))
        for name in ("before", "after"):
            best = min(runs[name], key=lambda r: r["wall"])
            table[(kind, name)] = best
            print(f"{kind:12s} {name:6s} {args.tasks} tasks x {args.task_ms:g} ms on "
                  f"{args.workers} workers: wall {best['wall']:.2f} s (runs "
                  f"{[round(r['wall'], 2) for r in runs[name]]}), ideal {best['ideal']:.2f} s, "
                  f"overhead {100 * best['overhead']:.1f} % ({best['per_task_ms']:.1f} ms per "
                  f"task)", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.json:
        print(json.dumps({f"{k}/{n}": v for (k, n), v in table.items()}))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", type=int, default=200)
    ap.add_argument("--task-ms", type=float, default=50.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--executors", default="local,dask,dask-cluster")
    ap.add_argument("--json", action="store_true", help="print the results as one JSON object")
    ap.add_argument("--compare-tree", metavar="DIR", default=None,
                    help="a solverhub source tree (the code before a change): run it and this tree "
                         "alternately, side by side")
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--one-out", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--account", action="store_true",
                    help="the local pool's CPU seconds per worker start and per task (0 ms tasks)")
    args = ap.parse_args()

    if args.one:  # one run, for --compare-tree: the result as the last line
        print(json.dumps(one_run(args.one, args.tasks, args.task_ms / 1000, args.workers,
                                 Path(args.one_out))))
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="solverhub-overhead-"))
    install_plugin(tmp / "plugin")
    if args.compare_tree:
        return compare(args, tmp)
    targets = {"local": 0.15, "dask": 0.30, "dask-cluster": 0.30}
    results: dict[str, dict[str, float]] = {}
    print(f"load average before: {os.getloadavg()[0]:.2f} (this machine's other work competes "
          f"for the same {os.cpu_count()} cores)", flush=True)
    from solverhub.core.manager import get_plugin_manager
    try:
        from solverhub.core.runner.pool import _pool_start_method
    except ImportError:  # a tree from before the runner package (--compare-tree, or run from it)
        from solverhub.core.runner import _pool_start_method

    get_plugin_manager()
    # decided again at each worker's start, as here: before any dask run imports distributed
    print(f"local pool workers: {_pool_start_method()}", flush=True)
    if args.account:
        acc = account(args.tasks, args.workers, args.repeat, tmp)
        print(f"local pool, CPU (least of {args.repeat}): worker start "
              f"{acc['worker_start_cpu_s']:.3f} s each, {acc['worker_per_task_cpu_ms']:.2f} ms per "
              f"task in the workers; runner {acc['runner_fixed_cpu_s']:.3f} s fixed + "
              f"{acc['runner_per_task_cpu_ms']:.2f} ms per task", flush=True)
        if args.json:
            print(json.dumps(acc))
        return 0
    for kind in args.executors.split(","):
        runs = [one_run(kind, args.tasks, args.task_ms / 1000, args.workers, tmp / f"{kind}-{i}")
                for i in range(args.repeat)]
        best = min(runs, key=lambda r: r["wall"])
        best["runs"] = [round(r["wall"], 3) for r in runs]
        results[kind] = best
        ok = "within" if best["overhead"] <= targets.get(kind, 1.0) else "OVER"
        print(f"{kind:12s} {args.tasks} tasks x {args.task_ms:g} ms on {args.workers} workers: "
              f"wall {best['wall']:.2f} s (runs {best['runs']}), ideal {best['ideal']:.2f} s, "
              f"overhead {100 * best['overhead']:.1f} % ({best['per_task_ms']:.1f} ms per task); "
              f"target {100 * targets.get(kind, 1.0):.0f} %: {ok}", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
