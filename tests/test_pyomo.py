"""Pyomo plugin: conversion (standard-form compiler -> MIPProblem), Pyomo solver factory
registration, the pyomo.contrib.solver interface, the legacy SolverFactory path and sh.solve on
Pyomo models.

Every solver test is parametrized over the solvers registered with problem kind "mip" (so new
solvers are picked up) and compares with Pyomo's own new-interface ``highs`` solver (highspy).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

pyo = pytest.importorskip("pyomo.environ")

import solverhub as sh  # noqa: E402
from solverhub.core.errors import BadInputError  # noqa: E402
from solverhub.core.mip import MAX, MIN  # noqa: E402
from solverhub.core.records import SolverSpec  # noqa: E402
from solverhub.plugins.pyomo.convert import (  # noqa: E402
    InfeasibleModelError,
    PyomoMIPProblem,
    PyomoModel,
    pyomo_to_mip,
)
from solverhub.plugins.pyomo.factory import pyomo_names, register_all  # noqa: E402

from pyomo.contrib.solver.common.factory import SolverFactory as NewSolverFactory  # noqa: E402
from pyomo.contrib.solver.common.results import (  # noqa: E402
    SolutionStatus,
    TerminationCondition,
)
from pyomo.contrib.solver.common.util import (  # noqa: E402
    NoFeasibleSolutionError,
    NoOptimalSolutionError,
)

TC = TerminationCondition


# ====================================================================== models
def knapsack():
    m = pyo.ConcreteModel("knapsack")
    w = [12, 7, 11, 8, 9, 6, 14, 5]
    v = [24, 13, 23, 15, 16, 11, 27, 9]
    m.I = pyo.RangeSet(0, len(w) - 1)
    m.x = pyo.Var(m.I, domain=pyo.Binary)
    m.cap = pyo.Constraint(expr=sum(w[i] * m.x[i] for i in m.I) <= 40)
    m.obj = pyo.Objective(expr=sum(v[i] * m.x[i] for i in m.I), sense=pyo.maximize)
    return m


def facility_location():
    m = pyo.ConcreteModel("facility_location")
    fixed = [30, 25, 35]
    cap = [60, 50, 70]
    dem = [20, 15, 25, 10, 30]
    cost = [[4, 6, 9, 5, 7], [7, 3, 4, 8, 6], [6, 8, 3, 4, 2]]
    m.F = pyo.RangeSet(0, 2)
    m.C = pyo.RangeSet(0, 4)
    m.y = pyo.Var(m.F, domain=pyo.Binary)
    m.x = pyo.Var(m.F, m.C, domain=pyo.NonNegativeReals, bounds=(0, 1))
    m.serve = pyo.Constraint(m.C, rule=lambda m, j: sum(m.x[i, j] for i in m.F) == 1)
    m.capacity = pyo.Constraint(
        m.F, rule=lambda m, i: sum(dem[j] * m.x[i, j] for j in m.C) <= cap[i] * m.y[i])
    m.link = pyo.Constraint(m.F, m.C, rule=lambda m, i, j: m.x[i, j] <= m.y[i])
    m.obj = pyo.Objective(expr=sum(fixed[i] * m.y[i] for i in m.F)
                          + sum(cost[i][j] * dem[j] * m.x[i, j] for i in m.F for j in m.C))
    return m


def assignment():
    m = pyo.ConcreteModel("assignment")
    c = [[9, 2, 7, 8], [6, 4, 3, 7], [5, 8, 1, 8], [7, 6, 9, 4]]
    m.N = pyo.RangeSet(0, 3)
    m.x = pyo.Var(m.N, m.N, domain=pyo.Binary)
    m.row = pyo.Constraint(m.N, rule=lambda m, i: sum(m.x[i, j] for j in m.N) == 1)
    m.col = pyo.Constraint(m.N, rule=lambda m, j: sum(m.x[i, j] for i in m.N) == 1)
    m.obj = pyo.Objective(expr=sum(c[i][j] * m.x[i, j] for i in m.N for j in m.N))
    return m


def lot_sizing():
    m = pyo.ConcreteModel("lot_sizing")
    d = [20, 50, 10, 40, 30, 25]
    T = len(d)
    m.T = pyo.RangeSet(0, T - 1)
    m.p = pyo.Var(m.T, domain=pyo.NonNegativeReals)
    m.s = pyo.Var(m.T, domain=pyo.Binary)
    m.inv = pyo.Var(m.T, domain=pyo.NonNegativeReals)
    m.balance = pyo.Constraint(m.T, rule=lambda m, t: (m.inv[t - 1] if t > 0 else 5) + m.p[t] - d[t]
                               == m.inv[t])
    m.setup = pyo.Constraint(m.T, rule=lambda m, t: m.p[t] <= sum(d) * m.s[t])
    m.obj = pyo.Objective(expr=sum(100 * m.s[t] + 1.5 * m.inv[t] + 2 * m.p[t] for t in m.T))
    return m


def mixed_features():
    """Ranges, fixed variables, an objective constant, maximize, general integers, free and
    bounded continuous variables, a constraint on a sub-block and deactivated components."""
    m = pyo.ConcreteModel("mixed")
    m.a = pyo.Var(domain=pyo.Integers, bounds=(-5, 7))
    m.b = pyo.Var(domain=pyo.NonNegativeIntegers, bounds=(-3, 4))  # effective bounds (0, 4)
    m.c = pyo.Var(domain=pyo.Reals, bounds=(-2.5, 3.5))
    m.d = pyo.Var(domain=pyo.NonNegativeReals)
    m.f = pyo.Var(domain=pyo.Binary)
    m.g = pyo.Var(domain=pyo.Reals)
    m.f.fix(1)
    m.g.fix(2.0)
    m.r1 = pyo.Constraint(expr=pyo.inequality(-4, m.a + 2 * m.b - m.c, 9))
    m.r2 = pyo.Constraint(expr=pyo.inequality(1, m.d + m.f + m.g, 6.5))  # d in [-2, 3.5]
    m.e1 = pyo.Constraint(expr=m.a - m.b + m.c == 1.5 + m.g)
    m.blk = pyo.Block()
    m.blk.c = pyo.Constraint(expr=m.a + m.b + m.d <= 10)
    m.off = pyo.Constraint(expr=m.a <= -100)  # deactivated below
    m.off.deactivate()
    m.obj = pyo.Objective(expr=3 * m.a + 2 * m.b - m.c + m.d + 4 * m.f + 10, sense=pyo.maximize)
    m.other = pyo.Objective(expr=m.a)
    m.other.deactivate()
    return m


def general_integers():
    m = pyo.ConcreteModel("general_integers")
    m.x = pyo.Var(domain=pyo.NonNegativeIntegers, bounds=(0, 20))
    m.y = pyo.Var(domain=pyo.Integers, bounds=(-10, 10))
    m.z = pyo.Var(domain=pyo.NonNegativeIntegers)
    m.cover = pyo.Constraint(expr=3 * m.x + 5 * m.y + 7 * m.z >= 41)
    m.lim = pyo.Constraint(expr=m.x - 2 * m.y <= 4)
    m.obj = pyo.Objective(expr=4 * m.x + 6 * m.y + 9 * m.z)
    return m


def equality_only():
    m = pyo.ConcreteModel("equality_only")
    m.x = pyo.Var([0, 1, 2, 3], domain=pyo.NonNegativeIntegers, bounds=(0, 12))
    m.e1 = pyo.Constraint(expr=m.x[0] + m.x[1] + m.x[2] + m.x[3] == 17)
    m.e2 = pyo.Constraint(expr=2 * m.x[0] - m.x[1] + 3 * m.x[3] == 13)
    m.e3 = pyo.Constraint(expr=m.x[1] - m.x[2] == 1)
    m.obj = pyo.Objective(expr=5 * m.x[0] + 2 * m.x[1] + 3 * m.x[2] + m.x[3])
    return m


def infeasible():
    m = pyo.ConcreteModel("infeasible")
    m.x = pyo.Var([0, 1, 2], domain=pyo.Binary)
    m.c = pyo.Constraint(expr=m.x[0] + m.x[1] + m.x[2] >= 4)
    m.obj = pyo.Objective(expr=m.x[0] + m.x[1])
    return m


def unbounded():
    m = pyo.ConcreteModel("unbounded")
    m.x = pyo.Var(domain=pyo.NonNegativeIntegers)
    m.y = pyo.Var(domain=pyo.NonNegativeReals)
    m.c = pyo.Constraint(expr=m.x - m.y <= 3)
    m.obj = pyo.Objective(expr=m.x + m.y, sense=pyo.maximize)
    return m


def nonlinear():
    m = pyo.ConcreteModel("nonlinear")
    m.x = pyo.Var([1, 2, 3], bounds=(0, 4))
    m.c = pyo.Constraint([1, 2, 3], rule=lambda m, i: (m.x[i] ** 2 <= 3) if i == 3 else (m.x[i] <= 2))
    m.obj = pyo.Objective(expr=m.x[1] + m.x[2])
    return m


FEASIBLE_MODELS = {f.__name__: f for f in (knapsack, facility_location, assignment, lot_sizing,
                                           mixed_features, general_integers, equality_only)}


# ====================================================================== helpers
def mip_solvers() -> list[str]:
    return sorted(n for n, s in sh.get_plugin_manager().solvers().items() if s.problem_kind == "mip")


def solver_kwargs(solver: str) -> dict:
    """Short limits: heuristics (balans) get two seconds, exact solvers ten."""
    return {"time_limit": 2.0 if solver == "balans" else 10.0}


_REFERENCE: dict[str, float] = {}


def pyomo_highs():
    """Pyomo's own new-interface HiGHS solver. ``threads=1``: HiGHS's thread count is
    process-global and solverhub's HiGHS runs use one thread; a first run with the default count
    makes later runs that ask for one thread fail (highspy returns kError)."""
    return NewSolverFactory("highs", threads=1)


def reference_objective(name: str) -> float:
    """Optimal objective from Pyomo's own new-interface HiGHS solver (highspy)."""
    if name not in _REFERENCE:
        res = pyomo_highs().solve(FEASIBLE_MODELS[name]())
        assert res.termination_condition == TC.convergenceCriteriaSatisfied
        _REFERENCE[name] = res.incumbent_objective
    return _REFERENCE[name]


