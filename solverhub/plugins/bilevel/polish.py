"""A local polish of LV-HBA's iterate: the value-function reformulation with the lower level's
active set fixed, solved as a smooth problem.

LV-HBA (Yao et al., ICLR 2024) descends F/c_k + f - v_gamma, whose minimiser is O(1/c_k) from the
bilevel solution: with c_k = c0 (k+1)^p, p < 1/2, where the lower-level solution is interior the
iterates stop 0.03-0.15 away (F below F*, not bilevel-feasible) and more iterations gain little.
At such a point the lower level's active set is usually already right. With it fixed, for a
lower level convex in y, ``y in S(x)`` is exactly the KKT system of the active rows

    grad_y f(x, y) + J_y h_A(x, y)' mu = 0,  h_A(x, y) = 0,  mu_i >= 0 (inequality rows),
    h_I(x, y) <= 0 (the other rows),

where h = (g, the finite bounds of the box Y). Minimising F over that (plus X, Y and G <= 0) is
a smooth problem (SciPy's SLSQP in (x, y, mu)). Its answer is accepted only when the host's own
check passes (constraints to 1e-7, the lower level solved to 1e-7 relative, by the same SLSQP
value function the ``bilevel`` kind uses) and F is no worse than at the best bilevel-feasible
point of the iterate: (x, y) itself when it is bilevel feasible, else (x, y*(x)).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from solverhub.core.interrupt import stop_requested

from .problem import BilevelProblem
from .sets import Box

__all__ = ["Polisher", "PolishOutcome", "polish", "why_no_polish"]

#: the host's acceptance of a polished point: constraints and lower-level residual (relative)
ACCEPT_TOL = 1e-7
#: restricted problems solved per polish at most (candidate active sets and their refinements)
_MAX_CANDIDATES = 12


@dataclass
class PolishOutcome:
    """One polish: the point, its F, the active rows (indices into h = (g, Y lower bounds, Y upper
    bounds)), and whether it passed the acceptance test (``reason`` says why not)."""

    x: np.ndarray
    y: np.ndarray
    F: float
    active: tuple[int, ...]
    accepted: bool
    reason: str
    F_reference: float | None = None
    lower_residual: float = math.nan
    stationarity: float = math.nan
    #: the lower level looked unbounded below at the iterate's x (f - min f beyond 1e8)
    unbounded: bool = False


def polish_size(P: BilevelProblem) -> int:
    """The most variables a restricted problem can have: x, y and a multiplier per lower-level
    row (g and the finite bounds of a box Y)."""
    rows = P.l
    if isinstance(P.Y, Box):
        rows += int(np.sum(np.isfinite(P.Y.lower)) + np.sum(np.isfinite(P.Y.upper)))
    return P.n + rows


def is_qp(P: BilevelProblem) -> bool:
    """F and f quadratic, g and G affine: the restricted problem's equality part is linear and
    the Newton step solves it exactly."""
    return (P._quad.get("F") is not None and P._quad.get("f") is not None
            and P.g_affine is not None and P.G_affine is not None)


def why_no_polish(P: BilevelProblem, max_size: int, newton_max_size: int) -> str | None:
    """None when the polish applies to ``P`` (up to ``max_size`` with SLSQP, up to
    ``newton_max_size`` for a QP with the Newton step alone), else why not."""
    if not (isinstance(P.X, Box) and isinstance(P.Y, Box)):
        return "X or Y is not a box"
    size = polish_size(P)
    if size > max_size and not (is_qp(P) and size <= newton_max_size):
        return (f"{size} variables and lower-level multipliers > polish_max_size = {max_size} "
                f"(SLSQP's dense steps)" + (f" and > polish_newton_max_size = {newton_max_size}"
                                           if is_qp(P) else ""))
    return None


class _LowerRows:
    """The lower level's constraints as rows h(x, y) <= 0: g (equality rows marked), then the
    finite lower and upper bounds of the box Y."""

    def __init__(self, P: BilevelProblem) -> None:
        self.P = P
        assert isinstance(P.Y, Box)
        self.jl = np.flatnonzero(np.isfinite(P.Y.lower))
        self.ju = np.flatnonzero(np.isfinite(P.Y.upper))
        ny = P.ny
        self.Ey = np.vstack([-np.eye(ny)[self.jl], np.eye(ny)[self.ju]])
        self.m = P.l + self.Ey.shape[0]
        self.eq = np.concatenate([P.lower_eq, np.zeros(self.Ey.shape[0], dtype=bool)])

    def values(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        Y = self.P.Y
        assert isinstance(Y, Box)
        return np.concatenate([self.P.g(x, y) if self.P.l else np.zeros(0),
                               Y.lower[self.jl] - y[self.jl], y[self.ju] - Y.upper[self.ju]])

    def jac(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        P = self.P
        if P.l:
            Jx, Jy = P.jac_g(x, y)
            Jx = np.asarray(Jx, dtype=float).reshape(P.l, P.nx)
            Jy = np.asarray(Jy, dtype=float).reshape(P.l, P.ny)
        else:
            Jx, Jy = np.zeros((0, P.nx)), np.zeros((0, P.ny))
        nb = self.Ey.shape[0]
        return np.vstack([Jx, np.zeros((nb, P.nx))]), np.vstack([Jy, self.Ey])


def _candidates(rows: _LowerRows, x: np.ndarray, points: list[np.ndarray],
                lam: np.ndarray) -> list[tuple[int, ...]]:
    """Active sets to try: rows within a few thresholds of zero at each point, and the rows of
    g whose multiplier is clearly positive (equality rows always)."""
    scale = max(1.0, float(np.max(np.abs(np.concatenate([x] + points)), initial=0.0)))
    out: list[tuple[int, ...]] = []
    for t in points:
        h = rows.values(x, t)
        for eps in (1e-6, 1e-3, 1e-2):
            act = tuple(int(i) for i in np.flatnonzero(rows.eq | (h >= -eps * scale)))
            if act not in out:
                out.append(act)
    if lam.size:
        lamfull = np.concatenate([lam, np.zeros(rows.m - lam.size)])
        act = tuple(int(i) for i in np.flatnonzero(rows.eq | (np.abs(lamfull) > 1e-6)))
        if act not in out:
            out.append(act)
    return out


def _stationarity_jac(P: BilevelProblem, rows: _LowerRows, A: np.ndarray, x: np.ndarray,
                      y: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """d/d(x, y) of grad_y f(x, y) + J_y h_A(x, y)' mu: exact for quadratic f and affine g,
    else central differences of the gradients (n pairs of evaluations)."""
    q = P._quad.get("f")
    if q is not None and P.g_affine is not None:
        return q[0][P.nx:, :]

    def S(z: np.ndarray) -> np.ndarray:
        xs, ys = z[:P.nx], z[P.nx:]
        return P.grad_f(xs, ys)[1] + rows.jac(xs, ys)[1][A].T @ mu

    z = np.concatenate([x, y])
    J = np.empty((P.ny, P.n))
    for i in range(P.n):
        h = 1e-6 * max(1.0, abs(z[i]))
        zp, zm = z.copy(), z.copy()
        zp[i] += h
        zm[i] -= h
        J[:, i] = (S(zp) - S(zm)) / (2 * h)
    return J


class _OutOfTime(Exception):
    """Raised inside SLSQP's objective when the polish's deadline passes or a stop is requested
    (SLSQP has no time limit of its own; its objective is evaluated once per iteration)."""


def _solve_restricted(P: BilevelProblem, rows: _LowerRows, active: tuple[int, ...],
                      x0: np.ndarray, y0: np.ndarray, max_iterations: int,
                      deadline: float, slsqp: bool = True) -> tuple[Any, Any]:
    """SLSQP on min F over {KKT of the active rows, inactive rows <= 0, G <= 0, X, Y}.
    Returns (x, y, stationarity residual) or (None, reason)."""
    from scipy.optimize import minimize

    nx, ny = P.nx, P.ny
    A = np.asarray(active, dtype=int)
    inact = np.setdiff1d(np.arange(P.l), A)          # inactive rows of g (Y bounds are bounds)
    inact = inact[~P.lower_eq[inact]]
    k = A.size
    # a start for mu: least squares on the stationarity rows, sign-clipped
    Jx0, Jy0 = rows.jac(x0, y0)
    gy0 = P.grad_f(x0, y0)[1]
    mu0 = np.linalg.lstsq(Jy0[A].T, -gy0, rcond=None)[0] if k else np.zeros(0)
    mu0 = np.where(rows.eq[A], mu0, np.maximum(mu0, 0.0)) if k else mu0
    v0 = np.concatenate([x0, y0, mu0])

    def split(v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return v[:nx], v[nx:nx + ny], v[nx + ny:]

    def obj(v: np.ndarray) -> float:
        if time.perf_counter() >= deadline or stop_requested():
            raise _OutOfTime
        x, y, _ = split(v)
        return P.F(x, y)

    def obj_jac(v: np.ndarray) -> np.ndarray:
        x, y, _ = split(v)
        a, b = P.grad_F(x, y)
        return np.concatenate([a, b, np.zeros(k)])

    def eq_fun(v: np.ndarray) -> np.ndarray:
        x, y, mu = split(v)
        _, Jy = rows.jac(x, y)
        parts = [P.grad_f(x, y)[1] + Jy[A].T @ mu, rows.values(x, y)[A]]
        if P.L and np.any(P.upper_eq):
            parts.append(P.G(x, y)[P.upper_eq])
        return np.concatenate(parts)

    def eq_jac(v: np.ndarray) -> np.ndarray:
        x, y, mu = split(v)
        Jx, Jy = rows.jac(x, y)
        top = np.hstack([_stationarity_jac(P, rows, A, x, y, mu), Jy[A].T])
        mid = np.hstack([Jx[A], Jy[A], np.zeros((k, k))])
        blocks = [top, mid]
        if P.L and np.any(P.upper_eq):
            JG = P.jac_full("G", x, y)[P.upper_eq]
            blocks.append(np.hstack([JG, np.zeros((JG.shape[0], k))]))
        return np.vstack(blocks)

    # SLSQP fails on linearly dependent equality rows (LVHBAToy: the stationarity rows of y2
    # are all 1 + mu = 0): keep an independent subset, chosen at the start by a pivoted QR
    # (exact where the rows are affine; elsewhere the bilevel check below judges the answer)
    from scipy.linalg import qr

    J0 = eq_jac(v0)
    keep = np.arange(J0.shape[0])
    if J0.shape[0]:
        _, R, piv = qr(J0.T, mode="economic", pivoting=True)
        d = np.abs(np.diag(R))
        rank = int(np.sum(d > 1e-10 * max(1.0, float(d[0]) if d.size else 1.0)))
        keep = np.sort(piv[:rank])
    cons: list[dict[str, Any]] = [{"type": "eq", "fun": lambda v: eq_fun(v)[keep],
                                   "jac": lambda v: eq_jac(v)[keep]}]
    if inact.size or (P.L and np.any(~P.upper_eq)):
        def ineq_fun(v: np.ndarray) -> np.ndarray:
            x, y, _ = split(v)
            parts = [-P.g(x, y)[inact]] if inact.size else []
            if P.L and np.any(~P.upper_eq):
                parts.append(-P.G(x, y)[~P.upper_eq])
            return np.concatenate(parts)

        def ineq_jac(v: np.ndarray) -> np.ndarray:
            x, y, _ = split(v)
            blocks = []
            if inact.size:
                Jx, Jy = P.jac_g(x, y)
                blocks.append(-np.hstack([np.asarray(Jx).reshape(P.l, nx)[inact],
                                          np.asarray(Jy).reshape(P.l, ny)[inact]]))
            if P.L and np.any(~P.upper_eq):
                blocks.append(-P.jac_full("G", x, y)[~P.upper_eq])
            J = np.vstack(blocks)
            return np.hstack([J, np.zeros((J.shape[0], k))])
        cons.append({"type": "ineq", "fun": ineq_fun, "jac": ineq_jac})
    assert isinstance(P.X, Box) and isinstance(P.Y, Box)
    fin = lambda a: None if not math.isfinite(a) else float(a)  # noqa: E731
    bounds = ([(fin(a), fin(b)) for a, b in zip(P.X.lower, P.X.upper)]
              + [(fin(a), fin(b)) for a, b in zip(P.Y.lower, P.Y.upper)]
              + [(None, None) if rows.eq[i] else (0.0, None) for i in A])
    newton = _newton_point(P, J0[keep], -eq_fun(v0)[keep], v0, obj_jac)
    if newton is not None:
        lo = np.array([-np.inf if b[0] is None else b[0] for b in bounds])
        up = np.array([np.inf if b[1] is None else b[1] for b in bounds])
        ok = bool(np.all(newton >= lo - 1e-10) and np.all(newton <= up + 1e-10))
        if ok and len(cons) > 1:
            ok = bool(np.all(cons[1]["fun"](newton) >= -1e-10))
        if ok:          # the equality-constrained minimiser keeps every inequality: exact
            x, y, _ = split(newton)
            return (x, y, float(np.linalg.norm(eq_fun(newton)))), ""
    if not slsqp:
        return None, "the Newton point leaves an inequality and SLSQP is off at this size"
    try:
        with np.errstate(all="ignore"):
            res = minimize(obj, v0, jac=obj_jac, method="SLSQP", bounds=bounds, constraints=cons,
                           options={"maxiter": max_iterations, "ftol": 1e-14})
    except _OutOfTime:
        return None, "out of time"
    except Exception as exc:   # a singular system inside SLSQP, a function failing off C
        return None, f"SLSQP raised {type(exc).__name__}: {exc}"
    v = np.asarray(res.x, dtype=float)
    if not np.all(np.isfinite(v)):
        return None, "SLSQP returned non-finite values"
    x, y, mu = split(v)
    # stationarity of the restricted problem is SLSQP's business; report its KKT residual proxy
    stat = float(np.linalg.norm(eq_fun(v)))
    return (x, y, stat), ("" if res.success else f"SLSQP: {res.message}")


def _newton_point(P: BilevelProblem, E: np.ndarray, e: np.ndarray, v0: np.ndarray,
                  grad: Any) -> np.ndarray | None:
    """One Newton step on the restricted problem's equality part when it is a QP (F and f
    quadratic, g and G affine: the rows E dv = e are exact): the minimiser of F over the
    equality rows, or None when the problem is not a QP or the KKT matrix's inertia shows the
    reduced Hessian is not positive definite (then the point need not be a minimiser)."""
    qF, qf = P._quad.get("F"), P._quad.get("f")
    if qF is None or qf is None or P.g_affine is None or P.G_affine is None:
        return None
    nv, m = v0.size, E.shape[0]
    H = np.zeros((nv, nv))
    H[:P.n, :P.n] = qF[0]
    K = np.block([[H, E.T], [E, np.zeros((m, m))]])
    try:
        w = np.linalg.eigvalsh(K)
    except np.linalg.LinAlgError:
        return None
    tol = 1e-10 * max(1.0, float(np.max(np.abs(w), initial=0.0)))
    if int(np.sum(w > tol)) != nv or int(np.sum(w < -tol)) != m:
        return None
    rhs = np.concatenate([-grad(v0), e])
    try:
        step = np.linalg.solve(K, rhs)[:nv]
    except np.linalg.LinAlgError:
        return None
    v = v0 + step
    return v if np.all(np.isfinite(v)) else None


def _bilevel_check(P: BilevelProblem, x: np.ndarray, y: np.ndarray) -> tuple[bool, float, str]:
    """(bilevel feasible to ACCEPT_TOL, lower residual, why not)."""
    scale = max(1.0, float(np.max(np.abs(np.concatenate([x, y])), initial=0.0)))
    viol = P.constraint_violation(x, y)
    if not viol <= ACCEPT_TOL * scale:
        return False, math.nan, f"constraint violation {viol:.2g}"
    sol = P.lower_solution(x, y)
    if sol is None:
        return False, math.nan, "the lower-level check failed"
    fv = P.f(x, y)
    res = max(0.0, fv - sol[0])
    if not res <= ACCEPT_TOL * max(1.0, abs(fv)):
        return False, res, f"lower-level residual {res:.2g}"
    return True, res, ""


#: f - min f beyond this (relative to max(1, |f|)) at the iterate: the lower level is taken to
#: be unbounded below there (the polish stops and the run says so)
UNBOUNDED_GAP = 1e8


def _reference_value(P: BilevelProblem, x: np.ndarray, y: np.ndarray,
                     theta: np.ndarray) -> tuple[float | None, float]:
    """(F at the best bilevel-feasible point the iterate gives, f(x, y) - min f(x, .)): the point
    is (x, y) when it is bilevel feasible, else (x, y*(x)) with y*(x) the lower-level solution
    from theta; F is None when neither is (e.g. G(x, y*(x)) > 0)."""
    ok, res, _ = _bilevel_check(P, x, y)
    if ok:
        return P.F(x, y), res
    sol = P.lower_solution(x, theta)
    if sol is None:
        return None, math.nan
    gap = P.f(x, y) - sol[0]
    yy = sol[1]
    scale = max(1.0, float(np.max(np.abs(np.concatenate([x, yy])), initial=0.0)))
    if P.constraint_violation(x, yy) > ACCEPT_TOL * scale or not math.isfinite(sol[0]):
        return None, gap
    return P.F(x, yy), gap


def polish(P: BilevelProblem, x: np.ndarray, y: np.ndarray, theta: np.ndarray,
           lam: np.ndarray, *, deadline: float = math.inf,
           max_iterations: int = 100, slsqp: bool = True) -> PolishOutcome | None:
    """The best accepted polish over the candidate active sets, else the last rejected one
    (``accepted`` False, with the reason); None when there was nothing to try (out of time)."""
    rows = _LowerRows(P)
    F_ref, gap = _reference_value(P, x, y, theta)
    if not gap <= UNBOUNDED_GAP * max(1.0, abs(P.f(x, y))) and not math.isnan(gap):
        return PolishOutcome(x, y, math.nan, (), False, f"the lower level looks unbounded below "
                             f"at x (f - min f = {gap:.3g})", F_ref, gap, unbounded=True)
    best: PolishOutcome | None = None
    rejected: PolishOutcome | None = None
    queue = _candidates(rows, x, [theta, y], lam)
    tried: set[tuple[int, ...]] = set()
    while queue and len(tried) < _MAX_CANDIDATES:
        active = queue.pop(0)
        if active in tried:
            continue
        tried.add(active)
        if time.perf_counter() >= deadline or stop_requested():
            break
        out, why = _solve_restricted(P, rows, active, x, theta, max_iterations, deadline, slsqp)
        if out is None:
            rejected = PolishOutcome(x, y, math.nan, active, False, why, F_ref)
            continue
        xp, yp, stat = out
        # the other branch of a degenerate pair: a row the restricted answer leaves at h = 0
        # though it was held inactive may hold F back there (a kink of y*(x)); try it active
        h = rows.values(xp, yp)
        scale = max(1.0, float(np.max(np.abs(np.concatenate([xp, yp])), initial=0.0)))
        touching = np.flatnonzero(np.abs(h) <= 1e-7 * scale)
        extra = tuple(sorted(set(active) | {int(i) for i in touching}))
        if extra != active and extra not in tried:
            queue.insert(0, extra)
        ok, lres, why_not = _bilevel_check(P, xp, yp)
        Fp = P.F(xp, yp)
        if ok and F_ref is not None and Fp > F_ref + ACCEPT_TOL * max(1.0, abs(F_ref)):
            ok, why_not = False, f"F = {Fp:.8g} is worse than {F_ref:.8g} at the iterate"
        cand = PolishOutcome(xp, yp, Fp, active, ok, why_not or why, F_ref, lres, stat)
        if ok:
            if best is None or Fp < best.F:
                best = cand
        else:
            rejected = cand
    return best if best is not None else rejected


@dataclass
class Polisher:
    """The stationarity-based stop of LV-HBA's robust preset: a polish at iterations ``start``,
    2 ``start``, 4 ``start``, ... and at the end. The run stops (optimal, local) once two attempts
    in a row are accepted with the same active set and the same F (to 1e-9 relative): the
    iterates have identified the active set and the polished point is a KKT point of the
    value-function reformulation restricted to it."""

    P: BilevelProblem
    start: int
    deadline: float
    #: False above polish_max_size: the Newton step alone (a QP up to polish_newton_max_size)
    slsqp: bool = True
    #: seconds spent polishing so far (the rest of the run's time is the iterations')
    spent: float = 0.0
    best: PolishOutcome | None = None
    last: PolishOutcome | None = None
    attempts: int = 0
    last_k: int = -1
    next_k: int = field(init=False)

    def __post_init__(self) -> None:
        self.next_k = self.start

    def due(self, k: int) -> bool:
        """True when iteration count ``k`` (iterations done) is an attempt point."""
        return k >= self.next_k and not self.unbounded

    @property
    def unbounded(self) -> bool:
        """The last attempt found the lower level unbounded below (no further attempts)."""
        return self.last is not None and self.last.unbounded

    def attempt(self, k: int, x: np.ndarray, y: np.ndarray, theta: np.ndarray,
                lam: np.ndarray, final: bool = False) -> bool:
        """Polish at iteration count ``k`` (``final``: the end of the run); True when the run
        should stop."""
        while self.next_k <= k:
            self.next_k *= 2
        if k == self.last_k or self.unbounded:
            return False
        # deterministic: the attempts depend on iteration counts only (the time limit aside)
        now = time.perf_counter()
        self.last_k = k
        self.attempts += 1
        out = polish(self.P, x, y, theta, lam, deadline=self.deadline, slsqp=self.slsqp)
        self.spent += time.perf_counter() - now
        prev = self.last
        self.last = out
        if out is None or not out.accepted:
            return False
        if self.best is None or out.F <= self.best.F:
            self.best = out
        return (prev is not None and prev.accepted and prev.active == out.active
                and abs(prev.F - out.F) <= 1e-9 * max(1.0, abs(out.F)))

    def info(self) -> dict[str, Any]:
        b, last = self.best, self.last
        d: dict[str, Any] = {"attempts": self.attempts, "accepted": b is not None,
                             "seconds": self.spent}
        if b is not None:
            d.update({"F": b.F, "F_reference": b.F_reference, "active_rows": len(b.active),
                      "lower_residual": b.lower_residual, "stationarity": b.stationarity})
        elif last is not None:
            d["reason"] = last.reason
        return d
