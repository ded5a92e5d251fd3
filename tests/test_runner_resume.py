"""A run killed with SIGKILL, then ``--resume``: nothing recorded is lost, nothing is run twice,
every task ends with exactly one line. Also the pieces a reviewer reproduces from (resolved
options, versions, host, CPU per line; environment.json once per folder) and solver grids.

The ``nap`` test solver (an entry point on sys.path / PYTHONPATH, so that pool workers, dask
workers and CLI subprocesses see it) sleeps ``sleep`` seconds, returns objective 10 + seed, and
notes each attempt (its pid) in ``$NAP_DIR/<seed>-<sleep>``. The dask tests import it from here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from solverhub.core.config import parse_config
from solverhub.core.errors import BadInputError
from solverhub.core.manager import reset_plugin_manager
from solverhub.core.runner import RESULTS, run_config
from solverhub.core.runfolder import ENVIRONMENT, read_results

GEN = "generate:set_cover?rows=30&cols=60&density=0.1&seed=1"

NAP_PLUGIN = '''
import os
import time

from pydantic import BaseModel, ConfigDict

from solverhub import SolverSpec, hookimpl
from solverhub.core.interrupt import stop_requested
from solverhub.core.result import Result, Status


class NapOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sleep: float = 0.05
    label: str = "a"


class _Nap:
    def __init__(self, sleep, label):
        self.sleep = sleep

    def solve(self, problem, *, time_limit=None, seed=0, notifier=None):
        d = os.environ.get("NAP_DIR")
        if d:
            with open(os.path.join(d, f"{seed}-{self.sleep:g}"), "a") as fh:
                fh.write(f"{os.getpid()}\\n")
        notifier.incumbent(0.001, 100.0 + seed)
        end = time.monotonic() + self.sleep
        while time.monotonic() < end and not stop_requested():
            time.sleep(min(0.01, self.sleep))
        notifier.incumbent(min(self.sleep, 0.002), 10.0 + seed)
        return Result(Status.FEASIBLE, objective=10.0 + seed, iterations=1)


@hookimpl
def solverhub_solvers():
    return [SolverSpec("nap", "mip", lambda sleep, label: _Nap(sleep, label), NapOptions,
                       deterministic=True)]
'''


def make_nap_dist(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "napplug.py").write_text(NAP_PLUGIN)
    info = root / "napplug-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: napplug\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[solverhub]\nnapplug = napplug\n")
    return root


@pytest.fixture
def nap(tmp_path, monkeypatch):
    """The nap plugin here, in spawned workers (sys.path) and in subprocesses (PYTHONPATH);
    yields the notes folder."""
    root = make_nap_dist(tmp_path / "plug")
    notes = tmp_path / "notes"
    notes.mkdir()
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(root),
                                                                   os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("NAP_DIR", str(notes))
    monkeypatch.delenv("SOLVERHUB_DISABLE_PLUGINS", raising=False)
    reset_plugin_manager()
    yield notes
    monkeypatch.undo()
    sys.modules.pop("napplug", None)
    reset_plugin_manager()


def nap_config(path: Path, *, seeds: int, sleep: float, workers: int = 2, executor: str = "local",
               address: str | None = None, extra: str = "") -> Path:
    text = (f'name = "nap"\ninstances = ["{GEN}"]\nseeds = {seeds}\ntime_limit = 60\n'
            f'[solvers.nap]\nkind = "nap"\n[solvers.nap.options]\nsleep = {sleep}\n'
            f'[executor]\nkind = "{executor}"\nworkers = {workers}\n'
            + (f'address = "{address}"\n' if address else "") + extra)
    path.write_text(text)
    return path


def keys(out: Path) -> list[tuple]:
    return [(r["instance"], r["solver"], r["seed"]) for r in read_results(out / RESULTS)]


def kill_runner_then_resume(cfg: Path, out: Path, total: int, *, at_least: int = 2,
                            env: dict | None = None) -> subprocess.CompletedProcess:
    """Start ``solverhub run cfg``, SIGKILL it once ``at_least`` lines are written (others are in
    flight), resume, and return the resume's result."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.Popen([sys.executable, "-m", "solverhub.core.cli", "run", str(cfg), "--out",
                             str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=full_env, start_new_session=True)
    try:
        end = time.monotonic() + 120
        while not ((out / RESULTS).exists() and len(read_results(out / RESULTS)) >= at_least):
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < end, "timed out waiting for the first results"
            time.sleep(0.05)
    finally:
        proc.kill()  # SIGKILL: no cleanup at all
        proc.communicate(timeout=30)
    before = keys(out)
    assert at_least <= len(before) < total  # killed mid-run
    r = subprocess.run([sys.executable, "-m", "solverhub.core.cli", "run", "--out", str(out),
                        "--resume"], capture_output=True, text=True, env=full_env, timeout=300)
    assert r.returncode == 0, r.stderr
    after = keys(out)
    assert after[: len(before)] == before  # nothing recorded was lost or rewritten
    return r


