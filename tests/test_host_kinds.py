"""The host for every problem kind (issue 8): kind protocols, metrics and history, loaders by scheme,
availability, the array boundary. A tiny continuous kind defined here exercises what core does
without naming any kind."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pytest
from pydantic import BaseModel, ConfigDict

import solverhub as sh
from solverhub.core.history import History
from solverhub.core.kinds import KindProtocol, MetricSpec, Reference, Verification, relative_error
from solverhub.core.manager import SolverhubPluginManager


# ------------------------------------------------------------------ a tiny continuous kind
@dataclass
class Quadratic:
    """min ||x - target||^2 / 2 subject to sum(x) = total (closed form: a tolerance-checked kind)."""

    target: np.ndarray
    total: float
    reference_objective: float | None = None
    kind = "test-quadratic"

    def evaluate(self, x):
        return 0.5 * float(np.sum((np.asarray(x) - self.target) ** 2))


class QuadraticKind(KindProtocol):
    metrics = (MetricSpec("constraint_violation", "|sum(x) - total|", "lower", "geomean"),
               MetricSpec("objective_error", "relative error to the reference objective"))

    def verify(self, problem, x):
        x = np.asarray(x, dtype=float)
        viol = abs(float(x.sum()) - problem.total)
        return Verification(True, x=x, objective=problem.evaluate(x),
                            residuals={"constraint_violation": viol},
                            message=f"violation {viol:.3g}", optimal_ok=viol <= 1e-6)


class _Opts(BaseModel):
    model_config = ConfigDict(extra="forbid")
    error: float = 0.0          # a constraint residual the solver leaves on purpose
    iterations: int = 10


class InexactSolver:
    """Returns the exact answer shifted by ``error`` in the constraint, after logging iterations
    whose objective is not monotone (as ADMM's is not)."""

    def __init__(self, error: float = 0.0, iterations: int = 10) -> None:
        self.error, self.iterations = error, iterations

    def solve(self, problem, *, time_limit=None, seed=0, notifier=None):
        n = problem.target.size
        x = problem.target + (problem.total - problem.target.sum()) / n + self.error / n
        for k in range(self.iterations):
            notifier.iteration(k, {"objective": 1.0 + (-1) ** k / (k + 1), "rho": 2.0 ** k if k < 1000 else float("inf"),
                                   "arm": "a" * 100, "vector": np.ones(3)})
        notifier.incumbent(0.01, problem.evaluate(x), None)
        return sh.Result("optimal", objective=problem.evaluate(x), x=x, iterations=self.iterations)


class QuadraticPlugin:
    @sh.hookimpl
    def solverhub_problem_kinds(self):
        return [sh.ProblemKind("test-quadratic", Quadratic, "test kind", protocol=QuadraticKind())]

    @sh.hookimpl
    def solverhub_solvers(self):
        return [sh.SolverSpec("test-inexact", "test-quadratic", InexactSolver, _Opts),
                sh.SolverSpec("test-needs-gpu", "test-quadratic", InexactSolver, _Opts,
                              available=lambda: "no CUDA device (cupy reports 0 devices)",
                              deterministic=False)]


@pytest.fixture
def quad_plugin():
    pm = sh.get_plugin_manager()
    pm.register_plugin(QuadraticPlugin(), name="test-quadratic-plugin")
    yield pm
    pm.unregister_plugin("test-quadratic-plugin")


def _problem(ref=None):
    return Quadratic(np.array([1.0, 2.0, 3.0]), 3.0, reference_objective=ref)


# ------------------------------------------------------------------ verification and metrics
def test_small_residual_of_a_tolerance_kind_is_not_an_error(quad_plugin):
    res = sh.solve(_problem(), solver="test-inexact", error=1e-3)
    assert res.status == "feasible"          # optimal downgraded: the residual exceeds 1e-6
    assert res.error is None and res.x is not None and res.objective is not None
    assert res.metrics["constraint_violation"] == pytest.approx(1e-3)
    assert "violation" in res.info["optimality_not_verified"]
    assert res.kind == "test-quadratic"
    exact = sh.solve(_problem(), solver="test-inexact")
    assert exact.status == "optimal" and exact.metrics["constraint_violation"] < 1e-12


def test_zero_reference_gives_a_defined_error_and_no_primal_gap(quad_plugin):
    p = _problem()
    p.target = np.array([1.0, 1.0, 1.0])      # optimum 0 at x = target
    p.reference_objective = 0.0
    res = sh.solve(p, solver="test-inexact")
    assert "primal_gap" not in res.metrics and res.primal_integral is None
    assert res.metrics["objective_error"] == pytest.approx(0.0, abs=1e-12)
    shifted = sh.solve(p, solver="test-inexact", error=0.3)
    assert 0 < shifted.metrics["objective_error"] < 0.1   # Berthold's gap would say 1.0


def test_mip_metrics_come_from_the_mip_kind():
    res = sh.solve("generate:set_cover?rows=30&cols=60&density=0.1&seed=1", solver="highs",
                   reference=None)
    assert res.kind == "mip" and res.metrics["gap"] == pytest.approx(0.0, abs=1e-6)
    assert res.metrics["max_row_violation"] == 0.0
    withref = sh.solve("generate:set_cover?rows=30&cols=60&density=0.1&seed=1", solver="highs",
                       reference=res.objective)
    assert withref.metrics["primal_gap"] == 0.0 and withref.primal_integral is not None


def test_history_is_column_wise_thinned_and_keeps_scalars(quad_plugin):
    res = sh.solve(_problem(), solver="test-inexact", iterations=5000)
    h = res.history
    assert set(h) == {"iteration", "time", "objective", "rho", "arm"}   # the vector is dropped
    assert len(h["iteration"]) <= 1000 and h["iteration"][0] == 0 and h["iteration"][-1] == 4999
    assert all(len(col) == len(h["iteration"]) for col in h.values())
    assert max(len(a) for a in h["arm"]) == 64                           # long strings cut
    assert h["rho"][-1] is None and h["rho"][0] == 1.0                    # inf -> null
    d = res.to_dict()
    assert json.loads(json.dumps(d, allow_nan=False))["history"]["iteration"][-1] == 4999


def test_history_bounds_memory_for_a_million_iterations():
    h = History(100)
    for k in range(200_000):
        h.append(k, k * 1e-6, {"objective": float(k)})
    d = h.to_dict()
    assert len(d["iteration"]) <= 101 and d["iteration"][-1] == 199_999
    steps = np.diff(d["iteration"][:-1])
    assert steps.min() == steps.max()                    # evenly spread


def test_relative_error_is_defined_at_zero():
    assert relative_error(0.0, 0.0) == 0.0 and relative_error(0.5, 0.0) == 0.5
    assert relative_error([1.0, 2.0], [1.0, 2.0]) == 0.0


# ------------------------------------------------------------------ availability
def test_unavailable_solver_is_listed_with_its_reason_and_refused_in_one_line(quad_plugin):
    spec = quad_plugin.get_solver("test-needs-gpu")
    assert spec.unavailable_reason() == "no CUDA device (cupy reports 0 devices)"
    assert not spec.deterministic
    with pytest.raises(sh.UnavailableError, match=r"solver 'test-needs-gpu' is unavailable: no CUDA"):
        sh.solve(_problem(), solver="test-needs-gpu")


def test_cli_lists_unavailable_solvers_and_refuses_them(tmp_path):
    mod = tmp_path / "needs_gpu_plugin.py"
    mod.write_text(
        "import solverhub as sh\n"
        "from solverhub.plugins.highs.solver import HighsOptions, HighsSolver\n"
        "@sh.hookimpl\n"
        "def solverhub_solvers():\n"
        "    return [sh.SolverSpec('gpu-highs', 'mip', HighsSolver, HighsOptions,\n"
        "                          available=lambda: 'cupy is not installed (pip install solverhub[cuda])')]\n")
    dist = tmp_path / "needs_gpu_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: needs-gpu-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[solverhub]\nneedsgpu = needs_gpu_plugin\n")
    env = {**__import__("os").environ, "PYTHONPATH": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "solverhub", "solvers", "--json"], env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    solvers = {s["name"]: s for s in json.loads(out.stdout)["solvers"]}
    assert solvers["gpu-highs"]["available"] is False
    assert "cupy is not installed" in solvers["gpu-highs"]["unavailable_reason"]
    assert solvers["highs"]["available"] is True
    plugins = subprocess.run([sys.executable, "-m", "solverhub", "plugins", "--json"], env=env,
                             capture_output=True, text=True)
    info = {p["name"]: p for p in json.loads(plugins.stdout)["plugins"]}
    assert info["needsgpu"]["broken"] is False                     # unavailable, not broken
    solved = subprocess.run([sys.executable, "-m", "solverhub", "solve",
                             "generate:set_cover?rows=30&cols=60&density=0.1&seed=1",
                             "--solver", "gpu-highs"], env=env, capture_output=True, text=True)
    assert solved.returncode == 2
    assert solved.stderr.strip().splitlines() == [
        "solverhub: error: solver 'gpu-highs' is unavailable: cupy is not installed "
        "(pip install solverhub[cuda])"]


