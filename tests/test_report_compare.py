"""The report that compares solvers: per solver mean primal integral, shifted geometric means of
the final gap and of the time to the optimal value, wins, failures, ranking (grids grouped);
Dolan-More performance profiles; several run folders combined into one report.md and CSV; the
live progress lines."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest

from solverhub.core.cli import main
from solverhub.core.plotting import performance_profile
from solverhub.core.report import (GAP_SHIFT_PERCENT, TIME_SHIFT_SECONDS, profile_measures,
                                   report_markdown, shifted_geomean, solver_summary, write_outputs)

INST_A = "generate:set_cover?rows=30&cols=60&density=0.1&seed=1"
INST_B = "generate:set_cover?rows=30&cols=60&density=0.1&seed=2"


def rec(inst, solver, seed, traj, *, status="feasible", ref=100.0, runtime=10.0, group=None,
        error=None):
    r = {"instance": inst, "instance_name": inst, "solver": solver, "kind": "k", "seed": seed,
         "time_limit": 10.0, "status": status, "objective": traj[-1][1] if traj else None,
         "bound": None, "runtime": runtime, "trajectory": traj, "reference": ref, "sense": 1,
         "problem_kind": "mip", "error": error, "host": "h1", "cpu": "cpu-x",
         "versions": {"solverhub": "0"}}
    if group:
        r["group"] = group
    return r


def records():
    # fast: optimal value 100 at 1 s on both instances; slow: 110 then 100 at 5 s on A, 120 on B;
    # broken: fails on A, 150 on B
    return [
        rec(INST_A, "fast", 0, [[0.5, 120.0], [1.0, 100.0]], status="optimal", runtime=1.0),
        rec(INST_B, "fast", 0, [[1.0, 100.0]], status="optimal", runtime=1.0),
        rec(INST_A, "slow", 0, [[1.0, 110.0], [5.0, 100.0]]),
        rec(INST_B, "slow", 0, [[2.0, 120.0]]),
        rec(INST_A, "broken", 0, [], status="error", error="boom"),
        rec(INST_B, "broken", 0, [[1.0, 150.0]]),
    ]


def test_shifted_geomean():
    assert shifted_geomean([0.0, 0.0], 1.0) == pytest.approx(0.0)
    assert shifted_geomean([3.0, 15.0], 1.0) == pytest.approx(math.sqrt(4 * 16) - 1)
    assert shifted_geomean([], 1.0) is None


def test_solver_summary_numbers_and_ranking():
    rows = {r["solver"]: r for r in solver_summary(records())}
    assert [r["solver"] for r in sorted(rows.values(), key=lambda r: r["rank"])] == \
        ["fast", "slow", "broken"]
    fast, slow, broken = rows["fast"], rows["slow"], rows["broken"]
    assert (fast["wins"], slow["wins"], broken["wins"]) == (2, 0, 0)
    assert (fast["failures"], broken["failures"]) == (0, 1)
    assert fast["solved"] == 2 and slow["solved"] == 0
    assert fast["gap_sgm_percent"] == pytest.approx(0.0)
    gap_b = 100 * (20 / 120)  # slow on B: 120 against 100
    assert slow["gap_sgm_percent"] == pytest.approx(
        math.sqrt((0 + GAP_SHIFT_PERCENT) * (gap_b + GAP_SHIFT_PERCENT)) - GAP_SHIFT_PERCENT)
    # time to the optimal value: 1 s and 1 s; slow: 5 s on A, never on B (the time limit, 10 s)
    assert fast["time_to_opt_sgm"] == pytest.approx(1.0)
    assert slow["time_to_opt_sgm"] == pytest.approx(
        math.sqrt((5 + TIME_SHIFT_SECONDS) * (10 + TIME_SHIFT_SECONDS)) - TIME_SHIFT_SECONDS)
    assert fast["reached"] == 2 and slow["reached"] == 1 and broken["reached"] == 0
    # a failure counts as a gap of 100 % and a primal integral of 1
    assert broken["primal_integral_mean"] > slow["primal_integral_mean"] > \
        fast["primal_integral_mean"] > 0


def test_ties_share_a_win_and_grids_rank_within_their_group():
    recs = [rec(INST_A, "g[a=1]", 0, [[1.0, 100.0]], group="g"),
            rec(INST_A, "g[a=2]", 0, [[1.0, 100.0]], group="g"),
            rec(INST_A, "g[a=3]", 0, [[1.0, 130.0]], group="g"),
            rec(INST_A, "other", 0, [[3.0, 100.0]])]
    rows = {r["solver"]: r for r in solver_summary(recs)}
    assert rows["g[a=1]"]["wins"] == rows["g[a=2]"]["wins"] == 1 and rows["other"]["wins"] == 0
    assert rows["g[a=3]"]["rank_in_group"] == 3 and rows["other"]["rank_in_group"] == 1
    md = report_markdown(recs)
    assert "### Grid `g`" in md and "| 3 | g[a=3] |" in md


def test_performance_profile_of_dolan_and_more():
    taus = np.array([1.0, 2.0, 4.0])
    prof = performance_profile({"a": [1.0, 4.0, math.inf], "b": [2.0, 2.0, 3.0]}, taus)
    # ratios a: 1, 2, inf; b: 2, 1, 1
    assert prof["a"].tolist() == pytest.approx([1 / 3, 2 / 3, 2 / 3])
    assert prof["b"].tolist() == pytest.approx([2 / 3, 1.0, 1.0])
    m = profile_measures(records())
    assert m["time to the optimal value"]["fast"] == [1.0, 1.0]
    assert m["time to the optimal value"]["slow"] == [5.0, math.inf]
    assert m["primal integral"]["broken"][0] == math.inf


def _folder(tmp_path: Path, name: str, recs: list[dict]) -> Path:
    d = tmp_path / name
    d.mkdir()
    (d / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    (d / "environment.json").write_text(json.dumps({"host": f"runner-{name}", "python": "3.11",
                                                    "platform": "Linux"}))
    return d


def test_report_combines_run_folders(tmp_path, capsys):
    recs = records()
    a = _folder(tmp_path, "a", [r for r in recs if r["solver"] != "broken"])
    b = _folder(tmp_path, "b", [r for r in recs if r["solver"] == "broken"])
    assert main(["report", str(a), str(b)]) == 2  # where to write the combined report?
    assert "--out" in capsys.readouterr().err
    out = tmp_path / "combined"
    assert main(["report", str(a), str(b), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "solvers, ranked" in printed
    for f in ("report.md", "solvers.csv", "summary.csv", "primal_gap.png",
              "performance_profile.png", "objective.png"):
        assert (out / f).stat().st_size > 0, f
    rows = list(csv.DictReader(io.StringIO((out / "solvers.csv").read_text())))
    assert [r["solver"] for r in rows] == ["fast", "slow", "broken"]
    assert rows[0]["wins"] == "2" and rows[2]["failures"] == "1"
    md = (out / "report.md").read_text()
    assert f"`{a}`" in md and f"`{b}`" in md and "runner-a" in md and "runner-b" in md
    assert "![performance_profile](performance_profile.png)" in md
    assert "## Per instance" in md and "## Failures" in md and "boom" in md
    assert "6 task(s) on `h1` (cpu-x)" in md
    # one folder: the report goes into it
    assert main(["report", str(a)]) == 0
    assert (a / "report.md").exists() and (a / "solvers.csv").exists()


def test_a_report_of_other_kinds_lists_their_metrics(tmp_path):
    recs = [{"instance": "x", "solver": "s", "seed": 0, "status": "optimal", "objective": 1.0,
             "runtime": 0.5, "problem_kind": "some-continuous-kind",
             "metrics": {"residual": 1e-8, "error": 0.5}},
            {"instance": "x", "solver": "s", "seed": 1, "status": "error", "objective": None,
             "runtime": 0.1, "problem_kind": "some-continuous-kind", "error": "diverged"}]
    written = write_outputs(tmp_path, recs)
    assert tmp_path / "report.md" in written
    md = (tmp_path / "report.md").read_text()
    assert "## Problem kind `some-continuous-kind`" in md
    assert "| s | 2 | 1 | 1e-08 | 0.5 |" in md
    rows = list(csv.DictReader(io.StringIO((tmp_path / "solvers.csv").read_text())))
    assert rows[0]["metric_residual"] == "1e-08" and rows[0]["failures"] == "1"


def test_rich_tables_keep_bracketed_grid_labels(capsys):
    from rich.console import Console

    from solverhub.core.report import solver_table, summarize, summary_tables

    recs = [rec(INST_A, "b[policy=softmax]", 0, [[1.0, 100.0]], group="b"),
            rec(INST_A, "h", 0, [[1.0, 101.0]])]
    con = Console(width=200, record=True)
    for t in summary_tables(summarize(recs)):
        con.print(t)
    con.print(solver_table(solver_summary(recs)))
    assert con.export_text().count("b[policy=softmax]") == 2


# ---------------------------------------------------------------------- progress
class _Task:
    def __init__(self, inst, solver, seed, reference=None):
        self.instance, self.solver, self.seed, self.reference = inst, solver, seed, reference
        self.key = (inst, solver, seed)


def test_plain_progress_lines_carry_counts_eta_and_best_gap():
    from rich.console import Console

    from solverhub.core.progress import RunProgress

    con = Console(width=400, record=True, force_terminal=False)
    p = RunProgress(con, live=False)
    p.start(4, 1, "process pool (2 workers)")
    t1, t2 = _Task(INST_A, "h", 0, reference=100.0), _Task(INST_B, "h", 0)
    p.task_started(t1)
    p.task_started(t2)
    p.incumbent(t1, 0.1, 110.0)
    p.task_done(t1, {"status": "feasible", "objective": 105.0, "runtime": 1.0})
    p.task_done(t2, {"status": "error", "objective": None, "runtime": 0.1, "error": "bad\nthing"})
    p.stop()
    text = con.export_text()
    assert "4 tasks (1 already done)" in text
    line1, line2 = [s for s in text.splitlines() if s.startswith("[")]
    assert line1.startswith("[2/4]") and "best gap 4.76%" in line1  # 5 / 105
    assert "done 2/4, running 1, failed 0" in line1 and "left 0:00:" in line1
    assert line2.startswith("[3/4]") and "error" in line2 and "bad thing" in line2
    assert "best gap -" in line2 and "failed 1" in line2


def test_live_progress_renders_running_tasks_and_instances():
    from rich.console import Console

    from solverhub.core.progress import RunProgress

    con = Console(width=200, record=True, force_terminal=True)
    p = RunProgress(con, live=True)
    p.start(2, 0, "dask")
    t = _Task(INST_A, "b[policy=softmax]", 0)
    p.task_started(t)
    p.incumbent(t, 0.5, 50.0, bound=40.0)
    con2 = Console(width=200, record=True)
    con2.print(p._render())
    view = con2.export_text()
    assert "b[policy=softmax]" in view and "50 @ 0.5s" in view and "20%" in view
    p.task_done(t, {"status": "optimal", "objective": 45.0, "bound": 45.0, "runtime": 1.0})
    p.stop()
    assert "done 1/2" in con.export_text()


def test_progress_learns_the_loaders_reference_from_a_record():
    from rich.console import Console

    from solverhub.core.progress import RunProgress

    con = Console(width=400, record=True, force_terminal=False)
    p = RunProgress(con, live=False)
    p.start(2, 0, "sequential")
    a, b = _Task("m", "a", 0), _Task("m", "b", 0)
    p.incumbent(a, 1.0, 120.0, bound=60.0)   # no reference yet: gap to its bound, 50 %
    p.incumbent(b, 1.0, 105.0)
    assert p._gap["m"] == pytest.approx(0.5)
    p.task_done(a, {"status": "feasible", "objective": 110.0, "bound": 60.0, "reference": 100.0,
                    "runtime": 1.0})
    assert "best gap 4.76%" in con.export_text()  # 105 (task b's incumbent) against 100


def test_an_error_record_without_a_kind_counts_under_its_instances_kind():
    from solverhub.core.report import kind_solver_summary

    other = [{"instance": "x", "solver": "s", "seed": 0, "status": "error", "error": "load failed",
              "runtime": 0.0},
             {"instance": "x", "solver": "s", "seed": 1, "status": "optimal", "objective": 1.0,
              "runtime": 0.5, "problem_kind": "some-continuous-kind", "metrics": {"residual": 0.1}}]
    rows = kind_solver_summary(other)["some-continuous-kind"]
    assert rows[0]["tasks"] == 2 and rows[0]["failures"] == 1
    assert solver_summary(other) == []  # not a primal-gap kind
    mip = [rec(INST_A, "a", 0, [], status="error", error="x"), rec(INST_A, "a", 1, [[1.0, 100.0]])]
    del mip[0]["problem_kind"]
    (row,) = solver_summary(mip)
    assert row["problem_kind"] == "mip" and row["failures"] == 1
