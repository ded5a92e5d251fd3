"""The second, continuous problem kind (examples/least_squares.py): box-constrained least squares
and its projected-gradient solver, through every layer of the host (issue 8).

Direct tests of the problem, the protocol and the solver need nothing from core beyond the kind
records; the end-to-end ones (``sh.solve`` metrics and history, the CLI ``py:`` address, the mixed
run config and its report) check the host's handling of a tolerance-checked kind.
"""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # `examples` is a namespace package at the repository root
    sys.path.insert(0, str(REPO))

import solverhub as sh  # noqa: E402
from solverhub.core.api import validate_options  # noqa: E402
from solverhub.core.kinds import Reference, relative_error  # noqa: E402
from solverhub.plugins.pyaddress import import_module_of  # noqa: E402
from solverhub.testing import (RecordingNotifier, check_solver, plugin_checks,  # noqa: E402
                               solver_checks)

import examples.least_squares as ls  # noqa: E402

ADDRESS = "py:examples.least_squares:make_problem?m=200&n=50&seed=1"
KIND = ls.BoxLeastSquaresKind()


@pytest.fixture(scope="module", autouse=True)
def registered():
    """The example registered as a ``py:`` address registers it (hooks at module level)."""
    pm = sh.get_plugin_manager()
    was = pm.is_registered(ls)
    with sh.code_allowed(["examples.least_squares"]):  # py: addresses run code: consent
        import_module_of(ADDRESS)
        assert pm.is_registered(ls)
        yield
    if not was and pm.is_registered(ls):
        pm.unregister_plugin(pm.get_name(ls))


def _scipy_optimum(p: ls.BoxLeastSquares) -> float:
    from scipy.optimize import lsq_linear

    r = lsq_linear(p.A, p.b, bounds=(p.lower, p.upper), method="trf", tol=1e-13, lsmr_tol=None,
                   max_iter=10_000)
    return p.evaluate(np.clip(r.x, p.lower, p.upper))


# ============================================================================ the problem
def _valid(**kw):
    base = dict(A=np.eye(3)[:, :2] + 0.5, b=np.ones(3), lower=-1.0, upper=[1.0, 2.0])
    base.update(kw)
    return ls.BoxLeastSquares(base.pop("A"), base.pop("b"), base.pop("lower"), base.pop("upper"),
                              **base)


def test_problem_accepts_dense_sparse_and_scalar_bounds():
    p = _valid()
    assert (p.m, p.n) == (3, 2) and p.lower.tolist() == [-1.0, -1.0]
    q = _valid(A=sp.csr_matrix(np.eye(3)[:, :2]), lower=-np.inf, upper=np.inf)
    assert sp.issparse(q.A) and np.all(np.isinf(q.upper))
    assert q.evaluate([0.0, 0.0]) == pytest.approx(1.5)


@pytest.mark.parametrize("field, kw", [
    ("A", {"A": np.ones(3)}),                                   # 1-D
    ("A", {"A": np.array([[1.0, np.nan], [0, 1], [1, 1]])}),
    ("b", {"b": np.ones(4)}),
    ("b", {"b": np.array([1.0, np.nan, 0.0])}),
    ("lower", {"lower": [np.nan, 0.0]}),
    ("upper", {"upper": [1.0, 2.0, 3.0]}),
    ("lower", {"lower": [0.0, 3.0]}),                           # lower > upper
    ("lower/upper", {"lower": [np.inf, 0.0], "upper": np.inf}),
    ("reference_solution", {"reference_solution": np.zeros(3)}),
    ("reference_objective", {"reference_objective": math.nan}),
])
def test_problem_validation_names_the_field(field, kw):
    with pytest.raises(sh.BadInputError, match=rf"\b{field}\b"):
        _valid(**kw)


def test_validate_catches_edits_after_construction():
    for label, bad in KIND.malformed_instances():
        with pytest.raises(sh.BadInputError):
            bad.validate()
    p = _valid()
    p.b = np.ones(5)
    with pytest.raises(sh.BadInputError, match="b: must have shape"):
        p.validate()


