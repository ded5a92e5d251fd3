"""The runner's faults, as a user meets them: a run killed with SIGKILL and resumed, a solver that
crashes its process, a task that hangs in a pool, two runs of one config at once, resuming a folder
that does not exist, ``[output] dir`` relative to the config, and Ctrl-C in pool, sequential and
dask mode. Test solvers come from a third-party plugin (an entry point on sys.path / PYTHONPATH), so that
spawned pool workers and CLI subprocesses find them too."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from solverhub.core.config import parse_config
from solverhub.core.errors import BadInputError
from solverhub.core.manager import reset_plugin_manager
from solverhub.core.runner import INFLIGHT, RESULTS, ResultWriter, read_results, run_config

GEN = "generate:set_cover?rows=30&cols=60&density=0.1&seed=1"

FAULT_PLUGIN = '''
import os
import signal
import time

from solverhub import SolverSpec, hookimpl
from solverhub.core.interrupt import stop_requested
from solverhub.core.result import Result, Status


def _note(what, seed):
    d = os.environ.get("FAULT_DIR")
    if d:
        with open(os.path.join(d, f"{what}-{seed}"), "a") as fh:
            fh.write(f"{os.getpid()}\\n")


class _Solver:
    def __init__(self, how):
        self.how = how

    def solve(self, problem, *, time_limit=None, seed=0, notifier=None):
        _note(self.how, seed)
        if self.how == "segv":
            os.kill(os.getpid(), signal.SIGSEGV)  # a crash in native code
        if self.how == "hang":  # stuck in native code: ignores the time limit and stop requests
            end = time.monotonic() + float(os.environ.get("FAULT_HANG", "1e9"))
            while time.monotonic() < end:
                time.sleep(0.05)
            return Result(Status.FEASIBLE, objective=7.0)
        # sleepy: an incumbent at once, then waits for FAULT_SLEEP s or a stop request
        notifier.incumbent(0.01, 42.0)
        end = time.monotonic() + float(os.environ.get("FAULT_SLEEP", "0.2"))
        while time.monotonic() < end:
            if stop_requested():
                return Result(Status.INTERRUPTED, objective=42.0)
            time.sleep(0.02)
        return Result(Status.FEASIBLE, objective=42.0)


@hookimpl
def solverhub_solvers():
    return [SolverSpec(f"fault-{how}", "mip", lambda how=how: _Solver(how))
            for how in ("sleepy", "hang", "segv")]
'''


def _make_dist(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "faultplug.py").write_text(FAULT_PLUGIN)
    info = root / "faultplug-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: faultplug\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[solverhub]\nfaultplug = faultplug\n")
    return root


@pytest.fixture
def plug(tmp_path, monkeypatch):
    """The fault plugin visible here, in spawned workers (sys.path) and in CLI subprocesses
    (PYTHONPATH); FAULT_DIR collects the solvers' notes (one pid per line, per attempt)."""
    root = _make_dist(tmp_path / "plug")
    notes = tmp_path / "notes"
    notes.mkdir()
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(root),
                                                                   os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("FAULT_DIR", str(notes))
    monkeypatch.delenv("SOLVERHUB_DISABLE_PLUGINS", raising=False)
    reset_plugin_manager()
    yield notes
    monkeypatch.undo()
    sys.modules.pop("faultplug", None)
    reset_plugin_manager()


def write_cfg(path: Path, solvers: list[str], *, seeds=(0,), time_limit: float = 60,
              workers: int = 1, extra: str = "") -> Path:
    """A config; each solver label is its kind, e.g. "fault-sleepy" or "highs"."""
    text = (f'name = "t"\ninstances = ["{GEN}"]\nseeds = {list(seeds)}\ntime_limit = {time_limit}\n'
            + "".join(f'[solvers."{s}"]\nkind = "{s}"\n' for s in solvers)
            + f"[executor]\nworkers = {workers}\n" + extra)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def cli(*args: str, cwd: Path | None = None, env: dict | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "solverhub.core.cli", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd, env={**os.environ, **(env or {})})


