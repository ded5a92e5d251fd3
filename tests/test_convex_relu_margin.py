"""The working-set polish for the margin losses and adversarial training (issue 23,
polish_margin.py): certified on the full program, within 1e-5 of CLARABEL, stops on a limit or
Ctrl-C, and convex-relu-auto's admm-margin branch."""

from __future__ import annotations

import math

import numpy as np
import pytest

import solverhub as sh
from solverhub.core.interrupt import clear_stop, request_stop
from solverhub.plugins.convex_relu import ConvexReluAdmm, ConvexReluCvxpy
from solverhub.plugins.convex_relu.auto import MARGIN_POLISH_LOSSES, choose_route
from solverhub.plugins.convex_relu.kind import make_synthetic
from solverhub.plugins.convex_relu.polish_margin import polish_margin

pytest.importorskip("cvxpy")
pytest.importorskip("clarabel")


def _rel(a, b):
    return abs(a - b) / abs(b)


def _admm_iterate(pb, iterations=60):
    res = ConvexReluAdmm(max_iterations=iterations, polish=False).solve(pb)
    return res.x.reshape(pb.c, 2, pb.P, pb.d)


@pytest.mark.parametrize("loss,eps,c", [("hinge", 0.0, 1), ("logistic", 0.0, 1),
                                        ("hinge", 0.1, 1), ("logistic", 0.1, 1),
                                        ("logistic", 0.0, 2)])
def test_polish_certifies_and_matches_clarabel(loss, eps, c):
    pb = make_synthetic(n=50, d=4, P=8, loss=loss, eps=eps, c=c, seed=2)
    ref = ConvexReluCvxpy().solve(pb)
    out = polish_margin(pb, _admm_iterate(pb), start_groups=2, grow=1.0)
    assert out.accepted, out.reason
    assert out.relative_gap <= 1e-7 and out.dual_bound <= out.objective
    assert pb.cone_violation(out.x) <= 1e-8
    assert _rel(out.objective, ref.objective) <= 1e-5
    # the bound is a lower bound on CLARABEL's optimum too (up to CLARABEL's own tolerance)
    assert out.dual_bound <= ref.objective * (1 + 1e-7)


@pytest.mark.parametrize("loss,eps", [("hinge", 0.1), ("logistic", 0.0)])
def test_polish_with_sample_weights(loss, eps):
    from solverhub.plugins.convex_relu import ReLUTraining

    base = make_synthetic(n=50, d=4, P=8, loss=loss, seed=2)
    w = np.random.default_rng(0).uniform(0.5, 2.0, 50)
    pb = ReLUTraining(base.X, base.Y, loss=loss, beta=base.beta, gates=base.gates,
                      patterns=base.D, sample_weight=w, eps=eps)
    ref = ConvexReluCvxpy().solve(pb)
    out = polish_margin(pb, _admm_iterate(pb), start_groups=2)
    assert out.accepted, out.reason
    assert _rel(out.objective, ref.objective) <= 1e-5


def test_hinge_bound_needs_the_solver_multipliers():
    # the point alone gives a loose bound for the hinge loss (samples at margin exactly 1): the
    # polish's certificate uses Clarabel's loss multipliers and closes the gap
    from solverhub.plugins.convex_relu.certify import certify_point

    pb = make_synthetic(n=50, d=4, P=8, loss="hinge", seed=2)
    out = polish_margin(pb, _admm_iterate(pb), start_groups=2)
    assert out.accepted
    assert certify_point(pb, out.x).relative_gap() > 10 * out.relative_gap


def test_polish_refuses_what_it_cannot_certify():
    pb = make_synthetic(n=50, d=4, P=8, loss="hinge", seed=2)
    V = _admm_iterate(pb)
    out = polish_margin(pb, V, start_groups=1, grow=0.01, max_solves=1)
    assert not out.accepted and out.x is None and "did not settle" in out.reason
    with pytest.raises(ValueError, match="hinge and logistic"):
        polish_margin(make_synthetic(n=30, d=3, P=4), np.zeros((1, 2, 4, 3)))