def test_pool_runner_sigkill_then_resume_is_complete(tmp_path, nap):
    cfg = nap_config(tmp_path / "c.toml", seeds=8, sleep=0.4)
    out = tmp_path / "run"
    kill_runner_then_resume(cfg, out, 8)
    got = keys(out)
    assert sorted(got) == sorted({(GEN, "nap", s) for s in range(8)})  # each exactly once
    assert len(got) == len(set(got)) == 8
    recs = read_results(out / RESULTS)
    assert all(r["status"] == "feasible" and r["objective"] == 10.0 + r["seed"] for r in recs)
    # the killed run's pool workers exited with their parent (none left solving)
    time.sleep(1.5)
    pids = {int(p) for f in nap.iterdir() for p in f.read_text().split()}
    alive = [p for p in pids if Path(f"/proc/{p}").exists()]
    assert not alive, f"orphaned workers {alive}"


# ---------------------------------------------------------------------- reproducibility
def test_records_carry_what_a_reviewer_needs(tmp_path, nap):
    import platform
    import socket

    cfg = parse_config({"name": "t", "instances": [GEN], "time_limit": 10, "seeds": [3],
                        "solvers": {"h": {"kind": "highs", "options": {"presolve": "on"}},
                                    "n": {"kind": "nap"}},
                        "executor": {"workers": 2}})
    out = run_config(cfg, tmp_path / "run", plots=False).out_dir
    recs = {r["solver"]: r for r in read_results(out / RESULTS)}
    h = recs["h"]
    assert h["seed"] == 3 and h["options"]["presolve"] == "on"
    assert "rel_gap" in h["options"]  # resolved: defaults filled in (under the one name)
    assert recs["n"]["options"] == {"sleep": 0.05, "label": "a"}
    for r in recs.values():
        assert r["python"] == platform.python_version() and r["host"] == socket.gethostname()
        assert r["cpu"] and r["versions"]["solverhub"]
    assert "highspy" in h["versions"] and h["plugin"]["name"]
    assert recs["n"]["plugin"] == {"name": "napplug", "version": "0.1"}
    env = json.loads((out / ENVIRONMENT).read_text())
    assert env["python"] == platform.python_version()
    assert env["distributions"]["pydantic"] and env["cpu"] == h["cpu"]
    # written once: a resume keeps it
    (out / ENVIRONMENT).write_text('{"marker": 1}')
    run_config(cfg, out, resume=True, plots=False)
    assert json.loads((out / ENVIRONMENT).read_text()) == {"marker": 1}


