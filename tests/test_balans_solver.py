"""The Balans loop with the HiGHS backend on small models (fast; MIPLIB instances skip when ../shared
is absent). No wall-clock assertions: the deadline is checked on the iteration timestamps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import solverhub as sh
from solverhub import MIPProblem, get_plugin_manager, hookimpl
from solverhub.core.metasearch import Neighbourhood, Outcome
from solverhub.core.records import MetaComponent
from solverhub.plugins.balans.solver import BalansSolver

pytest.importorskip("highspy")

MIPLIB = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "miplib3"


def miplib(name: str) -> Path:
    p = MIPLIB / f"{name}.mps.gz"
    if not p.exists():
        pytest.skip(f"{p} not present (../shared/data/miplib3 next to the repository)")
    return p


def knapsack(n: int = 60, m: int = 5, seed: int = 0, sense: int = sh.MAX) -> MIPProblem:
    """A multi-dimensional knapsack with two continuous columns (a bonus bounded by a row)."""
    rng = np.random.default_rng(seed)
    W = rng.integers(5, 40, size=(m, n)).astype(float)
    cap = W.sum(axis=1) * 0.35
    # continuous y0, y1 with y0 + y1 <= 0.1 * (sum of chosen items' weight row 0)
    A = np.zeros((m + 1, n + 2))
    A[:m, :n] = W
    A[m, :n] = -0.1 * W[0]
    A[m, n:] = 1.0
    c = np.concatenate([rng.integers(10, 60, size=n).astype(float), [0.5, 0.25]])
    if sense == sh.MIN:
        c = -c
    return MIPProblem(c, sp.csr_matrix(A), np.full(m + 1, -np.inf), np.concatenate([cap, [0.0]]),
                      np.zeros(n + 2), np.concatenate([np.ones(n), [np.inf, 5.0]]),
                      np.array([True] * n + [False, False]), sense=sense, name="knap")


SEARCH = dict(initial_time_limit=0.02, sub_time_limit=0.2, rel_gap=0.0)


def test_loop_runs_and_respects_deadline():
    res = sh.solve(knapsack(), solver="balans", time_limit=1.5, seed=3, **SEARCH)
    # stopped by its time limit with the incumbent (solution status feasible), or proved
    assert res.status in ("time_limit", "optimal") and res.has_solution
    if res.status == "time_limit":
        assert res.termination == "max_time_limit" and res.solution_status == "feasible"
    info = res.info
    assert res.iterations == info["iterations"] == len(info["iteration_log"]) > 0
    # no iteration starts after the deadline
    assert all(t_start < info["deadline"] for t_start, _, _, _ in info["iteration_log"])
    arms = info["arms"]
    assert {a["name"] for a in arms} == set(get_plugin_manager().get_solver("balans").options().destroy)
    for a in arms:
        assert a["pulls"] == a["best"] + a["better"] + a["accept"] + a["reject"]
    assert sum(a["pulls"] for a in arms) == res.iterations
    # trajectory in the problem's own (max) sense, improving, starting from the first solution
    objs = [v for _, v in res.trajectory]
    assert objs == sorted(objs) and objs[-1] == pytest.approx(res.objective)
    assert res.info["verified"] is True
    assert res.bound is None or res.bound >= res.objective - 1e-6


def test_max_problem_matches_highs():
    p = knapsack(n=30, m=3, seed=1)
    ref = sh.solve(p, solver="highs", time_limit=20)
    res = sh.solve(p, solver="balans", time_limit=20, seed=0)
    assert ref.status == "optimal"
    assert res.status == "optimal" and res.objective == pytest.approx(ref.objective, rel=1e-4)
    assert res.bound >= res.objective - 1e-6        # an upper bound for a max problem
    pmin = knapsack(n=30, m=3, seed=1, sense=sh.MIN)
    rmin = sh.solve(pmin, solver="balans", time_limit=20, seed=0)
    assert rmin.objective == pytest.approx(-res.objective, rel=1e-4)


def test_reused_solver_and_seed_zero():
    solver = BalansSolver(**SEARCH)
    p = knapsack(seed=4)
    r1 = solver.solve(p, time_limit=1.0, seed=0)
    r2 = solver.solve(p, time_limit=1.0, seed=0)
    assert r1.iterations > 0 and r2.iterations > 0
    assert r1.status == r2.status and r1.objective is not None and r2.objective is not None


def test_max_iterations_and_no_improvement_stop():
    r = sh.solve(knapsack(seed=5), solver="balans", time_limit=20, seed=1, max_iterations=7, **SEARCH)
    assert r.iterations <= 7
    r = sh.solve(knapsack(seed=5), solver="balans", time_limit=20, seed=1, no_improvement=4, **SEARCH)
    log = r.info["iteration_log"]
    assert len(log) >= 4 and all(row[3] != Outcome.BEST for row in log[-4:])


def test_infeasible_and_unbounded():
    # x0 + x1 >= 3 with binaries
    inf = MIPProblem([1.0, 1.0], sp.csr_matrix([[1.0, 1.0]]), [3.0], [np.inf], [0, 0], [1, 1],
                     [True, True])
    r = sh.solve(inf, solver="balans", time_limit=5)
    assert r.status == "infeasible" and r.objective is None
    # min -x0 - x1 with x0 - x1 <= 1, x integer >= 0: unbounded
    unb = MIPProblem([-1.0, -1.0], sp.csr_matrix([[1.0, -1.0]]), [-np.inf], [1.0], [0, 0],
                     [np.inf, np.inf], [True, True])
    r = sh.solve(unb, solver="balans", time_limit=5)
    assert r.status == "unbounded" and r.objective is None


def test_stops_at_proven_optimality_on_p0033():
    path = miplib("p0033")
    r = sh.solve(str(path), solver="balans", time_limit=30, seed=0)
    assert r.status == "optimal"
    assert r.objective == pytest.approx(3089.0)
    assert r.bound == pytest.approx(3089.0, rel=1e-4)


class _BadOperatorPlugin:
    """A third-party destroy operator that fixes every integer column to an infeasible value."""

    @staticmethod
    @hookimpl
    def solverhub_destroy_operators():
        def factory(**_):
            def op(state, rng):
                ints = np.flatnonzero(state.problem.integrality)
                v = np.ones(ints.size)
                return Neighbourhood("all_ones", bound_idx=ints, lower=v, upper=v)
            return op
        return [MetaComponent("test_all_ones", "destroy", factory, {}, "infeasible fixing")]


def test_failed_sub_mip_is_a_reject_and_third_party_operator_by_name():
    pm = get_plugin_manager()
    pm.register_plugin(_BadOperatorPlugin, name="test-balans-bad-op")
    try:
        r = sh.solve(knapsack(seed=2), solver="balans", time_limit=20, seed=0, max_iterations=6,
                     destroy=["test_all_ones"], scores=[8, 4, 2, 1], **SEARCH)
    finally:
        pm.unregister_plugin("test-balans-bad-op")
    (arm,) = r.info["arms"]
    assert arm["name"] == "test_all_ones" and arm["pulls"] == 6
    assert arm["reject"] == 6 and arm["reward_sum"] == 6 * 1.0
    assert r.objective is not None and r.info["verified"]


def test_unknown_component_is_bad_input():
    with pytest.raises(sh.BadInputError):
        sh.solve(knapsack(), solver="balans", time_limit=1, destroy=["no_such_operator"])
    with pytest.raises(sh.BadInputError):
        sh.solve(knapsack(), solver="balans", time_limit=1, bogus=1)


def test_every_operator_and_acceptance_runs():
    pm = get_plugin_manager()
    # "continue" is left out: with it, a first level chooses it against the neighbourhoods by reward
    # per *second*, which depends on timing (test_balans_continue covers its pulls); without it UCB1
    # plays every arm once before any twice
    names = sorted(n for n, c in pm.meta("destroy").items()
                   if c.provider == "balans" and n != "continue")
    for acc in ("simulated_annealing", "late_acceptance_hill_climbing", "record_to_record_travel",
                "great_deluge", "always_accept"):
        r = sh.solve(knapsack(seed=6), solver="balans", time_limit=20, seed=1,
                     max_iterations=2 * len(names), destroy=names, policy="ucb1", acceptance=acc,
                     **SEARCH)
        assert r.status in ("iteration_limit", "time_limit", "optimal") and r.has_solution, acc
        assert r.info["verified"], acc
    pulled = {a["name"] for a in r.info["arms"] if a["pulls"] > 0}
    assert r.status == "optimal" or pulled == set(names)


def test_first_probe_finds_a_first_solution_without_presolve_and_warm_starts_the_first_solve():
    p = knapsack(n=200, m=15, seed=7)
    res = sh.solve(p, solver="balans", time_limit=30.0, seed=0, max_iterations=2,
                   sub_time_limit=0.3, first_probe=True)
    probe = res.info["first_probe"]
    assert probe["found"] and probe["seconds"] < 30.0
    assert res.x is not None and p.check(res.x).feasible
    # the probe's solution is the run's first incumbent, and the first solve went on from it
    assert res.info["time_to_first"] <= probe["ended_at"]
    assert "first_probe" not in sh.solve(p, solver="balans", time_limit=30.0, seed=0,
                                          max_iterations=1, sub_time_limit=0.3).info  # default


def test_first_probe_is_skipped_where_the_backend_has_no_feasibility_jump():
    p = knapsack(n=30, m=3, seed=1)
    res = sh.solve(p, solver="balans", time_limit=30.0, seed=0, max_iterations=1,
                   sub_time_limit=0.3, backend="scip", first_probe=True)
    assert res.info["first_probe"] == {"skipped": "no feasibility jump within the time left"}
    assert res.x is not None and p.check(res.x).feasible


def test_deadline_proxy_passes_presolve_share_only_to_backends_that_take_it():
    # a third-party backend written before MIPBackend.solve took presolve_share keeps working
    import time

    from solverhub.plugins.balans.guard import DeadlineBackend

    class Old:
        problem = None

        def __init__(self):
            self.calls = []

        def solve(self, time_limit=None, warm_start=None):
            self.calls.append({"time_limit": time_limit})
            return sh.BackendResult(sh.Status.TIME_LIMIT)

    class New(Old):
        def solve(self, time_limit=None, presolve_share=None, **kwargs):
            self.calls.append({"presolve_share": presolve_share})
            return sh.BackendResult(sh.Status.TIME_LIMIT)

    for cls, seen in ((Old, {}), (New, {"presolve_share": 0.5})):
        inner = cls()
        proxy = DeadlineBackend(inner, time.perf_counter() + 60)
        proxy.presolve_share = 0.5
        proxy.solve(time_limit=1.0)
        assert {k: v for k, v in inner.calls[0].items() if k != "time_limit"} == seen
