"""A continuous problem kind beside MIP: box-constrained linear least squares.

    min_x  f(x) = 0.5 * ||A x - b||^2    subject to   lower <= x <= upper

This one module is a whole solverhub plugin that needs no installation: the problem kind
``box-least-squares`` (:class:`BoxLeastSquares`, with its protocol :class:`BoxLeastSquaresKind`),
a factory for ``py:`` addresses (:func:`make_problem`) and the solver ``projected-gradient``
(:class:`ProjectedGradient`). Importing it through a ``py:`` address registers its hooks::

    solverhub solve "py:examples.least_squares:make_problem?m=200&n=50&seed=1" \\
        --solver projected-gradient --json

What it shows about the host (docs/writing_plugins.md, "A continuous problem kind"): a solution is
checked to a tolerance, not exactly (``exact = False``): residuals are reported as metrics and a
loose solution is kept, only an ``optimal`` claim it does not support is downgraded; the kind
declares its own metrics (error to a reference optimum computed by ``scipy.optimize.lsq_linear``,
projected gradient, bound violation); the solver logs every iteration (``Result.history``) while
its best-so-far objective is the trajectory.

The module imports only NumPy, SciPy's sparse matrices and pydantic at import time, so the host
stays quick to start; ``scipy.optimize`` is imported when a reference is computed.
"""

from __future__ import annotations

import math
import time
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field

import solverhub as sh
from solverhub.core.timing import deadline_of, limit_status
from solverhub.core.kinds import KindProtocol, MetricSpec, Reference, Verification, solution_vector
from solverhub.core.observers import NULL_NOTIFIER, Notifier

__all__ = ["KIND", "BoxLeastSquares", "BoxLeastSquaresKind", "ProjectedGradient",
           "ProjectedGradientOptions", "make_problem", "lsq_reference"]

KIND = "box-least-squares"
#: make_problem computes a reference by default up to this many matrix entries (lsq_linear's
#: active-set method is fast there, and slow well beyond)
REFERENCE_DEFAULT_MAX_ENTRIES = 50_000