def assert_pyomo_feasible(m, tol: float = 1e-6) -> None:
    """The values loaded in ``m`` satisfy its active constraints, bounds and domains (via Pyomo)."""
    for con in m.component_data_objects(pyo.Constraint, active=True, descend_into=True):
        body = pyo.value(con.body)
        if con.has_lb():
            lb = pyo.value(con.lower)
            assert body >= lb - tol * max(1.0, abs(lb)), f"{con.name}: {body} < {lb}"
        if con.has_ub():
            ub = pyo.value(con.upper)
            assert body <= ub + tol * max(1.0, abs(ub)), f"{con.name}: {body} > {ub}"
    for v in m.component_data_objects(pyo.Var, descend_into=True):
        if v.value is None:
            continue
        lb, ub = v.bounds
        assert lb is None or v.value >= lb - tol, f"{v.name}={v.value} below {lb}"
        assert ub is None or v.value <= ub + tol, f"{v.name}={v.value} above {ub}"
        if v.is_integer():
            assert abs(v.value - round(v.value)) <= 1e-9, f"{v.name}={v.value} not integral"


def active_objective(m):
    return next(m.component_data_objects(pyo.Objective, active=True, descend_into=True))


def refused(solver: str, exc: BadInputError) -> None:
    """A solver may refuse a model class (CP-SAT: continuous columns): skip, naming the reason.
    Conversion errors never name the solver, so they are not hidden by this."""
    if solver in str(exc):
        pytest.skip(f"{solver} refuses this model: {exc}")
    raise exc


