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
