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


# ------------------------------------------------------------------ the trust model (issue 20)
def test_py_address_runs_no_code_without_consent(tmp_path):
    target = tmp_path / "FILE"
    r = cli("solve", f'py:os:system?command="touch {target}"', "--solver", "highs", "--json",
            cwd=tmp_path)
    assert_bad_input(r, "module 'os'", "--allow-code", "SOLVERHUB_TRUSTED_MODULES")
    assert r.stdout == "" and not target.exists()


def test_config_py_address_runs_no_code_without_consent(tmp_path):
    target = tmp_path / "FILE"
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"instances = ['py:subprocess:getoutput?cmd=\"id > {target}\"']\n"
                   f'[solvers.h]\nkind = "highs"\n')
    for extra in ([], ["--check"]):
        r = cli("run", cfg, "--out", tmp_path / "run", *extra, cwd=tmp_path)
        assert_bad_input(r, "c.toml: instances[0]", "module 'subprocess'", "allow_code")
        assert not target.exists() and not (tmp_path / "run").exists()
        assert not (tmp_path / "runs").exists()


def test_consent_by_flag_config_key_or_environment(tmp_path):
    (tmp_path / "my_gen.py").write_text(
        "import solverhub as sh\n"
        "def make(rows: int = 30, seed: int = 0):\n"
        "    return sh.load_problem(f'generate:set_cover?rows={rows}&cols=40&seed={seed}')\n")
    addr = "py:my_gen:make?rows=24&seed=3"
    # the module is found in the current directory (never put on sys.path), with consent only
    assert_bad_input(cli("solve", addr, "--solver", "highs", cwd=tmp_path), "module 'my_gen'")
    for extra, env in ((["--allow-code"], None), ([], {"SOLVERHUB_TRUSTED_MODULES": "my_gen"})):
        r = cli("solve", addr, "--solver", "highs", "--json", *extra, env_extra=env, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["status"] == "optimal"
    # the typed signature is the parameter model
    assert_bad_input(cli("solve", "py:my_gen:make?rows=x", "--solver", "highs", "--allow-code",
                         cwd=tmp_path), "parameter 'rows'='x'")
    assert_bad_input(cli("solve", "py:my_gen:make?cols=3", "--solver", "highs", "--allow-code",
                         cwd=tmp_path), "unknown parameter 'cols' (known: rows, seed)")
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'instances = ["{addr}"]\ntime_limit = 20\nallow_code = ["my_gen"]\n'
                   '[solvers.h]\nkind = "highs"\n')
    out = tmp_path / "run"
    r = cli("run", cfg, "--out", out, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    (out / "results.jsonl").unlink()
    # a run folder handed over for --resume cannot grant consent by itself (its config.toml
    # says allow_code, but only the user can)
    r = cli("run", "--out", out, "--resume", cwd=tmp_path)
    assert_bad_input(r, "config.toml: instances[0]", "module 'my_gen'")
    assert not (out / "results.jsonl").exists()
    r = cli("run", "--out", out, "--resume", "--allow-code", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads((out / "results.jsonl").read_text().splitlines()[0])["status"] == "optimal"


# ------------------------------------------------------------------ fail fast (issue 20)
#: (instances, solver section, what the error line names); each is a whole config's one problem
RUN_CASES = [
    (["dataset:nope"], 'kind = "convex-relu-admm"', ["instances[0]", "unknown data set 'nope'"]),
    (["s2mpj:NOPE"], 'kind = "exact-al"', ["instances[0]", "s2mpj:NOPE", "no such S2MPJ problem"]),
    (["s2mpj:HS6?foo=1"], 'kind = "exact-al"', ["unknown parameter 'foo'", "loader 's2mpj'"]),
    (["s2mpj:LUKVLE1?N=abc"], 'kind = "exact-al"', ["parameter 'N'='abc'", "valid integer"]),
    (["bolib:nope"], 'kind = "lv-hba"', ["instances[0]", "unknown bilevel test problem 'nope'"]),
    (["bolib:Bard1988Ex1?x0=1,2"], 'kind = "lv-hba"', ["x0='1,2' has 2 entries, the problem has 1"]),
    (["foo:bar"], 'kind = "highs"', ["instances[0]", "scheme 'foo'", "known schemes"]),
    (["generate:set_cover?rows=-5"], 'kind = "highs"', ["parameter 'rows'='-5'", "loader 'generators'"]),
    (["generate:nope"], 'kind = "highs"', ["unknown instance family 'nope'"]),
    (["generate:set_cover?foo=1"], 'kind = "highs"', ["unknown parameter 'foo'", "known: rows"]),
    (["generate:facility_location?strong=yes"], 'kind = "highs"', ["'strong': expected true or false"]),
    (["missing.mps"], 'kind = "highs"', ["instances[0]: file not found: missing.mps"]),
    (["dataset:iris?P=0"], 'kind = "convex-relu-admm"', ["parameter 'P'='0'"]),
    ([GEN], 'kind = "balans"\ngrid.policy = ["greedy"]',
     ["solvers.s.grid (s[policy=greedy])", "unknown bandit policy 'greedy'"]),
    ([GEN], 'kind = "balans"\noptions.policy = "greedy"', ["solvers.s.options", "'greedy'"]),
    (["dataset:iris"], 'kind = "convex-relu-admm"\noptions.device = "tpu"',
     ["solvers.s.options", "unknown device 'tpu'"]),
    ([GEN], 'kind = "highs"\noptions.threadz = 2', ["unknown option 'threadz'"]),
    ([GEN], 'kind = "nope"', ["solvers.s.kind", "unknown solver 'nope'"]),
    (["dataset:iris"], 'kind = "highs"',
     ["solvers.s: solver 'highs' takes problems of kind 'mip'", "no instance is of that kind"]),
]


def _run_config(tmp_path, instances, section, *extra):
    from solverhub.core.cli import main

    cfg = tmp_path / "c.toml"
    cfg.write_text("instances = [" + ", ".join(json.dumps(i) for i in instances) + "]\n"
                   "time_limit = 5\n[solvers.s]\n" + section + "\n")
    return main(["run", cfg.name, "--out", str(tmp_path / "run"), *extra])  # cwd: tmp_path


@pytest.mark.parametrize("instances, section, names", RUN_CASES,
                         ids=[c[0][0][:40] + " " + c[1].splitlines()[-1] for c in RUN_CASES])
def test_run_refuses_bad_input_before_any_worker_starts(tmp_path, monkeypatch, capsys, instances,
                                                          section, names):
    monkeypatch.chdir(tmp_path)
    for extra in ([], ["--check"]):
        code = _run_config(tmp_path, instances, section, *extra)
        err = capsys.readouterr().err
        assert code == 2, err
        lines = err.strip().splitlines()
        assert lines and all(line.startswith("solverhub: error: c.toml: ") for line in lines), err
        for n in names:
            assert n in err, err
        assert "Traceback" not in err
        # no run folder, no result line: the run never started
        assert not (tmp_path / "run").exists() and not (tmp_path / "runs").exists()


def test_run_reports_every_distinct_problem_at_once(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    bad = ["dataset:nope", "bolib:nope", "foo:bar", "generate:set_cover?rows=-5", GEN]
    code = _run_config(tmp_path, bad, 'kind = "balans"\ngrid.policy = ["greedy", "softmax", "nope"]')
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    # four instances and two grid points are wrong; the highs-kind pairs of the rest are fine
    assert len(lines) == 6, lines
    assert [line.split(": ")[3] for line in lines[:4]] == [f"instances[{i}]" for i in range(4)]
    assert "policy=greedy" in lines[4] and "policy=nope" in lines[5]


def test_run_check_loads_every_instance_and_prints_the_tasks(tmp_path, monkeypatch, capsys):
    from solverhub.core.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.mps").write_text("NAME X\nROWS\n garbage\n")
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'instances = ["{GEN}", "dataset:iris?P=4"]\nseeds = [0, 1]\n'
                   '[solvers.h]\nkind = "highs"\n[solvers.relu]\nkind = "convex-relu-admm"\n')
    assert main(["run", str(cfg), "--check"]) == 0
    out = capsys.readouterr().out
    assert "4 task(s); every instance loaded" in out and out.count("convex-relu-admm") == 2
    assert not (tmp_path / "runs").exists()
    # what only loading finds: a malformed file passes the address checks, not --check
    cfg.write_text('instances = ["bad.mps"]\n[solvers.h]\nkind = "highs"\n')
    assert main(["run", str(cfg), "--check"]) == 2
    assert "c.toml: instances[0]: " in capsys.readouterr().err


def test_a_loader_that_raises_is_named(tmp_path, capsys):
    import solverhub as sh
    from solverhub.core.errors import PluginError

    class Crashy:
        @sh.hookimpl
        def solverhub_loaders(self):
            def load(target, params):
                raise ZeroDivisionError("oops")
            return [sh.LoaderSpec("crashy-files", load, schemes=("crashy",), params=sh.NoParams)]

    pm = sh.get_plugin_manager()
    pm.register_plugin(Crashy(), name="crashy-plugin")
    try:
        with pytest.raises(PluginError, match=r"crashy:x: loader 'crashy-files' \(plugin "
                                              r"'crashy-plugin'\) raised ZeroDivisionError: oops"):
            sh.load_problem("crashy:x")
        from solverhub.core.cli import main

        assert main(["solve", "crashy:x", "--solver", "highs"]) == 1
        err = capsys.readouterr().err
        assert "loader 'crashy-files' (plugin 'crashy-plugin')" in err and "internal error" not in err
    finally:
        pm.unregister_plugin("crashy-plugin")


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