def close(a: float, b: float, rel: float = 1e-6) -> bool:
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b))


# ====================================================================== conversion
def test_conversion_mixed_features():
    m = mixed_features()
    p = pyomo_to_mip(m)
    assert isinstance(p, PyomoMIPProblem) and p.kind == "mip"
    assert p.sense == MAX
    assert p.col_names == ["a", "b", "c", "d"]  # fixed f, g eliminated
    assert p.row_names == ["r1", "r2", "e1", "blk.c"]  # range rows merged, deactivated skipped
    np.testing.assert_allclose(p.c, [3, 2, -1, 1])
    assert p.offset == pytest.approx(14.0)  # 10 + 4 * f
    np.testing.assert_allclose(p.col_lower, [-5, 0, -2.5, 0])
    np.testing.assert_allclose(p.col_upper, [7, 4, 3.5, np.inf])
    assert p.integrality.tolist() == [True, True, False, False]
    np.testing.assert_allclose(p.row_lower, [-4, -2, 3.5, -np.inf])
    np.testing.assert_allclose(p.row_upper, [9, 3.5, 3.5, 10])
    np.testing.assert_allclose(p.A.toarray(), [[1, 2, -1, 0], [0, 0, 0, 1], [1, -1, 1, 0],
                                               [1, 1, 0, 1]])
    assert p.pyomo_vars[0] is m.a and p.pyomo_rows[3] is m.blk.c


@pytest.mark.parametrize("name", sorted(FEASIBLE_MODELS))
def test_conversion_matches_pyomo_evaluation(name):
    """Solve with Pyomo's highs, then the MIPProblem at those values has the same objective and
    is feasible: the matrix form is the model."""
    m = FEASIBLE_MODELS[name]()
    pyomo_highs().solve(m)
    p = pyomo_to_mip(m)
    x = np.array([v.value for v in p.pyomo_vars], dtype=float)
    assert p.evaluate(x) == pytest.approx(pyo.value(active_objective(m)), rel=1e-9, abs=1e-9)
    assert p.check(x).feasible
    assert p.evaluate(x) == pytest.approx(reference_objective(name), rel=1e-6)


def test_conversion_general_integer_and_domain_bounds():
    p = pyomo_to_mip(general_integers())
    assert p.col_names == ["x", "y", "z"]
    assert p.integrality.all()
    np.testing.assert_allclose(p.col_lower, [0, -10, 0])
    np.testing.assert_allclose(p.col_upper, [20, 10, np.inf])
    assert p.binary_mask.tolist() == [False, False, False]
    assert pyomo_to_mip(knapsack()).binary_mask.all()


def test_conversion_names_optional_and_equality_rows():
    p = pyomo_to_mip(equality_only(), names=False)
    assert p.col_names is None and p.row_names is None
    np.testing.assert_array_equal(p.row_lower, p.row_upper)
    assert p.sense == MIN


def test_nonlinear_constraint_is_refused_naming_it():
    with pytest.raises(BadInputError, match=r"^constraint c\[3\]: nonlinear expression not supported"):
        pyomo_to_mip(nonlinear())


def test_nonlinear_objective_is_refused_naming_it():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 1))
    m.cost = pyo.Objective(expr=m.x * m.x)
    with pytest.raises(BadInputError, match=r"^objective cost: nonlinear expression not supported"):
        pyomo_to_mip(m)


@pytest.mark.parametrize("count", [0, 2])
def test_exactly_one_active_objective(count):
    m = pyo.ConcreteModel("objs")
    m.x = pyo.Var(bounds=(0, 1))
    m.c = pyo.Constraint(expr=m.x <= 1)
    for k in range(count):
        setattr(m, f"o{k}", pyo.Objective(expr=m.x))
    msg = "no active objective" if count == 0 else "2 active objectives \\(o0, o1\\)"
    with pytest.raises(BadInputError, match=msg):
        pyomo_to_mip(m)


def test_unsupported_components_and_domains():
    m = pyo.ConcreteModel("sos")
    m.x = pyo.Var([1, 2, 3], bounds=(0, 1))
    m.s = pyo.SOSConstraint(var=m.x, sos=1)
    m.o = pyo.Objective(expr=m.x[1])
    with pytest.raises(BadInputError, match="SOSConstraint"):
        pyomo_to_mip(m)

    m = pyo.ConcreteModel("step")
    m.x = pyo.Var(domain=pyo.RangeSet(0, 10, 2))
    m.c = pyo.Constraint(expr=m.x >= 1)
    m.o = pyo.Objective(expr=m.x)
    with pytest.raises(BadInputError, match="^variable x: domain .* is not supported"):
        pyomo_to_mip(m)