def test_polish_stops_on_limit_and_ctrl_c(monkeypatch):
    pb = make_synthetic(n=50, d=4, P=8, loss="logistic", seed=2)
    V = _admm_iterate(pb)
    out = polish_margin(pb, V, deadline=0.0)
    assert not out.accepted and out.reason == "time limit"
    request_stop()
    try:
        out = polish_margin(pb, V)
    finally:
        clear_stop()
    assert not out.accepted and out.reason == "interrupted"
    # a stop request while Clarabel iterates: its termination callback ends the solve
    import solverhub.plugins.convex_relu.polish_margin as pm

    calls = []

    def stop_in_clarabel():
        calls.append(1)
        return len(calls) > 3          # the checks before the solve pass, then Clarabel's stop
    monkeypatch.setattr(pm, "stop_requested", stop_in_clarabel)
    out = polish_margin(pb, V)
    assert not out.accepted and out.reason == "interrupted" and out.rounds == 1


def test_admm_polishes_margin_losses():
    pb = make_synthetic(n=50, d=4, P=8, loss="logistic", seed=2)
    ref = ConvexReluCvxpy().solve(pb)
    res = sh.solve(pb, solver="convex-relu-admm", polish_start=50)
    assert res.status == sh.Status.OPTIMAL and res.info["polished"]
    assert res.iterations == 50 and res.info["polish_attempts"][0]["accepted"]
    assert res.bound is not None and res.bound <= res.objective
    assert _rel(res.objective, ref.objective) <= 1e-5
    assert res.metrics["cone_violation"] <= 1e-8
    # polish=false keeps the paper's ADMM
    plain = sh.solve(pb, solver="convex-relu-admm", polish=False, max_iterations=50)
    assert not plain.info["polished"]


def test_auto_route_for_margin_losses():
    for loss in ("hinge", "logistic"):
        pb = make_synthetic(n=50, d=4, P=8, loss=loss, seed=2)
        route, why = choose_route(pb)
        if loss in MARGIN_POLISH_LOSSES:
            assert route == "admm-margin" and loss in why
        else:
            assert route == "clarabel" and loss in why
    route, why = choose_route(make_synthetic(n=50, d=4, P=8, loss="logistic", eps=0.1, seed=2))
    assert route == "admm-margin" and "adversarial" in why
    route, why = choose_route(make_synthetic(n=50, d=4, P=8, loss="hinge", eps=0.1, seed=2))
    assert route == "clarabel"
    pb = make_synthetic(n=50, d=4, P=8, loss="logistic", seed=2)
    res = sh.solve(pb, solver="convex-relu-auto")
    assert res.route.name == "admm-margin"
    assert res.route.solver == "convex-relu-admm"
    ref = ConvexReluCvxpy().solve(pb)
    assert res.status == sh.Status.OPTIMAL
    assert _rel(res.objective, ref.objective) <= 1e-5
    forced = sh.solve(make_synthetic(n=50, d=4, P=8, loss="hinge", seed=2),
                      solver="convex-relu-auto", route="admm-margin")
    assert forced.route.name == "admm-margin" and math.isfinite(forced.objective)


def _record_solves(monkeypatch):
    """Record each restricted solve's groups and Clarabel's step fraction."""
    import solverhub.plugins.convex_relu.polish_margin as pm

    seen: list[tuple[list, float]] = []
    real_init, real_solver = pm._Restricted.__init__, None
    import clarabel

    real_solver = clarabel.DefaultSolver

    def init(self, pb, j, groups, rows):
        seen.append((list(groups), math.nan))
        real_init(self, pb, j, groups, rows)

    def solver(P, q, A, b, cones, st):
        seen[-1] = (seen[-1][0], st.max_step_fraction)
        return real_solver(P, q, A, b, cones, st)

    monkeypatch.setattr(pm._Restricted, "__init__", init)
    monkeypatch.setattr(clarabel, "DefaultSolver", solver)
    return seen


