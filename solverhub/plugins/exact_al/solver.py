"""Solver ``exact-al``: exact augmented Lagrangian with randomized iterative sketching
(AdaSketch-Newton; Hong, Na, Mahoney, Kolar, ICML 2023), for :class:`NLPEqProblem`.

Paper rules (defaults) and departures (options; docs/exact_al.md) are marked in the comments by
the step of the note ``../shared/papers/exact_al.md`` they implement.
"""

from __future__ import annotations

import math
import time
from typing import Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from solverhub.core.arrays import CPU_DEVICES, array_namespace
from solverhub.core.errors import BadInputError
from solverhub.core.observers import NULL_NOTIFIER, Notifier
from solverhub.core.options import DeviceOptions, IterationLimitOptions, PresetOptions
from solverhub.core.result import Result, SolutionStatus, Status, TerminationCondition
from solverhub.core.solver import SolverBase
from solverhub.core.timing import deadline_of, limit_status
from solverhub.plugins.exact_al.dense_xp import (
    kkt_dense,
    lambda_min_ggt,
    nullspace_lambda_min,
    solve_dense,
)
from solverhub.plugins.exact_al.filter_search import Filter
from solverhub.plugins.exact_al.problem import (
    DENSE_SHARE,
    DenseLU,
    NLPEqProblem,
    dense_if_dense,
    gram_lu,
    least_squares_multipliers,
    scale_rows,
)

__all__ = ["ExactALOptions", "ExactAL", "DEVICE_DENSE_CAP"]

#: the largest n + m a sketch solver takes on a device (dense K: 8 (n + m)^2 bytes, 7.2 GB here)
DEVICE_DENSE_CAP = 30_000


#: option values each preset sets (an option given explicitly wins over its preset)
PRESETS: dict[str, dict[str, Any]] = {
    # the default: what solves the most unseen problems (docs/exact_al.md, "Presets")
    "robust": {"sketch": "exact", "shift": "inertia", "licq": "regularize", "licq_test": "relative",
               "hessian_check": "inertia", "scaling": "gradient", "second_order": True,
               "kkt_stop": "least-squares", "multiplier_init": "least-squares",
               "multiplier_reset": True, "curvature_test": False, "infeasibility_check": True,
               "tolerance": 1e-8, "line_search": "filter"},
    # Hong et al. 2023 as published (the reproduction benchmark's configuration)
    "paper": {"sketch": "gaussian", "shift": "paper", "licq": "stop", "licq_test": "absolute",
              "hessian_check": "auto", "scaling": "none", "second_order": False,
              "kkt_stop": "own", "multiplier_init": "zero",
              "multiplier_reset": False, "curvature_test": False,
              "infeasibility_check": False, "tolerance": 1e-4, "line_search": "merit"},
}

#: the largest multiplier (max |lam|, unscaled) taken from a Newton step or as a start without a
#: least-squares reset (IPOPT's constr_mult_init_max)
MULTIPLIER_CAP = 1e3
#: the largest n + m whose KKT matrix is factored densely (LDL') for its inertia
INERTIA_DENSE_CAP = 2000
#: sparse derivatives (K less than DENSE_SHARE full) from this n + m up are factored by QDLDL
#: (when installed) instead: the dense LDL' of n + m = 1662 (LUKVLE11 at n = 998) took 0.25 s a
#: factorization, a third of the solve, where QDLDL takes milliseconds
INERTIA_SPARSE_MIN = 1000
#: a KKT matrix at least DENSE_SHARE full is solved and factored densely up to this n + m,
#: whatever its storage (INTEQNE at n = 1002: a full Jacobian; QDLDL took 4.9 s and SuperLU
#: 1.2 s per factorization)
DENSE_KKT_CAP = 4000


def _dense_kkt(H: Any, J: Any) -> bool:
    """Whether K = [[H, J'], [J, .]] is at least ``DENSE_SHARE`` full and small enough
    (``DENSE_KKT_CAP``) to be factored as a dense matrix."""
    N = H.shape[0] + J.shape[0]
    nnz = (H.nnz if sp.issparse(H) else H.size) + 2 * (J.nnz if sp.issparse(J) else J.size)
    return N <= DENSE_KKT_CAP and nnz >= DENSE_SHARE * float(N) ** 2
#: the largest n whose reduced Hessian is formed densely (null-space basis) for the final check
NULLSPACE_DENSE_CAP = 1000


