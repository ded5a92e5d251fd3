"""The run record (``TaskRecord``, one ``results.jsonl`` line) and what reports and resumes make of
the lines: old lines still read, malformed lines named and never counted, tasks matched on their
full identity across folders, solvers ranked over the instances all of them ran, a custom kind
ranked by its primary metric, the kind of an instance independent of line order; an unwritable
output folder is exit 2 naming it; ``--resume --retry-errors`` runs infrastructure failures again
(and every error with ``all``)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from solverhub.core.cli import main
from solverhub.core.config import parse_config
from solverhub.core.report import kind_of, kind_solver_summary, latest, record_warnings, solver_summary
from solverhub.core.runfolder import RESULTS, read_results, read_task_records
from solverhub.core.runner import run_config
from solverhub.core.taskrecord import MalformedRecordError, TaskRecord

GEN = "generate:set_cover?rows=30&cols=60&density=0.1&seed=1"
INST_A = "generate:set_cover?rows=30&cols=60&density=0.1&seed=1"
INST_B = "generate:set_cover?rows=30&cols=60&density=0.1&seed=2"


def rec(inst, solver, seed, obj, *, time_limit=10.0, options=None, status="feasible",
        version="1.0", kind="mip", **kw):
    d = {"instance": inst, "instance_name": inst[-6:], "solver": solver, "solver_name": solver,
         "seed": seed, "time_limit": time_limit, "options": options or {}, "status": status,
         "objective": obj, "bound": None, "runtime": 1.0, "trajectory": [[1.0, obj]] if obj else [],
         "reference": 100.0, "sense": 1, "problem_kind": kind,
         "versions": {"solverhub": version}, "plugin": {"name": "p", "version": version}}
    d.update(kw)
    return d


def folder(tmp_path: Path, name: str, lines: list) -> Path:
    d = tmp_path / name
    d.mkdir()
    (d / RESULTS).write_text("".join((ln if isinstance(ln, str) else json.dumps(ln)) + "\n"
                                     for ln in lines))
    return d


# ---------------------------------------------------------------------- the record
def test_a_record_round_trips_and_an_old_line_reads_its_solver_name_from_kind():
    r = TaskRecord.from_dict(rec(GEN, "h", 0, 101.0, extra_key=[1, 2]))
    assert r.solver_name == "h" and r.extra == {"extra_key": [1, 2]}
    assert TaskRecord.from_dict(r.to_dict()) == r
    assert "kind" not in r.to_dict()  # one meaning per name: the solver name is solver_name
    old = {"instance": GEN, "solver": "lab", "kind": "highs", "seed": 1, "status": "optimal",
           "objective": 3.0, "problem_kind": "mip"}
    o = TaskRecord.from_dict(old)
    assert o.solver_name == "highs" and o.problem_kind == "mip" and o.extra == {}
    assert o["objective"] == 3.0 and o.get("nope", 7) == 7  # the mapping view plots read


@pytest.mark.parametrize("line, culprit", [
    ({}, "no 'instance', 'solver', 'seed'"),
    ({"instance": GEN, "solver": "h"}, "no 'seed'"),
    ({"instance": GEN, "solver": None, "seed": 0}, "'solver' must be a non-empty string"),
    ({"instance": GEN, "solver": "h", "seed": "0"}, "'seed' must be an integer"),
    ({"instance": GEN, "solver": "h", "seed": 0, "options": [1]}, "'options' must be an object"),
])
def test_a_malformed_record_is_refused_naming_the_culprit(line, culprit):
    with pytest.raises(MalformedRecordError, match=rf"x.jsonl line 3: .*{culprit}"):
        TaskRecord.from_dict(line, where="x.jsonl line 3")


def test_an_empty_object_line_is_named_and_never_a_solver(tmp_path, capsys):
    good = [rec(INST_A, "a", 0, 100.0), rec(INST_A, "b", 0, 110.0)]
    d = folder(tmp_path, "run", [good[0], "{}", good[1]])
    problems: list[str] = []
    recs = read_task_records(d / RESULTS, problems=problems)
    assert [r.solver for r in recs] == ["a", "b"]
    assert len(problems) == 1 and f"{d / RESULTS} line 2" in problems[0]
    assert main(["report", str(d)]) == 0
    captured = capsys.readouterr()
    assert "line 2: not a task record" in captured.err
    rows = list(csv.DictReader(io.StringIO((d / "solvers.csv").read_text())))
    assert sorted(r["solver"] for r in rows) == ["a", "b"]  # no solver "None"
    md = (d / "report.md").read_text()
    assert md.count("2 tasks, 0 failed") == 1 and "## Warnings" in md and "line 2" in md
    # through the Python API, a record that is no task record is refused, naming it
    from solverhub.core.report import summarize

    with pytest.raises(MalformedRecordError, match=r"record 2: not a task record"):
        summarize([good[0], {}])


# ---------------------------------------------------------------------- identity
def test_folders_that_ran_a_label_differently_are_not_merged(tmp_path, capsys):
    """A 4 s and a 5 s HiGHS run are two tasks: both shown, named apart, and a warning."""
    a = folder(tmp_path, "a", [rec(INST_A, "highs", 0, 105.0, time_limit=4.0),
                               rec(INST_A, "balans", 0, 101.0, time_limit=4.0)])
    b = folder(tmp_path, "b", [rec(INST_A, "highs", 0, 100.0, time_limit=5.0)])
    recs = read_task_records(a / RESULTS) + read_task_records(b / RESULTS)
    labels = sorted(r.solver for r in latest(recs))
    assert labels == ["balans", "highs [time limit 4 s]", "highs [time limit 5 s]"]
    warns = record_warnings(recs)
    assert any("'highs' ran with 2 different settings" in w for w in warns)
    assert any("different time limits (4 s, 5 s)" in w for w in warns)
    out = tmp_path / "both"
    assert main(["report", str(a), str(b), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "warning: solver 'highs' ran with 2 different settings" in err
    rows = {r["solver"]: r for r in csv.DictReader(io.StringIO((out / "solvers.csv").read_text()))}
    assert set(rows) == {"balans", "highs [time limit 4 s]", "highs [time limit 5 s]"}
    # options and code versions set labels apart too; the same identity twice counts once
    recs = [TaskRecord.from_dict(x) for x in (
        rec(INST_A, "h", 0, 105.0, options={"presolve": "on"}),
        rec(INST_A, "h", 0, 104.0, options={"presolve": "off"}),
        rec(INST_A, "h", 0, 103.0, options={"presolve": "off"}),
        rec(INST_A, "g", 0, 103.0, version="1.0"), rec(INST_A, "g", 0, 102.0, version="2.0"))]
    got = {r.solver: r.objective for r in latest(recs)}
    assert got == {'h [presolve="on"]': 105.0, 'h [presolve="off"]': 103.0,
                   "g [solverhub 1.0, p 1.0]": 103.0, "g [solverhub 2.0, p 2.0]": 102.0}


def test_a_line_the_runner_wrote_for_a_dead_worker_is_the_same_task_as_its_retry():
    """Lines without resolved options or versions (a worker that died, before TaskRecord) are
    the same task as a solved line whose setting includes theirs: the later line counts."""
    dead = {"instance": INST_A, "solver": "h", "kind": "highs", "seed": 0, "time_limit": 10.0,
            "options": {}, "status": "error", "error": "the worker process died"}
    solved = rec(INST_A, "h", 0, 100.0, options={"presolve": "on"})
    (r,) = latest([dead, solved])
    assert r.solver == "h" and r.status == "feasible"
    assert record_warnings([dead, solved]) == []


def test_solvers_are_ranked_over_the_instances_all_of_them_ran():
    recs = [rec(INST_A, "a", 0, 100.0), rec(INST_A, "b", 0, 101.0),
            rec(INST_B, "a", 0, 200.0)]  # b never ran B: a's poor B must not count against a
    rows = {r["solver"]: r for r in solver_summary(recs)}
    assert rows["a"]["rank"] == 1 and rows["b"]["rank"] == 2 and rows["a"]["wins"] == 1
    assert rows["a"]["instances"] == 1 and rows["a"]["other_tasks"] == 1
    assert rows["a"]["tasks"] == 1 and rows["b"]["other_tasks"] == 0
    from solverhub.core.report import report_markdown

    md = report_markdown(recs)
    assert "tasks on other instances, not ranked: a 1" in md
    # no instance in common: nothing ranked
    rows = solver_summary([rec(INST_A, "a", 0, 110.0), rec(INST_B, "b", 0, 100.0)])
    assert [r["rank"] for r in rows] == [None, None]


def test_a_plain_label_does_not_join_another_configs_grid():
    from solverhub.core.report import report_markdown

    recs = [rec(INST_A, "balans[x=1]", 0, 100.0, group="balans"),
            rec(INST_A, "balans[x=2]", 0, 101.0, group="balans"),
            rec(INST_A, "balans", 0, 102.0)]
    md = report_markdown(recs)
    grid = md.split("### Grid `balans`")[1].split("##")[0]
    assert "balans[x=1]" in grid and "balans[x=2]" in grid and "| balans |" not in grid
    rows = {r["solver"]: r for r in solver_summary(recs)}
    assert rows["balans"]["rank_in_group"] == 1 and rows["balans[x=2]"]["rank_in_group"] == 2


# ---------------------------------------------------------------------- kinds
def test_an_instances_kind_does_not_depend_on_line_order():
    recs = [TaskRecord.from_dict(x) for x in (
        rec(INST_A, "a", 0, 1.0, kind="mip"), rec(INST_A, "b", 0, 1.0, kind="other"),
        rec(INST_A, "c", 0, 1.0, kind="other"))]
    assert kind_of(recs) == kind_of(recs[::-1]) == "other"
    tie = recs[:2]
    assert kind_of(tie) == kind_of(tie[::-1]) == "mip"


def test_a_custom_kind_is_ranked_by_its_primary_metric(monkeypatch):
    from solverhub.core import report
    from solverhub.core.kinds import MetricSpec

    specs = (MetricSpec("residual", "", "lower"), MetricSpec("accuracy", "", "higher"))

    class Proto:
        metrics = specs
        primary_metric = "accuracy"

    monkeypatch.setattr(report, "metric_specs", lambda kind: specs if kind == "fit" else ())
    monkeypatch.setattr(report, "_kind_protocol_attr",
                        lambda kind, name: getattr(Proto, name) if kind == "fit" else None)
    recs = [rec(INST_A, "lo-acc", 0, 1.0, kind="fit", metrics={"residual": 1e-9, "accuracy": 0.7}),
            rec(INST_A, "hi-acc", 0, 1.0, kind="fit", metrics={"residual": 1e-3, "accuracy": 0.9})]
    (rows,) = kind_solver_summary(recs).values()
    assert [(r["solver"], r["rank"]) for r in rows] == [("hi-acc", 1), ("lo-acc", 2)]
    assert rows[0]["primary_metric"] == "accuracy"
    Proto.primary_metric = None  # the first declared metric then
    (rows,) = kind_solver_summary(recs).values()
    assert [r["solver"] for r in rows] == ["lo-acc", "hi-acc"]


# ---------------------------------------------------------------------- the run folder
def test_an_output_folder_that_cannot_be_made_is_exit_2_naming_it(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'name = "t"\ninstances = ["{GEN}"]\n[solvers.highs]\nkind = "highs"\n')
    assert main(["run", str(cfg), "--out", str(blocker / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(blocker / "run") in err[0] and "internal error" not in err[0]


def test_a_full_disk_mid_run_names_the_results_file(tmp_path, monkeypatch):
    import errno

    from solverhub.core.runfolder import ResultWriter
    from solverhub.core.runner import RunFolderError

    def full(self, record):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ResultWriter, "write", full)
    cfg = parse_config({"name": "t", "instances": [GEN], "time_limit": 10,
                        "solvers": {"highs": {"kind": "highs"}}})
    with pytest.raises(RunFolderError, match=rf"{tmp_path / 'run' / RESULTS}: could not record .* "
                                             rf"the disk is full.*--resume"):
        run_config(cfg, tmp_path / "run", plots=False)


def test_resume_retry_errors_runs_infrastructure_failures_again(tmp_path, capsys):
    cfg = parse_config({"name": "t", "instances": [INST_A, INST_B], "time_limit": 10,
                        "solvers": {"highs": {"kind": "highs"}}})
    out = tmp_path / "run"
    run_config(cfg, out, plots=False)
    lines = read_results(out / RESULTS)
    assert [r["status"] for r in lines] == ["optimal", "optimal"]
    assert "solver_name" in lines[0] and "kind" not in lines[0]
    # as if A's worker had died twice and B's solver had failed
    lines[0].update(status="error", objective=None, error="the worker process died",
                    error_origin="infrastructure")
    lines[1].update(status="error", objective=None, error="boom", error_origin="solver")
    (out / RESULTS).write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert run_config(cfg, out, resume=True, plots=False).finished == 0
    s = run_config(cfg, out, resume=True, retry_errors="infrastructure", plots=False)
    assert s.finished == 1 and s.records[-1].instance == INST_A and s.records[-1].status == "optimal"
    s = run_config(cfg, out, resume=True, retry_errors="all", plots=False)
    assert s.finished == 1 and s.records[-1].instance == INST_B
    assert [r["status"] for r in read_results(out / RESULTS)][-2:] == ["optimal", "optimal"]
    assert main(["run", "--out", str(out), "--retry-errors"]) == 2  # needs --resume
    assert "--retry-errors needs --resume" in capsys.readouterr().err
    assert main(["run", "--out", str(out), "--resume", "--retry-errors", "all"]) == 0
