"""convex_relu plugin: kind, loader, ADMM vs CVXPY, recovery identity, bad inputs, conformance,
scikit-learn estimators."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import solverhub as sh
from solverhub.plugins.convex_relu import ConvexReluAdmm, ConvexReluCvxpy
from solverhub.plugins.convex_relu.kind import make_synthetic
from solverhub.testing import check_plugin, solver_checks

cvxpy = pytest.importorskip("cvxpy")
pytest.importorskip("sklearn")

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "solverhub.core.cli", *args], capture_output=True,
                          text=True, env=ENV, cwd=cwd, timeout=600)


# ------------------------------------------------------------------ ADMM against the reference
@pytest.mark.parametrize("loss,eps", [("squared", 0.0), ("hinge", 0.0), ("logistic", 0.0),
                                      ("hinge", 0.1),
                                      pytest.param("logistic", 0.1, marks=pytest.mark.slow)])
def test_admm_matches_cvxpy(loss, eps):
    p = make_synthetic(n=40, d=4, P=8, loss=loss, seed=1, eps=eps)
    ref = ConvexReluCvxpy().solve(p)
    assert ref.status == sh.Status.OPTIMAL
    res = ConvexReluAdmm(max_iterations=30000).solve(p)
    assert res.status in (sh.Status.OPTIMAL, sh.Status.ITERATION_LIMIT)
    rel = abs(res.objective - ref.objective) / abs(ref.objective)
    assert rel <= 1e-4, (loss, eps, res.objective, ref.objective, res.status, res.iterations)
    assert p.cone_violation(res.x) <= 1e-4


@pytest.mark.parametrize("loss,eps", [("squared", 0.0), ("logistic", 0.0), ("hinge", 0.1)])
def test_admm_anderson_matches_cvxpy(loss, eps):
    p = make_synthetic(n=40, d=4, P=8, loss=loss, seed=1, eps=eps)
    ref = ConvexReluCvxpy().solve(p)
    res = ConvexReluAdmm(anderson=5, max_rho_updates=10).solve(p)
    assert res.status == sh.Status.OPTIMAL
    assert abs(res.objective - ref.objective) <= 1e-5 * ref.objective
    assert p.cone_violation(res.x) <= 1e-5


def test_admm_woodbury_and_split_agree():
    p = make_synthetic(n=50, d=5, P=10, loss="squared", seed=2, c=2)
    a = ConvexReluAdmm(splitting="woodbury").solve(p)
    b = ConvexReluAdmm(splitting="split").solve(p)
    ref = ConvexReluCvxpy().solve(p)
    assert a.status == b.status == sh.Status.OPTIMAL
    assert abs(a.objective - ref.objective) <= 1e-5 * ref.objective
    assert abs(b.objective - ref.objective) <= 1e-5 * ref.objective


def test_recovery_identity():
    """At a cone-feasible point the recovered ReLU network has the convex objective."""
    p = make_synthetic(n=40, d=4, P=8, loss="squared", seed=3)
    res = sh.solve(p, solver="convex-relu-cvxpy")
    W1, w2 = p.recover(res.x)
    assert abs(p.network_objective(W1, w2) - res.objective) <= 1e-7 * max(1, res.objective)
    assert res.metrics["recovery_gap"] <= 1e-7
    assert res.metrics["cone_violation"] <= 1e-6
    # the network's training predictions equal the convex model's
    Z = sh.plugins.convex_relu.problem.network_predict(p.X, W1, w2)
    np.testing.assert_allclose(Z, p.convex_predict(res.x), atol=1e-6)


def test_robust_cones_cvxpy_only():
    p = make_synthetic(n=30, d=3, P=6, loss="hinge", seed=4, eps=0.05)
    p.robust_cones = True
    res = sh.solve(p, solver="convex-relu-cvxpy")
    assert res.status == sh.Status.OPTIMAL
    with pytest.raises(sh.BadInputError, match="robust cones"):
        sh.solve(p, solver="convex-relu-admm")


# ------------------------------------------------------------------ loader and CLI
def test_cli_breast_cancer_json():
    out = _cli("solve", "dataset:breast_cancer?P=20", "--solver", "convex-relu-admm",
               "--set", "max_iterations=300", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["status"] in ("optimal", "iteration_limit")
    assert doc["solver"] == "convex-relu-admm" and doc["objective"] > 0
    assert doc["metrics"]["train_accuracy"] > 0.9 and doc["metrics"]["test_accuracy"] > 0.85


def test_loader_preprocessing():
    p = sh.load_problem("dataset:breast_cancer?P=50&seed=1")
    assert (p.n_samples, p.d, p.c) == (398, 31, 1) and p.X_test.shape == (171, 31)
    np.testing.assert_allclose(p.X[:, :-1].mean(axis=0), 0, atol=1e-12)
    assert np.all(p.X[:, -1] == 1) and set(np.unique(p.Y)) == {-1.0, 1.0}
    assert 1 <= p.P <= 50 and p.D.any(axis=0).all()
    cols = {p.D[:, i].tobytes() for i in range(p.P)}
    assert len(cols) == p.P                                     # no duplicate pattern
    w = sh.load_problem("dataset:wine?P=10&loss=hinge")
    assert w.c == 3                                             # one-vs-rest
    d = sh.load_problem("dataset:digits?classes=3,8&P=10")
    assert d.c == 1 and d.d == 65


def test_warm_start_patterns_are_added():
    base = sh.load_problem("dataset:iris?classes=1,2&P=5&seed=0")
    warm = sh.load_problem("dataset:iris?classes=1,2&P=5&seed=0&warm_start=adam&warm_width=6"
                           "&warm_iterations=200")
    assert warm.P > base.P


def test_csv_and_npz(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 3))
    y = (X[:, 0] + X[:, 1] ** 2 > 0.5).astype(int)
    np.savetxt(tmp_path / "d.csv", np.column_stack([X, y]), delimiter=",", header="a,b,c,y",
               comments="")
    np.savez(tmp_path / "d.npz", X=X, y=y)
    out = _cli("solve", "dataset:d.csv?P=8&loss=hinge", "--solver", "convex-relu-cvxpy", "--json",
               cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["status"] == "optimal"
    p = sh.load_problem(f"dataset:{tmp_path / 'd.npz'}?P=8&loss=hinge")
    assert p.n_samples == 42 and p.d == 4 and p.X_test.shape == (18, 4)
    assert sh.solve(p, solver="convex-relu-cvxpy").status == sh.Status.OPTIMAL


@pytest.mark.parametrize("content,address,needle", [
    ("a,b,y\n1,2,0\n3,nan,1\n", "dataset:bad.csv", "missing value in data row 2"),
    ("a,b,y\n1,2,1\n3,4,1\n5,6,1\n", "dataset:bad.csv?test_size=0", "single class"),
    (None, "dataset:breast_cancer?P=0", "parameter 'P'='0': Input should be greater than or equal to 1"),
    (None, "dataset:wine?loss=cubic", "parameter 'loss'='cubic'"),
    (None, "dataset:no_such_set", "unknown data set"),
    (None, "dataset:iris?classes=0", "at least two labels"),
    ("npz", "dataset:bad.npz", "2 labels"),
])
def test_bad_inputs_exit_2(tmp_path, content, address, needle):
    if content == "npz":
        np.savez(tmp_path / "bad.npz", X=np.ones((3, 2)), y=np.array([0, 1]))
    elif content is not None:
        (tmp_path / "bad.csv").write_text(content)
    out = _cli("solve", address, "--solver", "convex-relu-admm", cwd=tmp_path)
    assert out.returncode == 2, (out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("solverhub: error:") and needle in lines[0], \
        out.stderr


def test_problem_validation_messages():
    X = np.ones((5, 2))
    with pytest.raises(sh.BadInputError, match="NaN"):
        sh.plugins.convex_relu.ReLUTraining(np.array([[np.nan, 1.0]] * 4), np.ones(4),
                                            patterns=np.ones((4, 1), bool))
    with pytest.raises(sh.BadInputError, match="shape mismatch"):
        sh.plugins.convex_relu.ReLUTraining(X, np.ones(4), patterns=np.ones((5, 1), bool))
    with pytest.raises(sh.BadInputError, match="P = 0"):
        sh.plugins.convex_relu.ReLUTraining(X, np.arange(5.0), patterns=np.ones((5, 0), bool))


def test_relu_adam_refuses_sample_weights():
    pb = make_synthetic(n=20, d=3, P=4)
    pb.sample_weight = np.ones(pb.X.shape[0])
    with pytest.raises(sh.BadInputError, match="relu-adam does not take sample weights"):
        sh.solve(pb, solver="relu-adam", options={"max_iterations": 5})


# ------------------------------------------------------------------ conformance suite
def test_plugin_conformance():
    check_plugin(sh.plugins.convex_relu)


# Found by the kit's limit checks (issue 19), reported to the plugin's owners; non-strict, so
# that a fix shows up as XPASS instead of breaking the run.
KNOWN_FAILURES = {
    "convex-relu-cvxpy:time_limit": "CVXPY's problem build and the CLARABEL/SCS call overrun a 1 s "
                                    "limit by seconds on the hard instance",
    "convex-relu-cvxpy:interrupt": "no stop check during CVXPY's build and solve",
    "convex-relu-gated:interrupt": "returns tens of seconds after a stop request on the hard instance",
}


def _known(checks):
    return [pytest.param(c, id=str(c), marks=pytest.mark.xfail(reason=KNOWN_FAILURES[str(c)],
                                                                strict=False))
            if str(c) in KNOWN_FAILURES else pytest.param(c, id=str(c)) for c in checks]


@pytest.mark.parametrize("check", _known(solver_checks("convex-relu-admm")))
def test_admm_conformance(check):
    check()


@pytest.mark.parametrize("check", _known(solver_checks("convex-relu-cvxpy")))
def test_cvxpy_conformance(check):
    check()


@pytest.mark.parametrize("check", _known(solver_checks("convex-relu-gated")))
def test_gated_conformance(check):
    check()


# the hard instance is hard for Adam only without its iteration limit
@pytest.mark.parametrize("check", _known(solver_checks("relu-adam", options={"max_iterations": 300},
                                                       hard_options={"max_iterations": 10**8})))
def test_adam_conformance(check):
    check()


def test_gated_decomposition_is_cone_feasible():
    p = make_synthetic(n=40, d=4, P=8, loss="squared", seed=5)
    res = sh.solve(p, solver="convex-relu-gated")
    ref = sh.solve(p, solver="convex-relu-cvxpy")
    assert res.status == sh.Status.FEASIBLE
    assert res.metrics["cone_violation"] <= 1e-8
    # gated optimum <= ReLU optimum <= decomposed ReLU objective
    assert res.info["gated_objective"] <= ref.objective + 1e-7
    assert ref.objective <= res.objective + 1e-7


def test_import_stays_cheap():
    code = ("import sys, solverhub; solverhub.get_plugin_manager().solvers(); "
            "print(','.join(m for m in ('sklearn', 'cvxpy', 'scipy.optimize') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV)
    assert out.returncode == 0, out.stderr
    assert "sklearn" not in out.stdout and "cvxpy" not in out.stdout


# ------------------------------------------------------------------ scikit-learn estimators
#: checks skipped, with the reason (see docs/convex_relu.md)
SKIPPED_CHECKS: dict[str, str] = {
    "check_sample_weight_equivalence_on_dense_data":
        "compares decision functions to rtol 1e-7 after 400 ADMM iterations, far from that "
        "accuracy; weights against repeated samples are tested with CLARABEL in "
        "tests/test_convex_relu_trust.py",
}


@pytest.mark.parametrize("name", ["ConvexReLUClassifier", "ConvexReLURegressor"])
def test_check_estimator(name):
    from sklearn.utils.estimator_checks import check_estimator

    est = getattr(sh, name)(P=10, solver_options={"max_iterations": 400})
    failed = [(r["check_name"], str(r["exception"])[:200])
              for r in check_estimator(est, on_fail=None, expected_failed_checks=SKIPPED_CHECKS)
              if r["status"] == "failed"]
    assert not failed, failed


def test_estimators_on_data():
    from sklearn.datasets import load_breast_cancer, load_diabetes
    from sklearn.model_selection import train_test_split

    X, y = load_breast_cancer(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    clf = sh.ConvexReLUClassifier(P=20, loss="logistic", solver_options={"max_iterations": 500})
    clf.fit(Xtr, ytr)
    assert clf.score(Xte, yte) > 0.9
    proba = clf.predict_proba(Xte)
    assert proba.shape == (len(yte), 2) and np.allclose(proba.sum(axis=1), 1)
    assert not hasattr(sh.ConvexReLUClassifier(loss="hinge"), "predict_proba")
    assert clf.get_params()["P"] == 20 and clf.set_params(P=5).P == 5
    Xd, yd = load_diabetes(return_X_y=True)
    reg = sh.ConvexReLURegressor(P=10, beta=1e-2, solver_options={"max_iterations": 500})
    assert reg.fit(Xd[:300], yd[:300] / 100).score(Xd[300:], yd[300:] / 100) > 0.3
