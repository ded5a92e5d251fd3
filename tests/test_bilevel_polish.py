"""LV-HBA's robust preset (the polish of the value-function reformulation on the identified
lower-level active set, the stationarity-based stop) against the paper preset, and the
matrix-free lower-level check of large problems (issue 23)."""

from __future__ import annotations

import numpy as np
import pytest

import solverhub as sh
from solverhub.plugins.bilevel import BilevelProblem
from solverhub.plugins.bilevel import problem as problem_module
from solverhub.plugins.bilevel.bolib import load_bolib, lvhba_toy
from solverhub.plugins.bilevel.options import LVHBAOptions


def _rel(v, ref):
    return float(np.linalg.norm(v - ref) / max(1.0, np.linalg.norm(ref)))


def test_presets_fill_only_the_options_not_given():
    assert LVHBAOptions().polish is True and LVHBAOptions().preset == "robust"
    assert LVHBAOptions(preset="paper").polish is False
    assert LVHBAOptions(preset="paper", polish=True).polish is True
    with pytest.raises(Exception, match="preset"):
        LVHBAOptions(preset="fast")


def test_interior_lower_level_quadratic_closed_form_n20():
    # the 20-variable problem: the paper's schedule stops 0.15 away after 20,000
    # iterations (F below F*: not bilevel feasible); the polish reaches the closed form
    P = load_bolib("bolib:QuadraticClosedForm?n=20", {})
    ref = P.reference_solution
    paper = sh.solve(P, solver="lv-hba", preset="paper", max_iterations=2000)
    assert _rel(paper.x, ref) > 1e-2
    res = sh.solve(P, solver="lv-hba")
    assert res.status == sh.Status.OPTIMAL and res.info["polished"] is True
    assert _rel(res.x, ref) <= 1e-10        # the Newton step on the restricted QP: exact
    assert res.iterations < 20_000
    assert res.metrics["lower_residual"] <= 1e-8


def _one_d(F):
    # lower level: min (y - x)^2 over y <= 3 (a coupled row y - 3 <= 0 written with x to keep
    # it a lower-level constraint of the bilevel form), X = [0, 5]
    return BilevelProblem(1, 1, F, lambda x, y: (y[0] - x[0]) ** 2,
                          g=lambda x, y: np.array([y[0] - 3.0 + 0.0 * x[0]]), X=(0.0, 5.0),
                          multiplier_bound=10.0)


@pytest.mark.parametrize("F,xy,Fs", [
    # interior lower-level solution y = x: F = (x-2)^2 + (x-1)^2, x* = 1.5
    (lambda x, y: (x[0] - 2.0) ** 2 + (y[0] - 1.0) ** 2, (1.5, 1.5), 0.5),
    # pinned: y = min(x, 3); F = (x-4)^2 + (y-4)^2 is least at (4, 3)
    (lambda x, y: (x[0] - 4.0) ** 2 + (y[0] - 4.0) ** 2, (4.0, 3.0), 1.0),
])
def test_polish_reaches_interior_and_pinned_optima(F, xy, Fs):
    res = sh.solve(_one_d(F), solver="lv-hba")
    assert res.status == sh.Status.OPTIMAL
    assert np.allclose(res.x, xy, atol=1e-7) and res.objective == pytest.approx(Fs, abs=1e-8)
    assert res.metrics["lower_residual"] <= 1e-8


def test_polish_keeps_the_published_toy_solution():
    # LV-HBA's own toy (non-unique lower-level solutions, an equality row coupling x and y)
    P = load_bolib("bolib:LVHBAToy?n=10", {})
    res = sh.solve(P, solver="lv-hba")
    assert res.status == sh.Status.OPTIMAL and res.info["polished"] is True
    assert res.objective == pytest.approx(P.reference_objective, rel=1e-8)


def test_no_polish_above_its_size_names_why():
    res = sh.solve("bolib:QuadraticClosedForm?n=20", solver="lv-hba", polish_max_size=10,
                   polish_newton_max_size=10,
                   max_iterations=50)
    assert res.info["polish"]["applies"] is False and "polish_max_size" in res.info["polish"]["reason"]
    assert "polished" not in res.info


# ------------------------------------------------------------------ the lower-level check
def test_matrix_free_lower_value_agrees_with_slsqp(monkeypatch):
    P = lvhba_toy(30)
    x = P.reference_x + 0.1
    dense = P.lower_value(x, P.reference_y)
    monkeypatch.setattr(problem_module, "LOWER_DENSE_MAX", 10)
    free = P.lower_value(x, P.reference_y)
    assert dense is not None and free is not None
    assert free == pytest.approx(dense, rel=1e-8, abs=1e-8)


def test_lower_residual_is_reported_for_a_large_problem():
    # LVHBAToy n = 1,000: 2,000 lower-level variables and a coupled equality row (SLSQP took
    # 127 s; at 10,000 variables it failed and the metric disappeared)
    res = sh.solve("bolib:LVHBAToy?n=1000", solver="lv-hba", max_iterations=5)
    assert "lower_residual" in res.metrics and np.isfinite(res.metrics["lower_residual"])
    P = lvhba_toy(1000)
    assert P.lower_value(P.reference_x, P.reference_y) == pytest.approx(
        P.f(P.reference_x, P.reference_y), rel=1e-8)


def test_newton_step_alone_polishes_a_qp_above_the_slsqp_size():
    # QuadraticClosedForm n = 60: 120 variables, above polish_max_size (SLSQP) but a QP within
    # polish_newton_max_size: the Newton step on the restricted problem is exact
    P = load_bolib("bolib:QuadraticClosedForm?n=60", {})
    res = sh.solve(P, solver="lv-hba")
    assert res.status == sh.Status.OPTIMAL and res.info["polished"] is True
    assert _rel(res.x, P.reference_solution) <= 1e-10
    off = sh.solve(P, solver="lv-hba", polish_newton_max_size=100, max_iterations=10)
    assert off.info["polish"]["applies"] is False and "polish_newton_max_size" in off.info["polish"]["reason"]
