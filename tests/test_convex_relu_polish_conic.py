"""Issue 23, the convex ReLU speed work: the Newton polish's churn test, the conic polish of the
same iterate when Newton churns (polish_method="newton-conic", the admm route of
convex-relu-auto), and the conic polish's stop checks (time limit and Ctrl-C around each build
and solve and inside CLARABEL's iterations). Statuses and reasons only: no wall clock."""

from __future__ import annotations

import math

import pytest
from conftest import isotropic_relu_problem

import solverhub as sh
from solverhub.core.interrupt import clear_stop, request_stop
from solverhub.core.result import Status
from solverhub.plugins.convex_relu import ConvexReluAdmm, ConvexReluCvxpy
from solverhub.plugins.convex_relu import polish as polish_mod
from solverhub.plugins.convex_relu.polish import CHURN_START, polish_conic, polish_squared

pytest.importorskip("cvxpy")
pytest.importorskip("clarabel")


def _admm_iterate(pb, iterations):
    """ADMM's iterate V and its guess of the rows at equality after ``iterations``, as the
    polish sees them (captured from the ADMM's own call)."""
    import solverhub.plugins.convex_relu.admm as admm_mod

    seen = []
    real = admm_mod.polish_squared

    def spy(pb_, V, active, **kw):
        seen.append((V.copy(), active.copy()))
        return real(pb_, V, active, **kw)

    admm_mod.polish_squared = spy
    try:
        ConvexReluAdmm(polish_start=iterations, max_iterations=iterations).solve(pb)
    finally:
        admm_mod.polish_squared = real
    return seen[0]


def _rel(a, b):
    return abs(a - b) / abs(b)


def test_newton_polish_gives_up_when_its_active_set_churns():
    # 12-d isotropic data: at iteration 200 nearly every group still changes a row per round;
    # the attempt stops at round CHURN_START (it ran to the round cap of 40 before)
    pb = isotropic_relu_problem(150, 12)
    V, active = _admm_iterate(pb, 200)
    out = polish_squared(pb, V, active, max_rounds=40)
    assert not out.accepted and out.churned and "churns" in out.reason
    assert out.rounds == CHURN_START
    # the test off: the attempt goes on past CHURN_START
    off = polish_squared(pb, V, active, max_rounds=40, churn_start=0)
    assert not off.churned and off.rounds > CHURN_START


def test_newton_polish_trace_records_each_round():
    pb = isotropic_relu_problem(150, 12)
    V, active = _admm_iterate(pb, 200)
    trace = []
    out = polish_squared(pb, V, active, max_rounds=40, trace=trace)
    # one row per round, each with the round's certified gap, up to the round the churn test
    # stops
    assert out.churned and [r[0] for r in trace] == list(range(1, out.rounds + 1))
    assert all(0 <= ch <= g for _r, ch, g, _gap in trace)
    assert all(math.isfinite(gap) and gap > 1e-7 for *_x, gap in trace)   # never certified
    assert trace[-1][1] >= 0.9 * trace[-1][2]                              # it churned


def test_churning_attempt_goes_on_while_its_gap_falls_fast(monkeypatch):
    # the churn test's progress clause: with CHURN_PROGRESS 0 every churning round counts as
    # fast progress, so the attempt runs to the round cap; not certified there, it is marked
    # churned (so newton-conic follows with the conic polish of the same iterate)
    pb = isotropic_relu_problem(150, 12)
    V, active = _admm_iterate(pb, 200)
    monkeypatch.setattr(polish_mod, "CHURN_PROGRESS", 0.0)
    trace = []
    out = polish_squared(pb, V, active, max_rounds=20, trace=trace)
    assert out.rounds == 20 and len(trace) == 20 and not out.accepted
    assert out.churned and out.reason.startswith("active set did not settle (churned")
    # with the real clause the same attempt stops at CHURN_START: its gap falls slowly
    monkeypatch.undo()
    trace = []
    stopped = polish_squared(pb, V, active, max_rounds=20, trace=trace)
    assert stopped.churned and stopped.rounds == CHURN_START
    gaps = [g for *_x, g in trace]
    assert min(gaps[-polish_mod.CHURN_ROUNDS:]) * polish_mod.CHURN_PROGRESS > \
        min(gaps[:-polish_mod.CHURN_ROUNDS])


