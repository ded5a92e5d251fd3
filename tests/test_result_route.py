"""The typed route of an automatic solver: on the Result, in its JSON, in the run record and in the
CLI's summary table (before, only ``--json`` showed it, as info keys)."""
from __future__ import annotations

import importlib.util
import json

import pytest

import solverhub as sh
from solverhub.core.cli import main
from solverhub.core.taskrecord import TaskRecord

HAS_SCIP = importlib.util.find_spec("pyscipopt") is not None


def test_route_in_the_result_json_and_absent_when_unset():
    r = sh.Result(sh.Status.OPTIMAL, objective=1.0, route=sh.Route("kkt", "the lower level is a QP",
                                                                  "bilevel-kkt"))
    assert r.to_dict()["route"] == {"name": "kkt", "reason": "the lower level is a QP",
                                    "solver": "bilevel-kkt"}
    assert "route" not in sh.Result(sh.Status.OPTIMAL, objective=1.0).to_dict()


def test_route_round_trips_through_the_run_record():
    line = {"instance": "bolib:Bard1988Ex1", "solver": "bilevel-auto", "seed": 0,
            "status": "optimal", "route": {"name": "kkt", "reason": "r", "solver": "bilevel-kkt"}}
    rec = TaskRecord.from_json(json.dumps(line))
    assert rec.route == line["route"] and "route" not in rec.extra
    assert rec.to_dict()["route"] == line["route"]
    assert "route" not in TaskRecord.from_dict({k: v for k, v in line.items()
                                                if k != "route"}).to_dict()


@pytest.mark.skipif(not HAS_SCIP, reason="PySCIPOpt is not installed")
def test_cli_summary_names_the_route(capsys):
    assert main(["solve", "bolib:Bard1988Ex1", "--solver", "bilevel-auto"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("route"))
    assert "kkt (bilevel-kkt)" in row


@pytest.mark.skipif(not HAS_SCIP, reason="PySCIPOpt is not installed")
def test_a_run_records_and_reports_the_routes(tmp_path):
    from solverhub.core.config import parse_config
    from solverhub.core.runfolder import RESULTS, read_results
    from solverhub.core.runner import run_config

    cfg = parse_config({"name": "routes", "instances": ["bolib:Bard1988Ex1", "bolib:YeZhu2010Ex42"],
                        "solvers": {"auto": {"kind": "bilevel-auto",
                                             "options": {"max_iterations": 200}}}})
    out = tmp_path / "run"
    run_config(cfg, out, plots=False)
    routes = {r["instance"]: r["route"]["name"] for r in read_results(out / RESULTS)}
    assert routes == {"bolib:Bard1988Ex1": "kkt", "bolib:YeZhu2010Ex42": "lv-hba"}
    md = (out / "report.md").read_text()
    header = next(line for line in md.splitlines() if line.startswith("| instance | solver | runs"
                                                                      " | status | route"))
    assert header and "| kkt |" in md and "| lv-hba |" in md
    assert "routes" in (out / "summary.csv").read_text().splitlines()[0]