def test_optimality_measures():
    for p, opt in KIND.conformance_instances():
        x = p.reference_solution
        assert p.evaluate(x) == pytest.approx(opt, rel=1e-12)
        assert p.projected_gradient_norm(x) <= 1e-10 * p.optimality_scale()
        assert p.bound_violation(x) == 0.0
        # a point inside the box away from the optimum is not first-order optimal
        assert p.projected_gradient_norm(np.clip(x + 0.3, p.lower, p.upper)) > 1e-3
    p = _valid()
    assert p.bound_violation([-1.5, 2.25]) == pytest.approx(0.5)
    with pytest.raises(sh.BadInputError, match="3 entries, expected 2"):
        p.evaluate([1.0, 2.0, 3.0])


def test_conformance_optima_agree_with_lsq_linear():
    for p, opt in KIND.conformance_instances():
        f, x = ls.lsq_reference(p)
        assert f == pytest.approx(opt, rel=1e-9, abs=1e-12), p.name
        np.testing.assert_allclose(x, p.reference_solution, atol=1e-7)
    assert {p.name for p, _ in KIND.conformance_instances()} >= {"conformance-ls-sparse"}
    assert any(sp.issparse(p.A) for p, _ in KIND.conformance_instances())
    assert any(np.any(p.lower == p.upper) for p, _ in KIND.conformance_instances())


def test_make_problem_reference_and_parameters():
    small = ls.make_problem(m=40, n=10, seed=3)
    assert small.reference_objective is not None and small.reference_solution.shape == (10,)
    assert small.reference_objective == pytest.approx(_scipy_optimum(small), rel=1e-9)
    # optimum with active bounds: the box matters
    assert np.any(np.isclose(np.abs(small.reference_solution), 1.0))
    big = ls.make_problem(m=400, n=200, seed=0)
    assert big.reference_objective is None and big.reference_solution is None
    wide = ls.make_problem(m=10, n=20, seed=0, reference=True)
    assert wide.reference_objective is not None and wide.reference_solution is None  # not unique
    sparse = ls.make_problem(m=60, n=20, density=0.2, seed=0)
    assert sp.issparse(sparse.A) and sparse.reference_objective is not None
    for bad in ({"m": 0}, {"condition": 0.5}, {"bound": -1.0}, {"density": 0.0}):
        with pytest.raises(sh.BadInputError, match=next(iter(bad))):
            ls.make_problem(**bad)


def test_py_address_loads_with_parameters():
    p = sh.load_problem("py:examples.least_squares:make_problem?m=30&n=10&seed=2&reference=false")
    assert isinstance(p, ls.BoxLeastSquares) and (p.m, p.n) == (30, 10)
    assert p.reference_objective is None
    assert sh.get_plugin_manager().problem_kinds()[ls.KIND].protocol.exact is False


# ============================================================================ the protocol
def test_protocol_declares_its_metrics():
    names = {m.name for m in KIND.metrics}
    assert names == {"objective_error", "solution_error", "projected_gradient", "bound_violation"}
    assert KIND.exact is False
    assert KIND.infeasible_instances() == []  # every valid box LS has an optimum


def test_verify_reports_residuals_without_rejecting_an_imprecise_point():
    p, opt = KIND.conformance_instances()[0]
    exact = KIND.verify(p, p.reference_solution)
    assert exact.ok and exact.optimal_ok
    assert exact.objective == pytest.approx(opt)
    assert exact.residuals["projected_gradient"] <= 1e-10 and exact.residuals["bound_violation"] == 0
    # an iterative method stopped early: 1e-3 off, partly outside the box
    rough = p.reference_solution + 1e-3
    v = KIND.verify(p, rough)
    assert v.ok, v.message                               # kept: a tolerance kind, not an error
    assert not v.optimal_ok                              # but not good enough to be called optimal
    assert v.residuals["bound_violation"] == pytest.approx(1e-3)
    assert v.residuals["projected_gradient"] > KIND.optimality_tol
    assert v.objective == pytest.approx(p.evaluate(rough))
    assert np.array_equal(v.x, rough)                    # nothing projected or snapped