# ------------------------------------------------------------------ loaders by scheme
class _SchemePlugin:
    def __init__(self, tag: str) -> None:
        self.tag = tag

    @sh.hookimpl
    def solverhub_loaders(self):
        return [sh.LoaderSpec(f"twin-{self.tag}", lambda source, params: self.tag,
                              schemes=("twin",))]


def test_a_scheme_has_one_loader_and_a_duplicate_names_both_plugins():
    pm = SolverhubPluginManager()
    pm.load_all()
    pm.register_plugin(_SchemePlugin("a"), name="first-scheme-plugin")
    pm.register_plugin(_SchemePlugin("b"), name="second-scheme-plugin")
    with pytest.warns(UserWarning, match="second-scheme-plugin.*schemes name 'twin'.*first-scheme-plugin"):
        loader = pm.loader_for_scheme("twin")
    assert loader.provider == "first-scheme-plugin"
    with pytest.raises(sh.DuplicateNameError, match="first-scheme-plugin.*second-scheme-plugin|"
                                                    "second-scheme-plugin.*first-scheme-plugin"):
        pm.check_unique()


def test_builtin_schemes_are_registered_once():
    pm = sh.get_plugin_manager()
    schemes = pm.registry("schemes")
    assert schemes["generate"].provider == "generators" and schemes["py"].provider == "pyaddress"
    assert not [c for c in pm.conflicts if c.registry == "schemes"]