class ExactALOptions(PresetOptions, IterationLimitOptions, DeviceOptions):
    """Options of ``exact-al``. ``preset`` fills the options not given: ``robust`` (default) or
    ``paper`` (the published method and constants)."""

    presets: ClassVar[dict[str, dict[str, Any]]] = PRESETS
    default_preset: ClassVar[str] = "robust"

    preset: Literal["robust", "paper"] = Field(
        "robust", description="robust: the default departures (direct solve, inertia-corrected "
                              "Hessian, relative LICQ test, gradient scaling, second-order check, "
                              "least-squares KKT stop); paper: Hong et al. 2023 as published")
    tolerance: float = Field(1e-8, gt=0, description="stop when ||(grad_x L, c)|| <= tolerance "
                                                     "(unscaled problem; robust 1e-8, IPOPT's "
                                                     "tol; paper 1e-4)")
    max_iterations: int = Field(10_000, ge=1, description="Newton iteration limit")
    sketch: Literal["gaussian", "kaczmarz", "exact"] = Field(
        "exact", description="inner solver of K z = b: Gaussian or Kaczmarz sketch-and-project "
                             "(paper), or a direct factorization (departure; robust)")
    block_size: int = Field(1, ge=0, description="sketch block size q (1: the paper's vector "
                                                 "sketch; 0: ceil(sqrt(n + m)))")
    max_sketch_steps: int = Field(100_000, ge=1, description="sketch steps per Newton iteration")
    theta: float = Field(1.0, gt=0, description="inner accuracy factor theta")
    superlinear: bool = Field(False, description="theta_k = theta * min(1, ||(grad L, c)||) -> 0 "
                                                 "(the paper's superlinear variant)")
    accuracy: Literal["paper", "forcing"] = Field(
        "paper", description="paper: ||K||_F Psi ||r|| <= theta delta ||b||; forcing (departure): "
                             "||r|| <= theta_k * forcing * ||b||, forcing shrunk by rho^4 when the "
                             "descent test fails")
    forcing: float = Field(0.1, gt=0, lt=1, description="accuracy=forcing: initial forcing term")
    mu0: float = Field(1.0, gt=0, description="initial penalty mu of ||c||^2")
    nu0: float = Field(0.1, gt=0, description="initial penalty nu of ||grad_x L||^2")
    delta0: float = Field(0.1, gt=0, description="initial inner accuracy delta")
    xi_B: float = Field(0.1, gt=0, description="Hessian modification constant")
    beta: float = Field(0.1, gt=0, lt=0.5, description="Armijo constant")
    rho: float = Field(1.5, gt=1, description="penalty update factor")
    eig_threshold: float = Field(1e-6, description="modify B when lambda_min(Z'HZ) is below this")
    licq_tol: float = Field(1e-2, ge=0, description="licq_test=absolute: rank-deficient when "
                                                    "lambda_min(G G') < licq_tol (the paper's)")
    licq_rel_tol: float = Field(1e-12, gt=0, lt=1,
                                description="licq_test=relative: rank-deficient when "
                                            "lambda_min(G G') < licq_rel_tol lambda_max(G G') "
                                            "(condition number of G above 1e6)")
    licq_test: Literal["absolute", "relative"] = Field(
        "relative", description="absolute: the paper's threshold licq_tol on lambda_min(G G'); "
                                "relative (robust): lambda_min / lambda_max, independent of the "
                                "constraints' scale")
    licq: Literal["stop", "regularize"] = Field(
        "regularize", description="on a rank-deficient Jacobian -- stop: the paper's LICQ guard "
                                  "(error, singular); regularize (departure): K's lower-right "
                                  "block becomes -reg I")
    licq_reg: float = Field(1e-6, gt=0, description="licq=regularize: the dual regularization "
                                                    "(relative: times lambda_max(G G') / "
                                                    "max(1, ||H||_F) with licq_test=relative)")
    mu_max: float = Field(1e8, gt=0, description="cap of mu in the descent test")
    nu_min: float = Field(1e-8, gt=0, description="floor of nu in the descent test")
    delta_min: float = Field(1e-6, gt=0, description="floor of the inner accuracy delta")
    merit_hessian: Literal["lagrangian", "objective"] = Field(
        "lagrangian", description="H in the merit gradient: Hessian of the Lagrangian (exact) or "
                                  "of the objective (the authors' code; equal for linear c)")
    shift: Literal["paper", "inertia"] = Field(
        "inertia", description="paper: B = H + (xi_B + ||H||_F) I when lambda_min(Z'HZ) < "
                               "threshold; inertia (departure): the smallest shift that makes "
                               "the reduced Hessian positive definite")
    hessian_check: Literal["auto", "nullspace", "curvature", "inertia"] = Field(
        "inertia", description="how positive definiteness of Z'BZ is tested: nullspace (dense "
                               "eigenvalues), curvature (inertia-free dx'B dx >= xi_B ||dx||^2), "
                               "inertia (robust: the inertia of K from a dense LDL' when n + m "
                               "<= 2000, above from QDLDL's sparse LDL' when installed, else "
                               "curvature plus the final second-order check); "
                               "auto (the paper preset): nullspace when n <= 500, else curvature")
    scaling: Literal["gradient", "none"] = Field(
        "gradient", description="gradient (robust, IPOPT's rule): f and each c_i scaled by "
                                "min(1, scaling_max_gradient / ||gradient at x0||_inf); none")
    scaling_max_gradient: float = Field(100.0, gt=0, description="scaling=gradient: the largest "
                                                                 "gradient entry kept unscaled")
    second_order: bool = Field(True, description="before reporting optimal, check lambda_min of "
                                                 "the reduced Hessian Z'(Hess L)Z (dense for "
                                                 "n <= 1000, else Lanczos on the projected "
                                                 "Hessian) and leave a saddle along its "
                                                 "eigenvector")
    kkt_stop: Literal["own", "least-squares"] = Field(
        "least-squares", description="own: stop on the KKT residual with the iterate's "
                                     "multipliers (paper); least-squares: also stop when ||c|| <= "
                                     "tolerance and the residual with least-squares multipliers "
                                     "passes (the kind's own check)")
    curvature_test: bool = Field(
        False, description="with hessian_check=inertia: also require dx'B dx >= xi_B ||dx||^2 "
                           "of the step (the paper's lower bound on the curvature of B, which "
                           "its descent test needs), growing the shift until it holds; off by "
                           "default: the inertia alone makes the reduced Hessian positive "
                           "definite, as in IPOPT (the paper preset's hessian_check=auto keeps "
                           "the bound through its own curvature test)")
    acceptable_tolerance: float = Field(
        1e-6, gt=0, description="when the line search fails or stagnates (rounding) at a point "
                                "whose KKT residual is at most this (but above tolerance), stop "
                                "there as optimal, info['acceptable_stop'] (IPOPT's "
                                "acceptable_tol); no effect when tolerance is larger")
    infeasibility_check: bool = Field(
        True, description="end as infeasible (locally) at a stationary point of ||c||^2 with "
                          "||c|| > tolerance: ||G'c|| <= infeasibility_tol ||G||_F ||c|| on 3 "
                          "iterations running (departure; robust)")
    infeasibility_tol: float = Field(1e-6, gt=0, description="see infeasibility_check")
    multiplier_reset: bool = Field(
        True, description="after each step, take the least-squares multipliers of the new x "
                          "when their ||grad_x L|| is smaller (departure; robust); with the "
                          "merit line search and in barrier subproblems only (the equality "
                          "filter keeps the Newton step's multipliers, as IPOPT)")
    multiplier_init: Literal["zero", "least-squares"] = Field(
        "least-squares", description="initial multipliers when the problem gives none or all "
                                     "zeros: zero (paper) or least squares on grad f + G' lam "
                                     "(robust, as IPOPT; kept when max |lam| <= 1e3)")
    max_backtracks: int = Field(60, ge=1, description="Armijo halvings before the line search fails")
    line_search: Literal["merit", "filter"] = Field(
        "filter", description="equality constraints only (bounds and inequalities: "
                              "barrier_filter): merit (paper): Armijo on the exact augmented "
                              "Lagrangian L_{mu,nu}; filter (departure; robust): IPOPT's filter "
                              "line search on (||c||, f) with second-order corrections along the "
                              "same Newton step, the merit's search where it fails; with "
                              "sketch='exact' only (an inexact sketch step keeps the merit)")
    # bounds and inequalities (departure: slacks and a log-barrier outer loop, barrier.py;
    # IPOPT's constants, Waechter and Biegler 2006)
    barrier_tolerance: float = Field(
        1e-6, gt=0, description="bounds/inequalities: the barrier path stops at max(tolerance, "
                                "barrier_tolerance); 1e-6 solved all 13 of the inequality "
                                "tuning set (1e-4: LUKVLI13's objective 1.2e-6 off the "
                                "peers'; 1e-8: LUKVLI13 unsolved) in 1.2x the iterations of "
                                "1e-4 (docs/benchmarks.md, exact-al (i))")
    barrier_mu0: float = Field(0.1, gt=0, description="bounds/inequalities: the first barrier "
                                                       "parameter mu (IPOPT's mu_init)")
    barrier_mu_min: float = Field(1e-9, gt=0, description="the last barrier parameter, solved to "
                                                          "tolerance with the second-order check "
                                                          "(the objective is off by about mu per "
                                                          "active bound)")
    barrier_kappa_mu: float = Field(0.2, gt=0, lt=1, description="monotone rule: mu <- "
                                                                 "min(kappa_mu mu, mu^theta_mu)")
    barrier_theta_mu: float = Field(1.5, gt=1, lt=2, description="see barrier_kappa_mu")
    barrier_kappa_eps: float = Field(10.0, gt=0, description="a barrier subproblem is solved to "
                                                             "max(kappa_eps mu, tolerance)")
    barrier_tau_min: float = Field(0.99, gt=0, lt=1, description="fraction to the boundary: a "
                                                                 "step keeps max(tau_min, 1 - mu) "
                                                                 "of each distance to a bound")
    barrier_kappa_d: float = Field(1e-5, ge=0, description="damping kappa_d mu (distance) of "
                                                           "one-sided bounds (IPOPT's)")
    barrier_primal_dual: bool = Field(True, description="bounds/inequalities: the Newton "
                                                        "matrix's barrier block: "
                                                        "primal-dual z / distance with bound "
                                                        "multipliers z of their own (IPOPT's "
                                                        "Sigma); False: the primal mu / "
                                                        "distance^2")
    barrier_extrapolate: bool = Field(True, description="after each barrier subproblem, move the "
                                                        "point along the central path to the "
                                                        "next mu (one KKT solve)")
    barrier_monotone_accept: bool = Field(
        True, description="bounds/inequalities (departure): in a barrier subproblem a trial step "
                          "the augmented-Lagrangian merit rejects is still taken when it does "
                          "not increase the barrier objective or ||c|| and decreases one of "
                          "them sufficiently (IPOPT's filter conditions against the current "
                          "point only), or when it cuts ||c|| tenfold below both the current "
                          "point's and the last such step's (a feasibility switch)")
    barrier_filter: bool = Field(
        True, description="bounds/inequalities (departure): IPOPT's filter line search on "
                          "(||c||, barrier objective) with second-order corrections along the "
                          "exact-AL Newton step of a barrier subproblem; when it fails (step "
                          "below IPOPT's alpha_min) the augmented-Lagrangian merit's Armijo "
                          "search (with barrier_monotone_accept) runs as without it")
    barrier_bound_mult_init: Literal["constant", "central"] = Field(
        "constant", description="bounds/inequalities with barrier_primal_dual: the bound "
                                "multipliers' start: constant (IPOPT's bound_mult_init_val = 1) "
                                "or central (mu / distance, on the central path)")
    barrier_infeasibility_tol: float = Field(
        1e-6, gt=0, description="bounds/inequalities: locally infeasible when feasibility "
                                "restoration (min ||violation||^2 on the bounds, run when the "
                                "violation stalls or a subproblem fails) ends with violation "
                                "above tolerance and first-order optimality at most this times "
                                "max(1, ||J||_F) ||violation||")
    bound_push: float = Field(1e-2, gt=0, description="initial point: pushed min(bound_push "
                                                      "max(1, |bound|), bound_frac width) inside "
                                                      "each bound (IPOPT's kappa_1)")
    bound_frac: float = Field(1e-2, gt=0, le=0.5, description="see bound_push (IPOPT's kappa_2)")
    use_kernel: bool = Field(True, description="compiled sketch kernels when built")
    device: str = Field("cpu", min_length=1,
                        description="where the dense linear algebra runs: cpu (NumPy, SciPy and "
                                    "the Cython kernels), or a device of an array-backend plugin "
                                    "(e.g. cuda): the sketch solvers, the dense KKT solve and the "
                                    "dense eigenvalue tests on that device's namespace (sparse "
                                    "factorizations stay on the host)")



def _fro(A: Any) -> float:
    if sp.issparse(A):
        return float(sp.linalg.norm(A)) if A.nnz else 0.0
    return float(np.linalg.norm(A))


def _dense(A: Any) -> np.ndarray:
    return A.toarray() if sp.issparse(A) else np.asarray(A)


