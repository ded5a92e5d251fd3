"""Bounds and inequalities for ``exact-al``: slacks and a log-barrier outer loop (a departure from
Hong et al. 2023, whose method takes equality constraints only; docs/exact_al.md, "Bounds and
inequalities").

The problem ``min f(x) s.t. cl <= c(x) <= cu, lb <= x <= ub`` becomes, for a barrier parameter
``mu > 0``, the equality-constrained barrier subproblem over ``v = (x, s)`` (``s``: one slack per
inequality row ``I``, ``E``: the equality rows)::

    min  f(x) - mu sum log(bounds' distances of x and s) + kappa_d mu (one-sided distances)
    s.t. c_E(x) - cl_E = 0,   c_I(x) - s = 0

which the exact augmented Lagrangian Newton method solves as it solves any equality-constrained
problem (sketched or direct solves, inertia correction, second-order check), with one change in
its line search: the fraction-to-the-boundary rule ``v + alpha dv >= (1 - tau)(v - l)``,
``tau = max(tau_min, 1 - mu)`` caps the step. The outer loop is IPOPT's monotone rule
(Waechter and Biegler 2006, section 2.1): subproblem ``mu`` solved to ``max(kappa_eps mu,
tolerance)``, then ``mu <- max(mu_min, min(kappa_mu mu, mu^theta_mu))``; the last subproblem
(``mu = mu_min``) to ``tolerance`` with the second-order check. The bound multipliers are the
primal estimates ``mu / distance`` (a primal barrier: the subproblem's Hessian holds
``mu / distance^2``, not IPOPT's primal-dual ``z / distance``). Between subproblems the point is
extrapolated along the central path (``dv/dmu`` from one solve with the KKT matrix of the solved
subproblem), which keeps a primal barrier from spending several Newton steps per decrease of
``mu`` on walking back from the boundary.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from solverhub.core.observers import Notifier
from solverhub.core.result import Result, SolutionStatus, Status, TerminationCondition
from solverhub.core.timing import deadline_of, limit_status
from solverhub.plugins.exact_al.filter_search import Filter
from solverhub.plugins.exact_al.problem import NLPEqProblem, bounded_kkt_residuals

if TYPE_CHECKING:
    from solverhub.plugins.exact_al.solver import ExactAL

__all__ = ["BarrierMap", "solve_with_barrier"]


def _push(v: np.ndarray, lo: np.ndarray, up: np.ndarray, k1: float, k2: float) -> np.ndarray:
    """IPOPT's initial push into the interior (Waechter and Biegler 2006, section 3.6):
    ``p_l = min(k1 max(1, |l|), k2 (u - l))`` from each finite bound."""
    v = v.copy()
    width = np.where(np.isfinite(lo) & np.isfinite(up), up - lo, np.inf)
    pl = np.minimum(k1 * np.maximum(1.0, np.abs(lo)), k2 * width)
    pu = np.minimum(k1 * np.maximum(1.0, np.abs(up)), k2 * width)
    with np.errstate(invalid="ignore"):
        v = np.where(np.isfinite(lo), np.maximum(v, lo + pl), v)
        v = np.where(np.isfinite(up), np.minimum(v, up - pu), v)
    return v


class _RestorationStopped(Exception):
    """The time limit or Ctrl-C inside the feasibility restoration."""


class _Memo:
    """The problem with its last evaluations at a point remembered (objective, gradient,
    constraints, Jacobian): a barrier subproblem starts where the last ended, the extrapolation,
    the violation test and the multipliers' recovery evaluate where the solver already has; slow
    problem files (S2MPJ: 0.05-0.7 s per evaluation at n = 150) pay each once."""

    def __init__(self, problem: NLPEqProblem) -> None:
        self._p = problem
        self._last: dict[str, tuple[bytes, Any]] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._p, name)

    def _get(self, what: str, x: np.ndarray) -> Any:
        key = np.ascontiguousarray(x, dtype=float).tobytes()
        hit = self._last.get(what)
        if hit is not None and hit[0] == key:
            val = hit[1]
        else:
            val = getattr(self._p, what)(x)
            self._last[what] = (key, val)
        return val.copy() if isinstance(val, np.ndarray) else val

    def objective(self, x: np.ndarray) -> float:
        return float(self._get("objective", x))

    def gradient(self, x: np.ndarray) -> np.ndarray:
        return self._get("gradient", x)

    def constraints(self, x: np.ndarray) -> np.ndarray:
        return self._get("constraints", x)

    def jacobian(self, x: np.ndarray) -> Any:
        return self._get("jacobian", x)


class BarrierMap:
    """The barrier reformulation of a bounded/inequality-constrained :class:`NLPEqProblem`: the
    subproblem at a given ``mu`` (:meth:`subproblem`), and the way back (``x`` of ``v``, the
    problem's multipliers of the subproblem's)."""

    def __init__(self, problem: NLPEqProblem, kappa_d: float = 1e-5) -> None:
        self.problem = problem
        self.p: Any = _Memo(problem)
        self.n = problem.n
        lb, ub = problem.bounds()
        cl, cu = problem.constraint_bounds()
        self.E = problem.equality_rows
        self.I = np.flatnonzero(cl != cu)
        self.mE, self.mI = self.E.size, self.I.size
        self.m = problem.m
        self.cl_E = cl[self.E]
        # fixed variables (lb == ub) are constants: no interior to push into (IPOPT's
        # fixed_variable_treatment=make_parameter); v = (x[free], s)
        self.free = np.flatnonzero(lb < ub)
        self.fixed = np.flatnonzero(lb == ub)
        self.nx = self.free.size
        self.x_fixed = lb[self.fixed]
        # the bounds of v
        self.lo = np.concatenate([lb[self.free], cl[self.I]])
        self.up = np.concatenate([ub[self.free], cu[self.I]])
        self.has_lo = np.isfinite(self.lo)
        self.has_up = np.isfinite(self.up)
        self.lo_only = self.has_lo & ~self.has_up
        self.up_only = self.has_up & ~self.has_lo
        self.kappa_d = kappa_d
        self.N = self.nx + self.mI
        # small subproblems are dense: SciPy's sparse constructors cost more than the linear
        # algebra there (S2MPJ HS118, n + m = 32: 0.9 s of 3.2 s in csr_matrix.__init__)
        self.small = self.N + self.m <= 300
        self.mu = 0.1
        self.tau = 0.99
        self._viol_hist: list[tuple[float, float]] = []  # (violation, barrier objective)
        self._h_scale = 1.0
        self._h_cache: tuple[Any, Any] | None = None
        self.primal_dual = True
        self.deadline = math.inf
        self.scaling: tuple[float, np.ndarray | None] | None = None
        self.scaling_max_gradient: float | None = None
        self.z_lo: np.ndarray | None = None
        self.z_up: np.ndarray | None = None
        self.line_filter: Filter | None = None
        self._stall_hist: list[tuple[float, float, float]] = []

    # ---------------------------------------------------------------- maps
    def x_of(self, v: np.ndarray) -> np.ndarray:
        """The problem's ``x`` (all ``n`` entries) of a subproblem point ``v``."""
        if not self.fixed.size:
            return v[:self.nx].copy()
        x = np.empty(self.n)
        x[self.free] = v[:self.nx]
        x[self.fixed] = self.x_fixed
        return x

    def point_of(self, x: np.ndarray, k1: float, k2: float) -> np.ndarray:
        """``v`` of ``x``: the free entries and the slacks ``c_I(x)``, pushed inside the bounds."""
        xf = _push(x[self.free], self.lo[:self.nx], self.up[:self.nx], k1, k2)
        v = np.concatenate([xf, np.zeros(self.mI)])
        if self.mI:
            s = self.p.constraints(self.x_of(v))[self.I]
            v[self.nx:] = _push(s, self.lo[self.nx:], self.up[self.nx:], k1, k2)
        return v

    def initial_point(self, k1: float, k2: float) -> np.ndarray:
        return self.point_of(self.p.x0, k1, k2)

    def full_multipliers(self, lam_b: np.ndarray) -> np.ndarray:
        """The problem's row multipliers (``m``, original order) of the subproblem's."""
        lam = np.zeros(self.m)
        lam[self.E] = lam_b[:self.mE]
        lam[self.I] = lam_b[self.mE:]
        return lam

    def sub_multipliers(self, lam: np.ndarray) -> np.ndarray:
        return np.concatenate([lam[self.E], lam[self.I]])

    def distances(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with np.errstate(invalid="ignore"):
            return (np.where(self.has_lo, v - self.lo, np.inf),
                    np.where(self.has_up, self.up - v, np.inf))

    def bound_multipliers(self, v: np.ndarray, lam: np.ndarray | None) -> np.ndarray:
        """``z`` of ``lb <= x <= ub`` in ``L = f + lam'c + z'x``: ``z_up - z_lo`` of the
        primal-dual iterates (primal estimates ``mu / distance`` without them); a fixed
        variable's from stationarity, ``-(grad f + J'lam)``."""
        z = np.zeros(self.n)
        nx = self.nx
        if self.z_lo is not None and self.z_up is not None:
            z[self.free] = self.z_up[:nx] - self.z_lo[:nx]
        else:
            dl, du = self.distances(v)
            z[self.free] = self.mu / du[:nx] - self.mu / dl[:nx]
        if self.fixed.size:
            x = self.x_of(v)
            g = self.p.gradient(x)
            if lam is not None and self.m:
                g = g + np.asarray(self.p.jacobian(x).T @ lam).ravel()
            z[self.fixed] = -g[self.fixed]
        return z

    # ---------------------------------------------------------------- the subproblem
    def _inside(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dl, du = self.distances(v)
        if np.any(dl <= 0) or np.any(du <= 0):
            # the line search treats this as an evaluation failure and halves the step
            raise ValueError("outside the barrier's domain")
        return dl, du

    def _barrier(self, v: np.ndarray) -> float:
        dl, du = self._inside(v)
        mu = self.mu
        val = -mu * (float(np.sum(np.log(dl[self.has_lo]))) + float(np.sum(np.log(du[self.has_up]))))
        return val + self.kappa_d * mu * (float(np.sum(dl[self.lo_only])) + float(np.sum(du[self.up_only])))

    def _barrier_grad(self, v: np.ndarray) -> np.ndarray:
        dl, du = self._inside(v)
        mu = self.mu
        return -mu / dl + mu / du + self.kappa_d * mu * (self.lo_only.astype(float)
                                                         - self.up_only.astype(float))

    def _barrier_diag(self, v: np.ndarray) -> np.ndarray:
        dl, du = self._inside(v)
        return self.mu / dl ** 2 + self.mu / du ** 2

    def dgrad_dmu(self, v: np.ndarray) -> np.ndarray:
        """d/dmu of the subproblem's objective gradient (for the extrapolation)."""
        return self._barrier_grad(v) / self.mu

    def f(self, v: np.ndarray) -> float:
        b = self._barrier(v)  # first: outside the domain raises before the problem is evaluated
        return self.p.objective(self.x_of(v)) + b

    def grad(self, v: np.ndarray) -> np.ndarray:
        g = self._barrier_grad(v)
        g[:self.nx] += self.p.gradient(self.x_of(v))[self.free]
        return g

    def c(self, v: np.ndarray) -> np.ndarray:
        cx = self.p.constraints(self.x_of(v))
        return np.concatenate([cx[self.E] - self.cl_E, cx[self.I] - v[self.nx:]])

    def _cols(self, A: Any) -> Any:
        if not self.fixed.size:
            return A
        return sp.csr_matrix(A)[:, self.free] if sp.issparse(A) else np.asarray(A)[:, self.free]

    def jac(self, v: np.ndarray) -> Any:
        J = self._cols(self.p.jacobian(self.x_of(v)))
        if sp.issparse(J) and self.small:
            J = J.toarray()
        if sp.issparse(J):
            J = sp.csr_matrix(J)
            top = J[self.E]
            if not self.mI:
                return top
            bottom = sp.hstack([J[self.I], -sp.identity(self.mI, format="csr")])
            return sp.vstack([sp.hstack([top, sp.csr_matrix((self.mE, self.mI))]), bottom]).tocsr()
        J = np.asarray(J)
        out = np.zeros((self.m, self.N))
        out[:self.mE, :self.nx] = J[self.E]
        out[self.mE:, :self.nx] = J[self.I]
        out[self.mE:, self.nx:] = -np.eye(self.mI)
        return out

    def _with_diag(self, H: Any, v: np.ndarray, d: np.ndarray | None = None) -> Any:
        if d is None:
            d = self._barrier_diag(v)
        if sp.issparse(H) and self.small:
            H = H.toarray()
        if sp.issparse(H):
            Hb = sp.block_diag([sp.csr_matrix(H), sp.csr_matrix((self.mI, self.mI))], format="csr") \
                if self.mI else sp.csr_matrix(H)
            return (Hb + sp.diags(d)).tocsr()
        Hb = np.zeros((self.N, self.N))
        Hb[:self.nx, :self.nx] = H
        Hb[np.diag_indices(self.N)] += d
        return Hb

    def hess(self, v: np.ndarray, lam_b: np.ndarray) -> Any:
        return self._with_diag(self._problem_hess(v, lam_b), v)

    def _problem_hess(self, v: np.ndarray, lam_b: np.ndarray) -> Any:
        # one evaluation per point: the iteration asks for the exact Hessian (the merit's) and
        # the Newton matrix's at the same (x, lam) (an S2MPJ Hessian took 0.66 s at n = 150)
        key = (v[:self.nx].tobytes(), np.asarray(lam_b, dtype=float).tobytes())
        if self._h_cache is not None and self._h_cache[0] == key:
            return self._h_cache[1]
        H = self.p.lagrangian_hessian(self.x_of(v), self.full_multipliers(lam_b))
        if self.fixed.size:
            H = sp.csr_matrix(H)[self.free][:, self.free] if sp.issparse(H) else \
                np.asarray(H)[np.ix_(self.free, self.free)]
        self._h_cache = (key, H)
        # the scale of the problem's own Hessian: the inertia test judges zero pivots against
        # it, not against the barrier's mu / distance^2
        Hd = H.data if sp.issparse(H) else H
        self._h_scale = max(float(np.max(np.abs(Hd), initial=0.0)), 1.0)
        return H

    def inertia_scale(self) -> float:
        return self._h_scale

    # ---------------------------------------------------------------- primal-dual block
    #: the bound multipliers' start: None for the central-path value ``mu / distance``, a number
    #: for that constant (IPOPT's bound_mult_init_val = 1; option barrier_bound_mult_init)
    z_init: float | None = None

    def init_bound_multipliers(self, v: np.ndarray) -> None:
        dl, du = self.distances(v)
        if self.z_init is None:
            self.z_lo = np.where(self.has_lo, self.mu / dl, 0.0)
            self.z_up = np.where(self.has_up, self.mu / du, 0.0)
        else:
            self.z_lo = np.where(self.has_lo, self.z_init, 0.0)
            self.z_up = np.where(self.has_up, self.z_init, 0.0)

    def _safeguard(self, z: np.ndarray, d: np.ndarray, has: np.ndarray) -> np.ndarray:
        # IPOPT's safeguard (eq. 16): z within [mu / (kappa_sigma d), kappa_sigma mu / d]
        with np.errstate(divide="ignore", invalid="ignore"):
            lo, up = self.mu / (1e10 * d), 1e10 * self.mu / d
            return np.where(has, np.clip(z, lo, up), 0.0)

    def newton_hess(self, v: np.ndarray, lam_b: np.ndarray) -> Any:
        """The Newton matrix's Hessian: the problem's, plus the primal-dual barrier block
        ``z / distance`` (IPOPT's Sigma) in place of the primal ``mu / distance^2``."""
        assert self.z_lo is not None and self.z_up is not None
        H = self._problem_hess(v, lam_b)
        dl, du = self._inside(v)
        d = np.where(self.has_lo, self.z_lo / dl, 0.0) + np.where(self.has_up, self.z_up / du, 0.0)
        return self._with_diag(H, v, d)

    def accept_step(self, v_old: np.ndarray, v_new: np.ndarray,
                    direction: np.ndarray | None = None) -> None:
        """The bound multipliers' step after the line search accepted ``v_new``: IPOPT's
        (Waechter and Biegler 2006, eqs. 11 and 15) with the Newton ``direction`` of ``v``,
        ``dz = mu / d - z - (z / d) dv``, taken as far as the fraction to the boundary allows
        (its own step, not the primal one), then IPOPT's safeguard. Before, ``dz`` was linearised
        along the step taken, ``v_new - v_old``: after a step cut short by the fraction to the
        boundary ``z`` kept most of its old error, and next to a bound the correction that
        stationarity asks for can need a change of ``d`` below the rounding of ``v`` (S2MPJ
        HS118 at ``mu`` = 2.5e-9: ``d`` = 8.5e-10, ``z / d`` = 3.4e9, a step of 6e-16 at
        ``|x|`` = 10), lost in the difference. On the inequality tuning set: 456 Newton
        iterations -> 347, LUKVLI13 137 -> 57. Without a direction (a step that is not the
        Newton one): along the step taken."""
        assert self.z_lo is not None and self.z_up is not None
        dl, du = self.distances(v_old)
        dv = v_new - v_old if direction is None else direction
        out = []
        for z, d, has, sgn in ((self.z_lo, dl, self.has_lo, 1.0), (self.z_up, du, self.has_up, -1.0)):
            with np.errstate(divide="ignore", invalid="ignore"):
                dz = np.where(has, self.mu / d - z - (z / d) * (sgn * dv), 0.0)
            a = 1.0
            neg = has & (dz < 0)
            if np.any(neg):
                a = min(a, float(np.min(-self.tau * z[neg] / dz[neg])))
            out.append(z + a * dz)
        nl, nu_ = self.distances(v_new)
        self.z_lo = self._safeguard(out[0], nl, self.has_lo)
        self.z_up = self._safeguard(out[1], nu_, self.has_up)

    def gradient_shift(self, v: np.ndarray) -> np.ndarray:
        """``(mu / d_lo - z_lo) - (mu / d_up - z_up)``: what turns the subproblem's gradient
        (the primal barrier's ``-mu / d_lo + mu / d_up``) into the primal-dual stationarity's
        ``-z_lo + z_up`` (the multiplier reset fits the rows' multipliers to the latter)."""
        assert self.z_lo is not None and self.z_up is not None
        dl, du = self.distances(v)
        with np.errstate(divide="ignore", invalid="ignore"):
            lo = np.where(self.has_lo, self.mu / dl - self.z_lo, 0.0)
            up = np.where(self.has_up, self.mu / du - self.z_up, 0.0)
        return lo - up

    def subproblem_stop(self, v: np.ndarray, lam_b: np.ndarray, kkt_sub: float) -> str:
        """The inner solver's early stop of a barrier subproblem: ``"overall_stop"`` when the
        point passes the problem's own optimality test (:meth:`overall_optimal`),
        ``"barrier_stop"`` when the primal-dual error of the subproblem (:meth:`barrier_error`)
        is within its tolerance, ``"stalled_stop"`` when the subproblem's KKT residual
        ``kkt_sub`` has not fallen by 10 % over 10 iterations at a feasible point whose
        objective moved by less than 1e-10 (relative): rounding (S2MPJ HS84, f = -5.3e6: 300
        iterations at 0.1647), not progress; else ``""``."""
        if self.overall_optimal(v, lam_b):
            return "overall_stop"
        if self.primal_dual and self.barrier_error(v, lam_b) <= self.inner_tolerance:
            return "barrier_stop"
        x = self.x_of(v)
        hist = self._stall_hist
        hist.append((kkt_sub, self.p.objective(x), float(np.linalg.norm(self.c(v)))))
        if len(hist) <= 10:
            return ""
        k0, f0, _ = hist[-11]
        k1, f1, c1 = hist[-1]
        if c1 <= self.tolerance and min(h[0] for h in hist[-10:]) >= 0.9 * k0 \
                and abs(f1 - f0) <= 1e-10 * max(1.0, abs(f0)):
            return "stalled_stop"
        return ""

    def overall_optimal(self, v: np.ndarray, lam_b: np.ndarray) -> bool:
        """IPOPT's overall optimality error E_0 (Waechter and Biegler 2006, eq. 5 with mu = 0)
        of the problem itself at ``v`` with the iterate's multipliers, unscaled, at most the
        tolerance: stationarity ``grad f + J'lam - z_lo + z_up`` (slacks: ``-lam_I - z_lo +
        z_up``), the violation ``c_sub`` and the complementarity ``z d`` (without bound
        multipliers of their own: ``mu / d``). A point a subproblem cannot improve to its own
        tolerance (HS83: the primal barrier's ``mu / d`` at ``mu = 2.5e-9`` left 5e-2 in
        rounding) may already pass it. Also required: the duality gap ``sum z d`` (what the
        barrier leaves in the objective, about ``mu`` per active bound) at most
        ``GAP_REL max(1, |f|)``, as the last subproblem (``mu_min``) would leave it."""
        dl, du = self.distances(v)
        zl, zu = self._bound_multiplier_estimates(dl, du)
        x = self.x_of(v)
        if not self.gap_closed(v):
            return False
        cs = self.c(v)
        viol = float(np.linalg.norm(cs))
        if viol > self.tolerance:
            return False
        lam = self.full_multipliers(lam_b)
        st = zu - zl
        st[:self.nx] += (self.p.gradient(x) + np.asarray(self.p.jacobian(x).T @ lam).ravel())[self.free]
        st[self.nx:] -= lam_b[self.mE:]
        with np.errstate(invalid="ignore"):
            comp = np.concatenate([np.where(self.has_lo, zl * dl, 0.0),
                                   np.where(self.has_up, zu * du, 0.0)])
        err = math.sqrt(float(st @ st) + viol ** 2 + float(comp @ comp))
        return err <= self.tolerance

    #: the tolerance of the subproblem being solved (max(kappa_eps mu, tolerance))
    inner_tolerance = 0.0

    def barrier_error(self, v: np.ndarray, lam_b: np.ndarray) -> float:
        """IPOPT's optimality error ``E_mu`` of the barrier subproblem (Waechter and Biegler
        2006, eq. 5, in the 2-norm and unscaled as the solver's own KKT test) with the bound
        multipliers ``z`` of the primal-dual iterates: stationarity ``grad f + J'lam - z_lo +
        z_up`` (with the damping of one-sided bounds), the violation and the perturbed
        complementarity ``z d - mu``. The subproblem's own residual has the primal ``mu / d`` in
        place of ``z``: near an active bound ``d`` carries the rounding of ``x`` (1e-14 at
        ``|x|`` = 100) and ``mu / d`` a relative error of ``1e-14 / d``, where ``z d - mu`` has
        the absolute error ``z 1e-14``; far from the central path ``z d - mu`` weighs a bound's
        error by its distance, not by ``1 / d``. Either test ends a subproblem."""
        dl, du = self.distances(v)
        zl, zu = self._bound_multiplier_estimates(dl, du)
        x = self.x_of(v)
        mu = self.mu
        st = zu - zl + self.kappa_d * mu * (self.lo_only.astype(float) - self.up_only.astype(float))
        g = self.p.gradient(x)
        if self.m:
            g = g + np.asarray(self.p.jacobian(x).T @ self.full_multipliers(lam_b)).ravel()
        st[:self.nx] += g[self.free]
        st[self.nx:] -= lam_b[self.mE:]
        with np.errstate(invalid="ignore"):
            comp = np.concatenate([np.where(self.has_lo, zl * dl - mu, 0.0),
                                   np.where(self.has_up, zu * du - mu, 0.0)])
        viol = float(np.linalg.norm(self.c(v))) if self.m else 0.0
        return math.sqrt(float(st @ st) + viol ** 2 + float(comp @ comp))

    def _bound_multiplier_estimates(self, dl: np.ndarray, du: np.ndarray
                                    ) -> tuple[np.ndarray, np.ndarray]:
        if self.z_lo is not None and self.z_up is not None:
            return self.z_lo, self.z_up
        with np.errstate(divide="ignore"):
            return np.where(self.has_lo, self.mu / dl, 0.0), np.where(self.has_up, self.mu / du, 0.0)

    #: an early stop's duality gap, relative to max(1, |f|)
    GAP_REL = 1e-8

    def gap_closed(self, v: np.ndarray) -> bool:
        """``sum z d <= GAP_REL max(1, |f(x)|)``: the barrier's objective error is negligible."""
        dl, du = self.distances(v)
        zl, zu = self._bound_multiplier_estimates(dl, du)
        with np.errstate(invalid="ignore"):
            gap = float(np.sum(np.where(self.has_lo, zl * dl, 0.0))
                        + np.sum(np.where(self.has_up, zu * du, 0.0)))
        return gap <= self.GAP_REL * max(1.0, abs(self.p.objective(self.x_of(v))))

    def obj_hess(self, v: np.ndarray) -> Any:
        H = self.p.objective_hessian(self.x_of(v))
        if self.fixed.size:
            H = sp.csr_matrix(H)[self.free][:, self.free] if sp.issparse(H) else \
                np.asarray(H)[np.ix_(self.free, self.free)]
        return self._with_diag(H, v)

    def max_step(self, v: np.ndarray, dv: np.ndarray) -> float:
        """Fraction to the boundary: the largest ``alpha <= 1`` with ``v + alpha dv`` at least
        ``(1 - tau)`` of the way from each bound it had."""
        dl, du = self.distances(v)
        a = 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            dn = (dv < 0) & self.has_lo
            if np.any(dn):
                a = min(a, float(np.min(-self.tau * dl[dn] / dv[dn])))
            up = (dv > 0) & self.has_up
            if np.any(up):
                a = min(a, float(np.min(self.tau * du[up] / dv[up])))
        return a

    def subproblem(self, mu: float, v0: np.ndarray, lam0: np.ndarray | None,
                   tau_min: float, tolerance: float = 0.0) -> NLPEqProblem:
        """The barrier subproblem at ``mu`` from ``(v0, lam0)``, to be solved to ``tolerance``
        (its primal-dual error, :meth:`barrier_error`; 0: the solver's own test only)."""
        self.mu = mu
        self.inner_tolerance = tolerance
        self.tau = max(tau_min, 1.0 - mu)
        sub = NLPEqProblem(self.f, self.grad, self.c, self.jac, v0, hess=self.hess,
                           obj_hess=self.obj_hess, lam0=lam0, name=f"{self.p.name} (barrier mu={mu:.3g})",
                           source=self.p.source, derivative_check=False)
        # validated once as the problem it came from: no evaluations at each subproblem's start
        sub._validated_x0 = sub.x0.copy()
        sub._m = self.m
        if self.scaling is None and self.scaling_max_gradient is not None:
            from solverhub.plugins.exact_al.solver import gradient_scaling

            self.scaling = gradient_scaling(sub, self.scaling_max_gradient)
        sub.gradient_scaling = self.scaling  # type: ignore[attr-defined]  # IPOPT: once, at the start
        sub.max_step = self.max_step  # type: ignore[attr-defined]  # read by the line search
        sub.locally_infeasible_at = self._infeasible_at  # type: ignore[attr-defined]
        sub.subproblem_stop = self.subproblem_stop  # type: ignore[attr-defined]
        self._stall_hist = []
        self._viol_hist = []  # the barrier objective is not comparable across mu
        sub.inertia_scale = self.inertia_scale  # type: ignore[attr-defined]  # the inertia test's
        # a fresh filter per barrier parameter, as IPOPT's (read by the line search)
        self.line_filter = Filter()
        sub.line_filter = self.line_filter  # type: ignore[attr-defined]
        if self.primal_dual:
            if self.z_lo is None:
                self.init_bound_multipliers(v0)
            sub.newton_hessian = self.newton_hess  # type: ignore[attr-defined]
            sub.accept_step = self.accept_step  # type: ignore[attr-defined]
            sub.gradient_shift = self.gradient_shift  # type: ignore[attr-defined]
        return sub

    # ---------------------------------------------------------------- infeasibility
    tolerance = 1e-4
    infeasibility_tol = 1e-6
    #: the least-violation point of a confirmed local infeasibility (restoration's answer)
    restoration_x: np.ndarray | None = None
    #: a feasible point restoration found inside a subproblem: the barrier loop restarts there
    restart_x: np.ndarray | None = None
    restarts = 0
    restoration_note = ""

    def violation(self, x: np.ndarray) -> np.ndarray:
        """``r = c(x) - clip(c(x), cl, cu)`` (zero where the constraints hold)."""
        cx = self.p.constraints(x)
        cl, cu = self.p.constraint_bounds()
        return cx - np.clip(cx, cl, cu)

    def _violation_jac(self, x: np.ndarray) -> Any:
        cx = self.p.constraints(x)
        cl, cu = self.p.constraint_bounds()
        out = ((cx < cl) | (cx > cu) | (cl == cu)).astype(float)
        J = self.p.jacobian(x)
        return (sp.diags(out) @ J).tocsr() if sp.issparse(J) else out[:, None] * np.asarray(J)

    def restoration(self, x: np.ndarray) -> tuple[np.ndarray, float, float]:
        """Feasibility restoration: ``min ||r(x)||^2 / 2`` on ``lb <= x <= ub`` (SciPy's
        ``least_squares``, trust-region reflective) from ``x``; returns the point, ``||r||`` and
        the first-order optimality there (the projected gradient's inf-norm)."""
        from scipy.optimize import least_squares

        lb, ub = self.p.bounds()
        x0 = np.clip(x, lb, ub)
        free = self.free

        def full(xf: np.ndarray) -> np.ndarray:
            xx = x0.copy()
            xx[free] = xf
            return xx

        sparse = sp.issparse(self.p.jacobian(x0))
        best: list[Any] = [x0[free].copy(), math.inf]

        def fun(xf: np.ndarray) -> np.ndarray:
            # least_squares has no stop hook: the time limit and Ctrl-C end it from here (a
            # restoration on S2MPJ LUKVLI2 ran 15 s past a 30 s limit)
            if limit_status(self.deadline) is not None:
                raise _RestorationStopped
            r = self.violation(full(xf))
            rn = float(np.linalg.norm(r))
            if rn < best[1]:
                best[0], best[1] = xf.copy(), rn
            return r

        try:
            sol = least_squares(fun, x0[free],
                                jac=lambda xf: self._cols(self._violation_jac(full(xf))),
                                bounds=(lb[free], ub[free]), method="trf",
                                tr_solver="lsmr" if sparse else "exact", x_scale="jac",
                                ftol=1e-12, xtol=1e-12, gtol=1e-12, max_nfev=200 + 10 * self.nx)
        except _RestorationStopped:
            # stopped: the least violation seen, with no optimality claim
            return full(best[0]), float(best[1]), math.inf
        xr = full(sol.x)
        rr = float(np.linalg.norm(sol.fun))
        # first-order optimality of min ||r||^2 / 2 on the box relative to ||J|| ||r||
        J = self._cols(self._violation_jac(xr))
        jf = float(sp.linalg.norm(J)) if sp.issparse(J) else float(np.linalg.norm(J))
        return xr, rr, float(sol.optimality) / max(max(1.0, jf) * rr, 1e-300)

    def confirms_infeasibility(self, rr: float, rel_opt: float) -> bool:
        """A restoration's answer is a local infeasibility: violation above the tolerance at a
        stationary point of ``||r||^2`` on the bounds (relative optimality below
        ``infeasibility_tol``)."""
        return rr > self.tolerance and rel_opt <= self.infeasibility_tol

    def _infeasible_at(self, v: np.ndarray, c_sub: np.ndarray | None = None) -> tuple[bool, str]:
        """The inner solver's infeasibility test on a barrier subproblem: once the original
        violation has stalled (less than 1 % down over 10 iterations of one subproblem, the
        barrier objective not down either), one restoration; a
        least-violation point with ``||r|| > tolerance`` confirms local infeasibility."""
        if self.restoration_x is not None:
            return True, self.restoration_note
        if self.restart_x is not None:
            return True, "feasibility restoration reached a feasible point: restart from it"
        x = self.x_of(v)
        if c_sub is not None:
            # the violation from the subproblem's residuals (no evaluation): equality rows as
            # they are, inequality rows c_I = (c_I - s) + s against [cl_I, cu_I]
            cI = c_sub[self.mE:] + v[self.nx:]
            rI = cI - np.clip(cI, self.lo[self.nx:], self.up[self.nx:])
            rn = math.hypot(float(np.linalg.norm(c_sub[:self.mE])), float(np.linalg.norm(rI)))
        else:
            rn = float(np.linalg.norm(self.violation(x)))
        hist = self._viol_hist
        phi = self.f(v)
        hist.append((rn, phi))
        if rn <= self.tolerance or len(hist) < 10 or rn < 0.99 * hist[-10][0]:
            return False, ""
        if phi < hist[-10][1] - 1e-6 * max(1.0, abs(hist[-10][1])):
            # the barrier objective still falls: the filter's steps trade violation for it
            # (S2MPJ HS116: ||c|| from 0.16 up to 3.9 and back while phi fell 167 -> 101), which
            # is progress, not a stall; a restoration there cost 330 evaluations for nothing
            return False, ""
        hist.clear()  # the next restoration after another 10 stalled iterations
        xr, rr, opt = self.restoration(x)
        if rr <= self.tolerance and self.restarts < 3:
            # restoration reached a feasible point: the subproblem ends here and the barrier
            # loop restarts it from that point (S2MPJ HS109: the violation fell 0.05 % per 10
            # iterations from 5e4, 30 s)
            self.restart_x = xr
            self.restarts += 1
            return True, "feasibility restoration reached a feasible point: restart from it"
        if self.confirms_infeasibility(rr, opt):
            self.restoration_x = xr
            self.restoration_note = (f"locally infeasible: feasibility restoration (min "
                                     f"||violation||^2 on the bounds) ends at ||violation|| = "
                                     f"{rr:.3g}, relative first-order optimality {opt:.3g}")
            return True, self.restoration_note
        return False, ""

    # ---------------------------------------------------------------- second order
    last_hessian_norm = 1.0

    def active_set_curvature(self, v: np.ndarray, lam_b: np.ndarray, deadline: float
                             ) -> tuple[float | None, str]:
        """The second-order check at the barrier's solution on the problem itself:
        ``lambda_min`` of the Hessian of the Lagrangian on the null space of the equality rows
        and the active inequality rows, over the variables not at an active bound (active: the
        bound multiplier larger than the distance, ``z > d``; a row: its slack's). The barrier
        subproblem's own reduced Hessian holds ``mu / d^2`` (1e9 at mu = 1e-9), whose spread
        kept Lanczos busy for 100 s on a box-constrained QP at n = 3000."""
        from solverhub.plugins.exact_al.solver import reduced_hessian_lambda_min

        x = self.x_of(v)
        lam = self.full_multipliers(lam_b)
        dl, du = self.distances(v)
        if self.z_lo is not None and self.z_up is not None:
            zl, zu = self.z_lo, self.z_up
        else:
            zl, zu = self.mu / dl, self.mu / du
        at_bound = (self.has_lo & (zl > dl)) | (self.has_up & (zu > du))
        keep = np.flatnonzero(~at_bound[:self.nx])       # positions among the free variables
        cols = self.free[keep]
        rows = np.concatenate([self.E, self.I[at_bound[self.nx:]]])
        if cols.size == 0:
            return math.inf, "no free variable"
        H = self.p.lagrangian_hessian(x, lam)
        J = self.p.jacobian(x)
        if sp.issparse(H):
            H = sp.csr_matrix(H)[cols][:, cols]
        else:
            H = np.asarray(H)[np.ix_(cols, cols)]
        J = (sp.csr_matrix(J)[rows][:, cols] if sp.issparse(J) else np.asarray(J)[np.ix_(rows, cols)]) \
            if rows.size else np.zeros((0, cols.size))
        self.last_hessian_norm = float(sp.linalg.norm(H)) if sp.issparse(H) else float(np.linalg.norm(H))
        if rows.size >= cols.size:
            return math.inf, "active set of full dimension"
        lmin, _, how = reduced_hessian_lambda_min(H, J, deadline)
        return lmin, f"{how} on the active set ({int(np.sum(at_bound))} active bounds/rows)"

    # ---------------------------------------------------------------- extrapolation
    def extrapolate(self, v: np.ndarray, lam_b: np.ndarray, mu_old: float, mu_new: float
                    ) -> tuple[np.ndarray, np.ndarray]:
        """The solved subproblem's point moved along the central path to ``mu_new``: ``dv/dmu``
        from ``K d(v, lam)/dmu = -(d grad/dmu, 0)`` with the KKT matrix of the solved
        subproblem (first-order; kept inside the bounds by the fraction-to-the-boundary rule).
        On a singular or non-finite solve the point is returned unchanged."""
        H = self.hess(v, lam_b)
        G = self.jac(v)
        rhs = -np.concatenate([self.dgrad_dmu(v), np.zeros(self.m)])
        try:
            if sp.issparse(H) or sp.issparse(G):
                from solverhub.plugins.exact_al.sparse_lu import sparse_lu

                K = sp.bmat([[sp.csr_matrix(H), sp.csr_matrix(G).T],
                             [sp.csr_matrix(G), None]], format="csc") if self.m else sp.csc_matrix(H)
                d = sparse_lu(K, "the KKT matrix").solve(rhs)
            else:
                Gd = np.asarray(G)
                K = np.block([[H, Gd.T], [Gd, np.zeros((self.m, self.m))]]) if self.m else H
                d = np.linalg.solve(K, rhs)
        except Exception:  # a singular K (SingularMatrixError, LinAlgError): no extrapolation
            return v, lam_b
        if not np.all(np.isfinite(d)):
            return v, lam_b
        step = (mu_new - mu_old) * d
        dv = step[:self.N]
        self.tau = max(0.99, 1.0 - mu_new)
        a = self.max_step(v, dv)
        return v + a * dv, lam_b + a * step[self.N:]


def solve_with_barrier(solver: ExactAL, problem: NLPEqProblem, time_limit: float | None,
                       seed: int, notifier: Notifier, t0: float) -> Result:
    """The barrier outer loop (see the module docstring) around ``solver``'s equality-constrained
    method; ``problem`` is validated."""
    from solverhub.plugins.exact_al.solver import ExactAL, _Stop

    o = solver.options
    deadline = deadline_of(t0, time_limit)
    bm = BarrierMap(problem, kappa_d=o.barrier_kappa_d)
    bm.primal_dual = o.barrier_primal_dual
    bm.z_init = 1.0 if o.barrier_bound_mult_init == "constant" else None
    bm.deadline = deadline
    bm.scaling_max_gradient = o.scaling_max_gradient if o.scaling == "gradient" else None
    # the stopping tolerance of this path: barrier_tolerance (1e-4) unless tolerance is larger
    tol = max(o.tolerance, o.barrier_tolerance)
    bm.tolerance, bm.infeasibility_tol = tol, o.barrier_infeasibility_tol
    v = bm.initial_point(o.bound_push, o.bound_frac)
    lam_b = None if problem.lam0 is None else bm.sub_multipliers(problem.lam0)
    mu = o.barrier_mu0
    mu_min = min(o.barrier_mu_min, mu)
    iterations = 0
    subproblems = 0
    restorations = 0
    trajectory: list[tuple[float, float]] = []
    info: dict[str, Any] = {"local": True, "preset": o.preset, "barrier": True,
                            "slacks": bm.mI, "fixed_variables": int(bm.fixed.size),
                            "bounded_variables": int(np.sum(bm.has_lo[:bm.nx] | bm.has_up[:bm.nx]))}
    evaluations = {"objective": 0, "gradient": 0, "hessian": 0}
    best_x: np.ndarray | None = None
    best_f = math.inf

    def finish(status: Status | None, x: np.ndarray | None, lam_b_: np.ndarray | None, mu_: float,
               err: str | None = None, termination: TerminationCondition | None = None,
               solution_status: SolutionStatus | None = None) -> Result:
        info.update({"barrier_mu": mu_, "barrier_subproblems": subproblems,
                     "evaluations": evaluations})
        if x is not None:
            res = bounded_kkt_residuals(bm.p, x)
            info.update({"kkt_residual": res["kkt_residual"],
                         "constraint_violation": res["constraint_violation"],
                         "complementarity": res["complementarity"]})
            lam_full = None if lam_b_ is None else bm.full_multipliers(lam_b_)
            if lam_full is not None and problem.m <= 5000:
                info["multipliers"] = lam_full.tolist()
            if problem.n <= 5000 and status != Status.INFEASIBLE:
                info["bound_multipliers"] = bm.bound_multipliers(v, lam_full).tolist()
        runtime = time.perf_counter() - t0
        if status == Status.ERROR or x is None:
            return Result(Status.ERROR if status is None else status, runtime=runtime,
                          iterations=iterations, error=err, trajectory=trajectory, info=info)
        fx = bm.p.objective(x)
        cv = info["constraint_violation"]
        sol = solution_status or (SolutionStatus.OPTIMAL if status == Status.OPTIMAL else
                                  SolutionStatus.FEASIBLE if cv <= tol else
                                  SolutionStatus.INFEASIBLE)
        if sol != SolutionStatus.INFEASIBLE and (not trajectory or trajectory[-1][1] != fx):
            trajectory.append((runtime, fx))
        assert status is not None
        return Result(termination=termination or status.termination, solution_status=sol,
                      objective=fx, x=x.copy(), runtime=runtime, iterations=iterations,
                      trajectory=trajectory, info=info, error=err)

    while True:
        final = mu <= mu_min * (1 + 1e-12)
        inner_tol = tol if final else max(o.barrier_kappa_eps * mu, tol)
        # the primal-dual error ends the subproblems before the last; the last (mu_min) ends
        # on the problem's own tests (its KKT residual, or IPOPT's E_0 with the duality gap
        # closed): |z d - mu| <= tolerance alone leaves weakly active bounds (z 1e-4 at a
        # distance 1e-2, S2MPJ LUKVLI13: the problem's KKT residual 0.06)
        sub = bm.subproblem(mu, v, lam_b, o.barrier_tau_min, 0.0 if final else inner_tol)
        # the inertia test keeps the reduced Hessian positive definite; the paper's absolute
        # curvature bound xi_B ||dx||^2 on top of it shifted the Hessian on every iteration of
        # near-degenerate bounds (a chain resting on a floor: 531 iterations, 69 without)
        opts = o.model_copy(update={"tolerance": inner_tol,
                                    # the second-order check runs on the active set below
                                    "second_order": False,
                                    "curvature_test": False,
                                    "max_iterations": max(1, o.max_iterations - iterations)})
        inner = ExactAL(opts)
        remaining = None if not math.isfinite(deadline) else max(deadline - time.perf_counter(), 1e-3)
        res = inner.solve(sub, time_limit=remaining, seed=seed)
        subproblems += 1
        iterations += res.iterations
        ev = res.info.get("evaluations") or {}
        for k_ in evaluations:
            evaluations[k_] += int(ev.get(k_, 0))
        for k_ in ("filter_steps", "filter_failures"):
            if res.info.get(k_):
                info[k_] = info.get(k_, 0) + int(res.info[k_])
        if "acceptable_stop" in res.info:
            # subproblems ended at acceptable_tolerance where rounding blocked their own
            info["acceptable_stops"] = info.get("acceptable_stops", 0) + 1
        if bm.line_filter is not None and bm.line_filter.soc_accepted:
            info["second_order_corrections"] = info.get("second_order_corrections", 0) \
                + bm.line_filter.soc_accepted
        lam_new = getattr(inner, "last_multipliers", None)
        if res.x is not None:
            v = res.x
            if lam_new is not None:
                lam_b = lam_new
        x = bm.x_of(v)
        notifier.iteration(subproblems, {"barrier_mu": mu, "objective": bm.p.objective(x),
                                         "inner_status": res.status.value,
                                         "inner_iterations": res.iterations})
        if res.status == Status.OPTIMAL:
            fx = bm.p.objective(x)
            if fx < best_f:
                best_f, best_x = fx, x.copy()
                t = time.perf_counter() - t0
                trajectory.append((t, fx))
                notifier.incumbent(t, fx, None)
            stalled = "stalled_stop" in res.info
            if stalled:
                # the subproblem's residual stalled in rounding: the point is the answer when it
                # passes the problem's own (sign-aware, least-squares) KKT test; else, in the
                # last subproblem, it is reported as a feasible point without a claim
                info["stalled_subproblems"] = info.get("stalled_subproblems", 0) + 1
                kkt_here = bounded_kkt_residuals(bm.p, x)["kkt_residual"] \
                    if final or bm.gap_closed(v) else math.inf
                if kkt_here > tol and final:
                    info["termination"] = (f"the barrier subproblem mu = {mu:.3g} stalled at its KKT "
                                           f"residual {res.info['stalled_stop']:.3g}; the problem's "
                                           f"KKT residual there is {kkt_here:.3g}")
                    return finish(Status.FEASIBLE, x, lam_b, mu,
                                  termination=TerminationCondition.UNKNOWN)
            else:
                kkt_here = math.inf
            if final or res.info.get("overall_stop") or kkt_here <= tol:
                if not final:
                    info["overall_stop_mu"] = mu
                if not o.second_order or lam_b is None:
                    return finish(Status.OPTIMAL, x, lam_b, mu)
                try:
                    lmin, how = bm.active_set_curvature(v, lam_b, deadline)
                except _Stop as stop:
                    info["second_order"] = "unverified (stopped by the limit)"
                    return finish(stop.status, x, lam_b, mu)
                info["reduced_hessian_min_eig"] = lmin
                info["second_order_check"] = how
                if lmin is None:
                    info["second_order"] = f"unverified ({how})"
                    return finish(Status.OPTIMAL, x, lam_b, mu)
                if lmin >= -1e-6 * max(1.0, bm.last_hessian_norm):
                    info["second_order"] = "verified"
                    return finish(Status.OPTIMAL, x, lam_b, mu)
                info["second_order"] = (f"saddle point: lambda_min = {lmin:.3g} on the null space "
                                        f"of the active constraints")
                info["termination"] = info["second_order"]
                return finish(Status.FEASIBLE, x, lam_b, mu,
                              termination=TerminationCondition.UNKNOWN)
            mu_new = max(mu_min, min(o.barrier_kappa_mu * mu, mu ** o.barrier_theta_mu))
            if o.barrier_extrapolate and lam_b is not None:
                v, lam_b = bm.extrapolate(v, lam_b, mu, mu_new)
            mu = mu_new
            continue
        if res.status in (Status.TIME_LIMIT, Status.INTERRUPTED, Status.ITERATION_LIMIT):
            info["termination"] = f"stopped in the barrier subproblem mu = {mu:.3g}"
            return finish(res.status, x, lam_b, mu)
        # the subproblem failed (locally infeasible equalities, line search, saddle): is the
        # constraint set itself locally infeasible here? (a restoration, unless done already)
        if bm.restart_x is not None:
            v = bm.point_of(bm.restart_x, o.bound_push, o.bound_frac)
            bm.restart_x = None
            info["restoration_restarts"] = bm.restarts
            lam_b = None
            if bm.primal_dual:
                bm.init_bound_multipliers(v)
            continue
        if res.status == Status.INFEASIBLE or bm.restoration_x is not None:
            xr = bm.restoration_x if bm.restoration_x is not None else x
            info["termination"] = bm.restoration_note or str(res.info.get("termination", "locally infeasible"))
            return finish(Status.INFEASIBLE, xr, None, mu,
                          termination=TerminationCondition.LOCALLY_INFEASIBLE,
                          solution_status=SolutionStatus.INFEASIBLE)
        xr, rr, opt = bm.restoration(x)
        halt = limit_status(deadline)
        if halt is not None:
            info["termination"] = f"stopped in the feasibility restoration (mu = {mu:.3g})"
            return finish(halt, x, lam_b, mu)
        if bm.confirms_infeasibility(rr, opt):
            info["termination"] = (f"locally infeasible: the barrier subproblem mu = {mu:.3g} "
                                   f"ended {res.status.value}, and feasibility restoration ends "
                                   f"at ||violation|| = {rr:.3g} (relative first-order optimality "
                                   f"{opt:.3g})")
            return finish(Status.INFEASIBLE, xr, None, mu,
                          termination=TerminationCondition.LOCALLY_INFEASIBLE,
                          solution_status=SolutionStatus.INFEASIBLE)
        if rr <= tol and restorations < 3:
            # restoration found a feasible point: the same subproblem again from there
            restorations += 1
            info["restorations"] = restorations
            v = bm.point_of(xr, o.bound_push, o.bound_frac)
            lam_b = None
            if bm.primal_dual:
                bm.init_bound_multipliers(v)
            continue
        info["termination"] = (f"the barrier subproblem mu = {mu:.3g} ended {res.status.value}"
                               + (f": {res.error}" if res.error else "")
                               + (f" ({res.info['termination']})" if res.info.get("termination") else ""))
        if res.status == Status.ERROR:
            return finish(Status.ERROR, x if res.x is not None else best_x, lam_b, mu,
                          err=res.error or info["termination"])
        return finish(res.status, x, lam_b, mu, termination=res.termination)
