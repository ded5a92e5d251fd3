"""The third-party example plugin (examples/custom_plugin): installed into a temporary target and
used from outside through the API, the CLI and Balans, as a user would."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import solverhub as sh
from solverhub.core.manager import reset_plugin_manager

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "custom_plugin"
SAMPLE = EXAMPLE / "data" / "sample.txt"
SAMPLE_OPTIMUM = 114.0          # brute force over the 2^12 subsets of data/sample.txt
OP = "knapsack_ratio_destroy"


@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory) -> Path:
    """``pip install --no-deps --no-build-isolation --target SITE`` of a clean copy of the example."""
    base = tmp_path_factory.mktemp("custom_plugin")
    src = base / "src"
    shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    site = base / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-input",
         "--disable-pip-version-check", "--target", str(site), str(src)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"pip install of the example failed:\n{proc.stdout}\n{proc.stderr}"
    assert (site / "solverhub_knapsack" / "__init__.py").is_file()
    return site


@pytest.fixture()
def plugin_env(plugin_site, monkeypatch):
    """The example visible in this process: on sys.path (so importlib.metadata finds its entry point),
    with a fresh plugin manager; everything undone afterwards."""
    monkeypatch.syspath_prepend(str(plugin_site))
    # subprocesses started by checks (e.g. the cheap-import check) must see it too
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(plugin_site), os.environ.get("PYTHONPATH")])))
    importlib.invalidate_caches()
    reset_plugin_manager()
    yield plugin_site
    for mod in [m for m in sys.modules if m == "solverhub_knapsack" or m.startswith("solverhub_knapsack.")]:
        del sys.modules[mod]
    reset_plugin_manager()


def _cli(site: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("SOLVERHUB_DISABLE_PLUGINS", None)
    return subprocess.run([sys.executable, "-m", "solverhub.core.cli", *args], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=str(site.parent))


def _cli_available() -> bool:
    try:
        importlib.import_module("solverhub.core.cli")
        return True
    except ImportError:
        return False


needs_cli = pytest.mark.skipif(not _cli_available(), reason="solverhub.core.cli is not written yet")


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# ---------------------------------------------------------------- discovery and registration
def test_entry_point_discovery_registers_all_three_hook_families(plugin_env):
    pm = sh.get_plugin_manager()
    info = {i.name: i for i in pm.plugin_infos()}["knapsack"]
    assert not info.broken, info.error
    assert not info.builtin and info.version == "0.1.0" and info.module == "solverhub_knapsack"
    assert {"solverhub_problem_kinds", "solverhub_loaders", "solverhub_converters",
            "solverhub_solvers", "solverhub_destroy_operators"} <= set(info.hooks)
    assert "solverhub_load_problem" not in info.hooks  # the fallback hook is retired
    assert info.registers == {"problem_kinds": ["knapsack"], "loaders": ["knapsack-files"],
                              "converters": ["knapsack-to-mip"], "solvers": ["knapsack-dp"],
                              "destroy": [OP]}
    assert pm.loader_for_scheme("knapsack").provider == "knapsack"
    assert pm.get_solver("knapsack-dp").problem_kind == "knapsack"
    assert pm.get_meta("destroy", OP).provider == "knapsack"


def test_disable_plugins_blocks_the_example(plugin_env, monkeypatch):
    monkeypatch.setenv("SOLVERHUB_DISABLE_PLUGINS", "knapsack")
    reset_plugin_manager()
    assert "knapsack-dp" not in sh.get_plugin_manager().solvers()


# ---------------------------------------------------------------- API
def test_api_dp_and_highs_agree(plugin_env):
    addr = f"knapsack:{SAMPLE}"
    dp = sh.solve(addr, solver="knapsack-dp")
    assert dp.status == "optimal" and dp.objective == SAMPLE_OPTIMUM and dp.bound == SAMPLE_OPTIMUM
    assert dp.info["verified"] is True and dp.info["items"] == [5, 6, 8, 10, 11]
    assert len(dp.trajectory) >= 1 and dp.trajectory[-1][1] == SAMPLE_OPTIMUM
    mip = sh.solve(addr, solver="highs", time_limit=30)      # through the knapsack -> mip converter
    assert mip.status == "optimal" and np.isclose(mip.objective, SAMPLE_OPTIMUM)
    assert mip.info["items"] == dp.info["items"]
    # the MIP result came back as a knapsack result, measured by the knapsack kind
    assert dp.kind == mip.kind == "knapsack" and dp.conversion is None
    assert mip.conversion.converter == "knapsack-to-mip" and mip.conversion.target_kind == "mip"
    for r in (dp, mip):
        assert set(r.metrics) >= {"dantzig_gap", "capacity_used", "overweight"}
        assert 0 <= r.metrics["dantzig_gap"] < 0.05 and r.metrics["overweight"] == 0
        assert "primal_gap" not in r.metrics          # no MIP metrics on a knapsack result
    assert np.isclose(dp.metrics["dantzig_gap"], mip.metrics["dantzig_gap"])


@pytest.mark.parametrize("solver, options", [("highs", {}), ("balans", {"max_iterations": 3})])
def test_mip_solvers_results_are_inverted_to_the_knapsack(plugin_env, solver, options):
    """Worthless and too-heavy items are not MIP columns: the inverse puts every item back."""
    from solverhub_knapsack import KnapsackProblem, to_mip

    if solver not in sh.get_plugin_manager().solvers():
        pytest.skip(f"solver {solver!r} is not registered")
    p = KnapsackProblem(values=[6, 5, 9, 0, 4], weights=[4, 3, 20, 1, 5], capacity=8, name="odd")
    assert to_mip(p).n == 3                               # items 0, 1 and 4
    res = sh.solve(p, solver=solver, time_limit=20, **options)
    assert res.status == "optimal" and res.objective == 11.0 and res.solution_status == "optimal"
    assert res.x.shape == (5,) and list(res.x) == [1, 1, 0, 0, 0] and res.info["items"] == [0, 1]
    assert res.kind == "knapsack" and res.conversion.converter == "knapsack-to-mip"
    assert res.metrics["dantzig_gap"] == pytest.approx((11.8 - 11) / 11.8)   # LP: 6 + 5 + 0.2*4
    assert res.info["verified"] is True and not res.corrections


def test_api_problem_object_and_check(plugin_env):
    from solverhub_knapsack import KnapsackProblem

    p = sh.load_problem(f"knapsack:{SAMPLE}")
    assert isinstance(p, KnapsackProblem) and p.kind == "knapsack" and p.n == 12 and p.capacity == 50
    assert p.check(np.ones(12)).feasible is False
    assert p.check(np.zeros(12)).feasible is True
    with pytest.raises(sh.BadInputError, match="negative weight"):
        KnapsackProblem([1, 2], [1, -2], 3)
    q = KnapsackProblem(values=[10, 7, 4], weights=[5, 4, 3], capacity=7, name="mini")
    res = sh.solve(q, solver="knapsack-dp")
    assert res.objective == 11.0 and list(res.x) == [0, 1, 1]


def test_dp_respects_time_limit(plugin_env):
    from solverhub_knapsack import KnapsackProblem

    rng = np.random.default_rng(0)
    w = rng.integers(1000, 5000, size=600)       # capacity ~ 9e5: each item costs milliseconds
    big = KnapsackProblem(values=w + rng.integers(0, 1000, size=600), weights=w, capacity=int(w.sum() // 2))
    res = sh.solve(big, solver="knapsack-dp", time_limit=0.01, max_cells=10**9)
    assert res.status == "time_limit" and res.info["items_processed"] < 600
    assert res.info["verified"] is True and res.bound >= res.objective > 0   # greedy incumbent, LP bound


def test_dp_rejects_fractional_weights_and_huge_tables(plugin_env):
    from solverhub_knapsack import KnapsackProblem

    with pytest.raises(sh.BadInputError, match="integer weights"):
        sh.solve(KnapsackProblem([1, 2], [1.5, 2], 3), solver="knapsack-dp")
    with pytest.raises(sh.BadInputError, match="max_cells"):
        sh.solve(KnapsackProblem([1, 2], [1, 2], 10**6), solver="knapsack-dp", max_cells=1000)
    with pytest.raises(sh.BadInputError, match="unknown option 'bogus'"):
        sh.solve(KnapsackProblem([1], [1], 1), solver="knapsack-dp", bogus=1)


@pytest.mark.parametrize("text, words", [
    ("3 10\n1 2\n3 4\n", ["line 3", "2 of 3 item lines"]),
    ("2 10\n1 2\n3 x\n", ["line 3", "value weight"]),
    ("2 ten\n1 2\n3 4\n", ["line 1", "n capacity"]),
    ("-2 10\n", ["line 1", "positive integer"]),
    ("1 10\n1 2\n5 5\n", ["line 3", "more item lines"]),
    ("1 10\n1 -2\n", ["line 2", "negative weight"]),
    ("# only a comment\n", ["empty knapsack file"]),
])
def test_malformed_files_name_file_and_line(plugin_env, tmp_path, text, words):
    path = _write(tmp_path / "bad.txt", text)
    with pytest.raises(sh.BadInputError) as exc:
        sh.load_problem(f"knapsack:{path}")
    msg = str(exc.value)
    assert str(path) in msg
    for w in words:
        assert w in msg, msg


def test_missing_file_and_parameters(plugin_env, tmp_path):
    with pytest.raises(sh.BadInputError, match="not found"):
        sh.load_problem(f"knapsack:{tmp_path / 'nope.txt'}")
    # the host validates parameters with the loader's model (sh.NoParams: none)
    with pytest.raises(sh.BadInputError, match=r"unknown parameter 'scale' \(known: none\) "
                                               r"\[loader 'knapsack-files' \(plugin 'knapsack'\)\]"):
        sh.load_problem(f"knapsack:{SAMPLE}?scale=2")


def test_path_in_address_resolves_against_the_config(plugin_env, tmp_path, monkeypatch):
    from solverhub.core.config import load_config

    folder = tmp_path / "bench"
    (folder / "data").mkdir(parents=True)
    shutil.copy(SAMPLE, folder / "data" / "sample.txt")
    cfg_path = _write(folder / "k.toml", 'instances = ["knapsack:data/sample.txt"]\n'
                                         '[solvers.dp]\nkind = "knapsack-dp"\n')
    monkeypatch.chdir(tmp_path)  # not the config's folder
    cfg = load_config(cfg_path)
    assert cfg.instances == [f"knapsack:{(folder / 'data' / 'sample.txt').resolve()}"]
    assert sh.solve(cfg.instances[0], solver="knapsack-dp").objective == SAMPLE_OPTIMUM


def test_destroy_operator_protocol(plugin_env):
    from solverhub.core.metasearch import DestroyOperator, Neighbourhood, SearchState
    from solverhub_knapsack.problem import to_mip

    comp = sh.get_plugin_manager().get_meta("destroy", OP)
    op = comp.factory(**comp.params)
    assert isinstance(op, DestroyOperator)
    prob = to_mip(sh.load_problem(f"knapsack:{SAMPLE}")).as_minimization()
    x = np.zeros(12)
    x[[5, 6, 8, 10, 11]] = 1
    state = SearchState(prob, x, prob.evaluate(x), x, prob.evaluate(x), None, None, -np.inf, None)
    nb = op(state, np.random.default_rng(0))
    assert isinstance(nb, Neighbourhood) and nb.name == OP
    assert nb.n_free == round(0.2 * 12) and nb.bound_idx.size == 12 - nb.n_free
    assert np.array_equal(nb.lower, x[nb.bound_idx]) and np.array_equal(nb.upper, nb.lower)
    # the same seed gives the same neighbourhood
    again = comp.factory(**comp.params)(state, np.random.default_rng(0))
    assert np.array_equal(again.bound_idx, nb.bound_idx)
    with pytest.raises(ValueError):
        comp.factory(rate=0.0)


# ---------------------------------------------------------------- CLI
@needs_cli
def test_cli_dp_and_highs_give_the_same_optimum(plugin_site):
    out = {}
    for solver in ("knapsack-dp", "highs"):
        proc = _cli(plugin_site, "solve", f"knapsack:{SAMPLE}", "--solver", solver, "--json")
        assert proc.returncode == 0, proc.stderr
        out[solver] = json.loads(proc.stdout)
        assert out[solver]["status"] == "optimal", out[solver]
        assert out[solver]["termination"] == "convergence_criteria_satisfied"
        assert out[solver]["solution_status"] == "optimal"
        assert out[solver]["kind"] == "knapsack" and "dantzig_gap" in out[solver]["metrics"]
    assert out["knapsack-dp"]["objective"] == out["highs"]["objective"] == SAMPLE_OPTIMUM
    assert out["highs"]["conversion"]["converter"] == "knapsack-to-mip"
    assert "conversion" not in out["knapsack-dp"]


@needs_cli
def test_cli_bad_file_exit_code_2(plugin_site, tmp_path):
    path = _write(tmp_path / "bad.txt", "2 10\n1 2\n")
    proc = _cli(plugin_site, "solve", f"knapsack:{path}", "--solver", "knapsack-dp", "--json")
    assert proc.returncode == 2
    assert "line 2" in proc.stderr and str(path) in proc.stderr


@needs_cli
def test_cli_lists_plugin_and_solver(plugin_site):
    proc = _cli(plugin_site, "plugins", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    plugins = data["plugins"] if isinstance(data, dict) else data
    mine = [p for p in plugins if p["name"] == "knapsack"]
    assert len(mine) == 1 and not mine[0]["broken"]
    assert {"solverhub_loaders", "solverhub_solvers", "solverhub_destroy_operators"} <= set(mine[0]["hooks"])
    assert mine[0]["registers"]["solvers"] == ["knapsack-dp"]
    proc = _cli(plugin_site, "solvers")
    assert proc.returncode == 0 and "knapsack-dp" in proc.stdout and "max_cells" in proc.stdout


# ---------------------------------------------------------------- Balans picks the custom operator
def _balans_registered() -> bool:
    try:
        return "balans" in sh.get_plugin_manager().solvers()
    except Exception:
        return False


@needs_cli
@pytest.mark.skipif(not _balans_registered(), reason="the 'balans' solver plugin is not registered yet")
def test_balans_pulls_the_custom_destroy_operator(plugin_site):
    # a multiple knapsack that HiGHS does not close at once; UCB1 tries every arm first, and the
    # iteration cap keeps the run short whatever the machine's speed
    proc = _cli(plugin_site, "solve", "generate:multiple_knapsack?n_items=60&n_knapsacks=5&seed=1",
                "--solver", "balans", "--time-limit", "30", "--seed", "0",
                "--set", f'destroy=["mutation_50", "{OP}"]', "--set", "policy=ucb1",
                "--set", "max_iterations=6", "--json", timeout=180)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    assert res["status"] in ("optimal", "feasible", "time_limit", "iteration_limit"), res
    arms = {a["name"]: a for a in res["info"]["arms"]}
    assert set(arms) == {"mutation_50", OP}
    assert arms[OP]["pulls"] >= 1, arms


# ---------------------------------------------------------------- conformance checks
def test_conformance_checks(plugin_env):
    testing = pytest.importorskip("solverhub.testing", reason="solverhub.testing is not written yet")
    import solverhub_knapsack
    from solverhub_knapsack import KnapsackProblem

    report = testing.check_plugin(solverhub_knapsack, "knapsack")     # raises listing any failure
    assert report["knapsack:loaders_contract"] == "passed", report
    # no fallback solverhub_load_problem hook: that check does not apply
    assert report.pop("knapsack:loader_declines_foreign").startswith("skipped"), report
    assert all(v == "passed" for v in report.values()), report

    rng = np.random.default_rng(0)
    w = rng.integers(1000, 5000, size=600)
    hard = KnapsackProblem(values=w + rng.integers(0, 1000, size=600), weights=w, capacity=int(w.sum() // 2))
    report = testing.check_solver(
        "knapsack-dp", options={"max_cells": 10**9}, deterministic=True, hard_instance=hard,
        instances=[(sh.load_problem(f"knapsack:{SAMPLE}"), SAMPLE_OPTIMUM),
                   (KnapsackProblem([10, 7, 4], [5, 4, 3], 7), 11.0)],
        bad_instances=[("fractional weights", KnapsackProblem([1, 2], [1.5, 2], 3))])
    failed = {k: v for k, v in report.items() if not (v == "passed" or v.startswith("skipped"))}
    assert not failed, report
    assert report["knapsack-dp:solves_tiny"] == "passed" and report["knapsack-dp:time_limit"] == "passed"
