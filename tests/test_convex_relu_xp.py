"""convex_relu ADMM on an array namespace (issue 14) and its polishing (issue 9).

The device path is exercised here with NumPy behind a test-only ArrayBackend: the module handed
to the ADMM is a proxy that records every attribute the iteration asks of it, so that a call
CuPy does not have (or a stray SciPy/NumPy-only idiom routed through xp) shows up here."""

from __future__ import annotations

import types

import numpy as np
import pytest

import solverhub as sh
from solverhub.plugins.convex_relu import ConvexReluAdmm
from solverhub.plugins.convex_relu.admm import run_admm
from solverhub.plugins.convex_relu.kind import make_synthetic
from solverhub.plugins.convex_relu.polish import polish_squared

#: the names of the CuPy top-level API (and cupy.linalg) the ADMM may use
CUPY_NAMES = {"asarray", "ascontiguousarray", "zeros", "zeros_like", "empty", "eye", "full",
              "full_like", "stack", "concatenate", "sum", "sqrt", "maximum", "abs", "sign",
              "where", "clip", "tanh", "logaddexp", "einsum", "trace", "float64", "linalg", "max"}
CUPY_LINALG = {"eigh", "solve", "cholesky", "norm"}


class _Recording(types.ModuleType):
    """NumPy under another name, recording the names asked of it."""

    def __init__(self, name: str, target, used: set[str]) -> None:
        super().__init__(name)
        self._target, self._used = target, used

    def __getattr__(self, attr):
        self._used.add(f"{self.__name__}.{attr}")
        value = getattr(self._target, attr)
        if attr == "linalg":
            return _Recording("linalg", value, self._used)
        return value


class _NumpyXpPlugin:
    def __init__(self, module) -> None:
        self.module = module

    @sh.hookimpl
    def solverhub_array_backends(self):
        return [sh.ArrayBackend("numpy-xp", lambda: self.module,
                                description="NumPy through the device path (tests only)")]


@pytest.fixture
def numpy_xp():
    used: set[str] = set()
    pm = sh.get_plugin_manager()
    name = pm.register_plugin(_NumpyXpPlugin(_Recording("xp", np, used)), name="test-numpy-xp")
    try:
        yield used
    finally:
        pm.unregister_plugin(name)


class _Trace:
    def __init__(self) -> None:
        self.rows: list[tuple[float, float, float]] = []

    def iteration(self, k, info):
        self.rows.append((info["objective"], info["primal_residual"], info["dual_residual"]))

    def incumbent(self, *a):
        pass


@pytest.mark.parametrize("loss,eps,c,extra", [
    ("squared", 0.0, 2, {}),                                   # woodbury u-step
    ("squared", 0.0, 1, {"splitting": "split", "anderson": 3}),
    ("hinge", 0.1, 1, {"relaxation": 1.5, "max_iterations": 60}),  # robust loss prox
    ("logistic", 0.0, 1, {}),
])
def test_device_path_equals_cpu_path(numpy_xp, loss, eps, c, extra):
    p = make_synthetic(n=40, d=4, P=8, loss=loss, seed=1, eps=eps, c=c)
    runs = []
    for device in ("cpu", "numpy-xp"):
        tr = _Trace()
        res = run_admm(p, {"max_iterations": 300, **extra}, device=device, notifier=tr)
        assert isinstance(res.x, np.ndarray) and res.info["device"] == device
        runs.append((res, np.array(tr.rows)))
    (a, ha), (b, hb) = runs
    assert a.iterations == b.iterations and a.status == b.status
    np.testing.assert_allclose(b.x, a.x, rtol=0, atol=1e-10)
    np.testing.assert_allclose(hb, ha, rtol=1e-10, atol=1e-12)
    asked = {u.split(".", 1)[1] for u in numpy_xp if u.startswith("xp.")}
    asked_linalg = {u.split(".", 1)[1] for u in numpy_xp if u.startswith("linalg.")}
    assert asked, "the device path did not go through the namespace"
    assert asked <= CUPY_NAMES, asked - CUPY_NAMES
    assert asked_linalg <= CUPY_LINALG, asked_linalg - CUPY_LINALG


def test_device_through_solve(numpy_xp):
    p = make_synthetic(n=30, d=3, P=6, loss="squared", seed=2)
    a = sh.solve(p, solver="convex-relu-admm", max_iterations=200)
    b = sh.solve(p, solver="convex-relu-admm", device="numpy-xp", max_iterations=200)
    np.testing.assert_allclose(b.x, a.x, rtol=0, atol=1e-10)
    assert b.metrics["cone_violation"] == pytest.approx(a.metrics["cone_violation"], abs=1e-12)


def test_unknown_device_is_one_clear_error():
    p = make_synthetic(n=20, d=3, P=4, seed=3)
    with pytest.raises(sh.UnavailableError, match="unknown device 'tpu9'"):
        ConvexReluAdmm(device="tpu9").solve(p)


# ------------------------------------------------------------------ polishing
cvxpy = pytest.importorskip("cvxpy")


@pytest.mark.parametrize("seed", [0, 2])
def test_polish_is_certified_against_cvxpy(seed):
    from solverhub.plugins.convex_relu import ConvexReluCvxpy

    p = make_synthetic(n=60, d=5, P=12, loss="squared", seed=seed)
    ref = ConvexReluCvxpy().solve(p)
    res = ConvexReluAdmm(polish=True, polish_start=50).solve(p)
    assert res.status == sh.Status.OPTIMAL and res.info["polished"]
    assert p.cone_violation(res.x) <= 1e-9
    bound = res.info["polish_dual_bound"]
    # the certificate is a valid lower bound on the optimum, and the point is within it
    assert bound <= ref.objective + 1e-9 * ref.objective
    assert res.objective - bound <= 1e-7 * res.objective
    assert abs(res.objective - ref.objective) <= 1e-6 * ref.objective
    assert res.iterations < ConvexReluAdmm(polish=False).solve(p).iterations


