"""The outcome of a solve (issue 19): the termination condition and solution status behind the
one-word status, the groupings as enum properties, the host's corrections of reported values,
converters that map results back, and time limits counted from the call."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest
import scipy.sparse as sp

import solverhub as sh
from solverhub import SolutionStatus as S
from solverhub import Status
from solverhub import TerminationCondition as T
from solverhub.core.cli import main
from solverhub.core.result import summarize
from solverhub.core.timing import RESERVE_SECONDS


# ------------------------------------------------------------------ the split
@pytest.mark.parametrize("status, x, term, sol", [
    ("optimal", [1.0], T.CONVERGENCE_CRITERIA_SATISFIED, S.OPTIMAL),
    ("feasible", [1.0], T.CONVERGENCE_CRITERIA_SATISFIED, S.FEASIBLE),
    ("time_limit", [1.0], T.MAX_TIME_LIMIT, S.FEASIBLE),
    ("time_limit", None, T.MAX_TIME_LIMIT, S.NO_SOLUTION),
    ("iteration_limit", [1.0], T.ITERATION_LIMIT, S.FEASIBLE),
    ("interrupted", None, T.INTERRUPTED, S.NO_SOLUTION),
    ("infeasible", None, T.PROVEN_INFEASIBLE, S.NO_SOLUTION),
    ("unbounded", None, T.UNBOUNDED, S.NO_SOLUTION),
    ("error", None, T.ERROR, S.NO_SOLUTION),
])
def test_a_status_alone_derives_both_facts(status, x, term, sol):
    r = sh.Result(status, x=None if x is None else np.array(x))
    assert (r.termination, r.solution_status) == (term, sol)
    assert summarize(term, sol) == r.status == status
    d = r.to_dict()
    assert (d["status"], d["termination"], d["solution_status"]) == (status, term.value, sol.value)


def test_a_solver_may_give_the_facts_and_they_must_agree_with_a_status():
    r = sh.Result(termination=T.MAX_TIME_LIMIT, solution_status=S.FEASIBLE, x=np.ones(2))
    assert r.status == "time_limit" and r.has_solution
    r = sh.Result(termination="infeasible_or_unbounded")
    assert r.status == "infeasible" and not r.has_solution
    assert sh.Result("optimal", termination=T.CONVERGENCE_CRITERIA_SATISFIED).solution_status == "optimal"
    with pytest.raises(ValueError, match="contradicts"):
        sh.Result("feasible", termination=T.MAX_TIME_LIMIT)
    with pytest.raises(ValueError, match="status or a termination"):
        sh.Result()


def test_assigning_one_fact_restates_the_others():
    r = sh.Result("optimal", objective=1.0, x=np.ones(1))
    r.status = Status.FEASIBLE            # a downgrade: the solver still ended normally
    assert r.termination == T.CONVERGENCE_CRITERIA_SATISFIED and r.solution_status == S.FEASIBLE
    r.status = Status.INTERRUPTED         # Ctrl-C with an incumbent
    assert r.termination == T.INTERRUPTED and r.solution_status == S.FEASIBLE
    r.status = Status.ERROR
    assert r.termination == T.ERROR and r.solution_status == S.NO_SOLUTION
    r.termination = T.MAX_TIME_LIMIT
    assert r.status == Status.TIME_LIMIT
    r.solution_status = S.FEASIBLE
    assert r.status == Status.TIME_LIMIT and r.has_solution


def test_groupings_are_properties_of_the_enums():
    assert {s for s in Status if s.is_final} == {Status.OPTIMAL, Status.INFEASIBLE, Status.UNBOUNDED}
    assert {s for s in Status if s.is_limit} == {Status.TIME_LIMIT, Status.ITERATION_LIMIT,
                                                 Status.INTERRUPTED}
    assert {s for s in Status if s.counts_as_solved} == {Status.OPTIMAL}
    assert {s for s in Status if s.rerun_on_resume} == {Status.INTERRUPTED}
    assert not Status.INFEASIBLE.has_solution_possible and Status.TIME_LIMIT.has_solution_possible
    assert {s for s in S if s.has_solution} == {S.FEASIBLE, S.OPTIMAL}
    assert {t for t in T if t.is_limit} == {T.MAX_TIME_LIMIT, T.ITERATION_LIMIT, T.INTERRUPTED}
    assert T.PROVEN_INFEASIBLE.is_conclusion and not T.MAX_TIME_LIMIT.is_conclusion
    # every pair has a summary, and a status's own facts give it back
    for t in T:
        for s in S:
            assert isinstance(summarize(t, s), Status)
    for st in Status:
        assert summarize(st.termination, sh.Result(st, x=np.ones(1)).solution_status) == st


# ------------------------------------------------------------------ real solvers at a limit
HARD = "generate:independent_set?n_nodes=1500&seed=1"


@pytest.mark.parametrize("solver", ["highs", "ortools-scip"])
def test_a_mip_solver_at_its_time_limit_with_an_incumbent_reports_time_limit(solver):
    if solver not in sh.get_plugin_manager().solvers():
        pytest.skip(f"{solver} not registered")
    res = sh.solve(HARD, solver=solver, time_limit=3)
    # the docs' contract: the limit is the status, the incumbent is a feasible solution
    assert res.status == "time_limit" and res.termination == "max_time_limit", res.status
    assert res.solution_status == "feasible" and res.x is not None and res.info["verified"]


def test_highs_node_limit_is_an_iteration_limit_with_the_incumbent():
    res = sh.solve("generate:multiple_knapsack?n_items=60&n_knapsacks=5&seed=1", solver="highs",
                   time_limit=60, node_limit=1)
    assert res.status == "iteration_limit" and res.solution_status == "feasible"
    assert res.x is not None


# ------------------------------------------------------------------ the host's corrections
def _tiny_mip() -> sh.MIPProblem:
    """max x0 + 2 x1  s.t.  x0 + x1 <= 1.5, binary: optimum x = (0, 1), value 2."""
    return sh.MIPProblem(c=np.array([1.0, 2.0]), A=sp.csr_matrix([[1.0, 1.0]]),
                         row_lower=np.array([-np.inf]), row_upper=np.array([1.5]),
                         col_lower=np.zeros(2), col_upper=np.ones(2),
                         integrality=np.ones(2, dtype=bool), sense=sh.MAX, name="tiny")


class _Misreporting:
    """Returns the optimum's x with a wrong objective (an offset forgotten, say)."""

    def solve(self, problem, *, time_limit=None, seed=0, notifier=None):
        return sh.Result("optimal", objective=7.0, bound=7.0, x=np.array([0.0, 1.0]))