def test_fixed_variable_without_value():
    m = pyo.ConcreteModel("nofix")
    m.x = pyo.Var()
    m.y = pyo.Var()
    m.y.fix()
    m.c = pyo.Constraint(expr=m.x + m.y <= 3)
    m.o = pyo.Objective(expr=m.x)
    with pytest.raises(BadInputError, match="'y'"):
        pyomo_to_mip(m)


def test_trivially_infeasible_constraint():
    m = pyo.ConcreteModel("trivial")
    m.x = pyo.Var(bounds=(0, 1))
    m.y = pyo.Var()
    m.y.fix(5)
    m.c = pyo.Constraint(expr=2 * m.y <= 3)
    m.o = pyo.Objective(expr=m.x)
    with pytest.raises(InfeasibleModelError, match="^constraint c: .*infeasible"):
        pyomo_to_mip(m)


def test_load_problem_hook_and_converter():
    m = knapsack()
    natural = sh.load_problem(m)                   # the loader yields the model itself ...
    assert isinstance(natural, PyomoModel) and natural.kind == "pyomo" and natural.model is m
    p = sh.load_problem(m, kind="mip")             # ... and the converter the solver's form
    assert isinstance(p, PyomoMIPProblem) and p.name == "knapsack"
    pm = sh.get_plugin_manager()
    assert "pyomo" in pm.problem_kinds()
    conv = pm.converters()["pyomo-to-mip"]
    assert (conv.source_kind, conv.target_kind) == ("pyomo", "mip")
    q = conv.convert(PyomoModel(m))
    assert q.n == p.n and (q.A != p.A).nnz == 0
    with pytest.raises(BadInputError, match=r"ConcreteModel 'knapsack': unknown parameter 'bogus' "
                                            r"\(known: names\) \[loader 'pyomo-models'"):
        sh.load_problem(m, bogus=1)
    assert sh.load_problem(m, kind="mip", names="false").col_names is None


def test_load_solution_rounds_integers_and_maps_values():
    m = knapsack()
    p = pyomo_to_mip(m)
    x = np.zeros(p.n)
    x[0], x[1] = 1 - 1e-9, -1e-10
    p.load_solution(x)
    assert m.x[0].value == 1.0 and m.x[1].value == 0.0 and str(m.x[1].value) == "0.0"
    mp = p.solution_map(x, [m.x[0]])
    assert list(mp.values()) == [1.0]


# ====================================================================== registration
def test_every_mip_solver_is_registered_in_both_factories():
    names = mip_solvers()
    assert names, "no MIP solver registered"
    for solver in names:
        for pname in pyomo_names(solver):
            assert pname in NewSolverFactory, pname
            assert pname in pyo.SolverFactory, pname
    assert pyomo_names("ortools-scip") == ["solverhub_ortools-scip", "solverhub_ortools_scip"]


class _ScipyMilp:
    """A solver from a "third-party" plugin: SciPy's milp (HiGHS inside)."""

    def solve(self, problem, *, time_limit=None, seed=0, notifier=None):
        from scipy.optimize import Bounds, LinearConstraint, milp

        q = problem.as_minimization()
        cons = [LinearConstraint(q.A, q.row_lower, q.row_upper)] if q.m else None
        r = milp(q.c, integrality=q.integrality.astype(int), bounds=Bounds(q.col_lower, q.col_upper),
                 constraints=cons, options={"time_limit": time_limit} if time_limit else None)
        status = {0: "optimal", 1: "time_limit", 2: "infeasible", 3: "unbounded"}.get(r.status, "error")
        x = r.x if r.x is not None and status in ("optimal", "time_limit") else None
        obj = problem.evaluate(x) if x is not None else None
        return sh.Result(status, objective=obj, bound=obj if status == "optimal" else None, x=x)


class _ZeroHeuristic:
    """A "heuristic" that returns x = 0 as a feasible, unproven solution after its whole budget
    (status time_limit: stopped by the limit, holding a feasible solution)."""

    def solve(self, problem, *, time_limit=None, seed=0, notifier=None):
        x = np.zeros(problem.n)
        return sh.Result("time_limit", objective=problem.evaluate(x), x=x, runtime=time_limit or 0.5,
                         info={"budget": time_limit or 60.0})


class _ThirdParty:
    @sh.hookimpl
    def solverhub_solvers(self):
        return [SolverSpec("test-scipy-milp", "mip", lambda: _ScipyMilp()),
                SolverSpec("test-zero-heuristic", "mip", lambda: _ZeroHeuristic())]


@pytest.fixture
def third_party_solver():
    pm = sh.get_plugin_manager()
    pm.register_plugin(_ThirdParty(), "test-pyomo-thirdparty")
    try:
        yield "test-scipy-milp"
    finally:
        pm.unregister_plugin("test-pyomo-thirdparty")


