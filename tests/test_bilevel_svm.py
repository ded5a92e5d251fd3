"""SVM hyperparameter selection with per-sample weights (solverhub/plugins/bilevel/svm.py): the
exact projection onto the coupled set, lv-hba on a small instance, the penalty method on the
uncoupled (scaled) form, the loader address and bad input."""

from __future__ import annotations

import numpy as np
import pytest

import solverhub as sh
from solverhub.core.errors import BadInputError
from solverhub.plugins.bilevel.sets import CoupledBounds, project_coupled_bounds
from solverhub.plugins.bilevel.svm import (
    SVMData,
    load_svm_data,
    make_problem,
    svm_problem,
    weighted_svm,
    weights_and_model,
)

pytest.importorskip("sklearn", reason="the SVM application uses scikit-learn's bundled data sets")


def _random_bounds(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xl = rng.uniform(-1.0, 1.0, n)
    xl[::4] = 0.0
    xu = xl + rng.uniform(0.0, 2.0, n)
    xu[::7] = xl[::7]                                     # degenerate: x fixed
    yl = np.minimum(rng.uniform(-1.5, 1.0, n), xu)        # sometimes above x_lower
    return xl, xu, yl


# ------------------------------------------------------------------ the projection
def test_coupled_projection_is_the_euclidean_projection():
    """Exact to rounding: feasible, and the variational inequality (p - q)'(v - q) <= 0 holds for
    feasible v (the vertices of each quadrilateral suffice, the set being their convex hull)."""
    rng = np.random.default_rng(0)
    n = 500
    xl, xu, yl = _random_bounds(rng, n)
    S = CoupledBounds(xl, xu, yl, n)
    px, py = rng.normal(0, 2, n), rng.normal(0, 2, n)
    qx, qy = S.project(px, py)
    assert S.violation(qx, qy) <= 1e-15
    a = np.maximum(xl, yl)
    for vx, vy in ((a, yl), (xu, yl), (xu, xu), (a, a)):
        vi = (px - qx) * (vx - qx) + (py - qy) * (vy - qy)
        assert np.max(vi) <= 1e-12
    # points inside stay, projecting twice changes nothing
    rx, ry = S.project(qx, qy)
    assert np.array_equal(rx, qx) and np.array_equal(ry, qy)


def test_coupled_projection_matches_a_generic_qp_solver():
    cp = pytest.importorskip("cvxpy")
    rng = np.random.default_rng(1)
    n = 60
    xl, xu, yl = _random_bounds(rng, n)
    px, py = rng.normal(0, 2, n), rng.normal(0, 2, n)
    qx, qy = project_coupled_bounds(px, py, xl, xu, yl)
    X, Y = cp.Variable(n), cp.Variable(n)
    cp.Problem(cp.Minimize(cp.sum_squares(X - px) + cp.sum_squares(Y - py)),
               [X >= xl, X <= xu, Y >= yl, Y <= X]).solve()
    assert np.max(np.abs(qx - X.value)) <= 1e-5
    assert np.max(np.abs(qy - Y.value)) <= 1e-5


def test_coupled_bounds_bad_input():
    with pytest.raises(BadInputError, match="x_upper has 2 entries"):
        CoupledBounds(0.0, [1.0, 2.0], 0.0, 3)
    with pytest.raises(BadInputError, match="NaN or infinite"):
        CoupledBounds(0.0, np.inf, 0.0, 3)
    with pytest.raises(BadInputError, match="component 1 is empty"):
        CoupledBounds([0.0, 2.0], [1.0, 1.5], 0.0, 2)
    with pytest.raises(BadInputError, match="sizes 2 and 3"):
        CoupledBounds(0.0, 1.0, 0.0, 3).project(np.zeros(2), np.zeros(3))


# ------------------------------------------------------------------ the bilevel program
@pytest.fixture(scope="module")
def small() -> SVMData:
    return load_svm_data("breast_cancer", seed=0, n_train=40, n_val=30, flip=0.2)


def test_start_is_the_plain_svm_and_lower_value_is_exact(small):
    P = svm_problem(small, c_start=2.0)
    # the start is the exact lower-level solution for uniform weights: f - min f ~ 0, feasible
    assert P.constraint_violation(P.x0, P.y0) == 0.0
    assert P.f(P.x0, P.y0) - P.lower_value(P.x0) <= 1e-9
    # the kind's lower-level value (single-variable rows a_i <= x_i as bounds) agrees with the
    # exact solve at other weights
    x = np.linspace(0.0, 3.0, P.nx)
    _, alpha = weighted_svm(small.Z_train, small.y_train, 2.0 * x, small.nu)
    assert abs(P.lower_value(x) - P.f(x, alpha / 2.0)) <= 1e-8 * max(1.0, abs(P.lower_value(x)))


def test_lvhba_improves_the_upper_objective(small):
    P = svm_problem(small, c_start=2.0)
    res = sh.solve(P, solver="lv-hba", alpha=0.5, eta=1.0, max_iterations=1500)
    assert res.status != "error", res.error
    assert res.metrics["constraint_violation"] == 0.0
    assert res.metrics["lower_residual"] <= 1e-2 * max(1.0, abs(res.metrics["lower_objective"]))
    x, w = weights_and_model(P, res.x)
    assert np.all(x >= 0.0) and np.all(x <= 10.0) and not np.allclose(x, 1.0)

    def val_loss(w: np.ndarray) -> float:
        return float(np.mean(np.maximum(1.0 - small.y_val * (small.Z_val @ w), 0.0) ** 2))

    # the validation loss of the SVM retrained for the weights found: clearly below the start's
    assert val_loss(w) <= 0.8 * val_loss(P.start_model)
    assert res.objective <= 0.8 * P.F(P.x0, P.y0)


def test_penalty_on_both_forms(small):
    # the coupled form (alpha_i <= c_i) runs the Lagrangian variant (inner problems with their
    # multipliers); the scaled form the projected one
    coupled = svm_problem(small, c_start=2.0)
    res = sh.solve(coupled, solver="bilevel-penalty", max_iterations=5)
    assert res.status == "iteration_limit" and res.iterations == 5
    assert res.metrics["constraint_violation"] <= 1e-6
    scaled = svm_problem(small, c_start=2.0, formulation="scaled")
    res = sh.solve(scaled, solver="bilevel-penalty", variant="single-loop", alpha=0.5,
                   inner_step=0.5, sigma=0.1, max_iterations=1500)
    assert res.status != "error", res.error
    _, w = weights_and_model(scaled, res.x)
    h = np.maximum(1.0 - small.y_val * (small.Z_val @ w), 0.0)
    h0 = np.maximum(1.0 - small.y_val * (small.Z_val @ scaled.start_model), 0.0)
    assert np.mean(h * h) < np.mean(h0 * h0)


def test_loader_address():
    addr = "py:solverhub.plugins.bilevel.svm:make_problem?seed=1&n_train=30&n_val=20&c_start=1.0"
    P = sh.load_problem(addr)
    assert P.kind == "bilevel" and (P.nx, P.ny, P.l) == (30, 30, 30)
    res = sh.solve(addr, solver="lv-hba", max_iterations=20)
    assert res.status == "iteration_limit" and res.metrics["constraint_violation"] == 0.0


# ------------------------------------------------------------------ bad input
def test_bad_input_names_it(small):
    d = small
    bad = {"Z_train": d.Z_train, "y_train": d.y_train, "Z_val": d.Z_val, "y_val": d.y_val,
           "Z_test": d.Z_test, "y_test": d.y_test, "flipped": d.flipped}
    Znan = d.Z_train.copy()
    Znan[3, 2] = np.nan
    with pytest.raises(BadInputError, match="Z_train or y_train has NaN"):
        SVMData(**{**bad, "Z_train": Znan})
    with pytest.raises(BadInputError, match="Z_val has shape"):
        SVMData(**{**bad, "Z_val": d.Z_val[:-1]})
    with pytest.raises(BadInputError, match="different numbers of features"):
        SVMData(**{**bad, "Z_test": d.Z_test[:, :-1]})
    with pytest.raises(BadInputError, match="labels -1 and \\+1"):
        SVMData(**{**bad, "y_train": (d.y_train + 1) / 2})
    with pytest.raises(BadInputError, match="unknown dataset 'iris'"):
        load_svm_data("iris")
    with pytest.raises(BadInputError, match="flip"):
        load_svm_data(flip=0.7)
    with pytest.raises(BadInputError, match="n_train"):
        make_problem(n_train=600)
    with pytest.raises(BadInputError, match="formulation 'primal'"):
        svm_problem(small, c_start=1.0, formulation="primal")
    with pytest.raises(BadInputError, match="c_start"):
        svm_problem(small, c_start=float("nan"))
    with pytest.raises(BadInputError, match="c_max"):
        svm_problem(small, c_start=1.0, c_max=0.5)


@pytest.mark.slow
def test_comparison_with_noisy_labels():
    """The table of docs/benchmarks.md, one seed at 40 % flipped labels: per-sample weights from
    either solver lower the validation loss below the best uniform C, and beat no tuning on test."""
    from solverhub.plugins.bilevel.svm import svm_comparison

    rows = {r.method: r for r in svm_comparison(seed=0, flip=0.4)}
    no_tuning = rows["uniform c, C = 1 (no tuning)"]
    best_uniform = min(r.val_loss for k, r in rows.items() if k.startswith("uniform"))
    for key in ("lv-hba, per-sample c (coupled)", "bilevel-penalty, per-sample c (scaled)"):
        assert rows[key].status == "iteration_limit"
        assert rows[key].val_loss < best_uniform
        assert rows[key].test_accuracy > no_tuning.test_accuracy