# ---------------------------------------------------------------------- solver grids (sweeps)
def test_a_grid_expands_into_labelled_solvers(tmp_path, nap):
    cfg = parse_config({"name": "t", "instances": [GEN], "time_limit": 10,
                        "solvers": {"nap": {"kind": "nap", "options": {"label": "x"},
                                            "grid": {"sleep": [0.01, 0.02], "label": ["p", "q"]}},
                                    "h": {"kind": "highs"}}})
    assert list(cfg.solvers) == ["nap[sleep=0.01,label=p]", "nap[sleep=0.01,label=q]",
                                 "nap[sleep=0.02,label=p]", "nap[sleep=0.02,label=q]", "h"]
    e = cfg.solvers["nap[sleep=0.02,label=q]"]
    assert e.group == "nap" and e.options == {"label": "q", "sleep": 0.02} and not e.grid
    out = run_config(cfg, tmp_path / "run", plots=False).out_dir
    recs = read_results(out / RESULTS)
    assert len(recs) == 5
    assert {r.get("group") for r in recs} == {"nap", None}
    # config.toml keeps the expansion: resuming reads the same labelled solvers
    from solverhub.core.config import load_config

    again = load_config(out / "config.toml")
    assert list(again.solvers) == list(cfg.solvers) and again.solvers["h"].group is None
    assert run_config(again, out, resume=True, plots=False).finished == 0


@pytest.mark.parametrize("grid, msg", [({"sleep": []}, "needs at least one value"),
                                       ({"sleep": [1, 1]}, "listed twice"),
                                       ({"sleep": ["slow"]}, r"solvers.nap.grid \(nap\[sleep=slow\]\): .*sleep"),
                                       ({"nope": [1]}, r"solvers.nap.grid .*nope")])
def test_a_bad_grid_names_the_culprit(nap, grid, msg):
    with pytest.raises(BadInputError, match=msg):
        parse_config({"instances": [GEN], "solvers": {"nap": {"kind": "nap", "grid": grid}}})


def test_grid_labels_may_not_collide(nap):
    with pytest.raises(BadInputError, match="taken by another solver section"):
        parse_config({"instances": [GEN], "solvers": {
            "nap": {"kind": "nap", "grid": {"sleep": [1]}}, "nap[sleep=1]": {"kind": "nap"}}})



# ---------------------------------------------------------------------- pool workers
def test_pool_workers_are_reused_then_replaced(tmp_path, nap):
    cfg = parse_config({"name": "t", "instances": [GEN], "time_limit": 10, "seeds": 7,
                        "solvers": {"nap": {"kind": "nap", "options": {"sleep": 0.01}}},
                        "executor": {"workers": 2, "max_tasks_per_worker": 3}})
    out = run_config(cfg, tmp_path / "run", plots=False).out_dir
    recs = read_results(out / RESULTS)
    assert sorted(r["seed"] for r in recs) == list(range(7))
    per_pid: dict[int, int] = {}
    for r in recs:
        per_pid[r["pid"]] = per_pid.get(r["pid"], 0) + 1
    assert max(per_pid.values()) <= 3 and len(per_pid) >= 3  # reused, then replaced
    assert any(n > 1 for n in per_pid.values())
    assert os.getpid() not in per_pid