# ============================================================================ the problem
class BoxLeastSquares:
    """``min 0.5 ||A x - b||^2`` subject to ``lower <= x <= upper``.

    ``A`` is a dense 2-D array or a SciPy sparse matrix (``m x n``), ``b`` has ``m`` entries,
    ``lower``/``upper`` have ``n`` entries or are scalars (infinite values allowed: a one-sided or
    free variable). ``reference_objective`` / ``reference_solution`` are a known optimum, when
    one is known. Construction validates; :meth:`validate` checks again (objects can be edited).
    """

    kind = KIND
    sense = sh.MIN

    def __init__(self, A: Any, b: Any, lower: Any = -np.inf, upper: Any = np.inf, *,
                 name: str = "box-least-squares", reference_objective: float | None = None,
                 reference_solution: Any = None, source: str | None = None) -> None:
        self.name = name
        self.source = source
        self.A = A.tocsr().astype(np.float64) if sp.issparse(A) else np.asarray(A, dtype=np.float64)
        self.b = np.asarray(b, dtype=np.float64)
        n = self.A.shape[1] if self.A.ndim == 2 else 0
        self.lower = np.broadcast_to(np.asarray(lower, dtype=np.float64), (n,)).copy() \
            if np.ndim(lower) == 0 else np.asarray(lower, dtype=np.float64)
        self.upper = np.broadcast_to(np.asarray(upper, dtype=np.float64), (n,)).copy() \
            if np.ndim(upper) == 0 else np.asarray(upper, dtype=np.float64)
        self.reference_objective = None if reference_objective is None else float(reference_objective)
        self.reference_solution = None if reference_solution is None \
            else np.asarray(reference_solution, dtype=np.float64)
        #: how the reference was obtained: "opt" (an optimum to solver precision)
        self.reference_kind = "opt"
        self.validate()

    # ------------------------------------------------------------------ validation
    def _bad(self, field: str, what: str) -> sh.BadInputError:
        return sh.BadInputError(f"{self.source or self.name}: {field}: {what}")

    def validate(self) -> None:
        """Raise :class:`~solverhub.BadInputError` naming the field that is wrong."""
        A = self.A
        if not (sp.issparse(A) or isinstance(A, np.ndarray)) or A.ndim != 2:
            raise self._bad("A", f"must be a 2-D array or sparse matrix, got {type(A).__name__} "
                                 f"with {getattr(A, 'ndim', '?')} dimensions")
        m, n = A.shape
        if m < 1 or n < 1:
            raise self._bad("A", f"must have at least one row and one column, has shape {A.shape}")
        values = A.data if sp.issparse(A) else A
        if not np.all(np.isfinite(values)):
            raise self._bad("A", "contains NaN or infinite entries")
        for field, vec, size in (("b", self.b, m), ("lower", self.lower, n), ("upper", self.upper, n)):
            if not isinstance(vec, np.ndarray) or vec.shape != (size,):
                raise self._bad(field, f"must have shape ({size},), has "
                                       f"{getattr(vec, 'shape', type(vec).__name__)}")
            if np.any(np.isnan(vec)):
                raise self._bad(field, f"entry {int(np.argmax(np.isnan(vec)))} is NaN")
        if not np.all(np.isfinite(self.b)):
            raise self._bad("b", "contains infinite entries")
        if np.any(self.lower == np.inf) or np.any(self.upper == -np.inf):
            raise self._bad("lower/upper", "a lower bound of +inf or an upper bound of -inf "
                                           "leaves no point")
        if np.any(self.lower > self.upper):
            j = int(np.argmax(self.lower > self.upper))
            raise self._bad("lower", f"lower[{j}] = {self.lower[j]:g} exceeds upper[{j}] = "
                                     f"{self.upper[j]:g}")
        if self.reference_solution is not None and self.reference_solution.shape != (n,):
            raise self._bad("reference_solution", f"must have shape ({n},), has "
                                                  f"{self.reference_solution.shape}")
        if self.reference_objective is not None and not math.isfinite(self.reference_objective):
            raise self._bad("reference_objective", "must be a finite number")

    # ------------------------------------------------------------------ evaluation
    @property
    def m(self) -> int:
        return int(self.A.shape[0])

    @property
    def n(self) -> int:
        return int(self.A.shape[1])

    def _vector(self, x: Any) -> np.ndarray:
        v = np.asarray(x, dtype=np.float64).ravel()
        if v.shape != (self.n,):
            raise sh.BadInputError(f"{self.source or self.name}: x has {v.size} entries, "
                                   f"expected {self.n}")
        return v

    def residual(self, x: Any) -> np.ndarray:
        """``A x - b``."""
        return np.asarray(self.A @ self._vector(x)).ravel() - self.b

    def evaluate(self, x: Any) -> float:
        """The objective ``0.5 ||A x - b||^2``."""
        r = self.residual(x)
        return 0.5 * float(r @ r)

    def gradient(self, x: Any) -> np.ndarray:
        """``A^T (A x - b)``."""
        return np.asarray(self.A.T @ self.residual(x)).ravel()

    def project(self, x: Any) -> np.ndarray:
        """The nearest point of the box."""
        return np.clip(self._vector(x), self.lower, self.upper)

    def projected_gradient_norm(self, x: Any) -> float:
        """First-order optimality measure ``||x - P(x - grad f(x))||``: zero exactly at the
        optimum (for a point in the box); not scaled (see :meth:`optimality_scale`)."""
        v = self._vector(x)
        return float(np.linalg.norm(v - np.clip(v - self.gradient(v), self.lower, self.upper)))

    def optimality_scale(self) -> float:
        """``max(1, ||A^T b||)``, the gradient's size at ``x = 0``: projected gradients are
        divided by it, so that one tolerance fits problems of any scale."""
        return max(1.0, float(np.linalg.norm(np.asarray(self.A.T @ self.b).ravel())))

    def bound_violation(self, x: Any) -> float:
        """Largest amount by which ``x`` leaves the box (0 inside)."""
        v = self._vector(x)
        over = np.maximum(self.lower - v, 0.0), np.maximum(v - self.upper, 0.0)
        return float(max(np.max(over[0], initial=0.0), np.max(over[1], initial=0.0)))

    def __repr__(self) -> str:
        fmt = "sparse" if sp.issparse(self.A) else "dense"
        return f"BoxLeastSquares({self.name}: {self.m} x {self.n}, {fmt})"