class _Evaluator:
    """Evaluations with the paper's counting: each new point costs one objective/constraint
    evaluation and one gradient (gradient + Jacobian) evaluation.

    With scaling (``scaling="gradient"``) the solver works on ``sf f`` and ``diag(sc) c``; a
    point's entries are the scaled ones, ``c_raw`` / ``J_raw`` the problem's own, and the scaled
    multipliers ``lam`` are ``sf lam_raw / sc``."""

    def __init__(self, p: NLPEqProblem, sf: float = 1.0, sc: np.ndarray | None = None) -> None:
        self.p = p
        self.sf = float(sf)
        self.sc = sc
        self.fc = 0
        self.grad = 0
        self.hess = 0

    def _rows(self, J: Any) -> Any:
        if self.sc is None:
            return J
        return scale_rows(self.sc, J)

    def raw_lam(self, lam: np.ndarray) -> np.ndarray:
        return lam if self.sc is None and self.sf == 1.0 else \
            (lam * (self.sc if self.sc is not None else 1.0)) / self.sf

    def scaled_lam(self, lam_raw: np.ndarray) -> np.ndarray:
        return lam_raw if self.sc is None and self.sf == 1.0 else \
            lam_raw * self.sf / (self.sc if self.sc is not None else 1.0)

    def point(self, x: np.ndarray, lam: np.ndarray) -> dict[str, Any]:
        return self.complete(self.trial(x, lam))

    def trial(self, x: np.ndarray, lam: np.ndarray) -> dict[str, Any]:
        """The objective and constraints at a point (a filter line search's trial needs no
        more); :meth:`complete` adds the derivatives."""
        f = self.p.objective(x)
        c_raw = self.p.constraints(x)
        self.fc += 1
        c = c_raw if self.sc is None else self.sc * c_raw
        return {"x": x, "lam": lam, "f": self.sf * f if self.sf != 1.0 else f, "c": c,
                "c_raw": c_raw}

    def complete(self, tr: dict[str, Any]) -> dict[str, Any]:
        g = self.p.gradient(tr["x"])
        J_raw = self.p.jacobian(tr["x"])
        self.grad += 1
        J = self._rows(J_raw)
        if self.sf != 1.0:
            g = self.sf * g
        gl = g + np.asarray(J.T @ tr["lam"]).ravel()
        return {**tr, "g": g, "J": J, "gl": gl, "J_raw": J_raw}

    def hessian(self, x: np.ndarray, lam: np.ndarray) -> Any:
        H = self.p.lagrangian_hessian(x, self.raw_lam(lam))
        return H if self.sf == 1.0 else self.sf * H

    def objective_hessian(self, x: np.ndarray) -> Any:
        H = self.p.objective_hessian(x)
        return H if self.sf == 1.0 else self.sf * H

    def newton_hessian(self, x: np.ndarray, lam: np.ndarray) -> Any:
        """The matrix of the Newton system when the problem gives its own (a barrier
        subproblem's primal-dual Hessian), else None (the Hessian of the Lagrangian)."""
        nh = getattr(self.p, "newton_hessian", None)
        if nh is None:
            return None
        H = nh(x, self.raw_lam(lam))
        return H if self.sf == 1.0 else self.sf * H


def gradient_scaling(problem: NLPEqProblem, max_gradient: float) -> tuple[float, np.ndarray | None]:
    """IPOPT's gradient-based scaling at ``x0``: ``sf = min(1, g_max / ||grad f||_inf)`` and
    ``sc_i = min(1, g_max / ||grad c_i||_inf)`` (Waechter and Biegler 2006, section 3.8)."""
    x0 = problem.x0
    gmax = float(np.max(np.abs(problem.gradient(x0)), initial=0.0))
    sf = min(1.0, max_gradient / gmax) if gmax > 0 else 1.0
    if problem.m == 0:
        return sf, None
    J = problem.jacobian(x0)
    if sp.issparse(J):
        rows = np.asarray(abs(J).max(axis=1).todense()).ravel()
    else:
        rows = np.max(np.abs(J), axis=1) if J.shape[1] else np.zeros(J.shape[0])
    sc = np.where(rows > max_gradient, max_gradient / np.where(rows > 0, rows, 1.0), 1.0)
    return sf, (None if np.all(sc == 1.0) else sc)


def _merit(pt: dict[str, Any], mu: float, nu: float) -> float:
    # L_{mu,nu} = f + lam'c + mu/2 ||c||^2 + nu/2 ||grad_x L||^2
    c, gl = pt["c"], pt["gl"]
    return float(pt["f"] + pt["lam"] @ c + 0.5 * mu * (c @ c) + 0.5 * nu * (gl @ gl))


def _monotone_progress(pt: dict[str, Any], trial: dict[str, Any], alpha: float, dx: np.ndarray,
                       beta: float) -> bool:
    """Departure (barrier subproblems only): the trial neither raises the barrier objective nor
    ||c||, and lowers ||c|| by the fraction 1e-5 or the objective by beta alpha |grad f' dx|
    (IPOPT's filter acceptance, eq. 18-20 of Waechter and Biegler 2006, against the current
    point alone; both quantities non-increasing, so the iterates cannot cycle). The exact AL's
    ||grad_x L||^2 term rejects most steps from a point far from stationary near a bound."""
    th0, th1 = float(np.linalg.norm(pt["c"])), float(np.linalg.norm(trial["c"]))
    f0, f1 = pt["f"], trial["f"]
    if th1 > th0 or f1 > f0:
        return False
    gf = float(pt["g"] @ dx)
    return th1 <= (1 - 1e-5) * th0 or (gf < 0 and f1 <= f0 + beta * alpha * gf)


def _try_trial(ev: _Evaluator, x: np.ndarray, lam: np.ndarray) -> dict[str, Any] | None:
    """A filter trial's objective and constraints; None where they cannot be evaluated (outside
    the barrier's domain) or are not finite."""
    try:
        tr = ev.trial(x, lam)
    except (ValueError, OverflowError, ZeroDivisionError, FloatingPointError):
        return None
    return tr if math.isfinite(tr["f"]) and np.all(np.isfinite(tr["c"])) else None


def _raise_on_limit(deadline: float) -> None:
    halt = limit_status(deadline)
    if halt is not None:
        raise _Stop(halt)


def _no_step_bound(x: np.ndarray, dx: np.ndarray) -> float:
    """The largest step along dx of a problem without bounds (no fraction to the boundary)."""
    return math.inf


def _finite_point(pt: dict[str, Any]) -> bool:
    J = pt["J"]
    return bool(math.isfinite(pt["f"]) and np.all(np.isfinite(pt["c"])) and np.all(np.isfinite(pt["g"]))
                and np.all(np.isfinite(J.data if sp.issparse(J) else J)))


def kkt_inertia(K: np.ndarray, scale: float | None = None) -> tuple[int, int, int]:
    """(positive, negative, zero) eigenvalue counts of the symmetric ``K`` from its LDL'
    factorization (Sylvester's law of inertia: those of the 1x1 and 2x2 blocks of D); a pivot
    counts as zero below ``N eps scale`` (``scale``: default the largest pivot)."""
    from scipy.linalg.lapack import dsytrf, dsytrf_lwork

    # LAPACK's Bunch-Kaufman LDL' (lower): D's 1x1 pivots on the diagonal; a 2x2 block at k, k+1
    # where ipiv[k] (= ipiv[k+1]) is negative. The workspace query gives the blocked algorithm
    # (3x faster than the default workspace at N = 800)
    lwork = int(dsytrf_lwork(K.shape[0], lower=1)[0])
    lu, ipiv, info_ = dsytrf(np.asarray(K, dtype=np.float64), lower=1, overwrite_a=0,
                             lwork=max(lwork, 1))
    if info_ < 0:
        raise np.linalg.LinAlgError(f"dsytrf: illegal argument {-info_}")
    N = lu.shape[0]
    diag = np.diag(lu).copy()
    eigs = []
    k = 0
    while k < N:
        if ipiv[k] < 0 and k + 1 < N:
            a, b, c = diag[k], lu[k + 1, k], diag[k + 1]
            root = math.hypot((a - c) / 2.0, b)
            eigs += [(a + c) / 2.0 + root, (a + c) / 2.0 - root]
            k += 2
        else:
            eigs.append(diag[k])
            k += 1
    e = np.asarray(eigs)
    if scale is None:
        scale = float(np.max(np.abs(e), initial=0.0))
    tol = N * np.finfo(float).eps * scale
    return int(np.sum(e > tol)), int(np.sum(e < -tol)), int(np.sum(np.abs(e) <= tol))


def reduced_hessian_lambda_min(H: Any, J: Any, deadline: float = math.inf
                               ) -> tuple[float | None, np.ndarray | None, str]:
    """``lambda_min(Z'HZ)`` (Z: a basis of the null space of J) and its eigenvector in R^n:
    dense (orthonormal null-space basis) for n <= NULLSPACE_DENSE_CAP, else Lanczos (ARPACK,
    smallest algebraic) on ``P H P + gamma (I - P)`` with the projector ``P = I - J'(JJ')^-1 J``
    (one sparse LU of JJ') and ``gamma = ||H||_F + 1`` lifting the range of J' out of the way.
    ``(None, None, why)`` when Lanczos does not converge. Each Lanczos product checks the time limit
    and Ctrl-C (``deadline``) and raises :class:`_Stop`: a non-converging Lanczos ran 190 s past a
    1 s limit on pde_control(grid=45)."""
    n, m = H.shape[0], J.shape[0]
    if n <= NULLSPACE_DENSE_CAP:
        Hd = _dense(H)
        if m:
            from scipy.linalg import null_space

            Z = null_space(_dense(J))
        else:
            Z = np.eye(n)
        if Z.shape[1] == 0:
            return math.inf, None, "dense (empty null space)"
        w, V = np.linalg.eigh(Z.T @ Hd @ Z)
        return float(w[0]), Z @ V[:, 0], "dense"
    from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

    Hs = sp.csr_matrix(H)
    Jdense = dense_if_dense(J) if m else None
    if m and isinstance(Jdense, np.ndarray):
        # a full Jacobian (INTEQNE): J J' dense, as the sparse product took 4.4 s
        import scipy.linalg as sla

        Jd = Jdense
        with np.errstate(all="ignore"):
            lu_d = sla.lu_factor(Jd @ Jd.T, check_finite=False)
        if not np.all(np.isfinite(lu_d[0])) or np.min(np.abs(np.diag(lu_d[0]))) == 0.0:
            return None, None, "rank-deficient Jacobian"

        def proj(v: np.ndarray) -> np.ndarray:
            return v - Jd.T @ sla.lu_solve(lu_d, Jd @ v, check_finite=False)
    elif m:
        from solverhub.plugins.exact_al.sparse_lu import SingularMatrixError

        Js = sp.csr_matrix(J)
        try:
            lu = gram_lu(Js, "J J'")
        except SingularMatrixError:
            return None, None, "rank-deficient Jacobian"

        def proj(v: np.ndarray) -> np.ndarray:
            return v - np.asarray(Js.T @ lu.solve(np.asarray(Js @ v).ravel())).ravel()
    else:
        def proj(v: np.ndarray) -> np.ndarray:
            return v
    gamma = _fro(Hs) + 1.0

    def op(v: np.ndarray) -> np.ndarray:
        halt = limit_status(deadline)
        if halt is not None:
            raise _Stop(halt)
        pv = proj(v)
        return proj(np.asarray(Hs @ pv).ravel()) + gamma * (v - pv)
    try:
        w, V = eigsh(LinearOperator((n, n), matvec=op, dtype=float), k=1, which="SA", tol=1e-8,
                     maxiter=max(3000, 10 * n), v0=np.ones(n))
    except ArpackNoConvergence:
        return None, None, "Lanczos did not converge"
    return float(w[0]), proj(V[:, 0]), "lanczos"


