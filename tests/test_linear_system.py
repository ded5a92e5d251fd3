"""The linear-system kind, its linsys: sequences, the SOR / SSOR kernels against their SciPy
references, and the solvers sor, ssor-cg, scipy-direct, scipy-cg through the public API and CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp

import solverhub as sh
from solverhub.core.errors import BadInputError
from solverhub.plugins.linear_system import kernels
from solverhub.plugins.linear_system.generators import heat, shifted_poisson
from solverhub.plugins.linear_system.problem import LinearSystemProblem

needs_compiled = pytest.mark.skipif(not kernels.KERNEL_COMPILED,
                                    reason=f"_linsys not built: {kernels.KERNEL_IMPORT_ERROR}")


def test_ci_requires_compiled_linsys_kernel():
    if os.environ.get("CI") and not kernels.KERNEL_COMPILED:
        pytest.fail(f"solverhub.cython_ext._linsys is not compiled in CI: {kernels.KERNEL_IMPORT_ERROR}")


def random_system(rng, n, density, symmetric, index_dtype):
    B = sp.random(n, n, density=density, random_state=rng, format="csr")
    A = B + B.T if symmetric else B
    A = (A + sp.diags(np.asarray(abs(A).sum(axis=1)).ravel() + 1.0)).tocsr()  # diagonally dominant
    A.sort_indices()
    A.indptr = A.indptr.astype(index_dtype)
    A.indices = A.indices.astype(index_dtype)
    return A, rng.standard_normal(n)


@needs_compiled
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("omega", [0.7, 1.0, 1.6])
def test_sor_kernel_matches_scipy_reference(index_dtype, omega):
    rng = np.random.default_rng(3)
    A, b = random_system(rng, 60, 0.08, symmetric=False, index_dtype=index_dtype)
    diag = A.diagonal()
    x1, x2 = rng.standard_normal(60), None
    x2 = x1.copy()
    s1, r1 = kernels.sor_solve(A, diag, b, x1, omega, 7, 0.0)
    s2, r2 = kernels.sor_solve_reference(A, diag, b, x2, omega, 7, 0.0)
    assert s1 == s2 == 7
    np.testing.assert_allclose(x1, x2, rtol=1e-12, atol=1e-12)
    assert r1 == pytest.approx(r2, rel=1e-10)
    x3 = x1.copy() * 0 + rng.standard_normal(60)
    x4 = x3.copy()
    kernels.sor_sweep_numpy_loop(A, diag, b, x3, omega)
    kernels.sor_solve_reference(A, diag, b, x4, omega, 1, 0.0)
    np.testing.assert_allclose(x3, x4, rtol=1e-12, atol=1e-12)


@needs_compiled
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("omega", [0.5, 1.0, 1.8])
def test_ssor_kernel_matches_scipy_reference(index_dtype, omega):
    rng = np.random.default_rng(4)
    A, _ = random_system(rng, 50, 0.1, symmetric=True, index_dtype=index_dtype)
    diag = A.diagonal()
    r = rng.standard_normal(50)
    z1, z2 = np.empty(50), np.empty(50)
    kernels.ssor_apply(A, diag, r, omega, z1)
    kernels.ssor_apply_reference(A, diag, r, omega, z2)
    np.testing.assert_allclose(z1, z2, rtol=1e-11, atol=1e-12)
    # M z = r with M = (D + wL) D^-1 (D + wU) / (w (2 - w))
    L, U, d = kernels.split_csr(A)
    D = sp.diags(d)
    M = (D + omega * L) @ sp.diags(1 / d) @ (D + omega * U) / (omega * (2 - omega))
    np.testing.assert_allclose(M @ z1, r, rtol=1e-10, atol=1e-10)


def test_sor_stops_at_tolerance_and_counts_sweeps():
    p = shifted_poisson(n=12, shift=0.3, seed=1)
    x = np.zeros(p.n)
    nb = np.linalg.norm(p.b)
    sweeps, rn = kernels.sor_solve(p.A, p.A.diagonal(), p.b, x, 1.5, 10_000, 1e-8 * nb)
    assert rn <= 1e-8 * nb
    assert np.linalg.norm(p.b - p.A @ x) == pytest.approx(rn, rel=1e-8)
    x2 = np.zeros(p.n)
    s_prev, _ = kernels.sor_solve(p.A, p.A.diagonal(), p.b, x2, 1.5, sweeps - 1, 1e-8 * nb)
    assert np.linalg.norm(p.b - p.A @ x2) > 1e-8 * nb  # one sweep fewer is not enough


@pytest.mark.parametrize("solver", ["sor", "ssor-cg", "scipy-direct", "scipy-cg"])
@pytest.mark.parametrize("address", ["linsys:shifted_poisson?n=16&seed=2",
                                     "linsys:heat?n=16&step=5"])
def test_solvers_reach_the_tolerance(solver, address):
    res = sh.solve(address, solver=solver)
    assert res.status == sh.Status.OPTIMAL, res.error
    assert res.kind == "linear-system"
    assert res.metrics["relative_residual"] <= 1e-8 * (1 + 1e-6)
    assert res.objective == pytest.approx(res.metrics["relative_residual"])
    assert res.metrics["iterations"] == res.iterations >= 1
    exact = sh.solve(address, solver="scipy-direct").x
    assert np.linalg.norm(res.x - exact) <= 1e-5 * np.linalg.norm(exact)


def test_omega_matters_as_in_the_paper():
    """Over-relaxation beats Gauss-Seidel on Poisson (SOR theory); SSOR-CG beats plain CG."""
    addr = "linsys:shifted_poisson?n=24&shift=0&seed=0"
    gs = sh.solve(addr, solver="sor", omega=1.0).iterations
    over = sh.solve(addr, solver="sor", omega=1.75).iterations
    assert over < gs / 3
    assert sh.solve(addr, solver="ssor-cg", omega=1.5).iterations < \
        sh.solve(addr, solver="scipy-cg").iterations


def test_context_and_sequences():
    p = sh.load_problem("linsys:shifted_poisson?n=8&shift=0.25&seed=3")
    assert p.context["shift"] == 0.25 and p.n == 64
    q = sh.load_problem("linsys:shifted_poisson?n=8&seed=3&shift_low=1&shift_high=2")
    assert 1 <= q.context["shift"] <= 2
    h0, h1 = heat(n=8, step=0), heat(n=8, step=12)
    assert h0.context["courant"] != h1.context["courant"]  # the diffusion varies over time
    assert h1.x0 is not None and not np.allclose(h0.b, h1.b)


@pytest.mark.parametrize("address,match", [
    ("linsys:nosuch?n=3", "unknown linear-system family"),
    ("linsys:heat?n=1", "n"),
    ("linsys:heat?n=8&bogus=1", "bogus"),
    ("linsys:shifted_poisson?shift=-1", "shift"),
])
def test_bad_addresses(address, match):
    with pytest.raises(BadInputError, match=match):
        sh.load_problem(address)


def test_malformed_problems_and_bad_options():
    for _label, prob in sh.get_plugin_manager().problem_kinds()["linear-system"].protocol \
            .malformed_instances():
        with pytest.raises(BadInputError):
            sh.solve(prob, solver="sor")
    with pytest.raises(BadInputError, match="omega"):
        sh.solve("linsys:heat?n=4", solver="sor", omega=2.0)
    nonsym = LinearSystemProblem(sp.csr_matrix(np.array([[4.0, 1], [0, 4]])), np.ones(2))
    assert sh.solve(nonsym, solver="ssor-cg").status == sh.Status.ERROR
    assert sh.solve(nonsym, solver="sor").status == sh.Status.OPTIMAL


def test_iteration_and_time_limits():
    res = sh.solve("linsys:shifted_poisson?n=40&shift=0&tolerance=1e-10", solver="sor",
                   omega=1.0, max_iterations=5)
    assert res.status == sh.Status.ITERATION_LIMIT and res.iterations == 5
    assert res.metrics["relative_residual"] > 1e-10
    slow = shifted_poisson(n=300, shift=0.0, seed=0, tolerance=1e-12)
    res = sh.solve(slow, solver="sor", omega=1.0, max_iterations=10**7, time_limit=0.3)
    assert res.status == sh.Status.TIME_LIMIT and res.x is not None


def test_cli_solve_json():
    out = subprocess.run([sys.executable, "-m", "solverhub", "solve",
                          "linsys:shifted_poisson?n=10&seed=0", "--solver", "sor",
                          "--set", "omega=1.3", "--json"], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["status"] == "optimal" and data["iterations"] > 0


@pytest.mark.parametrize("check", [c for name in ("sor", "ssor-cg", "scipy-direct", "scipy-cg")
                                   for c in __import__("solverhub.testing", fromlist=["x"])
                                   .solver_checks(name, deterministic=True)], ids=str)
def test_conformance(check):
    """The plugin-author conformance suite (tiny instances, limits, bad input, the host path)."""
    from solverhub.testing.checks import CheckSkipped

    try:
        check()
    except CheckSkipped as exc:  # linear systems have no infeasible instances
        pytest.skip(str(exc))


def test_scipy_direct_in_a_child_process(monkeypatch):
    """Large systems factorize in a forked child (killable at the limit): same answer."""
    from solverhub.plugins.linear_system import solvers

    monkeypatch.setattr(solvers, "DIRECT_IN_PROCESS_NNZ", 0)
    p = shifted_poisson(n=10, shift=0.2, seed=5)
    res = sh.solve(p, solver="scipy-direct")
    assert res.status == sh.Status.OPTIMAL
    assert res.metrics["relative_residual"] < 1e-12
    singular = LinearSystemProblem(sp.csr_matrix(np.array([[1.0, 1.0], [1.0, 1.0]])), np.ones(2))
    res = sh.solve(singular, solver="scipy-direct")
    assert res.status == sh.Status.ERROR or res.metrics["relative_residual"] > 1e-8


@pytest.mark.parametrize("solver", ["sor", "ssor-cg"])
def test_stop_request_is_honoured(solver):
    """Ctrl-C (a stop request from another thread here) ends the sweeps with the iterate."""
    import threading

    from solverhub.core.interrupt import clear_stop, request_stop

    slow = shifted_poisson(n=300, shift=0.0, seed=0, tolerance=1e-14)
    timer = threading.Timer(0.2, request_stop)
    timer.start()
    try:
        res = sh.solve(slow, solver=solver, omega=1.0, max_iterations=10**7)
    finally:
        timer.join()
        clear_stop()
    assert res.status == sh.Status.INTERRUPTED and res.x is not None


@needs_compiled
@pytest.mark.parametrize("solver", ["sor", "ssor-cg"])
def test_compiled_and_scipy_kernels_give_the_same_solve(solver):
    addr = "linsys:heat?n=12&step=7"
    a = sh.solve(addr, solver=solver, omega=1.3)
    b = sh.solve(addr, solver=solver, omega=1.3, kernel="scipy")
    assert a.iterations == b.iterations
    np.testing.assert_allclose(a.x, b.x, rtol=1e-9, atol=1e-12)