def lsq_reference(problem: BoxLeastSquares, *, tol: float = 1e-12) -> tuple[float, np.ndarray]:
    """The optimum ``(objective, x)`` by ``scipy.optimize.lsq_linear`` (the active-set method
    ``bvls`` for small dense problems, ``trf`` otherwise)."""
    from scipy.optimize import lsq_linear

    # lsq_linear wants lower < upper strictly: fixed variables move into the right-hand side
    fixed = problem.lower == problem.upper
    x = np.where(fixed, problem.lower, 0.0)
    free = np.flatnonzero(~fixed)
    if free.size:
        A = problem.A[:, free]
        rhs = problem.b - np.asarray(problem.A @ x).ravel()
        small_dense = not sp.issparse(A) and free.size <= 200
        res = lsq_linear(A, rhs, bounds=(problem.lower[free], problem.upper[free]),
                         method="bvls" if small_dense else "trf", tol=tol,
                         lsmr_tol=None if small_dense else "auto", max_iter=None)
        x[free] = res.x
    x = np.clip(x, problem.lower, problem.upper)
    return problem.evaluate(x), x


# ============================================================================ the protocol
class BoxLeastSquaresKind(KindProtocol):
    """How the host checks and measures box least-squares solutions.

    The check is to a tolerance (``exact = False``): an iterative method stopped by its limit
    returns a point with a nonzero projected gradient, which is an answer worth keeping, so only
    a point that is not a point (wrong shape, NaN or infinite entries) is rejected. The residuals
    (relative projected gradient, bound violation) become metrics; an ``optimal`` claim with a
    relative projected gradient above ``optimality_tol`` (or a bound violation above
    ``feasibility_tol``) is downgraded to ``feasible``.

    There are no infeasible instances: any box with ``lower <= upper`` holds a point and ``f`` is
    bounded below by 0, so every valid problem has an optimum.
    """

    exact = False
    metrics = (
        MetricSpec("objective_error", "|f(x) - f*| / max(1, |f*|) to the reference optimum",
                   "lower", "geomean"),
        MetricSpec("solution_error", "||x - x*|| / max(1, ||x*||) to the reference solution",
                   "lower", "geomean"),
        MetricSpec("projected_gradient", "||x - P(x - grad f(x))|| / max(1, ||A^T b||) "
                                         "(first-order optimality)", "lower", "geomean"),
        MetricSpec("bound_violation", "largest distance of x outside the box", "lower", "geomean"),
    )

    def __init__(self, optimality_tol: float = 1e-6, feasibility_tol: float = 1e-8) -> None:
        self.optimality_tol = float(optimality_tol)
        self.feasibility_tol = float(feasibility_tol)

    def _residuals(self, problem: BoxLeastSquares, x: np.ndarray) -> dict[str, float]:
        return {"projected_gradient": problem.projected_gradient_norm(x) / problem.optimality_scale(),
                "bound_violation": problem.bound_violation(x)}

    def verify(self, problem: Any, x: Any) -> Verification | None:
        if not isinstance(problem, BoxLeastSquares):
            return None
        v = solution_vector(x, problem.n)
        if isinstance(v, Verification):
            return v
        res = self._residuals(problem, v)
        # the feasibility tolerance scales with the bounds (1e-8 of a bound of 1e6 is rounding)
        finite = np.abs(np.concatenate([problem.lower, problem.upper]))
        bound_scale = max(1.0, float(np.max(finite[np.isfinite(finite)], initial=0.0)))
        optimal_ok = (res["projected_gradient"] <= self.optimality_tol
                      and res["bound_violation"] <= self.feasibility_tol * bound_scale)
        msg = (f"relative projected gradient {res['projected_gradient']:.3g} (tolerance "
               f"{self.optimality_tol:g}), bound violation {res['bound_violation']:.3g}")
        return Verification(ok=True, x=v, objective=problem.evaluate(v), residuals=res,
                            message=msg, optimal_ok=optimal_ok)

    def compute_metrics(self, problem: Any, result: Any, reference: Reference | None,
                        horizon: float) -> dict[str, float]:
        """Errors to the reference (when one is known) and, when the host has not already filled
        them from :meth:`verify`, the residuals of ``result.x``."""
        out = super().compute_metrics(problem, result, reference, horizon)
        x = getattr(result, "x", None)
        have = getattr(result, "metrics", None) or {}
        if isinstance(problem, BoxLeastSquares) and x is not None:
            v = np.asarray(x, dtype=np.float64).ravel()
            if v.shape == (problem.n,) and np.all(np.isfinite(v)):
                out.update({k: val for k, val in self._residuals(problem, v).items() if k not in have})
        return out

    # ------------------------------------------------------------------ conformance instances
    def conformance_instances(self) -> list[tuple[Any, float | None]]:
        """Small problems built around a chosen optimum (see :func:`_with_known_optimum`): some
        variables at their lower bound, some at their upper bound, some free, one fixed."""
        dense = _with_known_optimum(m=12, n=6, seed=11, sparse=False, name="conformance-ls-dense")
        sparse = _with_known_optimum(m=30, n=10, seed=12, sparse=True, name="conformance-ls-sparse")
        tall = _with_known_optimum(m=60, n=3, seed=13, sparse=False, name="conformance-ls-tall")
        return [(p, p.reference_objective) for p in (dense, sparse, tall)]

    def infeasible_instances(self) -> list[Any]:
        """None exist: a box with lower <= upper is never empty (see the class docstring)."""
        return []

    def hard_instance(self) -> Any | None:
        """A 3000 x 1500 dense problem with condition number about 1e6: each iteration costs two
        products with A, and thousands are needed, so a 1 s limit stops the solve."""
        return make_problem(m=3000, n=1500, seed=0, condition=1e6, reference=False)

    def malformed_instances(self) -> list[tuple[str, Any]]:
        """Valid problems edited after construction, as a user's code might."""
        base = _with_known_optimum(m=12, n=6, seed=11, sparse=False, name="malformed")
        short_b = _edited(base, b=base.b[:-2])
        nan_a = _edited(base, A=base.A.copy())
        nan_a.A[0, 0] = np.nan
        crossed = _edited(base, lower=base.upper + 1.0)
        return [("ls-b-wrong-length", short_b), ("ls-nan-in-A", nan_a),
                ("ls-lower-above-upper", crossed)]