def _have_qdldl() -> bool:
    import importlib.util

    return importlib.util.find_spec("qdldl") is not None


class _Stop(Exception):
    """A time limit or Ctrl-C between factorizations or line-search trials."""

    def __init__(self, status: Status) -> None:
        super().__init__(str(status))
        self.status = status


def _next_shift(t: float, t_last: float, scale: float) -> float:
    """The next Hessian shift of the inertia correction after a wrong inertia at shift ``t``
    (IPOPT's rule: start from a third of the last accepted shift, else 1e-4; grow 8x, or 100x
    while no shift was ever needed); an error once it dwarfs the entries of K."""
    if t == 0.0:
        t = max(t_last / 3.0, 1e-20) if t_last > 0 else 1e-4
    else:
        t *= 8.0 if t_last > 0 else 100.0
    if t > 1e12 * max(1.0, scale):
        raise np.linalg.LinAlgError(f"the inertia correction diverged (shift {t:.3g} "
                                    f"against entries of K up to {scale:.3g})")
    return t


class ExactAL(SolverBase[ExactALOptions]):
    """``exact-al`` (see the module docstring and docs/exact_al.md)."""

    Options = ExactALOptions
    _xp: Any = None
    _factor_time: float = 0.0   # duration of the last dense factorization (inertia test)
    last_multipliers: np.ndarray | None = None  # of the last solve's returned point (unscaled)
    _inertia_scale: Any = None  # a barrier subproblem's scale of its Hessian for zero pivots
    #: (B, J, reg, solve) of this Newton iteration's KKT factorization (_direction)
    _kkt_factor: tuple[Any, Any, float, Any] | None = None

    # ------------------------------------------------------------------ helpers
    def _ggt_extremes(self, J: Any) -> tuple[float, float]:
        """``(lambda_min, lambda_max)`` of ``G G'`` (max: inf when not needed)."""
        m = J.shape[0]
        if m == 0:
            return math.inf, math.inf
        need_max = self.options.licq_test == "relative"
        J = dense_if_dense(J)
        if self._xp is not None and (not sp.issparse(J) or m <= 500) and not need_max:
            return lambda_min_ggt(self._xp, J), math.inf
        if not sp.issparse(J) or m <= 500:
            Jd = _dense(J)
            w = np.linalg.eigvalsh(Jd @ Jd.T)
            return float(w[0]), float(w[-1])
        # large sparse G: 30 steps of inverse iteration with one sparse LU of G G' (ARPACK's
        # shift-invert took ~20 000 iterations on LUKVLE1); the Rayleigh quotient estimates
        # lambda_min from above, and a singular G G' fails the factorization (-> 0)
        from solverhub.plugins.exact_al.sparse_lu import SingularMatrixError

        GGt = (J @ J.T).tocsc()
        lmax = math.inf
        if need_max:
            v = np.random.default_rng(1).standard_normal(m)
            for _ in range(30):  # power iteration: lambda_max to a few digits is enough here
                w = np.asarray(GGt @ (v / np.linalg.norm(v))).ravel()
                nw = float(np.linalg.norm(w))
                if nw == 0:
                    break
                lmax, v = nw, w
        # SuperLU polls nothing either: the same guard as the KKT factorizations (YATP1CNE,
        # n = 2600, ran 39.9 s on a 30 s limit through unguarded factorizations of G G')
        self._before_factorization()
        tf = time.perf_counter()
        try:
            lu = gram_lu(J, "G G'", JJt=GGt)
        except SingularMatrixError:
            return 0.0, lmax
        finally:
            self._factor_time = max(self._factor_time, time.perf_counter() - tf)
        v = np.random.default_rng(0).standard_normal(m)
        rq = math.inf
        for _ in range(30):
            w = lu.solve(v / np.linalg.norm(v))
            if not np.all(np.isfinite(w)):
                return 0.0, lmax
            nw = float(np.linalg.norm(w))
            rq = 1.0 / nw if nw > 0 else math.inf
            v = w
        return rq, lmax

    def _inertia_shift(self, H: Any, J: Any, reg: float, reg_rank: float,
                       t_last: float) -> tuple[float, float, int]:
        """IPOPT's inertia correction (Waechter and Biegler 2006, alg. IC): the smallest tried
        ``t`` (from 0, then ``t_last/3`` or 1e-4, growing by 8, or 100 the first time) for which
        ``[[H + t I, G'], [G, -reg I]]`` has inertia (n, m, 0); zero eigenvalues with reg = 0
        (a rank-deficient G) switch the dual regularization ``reg_rank`` on. Returns
        ``(t, reg, factorizations)``."""
        n, m = H.shape[0], J.shape[0]
        dense_kkt = _dense_kkt(H, J)
        if (n + m > INERTIA_DENSE_CAP and not dense_kkt) or (
                n + m >= INERTIA_SPARSE_MIN and not dense_kkt and sp.issparse(H)
                and sp.issparse(J) and _have_qdldl()):
            return self._sparse_inertia_shift(H, J, reg, t_last)
        Hd = _dense(H)
        Jd = _dense(J)
        # zero pivots are judged against the unshifted K's entries (a large shift t makes the
        # Schur complement G (H + tI)^-1 G' small next to t, but not zero)
        # (a barrier subproblem's diagonal mu / distance^2 grows without bound near the bounds
        # and would make every small pivot look zero: it gives the scale of its other entries)
        h_scale = self._inertia_scale() if self._inertia_scale is not None else \
            float(np.max(np.abs(Hd), initial=0.0))
        scale = max(h_scale, float(np.max(np.abs(Jd), initial=0.0)), reg, 1e-300)
        t, tries = 0.0, 0
        while True:
            self._before_factorization()
            tf = time.perf_counter()
            K = np.block([[Hd + t * np.eye(n), Jd.T], [Jd, -reg * np.eye(m)]]) if m else \
                Hd + t * np.eye(n)
            # zero pivots matter on the unshifted K only (a rank-deficient G, singular H);
            # with a shift t the Schur complement -G (H + tI)^-1 G' is about |G|^2/t: small
            # next to the entries of K for large t, but of a definite sign
            pos, neg, zero = kkt_inertia(K, scale if t == 0.0 else 0.0)
            self._factor_time = time.perf_counter() - tf
            tries += 1
            if pos == n and neg == m and zero == 0:
                return t, reg, tries
            if zero and m and reg == 0.0 and neg < m:
                reg = reg_rank
                continue
            t = _next_shift(t, t_last, scale)

    def _before_factorization(self) -> None:
        """Stop (``_Stop``) on a limit or Ctrl-C, and before a factorization that the last one's
        duration says would end past the deadline: it cannot be interrupted (limits hold whatever
        n is)."""
        halt = limit_status(self._deadline)
        if halt is None and time.perf_counter() + self._factor_time > self._deadline:
            halt = Status.TIME_LIMIT
        if halt is not None:
            raise _Stop(halt)

    def _sparse_inertia_shift(self, H: Any, J: Any, reg: float, t_last: float
                              ) -> tuple[float, float, int]:
        """:meth:`_inertia_shift` above ``INERTIA_DENSE_CAP`` (n + m): the inertia from the D
        of a sparse LDL' (QDLDL, approximate minimum degree ordering, no pivoting: Sylvester's
        law on the signs of D) of ``[[H + t I, G'], [G, -delta I]]``, ``delta = max(reg, 1e-8
        scale)`` (QDLDL needs the diagonal; with ``delta`` > 0 the matrix is quasi-definite once
        ``H + t I`` is positive definite on the null space of G, so a factorization exists). A
        failed factorization (a zero pivot) counts as the wrong inertia: the shift grows."""
        import qdldl

        n, m = H.shape[0], J.shape[0]
        Hs, Js = sp.csr_matrix(H), sp.csr_matrix(J)
        h_scale = self._inertia_scale() if self._inertia_scale is not None else \
            float(np.max(np.abs(Hs.data), initial=0.0))
        scale = max(h_scale, float(np.max(np.abs(Js.data), initial=0.0)), reg, 1e-300)
        delta = max(reg, 1e-8 * scale)
        eye_n = sp.identity(n, format="csr")
        t, tries = 0.0, 0
        while True:
            self._before_factorization()
            tf = time.perf_counter()
            K = sp.bmat([[Hs + t * eye_n, Js.T], [Js, -delta * sp.identity(m)]], format="csc") \
                if m else (Hs + t * eye_n).tocsc()
            try:
                D = np.asarray(qdldl.Solver(K).factors()[1]).ravel()
                tol = (n + m) * np.finfo(float).eps * scale
                ok = bool(np.all(np.isfinite(D))) and int(np.sum(D > tol)) == n \
                    and int(np.sum(D < -tol)) == m
            except (RuntimeError, ValueError):
                ok = False
            self._factor_time = time.perf_counter() - tf
            tries += 1
            if ok:
                return t, reg, tries
            t = _next_shift(t, t_last, scale)

    def solve(self, problem: Any, *, time_limit: float | None = None, seed: int = 0,
              notifier: Notifier = NULL_NOTIFIER) -> Result:
        t0 = time.perf_counter()
        o = self.options
        if not isinstance(problem, NLPEqProblem):
            raise BadInputError(f"exact-al takes an nlp-eq problem (NLPEqProblem), got "
                                f"{type(problem).__name__}")
        # the host validates what it loads; a problem handed to solve() directly is checked here
        # (shapes and finiteness; the derivative check runs once per problem)
        problem.validate()
        if problem.has_bounds_or_inequalities:
            # departure: slacks and a log-barrier outer loop around this method (barrier.py)
            from solverhub.plugins.exact_al.barrier import solve_with_barrier

            return solve_with_barrier(self, problem, time_limit, seed, notifier, t0)
        # device: None = the CPU path (kept as it was); else the array namespace of that device
        # (an unknown or unavailable device is one UnavailableError here, before any work)
        self._xp = None if o.device.lower() in CPU_DEVICES else array_namespace(o.device)
        deadline = deadline_of(t0, time_limit)
        self._deadline = deadline
        self._factor_time = 0.0  # duration of the last dense factorization (inertia test)
        self._reg = 0.0
        rng = np.random.default_rng(seed)
        n, m = problem.n, problem.m
        N = n + m
        q = o.block_size if o.block_size > 0 else max(1, math.ceil(math.sqrt(N)))
        if o.hessian_check == "auto":
            check = "nullspace" if n <= 500 else "curvature"
        elif o.hessian_check == "inertia":
            # above the dense cap: QDLDL's sparse LDL' when installed (OSQP's dependency)
            check = "inertia" if N <= INERTIA_DENSE_CAP or _have_qdldl() else "curvature"
        else:
            check = o.hessian_check
        dense_cap = 5000 if self._xp is None else DEVICE_DENSE_CAP
        if o.sketch != "exact" and N > dense_cap:
            raise BadInputError(f"exact-al: sketch={o.sketch!r} works on a dense K of size n + m = "
                                f"{N} > {dense_cap} (device {o.device!r}); use sketch='exact' "
                                f"(sparse factorization)")
        # a barrier subproblem carries the scaling computed once for the whole barrier loop
        fixed_scaling = getattr(problem, "gradient_scaling", None)
        sf, sc = (1.0, None) if o.scaling != "gradient" else fixed_scaling \
            if fixed_scaling is not None else gradient_scaling(problem, o.scaling_max_gradient)
        ev = _Evaluator(problem, sf, sc)
        x = problem.x0.copy()
        lam = np.zeros(m) if problem.lam0 is None else ev.scaled_lam(problem.lam0.copy())
        pt = ev.point(x, lam)
        if m and o.multiplier_init == "least-squares" and (
                problem.lam0 is None or (not np.any(problem.lam0)
                                         and getattr(problem, "max_step", None) is None)):
            # IPOPT's initial multipliers: least squares on grad f + G' lam, kept when not large
            # (also over all-zero lam0, which says nothing: S2MPJ hands y0 = 0 to every problem,
            # and IPOPT ignores a given y0 unless warm-started; MARATOS's first step with lam = 0
            # was 4.5e4 long, with the least-squares lam 0.14); a barrier subproblem's zeros are
            # the barrier loop's own start (its path is tuned on them, barrier.py)
            lam_ls = least_squares_multipliers(pt["g"], pt["J"])
            if np.all(np.isfinite(lam_ls)) and float(np.max(np.abs(lam_ls), initial=0.0)) <= MULTIPLIER_CAP:
                pt = {**pt, "lam": lam_ls, "gl": pt["g"] + np.asarray(pt["J"].T @ lam_ls).ravel()}
        mu, nu, delta, forcing = o.mu0, o.nu0, o.delta0, o.forcing
        info: dict[str, Any] = {"local": True, "preset": o.preset, "sketch": o.sketch,
                                "block_size": q, "accuracy": o.accuracy, "shift_rule": o.shift,
                                "hessian_check": check, "objective_scale": sf,
                                "constraint_scale_min": float(np.min(sc)) if sc is not None else 1.0}
        trajectory: list[tuple[float, float]] = []
        total_steps, total_flops, sketch_time = 0, 0.0, 0.0
        shifts = 0
        t_last = 0.0
        escapes = 0
        best = math.inf
        status = Status.ITERATION_LIMIT
        k = 0
        tol = o.tolerance
        # ||c|| of the last step taken by the feasibility switch of the monotone acceptance
        switch_theta = math.inf

        def raw_measures(p_: dict[str, Any]) -> tuple[float, float, float]:
            """(||c||, ||grad_x L||, KKT residual) of the problem as given (unscaled)."""
            cn_ = float(np.linalg.norm(p_["c_raw"]))
            st_ = float(np.linalg.norm(p_["gl"])) / sf
            return cn_, st_, math.hypot(cn_, st_)

        def rank_key(p_: dict[str, Any]) -> tuple[int, float]:
            # the best point: feasible (||c|| <= tolerance) with the least f, else least ||c||
            cn_ = float(np.linalg.norm(p_["c_raw"]))
            return (0, float(p_["f"]) / sf) if cn_ <= tol else (1, cn_)

        best_pt = pt

        def finish(st: Status, err: str | None = None, use_best: bool = False,
                   termination: TerminationCondition | None = None) -> Result:
            out = best_pt if use_best and rank_key(best_pt) < rank_key(pt) else pt
            cn_, st_, kkt_ = raw_measures(out)
            # what is held: the point is feasible when ||c|| <= tolerance (a limit's best point
            # may not be: then it is reported as an infeasible point, not as a solution)
            sol = SolutionStatus.OPTIMAL if st == Status.OPTIMAL else \
                SolutionStatus.FEASIBLE if cn_ <= tol else SolutionStatus.INFEASIBLE
            info.update({"kkt_residual": kkt_, "constraint_violation": cn_,
                         "mu": mu, "nu": nu, "delta": delta, "sketch_steps": total_steps,
                         "flops": total_flops, "hessian_shifts": shifts,
                         "returned_point": "best" if out is not pt else "last",
                         "sketch_steps_per_s": total_steps / sketch_time if sketch_time > 0 else None,
                         "evaluations": {"objective": ev.fc, "gradient": ev.grad, "hessian": ev.hess},
                         })
            # multipliers (and, for errors, the last iterate) ride in info, which every run record
            # serializes: kept up to 5000 entries
            self.last_multipliers = ev.raw_lam(out["lam"])  # the barrier loop's warm start
            if m <= 5000:
                info["multipliers"] = ev.raw_lam(out["lam"]).tolist()
            else:
                info["multipliers_omitted"] = f"m = {m} > 5000 (kept out of the run record)"
            fin = float(out["f"]) / sf
            if st != Status.ERROR and sol != SolutionStatus.INFEASIBLE:
                # the trajectory is best-so-far over iterates with ||c|| <= tolerance; entries
                # below the reported point (earlier non-KKT points) go
                trajectory[:] = [e for e in trajectory if e[1] >= fin]
                if not trajectory or trajectory[-1][1] != fin:
                    trajectory.append((time.perf_counter() - t0, fin))
            if st == Status.ERROR:
                if n <= 5000:
                    info["last_x"] = out["x"].tolist()
                return Result(st, runtime=time.perf_counter() - t0, iterations=k, error=err,
                              trajectory=trajectory, info=info)
            return Result(termination=termination or st.termination, solution_status=sol,
                          objective=fin, x=out["x"].copy(), runtime=time.perf_counter() - t0,
                          iterations=k, trajectory=trajectory, info=info)

        def finish_failed(reason: str) -> Result:
            # line search failure or stagnation: the best point, `feasible` when it is feasible
            # (termination unknown: no convergence claim)
            info["termination"] = reason
            if rank_key(best_pt)[0] == 0:
                return finish(Status.FEASIBLE, use_best=True,
                              termination=TerminationCondition.UNKNOWN)
            return finish(Status.ERROR, f"exact-al: {reason}", use_best=True)

        kkt = math.inf
        infeasible_run = 0
        # set when the line search fails or stagnates: this point is tested once more at
        # acceptable_tolerance before the failure is reported
        acceptable_retry: str | None = None
        max_step = getattr(problem, "max_step", None)
        # departure (line_search="filter"): IPOPT's filter on (||c||, f) for a problem without
        # bounds (a barrier subproblem brings its own, one per barrier parameter), along the
        # exact Newton step: an inexact sketch step keeps the merit, whose descent test (step
        # 4) controls the inexactness (hs6 with sketch="gaussian": the filter's restarted
        # sketch solves and rejections ran 10 minutes to a failed search)
        eq_filter = Filter() if (o.line_search == "filter" and o.sketch == "exact"
                                 and max_step is None and m) else None
        self._inertia_scale = getattr(problem, "inertia_scale", None)
        accept_step = getattr(problem, "accept_step", None)
        infeasible_at = getattr(problem, "locally_infeasible_at", None)
        subproblem_stop = getattr(problem, "subproblem_stop", None)
        # a barrier subproblem's primal-dual correction of its gradient, z - mu / d (unscaled)
        gradient_shift = getattr(problem, "gradient_shift", None)
        while True:
            b = -np.concatenate([pt["gl"], pt["c"]])
            bnorm = float(np.linalg.norm(b))
            cn, _, kkt = raw_measures(pt)
            if rank_key(pt) < rank_key(best_pt):
                best_pt = pt
            if cn <= tol and pt["f"] / sf < best:
                best = pt["f"] / sf
                t = time.perf_counter() - t0
                trajectory.append((t, best))
                notifier.incumbent(t, best, None)
            if o.infeasibility_check and cn > tol and m:
                # a stationary point of ||c||^2 with c != 0 (G'c = 0 relative to |G| |c|): the
                # constraints cannot be met near here -- locally infeasible (3 iterations running).
                # A barrier subproblem asks its problem (the violation of the bounded constraints
                # on the box, whose slacks make G'c = 0 mean nothing)
                if infeasible_at is not None:
                    stationary, why = infeasible_at(pt["x"], pt["c_raw"])
                else:
                    Jc = float(np.linalg.norm(np.asarray(pt["J_raw"].T @ pt["c_raw"]).ravel()))
                    stationary = Jc <= o.infeasibility_tol * max(_fro(pt["J_raw"]), 1e-300) * cn
                    why = (f"locally infeasible: ||G'c|| = {Jc:.3g} at ||c|| = {cn:.3g} (a "
                           f"stationary point of ||c||^2)")
                if stationary:
                    infeasible_run += 1
                    if infeasible_run >= 3:
                        info["termination"] = why
                        info["local"] = True
                        return finish(Status.INFEASIBLE,
                                      termination=TerminationCondition.LOCALLY_INFEASIBLE)
                else:
                    infeasible_run = 0
            tol_k = max(tol, o.acceptable_tolerance) if acceptable_retry else tol
            candidate = kkt <= tol_k
            if acceptable_retry and candidate:
                info["acceptable_stop"] = kkt
            if not candidate and subproblem_stop is not None:
                # a barrier subproblem's point that already passes the problem's own KKT test
                # (IPOPT's overall error E_0, Algorithm A step A-2), or whose own KKT residual
                # stalls in rounding: the barrier loop decides what it is (barrier.py)
                why = subproblem_stop(pt["x"], ev.raw_lam(pt["lam"]), kkt)
                if why:
                    candidate = True
                    info[why] = kkt
            if not candidate and o.kkt_stop == "least-squares" and cn <= tol_k:
                # the KKT test with least-squares multipliers (the kind's own check) may pass
                # while the iterate's multipliers lag (METHANB8)
                lam_ls = least_squares_multipliers(pt["g"] / sf, pt["J_raw"])
                st_ls = float(np.linalg.norm(pt["g"] / sf + np.asarray(pt["J_raw"].T @ lam_ls).ravel()))
                if math.hypot(st_ls, cn) <= tol_k:
                    if acceptable_retry:
                        info["acceptable_stop"] = math.hypot(st_ls, cn)
                    lam_s = ev.scaled_lam(lam_ls)
                    pt = {**pt, "lam": lam_s, "gl": pt["g"] + np.asarray(pt["J"].T @ lam_s).ravel()}
                    kkt = math.hypot(st_ls, cn)
                    candidate = True
                    info["least_squares_stop"] = True
            notifier.iteration(k, {"kkt_residual": kkt, "constraint_violation": cn,
                                   "objective": float(pt["f"]) / sf, "mu": mu, "nu": nu,
                                   "delta": delta, "sketch_steps": total_steps,
                                   "flops": total_flops, "evaluations": ev.fc})
            if candidate:
                if not o.second_order:
                    status = Status.OPTIMAL
                    break
                H = ev.hessian(pt["x"], pt["lam"])
                ev.hess += 1
                try:
                    lmin, v, how = reduced_hessian_lambda_min(H, pt["J"], deadline)
                except _Stop as stop:   # the point passed the first-order test; its curvature is unknown
                    info["second_order"] = "unverified (stopped by the limit)"
                    return finish(stop.status, use_best=True)
                info["reduced_hessian_min_eig"] = lmin
                info["second_order_check"] = how
                if lmin is None:
                    info["second_order"] = f"unverified ({how})"
                    status = Status.OPTIMAL
                    break
                if lmin >= -1e-6 * max(1.0, _fro(H)):
                    info["second_order"] = "verified"
                    status = Status.OPTIMAL
                    break
                # a saddle point (negative curvature on the tangent space): leave it along the
                # eigenvector, on the augmented Lagrangian f + lam'c + mu/2 ||c||^2
                assert v is not None  # a finite negative lambda_min comes with its eigenvector
                try:
                    esc = None if escapes >= 20 else self._escape(pt, v, lmin, mu, ev)
                except _Stop as stop:
                    return finish(stop.status, use_best=True)
                if esc is None:
                    info["second_order"] = (f"saddle point: lambda_min(Z'HZ) = {lmin:.3g} "
                                            f"and no descent along its eigenvector")
                    return finish(Status.FEASIBLE if cn <= tol else Status.ERROR,
                                  f"exact-al: stopped at a saddle point (lambda_min(Z'HZ) = "
                                  f"{lmin:.3g})", termination=TerminationCondition.UNKNOWN
                                  if cn <= tol else None)
                escapes += 1
                info["saddle_escapes"] = escapes
                acceptable_retry = None
                info.pop("acceptable_stop", None)
                pt = esc
                t_last = max(t_last, -lmin)
                k += 1
                continue
            if acceptable_retry:
                return finish_failed(acceptable_retry)
            if k >= o.max_iterations:
                return finish(Status.ITERATION_LIMIT, use_best=True)
            halt = limit_status(deadline)  # Ctrl-C or the time limit
            if halt is not None:
                return finish(halt, use_best=True)
            x, lam, J, gl, c = pt["x"], pt["lam"], pt["J"], pt["gl"], pt["c"]
            # a factorization is kept within one iteration only (a problem may hand back the
            # same matrix object, changed in place, at the next point)
            self._kkt_factor = None
            # ---- step 1: Hessian, LICQ guard, Hessian modification
            H = ev.hessian(x, lam)
            ev.hess += 1
            Hm = H if o.merit_hessian == "lagrangian" else ev.objective_hessian(x)
            Hn = ev.newton_hessian(x, lam)
            if Hn is not None:
                # a barrier subproblem: the Newton matrix has the primal-dual barrier block
                # z / distance (barrier.py); the merit's gradient keeps the exact Hessian
                H = Hn
            sparse = (sp.issparse(H) or sp.issparse(J)) and not _dense_kkt(H, J)
            try:
                xi_G, lmax_G = self._ggt_extremes(J)
            except _Stop as stop:
                return finish(stop.status, use_best=True)
            Hf = _fro(H)
            if not math.isfinite(float(Hf)):
                return finish(Status.ERROR, f"exact-al: the Hessian of the Lagrangian is not finite "
                                            f"at iteration {k}")
            self._reg = 0.0
            if o.licq_test == "relative":
                rank_deficient = m > 0 and xi_G <= o.licq_rel_tol * lmax_G
                reg_amount = o.licq_reg * max(lmax_G, 1e-8) / max(1.0, Hf) if m else 0.0
            else:
                rank_deficient = xi_G < o.licq_tol
                reg_amount = o.licq_reg
            info["jacobian_gram_min_eig"] = xi_G
            if rank_deficient and o.licq == "regularize":
                # departure: dual regularization [[B, G'], [G, -reg I]] (as interior-point codes
                # do for rank-deficient Jacobians); Psi below uses licq_tol in place of xi_G
                self._reg = reg_amount
                info["regularized_iterations"] = info.get("regularized_iterations", 0) + 1
                xi_G = max(xi_G, o.licq_tol)
            if rank_deficient and o.licq == "stop":
                info["singular"] = True
                return finish(Status.ERROR, f"exact-al: singular: lambda_min(G G') = {xi_G:.3g} < "
                                            f"{o.licq_tol if o.licq_test == 'absolute' else o.licq_rel_tol * lmax_G:g}"
                                            f" at iteration {k} (LICQ guard; the "
                                            f"constraint Jacobian is rank-deficient here)")
            if o.licq_test == "relative":
                xi_G = max(xi_G, o.licq_tol)  # Psi only (sketch accuracy rule)
            t_shift = 0.0
            if check == "inertia":
                try:
                    t_shift, self._reg, nf = self._inertia_shift(H, J, self._reg, reg_amount, t_last)
                except _Stop as stop:
                    return finish(stop.status, use_best=True)
                except np.linalg.LinAlgError as exc:
                    return finish(Status.ERROR, f"exact-al: {exc} at iteration {k}")
                info["inertia_factorizations"] = info.get("inertia_factorizations", 0) + nf
                if t_shift:
                    t_last = t_shift
                    shifts += 1
            elif check == "nullspace" and self._xp is not None:
                lmin = nullspace_lambda_min(self._xp, H, J)
                if lmin < o.eig_threshold:
                    t_shift = o.xi_B + Hf if o.shift == "paper" else o.xi_B - lmin
            elif check == "nullspace":
                Hd = _dense(H)
                if n > m:
                    from scipy.linalg import null_space

                    Z = null_space(_dense(J)) if m else np.eye(n)
                    lmin = float(np.linalg.eigvalsh(Z.T @ Hd @ Z)[0]) if Z.shape[1] else math.inf
                else:
                    lmin = math.inf
                if lmin < o.eig_threshold:
                    # paper: t = xi_B + ||Hess L||_F; inertia departure: lambda_min(Z'BZ) = xi_B
                    t_shift = o.xi_B + Hf if o.shift == "paper" else o.xi_B - lmin
            B = H + t_shift * (sp.identity(n, format="csr") if sp.issparse(H) else np.eye(n)) \
                if t_shift else H
            # ---- step 3 constants
            Bf = _fro(B)
            Psi = 20.0 * max(Bf ** 2, 1.0) / (min(xi_G, 1.0) * min(o.xi_B, 1.0))
            Ups = max(_fro(J), Hf, 1.0)

            def delta_trial(mu_: float, nu_: float) -> float:
                return (0.5 - o.beta) * nu_ / ((1 + mu_ + nu_) * Ups ** 2 * Psi ** 2)

            delta = max(min(delta, delta_trial(mu, nu)), o.delta_min)
            theta_k = o.theta * (min(1.0, bnorm) if o.superlinear else 1.0)
            # merit gradient pieces (step 4): d/dx = gl + nu Hm gl + mu G'c, d/dlam = c + nu G gl
            Hgl = np.asarray(Hm @ gl).ravel()
            JTc = np.asarray(J.T @ c).ravel()
            Jgl = np.asarray(J @ gl).ravel()

            def merit_grad(mu_: float, nu_: float) -> np.ndarray:
                return np.concatenate([gl + nu_ * Hgl + mu_ * JTc, c + nu_ * Jgl])

            # ---- step 2/3: the Newton system and its inexact solve
            ts = time.perf_counter()
            z, sk, solve_note = self._direction(B, J, b, o, rng, q, sparse, Psi, theta_k, delta,
                                                forcing, None)
            while True:
                if z is None and check in ("curvature", "inertia") and t_shift < 1e20:
                    # inertia-free rule: a singular K means B needs a (larger) shift; so also
                    # when the inertia test passed on a pivot that only rounding kept off zero
                    # and the LU meets it exactly (LUKVLE13 at x0: a zero eigenvalue of H on
                    # the null space of G, the LDL' pivot ~1e-15 above the zero tolerance)
                    t_shift = max(2 * t_shift, o.xi_B) if o.shift == "inertia" else o.xi_B + Hf
                    B = H + t_shift * (sp.identity(n, format="csr") if sp.issparse(H) else np.eye(n))
                    shifts += 1
                    z, sk, solve_note = self._direction(B, J, b, o, rng, q, sparse, Psi, theta_k,
                                                        delta, forcing, None)
                    continue
                if z is None:
                    return finish(Status.ERROR, f"exact-al: the Newton system is singular at "
                                                f"iteration {k} ({solve_note})")
                if sk is not None and sk.stopped:
                    break
                # curvature test (departure for large problems): dx'B dx >= xi_B ||dx||^2 on the
                # null-space component is replaced by the inertia-free test on dx
                if check == "curvature" or (check == "inertia" and o.curvature_test):
                    dx = z[:n]
                    curv = float(dx @ np.asarray(B @ dx).ravel())
                    if curv < o.xi_B * float(dx @ dx) and float(dx @ dx) > 0:
                        t_shift = max(2 * t_shift, o.xi_B) if o.shift == "inertia" else o.xi_B + Hf
                        B = H + t_shift * (sp.identity(n, format="csr") if sp.issparse(H) else np.eye(n))
                        shifts += 1
                        if t_shift > 1e20:
                            return finish(Status.ERROR, "exact-al: Hessian shift diverged")
                        halt = limit_status(deadline)
                        if halt is not None:
                            return finish(halt, use_best=True)
                        z, sk, solve_note = self._direction(B, J, b, o, rng, q, sparse, Psi,
                                                            theta_k, delta, forcing, None)
                        continue
                gz = float(merit_grad(mu, nu) @ z)
                if gz <= -0.5 * nu * bnorm ** 2 or mu > o.mu_max or nu < o.nu_min:
                    break
                if o.sketch == "exact":
                    # z does not change with (mu, nu) here: the test gz + nu/2 ||b||^2 <= 0 reads
                    # a + mu s + nu W <= 0, linear in (mu, nu), with s = c'G dx. A regularized step
                    # (licq=regularize: G dx + c = reg dlambda) can have s >= 0 or s tiny next to
                    # a = grad_x L'dx + c'dlambda: when even the most the capped increase can reach
                    # (mu up to rho^2 mu_max, nu down to nu_min) leaves it positive, stop now
                    # instead of inflating mu to the cap for nothing (mu never decreases); step 5
                    # then takes the merit's steepest descent direction
                    s_mu = float(JTc @ z[:n])
                    w_nu = float(Hgl @ z[:n] + Jgl @ z[n:])
                    a0 = gz - mu * s_mu - nu * w_nu
                    W = w_nu + 0.5 * bnorm ** 2
                    reach = a0 + (mu * s_mu if s_mu >= 0 else o.rho ** 2 * o.mu_max * s_mu) \
                        + min(nu * W, o.nu_min * W)
                    if reach > 0:
                        info["futile_penalty_increases"] = info.get("futile_penalty_increases", 0) + 1
                        break
                # descent test failed: mu <- mu rho^2, nu <- nu / rho, tighter accuracy
                mu, nu = mu * o.rho ** 2, nu / o.rho
                delta = max(min(delta / o.rho ** 4, delta_trial(mu, nu)), o.delta_min)
                forcing = forcing / o.rho ** 4
                if o.sketch != "exact":
                    z, sk, solve_note = self._direction(B, J, b, o, rng, q, sparse, Psi, theta_k,
                                                        delta, forcing, sk)
            if sk is not None and sk.stopped:
                # the time limit (or Ctrl-C) struck inside the inner solve: the best point so far
                sketch_time += time.perf_counter() - ts
                total_steps += sk.steps
                total_flops += sk.flops
                return finish(sk.stop_status, use_best=True)
            if t_shift and check not in ("curvature", "inertia"):
                shifts += 1
            sketch_time += time.perf_counter() - ts
            if sk is not None:
                total_steps += sk.steps
                total_flops += sk.flops
            if not np.all(np.isfinite(z)):
                return finish(Status.ERROR, f"exact-al: the sketch solver diverged (non-finite "
                                            f"direction) at iteration {k}")
            # ---- step 5: Armijo backtracking on L_{mu,nu}
            newton_direction = True
            phi0 = _merit(pt, mu, nu)
            gm = merit_grad(mu, nu)
            gz = float(gm @ z)
            z_newton = z
            if not gz < 0:
                # step 4 accepts z once mu > mu_max or nu < nu_min, but the paper's increase is
                # meant to end at a descent direction: when the caps stop it at an ascent (or
                # flat) direction -- e.g. a regularized step (licq=regularize) whose constraint
                # residual G dx + c = reg dlambda makes the mu-term c'G dx vanish, so no mu helps
                # -- the Armijo search can only fail or crawl. Take the steepest descent
                # direction of L_{mu,nu} instead (always a descent direction when it is nonzero).
                z = -gm
                gz = -float(gm @ gm)
                newton_direction = False
                info["merit_gradient_steps"] = info.get("merit_gradient_steps", 0) + 1
            dx, dl = z[:n], z[n:]
            # fraction to the boundary (the barrier subproblems of bounds and inequalities)
            alpha = min(1.0, max_step(x, dx)) if max_step is not None else 1.0
            monotone = max_step is not None and o.barrier_monotone_accept
            new = None
            line_filter = getattr(problem, "line_filter", None) if o.barrier_filter else None
            if max_step is None:
                line_filter = eq_filter
            if line_filter is not None and (newton_direction or line_filter is eq_filter):
                # departure (barrier subproblems; line_search="filter" without bounds): IPOPT's
                # filter line search along the Newton step (filter_search.py); the merit's
                # search below runs only when it fails. The second-order corrections solve with
                # the factorization of this iteration's K (_direction keeps it). Without bounds
                # the filter takes the Newton step even where the merit's descent test (step 4)
                # replaced it: the test is the merit's, not the filter's (LUKVLE16, n = 17: 173
                # of 188 iterations were the merit's steepest descent steps, at the time limit)
                try:
                    out = line_filter.search(
                        pt, z_newton[:n], z_newton[n:], alpha, lambda xt, lt: _try_trial(ev, xt, lt),
                        lambda c_soc: self._direction(
                            B, J, -np.concatenate([gl, c_soc]), o, rng, q, sparse, Psi, theta_k,
                            delta, forcing, None)[0],
                        max_step if max_step is not None else _no_step_bound, o.max_backtracks,
                        lambda: _raise_on_limit(deadline))
                except _Stop as stop:
                    return finish(stop.status, use_best=True)
                if out.point is not None and _finite_point(done := ev.complete(out.point)):
                    new = done
                    alpha = out.alpha
                    info["filter_steps"] = info.get("filter_steps", 0) + 1
                else:
                    info["filter_failures"] = info.get("filter_failures", 0) + 1
                    # the merit's step below leaves the filter's history behind (IPOPT restarts
                    # from a restoration phase's point with the filter it had; here the filter
                    # starts afresh, or its entries would block every later trial)
                    line_filter.reset()
            for _ in range(o.max_backtracks if new is None else 0):
                halt = limit_status(deadline)
                if halt is not None:
                    return finish(halt, use_best=True)
                try:
                    trial = ev.point(x + alpha * dx, lam + alpha * dl)
                except (ValueError, OverflowError, ZeroDivisionError, FloatingPointError):
                    trial = None
                if trial is not None and _finite_point(trial) and (
                        _merit(trial, mu, nu) <= phi0 + alpha * o.beta * gz
                        or (monotone and _monotone_progress(pt, trial, alpha, dx, o.beta))):
                    new = trial
                    break
                if monotone and trial is not None and _finite_point(trial):
                    # feasibility switch (departure): a step that cuts ||c|| tenfold below both
                    # the current one and the last switch step's is taken even when the barrier
                    # objective rises (LISWET1: the full step restores c from 2e-3 to 1e-13 next
                    # to a bound, where mu/d makes ||grad_x L||^2 1e9 and the merit refuses it).
                    # Each such step is 10x below the last and starts above 1e-8 (not the
                    # subproblem's tolerance, 10 mu = 1 in the first): finitely many.
                    th0 = float(np.linalg.norm(pt["c_raw"]))
                    th1 = float(np.linalg.norm(trial["c_raw"]))
                    if th0 > 1e-8 and th1 <= 0.1 * min(th0, switch_theta):
                        switch_theta = th1
                        new = trial
                        break
                alpha *= 0.5
            if new is None:
                reason = (f"the line search failed at iteration {k} (no Armijo step after "
                          f"{o.max_backtracks} halvings; directional derivative {gz:.3g})")
                if o.acceptable_tolerance > tol:
                    # IPOPT's acceptable level: rounding can keep a point from tolerance
                    # (1e-8); one that passes acceptable_tolerance goes to the stop test
                    acceptable_retry = reason
                    continue
                return finish_failed(reason)
            eps10 = 10 * np.finfo(float).eps
            def below_rounding(a: np.ndarray, b: np.ndarray) -> bool:
                return bool(float(np.max(np.abs(a - b), initial=0.0))
                            <= eps10 * max(1.0, float(np.max(np.abs(b), initial=0.0))))

            if below_rounding(new["x"], x) and below_rounding(new["lam"], lam):
                # the accepted step is below rounding: x and lambda stay the same, and every
                # further iteration would repeat this one (issue 22: it looped to the time limit)
                reason = (f"the line search stagnated at iteration {k} (step {alpha:.3g} leaves "
                          f"x and lambda unchanged to rounding)")
                if o.acceptable_tolerance > tol:
                    acceptable_retry = reason  # as on a failed line search above
                    continue
                return finish_failed(reason)
            if accept_step is not None:
                # a barrier subproblem updates its bound multipliers (along the Newton direction)
                accept_step(x, new["x"], dx if newton_direction else None)
            if o.multiplier_reset and m and (
                    eq_filter is None
                    or float(np.max(np.abs(ev.raw_lam(new["lam"])), initial=0.0)) > MULTIPLIER_CAP):
                # (the equality filter keeps the Newton step's multipliers, as IPOPT, unless
                # they exceed IPOPT's cap on initial multipliers, 1e3: with the reset at every
                # step it crawled on hs6 from (-1.2, 1), shifting H on 7,000 iterations; with
                # none the multipliers of LUKVLE11 (n = 998) grew 1e4-fold a step to 1e39)
                # departure: the least-squares multipliers at the new x replace the iterate's
                # when they are stationary-better (the Newton dlambda of a far step can be
                # wild: on the hanging chain it made H so indefinite that the shift went to
                # 1e4 and mu to its cap, and the run crawled). A barrier subproblem fits them
                # to its primal-dual stationarity (bound multipliers z in place of mu / d)
                g_fit = new["g"] if gradient_shift is None else \
                    new["g"] + sf * gradient_shift(new["x"])
                lam_ls = least_squares_multipliers(g_fit, new["J"])
                gl_fit = g_fit + np.asarray(new["J"].T @ lam_ls).ravel()
                gl_now = new["gl"] if gradient_shift is None else g_fit - new["g"] + new["gl"]
                if np.all(np.isfinite(lam_ls)) and float(gl_fit @ gl_fit) < float(gl_now @ gl_now):
                    new = {**new, "lam": lam_ls,
                           "gl": new["g"] + np.asarray(new["J"].T @ lam_ls).ravel()}
                    info["multiplier_resets"] = info.get("multiplier_resets", 0) + 1
            pt = new
            k += 1
            info["last_step"] = alpha
        return finish(status)

    def _escape(self, pt: dict[str, Any], v: np.ndarray, lmin: float, mu: float,
                ev: _Evaluator) -> dict[str, Any] | None:
        """A step from a saddle along the tangent eigenvector ``v`` of negative curvature
        ``lmin``: the sign that does not increase f + lam'c to first order, the first of
        alpha = 1, 1/2, ... (30 halvings) whose augmented Lagrangian f + lam'c + mu/2 ||c||^2
        drops by at least |lmin| alpha^2 / 4 (second order predicts |lmin| alpha^2 / 2)."""
        v = np.asarray(v, dtype=float)
        nv = float(np.linalg.norm(v))
        if not nv > 0:
            return None
        v = v / nv
        if float(pt["gl"] @ v) > 0:
            v = -v

        def al(p_: dict[str, Any]) -> float:
            c = p_["c"]
            return float(p_["f"] + p_["lam"] @ c + 0.5 * mu * (c @ c))

        phi0 = al(pt)
        alpha = max(1.0, float(np.max(np.abs(pt["x"]), initial=0.0)) * 0.1)
        for _ in range(30):
            halt = limit_status(self._deadline)
            if halt is not None:
                raise _Stop(halt)
            try:
                trial = ev.point(pt["x"] + alpha * v, pt["lam"])
            except (ValueError, OverflowError, ZeroDivisionError, FloatingPointError):
                trial = None
            if trial is not None and _finite_point(trial) and \
                    al(trial) <= phi0 + 0.25 * alpha ** 2 * lmin:
                return trial
            alpha *= 0.5
        return None

    # ------------------------------------------------------------------ inner solve
    def _direction(self, B: Any, J: Any, b: np.ndarray, o: ExactALOptions, rng: np.random.Generator,
                   q: int, sparse: bool, Psi: float, theta_k: float, delta: float, forcing: float,
                   sk: Any) -> tuple[np.ndarray | None, Any, str]:
        """Solve K z = b: returns (z, sketch state or None, note). ``sk``: continue that run."""
        n = B.shape[0]
        bnorm = float(np.linalg.norm(b))
        if o.sketch == "exact":
            if self._xp is not None:
                zd, note = solve_dense(self._xp, kkt_dense(self._xp, B, J, self._reg), b)
                return zd, None, note
            # the factorization of K is kept for the next solve with the same B, J and
            # regularization (the filter's second-order corrections: up to 4 a step)
            kept = self._kkt_factor
            if kept is not None and kept[0] is B and kept[1] is J and kept[2] == self._reg:
                return kept[3](b), None, ""
            if sparse:
                from solverhub.plugins.exact_al.sparse_lu import (
                    SingularMatrixError,
                    sparse_lu,
                )

                mJ = J.shape[0]
                K = sp.csc_matrix(B) if mJ == 0 else sp.bmat([[sp.csr_matrix(B), sp.csr_matrix(J).T],
                             [sp.csr_matrix(J), -self._reg * sp.identity(mJ) if self._reg else None]],
                            format="csc")
                try:
                    solve_k = sparse_lu(K, "the KKT matrix").solve
                except SingularMatrixError as exc:
                    return None, None, str(exc)
            else:
                K = np.block([[_dense(B), _dense(J).T], [_dense(J), -self._reg * np.eye(J.shape[0])]])
                if not np.all(np.isfinite(K)):
                    return None, None, "the KKT matrix is not finite"
                lu_k = DenseLU(K)
                if lu_k.zero_pivot is not None:  # np.linalg.solve's "Singular matrix"
                    return None, None, f"Singular matrix (zero pivot {lu_k.zero_pivot})"
                solve_k = lu_k.solve
            self._kkt_factor = (B, J, self._reg, solve_k)
            return solve_k(b), None, ""
        from solverhub.plugins.exact_al.sketch import make_sketch_solver

        if sk is None:
            if self._xp is not None:
                K = kkt_dense(self._xp, B, J, self._reg)
            else:
                Jd = _dense(J)
                K = np.block([[_dense(B), Jd.T], [Jd, -self._reg * np.eye(Jd.shape[0])]])
            sk = make_sketch_solver(K, b, o.sketch, rng, q, xp=self._xp, use_kernel=o.use_kernel)
        Kf = sk.k_fro()
        if o.accuracy == "paper":
            # ||K||_F Psi ||r|| <= theta delta ||b||
            tol = theta_k * delta * bnorm / (Kf * Psi)
        else:
            tol = theta_k * forcing * bnorm
        sk.run(tol, o.max_sketch_steps, self._deadline)
        del n
        return sk.solution(), sk, ""
