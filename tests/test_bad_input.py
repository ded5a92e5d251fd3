"""Bad input gives one line on stderr naming the culprit, exit code 2 (or a status for valid
models), no traceback and no partial result files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

GEN = "generate:set_cover?rows=40&cols=80&density=0.1&seed=1"

INFEASIBLE_MPS = """NAME INF
ROWS
 N  obj
 G  c1
 L  c2
COLUMNS
    MARKER  'MARKER'  'INTORG'
    x  obj  1  c1  1
    x  c2  1
    MARKER  'MARKER'  'INTEND'
RHS
    rhs  c1  2  c2  1
BOUNDS
 UP bnd x 10
ENDATA
"""

UNBOUNDED_LP = """Minimize
 obj: - x - y
Subject To
 c1: x - y >= 0
Generals
 y
End
"""

BROKEN_PLUGIN = "raise RuntimeError('brokenplug cannot be imported')\n"


def cli(*args, env_extra=None, cwd=None):
    env = dict(os.environ)
    env.pop("SOLVERHUB_DEBUG", None)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "solverhub.core.cli", *map(str, args)],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def assert_bad_input(r, *names):
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("solverhub: error: ")
    for n in names:
        assert n in lines[0], lines[0]
    assert r.stdout.strip() == ""


def test_missing_file(tmp_path):
    r = cli("solve", tmp_path / "nope.mps", "--solver", "highs", "--json")
    assert_bad_input(r, "nope.mps", "not found")


def test_malformed_mps(tmp_path):
    bad = tmp_path / "garbage.mps"
    bad.write_text("this is\nnot an MPS file\n\x00\x01 at all\n")
    sol = tmp_path / "out.sol"
    r = cli("solve", bad, "--solver", "highs", "--solution", sol)
    assert_bad_input(r, "garbage.mps")
    assert not sol.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["garbage.mps"]


def test_infeasible_model_is_a_status(tmp_path):
    p = tmp_path / "inf.mps"
    p.write_text(INFEASIBLE_MPS)
    r = cli("solve", p, "--solver", "highs", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["status"] == "infeasible"


def test_unbounded_model_is_a_status(tmp_path):
    p = tmp_path / "unb.lp"
    p.write_text(UNBOUNDED_LP)
    r = cli("solve", p, "--solver", "highs", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["status"] == "unbounded"


def test_unknown_solver():
    assert_bad_input(cli("solve", GEN, "--solver", "hihgs"), "hihgs", "unknown solver")


def test_unknown_option():
    assert_bad_input(cli("solve", GEN, "--solver", "highs", "--set", "mip_rel_gapp=0.1"),
                     "mip_rel_gapp")


def test_bad_set_syntax_and_usage():
    assert_bad_input(cli("solve", GEN, "--solver", "highs", "--set", "novalue"), "novalue")
    assert_bad_input(cli("solve", GEN), "--solver")
    assert_bad_input(cli("solve", GEN, "--solver", "highs", "--time-limit", "-3"), "time-limit")


def test_unknown_generator_family():
    assert_bad_input(cli("solve", "generate:nosuchfamily?seed=1", "--solver", "highs"),
                     "nosuchfamily")


def test_config_with_a_typo(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'name = "t"\ninstances = ["{GEN}"]\ntime_limit = 5\n'
                   '[solvers.balans_default]\nkind = "highs"\n'
                   '[solvers.balans_default.optoins]\nthreads = 1\n')
    out = tmp_path / "run"
    r = cli("run", cfg, "--out", out)
    assert_bad_input(r, "c.toml", "solvers.balans_default.optoins: unknown key")
    assert not out.exists()  # nothing written for a config that does not validate


def test_config_unknown_solver_kind(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'name = "t"\ninstances = ["{GEN}"]\n[solvers.fast]\nkind = "nope"\n')
    assert_bad_input(cli("run", cfg, "--out", tmp_path / "run"), "solvers.fast.kind", "nope")


def test_missing_config_and_report_dir(tmp_path):
    assert_bad_input(cli("run", tmp_path / "none.toml"), "none.toml")
    assert_bad_input(cli("report", tmp_path / "norun"), "norun")
    (tmp_path / "empty").mkdir()
    assert_bad_input(cli("report", tmp_path / "empty"), "results.jsonl")


def make_broken_dist(root: Path) -> Path:
    root.mkdir()
    (root / "brokenplug.py").write_text(BROKEN_PLUGIN)
    info = root / "brokenplug-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: brokenplug\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[solverhub]\nbrokenplug = brokenplug\n")
    return root


def test_broken_plugin_is_listed_and_not_fatal(tmp_path):
    root = make_broken_dist(tmp_path / "site")
    env = {"PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    r = cli("plugins", "--json", env_extra=env)
    assert r.returncode == 0, r.stderr
    plugs = {p["name"]: p for p in json.loads(r.stdout)["plugins"]}
    assert plugs["brokenplug"]["broken"] is True
    assert "brokenplug cannot be imported" in plugs["brokenplug"]["error"]
    assert plugs["highs"]["broken"] is False

    r = cli("solve", GEN, "--solver", "highs", "--json", env_extra=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["status"] == "optimal"
    assert "Traceback" not in r.stderr
    warn = [ln for ln in r.stderr.splitlines() if "brokenplug" in ln]
    assert len(warn) == 1 and warn[0].startswith("solverhub: warning:")

    # and it can be blocked
    env["SOLVERHUB_DISABLE_PLUGINS"] = "brokenplug"
    r = cli("plugins", "--json", env_extra=env)
    plugs = {p["name"]: p for p in json.loads(r.stdout)["plugins"]}
    assert plugs["brokenplug"]["disabled"] is True and not plugs["brokenplug"]["broken"]
    assert "brokenplug" not in r.stderr


def test_crashing_solver_is_an_error_status(capsys):
    """A solver that raises: status error, the message in JSON "error", exit 1, no traceback."""
    from solverhub import SolverSpec, hookimpl
    from solverhub.core.cli import main
    from solverhub.core.manager import get_plugin_manager

    class Boom:
        def solve(self, problem, **kw):
            raise ZeroDivisionError("kaboom")

    class Plugin:
        @hookimpl
        def solverhub_solvers(self):
            return [SolverSpec("test-boom", "mip", Boom)]

    pm = get_plugin_manager()
    pm.register_plugin(Plugin(), name="test-boom-plugin")
    try:
        assert main(["solve", GEN, "--solver", "test-boom", "--json"]) == 1
        cap = capsys.readouterr()
        d = json.loads(cap.out)
        assert d["status"] == "error" and "kaboom" in d["error"]
        assert "Traceback" not in cap.out + cap.err
        assert main(["solve", GEN, "--solver", "test-boom"]) == 1
        cap = capsys.readouterr()
        assert "kaboom" in cap.err and "Traceback" not in cap.out + cap.err
    finally:
        pm.unregister_plugin("test-boom-plugin")