def _edited(p: BoxLeastSquares, **fields: Any) -> BoxLeastSquares:
    """A copy of ``p`` with fields replaced, bypassing validation (construction validates)."""
    q = object.__new__(BoxLeastSquares)
    q.__dict__.update(p.__dict__)
    q.__dict__.update(fields)
    return q


def _with_known_optimum(m: int, n: int, seed: int, *, sparse: bool, name: str) -> BoxLeastSquares:
    """A problem whose optimum is chosen first: ``x*`` with a third of the variables at their
    lower bound, a third at their upper bound (one of them fixed, lower == upper) and the rest
    inside; a gradient ``g*`` at ``x*`` that satisfies the optimality conditions (0 inside, >= 0 at
    a lower bound, <= 0 at an upper bound); then ``b = A x* - r`` with ``A^T r = g*``
    (``r = A (A^T A)^-1 g*``, plus a part orthogonal to A's range, which leaves the gradient
    alone). With A of full column rank the optimum is unique and ``f* = 0.5 ||r||^2``."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n))
    if sparse:
        A[rng.random((m, n)) < 0.6] = 0.0
        A[np.arange(n) % m, np.arange(n)] += 2.0  # keeps full column rank
    lower, upper = -np.ones(n), np.ones(n)
    at_lower, at_upper = np.arange(n) % 3 == 0, np.arange(n) % 3 == 1
    upper[np.flatnonzero(at_upper)[0]] = lower[np.flatnonzero(at_upper)[0]] = 0.5  # fixed variable
    x_star = rng.uniform(-0.8, 0.8, n)
    x_star[at_lower], x_star[at_upper] = lower[at_lower], upper[at_upper]
    g_star = np.zeros(n)
    g_star[at_lower] = rng.uniform(0.5, 2.0, int(at_lower.sum()))
    g_star[at_upper] = -rng.uniform(0.5, 2.0, int(at_upper.sum()))
    r = A @ np.linalg.solve(A.T @ A, g_star)
    q, _ = np.linalg.qr(A, mode="complete")
    r = r + q[:, n:] @ rng.standard_normal(m - n)  # a residual the solution cannot remove
    b = A @ x_star - r
    matrix = sp.csr_matrix(A) if sparse else A
    return BoxLeastSquares(matrix, b, lower, upper, name=name, reference_objective=0.5 * float(r @ r),
                           reference_solution=x_star)


# ============================================================================ the factory
def make_problem(m: int = 200, n: int = 50, seed: int = 0, condition: float = 10.0,
                 bound: float = 1.0, density: float = 1.0, reference: bool | None = None,
                 name: str | None = None) -> BoxLeastSquares:
    """A random box least-squares problem (what ``py:examples.least_squares:make_problem``
    builds).

    ``A`` is a Gaussian ``m x n`` matrix (``density < 1``: a sparse one with that share of
    nonzeros) whose columns are scaled from 1 down to ``1/condition``, so its condition number is
    about ``condition`` times that of a Gaussian matrix. ``b = A x0 + noise`` with ``x0`` partly
    outside the box ``[-bound, bound]``, so that bounds are active at the optimum. ``reference``:
    compute the optimum with ``scipy.optimize.lsq_linear`` (default: when ``m * n`` is at most
    50 000); without a reference the kind's error metrics are absent.
    """
    m, n, seed = int(m), int(n), int(seed)
    if m < 1 or n < 1:
        raise sh.BadInputError(f"make_problem: m and n must be positive, got m={m}, n={n}")
    if not (math.isfinite(condition) and condition >= 1):
        raise sh.BadInputError(f"make_problem: condition must be a finite number >= 1, got {condition}")
    if not (math.isfinite(bound) and bound > 0):
        raise sh.BadInputError(f"make_problem: bound must be a finite number > 0, got {bound}")
    if not 0 < density <= 1:
        raise sh.BadInputError(f"make_problem: density must be in (0, 1], got {density}")
    rng = np.random.default_rng(seed)
    scales = np.logspace(0.0, -math.log10(condition), n)
    rng.shuffle(scales)  # small columns not all at the end: no structure a solver could exploit
    if density < 1:
        A: Any = sp.random(m, n, density=density, random_state=rng, format="csr",
                           data_rvs=rng.standard_normal) @ sp.diags(scales / math.sqrt(m * density))
        A = sp.csr_matrix(A)
    else:
        A = rng.standard_normal((m, n)) * (scales / math.sqrt(m))
    x0 = rng.normal(0.0, 1.5 * bound, n)
    b = np.asarray(A @ x0).ravel() + 0.1 * rng.standard_normal(m)
    label = name or f"ls-{m}x{n}-c{condition:g}-s{seed}"
    p = BoxLeastSquares(A, b, -bound, bound, name=label)
    if reference is None:
        reference = m * n <= REFERENCE_DEFAULT_MAX_ENTRIES
    if reference:
        p.reference_objective, x_ref = lsq_reference(p)
        # the minimiser is unique only when A has full column rank
        if m >= n:
            p.reference_solution = x_ref
    return p


# ============================================================================ the solver
class ProjectedGradientOptions(sh.IterationLimitOptions):
    """Options of ``projected-gradient`` (the common knob ``max_iterations`` keeps its shared
    name; unknown keys are errors)."""

    max_iterations: int = Field(100_000, ge=1, description="iteration limit")
    tolerance: float = Field(1e-9, gt=0, description="stop when ||x - P(x - grad)|| <= "
                                                     "tolerance * max(1, ||A^T b||)")
    step: Literal["bb", "fixed"] = Field("bb", description="bb: Barzilai-Borwein steps with a "
                                                           "nonmonotone line search; fixed: 1/L")
    memory: int = Field(30, ge=1, description="bb: objective values the nonmonotone line search "
                                              "compares with")
    power_iterations: int = Field(50, ge=1, description="fixed: power iterations estimating "
                                                        "L = ||A||_2^2")


class ProjectedGradient(sh.SolverBase[ProjectedGradientOptions]):
    """Projected gradient for :class:`BoxLeastSquares`.

    ``step="bb"`` is the spectral projected gradient method (Birgin, Martinez and Raydan 2000):
    the direction ``P(x - a g) - x`` with the Barzilai-Borwein step ``a = s's / s'y``, accepted
    when the objective falls enough below the largest of the last ``memory`` values (a
    nonmonotone Armijo test), halved until it does otherwise. ``step="fixed"`` takes
    ``x <- P(x - g / L)`` with ``L = ||A||_2^2`` estimated by power iteration from a random start
    (the only use of the seed), which decreases the objective at every step.

    Every iteration is reported through ``notifier.iteration`` (objective, relative projected
    gradient, step); ``notifier.incumbent`` only when the best objective so far improves, so the
    trajectory is monotone while the history may not be.
    """

    _ARMIJO = 1e-4
    _STEP_MIN, _STEP_MAX = 1e-30, 1e30
    #: incumbent notifications are thinned to relative improvements of at least this much, so a
    #: long run gives a short trajectory (the final best is always reported)
    _REPORT_REL = 1e-6
    #: iterations between recomputations of the residual A x - b
    _REFRESH = 100

    #: the host builds ``ProjectedGradient(options)`` with validated options; the options read as
    #: attributes (``self.max_iterations``), their defaults live in the model only
    Options = ProjectedGradientOptions

    @staticmethod
    def lipschitz(problem: BoxLeastSquares, iterations: int, seed: int,
                  deadline: float = math.inf) -> float:
        """``||A||_2^2`` (the gradient's Lipschitz constant) by power iteration on ``A^T A``,
        with a 5 % margin because power iteration approaches it from below; stops early at
        ``deadline`` (a ``time.perf_counter()`` reading)."""
        v = np.random.default_rng(seed).standard_normal(problem.n)
        est = 0.0
        for _ in range(iterations):
            if time.perf_counter() >= deadline:
                break
            norm = float(np.linalg.norm(v))
            if norm == 0.0:
                break
            v = np.asarray(problem.A.T @ (problem.A @ (v / norm))).ravel()
            est = float(np.linalg.norm(v))
        return 1.05 * est if est > 0 else 1.0

    def solve(self, problem: Any, *, time_limit: float | None = None, seed: int = 0,
              notifier: Notifier = NULL_NOTIFIER) -> sh.Result:
        t0 = time.perf_counter()  # the host has checked and validated the problem
        deadline = deadline_of(t0, time_limit)
        A, b, lo, up = problem.A, problem.b, problem.lower, problem.upper
        scale = problem.optimality_scale()
        target = self.tolerance * scale
        info: dict[str, Any] = {"step_rule": self.step, "optimality_scale": scale}

        inv_l = 0.0
        if self.step == "fixed":
            inv_l = 1.0 / self.lipschitz(problem, self.power_iterations, seed, deadline)
            info["lipschitz"] = 1.0 / inv_l

        x = np.clip(np.zeros(problem.n), lo, up)
        r = np.asarray(A @ x).ravel() - b
        f = 0.5 * float(r @ r)
        g = np.asarray(A.T @ r).ravel()
        pg = float(np.linalg.norm(x - np.clip(x - g, lo, up)))
        # BB's first step: a unit move of the largest component (Birgin et al.'s choice)
        alpha = inv_l if self.step == "fixed" else 1.0 / max(float(np.max(np.abs(
            x - np.clip(x - g, lo, up)), initial=0.0)), 1e-300)
        recent = [f]
        best_f, best_x = f, x.copy()
        trajectory = [(time.perf_counter() - t0, f)]
        notifier.incumbent(trajectory[0][0], f, None)
        reported = f
        halvings = 0
        k = 0
        status = sh.Status.ITERATION_LIMIT
        while True:
            if pg <= target:
                status = sh.Status.OPTIMAL
                break
            if k >= self.max_iterations:
                break
            stop = limit_status(deadline)  # Ctrl-C or the time limit
            if stop is not None:
                status = stop
                break
            d = np.clip(x - alpha * g, lo, up) - x
            ad = np.asarray(A @ d).ravel()
            gd, dad = float(g @ d), float(ad @ ad)
            # f along the segment is the quadratic f + lam g'd + lam^2/2 ||A d||^2, so the line
            # search needs no product with A. Halving, not the exact minimiser along d: jumping to
            # it spoils the next BB step (measured: several times more iterations)
            lam = 1.0
            if self.step == "bb":
                f_ref = max(recent)
                while f + lam * gd + 0.5 * lam * lam * dad > f_ref + self._ARMIJO * lam * gd \
                        and lam > 1e-12:
                    lam *= 0.5
                    halvings += 1
            x = x + lam * d
            # the residual is updated, not recomputed (one product with A per iteration less);
            # a fresh one now and then keeps rounding from piling up over long runs
            r = r + lam * ad if (k + 1) % self._REFRESH else np.asarray(A @ x).ravel() - b
            f = 0.5 * float(r @ r)
            g_new = np.asarray(A.T @ r).ravel()
            if not (math.isfinite(f) and np.all(np.isfinite(g_new))):
                # a numerical breakdown is an error with its reason, never NaNs as an answer
                return sh.Result(sh.Status.ERROR, runtime=time.perf_counter() - t0, iterations=k,
                                 error=f"projected-gradient: non-finite objective or gradient at "
                                       f"iteration {k + 1} (step {alpha:g})", info=info)
            s, y = lam * d, g_new - g
            g = g_new
            k += 1
            sy = float(s @ y)
            if self.step == "bb":
                alpha = float(s @ s) / sy if sy > 0 else self._STEP_MAX
                alpha = min(max(alpha, self._STEP_MIN), self._STEP_MAX)
                recent.append(f)
                if len(recent) > self.memory:
                    recent.pop(0)
            pg = float(np.linalg.norm(x - np.clip(x - g, lo, up)))
            notifier.iteration(k, {"objective": f, "projected_gradient": pg / scale,
                                   "step": lam * alpha})
            if f < best_f:
                best_f, best_x = f, x.copy()
                if reported - f > self._REPORT_REL * max(1.0, abs(f)):
                    t = time.perf_counter() - t0
                    trajectory.append((t, f))
                    notifier.incumbent(t, f, None)
                    reported = f
        # the certified point when optimal, else the best one seen (BB is nonmonotone)
        x_out = x if status == sh.Status.OPTIMAL else best_x
        objective = problem.evaluate(x_out)  # afresh: the updated residual r has drifted a little
        if trajectory[-1][1] > objective:
            t = time.perf_counter() - t0
            trajectory.append((t, objective))
            notifier.incumbent(t, objective, None)
        info.update({"projected_gradient": problem.projected_gradient_norm(x_out) / scale,
                     "step_halvings": halvings})
        return sh.Result(status, objective=objective, bound=None, x=x_out,
                         runtime=time.perf_counter() - t0, iterations=k, trajectory=trajectory,
                         info=info)


# ============================================================================ the hooks
@sh.hookimpl
def solverhub_problem_kinds() -> list[sh.ProblemKind]:
    return [sh.ProblemKind(KIND, BoxLeastSquares, "min 0.5 ||Ax - b||^2 s.t. lower <= x <= upper "
                                                  "(examples/least_squares.py)",
                           protocol=BoxLeastSquaresKind())]


@sh.hookimpl
def solverhub_solvers() -> list[sh.SolverSpec]:
    return [sh.SolverSpec("projected-gradient", KIND, ProjectedGradient, ProjectedGradientOptions,
                          "projected gradient with Barzilai-Borwein steps and a nonmonotone line "
                          "search (or fixed 1/L steps)", deterministic=True)]