class _BudgetRecorder:
    handed: list = []

    def solve(self, problem, *, time_limit=None, seed=0, notifier=None):
        _BudgetRecorder.handed.append((time_limit, time.perf_counter()))
        return sh.Result("optimal", objective=problem.evaluate(np.array([0.0, 1.0])), bound=2.0,
                         x=np.array([0.0, 1.0]))


class _Pair:
    """A custom kind solved through a MIP converter whose inverse fails."""

    kind = "test-pair"
    name = "pair"

    def __init__(self, fail: bool) -> None:
        self.fail = fail


def _pair_to_mip(p: _Pair) -> sh.MIPProblem:
    return _tiny_mip()


def _mip_to_pair(p: _Pair, mip, result):
    if p.fail:
        raise KeyError("column map lost")
    result.x = result.x[::-1].copy()   # the pair lists the columns the other way round
    return result


class _StatusPlugin:
    @sh.hookimpl
    def solverhub_problem_kinds(self):
        return [sh.ProblemKind("test-pair", _Pair, "two binaries, reversed")]

    @sh.hookimpl
    def solverhub_converters(self):
        return [sh.Converter("test-pair-to-mip", "test-pair", "mip", _pair_to_mip,
                             invert=_mip_to_pair)]

    @sh.hookimpl
    def solverhub_solvers(self):
        return [sh.SolverSpec("test-misreport", "mip", _Misreporting),
                sh.SolverSpec("test-budget", "mip", _BudgetRecorder)]


