"""The runner: tasks = instances x solvers x seeds through the sequential, process-pool and dask
executors into a run folder; resume; a crashing task or a dying worker still gives a line."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from solverhub.core.config import parse_config
from solverhub.core.errors import BadInputError
from solverhub.core.manager import reset_plugin_manager
from solverhub.core.runner import RESULTS, read_results, run_config

GEN1 = "generate:set_cover?rows=40&cols=80&density=0.1&seed=1"
GEN2 = "generate:set_cover?rows=40&cols=80&density=0.1&seed=2"

CRASH_PLUGIN = '''
import os
from solverhub import SolverSpec, hookimpl


class _Crash:
    def __init__(self, how):
        self.how = how

    def solve(self, problem, *, time_limit=None, seed=0, notifier=None):
        if self.how == "exit":
            os._exit(3)  # the worker process dies
        raise RuntimeError("boom from crashplug")


@hookimpl
def solverhub_solvers():
    return [SolverSpec("crash-raise", "mip", lambda: _Crash("raise")),
            SolverSpec("crash-exit", "mip", lambda: _Crash("exit"))]
'''


def make_dist(root: Path, name: str, source: str) -> Path:
    """A fake installed distribution with an entry point in group [solverhub]."""
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{name}.py").write_text(source)
    info = root / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[solverhub]\n{name} = {name}\n")
    return root


def cfg_of(instances=(GEN1,), seeds=(0,), solvers=None, workers=1, kind="local"):
    return parse_config({"name": "t", "instances": list(instances), "seeds": list(seeds),
                         "time_limit": 10,
                         "solvers": solvers or {"highs": {"kind": "highs"}},
                         "executor": {"kind": kind, "workers": workers}})


def check_folder(out: Path, n: int):
    recs = read_results(out / RESULTS)
    assert len(recs) == n
    for line in (out / RESULTS).read_text().splitlines():
        json.loads(line)  # every line is complete JSON
    assert (out / "config.toml").exists() and (out / "summary.csv").exists()
    assert (out / "primal_gap.png").exists() and (out / "objective.png").exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left
    return recs


def test_sequential(tmp_path):
    summary = run_config(cfg_of(instances=(GEN1, GEN2)), tmp_path / "run")
    recs = check_folder(tmp_path / "run", 2)
    assert summary.finished == 2 and summary.errors == 0
    assert {r["status"] for r in recs} == {"optimal"}
    assert all(r["pid"] == os.getpid() for r in recs)
    assert {r["instance"] for r in recs} == {GEN1, GEN2}
    header = (tmp_path / "run" / "summary.csv").read_text().splitlines()[0]
    assert header.startswith("instance,instance_name,solver,solver_name,runs")


def test_process_pool(tmp_path):
    run_config(cfg_of(seeds=(0, 1), workers=2), tmp_path / "run")
    recs = check_folder(tmp_path / "run", 2)
    pids = {r["pid"] for r in recs}
    assert os.getpid() not in pids and len(pids) == 2  # one fresh process per task
    assert {r["status"] for r in recs} == {"optimal"}


def test_dask_local_cluster(tmp_path):
    pytest.importorskip("distributed")
    run_config(cfg_of(seeds=(0, 1), workers=2, kind="dask"), tmp_path / "run")
    recs = check_folder(tmp_path / "run", 2)
    assert {r["status"] for r in recs} == {"optimal"}
    assert os.getpid() not in {r["pid"] for r in recs}


def test_resume_skips_done_tasks_and_tolerates_truncated_line(tmp_path):
    out = tmp_path / "run"
    run_config(cfg_of(seeds=(0,)), out)
    with pytest.raises(BadInputError, match="--resume"):
        run_config(cfg_of(seeds=(0,)), out)
    # a killed run leaves half a line behind
    with open(out / RESULTS, "a") as fh:
        fh.write('{"instance": "' + GEN1 + '", "solver": "highs", "se')
    summary = run_config(cfg_of(seeds=(0, 1)), out, resume=True)
    assert summary.skipped == 1 and summary.finished == 1
    recs = check_folder(out, 2)
    assert sorted(r["seed"] for r in recs) == [0, 1]
    # nothing left to do
    again = run_config(cfg_of(seeds=(0, 1)), out, resume=True)
    assert again.finished == 0 and again.skipped == 2


def test_read_results_keeps_complete_last_line_without_newline(tmp_path):
    p = tmp_path / RESULTS
    p.write_text('{"a": 1}\n{"a": 2}')
    assert [r["a"] for r in read_results(p, repair=True)] == [1, 2]
    assert p.read_text().endswith("\n")


@pytest.fixture
def crashplug(tmp_path, monkeypatch):
    root = make_dist(tmp_path / "plug", "crashplug", CRASH_PLUGIN)
    monkeypatch.syspath_prepend(str(root))  # spawned workers inherit sys.path
    reset_plugin_manager()
    yield root
    monkeypatch.undo()
    reset_plugin_manager()


def test_crashing_tasks_get_error_lines_and_the_run_goes_on(tmp_path, crashplug):
    solvers = {"highs": {"kind": "highs"}, "raise": {"kind": "crash-raise"},
               "exit": {"kind": "crash-exit"}}
    summary = run_config(cfg_of(solvers=solvers, workers=2), tmp_path / "run")
    recs = {r["solver"]: r for r in check_folder(tmp_path / "run", 3)}
    assert summary.errors == 2
    assert recs["highs"]["status"] == "optimal"
    assert recs["raise"]["status"] == "error" and "boom from crashplug" in recs["raise"]["error"]
    assert recs["exit"]["status"] == "error" and "died" in recs["exit"]["error"]


def test_sequential_crash_raise(tmp_path, crashplug):
    solvers = {"raise": {"kind": "crash-raise"}, "highs": {"kind": "highs"}}
    run_config(cfg_of(solvers=solvers), tmp_path / "run")
    recs = {r["solver"]: r for r in check_folder(tmp_path / "run", 2)}
    assert recs["raise"]["status"] == "error" and recs["highs"]["status"] == "optimal"


def test_plot_trajectory_on_a_record():
    from matplotlib.figure import Figure

    from solverhub.core.plotting import plot_trajectory

    rec = {"solver": "x", "instance": GEN1, "runtime": 2.0, "trajectory": [[0.1, 10.0], [1.0, 8.0]],
           "info": {}}
    ax = plot_trajectory(rec, ax=Figure().subplots(), reference=7.5)
    assert ax.get_xlabel() == "time (s)" and len(ax.lines) == 2  # incumbent + reference
