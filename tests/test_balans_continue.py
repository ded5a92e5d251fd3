"""Issue 12: the "continue" arm, the gap watchdog, several sub-MIP backends, backend options, the
node limit of sub-MIPs and HiGHS's feasibility-jump guard (fast; no wall-clock assertions)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import solverhub as sh
from solverhub.core.errors import BadInputError
from solverhub.core.metasearch import Neighbourhood, SearchState
from solverhub.plugins.balans.destroy import DEFAULT_ARMS, PAPER_ARMS, ContinueSearch
from solverhub.plugins.balans.repair.sub_mip import SubMIP
from solverhub.plugins.balans.solver import _GapWatchdog

pytest.importorskip("highspy")

from test_balans_solver import SEARCH, knapsack


def _state(p, backend=None) -> SearchState:
    x = np.zeros(p.n)
    return SearchState(problem=p, incumbent=x, incumbent_objective=0.0, best=x, best_objective=0.0,
                       lp_x=None, lp_objective=None, dual_bound=-math.inf, backend=backend)


def test_continue_is_a_default_arm_with_an_empty_neighbourhood():
    assert DEFAULT_ARMS == PAPER_ARMS + ["continue"]
    p = knapsack().as_minimization()
    state = _state(p)
    state.info["continue_slice"] = 1.25
    nb = ContinueSearch()(state, np.random.default_rng(0))
    assert nb.is_empty and nb.info["continue"] and nb.time_limit == 1.25
    assert nb.n_free == int(p.integrality.sum())
    with pytest.raises(ValueError, match="gap_share"):
        ContinueSearch(gap_share=0.0)


class _FakeRun:
    """What the watchdog reads of a run: bounds, the time left and the tolerance."""

    def __init__(self, best: float, dual: float, left: float) -> None:
        self.best_obj, self.dual_bound, self._left = best, dual, left
        self.minp = knapsack().as_minimization()
        self.integral = False
        self.best_x = None  # the thread then never fires
        self.trajectory: list = []
        self.t0 = 0.0

    def time_left(self) -> float:
        return self._left

    def tol(self, ref: float) -> float:
        return 1e-9


def _watchdog(run, window: float = 2.0) -> _GapWatchdog:
    wd = _GapWatchdog(run, backend=object(), not_before=math.inf, stall=None, cap=math.inf,
                      window=window)
    wd.stop()  # the rule is tested on hand-made samples, not on the thread's
    return wd


def test_watchdog_closing_rule():
    run = _FakeRun(best=10.0, dual=0.0, left=20.0)
    wd = _watchdog(run)
    # gap 10 -> 8 in 2 s: 1 per second, 8 s to close < 20 s left: closing
    wd._samples = [(0.0, 10.0), (1.0, 9.0), (2.0, 8.0)]
    assert wd.closing(2.0)
    # same rate with only 5 s left: not closing
    run._left = 5.0
    assert not wd.closing(2.0)
    # a flat gap is not closing; an infinite one neither
    run._left = 100.0
    wd._samples = [(0.0, 8.0), (2.0, 8.0)]
    assert not wd.closing(2.0)
    wd._samples = [(0.0, math.inf), (2.0, math.inf)]
    assert not wd.closing(2.0)
    # a closed gap counts as closing (the backend is about to prove optimality)
    wd._samples = [(0.0, 1.0), (2.0, 0.0)]
    assert wd.closing(2.0)
    # the rate is taken over the window: an old fast drop does not count
    wd._samples = [(0.0, 100.0), (1.0, 8.0), (9.0, 8.0), (10.0, 8.0)]
    assert not wd.closing(10.0)


def test_continue_only_runs_pulls_and_logs_them():
    res = sh.solve(knapsack(n=150, m=10, seed=4), solver="balans", time_limit=20.0, seed=1,
                   destroy=["continue"], max_iterations=3, continue_slice=0.05,
                   initial_time_limit=0.02, rel_gap=0.0)
    # max_iterations ends the search: iteration_limit with the incumbent (or optimal)
    assert res.status in ("iteration_limit", "optimal") and res.has_solution
    pulls = res.info["continue_pulls"]
    assert len(pulls) == res.iterations
    assert res.iterations >= 1 or res.status == "optimal", res.info
    slice_ = pulls[0][1]
    for _t, s, _run, _ext, outcome in pulls:
        assert s == pytest.approx(slice_)
        if outcome in ("best", "better"):
            slice_ *= 2.0  # doubled after a pull that closed part of the gap


def test_two_sub_mip_backends_chosen_by_a_bandit():
    pytest.importorskip("ortools")
    res = sh.solve(knapsack(n=50, seed=2), solver="balans", time_limit=20.0, seed=0,
                   sub_backends=["highs", "ortools-scip"], max_iterations=8,
                   destroy=["mutation_50", "rins_50"], **SEARCH)
    used = res.info["sub_backends"]
    assert set(used) == {"highs", "ortools-scip"}
    assert sum(p for p, _ in used.values()) == res.iterations
    assert sh.load_problem(knapsack(n=50, seed=2)).check(res.x).feasible


def test_backend_options_are_checked():
    with pytest.raises(BadInputError, match="backend_options"):
        sh.solve(knapsack(), solver="balans", time_limit=1.0,
                 backend_options={"ortools-scip": {"solver_parameters": ""}})
    with pytest.raises(BadInputError, match="backend_options\\['highs'\\]"):
        sh.solve(knapsack(), solver="balans", time_limit=1.0,
                 backend_options={"highs": {"no_such_keyword": 1}})


class _RecordingBackend:
    capabilities = frozenset({"warm_start", "bounds"})

    def __init__(self) -> None:
        self.kwargs: list[dict] = []

    def set_col_bounds(self, *a) -> None:
        pass

    def modified(self):
        import contextlib
        return contextlib.nullcontext(self)

    def solve(self, **kw):
        from solverhub.core.backend import BackendResult
        from solverhub.core.result import Status

        self.kwargs.append(kw)
        return BackendResult(Status.TIME_LIMIT)


def test_sub_node_limit_reaches_sub_mips_but_not_continue_pulls():
    p = knapsack().as_minimization()
    b = _RecordingBackend()
    state = _state(p, b)
    state.info["sub_node_limit"] = 77
    rng = np.random.default_rng(0)
    SubMIP()(state, Neighbourhood("mutation_50", bound_idx=np.array([0]), lower=np.zeros(1),
                                  upper=np.zeros(1)), 1.0, rng)
    SubMIP()(state, Neighbourhood("continue", info={"continue": True}), 1.0, rng)
    assert b.kwargs[0]["node_limit"] == 77 and b.kwargs[1]["node_limit"] is None


def test_highs_feasibility_jump_guard():
    from solverhub.plugins.highs.backend import HighsBackend

    p = knapsack(n=40).as_minimization()
    plain = HighsBackend(p)
    guarded = HighsBackend(p, fj_seconds_per_nnz=1.0, fj_share=0.5)  # predicts hours: off
    cheap = HighsBackend(p, fj_seconds_per_nnz=1e-12)
    try:
        assert "feasibility_jump" not in plain.solve(time_limit=5.0).info
        assert "predicted" in guarded.solve(time_limit=5.0).info["feasibility_jump"]
        assert "feasibility_jump" not in cheap.solve(time_limit=5.0).info
        x = cheap.solve(time_limit=5.0).x
        assert cheap.solve(time_limit=5.0, warm_start=x).info["feasibility_jump"] == "off: warm-started"
        # fixing columns lowers the predicted work
        before = cheap.free_nonzeros()
        cheap.fix(np.arange(10), np.zeros(10))
        assert cheap.free_nonzeros() < before
        cheap.restore()
        assert cheap.free_nonzeros() == before
    finally:
        for b in (plain, guarded, cheap):
            b.close()


def test_highs_progress_reports_bounds_of_the_running_solve():
    from solverhub.plugins.highs.backend import HighsBackend

    p = knapsack(n=120, m=8, seed=5).as_minimization()
    b = HighsBackend(p)
    try:
        assert b.progress() is None
        res = b.solve(time_limit=30.0, node_limit=30)
        pr = b.progress()
        assert pr is not None
        _t, primal, dual = pr
        assert dual <= primal + 1e-6 and dual <= res.objective + 1e-6
    finally:
        b.close()


def test_two_level_policy_learns_the_continue_arm_first():
    from solverhub.plugins.balans.select.thompson import Thompson
    from solverhub.plugins.balans.solver import _TwoLevelPolicy

    arms = [((n, None), ("sub_mip", None)) for n in ["mutation_50", "continue", "rins_50"]]
    pol = _TwoLevelPolicy.build(arms, lambda n: Thompson(n, max_reward=8.0), 8.0)
    assert isinstance(pol, _TwoLevelPolicy) and pol.cont == [1] and pol.lns == [0, 2]
    pol.prior_seconds(2.0, 1.0)
    rng = np.random.default_rng(0)
    for _ in range(40):  # continue always pays, neighbourhoods never do; same seconds per pull
        a = pol.select(rng)
        pol.update(a, 8.0 if a == 1 else 1.0, seconds=1.0)
    picks = [pol.select(rng) for _ in range(200)]
    assert picks.count(1) > 150
    # the same success rates, but a continue pull costs 20x the time: neighbourhoods win
    slow = _TwoLevelPolicy.build(arms, lambda n: Thompson(n, max_reward=8.0), 8.0)
    for _ in range(30):
        slow.update(1, 4.0, seconds=20.0)
        slow.update(0, 4.0, seconds=1.0)
    picks = [slow.select(rng) for _ in range(200)]
    assert picks.count(1) < 20
    # without "continue", or with nothing else, the configured policy is used as it is
    flat = _TwoLevelPolicy.build(arms[:1], lambda n: Thompson(n), 8.0)
    assert isinstance(flat, Thompson)


def test_cpu_share_is_a_fraction_and_scales_the_guard():
    from solverhub.plugins.highs.backend import HighsBackend, cpu_share

    assert 0.05 <= cpu_share(0.01) <= 1.0
    p = knapsack(n=40).as_minimization()
    b = HighsBackend(p, fj_seconds_per_nnz=1e-3, fj_share=1.0)
    try:
        nnz = b.free_nonzeros()
        # the share is measured at the build and again where presolve ends: pinned here
        b.share_probe = lambda: 1.0
        b.cpu_share = 1.0  # quiet: predicted nnz * 1e-3 s fits in a limit of 2x that
        assert "feasibility_jump" not in b.solve(time_limit=2e-3 * nnz).info
        b.share_probe = lambda: 0.25
        b.cpu_share = 0.25  # a core shared four ways: four times the prediction, it does not fit
        assert "predicted" in b.solve(time_limit=2e-3 * nnz).info["feasibility_jump"]
    finally:
        b.close()


class _StretchBackend:
    """A backend double: records the limits it is given and reports a fixed unresponsive stretch."""

    name = "fake"
    capabilities = frozenset({"interrupt"})

    def __init__(self, gap: float | None) -> None:
        self.problem = None
        self.gap = gap
        self.limits: list[float] = []

    def solve(self, time_limit=None, **kwargs):
        from solverhub.core.backend import BackendResult
        from solverhub.core.result import Status

        self.limits.append(time_limit)
        info = {} if self.gap is None else {"max_poll_gap": self.gap}
        return BackendResult(Status.TIME_LIMIT, info=info)

    def interrupt(self) -> None:
        pass


def test_deadline_proxy_keeps_the_longest_stretch_and_never_gives_more_than_time_left():
    import time

    from solverhub.plugins.balans.guard import DeadlineBackend

    b = DeadlineBackend(_StretchBackend(gap=2.5), deadline=time.perf_counter() + 1000.0)
    b.solve(time_limit=5.0)
    b.solve(time_limit=1e9)
    assert b.limits[0] == 5.0 and b.limits[1] <= 1000.0  # capped by the time left
    assert b.take_stretch() == 2.5 and b.take_stretch() == 0.0  # reset after reading
    silent = DeadlineBackend(_StretchBackend(gap=None), deadline=time.perf_counter() + 1000.0)
    silent.solve(time_limit=5.0)
    assert silent.take_stretch() == 0.0  # no poll reports, not past its limit


def test_sub_mip_limit_keeps_the_predicted_stretch_back_and_learns_it():
    """The limit handed to a sub-MIP never exceeds the time left less its predicted unresponsive
    stretch (stretch per share x the neighbourhood's free share), and a longer stretch raises the
    prediction (the 80k set cover: a RINS sub-MIP's presolve ran 7 s past the deadline)."""
    from solverhub.core.observers import NULL_NOTIFIER
    from solverhub.plugins.balans.options import BalansOptions
    from solverhub.plugins.balans.solver import _Run

    p = knapsack(n=30)
    run = _Run(BalansOptions(), p, 30.0, 0, NULL_NOTIFIER)
    run.stretch_per_share = 4.0
    assert run._predicted_stretch(0.5) == 2.0
    run._learn_stretch(0.3, 1.0)  # below the noise floor: ignored
    assert run.stretch_per_share == 4.0
    run._learn_stretch(6.0, 0.75)  # 8 s per share
    assert run.stretch_per_share == pytest.approx(8.0)
    run._learn_stretch(3.0, 0.01)  # a tiny sub-MIP's share is floored at 0.25: 12 s per share
    assert run.stretch_per_share == pytest.approx(12.0)


def test_highs_reports_poll_gaps_and_presolve_guard():
    from solverhub.plugins.highs.backend import HighsBackend

    p = knapsack(n=40).as_minimization()
    b = HighsBackend(p, presolve_guard=True)
    try:
        res = b.solve(time_limit=5.0)
        assert 0.0 <= res.info["max_poll_gap"] <= res.runtime + 0.05
        x = res.x
        assert "presolve" not in b.solve(time_limit=5.0, warm_start=x).info
        # once a restricted warm-started solve's presolve outlasted its limit, later ones run
        # without presolve (and still solve); whole-problem solves keep it
        b.presolve_outlasted = True
        b.fix(np.arange(5), x[:5])
        r = b.solve(time_limit=5.0, warm_start=x)
        assert r.info["presolve"].startswith("off") and r.x is not None
        b.restore()
        assert "presolve" not in b.solve(time_limit=5.0, warm_start=x).info
        assert b._h.getOptionValue("presolve")[1] == "choose"  # restored after the solve
    finally:
        b.close()


def test_continue_pull_limit_keeps_the_predicted_stretch_back(monkeypatch):
    """A "continue" pull's backend limit is the time left *less* 1.5x the predicted stretch (an
    interrupt at the limit is answered only at the backend's next poll), not the time left."""
    from solverhub.plugins.balans import solver as balans_solver

    seen: list[tuple[float, float]] = []
    call = SubMIP.__call__

    def recording(self, state, nb, time_limit, rng):
        seen.append((time_limit, state.backend.time_left(), state.backend.usable()))
        return call(self, state, nb, time_limit, rng)

    monkeypatch.setattr(SubMIP, "__call__", recording)
    monkeypatch.setattr(balans_solver._Run, "_predicted_stretch", lambda self, share: 2.0)
    sh.solve(knapsack(n=150, m=10, seed=4), solver="balans", time_limit=20.0, seed=1,
             destroy=["continue"], max_iterations=2, continue_slice=0.05,
             initial_time_limit=0.02, rel_gap=0.0)
    assert seen, "no continue pull ran"
    for limit, left, usable in seen:
        # 1.5x the prediction kept back (the fit's margin); measured just after the limit was set
        assert limit <= left - 3.0 + 0.05
        # the proxy keeps the same back from every solve of the pull
        assert usable == pytest.approx(left - 3.0, abs=0.01)


def test_watchdog_spares_a_search_still_at_the_root():
    class Nodes:
        count: int | None = None

        def nodes(self):
            return self.count

    run = _FakeRun(best=10.0, dual=0.0, left=20.0)
    b = Nodes()
    wd = _GapWatchdog(run, backend=b, not_before=math.inf, stall=None, cap=math.inf, window=1.0,
                      spare_root=True)
    wd.stop()
    assert not wd.at_root()  # no poll yet: nothing reported, the usual rules apply
    b.count = 0
    assert wd.at_root()
    b.count = 3
    assert not wd.at_root()
    b.count = 0
    plain = _GapWatchdog(run, backend=b, not_before=math.inf, stall=None, cap=math.inf, window=1.0)
    plain.stop()
    assert not plain.at_root()  # only the first solve is spared


def test_highs_reports_its_node_count():
    from solverhub.plugins.highs.backend import HighsBackend

    b = HighsBackend(knapsack(n=120, m=8, seed=5).as_minimization())
    try:
        assert b.nodes() is None
        b.solve(time_limit=30.0, node_limit=30)
        assert b.nodes() is not None and b.nodes() >= 0
    finally:
        b.close()


def _statuses(monkeypatch):
    from solverhub.plugins.balans import solver as balans_solver

    class Rows:
        def __init__(self):
            self.rows = []

        def incumbent(self, *a):
            pass

        def iteration(self, it, info):
            self.rows.append((info["arm"], info["status"]))

    # a whole-problem neighbourhood is predicted to stay unresponsive for 1000 s: it never fits,
    # a mutation_75 neighbourhood (a quarter of the model free) always does
    monkeypatch.setattr(balans_solver._Run, "_predicted_stretch",
                        lambda self, share: 1000.0 if share > 0.9 else 0.0)
    return Rows()


def test_near_the_deadline_only_arms_that_fit_are_played(monkeypatch):
    """An arm whose last neighbourhood's set-up no longer fits is replaced by one whose does (the
    loop once ended after 10 such picks, seconds before the deadline)."""
    from solverhub.plugins.balans.solver import BalansSolver

    rows = _statuses(monkeypatch)
    res = BalansSolver(destroy=["proximity_0.005", "mutation_75"], max_iterations=12,
                       initial_time_limit=0.05, rel_gap=0.0).solve(
        knapsack(n=60, m=5, seed=2), time_limit=20.0, seed=0, notifier=rows)
    late = [arm for arm, status in rows.rows if status.startswith("not_applicable: less time")]
    assert late == ["proximity_0.005"]  # tried once; its later picks went to mutation_75
    assert [arm for arm, _ in rows.rows].count("mutation_75") == 11
    assert res.iterations == 12 and not res.info.get("stopped_for_setup")
    assert res.info["fallback_picks"] >= 1


def test_the_loop_ends_when_no_arm_fits(monkeypatch):
    from solverhub.plugins.balans.solver import BalansSolver

    rows = _statuses(monkeypatch)
    res = BalansSolver(destroy=["proximity_0.005", "local_branching_10"], initial_time_limit=0.05,
                       rel_gap=0.0).solve(knapsack(n=60, m=5, seed=2), time_limit=20.0,
                                                 seed=0, notifier=rows)
    assert res.info["stopped_for_setup"]
    # each arm tried once, then none fits: no busy loop to the deadline
    assert sorted(arm for arm, _ in rows.rows) == ["local_branching_10", "proximity_0.005"]


def test_a_held_search_is_resumed_however_long_the_predicted_set_up(monkeypatch):
    """A paused first solve has no set-up to run: "continue" pulls resume it even where the first
    solve's longest poll gap, scaled to the whole model, predicts that no sub-MIP fits in the
    time left (the run used to end there, 8-11 s early on qiu)."""
    from solverhub.plugins.balans.solver import _Run

    monkeypatch.setattr(_Run, "_first_stretch", lambda self, backend, res: 1e4)
    res = sh.solve(knapsack(n=200, m=15, seed=7), solver="balans", time_limit=30.0, seed=0,
                   destroy=["rins_50", "continue"], initial_min_share=0.01, initial_stall=0.01,
                   max_iterations=3, continue_slice=0.05, rel_gap=0.0)
    if res.status == "optimal" and not res.info.get("search_pauses"):
        pytest.skip("the first solve proved the optimum before its cut")
    assert not res.info.get("stopped_for_setup"), res.info.get("iteration_log")
    assert res.status in ("iteration_limit", "optimal")
    assert [p for p in res.info["continue_pulls"] if p[2] > 0]  # pulls that ran


def test_when_no_set_up_fits_the_held_search_gets_the_rest_of_the_time(monkeypatch):
    """Where no neighbourhood's predicted set-up fits in the time left, the paused first solve (no
    set-up) is resumed for the rest instead of the loop ending early (every danoint and pk1 run of
    the validation half ended 0.3-4.8 s before the deadline there), and counted as a continue
    pull."""
    from solverhub.plugins.balans.solver import _Run

    # no sub-MIP fits, and an ordinary "continue" pull never fits either (its held poll gap)
    monkeypatch.setattr(_Run, "_predicted_stretch", lambda self, share: 1e4)
    monkeypatch.setattr(_Run, "_held_stretch", lambda self, search: 1e4)
    res = sh.solve(knapsack(n=200, m=15, seed=7), solver="balans", time_limit=4.0, seed=0,
                   destroy=["rins_50", "continue"], initial_min_share=0.01, initial_stall=0.01,
                   continue_slice=0.05, rel_gap=0.0)
    if res.status == "optimal" and not res.info.get("search_pauses"):
        pytest.skip("the first solve proved the optimum before its cut")
    assert not res.info.get("stopped_for_setup"), res.info.get("iteration_log")
    assert res.info["final_continue"] > 0
    assert res.status in ("time_limit", "optimal")
    final = res.info["continue_pulls"][-1]
    assert final[2] == pytest.approx(res.info["final_continue"], abs=1e-3)
    assert final[1] > 0.05  # its slice was the time left, not continue_slice
    arms = {a["name"]: a for a in res.info["arms"]}
    assert arms["continue"]["pulls"] >= 1
    assert res.info["search_pauses"] >= 1


def test_without_a_held_search_the_loop_still_ends_when_no_set_up_fits(monkeypatch):
    """No "continue" arm, nothing held to resume: the loop ends as before, marked."""
    from solverhub.plugins.balans.solver import _Run

    monkeypatch.setattr(_Run, "_predicted_stretch", lambda self, share: 1e4)
    res = sh.solve(knapsack(n=200, m=15, seed=7), solver="balans", time_limit=4.0, seed=0,
                   destroy=["rins_50", "mutation_75"], initial_min_share=0.01,
                   initial_stall=0.01, rel_gap=0.0)
    if res.status == "optimal" and not res.info.get("search_pauses"):
        pytest.skip("the first solve proved the optimum before its cut")
    assert res.info["stopped_for_setup"] and "final_continue" not in res.info


def test_watchdog_tells_a_cut_at_the_cap_while_improving_from_a_stall():
    """At the cap, a first solve whose last new incumbent is younger than the stall window was cut
    while still improving (resume_improving resumes it first); one older was cut for stalling."""

    class Interruptible:
        interrupted = False

        def interrupt(self):
            self.interrupted = True

    # the incumbent dates from the watchdog's start; its first poll comes 0.05 s later: a stall
    # window of 1e-3 s has passed by then, one of 1e6 s has not
    for stall, improving in ((1e6, True), (1e-3, False)):
        run = _FakeRun(best=10.0, dual=0.0, left=20.0)
        run.best_x = np.zeros(3)
        run.trajectory = [(0.0, 10.0)]
        b = Interruptible()
        # not_before and the cap already passed
        wd = _GapWatchdog(run, backend=b, not_before=0.0, stall=stall, cap=0.0, window=1.0)
        wd._thread.join(timeout=60.0)
        wd.stop()
        assert wd.fired and b.interrupted
        assert wd.cut_improving is improving


def test_a_first_solve_cut_while_improving_is_resumed_by_the_first_pull():
    """The first solve is paused at its cap while still improving (no stall rule: every cut is at
    the cap): the loop's first pull is "continue" on the held search, whatever the bandit would
    have drawn; with resume_improving off the bandit alone decides."""
    kw = dict(time_limit=30.0, seed=0, destroy=["rins_50", "mutation_50", "continue"],
              initial_min_share=0.005, initial_share=0.01, initial_stall=None,
              max_iterations=1, continue_slice=0.05, rel_gap=0.0)
    res = sh.solve(knapsack(n=200, m=15, seed=7), solver="balans", **kw)
    if res.status == "optimal" and not res.info.get("search_pauses"):
        pytest.skip("the first solve proved the optimum before its cut")
    assert res.info["initial_cut_improving"] is True
    assert res.info["resumed_first"] is True
    pulls = res.info["continue_pulls"]
    assert len(pulls) == 1 and pulls[0][2] > 0  # the one iteration resumed the held search
    assert res.info["iteration_log"][0][2] == 2  # the "continue" arm's index
    off = sh.solve(knapsack(n=200, m=15, seed=7), solver="balans", resume_improving=False, **kw)
    assert "resumed_first" not in off.info


def test_two_level_policy_pays_per_second_only_for_a_gain_over_a_reject():
    """Fast neighbourhoods that never improve against a backend search that finds a new best in
    every (20x longer) pull: counted from the reject's score the search wins; counted whole, a
    reject's 1/8 per 0.3 s outweighed a best per 6 s."""
    from solverhub.plugins.balans.select.thompson import Thompson
    from solverhub.plugins.balans.solver import _TwoLevelPolicy

    arms = [((n, None), ("sub_mip", None)) for n in ["mutation_50", "continue", "rins_50"]]

    def picks(floor: float) -> int:
        pol = _TwoLevelPolicy.build(arms, lambda n: Thompson(n, max_reward=8.0), 8.0, floor)
        for _ in range(20):
            pol.update(0, 1.0, seconds=0.3)  # a reject
            pol.update(1, 8.0, seconds=6.0)  # a new best
        rng = np.random.default_rng(0)
        return [pol.select(rng) for _ in range(200)].count(1)

    assert picks(1.0) > 110  # most of the picks
    assert picks(0.0) < 20
    # a floor at or above the largest score falls back to whole rewards
    pol = _TwoLevelPolicy.build(arms, lambda n: Thompson(n, max_reward=1.0), 1.0, 1.0)
    assert pol.floor == 0.0 and pol.max_reward == 1.0


def test_the_first_level_floor_is_the_reject_score():
    from solverhub.core.observers import NULL_NOTIFIER
    from solverhub.plugins.balans.options import BalansOptions
    from solverhub.plugins.balans.solver import _Run, _TwoLevelPolicy

    p = knapsack(n=20, m=3, seed=1)
    opts = BalansOptions(destroy=["rins_50", "continue"])
    pol = _Run(opts, p, 1.0, 0, NULL_NOTIFIER)._components()[1]
    assert isinstance(pol, _TwoLevelPolicy) and pol.floor == 1.0 and pol.max_reward == 8.0
    opts = BalansOptions(destroy=["rins_50", "continue"], gain_per_second=False)
    assert _Run(opts, p, 1.0, 0, NULL_NOTIFIER)._components()[1].floor == 0.0
    # the paper's binary scores: a reject already earns nothing
    opts = BalansOptions(destroy=["rins_50", "continue"], scores=[1, 1, 0, 0])
    assert _Run(opts, p, 1.0, 0, NULL_NOTIFIER)._components()[1].floor == 0.0