def popen(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.Popen:
    # a session of its own, as a terminal's job: os.killpg reaches the runner like a Ctrl-C
    return subprocess.Popen([sys.executable, "-m", "solverhub.core.cli", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd,
                            env={**os.environ, **(env or {})}, start_new_session=True)


def wait_for(cond, what: str, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def lines(out: Path) -> list[dict]:
    return [json.loads(s) for s in (out / RESULTS).read_text().splitlines()]


def attempts(notes: Path, name: str) -> list[int]:
    p = notes / name
    return [int(x) for x in p.read_text().split()] if p.exists() else []


# ---------------------------------------------------------------------- (1) killed runs, crashes
def test_sigkill_of_a_sequential_run_then_resume_runs_the_inflight_task(tmp_path, plug):
    cfg = write_cfg(tmp_path / "c.toml", ["fault-sleepy"])
    out = tmp_path / "run"
    proc = popen("run", str(cfg), "--out", str(out), env={"FAULT_SLEEP": "60"})
    try:
        wait_for(lambda: (plug / "sleepy-0").exists(), "the task to start")
    finally:
        proc.kill()
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    assert (out / RESULTS).read_text() == ""  # the task has no line: not done
    r = cli("run", "--out", str(out), "--resume", env={"FAULT_SLEEP": "0.1"})
    assert r.returncode == 0, r.stderr
    recs = lines(out)
    assert [rec["status"] for rec in recs] == ["feasible"] and recs[0]["objective"] == 42.0
    assert len(attempts(plug, "sleepy-0")) == 2
    assert not (out / INFLIGHT).exists()


def test_sequential_crash_is_run_once_more_on_resume_then_recorded(tmp_path, plug):
    cfg = write_cfg(tmp_path / "c.toml", ["fault-segv", "highs"])
    out = tmp_path / "run"
    for resume in ([], ["--resume"]):  # the first run and the one retry both die
        r = cli("run", str(cfg), "--out", str(out), *resume)
        assert r.returncode == -signal.SIGSEGV, r.stderr
        assert (out / RESULTS).read_text() == ""
    assert len(attempts(plug, "segv-0")) == 2
    r = cli("run", str(cfg), "--out", str(out), "--resume")
    assert r.returncode == 1, r.stderr  # some task ended with an error
    recs = {rec["solver"]: rec for rec in lines(out)}
    assert recs["highs"]["status"] == "optimal"
    assert recs["fault-segv"]["status"] == "error"
    assert "died 2 times" in recs["fault-segv"]["error"]
    assert len(attempts(plug, "segv-0")) == 2  # not run a third time
    assert "Traceback" not in r.stderr


def test_pool_crash_is_retried_once_in_a_fresh_process(tmp_path, plug):
    cfg = parse_config({"name": "t", "instances": [GEN], "time_limit": 30,
                        "solvers": {"segv": {"kind": "fault-segv"}, "highs": {"kind": "highs"}},
                        "executor": {"workers": 2}})
    summary = run_config(cfg, tmp_path / "run", plots=False)
    recs = {rec["solver"]: rec for rec in lines(tmp_path / "run")}
    assert summary.errors == 1 and recs["highs"]["status"] == "optimal", recs
    err = recs["segv"]["error"]
    assert recs["segv"]["status"] == "error" and "SIGSEGV" in err and "2 times" in err
    pids = attempts(plug, "segv-0")
    assert len(pids) == 2 and len(set(pids)) == 2 and os.getpid() not in pids


# ---------------------------------------------------------------------- (2) the hang watchdog
def test_a_hung_pool_task_is_killed_and_recorded(tmp_path, plug):
    cfg = parse_config({"name": "t", "instances": [GEN], "time_limit": 1, "seeds": [0],
                        "solvers": {"hang": {"kind": "fault-hang"}, "highs": {"kind": "highs"},
                                    "sleepy": {"kind": "fault-sleepy"}},
                        "executor": {"workers": 2, "task_grace": 1}})
    summary = run_config(cfg, tmp_path / "run", plots=False)
    recs = {rec["solver"]: rec for rec in lines(tmp_path / "run")}
    assert len(recs) == 3 and summary.errors == 1
    assert recs["highs"]["status"] == "optimal" and recs["sleepy"]["status"] == "feasible"
    hang = recs["hang"]
    assert hang["status"] == "error" and hang["objective"] is None
    assert "no result after" in hang["error"] and "time limit 1 s + grace 1 s" in hang["error"]
    assert "worker killed" in hang["error"]
    (pid,) = attempts(plug, "hang-0")  # killed, not retried
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.parametrize("bad", [-1, "2", True, float("inf")])
def test_task_grace_is_validated(bad):
    with pytest.raises(BadInputError, match="executor.task_grace"):
        parse_config({"instances": [GEN], "solvers": {"h": {"kind": "highs"}},
                      "executor": {"task_grace": bad}}, check_solvers=False)


# ---------------------------------------------------------------------- (3) run folders
def test_two_runs_of_one_config_at_once_get_two_folders(tmp_path):
    cfg = write_cfg(tmp_path / "c.toml", ["highs"])
    procs = [popen("run", str(cfg), cwd=tmp_path) for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    folders = sorted((tmp_path / "runs").iterdir())
    assert len(folders) == 2
    for f in folders:
        assert len(lines(f)) == 1


def test_a_taken_default_folder_gets_a_suffix(tmp_path, monkeypatch):
    import solverhub.core.runner as runner

    monkeypatch.setattr(runner, "default_out_dir", lambda cfg: tmp_path / "runs" / "t-stamp")
    (tmp_path / "runs" / "t-stamp").mkdir(parents=True)  # another run created it a moment ago
    cfg = parse_config({"name": "t", "instances": [GEN], "time_limit": 10,
                        "solvers": {"highs": {"kind": "highs"}}})
    a = run_config(cfg, plots=False).out_dir
    b = run_config(cfg, plots=False).out_dir
    assert (a.name, b.name) == ("t-stamp-2", "t-stamp-3")
    assert len(lines(a)) == 1 and len(lines(b)) == 1


def test_a_folder_in_use_is_not_shared(tmp_path):
    cfg = parse_config({"name": "t", "instances": [GEN], "time_limit": 10,
                        "solvers": {"highs": {"kind": "highs"}}})
    out = tmp_path / "run"
    out.mkdir()
    holder = ResultWriter(out / RESULTS, exclusive=True)  # a run that has started, no line yet
    assert holder.lock()
    try:
        with pytest.raises(BadInputError, match="already holds a run"):
            run_config(cfg, out, plots=False)
        with pytest.raises(BadInputError, match="another solverhub run"):
            run_config(cfg, out, resume=True, plots=False)
    finally:
        holder.close()
    assert run_config(cfg, out, resume=True, plots=False).finished == 1


def test_resume_of_a_missing_folder_is_bad_input(tmp_path):
    r = cli("run", "--out", "MISSING", "--resume", cwd=tmp_path)
    assert r.returncode == 2
    assert "MISSING: nothing to resume" in r.stderr and "Traceback" not in r.stderr
    assert list(tmp_path.iterdir()) == []  # the quickstart did not run
    (tmp_path / "empty").mkdir()
    r = cli("run", "--out", "empty", "--resume", cwd=tmp_path)
    assert r.returncode == 2 and "empty: nothing to resume (no config.toml" in r.stderr


def test_output_dir_is_relative_to_the_config_file(tmp_path):
    cfg = write_cfg(tmp_path / "cfgs" / "c.toml", ["highs"], extra='[output]\ndir = "out/r1"\n')
    (tmp_path / "elsewhere").mkdir()
    r = cli("run", str(cfg), cwd=tmp_path / "elsewhere")
    assert r.returncode == 0, r.stderr
    assert len(lines(tmp_path / "cfgs" / "out" / "r1")) == 1
    assert list((tmp_path / "elsewhere").iterdir()) == []


# ---------------------------------------------------------------------- (4) Ctrl-C
def _interrupt(proc: subprocess.Popen) -> tuple[str, str]:
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal does on Ctrl-C
    try:
        return proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise AssertionError("the run did not stop within 30 s of Ctrl-C") from None


def _start_and_interrupt(cfg: Path, out: Path, notes: Path, started: list[str],
                         done: int) -> tuple[str, str]:
    """Run ``cfg`` as a terminal job; Ctrl-C once the tasks ``started`` run and ``done`` lines are
    written; returns (stdout, stderr) after checking exit 130, no traceback, one resume line."""
    proc = popen("run", str(cfg), "--out", str(out), env={"FAULT_SLEEP": "120"})
    try:
        wait_for(lambda: all((notes / n).exists() for n in started) and (out / RESULTS).exists()
                 and (out / RESULTS).read_text().count("\n") == done, "the tasks to start")
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    stdout, stderr = _interrupt(proc)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stdout + stderr
    resume_lines = [s for s in stderr.splitlines() if "--resume" in s]
    assert len(resume_lines) == 1 and f"--out {out}" in resume_lines[0]
    assert (out / "summary.csv").exists()
    return stdout, stderr


def test_ctrl_c_in_pool_mode_keeps_results_and_exits_130(tmp_path, plug):
    cfg = write_cfg(tmp_path / "c.toml", ["highs", "fault-sleepy"], seeds=(0, 1), workers=2)
    out = tmp_path / "run"
    _start_and_interrupt(cfg, out, plug, ["sleepy-0", "sleepy-1"], done=2)
    recs = lines(out)
    assert sorted((r["solver"], r["seed"], r["status"]) for r in recs) == [
        ("fault-sleepy", 0, "interrupted"), ("fault-sleepy", 1, "interrupted"),
        ("highs", 0, "optimal"), ("highs", 1, "optimal")]
    # each running solve was asked once to stop and returned its incumbent
    assert all(r["objective"] == 42.0 for r in recs if r["solver"] == "fault-sleepy")

    # resume runs the interrupted tasks again, not the finished ones; the last line counts
    r = cli("run", "--out", str(out), "--resume", env={"FAULT_SLEEP": "0.1"})
    assert r.returncode == 0, r.stderr
    recs = lines(out)
    assert len(recs) == 6 and [x["solver"] for x in recs].count("highs") == 2
    last = {(x["solver"], x["seed"]): x["status"] for x in recs}
    assert set(last.values()) == {"optimal", "feasible"}


def test_ctrl_c_reads_a_workers_pipe_before_choosing_sigint_or_kill(monkeypatch):
    """The race behind a once-flaky Ctrl-C test: a worker has started its task (its "ready" is in
    the pipe) but the runner has not read it yet. It must get SIGINT (and return its incumbent),
    not be killed as if its task had not started; a worker whose task has not started is killed."""
    from solverhub.core.runner import Task, pool
    from solverhub.core.runner.pool import _ask_to_stop, _Worker

    class Pipe:
        def __init__(self, msgs):
            self.msgs = list(msgs)

        def poll(self):
            return bool(self.msgs)

        def recv(self):
            return self.msgs.pop(0)

        def send(self, obj):
            pass

    class Proc:
        pid = -999  # never a real process: os.kill is replaced below
        killed = False

        def kill(self):
            self.killed = True

    class Progress:
        def task_started(self, task):
            pass

    signals: list[tuple[int, int]] = []
    monkeypatch.setattr(pool.os, "kill", lambda pid, sig: signals.append((pid, sig)))
    task = Task(GEN, "fault-sleepy", "fault-sleepy", 0, 60.0)
    started = _Worker(proc=Proc(), conn=Pipe([("ready",)]), spawned=0.0)
    started.assign(task, 1)
    _ask_to_stop(started, Progress())
    assert signals == [(-999, signal.SIGINT)] and not started.proc.killed
    not_started = _Worker(proc=Proc(), conn=Pipe([]), spawned=0.0)
    not_started.assign(task, 1)
    _ask_to_stop(not_started, Progress())
    assert not_started.proc.killed and len(signals) == 1


@pytest.mark.slow
def test_ctrl_c_in_dask_mode_records_the_running_tasks_and_resume_finishes(tmp_path, plug):
    """Ctrl-C in a dask run (a LocalCluster, whose workers share the terminal's process group):
    the running tasks return their incumbents, recorded as interrupted; the queued ones get no line
    and do not run; resume runs exactly the ones without a final line."""
    pytest.importorskip("distributed")
    cfg = write_cfg(tmp_path / "c.toml", ["fault-sleepy"], seeds=(0, 1, 2, 3), workers=2,
                    extra='kind = "dask"\n')
    out = tmp_path / "run"
    proc = popen("run", str(cfg), "--out", str(out), env={"FAULT_SLEEP": "120"})
    try:
        wait_for(lambda: len(list(plug.iterdir())) >= 2, "two tasks to start")
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    stdout, stderr = _interrupt(proc)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stdout + stderr
    assert sum("--resume" in s for s in stderr.splitlines()) == 1
    ran = sorted(int(p.name.split("-")[1]) for p in plug.iterdir())
    assert len(ran) == 2  # two workers: the other two tasks never started
    recs = lines(out)
    assert sorted((r["seed"], r["status"], r["objective"]) for r in recs) == [
        (seed, "interrupted", 42.0) for seed in ran]
    assert all(len(attempts(plug, f"sleepy-{seed}")) == 1 for seed in ran)

    r = cli("run", "--out", str(out), "--resume", env={"FAULT_SLEEP": "0.1"})
    assert r.returncode == 0, r.stderr
    last = {x["seed"]: x["status"] for x in lines(out)}
    assert last == {0: "feasible", 1: "feasible", 2: "feasible", 3: "feasible"}
    assert len(lines(out)) == 6  # two interrupted lines, then one final line per task
    assert all(len(attempts(plug, f"sleepy-{seed}")) == (2 if seed in ran else 1)
               for seed in range(4))


@pytest.mark.slow
def test_ctrl_c_in_pool_mode_kills_a_solver_that_does_not_stop(tmp_path, plug):
    cfg = write_cfg(tmp_path / "c.toml", ["highs", "fault-sleepy", "fault-hang"], workers=3)
    out = tmp_path / "run"
    t0 = time.monotonic()
    _start_and_interrupt(cfg, out, plug, ["sleepy-0", "hang-0"], done=1)
    assert time.monotonic() - t0 < 60
    recs = {rec["solver"]: rec for rec in lines(out)}
    assert recs["highs"]["status"] == "optimal"
    assert recs["fault-sleepy"]["status"] == "interrupted"
    assert "fault-hang" not in recs  # killed without a result: not done
    (pid,) = attempts(plug, "hang-0")
    wait_for(lambda: not Path(f"/proc/{pid}").exists(), "the hung worker to be gone", timeout=5)
    r = cli("run", "--out", str(out), "--resume", env={"FAULT_SLEEP": "0.1", "FAULT_HANG": "0"})
    assert r.returncode == 0, r.stderr
    last = {rec["solver"]: rec["status"] for rec in lines(out)}
    assert last == {"highs": "optimal", "fault-sleepy": "feasible", "fault-hang": "feasible"}
    assert len(read_results(out / RESULTS)) == 4


def test_ctrl_c_in_sequential_mode_keeps_the_incumbent_and_exits_130(tmp_path, plug):
    cfg = write_cfg(tmp_path / "c.toml", ["fault-sleepy", "highs"])
    out = tmp_path / "run"
    proc = popen("run", str(cfg), "--out", str(out), env={"FAULT_SLEEP": "120"})
    try:
        wait_for(lambda: (plug / "sleepy-0").exists(), "the task to start")
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    stdout, stderr = _interrupt(proc)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stdout + stderr
    assert sum("--resume" in s for s in stderr.splitlines()) == 1
    recs = lines(out)
    assert [(r["solver"], r["status"], r["objective"]) for r in recs] == \
        [("fault-sleepy", "interrupted", 42.0)]  # highs was not started
    assert not (out / INFLIGHT).exists()


@pytest.mark.slow
def test_a_hung_dask_task_is_recorded_and_the_run_goes_on(tmp_path, plug):
    pytest.importorskip("distributed")
    cfg = parse_config({"name": "t", "instances": [GEN], "time_limit": 1, "seeds": [0],
                        "solvers": {"hang": {"kind": "fault-hang"}, "highs": {"kind": "highs"}},
                        "executor": {"kind": "dask", "workers": 2, "task_grace": 2}})
    summary = run_config(cfg, tmp_path / "run", plots=False)
    recs = {rec["solver"]: rec for rec in lines(tmp_path / "run")}
    assert summary.errors == 1 and recs["highs"]["status"] == "optimal", recs
    hang = recs["hang"]
    assert hang["status"] == "error" and "(time limit 1 s + grace 2 s)" in hang["error"]