def test_start_set_holds_the_blocks_the_admm_multiplier_picks(monkeypatch):
    # session 5: the working set starts with the blocks whose zero block violates its
    # optimality condition most under the ADMM's own loss multiplier, not only the largest
    # blocks of the iterate (breast_cancer logistic: 5 solves -> 3)
    from solverhub.plugins.convex_relu.polish_margin import _dual_residuals

    pb = make_synthetic(n=60, d=4, P=10, loss="logistic", seed=3)
    res = ConvexReluAdmm(max_iterations=40, polish=False).solve(pb)
    V = res.x.reshape(pb.c, 2, pb.P, pb.d)
    Lam = ConvexReluCvxpy().solve(pb)       # any multiplier works; here the loss gradient / n
    U = pb.blocks(Lam.x)[0]
    z = pb.convex_predict(Lam.x)[:, 0]
    y = pb.Y[:, 0]
    sig = 0.5 * (1.0 - np.tanh(0.5 * y * z))                     # sigma(-m)
    dual = (-(sig * y) / pb.n_samples)[:, None] * pb.X
    r = _dual_residuals(pb, dual)
    assert r.shape == (2, pb.P) and np.all(r >= 0)
    # at the optimum the support's blocks have r_b = beta, the others r_b <= beta
    norms = np.linalg.norm(U, axis=-1)
    support = norms > 1e-4 * norms.max()
    assert np.allclose(r[support], pb.beta, rtol=1e-3)
    assert np.all(r[~support] <= pb.beta * (1 + 1e-3))
    seen = _record_solves(monkeypatch)
    out = polish_margin(pb, V, start_groups=1, admm_dual=dual[None], dual_groups=4)
    assert out.accepted, out.reason
    top = np.argsort(-r.ravel(), kind="stable")[:4]
    first = seen[0][0]
    assert len(first) <= 5
    assert {(int(b) // pb.P, int(b) % pb.P) for b in top} <= set(first)


def test_last_solve_is_on_the_support_and_exp_cones_take_shorter_steps(monkeypatch):
    pb = make_synthetic(n=60, d=4, P=10, loss="logistic", seed=3)
    V = _admm_iterate(pb)
    seen = _record_solves(monkeypatch)
    # every nonzero block of the iterate in the start set: the solve has zero blocks, so a
    # last one on its support
    out = polish_margin(pb, V, start_groups=2 * pb.P)
    assert out.accepted, out.reason
    assert len(seen) >= 2
    U = pb.blocks(out.x)[0]
    last = seen[-1][0]
    assert len(last) < len(seen[0][0])
    assert all(np.linalg.norm(U[s, i]) > 0 for s, i in last)
    assert all(step == pytest.approx(0.95) for _g, step in seen)
    # the hinge loss has no exponential cones: Clarabel's default step
    seen.clear()
    pbh = make_synthetic(n=60, d=4, P=10, loss="hinge", seed=3)
    polish_margin(pbh, _admm_iterate(pbh), start_groups=4)
    assert seen and all(step == pytest.approx(0.99) for _g, step in seen)


def test_admm_passes_its_loss_multiplier_to_the_margin_polish(monkeypatch):
    import solverhub.plugins.convex_relu.admm as admm_mod

    got = {}
    real = admm_mod.polish_margin

    def spy(pb, V, **kw):
        got.update(kw)
        return real(pb, V, **kw)
    monkeypatch.setattr(admm_mod, "polish_margin", spy)
    pb = make_synthetic(n=50, d=4, P=8, loss="logistic", c=2, seed=2)
    res = sh.solve(pb, solver="convex-relu-admm", polish_start=50, polish_dual_groups=6)
    assert res.info["polished"]
    assert got["dual_groups"] == 6
    assert got["admm_dual"].shape == (pb.c, pb.n_samples, pb.d)
    assert np.all(np.isfinite(got["admm_dual"])) and np.any(got["admm_dual"] != 0)


def test_stop_during_the_start_sets_residuals(monkeypatch):
    # one NNLS per block before the first solve: a stop request there ends the attempt
    import solverhub.plugins.convex_relu.polish_margin as pm

    pb = make_synthetic(n=50, d=4, P=8, loss="logistic", seed=2)
    V = _admm_iterate(pb)
    dual = np.full((1, pb.n_samples, pb.d), 1e-3)
    calls = []

    def stop_after_two():
        calls.append(1)
        return len(calls) > 2
    monkeypatch.setattr(pm, "stop_requested", stop_after_two)
    out = polish_margin(pb, V, admm_dual=dual, dual_groups=4)
    assert not out.accepted and out.reason == "interrupted" and out.rounds == 0
    assert len(calls) <= 4                 # it did not go on through all 2 P blocks
    monkeypatch.setattr(pm, "stop_requested", lambda: False)
    out = polish_margin(pb, V, admm_dual=dual, dual_groups=4, deadline=0.0)
    assert not out.accepted and out.reason == "time limit"