@pytest.mark.parametrize("x, why", [
    (lambda n: np.full(n, np.nan), "NaN"),
    (lambda n: np.r_[np.zeros(n - 1), np.inf], "infinite"),
    (lambda n: np.zeros(n + 1), "entries, expected"),
    (lambda n: ["a"] * n, "not a numeric vector"),
])
def test_verify_rejects_non_points(x, why):
    p, _ = KIND.conformance_instances()[0]
    v = KIND.verify(p, x(p.n))
    assert not v.ok and why in v.message


def test_verify_ignores_other_kinds():
    assert KIND.verify(object(), np.zeros(3)) is None


def test_compute_metrics():
    p, opt = KIND.conformance_instances()[1]
    ref = KIND.reference(p)
    assert ref.objective == pytest.approx(opt) and ref.solution.shape == (p.n,)
    x = np.clip(p.reference_solution + 1e-4, p.lower, p.upper)
    res = sh.Result(sh.Status.ITERATION_LIMIT, objective=p.evaluate(x), x=x)
    m = KIND.compute_metrics(p, res, ref, horizon=1.0)
    assert set(m) == {"objective_error", "solution_error", "projected_gradient", "bound_violation"}
    assert m["objective_error"] == pytest.approx(relative_error(p.evaluate(x), opt))
    assert 0 < m["solution_error"] < 1e-3 and m["bound_violation"] == 0.0
    # residuals the host already took from verify() are not recomputed
    res.metrics = {"projected_gradient": 0.5, "bound_violation": 0.0}
    assert set(KIND.compute_metrics(p, res, ref, 1.0)) == {"objective_error", "solution_error"}
    # no reference: residuals only
    assert set(KIND.compute_metrics(p, sh.Result(sh.Status.FEASIBLE, objective=1.0, x=x), None, 1.0)) \
        == {"projected_gradient", "bound_violation"}


def test_zero_optimum_gives_a_meaningful_error():
    # b in the range of A and the unconstrained solution inside the box: f* = 0
    A = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    x_star = np.array([0.25, -0.5])
    p = ls.BoxLeastSquares(A, A @ x_star, -1.0, 1.0, reference_objective=0.0,
                           reference_solution=x_star)
    res = sh.Result(sh.Status.FEASIBLE, objective=p.evaluate(x_star + 1e-4), x=x_star + 1e-4)
    m = KIND.compute_metrics(p, res, Reference(0.0, x_star), 1.0)
    assert 0 < m["objective_error"] < 1e-7      # Berthold's primal gap would say 1 here
    assert m["solution_error"] == pytest.approx(np.linalg.norm([1e-4, 1e-4]))


# ============================================================================ the solver
def _solve(p, **opts):
    rec = RecordingNotifier("projected-gradient")
    res = ls.ProjectedGradient(**opts).solve(p, notifier=rec)
    return res, rec


@pytest.mark.parametrize("step", ["bb", "fixed"])
@pytest.mark.parametrize("make", [
    lambda: ls.make_problem(m=200, n=50, seed=1, reference=False),
    lambda: ls.make_problem(m=120, n=40, seed=2, condition=30, bound=0.5, reference=False),
    lambda: ls.make_problem(m=150, n=60, seed=3, density=0.15, reference=False),
], ids=["dense", "tight-box", "sparse"])
def test_solver_matches_lsq_linear(step, make):
    p = make()
    res, rec = _solve(p, step=step)
    assert res.status == sh.Status.OPTIMAL, res
    opt = _scipy_optimum(p)
    assert relative_error(res.objective, opt) < 1e-6 and abs(res.objective - opt) / opt < 1e-6
    assert res.objective == pytest.approx(p.evaluate(res.x), rel=1e-12)
    assert p.bound_violation(res.x) == 0.0                       # projected: always in the box
    assert res.bound is None and res.iterations > 0
    assert p.projected_gradient_norm(res.x) <= 1e-9 * p.optimality_scale() * 1.0001
    # every iteration is logged; incumbents only on improvement
    assert len(rec.iterations) == res.iterations
    assert [k for k, _ in rec.iterations] == list(range(1, res.iterations + 1))
    assert set(rec.iterations[0][1]) == {"objective", "projected_gradient", "step"}
    vals = [v for _, v, _ in rec.incumbents]
    assert all(b < a for a, b in zip(vals, vals[1:])) and vals[-1] == pytest.approx(res.objective)
    assert [(t, v) for t, v, _ in rec.incumbents] == res.trajectory


