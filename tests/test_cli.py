"""The command line (DESIGN.md section 5), through a subprocess and through main(argv)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from solverhub.core.cli import main, parse_set_values

SHARED = Path(__file__).parents[1].parent / "shared"
MIPLIB = SHARED / "data" / "miplib3"
GEN = "generate:set_cover?rows=40&cols=80&density=0.1&seed=1"


def cli(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "solverhub.core.cli", *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=300)


def needs_miplib():
    if not (MIPLIB / "p0201.mps.gz").exists():
        pytest.skip(f"MIPLIB data not found at {MIPLIB} (../shared is optional)")


def test_plugins_json_subprocess():
    r = cli("plugins", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert set(data) >= {"plugins", "kernels"}
    assert set(data["kernels"]) >= {"compiled", "error"}
    by_name = {p["name"]: p for p in data["plugins"]}
    assert by_name["highs"]["builtin"] and not by_name["highs"]["broken"]
    assert "highs" in by_name["highs"]["registers"]["solvers"]
    for p in data["plugins"]:
        assert {"name", "version", "module", "builtin", "hooks", "registers", "broken", "error",
                "disabled"} <= set(p)


def test_solvers_json(capsys):
    assert main(["solvers", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    by_name = {s["name"]: s for s in data["solvers"]}
    assert by_name["highs"]["problem_kind"] == "mip"
    assert by_name["highs"]["provider"] == "highs"
    for opt in by_name["highs"]["options"].values():
        assert {"type", "default", "description"} <= set(opt)


def test_human_listings(capsys):
    assert main(["plugins"]) == 0
    assert main(["solvers"]) == 0
    out = capsys.readouterr().out
    assert "highs" in out and "kernels:" in out


def test_solve_p0201_json_subprocess():
    needs_miplib()
    r = cli("solve", str(MIPLIB / "p0201.mps.gz"), "--solver", "highs", "--json")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().count("\n") == 0  # exactly one JSON object on stdout
    d = json.loads(r.stdout)
    assert d["status"] == "optimal"
    assert d["objective"] == pytest.approx(7615)
    for key in ("status", "objective", "bound", "runtime", "iterations", "solver", "instance",
                "primal_integral", "trajectory"):
        assert key in d
    assert d["solver"] == "highs" and d["instance"].endswith("p0201.mps.gz")
    assert d["primal_integral"] is not None  # miplib3.solu gives the reference


def test_solve_with_set_and_solution(tmp_path, capsys):
    sol = tmp_path / "x.sol"
    code = main(["solve", GEN, "--solver", "highs", "--set", "rel_gap=0.5", "--set",
                 "presolve=off", "--time-limit", "20", "--seed", "3", "--json", "--solution", str(sol)])
    assert code == 0
    d = json.loads(capsys.readouterr().out)
    # mip_rel_gap is the deprecated alias of rel_gap: the resolved options use the one name
    assert d["options"]["rel_gap"] == 0.5 and d["options"]["presolve"] == "off"
    lines = [ln for ln in sol.read_text().splitlines() if not ln.startswith("#")]
    assert len(lines) == 80
    name, value = lines[0].split()
    assert float(value) in (0.0, 1.0)
    solj = tmp_path / "x.json"
    assert main(["solve", GEN, "--solver", "highs", "--json", "--solution", str(solj)]) == 0
    capsys.readouterr()
    js = json.loads(solj.read_text())
    assert js["status"] == "optimal" and len(js["values"]) == 80
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_solve_human(capsys):
    assert main(["solve", GEN, "--solver", "highs"]) == 0
    out = capsys.readouterr().out
    assert "optimal" in out and "objective" in out


def test_parse_set_values():
    got = parse_set_values(["a=1", "b=0.5", "c=true", "d=[1, 2]", "e=highs", "f=\"x y\"",
                            "g.h=2", "i={\"k\": 1}", "j="])
    assert got == {"a": 1, "b": 0.5, "c": True, "d": [1, 2], "e": "highs", "f": "x y",
                   "g": {"h": 2}, "i": {"k": 1}, "j": ""}


def test_run_and_report(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'name = "t"\ninstances = ["{GEN}"]\nseeds = [0, 1]\ntime_limit = 10\n'
                   '[solvers.highs]\nkind = "highs"\n')
    out = tmp_path / "run"
    assert main(["run", str(cfg), "--out", str(out)]) == 0
    assert len((out / "results.jsonl").read_text().splitlines()) == 2
    (out / "summary.csv").unlink()
    (out / "primal_gap.png").unlink()
    assert main(["report", str(out)]) == 0
    assert (out / "summary.csv").exists() and (out / "primal_gap.png").exists()
    text = capsys.readouterr().out
    assert "highs" in text and "optimal" in text
    # an existing run folder needs --resume; then nothing is left to do
    assert main(["run", str(cfg), "--out", str(out)]) == 2
    assert main(["run", str(cfg), "--out", str(out), "--resume"]) == 0
    assert main(["run", "--out", str(out), "--resume"]) == 0  # config.toml of the folder
    assert len((out / "results.jsonl").read_text().splitlines()) == 2


def test_run_subprocess_pool(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'name = "t"\ninstances = ["{GEN}"]\nseeds = [0, 1]\ntime_limit = 10\n'
                   '[solvers.highs]\nkind = "highs"\n')
    r = cli("run", str(cfg), "--out", str(tmp_path / "run"), "--workers", "2")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    assert len((tmp_path / "run" / "results.jsonl").read_text().splitlines()) == 2


def test_version_and_help(capsys):
    assert main(["--version"]) == 0
    assert main([]) == 2
