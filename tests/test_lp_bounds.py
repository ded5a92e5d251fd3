"""Objective and bound on pure LPs (no integer columns), checked against HiGHS run directly; and
error results that carry no numbers.

The hand-written LPs in tests/data/lp exercise what Netlib does (RANGES on E/L/G rows with both
signs, an objective constant, free rows, every bound type, OBJSENSE MAX, infeasible, unbounded);
each file states its optimum, worked out by hand. benchmarks/bench_lp_bounds.py runs the same
comparison on MIPLIB 3 relaxations (table in docs/benchmarks.md).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import solverhub as sh
from solverhub.core.errors import BadInputError
from tests.conftest import miplib

LP_DIR = Path(__file__).resolve().parent / "data" / "lp"

#: every registered MIP solver that takes continuous columns (ortools-sat refuses them)
LP_SOLVERS = ["highs", "ortools-scip", "balans"]

#: file -> (status, optimum worked out by hand: see the comments in each file)
HAND = {
    "ranges": ("optimal", -11.0),
    "objconst": ("optimal", 1.5),
    "bounds": ("optimal", -5.5),
    "maxsense": ("optimal", 44.0 / 3.0),
    "infeasible": ("infeasible", None),
    "unbounded": ("unbounded", None),
}

_DIRECT = {"kOptimal": "optimal", "kInfeasible": "infeasible", "kUnbounded": "unbounded"}


def direct_highs(path: Path, relax: bool = False) -> tuple[str, float | None]:
    """(status, objective) of ``path`` read and solved by highspy alone (relaxed: integrality
    dropped)."""
    import highspy

    h = highspy.Highs()
    h.silent()
    assert h.readModel(str(path)) != highspy.HighsStatus.kError
    if relax:
        lp = h.getLp()
        lp.integrality_ = []
        h.passModel(lp)
    h.run()
    name = h.getModelStatus().name
    status = _DIRECT.get(name, name)
    obj = float(h.getInfo().objective_function_value) if status == "optimal" else None
    h.clear()
    return status, obj


def close(a: float, b: float, rtol: float = 1e-7) -> bool:
    return abs(a - b) <= rtol * max(1.0, abs(a), abs(b))


def check_lp_result(res: sh.Result, status: str, objective: float | None) -> None:
    assert res.status == status, (res.status, res.error, res.info.get("warning"))
    if status == "optimal":
        assert res.objective is not None and close(res.objective, objective), res.objective
        # the bound of an LP at optimality is its dual objective, i.e. the objective
        assert res.bound is not None and close(res.bound, res.objective), (res.bound, res.objective)
        assert res.gap is not None and res.gap <= 1e-7
    else:
        assert res.objective is None and res.bound is None and res.x is None


@pytest.mark.parametrize("solver", LP_SOLVERS)
@pytest.mark.parametrize("name", sorted(HAND))
def test_hand_written_lp(name: str, solver: str) -> None:
    path = LP_DIR / f"{name}.mps"
    status, optimum = HAND[name]
    d_status, d_obj = direct_highs(path)
    assert d_status == status  # HiGHS reads the file as its comments say
    if optimum is not None:
        assert close(d_obj, optimum)
    res = sh.solve(path, solver=solver, time_limit=30)
    check_lp_result(res, status, d_obj)


@pytest.mark.parametrize("solver", LP_SOLVERS)
def test_lp_json_bound(solver: str, capsys) -> None:
    """What the CLI prints: the bound of an LP next to its objective."""
    from solverhub.core.cli import main

    assert main(["solve", str(LP_DIR / "maxsense.mps"), "--solver", solver, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["status"] == "optimal"
    assert close(d["objective"], 44.0 / 3.0) and close(d["bound"], 44.0 / 3.0)


@pytest.mark.parametrize("solver", LP_SOLVERS)
def test_negative_up_bound_alone_is_refused(solver: str) -> None:
    """A negative UP bound alone: MPS readers disagree on the lower bound (see the file; HiGHS
    keeps 0 and so reads an empty range). solverhub refuses the file, naming the column and line,
    rather than solve a model its author may not have meant."""
    with pytest.raises(BadInputError, match=r"negative_up.mps:15: .*UP bound -2 < 0 on column 'A'"):
        sh.solve(LP_DIR / "negative_up.mps", solver=solver, time_limit=30)


@pytest.mark.parametrize("solver", LP_SOLVERS)
@pytest.mark.parametrize("name", ["p0033", "egout", "vpm2"])
def test_miplib_relaxation(name: str, solver: str) -> None:
    path = miplib(name)
    d_status, d_obj = direct_highs(path, relax=True)
    p = sh.load_problem(path)
    p.integrality = np.zeros(p.n, dtype=bool)
    check_lp_result(sh.solve(p, solver=solver, time_limit=60), d_status, d_obj)


def test_ortools_sat_refuses_an_lp() -> None:
    with pytest.raises(BadInputError, match="continuous"):
        sh.solve(LP_DIR / "ranges.mps", solver="ortools-sat", time_limit=10)


@pytest.mark.parametrize("name", ["ranges", "maxsense"])
def test_highs_bound_at_a_limit_is_a_bound(name: str) -> None:
    """Stopped by an iteration limit, HiGHS gives a bound only from a feasible dual solution, and
    it never lies past the optimum (the MIP bound it used to report was 0 on every LP)."""
    status, optimum = HAND[name]
    sense = -1 if name == "maxsense" else 1
    seen = 0
    for it in range(4):
        res = sh.solve(LP_DIR / f"{name}.mps", solver="highs", presolve="off",
                       highs_options={"simplex_iteration_limit": it})
        if res.bound is not None:
            seen += 1
            assert sense * res.bound <= sense * optimum + 1e-9, (it, res.bound)
    assert seen  # a limit that left a feasible dual solution was met


def test_highs_relaxation_bound_is_the_dual_objective() -> None:
    from solverhub.plugins.highs.backend import HighsBackend

    p = sh.load_problem(miplib("p0033"))
    b = HighsBackend(p)
    try:
        lp = b.solve_relaxation()
    finally:
        b.close()
    _, d_obj = direct_highs(miplib("p0033"), relax=True)
    assert lp.status == "optimal" and close(lp.objective, d_obj) and close(lp.bound, d_obj)


class _DualsOf:
    """A HiGHS object seen through ``lagrangian_bound``/``lp_bound``, with duals of our choosing."""

    def __init__(self, h, row_dual, dual_valid=True, dual_status=2):
        self._h, self._y, self._ok, self._st = h, list(row_dual), dual_valid, dual_status

    def getSolution(self):
        from types import SimpleNamespace

        return SimpleNamespace(dual_valid=self._ok, row_dual=self._y)

    def getInfo(self):
        from types import SimpleNamespace

        return SimpleNamespace(dual_solution_status=self._st)

    def __getattr__(self, name):  # getLp, getOptionValue
        return getattr(self._h, name)


def _p0033_relaxation():
    import highspy

    h = highspy.Highs()
    h.silent()
    h.readModel(str(miplib("p0033")))
    lp = h.getLp()
    lp.integrality_ = []
    h.passModel(lp)
    h.run()
    return h, float(h.getInfo().objective_function_value)


def test_lagrangian_bound_holds_for_any_duals() -> None:
    """The bound is a Lagrangian bound: valid for every choice of row duals (p0033's rows are all
    <= and its columns bounded, so any y <= 0 gives a finite one), exact at HiGHS's duals, -inf
    (None) for a sign that an infinite row side forbids."""
    from solverhub.plugins.highs.lpbound import lagrangian_bound

    h, optimum = _p0033_relaxation()
    y_opt = np.asarray(h.getSolution().row_dual)
    assert close(lagrangian_bound(_DualsOf(h, y_opt)), optimum, 1e-12)
    rng = np.random.default_rng(0)
    for _ in range(20):
        y = -rng.exponential(rng.choice([0.1, 10.0, 1000.0]), size=y_opt.size)
        b = lagrangian_bound(_DualsOf(h, y))
        assert b is not None and b <= optimum + 1e-9 * abs(optimum)
    assert lagrangian_bound(_DualsOf(h, np.abs(y_opt) + 1.0)) is None
    assert lagrangian_bound(_DualsOf(h, y_opt, dual_valid=False)) is None


def test_lp_bound_when_the_duals_do_not_back_optimal() -> None:
    """kOptimal whose duals do not give the objective: the objective is the bound when HiGHS says
    its dual is feasible (to its own tolerance, as with PDLP), otherwise optimality is not
    proved."""
    from solverhub.plugins.highs.lpbound import lp_bound

    h, optimum = _p0033_relaxation()
    y = np.asarray(h.getSolution().row_dual)
    assert lp_bound(_DualsOf(h, y), "kOptimal", optimum, 1) == (pytest.approx(optimum), None, True)
    bad = np.abs(y) + 1.0   # wrong signs: no finite bound
    bound, note, proved = lp_bound(_DualsOf(h, bad), "kOptimal", optimum, 1)
    assert (bound, proved) == (optimum, True) and "feasible dual" in note
    bound, note, proved = lp_bound(_DualsOf(h, bad, dual_status=1), "kOptimal", optimum, 1)
    assert bound is None and not proved and "not proved" in note
    weak = 0.5 * y         # valid but weaker: kept, not proved
    bound, note, proved = lp_bound(_DualsOf(h, weak, dual_status=1), "kOptimal", optimum, 1)
    assert bound is not None and bound < optimum - 1.0 and not proved
    assert lp_bound(_DualsOf(h, y, dual_status=1), "kTimeLimit", None, 1) == (None, None, True)
    assert lp_bound(_DualsOf(h, y), "kInfeasible", None, 1) == (None, None, True)


@pytest.mark.parametrize("solver", LP_SOLVERS)
def test_pyomo_lp_objective_bound(solver: str) -> None:
    pyo = pytest.importorskip("pyomo.environ")
    from pyomo.contrib.solver.common.factory import SolverFactory

    import solverhub  # noqa: F401  (registers the solverhub_* solvers)

    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 3))
    m.y = pyo.Var(within=pyo.NonNegativeReals)
    m.c1 = pyo.Constraint(expr=m.x + m.y <= 4)
    m.c2 = pyo.Constraint(expr=-1 <= m.x - m.y)
    m.obj = pyo.Objective(expr=-3 * m.x - 2 * m.y + 12.5)
    res = SolverFactory(f"solverhub_{solver}").solve(m)
    assert close(res.incumbent_objective, 1.5)
    assert close(res.objective_bound, res.incumbent_objective)
    m.obj.sense = pyo.maximize  # max -3x - 2y + 12.5: x = y = 0
    res = SolverFactory(f"solverhub_{solver}").solve(m)
    assert close(res.incumbent_objective, 12.5) and close(res.objective_bound, 12.5)


# ---------------------------------------------------------------------- error results
class _WrongSolver:
    """Claims optimal for a point that violates the model."""

    def solve(self, problem, *, time_limit=None, seed=0, notifier=None):
        x = np.full(problem.n, 1e6)
        return sh.Result(sh.Status.OPTIMAL, objective=-42.0, bound=-42.0, x=x,
                         trajectory=[(0.1, -42.0)])


@pytest.fixture
def wrong_solver():
    from solverhub import SolverSpec, hookimpl
    from solverhub.core.manager import get_plugin_manager

    class Plugin:
        @hookimpl
        def solverhub_solvers(self):
            return [SolverSpec("test-wrong-x", "mip", _WrongSolver)]

    pm = get_plugin_manager()
    pm.register_plugin(Plugin(), name="test-wrong-x-plugin")
    try:
        yield "test-wrong-x"
    finally:
        pm.unregister_plugin("test-wrong-x-plugin")


def test_failed_verification_carries_no_numbers(wrong_solver) -> None:
    res = sh.solve(LP_DIR / "ranges.mps", solver=wrong_solver, reference=-11.0)
    assert res.status == "error" and "feasibility check" in res.error
    assert res.objective is None and res.bound is None and res.x is None
    assert res.primal_integral is None
    # what was rejected stays in info, for debugging
    assert res.info["rejected_objective"] == -42.0 and res.info["rejected_bound"] == -42.0
    assert res.info["rejected_status"] == "optimal" and res.info["verified"] is False
    assert np.all(np.asarray(res.info["rejected_x"]) == 1e6)
    d = res.to_dict()
    assert d["objective"] is None and d["bound"] is None and d["primal_integral"] is None


def test_failed_verification_json(wrong_solver, capsys, tmp_path) -> None:
    from solverhub.core.cli import main

    sol = tmp_path / "x.sol"
    code = main(["solve", str(LP_DIR / "ranges.mps"), "--solver", wrong_solver, "--json",
                 "--solution", str(sol)])
    assert code == 1
    cap = capsys.readouterr()
    assert "no solution to write" in cap.err
    d = json.loads(cap.out)
    assert d["status"] == "error" and "feasibility check" in d["error"]
    assert d["objective"] is None and d["bound"] is None
    assert d["info"]["rejected_objective"] == -42.0
    assert not sol.exists()


def test_error_result_to_dict_shows_no_numbers() -> None:
    res = sh.Result(sh.Status.ERROR, objective=1.0, bound=0.5, x=np.ones(2), error="boom")
    d = res.to_dict(include_x=True)
    assert d["objective"] is None and d["bound"] is None and "x" not in d
    ok = sh.Result(sh.Status.OPTIMAL, objective=1.0, bound=1.0, x=np.ones(2)).to_dict(include_x=True)
    assert ok["objective"] == 1.0 and ok["bound"] == 1.0 and ok["x"] == [1.0, 1.0]


def test_nan_free_json_for_lp_statuses(capsys) -> None:
    """infeasible and unbounded LPs exit 0 with no numbers."""
    from solverhub.core.cli import main

    for name in ("infeasible", "unbounded"):
        assert main(["solve", str(LP_DIR / f"{name}.mps"), "--solver", "highs", "--json"]) == 0
        d = json.loads(capsys.readouterr().out)
        assert d["status"] == name and d["objective"] is None and d["bound"] is None
        assert not any(isinstance(v, float) and math.isnan(v) for v in d.values())