def test_bb_history_is_nonmonotone_while_the_trajectory_is_best_so_far():
    p = ls.make_problem(m=300, n=80, seed=1, condition=100, reference=False)
    res, rec = _solve(p)
    objs = [info["objective"] for _, info in rec.iterations]
    assert any(b > a for a, b in zip(objs, objs[1:]))             # BB goes up now and then
    traj = [v for _, v in res.trajectory]
    assert traj == sorted(traj, reverse=True)
    assert res.objective == pytest.approx(min(objs), rel=1e-10)
    # the fixed 1/L step is a descent method
    _, rec_fixed = _solve(p, step="fixed", max_iterations=300)
    fixed = [info["objective"] for _, info in rec_fixed.iterations]
    assert all(b <= a * (1 + 1e-12) for a, b in zip(fixed, fixed[1:]))


def test_iteration_limit_returns_the_best_point():
    p = ls.make_problem(m=200, n=50, seed=1, condition=100, reference=False)
    res, rec = _solve(p, max_iterations=25)
    assert res.status == sh.Status.ITERATION_LIMIT and res.iterations == 25
    best = min(info["objective"] for _, info in rec.iterations)
    assert res.objective == pytest.approx(best, rel=1e-9)
    assert res.info["projected_gradient"] > 1e-9


def test_time_limit_on_the_hard_instance():
    p = KIND.hard_instance()
    res = ls.ProjectedGradient().solve(p, time_limit=0.5)
    assert res.status == sh.Status.TIME_LIMIT
    assert res.runtime < 5.0                 # generous: the machine is shared
    assert np.all(np.isfinite(res.x)) and p.bound_violation(res.x) == 0.0
    assert res.objective == pytest.approx(p.evaluate(res.x))
    # the fixed rule's power iteration respects the limit too
    res = ls.ProjectedGradient(step="fixed", power_iterations=100_000).solve(p, time_limit=0.3)
    assert res.status == sh.Status.TIME_LIMIT and res.runtime < 5.0


def test_seed_matters_only_for_the_power_iteration():
    p = ls.make_problem(m=80, n=20, seed=4, reference=False)
    a = ls.ProjectedGradient().solve(p, seed=0)
    b = ls.ProjectedGradient().solve(p, seed=7)
    assert a.iterations == b.iterations and np.array_equal(a.x, b.x)       # bb: seed unused
    c = ls.ProjectedGradient(step="fixed", power_iterations=3).solve(p, seed=0)
    d = ls.ProjectedGradient(step="fixed", power_iterations=3).solve(p, seed=0)
    e = ls.ProjectedGradient(step="fixed", power_iterations=3).solve(p, seed=1)
    assert c.info["lipschitz"] == d.info["lipschitz"] != e.info["lipschitz"]


def test_options_model_and_wrong_input():
    spec = sh.get_plugin_manager().get_solver("projected-gradient")
    assert spec.problem_kind == ls.KIND and spec.deterministic
    assert validate_options(spec, {}).model_dump()["step"] == "bb"
    with pytest.raises(sh.BadInputError, match="stepsize"):
        validate_options(spec, {"stepsize": 1.0})
    with pytest.raises(sh.BadInputError, match="step"):
        validate_options(spec, {"step": "newton"})
    # the host checks the problem once, before the solver sees it
    with pytest.raises(sh.BadInputError, match="projected-gradient.*kind"):
        sh.solve(sh.MIPProblem(c=[1.0], A=sp.csr_matrix((0, 1)), row_lower=[], row_upper=[],
                               col_lower=[0], col_upper=[1], integrality=[False]),
                 solver="projected-gradient")
    _, bad = KIND.malformed_instances()[1]
    with pytest.raises(sh.BadInputError, match="A: contains NaN"):
        sh.solve(bad, solver="projected-gradient")


