"""Issue 21: SCIP through PySCIPOpt as a first-class backend (``scip``) and solver, and the backend
portfolio inside Balans. No wall-clock assertions: limits are checked by status and counts."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import solverhub as sh

pytest.importorskip("pyscipopt")
pytest.importorskip("highspy")

from test_balans_solver import knapsack  # noqa: E402


def _scip(p, **kw):
    from solverhub.plugins.scip.backend import ScipBackend

    return ScipBackend(p, **kw)


def _wait(pred, tries: int = 3000) -> bool:
    for _ in range(tries):
        if pred():
            return True
        time.sleep(0.01)
    return False


@pytest.fixture(scope="module")
def knap():
    p = knapsack(n=60, m=5, seed=2).as_minimization()
    b = _scip(p)
    try:
        best = b.solve(None)
    finally:
        b.close()
    assert best.status == sh.Status.OPTIMAL and p.check(best.x).feasible
    return p, best


def test_registered_with_capabilities_and_pause():
    pm = sh.get_plugin_manager()
    spec = pm.get_backend("scip")
    assert {"interrupt", "incumbent_callback", "pause", "warm_start", "cutoff", "dual_bound"} \
        <= spec.capabilities
    assert "scip" in pm.solvers()


def test_incumbent_events_report_improving_solutions_with_times(knap):
    p, best = knap
    b = _scip(p, seed=0)
    seen: list[tuple[float, float, np.ndarray]] = []
    try:
        res = b.solve(None, on_incumbent=lambda t, obj, x: seen.append((t, obj, x)))
    finally:
        b.close()
    assert res.status == sh.Status.OPTIMAL
    assert seen and res.info["improving_solutions"] >= len(seen)
    times = [t for t, _, _ in seen]
    objs = [o for _, o, _ in seen]
    assert times == sorted(times) and all(t >= 0 for t in times)
    assert all(a >= b_ - 1e-9 for a, b_ in zip(objs, objs[1:]))  # minimisation: improving
    assert objs[-1] == pytest.approx(res.objective)
    for _, obj, x in seen:  # each reported point is a feasible solution of that value
        rep = p.check(x)
        assert rep.feasible and rep.objective == pytest.approx(obj)
    assert res.bound == pytest.approx(res.objective)


def test_callback_stop_and_node_limit(knap):
    p, _ = knap
    b = _scip(p, seed=0)
    try:
        res = b.solve(None, on_incumbent=lambda t, obj, x: True)  # stop at the first solution
        assert res.status == sh.Status.FEASIBLE and res.info.get("interrupted")
        assert res.info["improving_solutions"] >= 1
        res = b.solve(None, node_limit=1)
        assert res.info["nodes"] <= 1
        assert res.status in (sh.Status.FEASIBLE, sh.Status.ITERATION_LIMIT, sh.Status.OPTIMAL)
    finally:
        b.close()


def test_interrupt_from_another_thread_ends_a_long_solve():
    p = knapsack(n=400, m=25, seed=5).as_minimization()
    b = _scip(p, seed=0)
    out: dict = {}
    th = threading.Thread(target=lambda: out.setdefault("res", b.solve(None)))
    th.start()
    try:
        assert _wait(lambda: b.progress() is not None)
        b.interrupt()
        th.join(120.0)
        assert not th.is_alive()
        res = out["res"]
        assert res.info.get("interrupted") and res.status in (sh.Status.FEASIBLE,
                                                              sh.Status.INTERRUPTED)
    finally:
        b.interrupt()
        th.join(120.0)
        b.close()


def test_pause_holds_the_search_and_goes_on_where_it_stopped(knap):
    p, best = knap
    b = _scip(p, seed=0, heuristics="off")
    found: list[float] = []
    out: dict = {}
    b.pause()  # a solve started while paused holds at its first poll
    th = threading.Thread(target=lambda: out.setdefault(
        "res", b.solve(None, on_incumbent=lambda t, obj, x: found.append(obj))))
    th.start()
    try:
        assert _wait(b.is_paused)
        nodes = b.nodes()
        time.sleep(0.2)
        assert b.is_paused() and th.is_alive() and b.nodes() == nodes  # held: no progress
        b.offer_solution(best.x)
        b.resume()
        th.join(120.0)
        assert not th.is_alive()
        res = out["res"]
        assert res.status == sh.Status.OPTIMAL and res.objective == pytest.approx(best.objective)
        # accepted but not handed to SCIP (a trySol from the event handler corrupted its state)
        assert res.info.get("solutions_not_taken") == 1 and "solutions_taken" not in res.info
    finally:
        b.resume()
        b.interrupt()
        th.join(120.0)
        b.close()


def test_warm_starts_full_and_partial_cutoff_and_modifications(knap):
    p, best = knap
    b = _scip(p, seed=0)
    try:
        res = b.solve(None, warm_start=best.x, node_limit=0)  # the hint alone: no node searched
        assert res.info["warm_start"] == "full"
        assert res.objective == pytest.approx(best.objective)
        partial = best.x.copy()
        partial[::2] = np.nan
        res = b.solve(None, warm_start=partial, node_limit=0)
        assert res.info["warm_start"].startswith("partial")
        # nothing beats the optimum
        assert b.solve(None, cutoff=best.objective).status == sh.Status.INFEASIBLE
        ints = np.flatnonzero(p.integrality)
        with b.modified():
            b.fix(ints[:10], 1.0 - np.round(best.x[ints[:10]]))  # away from the optimum
            b.add_row(ints[10:20], np.ones(10), -np.inf, 3.0)
            b.set_objective(np.zeros(p.n))
            r = b.solve(None)
            assert r.status in (sh.Status.OPTIMAL, sh.Status.INFEASIBLE)
            if r.x is not None:
                assert np.allclose(r.x[ints[:10]], 1.0 - np.round(best.x[ints[:10]]))
                assert r.x[ints[10:20]].sum() <= 3.0 + 1e-6 and r.objective == pytest.approx(0.0)
        res = b.solve(None)  # restored: the original optimum again
        assert res.status == sh.Status.OPTIMAL and res.objective == pytest.approx(best.objective)
        lp = b.solve_relaxation(None)
        assert lp.status == sh.Status.OPTIMAL and lp.objective <= best.objective + 1e-6
    finally:
        b.close()


def test_solver_options_lns_heuristics_and_bad_input(knap):
    p, best = knap
    res = sh.solve(p, solver="scip", time_limit=30, seed=1,
                   lns_frequency={"rins": 5, "localbranching": -1}, heuristics="aggressive")
    assert res.objective == pytest.approx(best.objective) and res.trajectory
    with pytest.raises(sh.BadInputError, match="lns_frequency"):
        sh.solve(p, solver="scip", lns_frequency={"no_such_heuristic": 1})
    with pytest.raises(sh.BadInputError, match="unknown SCIP parameter"):
        sh.solve(p, solver="scip", scip_params={"no/such/param": 1})
    with pytest.raises(sh.BadInputError, match="set by solverhub"):
        sh.solve(p, solver="scip", scip_params={"limits/time": 1})


def test_ortools_scip_reports_incumbents_unknown(knap):
    p, _ = knap
    res = sh.solve(p, solver="ortools-scip", time_limit=30)
    assert res.incumbents_unknown and res.to_dict()["incumbents_unknown"] is True
    res.with_reference(res.objective, 30.0)
    assert res.primal_integral is None  # unknown, not a 100 % gap until the end
    assert sh.solve(p, solver="scip", time_limit=30).incumbents_unknown is False


# ------------------------------------------------------------------ the portfolio inside Balans
PORTFOLIO = dict(portfolio=["highs", "scip"], sub_time_limit=0.3)


def test_portfolio_races_both_backends_and_uses_both_for_sub_mips():
    p = knapsack(n=200, m=15, seed=7)  # not proved within the race: the loop runs
    res = sh.solve(p, solver="balans", time_limit=30.0, seed=0, max_iterations=10,
                   **{**PORTFOLIO, "rel_gap": 0.0})
    pf = res.info["portfolio"]
    assert pf["order"] == ["highs", "scip"] and pf["first"] in ("highs", "scip")
    raced = {t[0] for t in pf["turns"]}
    if not (res.status == sh.Status.OPTIMAL and len(pf["turns"]) == 1):
        assert raced == {"highs", "scip"}  # unless the first turn proved the optimum
    assert set(res.info["sub_backends"]) == {"highs", "scip"}
    assert p.check(res.x).feasible


def test_portfolio_never_ends_worse_than_its_first_solutions():
    """Deterministic side of "never worse than the best single backend": the answer is at least
    as good as every backend's own first-phase incumbent, and the race's winner is the best of
    them (ties to the first in the order)."""
    p = knapsack(n=150, m=10, seed=11)
    res = sh.solve(p, solver="balans", time_limit=30.0, seed=1, max_iterations=10, **PORTFOLIO)
    pf = res.info["portfolio"]
    found = {k: v for k, v in pf["first_found"].items() if v is not None}
    assert found
    assert all(res.objective >= v - 1e-6 for v in found.values())  # a max problem
    top = max(found.values())
    assert pf["first"] == next(n for n in pf["order"] if found.get(n) is not None
                               and found[n] >= top - 1e-6 * abs(top) - 1e-9)


def test_portfolio_needs_pausable_backends():
    p = knapsack(n=30, m=3, seed=1)
    with pytest.raises(sh.BadInputError, match="pause"):
        sh.solve(p, solver="balans", time_limit=2.0, portfolio=["highs", "ortools-scip"])


def test_report_shows_unknown_primal_integral_for_incumbents_unknown():
    from solverhub.core.report import summarize

    base = {"instance": "i", "seed": 0, "kind": "mip", "status": "feasible", "objective": 10.0,
            "reference": 10.0, "sense": 1, "time_limit": 30.0, "runtime": 30.0,
            "trajectory": [[30.0, 10.0]]}
    rows = summarize([{**base, "solver": "ortools-scip", "incumbents_unknown": True},
                      {**base, "solver": "scip", "trajectory": [[1.0, 10.0]]}])
    by = {r["solver"]: r for r in rows}
    assert by["ortools-scip"]["primal_integral_mean"] is None
    assert by["ortools-scip"]["primal_integral_unknown"] is True
    assert by["scip"]["primal_integral_mean"] == pytest.approx(1.0 / 30.0)


def test_portfolio_race_share_zero_ends_at_the_first_turn_with_an_incumbent():
    p = knapsack(n=60, m=5, seed=4)
    res = sh.solve(p, solver="balans", time_limit=30.0, seed=0, max_iterations=5,
                   **{**PORTFOLIO, "race_share": 0.0})
    turns = res.info["portfolio"]["turns"]
    first_with = next(i for i, t in enumerate(turns) if t[4])  # the first turn that found one
    assert len(turns) == first_with + 1 and res.info["portfolio"]["first"] == turns[first_with][0]


def test_balans_builds_nothing_when_the_budget_is_already_spent():
    from solverhub.plugins.balans.solver import BalansSolver

    p = knapsack(n=30, m=3, seed=1)
    res = BalansSolver(portfolio=["highs", "scip"]).solve(p, time_limit=1e-6, seed=0)
    assert res.status == sh.Status.TIME_LIMIT and res.info["stopped_before_start"]
    assert res.iterations == 0 and res.x is None


def test_highs_presolve_guard_switches_presolve_off_where_it_would_outlast_the_limit(knap):
    from solverhub.plugins.highs.backend import HighsBackend

    p, best = knap
    b = HighsBackend(p, presolve_seconds_per_nnz=1.0)  # every presolve predicted far too long
    try:
        res = b.solve(10.0)
        assert res.info["presolve"] == "off: predicted to outlast the time limit"
        assert res.objective == pytest.approx(best.objective)
        assert "presolve" not in b.solve(None).info  # no limit: nothing to outlast
    finally:
        b.close()
    b = HighsBackend(p, presolve_seconds_per_nnz=1e-12)
    try:
        assert "presolve" not in b.solve(10.0).info
    finally:
        b.close()


# ------------------------------------------------------------------ the learnt first phase
def _set_partitioning(n_cols: int = 60, n_rows: int = 12, seed: int = 3):
    """A feasible set-partitioning model: a planted partition of the rows plus random columns."""
    import scipy.sparse as sp

    from solverhub.core.mip import MIPProblem

    rng = np.random.default_rng(seed)
    cols = [list(range(k, min(k + 3, n_rows))) for k in range(0, n_rows, 3)]  # the planted partition
    while len(cols) < n_cols:
        cols.append(sorted(rng.choice(n_rows, size=int(rng.integers(1, 4)), replace=False).tolist()))
    rows = [r for j, c in enumerate(cols) for r in c]
    idx = [j for j, c in enumerate(cols) for _ in c]
    A = sp.csr_matrix((np.ones(len(rows)), (rows, idx)), shape=(n_rows, n_cols))
    n = len(cols)
    return MIPProblem(c=rng.integers(1, 20, n).astype(float), A=A, row_lower=np.ones(n_rows),
                      row_upper=np.ones(n_rows), col_lower=np.zeros(n), col_upper=np.ones(n),
                      integrality=np.ones(n, dtype=bool), name="setpart")


def test_set_partitioning_features():
    from solverhub.plugins.balans.solver import first_phase_backend, is_set_partitioning

    p = _set_partitioning()
    assert is_set_partitioning(p)
    assert first_phase_backend(p, "highs") == "highs"  # too small to matter: the default backend
    big = _set_partitioning(n_cols=6000, n_rows=40, seed=1)
    assert first_phase_backend(big, "highs") == "scip"
    assert first_phase_backend(big, "ortools-scip") == "ortools-scip"  # a user's backend is kept
    assert not is_set_partitioning(knapsack(n=30, m=3, seed=1))
    q = _set_partitioning()
    q.row_lower[:] = 0.0  # set packing rows (<= 1) are not partitioning
    assert not is_set_partitioning(q)


def test_first_backend_runs_the_first_solve_on_scip_and_continue_resumes_it(monkeypatch):
    from solverhub.plugins.balans import solver as bsolver

    monkeypatch.setattr(bsolver, "PARTITION_MIN_COLS", 1)  # the auto rule fires on the small model
    p = _set_partitioning(n_cols=300, n_rows=40, seed=5)
    res = sh.solve(p, solver="balans", time_limit=30.0, seed=0, max_iterations=8,
                   sub_time_limit=0.3)  # first_backend="auto" by default
    assert res.info["first_backend"] == "scip"
    assert res.x is not None and p.check(res.x).feasible
    assert set(res.info.get("sub_backends") or {"highs"}) == {"highs"}  # sub-MIPs stay on `backend`
    plain = sh.solve(p, solver="balans", time_limit=30.0, seed=0, max_iterations=8, sub_time_limit=0.3,
                     first_backend=None)
    assert plain.info["first_backend"] == "highs"


def test_first_backend_auto_is_the_default_and_keeps_highs_elsewhere():
    from solverhub.plugins.balans.options import BalansOptions

    assert BalansOptions().first_backend == "auto"
    res = sh.solve(knapsack(n=30, m=3, seed=1), solver="balans", time_limit=30.0, seed=0,
                   max_iterations=2, sub_time_limit=0.3)
    assert res.info["first_backend"] == "highs"


def test_first_backend_unknown_name_is_bad_input():
    with pytest.raises(sh.BadInputError, match="nosuch"):
        sh.solve(knapsack(n=10, m=2, seed=1), solver="balans", time_limit=1.0, first_backend="nosuch")


def test_balans_turns_presolve_off_only_where_it_would_outlast_the_whole_limit():
    from solverhub.core.observers import NULL_NOTIFIER
    from solverhub.plugins.balans.options import BalansOptions
    from solverhub.plugins.balans.solver import _Run
    from solverhub.plugins.highs.backend import PRESOLVE_SECONDS_PER_NNZ

    run = _Run(BalansOptions(), knapsack(n=30, m=3, seed=1), 30.0, 0, NULL_NOTIFIER)
    b = run._build("highs", force=True)
    try:
        assert b.presolve_seconds_per_nnz == PRESOLVE_SECONDS_PER_NNZ
        # a per-solve argument (MIPBackend.solve), not the backend's own setting
        assert b.presolve_share == _Run.FIRST_PRESOLVE_SHARE == 1.0  # the first solve: all
        run._sub_presolve_share()
        assert b.presolve_share == _Run.SUB_PRESOLVE_SHARE == 0.5  # later solves: half
        later = run._build("scip", force=True)  # built after the first phase: half too
        assert later.presolve_share == 0.5
        later.close()
    finally:
        b.close()
    # a user's presolve_share is the backend's own default, left alone
    run = _Run(BalansOptions(backend_options={"highs": {"presolve_share": 0.2}}),
               knapsack(n=30, m=3, seed=1), 30.0, 0, NULL_NOTIFIER)
    b = run._build("highs", force=True)
    try:
        run._sub_presolve_share()
        assert b.presolve_share is None
    finally:
        b.close()


def test_deadline_backend_passes_its_presolve_share_on_every_solve_unless_the_call_sets_one():
    from solverhub.core.backend import BackendResult
    from solverhub.plugins.balans.guard import DeadlineBackend

    class Recorder:
        name, capabilities = "rec", frozenset()
        problem = None
        calls: list = []

        def solve(self, time_limit=None, **kwargs):
            self.calls.append(kwargs)
            return BackendResult(sh.Status.TIME_LIMIT)

    d = DeadlineBackend(Recorder(), time.perf_counter() + 60)
    d.solve(1.0)
    d.presolve_share = 0.5
    d.solve(1.0)
    d.solve(1.0, presolve_share=0.9)
    assert Recorder.calls == [{}, {"presolve_share": 0.5}, {"presolve_share": 0.9}]


def test_highs_per_solve_presolve_share_overrides_the_backends_default(knap):
    from solverhub.plugins.highs.backend import HighsBackend

    p, best = knap
    b = HighsBackend(p, presolve_seconds_per_nnz=1.0 / p.A.nnz, presolve_share=0.5)
    b.cpu_share = 1.0  # predicted presolve: exactly 1 s, whatever the load
    try:
        assert "presolve" not in b.solve(10.0).info  # default share: 1 s <= 5 s
        res = b.solve(10.0, presolve_share=0.05)     # 1 s > 0.5 s: off for this solve only
        assert res.info["presolve"] == "off: predicted to outlast the time limit"
        assert res.objective == pytest.approx(best.objective)
        assert "presolve" not in b.solve(10.0).info
        assert "presolve" not in b.solve(1.5, presolve_share=1.0).info
        assert b.solve(1.5).info["presolve"].startswith("off")  # 1 s > 0.75 s
    finally:
        b.close()


def test_highs_feasibility_jump_rechecked_at_the_end_of_presolve(knap):
    """The guard's check at the solve's start is repeated where presolve has ended (HiGHS's log,
    the one callback between presolve and the heuristic): a heuristic that fitted the whole limit
    but no longer fits what presolve left is switched off for that solve only."""
    from solverhub.plugins.highs.backend import HighsBackend

    p, best = knap
    limit = 10.0
    b = HighsBackend(p, fj_seconds_per_nnz=1.0, fj_share=0.8)
    b.share_probe = lambda: 1.0  # the share measured where presolve ends, pinned
    b.cpu_share = 1.0
    b.fj_seconds_per_nnz = (0.8 * limit - 1e-7) / b.free_nonzeros()  # fits the limit, barely
    try:
        assert b.feasibility_jump_allowed(limit, False)
        res = b.solve(limit)  # presolve takes more than a microsecond: no longer fits
        assert res.info["feasibility_jump"] == "off: presolve left too little of the time limit"
        assert res.objective == pytest.approx(best.objective)
        b.fj_seconds_per_nnz = 1e-12  # fits easily, before and after presolve
        assert "feasibility_jump" not in b.solve(limit).info
    finally:
        b.close()


def test_highs_presolve_time_share_gives_the_limit_back_after_presolve(knap):
    """HiGHS's time limit is a share of the solve's limit only until presolve ends: a presolve
    given (almost) no time stops at once, and the search still has the whole limit."""
    from solverhub.plugins.highs.backend import HighsBackend

    p, best = knap
    b = HighsBackend(p, presolve_time_share=1e-9)
    try:
        res = b.solve(10.0)
        assert res.status == sh.Status.OPTIMAL and "presolve_time_capped" not in res.info
        assert res.objective == pytest.approx(best.objective)
        assert b._h.getOptionValue("time_limit")[1] == pytest.approx(10.0)
    finally:
        b.close()


@pytest.mark.parametrize("name", ["highs", "scip", "ortools-scip"])
def test_every_backend_takes_a_per_solve_presolve_share(knap, name):
    from solverhub.core.records import resolve

    spec = sh.get_plugin_manager().get_backend(name)

    p, best = knap
    b = resolve(spec.factory)(p, threads=1, seed=0)
    try:
        res = b.solve(10.0, presolve_share=0.5)
        assert res.objective == pytest.approx(best.objective, rel=1e-6)
    finally:
        b.close()