def test_third_party_solver_appears_after_register_all(third_party_solver):
    register_all()
    assert "solverhub_test-scipy-milp" in NewSolverFactory
    assert "solverhub_test_scipy_milp" in pyo.SolverFactory
    assert register_all() == []  # idempotent
    m = facility_location()
    res = pyo.SolverFactory("solverhub_test_scipy_milp").solve(m)
    assert res.solver.termination_condition == pyo.TerminationCondition.optimal
    assert pyo.value(m.obj) == pytest.approx(reference_objective("facility_location"), rel=1e-6)
    assert_pyomo_feasible(m)


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_import_order_and_lazy_pyomo_import():
    """``import solverhub`` does not import Pyomo; the solvers appear whichever package is
    imported first."""
    out = _run("""
        import sys
        import solverhub
        print('pyomo' in sys.modules)
        import pyomo.environ as pyo
        print('solverhub_highs' in pyo.SolverFactory)
    """)
    assert out.split() == ["False", "True"]
    out = _run("""
        import pyomo.environ as pyo
        import solverhub
        from pyomo.contrib.solver.common.factory import SolverFactory
        print('solverhub_highs' in pyo.SolverFactory, 'solverhub_highs' in SolverFactory)
    """)
    assert out.split() == ["True", "True"]


# ====================================================================== solving
@pytest.mark.parametrize("solver", mip_solvers())
@pytest.mark.parametrize("name", sorted(FEASIBLE_MODELS))
def test_new_interface_objective_matches_pyomo_highs(solver, name):
    m = FEASIBLE_MODELS[name]()
    opt = NewSolverFactory(f"solverhub_{solver}")
    assert opt.available()
    try:
        res = opt.solve(m, raise_exception_on_nonoptimal_result=False, **solver_kwargs(solver))
    except BadInputError as exc:
        refused(solver, exc)
    ref = reference_objective(name)
    assert res.solution_status in (SolutionStatus.optimal, SolutionStatus.feasible)
    assert close(res.incumbent_objective, ref), (res.incumbent_objective, ref)
    assert close(pyo.value(active_objective(m)), ref)
    assert_pyomo_feasible(m)
    assert res.solver_name == f"solverhub_{solver}"
    assert res.timing_info.wall_time >= 0 and res.timing_info.start_timestamp is not None
    if res.solution_status == SolutionStatus.optimal:
        assert res.termination_condition == TC.convergenceCriteriaSatisfied
        assert res.objective_bound is not None


@pytest.mark.parametrize("solver", mip_solvers())
@pytest.mark.parametrize("name", ["knapsack", "mixed_features", "lot_sizing"])
def test_legacy_solverfactory_path(solver, name):
    m = FEASIBLE_MODELS[name]()
    opt = pyo.SolverFactory(f"solverhub_{solver.replace('-', '_')}")
    assert opt.available()
    try:
        res = opt.solve(m, timelimit=solver_kwargs(solver)["time_limit"])
    except BadInputError as exc:
        refused(solver, exc)
    assert res.solver.termination_condition in (pyo.TerminationCondition.optimal,
                                                pyo.TerminationCondition.maxTimeLimit)
    assert close(pyo.value(active_objective(m)), reference_objective(name))
    assert_pyomo_feasible(m)


@pytest.mark.parametrize("solver", mip_solvers())
@pytest.mark.parametrize("name", ["facility_location", "general_integers"])
def test_sh_solve_loads_values_into_model(solver, name):
    m = FEASIBLE_MODELS[name]()
    try:
        res = sh.solve(m, solver=solver, **solver_kwargs(solver))
    except BadInputError as exc:
        refused(solver, exc)
    assert res.status.has_solution_possible and res.x is not None
    assert res.info.get("pyomo_solution_loaded") is True
    assert close(res.objective, reference_objective(name))
    assert close(pyo.value(active_objective(m)), reference_objective(name))
    assert_pyomo_feasible(m)


@pytest.mark.parametrize("solver", mip_solvers())
def test_infeasible_model(solver):
    m = infeasible()
    opt = NewSolverFactory(f"solverhub_{solver}")
    with pytest.raises(NoOptimalSolutionError):
        opt.solve(m, **solver_kwargs(solver))
    with pytest.raises(NoFeasibleSolutionError):
        opt.solve(m, raise_exception_on_nonoptimal_result=False, **solver_kwargs(solver))
    res = opt.solve(m, raise_exception_on_nonoptimal_result=False, load_solutions=False,
                    **solver_kwargs(solver))
    assert res.solution_status == SolutionStatus.noSolution
    assert res.incumbent_objective is None
    assert res.solution_loader.get_number_of_solutions() == 0
    assert res.termination_condition in (TC.provenInfeasible, TC.maxTimeLimit, TC.iterationLimit)
    if solver != "balans":
        assert res.termination_condition == TC.provenInfeasible
    legacy = pyo.SolverFactory(f"solverhub_{solver}").solve(m, load_solutions=False,
                                                            timelimit=solver_kwargs(solver)["time_limit"])
    if solver != "balans":
        assert legacy.solver.termination_condition == pyo.TerminationCondition.infeasible


@pytest.mark.parametrize("solver", mip_solvers())
def test_unbounded_model(solver):
    m = unbounded()
    try:
        res = NewSolverFactory(f"solverhub_{solver}").solve(
            m, raise_exception_on_nonoptimal_result=False, load_solutions=False,
            **solver_kwargs(solver))
    except BadInputError as exc:
        refused(solver, exc)
    assert res.termination_condition != TC.convergenceCriteriaSatisfied
    if solver != "balans":
        assert res.termination_condition in (TC.unbounded, TC.infeasibleOrUnbounded)