def test_unknown_scheme_lists_the_known_ones():
    with pytest.raises(sh.BadInputError, match=r"scheme 'nosuch'.*known schemes: .*generate"):
        sh.load_problem("nosuch:thing")


def test_py_address_builds_a_problem_from_a_callable(tmp_path, monkeypatch):
    (tmp_path / "my_problems.py").write_text(
        "import solverhub as sh\n"
        "def knap(n=3, seed=0):\n"
        "    return sh.load_problem(f'generate:multiple_knapsack?n_items={n}&n_knapsacks=1&seed={seed}')\n"
        "FIXED = None\n")
    monkeypatch.chdir(tmp_path)
    # code runs only with the user's consent, asked before the module is imported
    with pytest.raises(sh.BadInputError, match=r"runs Python code \(module 'my_problems'\).*--allow-code"):
        sh.load_problem("py:my_problems:knap?n=8&seed=2")
    assert "my_problems" not in sys.modules
    # modules of installed plugins (solverhub's own here) are trusted: no consent needed
    assert sh.load_problem("py:solverhub.plugins.exact_al.testproblems:hs6").kind == "nlp-eq"
    with sh.code_allowed(["my_problems"]):
        p = sh.load_problem("py:my_problems:knap?n=8&seed=2")
        assert p.kind == "mip" and p.n == 8
        res = sh.solve("py:my_problems:knap?n=8&seed=2", solver="highs")
        assert res.status == "optimal"
        with pytest.raises(sh.BadInputError, match="has no attribute 'nope'"):
            sh.load_problem("py:my_problems:nope")
        with pytest.raises(sh.BadInputError, match=r"expected py:<module>:<callable>"):
            sh.load_problem("py:my_problems")
        # the callable's signature is the parameter model
        with pytest.raises(sh.BadInputError, match=r"unknown parameter 'bogus' \(known: n, seed\)"):
            sh.load_problem("py:my_problems:knap?bogus=1")
        with pytest.raises(sh.BadInputError, match="not_here"):
            sh.load_problem("py:not_here:f")  # not allowed: only my_problems is
    assert "." not in sys.path and str(tmp_path) not in sys.path  # the cwd is never put there
    sys.modules.pop("my_problems", None)
    with sh.code_allowed():
        with pytest.raises(sh.BadInputError, match="no module named 'not_here'"):
            sh.load_problem("py:not_here:f")


