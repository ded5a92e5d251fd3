"""The bilevel plugin: kind, bolib loader, lv-hba and bilevel-penalty (issue 11 targets)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import solverhub as sh
from solverhub.plugins.bilevel import Ball, BilevelProblem
from solverhub.plugins.bilevel.bolib import load_bolib
from solverhub.testing import check_plugin, solver_checks


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "solverhub", *args], capture_output=True,
                          text=True, timeout=300)


# ------------------------------------------------------------------ targets of the issue
def test_cli_bard1988ex1_json():
    out = _cli("solve", "bolib:Bard1988Ex1", "--solver", "lv-hba", "--json")
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert res["solver"] == "lv-hba" and res["instance"] == "bolib:Bard1988Ex1"
    assert res["status"] in ("optimal", "feasible")
    assert abs(res["objective"] - 17.0) <= 1e-3
    assert res["metrics"]["solution_error"] <= 1e-3


def test_bicgaffa_toy_n10_20k():
    res = sh.solve("bolib:BiCGAFFAToy?n=10", solver="lv-hba", max_iterations=20_000)
    assert res.iterations <= 20_000
    assert res.metrics["solution_error"] <= 1e-4
    assert res.metrics["F_error"] <= 1e-4


def test_lvhba_toy_n100_20k():
    # the paper's fixed schedule (the reproduction); the default polishes (test_bilevel_polish.py)
    res = sh.solve("bolib:LVHBAToy?n=100", solver="lv-hba", preset="paper", max_iterations=20_000)
    assert res.iterations == 20_000 and res.status == "iteration_limit"
    assert res.metrics["solution_error"] <= 5e-2
    assert res.metrics["constraint_violation"] <= 1e-9


@pytest.mark.slow
def test_lvhba_toy_n100_50k():
    res = sh.solve("bolib:LVHBAToy?n=100", solver="lv-hba", preset="paper", max_iterations=50_000)
    assert res.metrics["solution_error"] <= 1e-2


def test_clark_westerberg_both_starts():
    good = sh.solve("bolib:ClarkWesterberg1990a?x0=1.5&y0=3.5", solver="lv-hba",
                    max_iterations=40_000)
    x, y = good.x
    assert abs(x - 1) <= 0.1 and abs(y - 3) <= 0.1, good.x
    assert good.metrics["constraint_violation"] <= 1e-9
    # from (4, 4.5): the documented local solution (3, 5), F = 9, or better
    loc = sh.solve("bolib:ClarkWesterberg1990a?x0=4&y0=4.5", solver="lv-hba", max_iterations=40_000)
    x, y = loc.x
    assert loc.objective <= 9.0 + 1e-6
    assert np.hypot(x - 3, y - 5) <= 0.2 or loc.objective <= 5.1, loc.x


@pytest.mark.parametrize("name", ["Bard1988Ex1", "LucchettiEtal1987"])
def test_lvhba_reaches_published_solution(name):
    res = sh.solve(f"bolib:{name}", solver="lv-hba")
    assert res.metrics["solution_error"] <= 1e-3
    assert res.metrics["F_error"] <= 1e-3
    assert res.metrics["lower_residual"] <= 1e-6


@pytest.mark.parametrize("variant", ["double-loop", "single-loop"])
def test_penalty_quadratic_to_order_sigma(variant):
    errs = []
    for sigma in (1e-1, 1e-2):
        # the lower level has Lipschitz constant 1: inner steps of 0.5 = 1 / (2 L)
        res = sh.solve("bolib:QuadraticClosedForm?n=5&seed=0", solver="bilevel-penalty",
                       variant=variant, sigma=sigma, inner_step=0.5, max_iterations=20_000)
        assert res.status != "error", res.error
        errs.append(res.metrics["x_error"])
        assert res.metrics["x_error"] <= sigma, (sigma, res.metrics)
    assert errs[1] < errs[0] / 3           # O(sigma): ten times smaller sigma, clearly smaller error


def test_penalty_handles_a_coupled_lower_level_with_multipliers():
    # ClarkWesterberg1990a: y <= 2x + 1, 2y >= x + 2, 2y + x <= 14 couple x and y; the Lagrangian
    # variant reaches the optimum (1, 3), F* = 5, and the lower level is solved there
    res = sh.solve("bolib:ClarkWesterberg1990a", solver="bilevel-penalty")
    assert abs(res.objective - 5.0) <= 1e-2 and res.metrics["lower_residual"] <= 1e-4
    assert np.allclose(res.x, [1.0, 3.0], atol=1e-2)


def test_penalty_refuses_nonlinear_lower_constraints():
    with pytest.raises(sh.BadInputError, match="affine lower-level constraints"):
        sh.solve("bolib:Dempe1992b", solver="bilevel-penalty")


# ------------------------------------------------------------------ bad input
def _quad(**kw):
    base = dict(F=lambda x, y: (x[0] - 1) ** 2 + y[0] ** 2, f=lambda x, y: (y[0] - x[0]) ** 2)
    base.update(kw)
    return BilevelProblem(1, 1, base.pop("F"), base.pop("f"), **base)


def test_inconsistent_dimensions():
    with pytest.raises(sh.BadInputError, match="x0: has 2 entries, expected 1"):
        _quad(x0=[1.0, 2.0])
    with pytest.raises(sh.BadInputError, match="lower_eq has 2 entries"):
        _quad(g=lambda x, y: np.array([y[0] - 1]), lower_eq=[True, False])
    with pytest.raises(sh.BadInputError, match="F returned 2 values"):
        _quad(F=lambda x, y: np.array([1.0, 2.0]))
    with pytest.raises(sh.BadInputError, match="grad_F returned parts of sizes 2 and 1"):
        _quad(grad_F=lambda x, y: (np.zeros(2), np.zeros(1)))
    with pytest.raises(sh.BadInputError, match="dimension 3"):
        _quad(Y=Ball(np.zeros(3), 1.0))


def test_non_finite_values():
    with pytest.raises(sh.BadInputError, match="non-finite"):
        _quad(F=lambda x, y: np.nan)
    with pytest.raises(sh.BadInputError, match="NaN or infinite"):
        _quad(y0=[np.inf])
    with pytest.raises(sh.BadInputError, match="g has non-finite values"):
        _quad(g=lambda x, y: np.array([np.nan]))


def test_derivative_checker_catches_a_wrong_gradient():
    with pytest.raises(sh.BadInputError, match="derivative checker: grad_f"):
        _quad(grad_f=lambda x, y: (np.array([2 * (y[0] - x[0])]), np.array([2 * (y[0] - x[0])])))
    ok = _quad(grad_f=lambda x, y: (np.array([-2 * (y[0] - x[0])]), np.array([2 * (y[0] - x[0])])))
    assert ok.check_derivatives()["grad_f"] <= 1e-10


def test_nonconvex_set_needs_projection():
    # Dempe1992b: lower-level constraint x - y^2 >= 0, C is not convex
    with pytest.raises(sh.BadInputError, match="non-convex"):
        sh.solve("bolib:Dempe1992b", solver="lv-hba")

    class Sphere:                      # a set without convexity: no projection is defined
        dim = 1
        convex = False

        def project(self, p):
            return p / np.linalg.norm(p)
    with pytest.raises(sh.BadInputError, match="not declared convex"):
        sh.solve(_quad(X=Sphere()), solver="lv-hba")


def test_diverging_run_says_so():
    res = sh.solve("bolib:MacalHurter1997", solver="lv-hba", alpha=10.0, eta=10.0, preset="paper")
    assert res.status == "error" and "diverged" in res.error
    assert res.x is None and res.objective is None


def test_diverging_steps_are_cut_by_the_robust_preset():
    # the same steps: the run starts again with alpha, beta, eta / 4 until it no longer diverges
    res = sh.solve("bolib:MacalHurter1997", solver="lv-hba", alpha=10.0, eta=10.0)
    assert res.status == "optimal" and res.info["step_cuts"] == 5
    assert res.info["steps"]["alpha"] == pytest.approx(10.0 / 4 ** 5)
    assert res.metrics["F_error"] <= 1e-4


def test_loader_errors():
    with pytest.raises(sh.BadInputError, match="unknown bilevel test problem"):
        sh.load_problem("bolib:NoSuchProblem")
    with pytest.raises(sh.BadInputError, match="unknown parameter"):
        sh.load_problem("bolib:Bard1988Ex1?n=3")
    out = _cli("solve", "bolib:NoSuchProblem", "--solver", "lv-hba")
    assert out.returncode == 2 and "unknown bilevel test problem" in out.stderr


def test_infeasible_C():
    from solverhub.plugins.bilevel.kind import BilevelKind

    p = BilevelKind().infeasible_instances()[0]
    assert sh.solve(p, solver="lv-hba").status == "infeasible"


def test_history_per_iteration():
    res = sh.solve("bolib:LucchettiEtal1987", solver="lv-hba", log_every=1)
    for col in ("step", "theta_gap", "multiplier_norm", "upper"):
        assert col in res.history and len(res.history[col]) >= 10


# ------------------------------------------------------------------ conformance suite
def test_plugin_conformance():
    check_plugin("solverhub.plugins.bilevel")


@pytest.mark.parametrize("check", solver_checks("lv-hba"), ids=str)
def test_lvhba_conformance(check):
    check()


def _big_quadratic():
    from solverhub.plugins.bilevel.bolib import quadratic_closed_form

    return quadratic_closed_form(n=800, m=800)


@pytest.mark.parametrize("check", solver_checks("bilevel-penalty", options={"max_iterations": 2000},
                                                hard_options={"max_iterations": 10**8},
                                                hard_instance=_big_quadratic()), ids=str)
def test_penalty_conformance(check):
    check()


@pytest.mark.parametrize("solver", ["lv-hba", "bilevel-penalty"])
def test_stop_request_returns_the_current_iterate(solver):
    from solverhub.core.interrupt import clear_stop, request_stop
    from solverhub.core.manager import get_plugin_manager

    spec = get_plugin_manager().get_solver(solver)
    P = load_bolib("bolib:LucchettiEtal1987", {})
    request_stop()
    try:
        res = spec.factory().solve(P)
    finally:
        clear_stop()
    assert res.status == "interrupted" and res.x is not None and np.all(np.isfinite(res.x))