@pytest.mark.parametrize("iterations", [5, 20])
def test_polish_from_an_early_iterate(iterations):
    """From an iterate far from converged (5 or 20 ADMM iterations) the active-set loop of the
    polish finds the same optimum as polishing at iteration 50, and its dual bound is below it;
    a spent deadline gives up cleanly."""
    p = make_synthetic(n=40, d=4, P=8, loss="squared", seed=1)
    opt = ConvexReluAdmm(polish=True, polish_start=50).solve(p)
    assert opt.info["polished"]
    early = ConvexReluAdmm(max_iterations=iterations, polish=False).solve(p)
    assert early.objective - opt.objective > 1e-6 * opt.objective      # really not converged
    out = polish_squared(p, p.blocks(early.x))
    assert out.accepted and out.cone_violation <= 1e-9
    assert abs(out.objective - opt.objective) <= 1e-12 * opt.objective
    assert out.dual_bound <= out.objective and out.relative_gap <= 1e-7
    late = polish_squared(p, p.blocks(early.x), deadline=0.0)
    assert not late.accepted and late.reason == "time limit"


def test_woodbury_newton_step_solves_the_dense_system():
    """The Newton system of the reduced group lasso solved through Woodbury over n (more
    variables than samples) equals the dense solve of H = (1/n) A'A + blockdiag(c_b (I - e e'))."""
    from solverhub.plugins.convex_relu.polish import _woodbury_step

    rng = np.random.default_rng(0)
    n, beta, sizes = 30, 0.3, [5, 7, 1, 9, 6, 4, 8]
    offs = np.concatenate([[0], np.cumsum(sizes)])
    A = rng.standard_normal((n, offs[-1]))
    z, g = rng.standard_normal(offs[-1]), rng.standard_normal(offs[-1])
    H = A.T @ A / n
    for b in range(len(sizes)):
        sl = slice(offs[b], offs[b + 1])
        e = z[sl] / np.linalg.norm(z[sl])
        H[sl, sl] += beta / np.linalg.norm(z[sl]) * (np.eye(sizes[b]) - np.outer(e, e))
    step = _woodbury_step(A, offs, z, g, beta, n)
    assert step is not None
    assert np.linalg.norm(H @ step - g) <= 1e-10 * np.linalg.norm(g)


def test_polish_woodbury_path_matches_dense_path(monkeypatch):
    """On a problem whose reduced system is wider than n (the Woodbury path), polishing reaches
    the same certified optimum as with the dense Cholesky path forced."""
    from solverhub.plugins.convex_relu import polish as polish_mod

    p = make_synthetic(n=24, d=8, P=16, loss="squared", seed=4)
    start = ConvexReluAdmm(max_iterations=100, polish=False).solve(p)
    calls = []
    real = polish_mod._woodbury_step
    monkeypatch.setattr(polish_mod, "_woodbury_step",
                        lambda *a: calls.append(1) or real(*a))
    fast = polish_squared(p, p.blocks(start.x))
    assert calls, "the reduced problem never took the Woodbury path: make it wider"
    monkeypatch.setattr(polish_mod, "_woodbury_step", lambda *a: None)
    dense = polish_squared(p, p.blocks(start.x))
    assert fast.accepted and dense.accepted
    assert fast.cone_violation <= 1e-9 and fast.relative_gap <= 1e-7
    assert abs(fast.objective - dense.objective) <= 1e-10 * dense.objective


@pytest.mark.parametrize("seed", [1, 4])
def test_polish_loose_early_rounds_reach_the_same_certified_point(monkeypatch, seed):
    """Newton stops early while the active set still changes (_NEWTON_DEC_TOL_LOOSE); the point
    it certifies equals the one found with every round converged fully, with the same strict
    acceptance (cone violation, gap to the dual bound)."""
    from solverhub.plugins.convex_relu import polish as polish_mod

    p = make_synthetic(n=40, d=6, P=12, loss="squared", seed=seed)
    start = ConvexReluAdmm(max_iterations=20, polish=False).solve(p)
    loose = polish_squared(p, p.blocks(start.x))
    assert loose.rounds >= 3            # the active set changed: loose rounds did happen
    monkeypatch.setattr(polish_mod, "_NEWTON_DEC_TOL_LOOSE", polish_mod._NEWTON_DEC_TOL)
    full = polish_squared(p, p.blocks(start.x))
    assert loose.accepted and full.accepted
    assert loose.cone_violation <= 1e-9 and loose.relative_gap <= 1e-7
    assert abs(loose.objective - full.objective) <= 1e-10 * full.objective


def test_group_norms_match_per_block_norms():
    from solverhub.plugins.convex_relu.polish import _group_norms

    v = np.arange(1.0, 11.0)
    offs = np.array([0, 3, 4, 10])
    expect = [np.linalg.norm(v[0:3]), np.linalg.norm(v[3:4]), np.linalg.norm(v[4:10])]
    np.testing.assert_allclose(_group_norms(v, offs), expect, rtol=1e-15)
    assert _group_norms(np.zeros(0), np.array([0])).size == 0