@pytest.mark.parametrize("solver", mip_solvers())
def test_nonlinear_model_refused_by_every_path(solver):
    with pytest.raises(BadInputError, match=r"constraint c\[3\]: nonlinear"):
        NewSolverFactory(f"solverhub_{solver}").solve(nonlinear())
    with pytest.raises(BadInputError, match=r"constraint c\[3\]: nonlinear"):
        pyo.SolverFactory(f"solverhub_{solver}").solve(nonlinear())
    with pytest.raises(BadInputError, match=r"constraint c\[3\]: nonlinear"):
        sh.solve(nonlinear(), solver=solver)


def test_trivially_infeasible_model_through_the_interface(third_party_solver):
    register_all()
    m = pyo.ConcreteModel("trivial")
    m.x = pyo.Var(bounds=(0, 1))
    m.y = pyo.Var()
    m.y.fix(5)
    m.c = pyo.Constraint(expr=2 * m.y <= 3)
    m.d = pyo.Constraint(expr=m.x >= 0.5)
    m.o = pyo.Objective(expr=m.x)
    res = NewSolverFactory("solverhub_test-scipy-milp").solve(
        m, raise_exception_on_nonoptimal_result=False, load_solutions=False)
    assert res.termination_condition == TC.provenInfeasible
    assert "constraint c" in res.extra_info.reason


def test_load_solutions_false_then_load_vars(third_party_solver):
    register_all()
    m = lot_sizing()
    opt = NewSolverFactory("solverhub_test-scipy-milp")
    res = opt.solve(m, load_solutions=False)
    assert m.p[0].value is None
    vals = res.solution_loader.get_vars([m.p[0], m.s[0]])
    assert len(vals) == 2 and m.p[0] in vals and m.s[0] in vals
    res.solution_loader.load_vars([m.s[0]])
    assert m.s[0].value == vals[m.s[0]] and m.p[0].value is None
    res.solution_loader.load_vars()
    assert pyo.value(m.obj) == pytest.approx(reference_objective("lot_sizing"), rel=1e-6)
    assert_pyomo_feasible(m)


def test_solver_options_and_config(third_party_solver):
    register_all()
    opt = NewSolverFactory("solverhub_test-scipy-milp")
    assert opt.version()[0] >= 0
    with pytest.raises(BadInputError, match="unknown option 'bogus'"):
        opt.solve(knapsack(), solver_options={"bogus": 1})
    import io

    buf = io.StringIO()
    res = opt.solve(knapsack(), tee=buf, seed=3)
    assert "status optimal" in buf.getvalue()
    assert res.extra_info.solverhub_result.status == "optimal"


@pytest.mark.parametrize("solver", [s for s in mip_solvers() if s == "balans"])
def test_time_limited_balans_incumbent_is_usable(solver):
    """The documented setting for a heuristic run: no exception on a non-optimal result, load the
    incumbent on demand."""
    m = facility_location()
    opt = NewSolverFactory(f"solverhub_{solver}")
    res = opt.solve(m, time_limit=1.0, raise_exception_on_nonoptimal_result=False,
                    load_solutions=False)
    assert res.solution_status in (SolutionStatus.optimal, SolutionStatus.feasible)
    assert res.incumbent_objective is not None
    res.solution_loader.load_vars()
    assert pyo.value(m.obj) == pytest.approx(res.incumbent_objective, rel=1e-6)
    assert_pyomo_feasible(m)


def test_time_limited_heuristic_result_is_usable(third_party_solver):
    """A run stopped by its time limit with an unproven incumbent: the new interface raises by
    default, gives maxTimeLimit / feasible with raise_exception_on_nonoptimal_result=False, and the
    legacy path loads the incumbent."""
    register_all()
    opt = NewSolverFactory("solverhub_test-zero-heuristic")
    with pytest.raises(NoOptimalSolutionError, match="feasible"):
        opt.solve(knapsack(), time_limit=2)
    m = knapsack()
    res = opt.solve(m, time_limit=2, raise_exception_on_nonoptimal_result=False, load_solutions=False)
    assert res.termination_condition == TC.maxTimeLimit
    assert res.solution_status == SolutionStatus.feasible
    assert res.incumbent_objective == 0 and res.objective_bound == float("inf")  # maximize
    assert m.x[0].value is None
    res.solution_loader.load_vars()
    assert m.x[0].value == 0 and pyo.value(m.obj) == 0
    m = knapsack()
    legacy = pyo.SolverFactory("solverhub_test_zero_heuristic").solve(m, timelimit=2)
    assert legacy.solver.termination_condition == pyo.TerminationCondition.maxTimeLimit
    assert legacy.solver.status == pyo.SolverStatus.aborted
    assert m.x[0].value == 0
    assert not pyo.check_optimal_termination(legacy)