def test_settling_polish_does_not_churn():
    # a set whose polish settles certifies, as before the churn test
    pb = isotropic_relu_problem(120, 20)
    V, active = _admm_iterate(pb, 200)
    out = polish_squared(pb, V, active, max_rounds=40)
    assert out.accepted and not out.churned


def test_newton_conic_polishes_the_same_iterate_when_newton_churns():
    pb = isotropic_relu_problem(150, 12)
    ref = ConvexReluCvxpy().solve(pb)
    res = ConvexReluAdmm(polish_method="newton-conic", polish_group_tol=0.01).solve(pb)
    first = res.info["polish_attempts"][0]
    assert first["iteration"] == 200 and first["accepted"]
    assert first["reason"].startswith("newton: active set churns") and "conic: certified" in first["reason"]
    assert res.status == Status.OPTIMAL and res.iterations == 200
    assert _rel(res.objective, ref.objective) <= 1e-5 and pb.cone_violation(res.x) <= 1e-8
    # plain Newton (convex-relu-admm's default) does not call the conic polish
    plain = ConvexReluAdmm().solve(pb)
    assert all("conic" not in a["reason"] for a in plain.info["polish_attempts"])


def test_auto_admm_route_uses_the_conic_fallback():
    pb = isotropic_relu_problem(150, 12)
    res = sh.solve(pb, solver="convex-relu-auto")
    assert res.route.name == "admm" and res.route.solver == "convex-relu-admm"
    assert "conic: certified" in res.info["polish_attempts"][0]["reason"]
    assert res.status == sh.Status.OPTIMAL


def test_conic_polish_stops_at_the_deadline_and_on_ctrl_c():
    pb = isotropic_relu_problem(120, 20)
    V, _ = _admm_iterate(pb, 50)
    out = polish_conic(pb, V, deadline=0.0)
    assert not out.accepted and out.reason == "time limit" and out.rounds == 0
    request_stop()
    try:
        out = polish_conic(pb, V)
    finally:
        clear_stop()
    assert not out.accepted and out.reason == "interrupted" and out.rounds == 0
    assert polish_conic(pb, V).accepted          # the same call without a stop request


class _StopAfter:
    """limit_status stand-in: go on for ``calls`` calls, then report ``status``; counts calls."""

    def __init__(self, calls, status):
        self.calls, self.status, self.n = calls, status, 0

    def __call__(self, deadline):
        self.n += 1
        return self.status if self.n > self.calls else None


@pytest.mark.parametrize("status, reason", [(Status.INTERRUPTED, "interrupted"),
                                            (Status.TIME_LIMIT, "time limit")])
def test_clarabel_solve_stops_inside_its_iterations(monkeypatch, status, reason):
    # calls 1 and 2 are the checks before the build and before the solve; from call 3 on
    # CLARABEL's per-iteration callback reads it: the solve must end at the first True (a solve
    # that ignored it would call it once per iteration, about 20 times, and return a point)
    pb = isotropic_relu_problem(120, 20)
    V, _ = _admm_iterate(pb, 50)
    stop = _StopAfter(3, status)
    monkeypatch.setattr(polish_mod, "limit_status", stop)
    out = polish_conic(pb, V)
    assert not out.accepted and out.reason == reason and out.rounds == 0
    assert stop.n <= 6


