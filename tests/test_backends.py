"""The MIP backends (highs, ortools-scip, ortools-sat) and the highs solver."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp

import solverhub as sh
from solverhub.core.backend import CAPABILITIES, MIPBackend
from solverhub.core.errors import BadInputError
from solverhub.core.mip import MIN, MIPProblem
from solverhub.core.result import Status

from conftest import make_small_mip, miplib

BACKENDS = ["highs", "ortools-scip", "ortools-sat"]


def make_backend(name, problem, **kw):
    spec = sh.get_plugin_manager().get_backend(name)
    b = spec.factory(problem, threads=1, seed=0, **kw)
    assert isinstance(b, MIPBackend)
    assert b.capabilities == spec.capabilities and spec.capabilities <= CAPABILITIES
    return b


def pure_integer(p: MIPProblem) -> MIPProblem:
    q = p.copy()
    q.integrality[:] = True
    return q


OPT = 3089.0               # p0033 optimum (the modification tests use the tiny p0033)
LP = 2520.5717391304347    # its LP relaxation


@pytest.fixture(scope="module")
def p0201():
    return sh.load_problem(miplib("p0201"))


@pytest.fixture(scope="module")
def p0033():
    return sh.load_problem(miplib("p0033"))


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request, p0033):
    b = make_backend(request.param, p0033)
    yield b
    b.close()


def test_registered():
    pm = sh.get_plugin_manager()
    assert set(BACKENDS) <= set(pm.backends())
    assert {"highs", "ortools-scip", "ortools-sat"} <= set(pm.solvers())
    assert "interrupt" in pm.get_backend("highs").capabilities
    assert "incumbent_callback" not in pm.get_backend("ortools-scip").capabilities


@pytest.mark.parametrize("name", BACKENDS)
def test_solve_p0201(name, p0201):
    b = make_backend(name, p0201)
    r = b.solve(60)
    assert r.status == Status.OPTIMAL
    assert r.objective == pytest.approx(7615, rel=1e-6)
    assert p0201.check(r.x).feasible
    assert r.bound == pytest.approx(7615, rel=1e-3)
    b.close()


def test_repeated_solves_same_object(backend):
    for _ in range(2):
        r = backend.solve(60, seed=3)
        assert r.status == Status.OPTIMAL and r.objective == pytest.approx(OPT, rel=1e-6)


def test_fix_and_restore(backend, p0033):
    x = backend.solve(60).x
    with backend.modified():
        # fix half to the optimum, as another solver reports it (0.999999999999): same value
        backend.fix(np.arange(0, p0033.n, 2), x[::2] * (1 - 1e-12))
        r = backend.solve(30, warm_start=x)
        assert r.status == Status.OPTIMAL and r.objective == pytest.approx(OPT, rel=1e-6)
        assert np.allclose(r.x[::2], x[::2])
        flipped = 1.0 - x[:10]
        backend.fix(np.arange(10), flipped)  # a different region: worse or infeasible
        r2 = backend.solve(30)
        assert r2.status in (Status.OPTIMAL, Status.INFEASIBLE)
        if r2.status == Status.OPTIMAL:
            assert r2.objective >= OPT - 1e-6 and np.allclose(r2.x[:10], flipped)
    r3 = backend.solve(60)
    assert r3.objective == pytest.approx(OPT, rel=1e-6)


def test_add_remove_row(backend):
    x = backend.solve(60).x
    ones = np.flatnonzero(x > 0.5)
    # forbid the optimum's support from being all on: optimum must change or stay feasible elsewhere
    h = backend.add_row(ones, np.ones(ones.size), -np.inf, ones.size - 1)
    r = backend.solve(60)
    assert r.status in (Status.OPTIMAL, Status.INFEASIBLE)
    if r.x is not None:
        assert r.x[ones].sum() <= ones.size - 1 + 1e-6
        assert r.objective >= OPT - 1e-6
    backend.remove_rows([h])
    r = backend.solve(60)
    assert r.objective == pytest.approx(OPT, rel=1e-6)
    backend.restore()


def test_objective_swap_and_restore(backend, p0033):
    backend.set_objective(np.zeros(p0033.n), 5.0)
    r = backend.solve(30)
    assert r.status == Status.OPTIMAL and r.objective == pytest.approx(5.0)
    backend.restore()
    assert backend.solve(60).objective == pytest.approx(OPT, rel=1e-6)


def test_relaxation(backend):
    r = backend.solve_relaxation(30)
    assert r.status == Status.OPTIMAL
    assert r.objective == pytest.approx(LP, rel=1e-6)


def test_cutoff(backend):
    r = backend.solve(60, cutoff=OPT)
    assert r.status == Status.INFEASIBLE  # nothing beats the optimum
    r = backend.solve(60, cutoff=OPT + 100)
    assert r.status == Status.OPTIMAL and r.objective == pytest.approx(OPT, rel=1e-6)
    assert backend.solve(60).objective == pytest.approx(OPT, rel=1e-6)


def test_time_limit_and_node_limit(backend):
    r = backend.solve(0.05, node_limit=1, emphasis="feasibility")
    assert r.status in (Status.OPTIMAL, Status.FEASIBLE, Status.TIME_LIMIT, Status.ITERATION_LIMIT)
    if r.x is not None:
        assert backend.problem.check(r.x).feasible
    with pytest.raises(BadInputError):
        backend.solve(1, emphasis="fast")


@pytest.mark.parametrize("name", BACKENDS)
def test_small_max_problem(name):
    p = make_small_mip()
    if name == "ortools-sat":
        with pytest.raises(BadInputError, match="continuous"):
            make_backend(name, p)
    else:
        b = make_backend(name, p)
        r = b.solve(10)
        assert r.status == Status.OPTIMAL and p.check(r.x).feasible
        assert r.objective == pytest.approx(13.0) == p.evaluate(r.x)
        assert b.solve_relaxation().objective >= 13.0 - 1e-9
    q = pure_integer(p)  # the optimum (2, 0, 1) is integral: 13
    b = make_backend(name, q)
    r = b.solve(10)
    assert r.status == Status.OPTIMAL and q.check(r.x).feasible
    assert r.objective == pytest.approx(13.0)
    # maximisation cutoff: solutions must beat 13 -> none
    assert b.solve(10, cutoff=13.0).status == Status.INFEASIBLE
    assert b.solve(10, cutoff=12.0).objective == pytest.approx(13.0)


@pytest.mark.parametrize("name", BACKENDS)
def test_infeasible(name):
    p = MIPProblem(c=[1.0, 1.0], A=sp.csr_matrix([[1.0, 1.0]]), row_lower=[3.0], row_upper=[np.inf],
                   col_lower=[0, 0], col_upper=[1, 1], integrality=[True, True])
    assert make_backend(name, p).solve(10).status == Status.INFEASIBLE


@pytest.mark.parametrize("name", BACKENDS)
def test_unbounded(name):
    p = MIPProblem(c=[-1.0, -1.0], A=sp.csr_matrix([[1.0, -1.0]]), row_lower=[-1.0],
                   row_upper=[1.0], col_lower=[0, 0], col_upper=[np.inf, np.inf],
                   integrality=[True, True], sense=MIN)
    assert make_backend(name, p).solve(10).status == Status.UNBOUNDED


def test_highs_incumbent_callback_and_interrupt(p0033):
    b = make_backend("highs", p0033)
    seen = []

    def stop_at_first(t, obj, x):
        seen.append((t, obj))
        assert p0033.check(x).feasible
        return True

    r = b.solve(60, on_incumbent=stop_at_first)
    assert len(seen) == 1  # not called again after asking to stop
    assert r.status in (Status.FEASIBLE, Status.OPTIMAL) and r.objective <= seen[0][1] + 1e-6
    # the interrupt must not stick to the next solve (HiGHS keeps user_interrupt set)
    r = b.solve(60)
    assert r.status == Status.OPTIMAL and r.objective == pytest.approx(OPT, rel=1e-6)


def test_highs_warm_start_reported(p0033):
    b = make_backend("highs", p0033)
    x = b.solve(60).x
    b2 = make_backend("highs", p0033)
    seen = []
    r = b2.solve(60, warm_start=x, on_incumbent=lambda t, o, xx: seen.append(o))
    assert seen and seen[0] == pytest.approx(OPT, rel=1e-6)
    assert r.objective == pytest.approx(OPT, rel=1e-6)


@pytest.mark.parametrize("name", [n for n in BACKENDS if n != "ortools-scip"])
def test_interrupt_from_another_thread(name):
    import threading

    p = pure_integer(sh.load_problem(miplib("mas74")))  # hard: runs until stopped
    b = make_backend(name, p)
    assert "interrupt" in b.capabilities
    timer = threading.Timer(0.5, b.interrupt)
    timer.start()
    r = b.solve(30)
    timer.join()
    assert r.status in (Status.FEASIBLE, Status.INTERRUPTED)
    assert r.info.get("interrupted")
    r = b.solve(0.3)  # the object still works after the interrupt
    assert r.status in (Status.FEASIBLE, Status.OPTIMAL, Status.TIME_LIMIT)
    assert not r.info.get("interrupted")


def test_scip_cannot_interrupt(p0033):
    b = make_backend("ortools-scip", p0033)
    with pytest.raises(NotImplementedError):
        b.interrupt()


def test_highs_unknown_option():
    with pytest.raises(BadInputError, match="no_such_option"):
        sh.solve(make_small_mip(), solver="highs", highs_options={"no_such_option": 1})
    with pytest.raises(BadInputError, match="mip_rel_gapp"):
        sh.solve(make_small_mip(), solver="highs", mip_rel_gapp=0.1)


def test_highs_solver_p0201():
    r = sh.solve(str(miplib("p0201")), solver="highs", highs_options={"mip_heuristic_effort": 0.1})
    assert r.status == Status.OPTIMAL and r.objective == pytest.approx(7615)
    assert r.info["verified"] is True
    assert r.trajectory and r.trajectory[-1][1] == pytest.approx(7615)
    assert all(t2 >= t1 for (t1, _), (t2, _) in zip(r.trajectory, r.trajectory[1:]))
    assert r.primal_integral is not None and 0 <= r.primal_integral <= 1
    assert r.iterations >= 0


@pytest.mark.parametrize("solver", ["ortools-scip", "ortools-sat"])
def test_ortools_solvers(solver):
    r = sh.solve(miplib("p0033"), solver=solver, time_limit=60, rel_gap=0.0)
    assert r.status == Status.OPTIMAL and r.objective == pytest.approx(OPT)
    assert r.info["verified"] is True


def test_observer_gets_incumbents():
    class Obs:
        def __init__(self):
            self.seen = []

        def on_incumbent(self, solver, time, objective, bound):
            self.seen.append(objective)

    obs = Obs()
    r = sh.solve(make_small_mip(), solver="highs", observers=[obs])
    assert obs.seen and obs.seen[-1] == pytest.approx(r.objective)


def test_stdout_clean():
    code = ("import solverhub as sh; r = sh.solve(%r, solver='highs'); "
            "import sys; sys.stderr.write(str(r.objective))" % str(miplib("p0201")))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == ""
    assert float(out.stderr.strip().splitlines()[-1]) == pytest.approx(7615)


def test_highs_solver_deadline_guard_switches_feasibility_jump_off():
    """HiGHS's feasibility jump checks no time limit: the ``highs`` solver turns it off where its
    predicted worst case outlasts the limit, and ``deadline_guard=False`` gives HiGHS as it is."""
    import solverhub as sh

    addr = "generate:set_cover?rows=200&cols=4000&density=0.02&seed=3"
    guarded = sh.solve(addr, solver="highs", time_limit=0.05)
    assert guarded.info.get("feasibility_jump") == "off: predicted to outlast the time limit"
    plain = sh.solve(addr, solver="highs", time_limit=0.05, options={"deadline_guard": False})
    assert "feasibility_jump" not in plain.info
    roomy = sh.solve(addr, solver="highs", time_limit=1e4, options={"rel_gap": 0.5})
    assert "feasibility_jump" not in roomy.info