def test_termination_is_the_results_own_reason_not_a_guess_from_the_runtime():
    from solverhub.plugins.pyomo.interface import results_from, termination_of

    TCs = sh.TerminationCondition

    def r(status, runtime=1.0, **kw):
        return sh.Result(status, runtime=runtime, **kw)

    assert termination_of(r("optimal")) == TC.convergenceCriteriaSatisfied
    # a run that used its whole budget but ended by its own rule is not a time limit
    assert termination_of(r("feasible", 60.0, info={"budget": 60.0})) == TC.convergenceCriteriaSatisfied
    # a limit reached early (a node limit, a no-time-left guard) is that limit
    assert termination_of(r("time_limit", 0.1, x=np.zeros(2))) == TC.maxTimeLimit
    assert termination_of(r("iteration_limit", 59.9, x=np.zeros(2))) == TC.iterationLimit
    assert termination_of(r("infeasible")) == TC.provenInfeasible
    assert termination_of(r("unbounded")) == TC.unbounded
    assert termination_of(r("error")) == TC.error
    for given, pyomo in [(TCs.INFEASIBLE_OR_UNBOUNDED, TC.infeasibleOrUnbounded),
                         (TCs.LOCALLY_INFEASIBLE, TC.locallyInfeasible),
                         (TCs.UNKNOWN, TC.unknown)]:
        assert termination_of(sh.Result(termination=given)) == pyomo
    # the solution status is the result's: a limit with an incumbent is maxTimeLimit + feasible
    opt = NewSolverFactory("solverhub_highs")
    m = knapsack()
    prob = pyomo_to_mip(m)
    out = results_from(sh.Result("time_limit", objective=0.0, x=np.zeros(prob.n)), prob, m, opt,
                       opt.config(dict(raise_exception_on_nonoptimal_result=False)))
    assert out.termination_condition == TC.maxTimeLimit
    assert out.solution_status == SolutionStatus.feasible
    assert out.extra_info.solverhub_termination == "max_time_limit"


# ====================================================================== Pyomo's conventions
# What Pyomo's own interfaces (its `highs` in particular) do, checked for every solverhub MIP
# solver; Pyomo's own suite runs in tests/test_pyomo_suite.py.
def _kernel_model():
    """max x + l0 + 2 l1 + y + 3 over a pyomo.kernel block (sub-block, matrix and range rows, a
    parameter, a fixed variable and an unused one). Optimum 17 at x=1, l=(1, 2), y=8."""
    import pyomo.kernel as pmo

    b = pmo.block()
    b.x = pmo.variable(domain=pmo.Binary)
    b.l = pmo.variable_list([pmo.variable(lb=-1, ub=2, domain_type=pmo.IntegerSet)
                             for _ in range(2)])
    b.y = pmo.variable(lb=0, ub=10)
    b.f = pmo.variable(value=1.0, fixed=True)
    b.unused = pmo.variable(value=5.0)
    b.sub = pmo.block()
    b.sub.c = pmo.constraint(b.x + b.l[0] - b.f >= 0)
    b.m = pmo.matrix_constraint(np.array([[1.0, 2.0, 0.0], [0.0, 1.0, 1.0]]),
                                lb=np.array([0.0, -np.inf]), ub=np.array([3.0, 4.0]),
                                x=[b.x, b.l[0], b.l[1]])
    b.p = pmo.parameter(2.5)
    b.r = pmo.constraint(lb=-5, body=b.y - b.p * b.l[1], ub=3)
    b.o = pmo.objective(b.x + b.l[0] + 2 * b.l[1] + b.y + 3, sense=pmo.maximize)
    return b


@pytest.mark.parametrize("solver", mip_solvers())
def test_solver_log_is_filled_and_teed(solver):
    import io

    buf = io.StringIO()
    res = NewSolverFactory(f"solverhub_{solver}").solve(knapsack(), tee=buf, **solver_kwargs(solver))
    assert isinstance(res.solver_log, str)
    assert "rows" in res.solver_log and "status " in res.solver_log
    assert buf.getvalue() == res.solver_log  # tee sees exactly the log
    quiet = NewSolverFactory(f"solverhub_{solver}").solve(knapsack(), **solver_kwargs(solver))
    assert "status " in quiet.solver_log  # captured without tee too, as Pyomo's highs does


@pytest.mark.parametrize("solver", mip_solvers())
def test_model_without_objective_is_a_feasibility_problem(solver):
    m = pyo.ConcreteModel()
    m.x = pyo.Var(domain=pyo.Integers, bounds=(0, 10))
    m.y = pyo.Var(domain=pyo.Integers)  # integer: ortools-sat refuses continuous columns
    m.c1 = pyo.Constraint(expr=m.y == 2 * m.x + 1)
    m.c2 = pyo.Constraint(expr=m.y >= 6.5)
    res = NewSolverFactory(f"solverhub_{solver}").solve(m, **solver_kwargs(solver))
    assert res.termination_condition == TC.convergenceCriteriaSatisfied
    assert res.solution_status == SolutionStatus.optimal
    assert res.incumbent_objective is None and res.objective_bound is None
    assert_pyomo_feasible(m)
    m.x.value = m.y.value = None
    legacy = pyo.SolverFactory(f"solverhub_{solver}").solve(m, **{"timelimit": 10})
    assert pyo.check_optimal_termination(legacy)
    assert_pyomo_feasible(m)
    # sh.solve keeps asking for an objective (a Result always has one)
    with pytest.raises(BadInputError, match="no active objective"):
        sh.solve(m, solver=solver)


def test_variables_are_stale_until_a_solution_is_loaded():
    m = knapsack()
    m.unused = pyo.Var(initialize=1.0)
    opt = NewSolverFactory("solverhub_highs")
    opt.solve(m)
    assert not m.x[0].stale and m.unused.stale
    res = opt.solve(m, load_solutions=False)
    assert m.x[0].stale and m.x[1].stale
    res.solution_loader.load_vars()
    assert not m.x[0].stale and not m.x[1].stale and m.unused.stale
    res = opt.solve(m, load_solutions=False)
    assert m.x[0].stale and m.x[1].stale
    res.solution_loader.load_vars([m.x[1]])
    assert not m.x[1].stale and m.x[0].stale