FORK_CHECK = r'''
import json, os, sys, threading, time
from solverhub.core.config import parse_config
from solverhub.core.errors import BadInputError
from solverhub.core.runfolder import RESULTS, ResultWriter, read_results
import solverhub.core.runner as runner
import solverhub.core.runner.pool as pool

out = {}
methods = []
start_worker = pool._start_worker
pool._start_worker = lambda workers: methods.append(pool._pool_start_method()) or start_worker(workers)
cfg = parse_config({"name": "t", "instances": [sys.argv[2]], "time_limit": 10, "seeds": 6,
                    "solvers": {"nap": {"kind": "nap", "options": {"sleep": 0.01}}},
                    "executor": {"workers": 2}})
runner.run_config(cfg, sys.argv[1], plots=False)
out["methods"] = methods
out["records"] = [(r["seed"], r["status"], r["pid"]) for r in read_results(os.path.join(sys.argv[1], RESULTS))]
out["runner"] = os.getpid()

# a forked child drops its copy of the results file: the runner's close releases the lock
path = os.path.join(sys.argv[1], "lock.jsonl")
w = ResultWriter(path, exclusive=True)
assert w.lock()
ready_r, ready_w = os.pipe()
child = os.fork()
if child == 0:  # past the at-fork handlers here
    os.write(ready_w, b"x")
    time.sleep(30)
    os._exit(0)
os.read(ready_r, 1)
w.close()
again = ResultWriter(path)
out["lock_after_close"] = again.lock()
again.close()
os.kill(child, 9)
os.waitpid(child, 0)

os.environ["SOLVERHUB_POOL_START"] = "spawn"
out["forced"] = pool._pool_start_method()
os.environ["SOLVERHUB_POOL_START"] = "forkk"
try:
    pool._pool_start_method()
except BadInputError as exc:
    out["bad"] = str(exc)
del os.environ["SOLVERHUB_POOL_START"]
stop = threading.Event()
t = threading.Thread(target=stop.wait)
t.start()
out["with_thread"] = pool._pool_start_method()
stop.set()
t.join()
out["after_thread"] = pool._pool_start_method()
import highspy  # noqa: F401  (a solver library with a process-global thread pool)
out["with_highspy"] = pool._pool_start_method()
print(json.dumps(out))
'''


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers are forked on Linux only")
def test_pool_workers_are_forked_only_where_that_is_safe(tmp_path, nap):
    """In a fresh runner process (no solver library loaded, no other thread) the pool's workers are
    forked: complete results, solved in the workers; a forked child does not keep the run folder
    locked. A thread, a solver library with native threads (highspy) or SOLVERHUB_POOL_START=spawn
    make them spawned; a bad value of that variable is named."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    env.pop("SOLVERHUB_POOL_START", None)
    r = subprocess.run([sys.executable, "-c", FORK_CHECK, str(tmp_path / "run"), GEN],
                       check=False, capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["methods"] == ["fork", "fork"]
    assert sorted(seed for seed, _, _ in out["records"]) == list(range(6))
    assert {status for _, status, _ in out["records"]} == {"feasible"}
    pids = {pid for _, _, pid in out["records"]}
    assert len(pids) == 2 and out["runner"] not in pids
    assert out["lock_after_close"] is True
    assert out["forced"] == "spawn" and "SOLVERHUB_POOL_START" in out["bad"]
    assert "forkk" in out["bad"]
    assert (out["with_thread"], out["after_thread"], out["with_highspy"]) == \
        ("spawn", "fork", "spawn")


@pytest.mark.parametrize("key, bad, msg", [("max_tasks_per_worker", 0, "greater than or equal to 1"),
                                           ("connect_timeout", "5", "number of seconds"),
                                           ("connect_timeout", 0, "greater than 0"),
                                           ("host", "", "at least 1 character")])
def test_executor_keys_are_validated(key, bad, msg):
    with pytest.raises(BadInputError, match=rf"executor\.{key}: .*{msg}"):
        parse_config({"instances": [GEN], "solvers": {"h": {"kind": "highs"}},
                      "executor": {key: bad}}, check_solvers=False)


def test_a_worker_message_batch_is_read_in_order():
    """A result and the "ready" of the task sent ahead can arrive in one batch: the ready belongs
    to the second task (its watchdog clock and its 'running' display), not to the first."""
    from solverhub.core.runner import Task
    from solverhub.core.runner.pool import _Worker

    class Pipe:
        def __init__(self, msgs):
            self.msgs, self.sent = list(msgs), []

        def poll(self):
            return bool(self.msgs)

        def recv(self):
            return self.msgs.pop(0)

        def send(self, obj):
            self.sent.append(obj)

    class Progress:
        def __init__(self):
            self.started = []

        def task_started(self, task):
            self.started.append(task.seed)

        def incumbent(self, *a):
            pass

    t1, t2 = (Task(GEN, "nap", "nap", seed, 10.0) for seed in (1, 2))
    pipe = Pipe([("ready",), ("result", {"seed": 1}), ("ready",)])
    w = _Worker(proc=None, conn=pipe, spawned=0.0)
    w.assign(t1, 1)
    w.assign(t2, 1)
    prog = Progress()
    w.drain(prog)
    assert prog.started == [1, 2]
    assert w.results == [(t1, {"seed": 1})] and w.task is t2 and w.ready_at is not None