# ============================================================================ conformance suite
# every plugin check but loader_declines_foreign: the module registers no loader (py: addresses
# are the pyaddress plugin's)
@pytest.mark.parametrize("check", plugin_checks(ls, "least_squares", select=[
    "hooks_valid", "records_valid", "names_unique", "cheap_import"]), ids=str)
def test_plugin_conformance(check, monkeypatch):
    # cheap_import imports the module in a fresh interpreter: it must find `examples`
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO),
                                                                   os.environ.get("PYTHONPATH")])))
    check()


@pytest.mark.parametrize("check", solver_checks("projected-gradient"), ids=str)
def test_solver_conformance(check):
    if str(check).endswith(":infeasible"):
        with pytest.raises(pytest.skip.Exception, match="provides no infeasible instances"):
            check()
        return
    check()


class _NoInstancesKind(sh.KindProtocol):
    exact = False


class _OtherKindPlugin:
    """A kind whose protocol brings no instances, and a solver that is not deterministic."""

    @sh.hookimpl
    def solverhub_problem_kinds(self):
        return [sh.ProblemKind("ls-test-bare", ls.BoxLeastSquares, protocol=_NoInstancesKind())]

    @sh.hookimpl
    def solverhub_solvers(self):
        return [sh.SolverSpec("ls-test-bare-solver", "ls-test-bare", ls.ProjectedGradient,
                              ls.ProjectedGradientOptions, deterministic=False)]


def test_checks_take_instances_from_the_protocol_and_determinism_from_the_spec():
    pm = sh.get_plugin_manager()
    pm.register_plugin(_OtherKindPlugin(), name="ls-test-bare")
    try:
        report = check_solver("ls-test-bare-solver", select=["solves_tiny", "time_limit",
                                                              "bad_input", "seed_reproducible"])
        assert "provides no conformance instances" in report["ls-test-bare-solver:solves_tiny"]
        assert "_NoInstancesKind.conformance_instances()" in report["ls-test-bare-solver:solves_tiny"]
        assert "provides no hard instance" in report["ls-test-bare-solver:time_limit"]
        assert "provides no malformed instances" in report["ls-test-bare-solver:bad_input"]
        assert "not deterministic" in report["ls-test-bare-solver:seed_reproducible"]
        # instances passed explicitly still replace the protocol's
        p, opt = KIND.conformance_instances()[0]
        report = check_solver("ls-test-bare-solver", instances=[(p, opt)], select=["solves_tiny"])
        assert report == {"ls-test-bare-solver:solves_tiny": "passed"}
    finally:
        pm.unregister_plugin("ls-test-bare")


# ============================================================================ through the host
class _ImpreciseSolver:
    """Returns the known solution moved by ``shift`` and claims it optimal."""

    def __init__(self, shift: float = 1e-3) -> None:
        self.shift = shift

    def solve(self, problem, *, time_limit=None, seed=0, notifier=None):
        x = problem.reference_solution + self.shift
        return sh.Result(sh.Status.OPTIMAL, objective=problem.evaluate(np.nan_to_num(x)), x=x,
                         iterations=1, trajectory=[(0.0, problem.evaluate(np.nan_to_num(x)))])


class _ImprecisePlugin:
    @sh.hookimpl
    def solverhub_solvers(self):
        from pydantic import BaseModel, ConfigDict

        class Opts(BaseModel):
            model_config = ConfigDict(extra="forbid")
            shift: float = 1e-3

        return [sh.SolverSpec("ls-test-imprecise", ls.KIND, _ImpreciseSolver, Opts)]


@pytest.fixture
def imprecise():
    pm = sh.get_plugin_manager()
    pm.register_plugin(_ImprecisePlugin(), name="ls-test-imprecise")
    yield "ls-test-imprecise"
    pm.unregister_plugin("ls-test-imprecise")