# ------------------------------------------------------------------ the array boundary
class _FakeDeviceArray:
    """Stands in for a CuPy array: lives in a module named cupy, converts with .get()."""

    __module__ = "cupy._core.core"

    def __init__(self, a):
        self._a = np.asarray(a, dtype=float)

    def get(self):
        return self._a.copy()


def test_device_arrays_are_brought_to_the_host_at_the_result_boundary(quad_plugin):
    from solverhub.core.arrays import is_device_array, to_host

    dev = _FakeDeviceArray([1.0, 2.0])
    assert is_device_array(dev) and isinstance(to_host(dev), np.ndarray)

    class DeviceSolver(InexactSolver):
        def solve(self, problem, **kw):
            res = super().solve(problem, **kw)
            res.x = _FakeDeviceArray(res.x)
            return res

    pm = sh.get_plugin_manager()

    class P:
        @sh.hookimpl
        def solverhub_solvers(self):
            return [sh.SolverSpec("test-device", "test-quadratic", DeviceSolver, _Opts)]

    pm.register_plugin(P(), name="test-device-plugin")
    try:
        res = sh.solve(_problem(), solver="test-device")
    finally:
        pm.unregister_plugin("test-device-plugin")
    assert isinstance(res.x, np.ndarray) and res.status == "optimal"
    assert json.loads(json.dumps(res.to_dict(include_x=True)))["x"] == pytest.approx(list(res.x))


def test_non_finite_solutions_are_errors_without_numbers(quad_plugin):
    class NaNSolver(InexactSolver):
        def solve(self, problem, **kw):
            res = super().solve(problem, **kw)
            res.x = np.array([np.nan, 1.0, 2.0])
            return res

    pm = sh.get_plugin_manager()

    class P:
        @sh.hookimpl
        def solverhub_solvers(self):
            return [sh.SolverSpec("test-nan", "test-quadratic", NaNSolver, _Opts)]

    pm.register_plugin(P(), name="test-nan-plugin")
    try:
        res = sh.solve(_problem(), solver="test-nan")
    finally:
        pm.unregister_plugin("test-nan-plugin")
    assert res.status == "error" and "non-finite" in res.error
    assert res.objective is None and res.x is None and "rejected_objective" in res.info


def test_reference_argument_overrides_the_problem_reference(quad_plugin):
    res = sh.solve(_problem(ref=123.0), solver="test-inexact", reference=0.0)
    assert res.info["reference_objective"] == 0.0
    assert isinstance(QuadraticKind().reference(_problem(ref=5.0)), Reference)