@pytest.fixture
def status_plugin():
    pm = sh.get_plugin_manager()
    pm.register_plugin(_StatusPlugin(), name="test-status-plugin")
    yield pm
    pm.unregister_plugin("test-status-plugin")


def test_a_replaced_objective_leaves_a_correction(status_plugin):
    res = sh.solve(_tiny_mip(), solver="test-misreport")
    assert res.objective == 2.0 and res.status == "optimal"
    (c,) = [c for c in res.corrections if c.field == "objective"]
    assert (c.reported, c.recomputed) == (7.0, 2.0) and "mip kind" in c.reason
    assert res.to_dict()["corrections"][0] == {"field": "objective", "reported": 7.0,
                                                "recomputed": 2.0, "reason": c.reason}
    # an honest solver leaves none
    assert not sh.solve(_tiny_mip(), solver="highs").corrections


def test_a_correction_is_in_the_cli_json(status_plugin, tmp_path, capsys):
    path = _write_lp(tmp_path)
    assert main(["solve", str(path), "--solver", "test-misreport", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["objective"] == 2.0 and d["corrections"][0]["reported"] == 7.0
    assert d["termination"] == "convergence_criteria_satisfied" and d["solution_status"] == "optimal"


class _Point:
    """A tolerance-checked kind: x must be near ``target``; optimality needs a residual < 1e-6."""

    kind = "test-point"
    name = "point"

    def __init__(self) -> None:
        self.target = np.array([1.0, 2.0])

    def evaluate(self, x) -> float:
        return float(np.sum((np.asarray(x) - self.target) ** 2))


class _PointKind(sh.KindProtocol):
    def verify(self, problem, x):
        residual = float(np.max(np.abs(np.asarray(x) - problem.target)))
        return sh.Verification(True, x=np.asarray(x), objective=problem.evaluate(x),
                               residuals={"residual": residual}, optimal_ok=residual < 1e-6,
                               message=f"residual {residual:.3g}")


class _Inexact:
    def solve(self, problem, *, time_limit=None, seed=0, notifier=None):
        x = problem.target + 1e-3
        return sh.Result("optimal", objective=problem.evaluate(x), x=x)


class _PointPlugin:
    @sh.hookimpl
    def solverhub_problem_kinds(self):
        return [sh.ProblemKind("test-point", _Point, "a point", protocol=_PointKind())]

    @sh.hookimpl
    def solverhub_solvers(self):
        return [sh.SolverSpec("test-point-inexact", "test-point", _Inexact)]


def test_an_unsupported_optimality_claim_is_a_status_correction():
    pm = sh.get_plugin_manager()
    pm.register_plugin(_PointPlugin(), name="test-point-plugin")
    try:
        res = sh.solve(_Point(), solver="test-point-inexact")
    finally:
        pm.unregister_plugin("test-point-plugin")
    assert res.status == "feasible" and res.termination == "convergence_criteria_satisfied"
    assert res.solution_status == "feasible"
    (c,) = [c for c in res.corrections if c.field == "status"]
    assert (c.reported, c.recomputed) == ("optimal", "feasible") and "residual" in c.reason


# ------------------------------------------------------------------ converters map back
def test_a_converted_result_comes_back_in_the_source_form(status_plugin):
    res = sh.solve(_Pair(fail=False), solver="highs")
    assert res.status == "optimal" and res.kind == "test-pair"
    assert list(res.x) == [1.0, 0.0]          # the pair's order, not the MIP's
    assert res.conversion.converter == "test-pair-to-mip" and res.conversion.target_kind == "mip"
    assert "max_row_violation" in res.conversion.target_metrics   # the MIP check's residuals
    assert res.to_dict()["conversion"]["source_kind"] == "test-pair"


def test_a_failing_inverse_is_an_error_naming_the_converter(status_plugin):
    res = sh.solve(_Pair(fail=True), solver="highs")
    assert res.status == "error" and res.x is None and res.objective is None
    assert "test-pair-to-mip" in res.error and "column map lost" in res.error


def test_a_pyomo_model_solved_as_a_mip_is_checked_and_measured_as_its_compiled_form():
    pyo = pytest.importorskip("pyomo.environ")
    m = pyo.ConcreteModel()
    m.x = pyo.Var([0, 1], domain=pyo.Binary)
    m.c = pyo.Constraint(expr=m.x[0] + m.x[1] <= 1.5)
    m.o = pyo.Objective(expr=m.x[0] + 2 * m.x[1], sense=pyo.maximize)
    res = sh.solve(m, solver="highs", reference=2.0)
    assert res.status == "optimal" and res.objective == 2.0 and res.kind == "pyomo"
    assert res.conversion.converter == "pyomo-to-mip"
    assert res.metrics["primal_gap"] == 0.0 and "max_row_violation" in res.metrics
    assert pyo.value(m.x[1]) == 1.0 and not res.corrections


# ------------------------------------------------------------------ time from the call
def _write_lp(tmp_path):
    path = tmp_path / "tiny.lp"
    path.write_text("Maximize\n obj: x0 + 2 x1\nSubject To\n c: x0 + x1 <= 1.5\n"
                    "Binary\n x0 x1\nEnd\n")
    return path


def test_cli_solve_late_in_a_long_lived_process_gets_its_whole_budget(status_plugin, tmp_path,
                                                                      capsys):
    """`solverhub solve` used to count the process's age against --time-limit: called in a
    process that had run for a while (this test session), the solver got 0.01 s. The budget
    handed to the solver is the limit less what the call itself spent before the solve."""
    path = _write_lp(tmp_path)
    _BudgetRecorder.handed.clear()
    limit = 50.0
    called = time.perf_counter()
    assert main(["solve", str(path), "--solver", "test-budget", "--time-limit", str(limit),
                 "--json"]) == 0
    (handed, at), = _BudgetRecorder.handed
    spent_by_the_call = at - called
    assert handed >= limit - spent_by_the_call - RESERVE_SECONDS - 1e-6
    assert handed <= limit - RESERVE_SECONDS
    assert json.loads(capsys.readouterr().out)["status"] == "optimal"


def test_api_solve_budget_counts_from_its_call(status_plugin):
    _BudgetRecorder.handed.clear()
    called = time.perf_counter()
    sh.solve(_tiny_mip(), solver="test-budget", time_limit=30.0)
    (handed, at), = _BudgetRecorder.handed
    assert handed >= 30.0 - (at - called) - RESERVE_SECONDS - 1e-6
    assert math.isfinite(handed)


def test_a_run_record_carries_both_facts_and_the_corrections(status_plugin, tmp_path):
    from solverhub.core.runner import run_task

    path = _write_lp(tmp_path)
    task = {"instance": str(path), "solver": "mis", "kind": "test-misreport", "seed": 0,
            "time_limit": 10.0, "options": {}}
    rec = run_task(task)
    assert (rec["status"], rec["termination"], rec["solution_status"]) == \
        ("optimal", "convergence_criteria_satisfied", "optimal")
    assert rec["corrections"][0]["field"] == "objective" and rec["objective"] == 2.0
    json.dumps(rec.to_dict(), allow_nan=False)  # a TaskRecord: one results.jsonl line
    bad = run_task({**task, "instance": str(tmp_path / "missing.lp")})
    assert (bad["status"], bad["termination"], bad["solution_status"]) == \
        ("error", "error", "no_solution")


@pytest.mark.parametrize("rule, status, termination", [
    ({"no_improvement": 1}, "feasible", "convergence_criteria_satisfied"),
    ({"max_iterations": 1}, "iteration_limit", "iteration_limit"),
])
def test_balans_reports_the_rule_that_ended_its_search(rule, status, termination):
    res = sh.solve("generate:multiple_knapsack?n_items=60&n_knapsacks=5&seed=1", solver="balans",
                   time_limit=60, seed=0, rel_gap=0.0, sub_time_limit=0.5, **rule)
    if res.status == "optimal":   # proved before the rule fired: nothing to check here
        pytest.skip("balans proved optimality first")
    assert (res.status, res.termination, res.solution_status) == (status, termination, "feasible")