@pytest.mark.parametrize("solver", mip_solvers())
def test_exception_messages_use_pyomo_wording(solver):
    from pyomo.contrib.solver.common.util import NoDualsError, NoSolutionError

    opt = NewSolverFactory(f"solverhub_{solver}")
    with pytest.raises(NoOptimalSolutionError) as exc:
        opt.solve(infeasible(), **solver_kwargs(solver))
    assert str(exc.value).startswith(NoOptimalSolutionError.default_message)
    assert "infeasible" in str(exc.value)  # solverhub's status follows
    with pytest.raises(NoFeasibleSolutionError) as exc:
        opt.solve(infeasible(), raise_exception_on_nonoptimal_result=False, **solver_kwargs(solver))
    assert str(exc.value).startswith(NoFeasibleSolutionError.default_message)
    res = opt.solve(infeasible(), raise_exception_on_nonoptimal_result=False, load_solutions=False,
                    **solver_kwargs(solver))
    with pytest.raises(NoSolutionError, match="does not currently have a valid solution"):
        res.solution_loader.load_vars()
    with pytest.raises(NoSolutionError, match="does not currently have a valid solution"):
        res.solution_loader.get_vars()
    with pytest.raises(NoDualsError, match="does not currently have valid duals"):
        res.solution_loader.get_duals()


@pytest.mark.parametrize("solver", mip_solvers())
def test_time_limit_zero_returns_max_time_limit_without_solving(solver):
    m = knapsack()
    res = NewSolverFactory(f"solverhub_{solver}").solve(
        m, time_limit=0, raise_exception_on_nonoptimal_result=False, load_solutions=False)
    assert res.termination_condition == TC.maxTimeLimit
    assert res.solution_status == SolutionStatus.noSolution
    assert res.extra_info.solverhub_result.trajectory == []  # the solver never ran
    assert all(v.value is None for v in m.x.values())
    legacy = pyo.SolverFactory(f"solverhub_{solver}").solve(m, timelimit=0, load_solutions=False)
    assert legacy.solver.termination_condition == pyo.TerminationCondition.maxTimeLimit


@pytest.mark.parametrize("solver", [s for s in mip_solvers() if s != "ortools-sat"])
def test_kernel_models_are_accepted(solver):
    # (ortools-sat refuses the model's continuous column)
    b = _kernel_model()
    res = NewSolverFactory(f"solverhub_{solver}").solve(b, **solver_kwargs(solver))
    assert res.incumbent_objective == pytest.approx(17.0)
    assert (b.x.value, b.l[0].value, b.l[1].value) == (1, 1, 2)
    assert b.y.value == pytest.approx(8.0)
    assert b.unused.value == 5.0 and b.f.value == 1.0  # not columns: untouched
    b = _kernel_model()
    legacy = pyo.SolverFactory(f"solverhub_{solver}").solve(b, timelimit=10)
    assert legacy.solver.termination_condition == pyo.TerminationCondition.optimal
    assert pyo.value(b.o) == pytest.approx(17.0)
    b = _kernel_model()
    assert sh.solve(b, solver=solver, **solver_kwargs(solver)).objective == pytest.approx(17.0)
    assert pyo.value(b.o) == pytest.approx(17.0)


def test_kernel_conversion_details_and_refusals():
    import pyomo.kernel as pmo

    p = pyomo_to_mip(_kernel_model())
    assert p.sense == MAX and p.offset == pytest.approx(3.0)
    assert sorted(p.col_names) == ["l[0]", "l[1]", "x", "y"]  # not f (fixed), not unused
    assert p.integrality.sum() == 3
    j = p.col_names.index("y")
    assert (p.col_lower[j], p.col_upper[j]) == (0, 10)
    # the fixed variable moved into the row bound: x + l0 >= 1
    i = p.row_names.index("sub.c")
    assert (p.row_lower[i], p.row_upper[i]) == (1, np.inf)
    assert set(p.row_names) == {"sub.c", "m[0]", "m[1]", "r"}
    b = pmo.block()
    b.x = pmo.variable()
    b.c = pmo.constraint(b.x ** 2 <= 4)
    b.o = pmo.objective(b.x)
    with pytest.raises(BadInputError, match=r"constraint c: nonlinear"):
        pyomo_to_mip(b)
    b.c.deactivate()
    b.o2 = pmo.objective(-b.x)
    with pytest.raises(BadInputError, match="2 active objectives"):
        pyomo_to_mip(b)
    b.o2.deactivate()
    b.y = pmo.variable(value=3, fixed=True)
    b.t = pmo.constraint(b.y <= 2)
    with pytest.raises(InfeasibleModelError, match="constraint t"):
        pyomo_to_mip(b)
    b.t.deactivate()
    b.o.deactivate()
    assert not pyomo_to_mip(b, allow_no_objective=True).has_objective
    with pytest.raises(BadInputError, match="no active objective"):
        pyomo_to_mip(b)


def test_interrupted_results_map_to_interrupted():
    from solverhub.plugins.pyomo.interface import termination_of

    from solverhub.plugins.pyomo.interface import results_from

    assert termination_of(sh.Result("interrupted")) == TC.interrupted
    # an interrupted run that kept its incumbent (Ctrl-C: see solverhub.core.interrupt)
    opt = NewSolverFactory("solverhub_highs")
    m = knapsack()
    prob = pyomo_to_mip(m)
    out = results_from(sh.Result("interrupted", objective=0.0, x=np.zeros(prob.n)), prob, m, opt,
                       opt.config)
    assert out.termination_condition == TC.interrupted
    assert out.solution_status == SolutionStatus.feasible and out.incumbent_objective == 0.0