def test_admm_with_conic_polish_returns_its_point_when_interrupted_inside_clarabel(monkeypatch):
    # a stop request that arrives during the conic polish's CLARABEL solve ends the ADMM run
    # with status interrupted and a feasible point (the result is not lost)
    pb = isotropic_relu_problem(120, 20)
    calls = {"n": 0}
    real = polish_mod.limit_status

    def stop_inside(deadline):
        calls["n"] += 1
        if calls["n"] == 3:                  # CLARABEL's first iteration
            request_stop()
        return real(deadline)

    monkeypatch.setattr(polish_mod, "limit_status", stop_inside)
    try:
        res = ConvexReluAdmm(polish_method="conic", polish_start=50).solve(pb)
    finally:
        clear_stop()
    assert res.status == Status.INTERRUPTED
    assert res.info["polish_attempts"][0]["reason"] == "interrupted"
    assert res.x is not None and math.isfinite(res.objective)
    assert pb.cone_violation(res.x) <= 1e-8


def _spy_restricted(monkeypatch, fail_without_refinement=False):
    """Record the ``refine`` flag of each restricted CLARABEL solve; optionally make every
    solve without refinement fail as CLARABEL does when it stalls."""
    seen = []
    real = polish_mod._restricted_conic

    def spy(*a, refine=True, **kw):
        seen.append(refine)
        if fail_without_refinement and not refine:
            return None, "CLARABEL status NumericalError"
        return real(*a, refine=refine, **kw)

    monkeypatch.setattr(polish_mod, "_restricted_conic", spy)
    return seen


def test_conic_polish_solves_without_refinement_first(monkeypatch):
    pb = isotropic_relu_problem(120, 20)
    V, _ = _admm_iterate(pb, 200)
    seen = _spy_restricted(monkeypatch)
    out = polish_conic(pb, V, group_tol=0.01)
    assert out.accepted and out.reason == "certified"
    assert seen and not any(seen)
    # the certificate is the full program's, whatever the KKT solves did
    assert out.relative_gap <= 1e-7 and out.cone_violation <= 1e-8


def test_conic_polish_retries_with_refinement_when_the_first_attempt_fails(monkeypatch):
    pb = isotropic_relu_problem(120, 20)
    ref = ConvexReluCvxpy().solve(pb)
    V, _ = _admm_iterate(pb, 200)
    seen = _spy_restricted(monkeypatch, fail_without_refinement=True)
    out = polish_conic(pb, V, group_tol=0.01)
    assert out.accepted
    assert out.reason == "without refinement: CLARABEL status NumericalError; with: certified"
    assert seen[0] is False and all(seen[1:]) and len(seen) >= 2
    assert _rel(out.objective, ref.objective) <= 1e-5
    # refine fixed by the caller: no second attempt
    seen.clear()
    fixed = polish_conic(pb, V, group_tol=0.01, refine=False)
    assert not fixed.accepted and seen == [False]


def test_conic_polish_is_not_retried_after_a_stop(monkeypatch):
    pb = isotropic_relu_problem(120, 20)
    V, _ = _admm_iterate(pb, 50)
    seen = _spy_restricted(monkeypatch)
    request_stop()
    try:
        out = polish_conic(pb, V)
    finally:
        clear_stop()
    assert out.reason == "interrupted" and seen == []


def test_a_stalled_restricted_solve_is_judged_by_the_certificate(monkeypatch):
    # CLARABEL ending "InsufficientProgress" still hands over its last iterate: it is accepted
    # only through the full program's certificate, without a second attempt when it certifies
    import clarabel

    real_solver = clarabel.DefaultSolver

    class _Stalled:
        status = "InsufficientProgress"

        def __init__(self, sol):
            self.x = sol.x

    class _StallingSolver:
        def __init__(self, *args):
            self.inner = real_solver(*args)

        def set_termination_callback(self, fn):
            self.inner.set_termination_callback(fn)

        def solve(self):
            return _Stalled(self.inner.solve())

    monkeypatch.setattr(clarabel, "DefaultSolver", _StallingSolver)
    pb = isotropic_relu_problem(120, 20)
    V, _ = _admm_iterate(pb, 200)
    seen = _spy_restricted(monkeypatch)
    out = polish_conic(pb, V, group_tol=0.01)
    assert out.accepted and out.reason == "certified" and not any(seen)
    assert out.relative_gap <= 1e-7 and out.cone_violation <= 1e-8