def test_host_solve_fills_kind_metrics_and_history():
    res = sh.solve(ADDRESS, solver="projected-gradient")
    p = ls.make_problem(m=200, n=50, seed=1)
    assert res.status == sh.Status.OPTIMAL and res.kind == ls.KIND
    assert res.objective == pytest.approx(p.reference_objective, rel=1e-6)
    m = res.metrics
    assert {"objective_error", "solution_error", "projected_gradient", "bound_violation"} <= set(m)
    assert m["objective_error"] < 1e-6 and m["projected_gradient"] <= 1e-8
    assert m["bound_violation"] == 0.0
    h = res.history
    assert {"iteration", "time", "objective", "projected_gradient", "step"} <= set(h)
    assert h["iteration"][-1] == res.iterations and len(h["objective"]) == len(h["iteration"])
    json.dumps(res.to_dict(), allow_nan=False)


def test_host_keeps_an_imprecise_solution_and_downgrades_its_optimal_claim(imprecise):
    p, _ = KIND.conformance_instances()[0]
    res = sh.solve(p, solver=imprecise)
    assert res.status == sh.Status.FEASIBLE, (res.status, res.error)   # not error, not optimal
    assert res.x is not None and res.objective == pytest.approx(p.evaluate(p.reference_solution + 1e-3))
    assert res.metrics["bound_violation"] == pytest.approx(1e-3)
    assert res.metrics["projected_gradient"] > KIND.optimality_tol
    assert 0 < res.metrics["objective_error"] < 1e-1


def test_host_rejects_a_non_finite_solution(imprecise):
    p, _ = KIND.conformance_instances()[0]
    res = sh.solve(p, solver=imprecise, shift=float("nan"))
    assert res.status == sh.Status.ERROR and "ls-test-imprecise" in (res.error or "")
    assert "non-finite" in res.error or "NaN" in res.error
    assert res.x is None and res.objective is None


# ============================================================================ CLI and runs
def _cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "solverhub.core.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def test_cli_solves_a_py_address_from_the_repo_root():
    r = _cli("solve", ADDRESS, "--solver", "projected-gradient", "--json")
    assert r.returncode == 2 and "--allow-code" in r.stderr and r.stdout == ""  # no consent
    r = _cli("solve", ADDRESS, "--solver", "projected-gradient", "--json", "--allow-code")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["status"] == "optimal" and d["solver"] == "projected-gradient"
    assert d["kind"] == ls.KIND and d["bound"] is None
    assert d["objective"] == pytest.approx(ls.make_problem(m=200, n=50, seed=1).reference_objective,
                                           rel=1e-6)
    assert d["metrics"]["objective_error"] < 1e-6
    assert {"objective", "projected_gradient", "step"} <= set(d["history"])


def test_cli_bad_py_parameters_are_one_line_bad_input():
    r = _cli("solve", "py:examples.least_squares:make_problem?m=0", "--solver",
             "projected-gradient", "--json", "--allow-code")
    assert r.returncode == 2 and r.stdout == ""
    assert "m and n must be positive" in r.stderr and "Traceback" not in r.stderr


def test_mixed_kinds_run_and_report(tmp_path):
    out = tmp_path / "run"
    r = _cli("run", "examples/mixed_kinds.toml", "--out", str(out))
    assert r.returncode == 0, r.stderr + r.stdout
    recs = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert recs and all(rec["status"] != "error" for rec in recs), recs
    ls_recs = [rec for rec in recs if rec["instance"].startswith("py:examples.least_squares")]
    mip_recs = [rec for rec in recs if rec["instance"].startswith("generate:set_cover")]
    assert {rec["solver"] for rec in ls_recs} == {"pg"} and {rec["solver"] for rec in mip_recs} == {"highs"}
    assert all(rec["status"] == "optimal" for rec in recs)
    assert ls_recs[0]["metrics"]["objective_error"] < 1e-6
    assert "primal_gap" not in ls_recs[0]["metrics"]         # each kind its own metrics
    (out / "summary.csv").unlink()
    r = _cli("report", str(out))
    assert r.returncode == 0, r.stderr
    with open(out / "summary.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
        header = set(rows[0])
    # the report's columns come from the kinds' declared metrics
    for metric in ("projected_gradient", "objective_error"):
        assert any(metric in h for h in header), (metric, header)
    assert "pg" in r.stdout and "highs" in r.stdout
    assert list(out.glob("*.png")), "no plots written"
