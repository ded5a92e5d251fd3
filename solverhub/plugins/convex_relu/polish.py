"""Solution polishing for the squared-loss convex ReLU program (host NumPy/SciPy path).

ADMM finds the support quickly and the exact optimum slowly. As OSQP's polishing does for QPs
(Stellato et al. 2020, sec. 4), we guess from an ADMM iterate which groups are nonzero and
which cone rows (2 D_i - I) X u_i >= 0 hold with equality, then solve the reduced smooth
problem exactly and certify the result:

1. For each nonzero group b the active rows K_b are those where ADMM's s-iterate is zero and
   the slack is <= ``act_tol`` times the group's largest |x_k'u_b|. With N_b an orthonormal basis
   of the null space of X[K_b], u_b = N_b z_b satisfies the active rows as equalities and
   ||u_b|| = ||z_b||, so the reduced problem is an unconstrained group lasso in z:
   min (1/2n) ||sum_b A_b z_b - y||^2 + beta sum_b ||z_b||,  A_b = +-D_i X N_b.
   It is smooth where every z_b != 0: damped Newton with an Armijo line search. When the reduced
   problem has more variables m than n + groups, the Newton system is solved by Woodbury over
   the n samples (_woodbury_step), O(n^2 m) per step instead of O(m^3).
2. Primal-dual active-set correction (up to ``max_rounds``): per group the most violated
   inactive row is added and the active row with the most negative multiplier (least squares
   on the group's stationarity condition) released; groups that collapse to zero leave, zero
   groups that violate their optimality condition enter along the negative reduced gradient.
3. Certificate: the Lagrange dual of the sampled program (squared loss, our 1/n scaling) is
   max_{lam, mu >= 0} -lam'y - (n/2) ||lam||^2  s.t. ||F_b'lam - G_b'mu_b|| <= beta for all b.
   From lam = (yhat - y)/n, the active-row multipliers (nonzero groups) and an NNLS fit (zero
   groups whose gradient exceeds beta; skipped when last round's multipliers, refitted on their
   support, already show a distance <= beta), a scaling t makes (t lam, t mu) dual feasible;
   its value is a lower bound on the optimum. The polished point is accepted only if it is cone
   feasible and its objective is within ``gap_tol`` (relative) of that bound. When the active
   set has settled but the bound is still looser than ``gap_tol``, Newton is converged further
   once (tighter stopping test) before the attempt is given up. While rounds still change the
   active set, Newton stops at a looser decrement (_NEWTON_DEC_TOL_LOOSE): those points only
   steer the next change; the certificate is evaluated only after a full-tolerance Newton run.

Nothing here is from Bai et al.; their ADMM (admm.py) is unchanged and runs first.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse
from scipy.linalg import cho_factor, cho_solve
from scipy.linalg.blas import dsyrk
from scipy.optimize import nnls

from solverhub.core.timing import limit_status

from .certify import certify_point
from .problem import ReLUTraining

__all__ = ["PolishOutcome", "conic_polish_unavailable", "polish_conic", "polish_squared"]

#: Newton stops when its decrement g'H^-1 g falls below this times |f|; the tighter value is
#: used once the active set has settled but the dual bound is still too loose to certify
_NEWTON_DEC_TOL = 1e-15
_NEWTON_DEC_TOL_TIGHT = 1e-20
#: while the active set is still changing, the round's point only steers the next change (which
#: rows/groups to add or release), so Newton stops earlier (f within ~this relative of the
#: reduced optimum); once a round changes nothing, Newton runs to _NEWTON_DEC_TOL before the
#: certificate is evaluated, so the accepted point is converged exactly as before
_NEWTON_DEC_TOL_LOOSE = 1e-10
#: the churn test of polish_squared: from round CHURN_START on, an attempt in which at least
#: CHURN_FRACTION of the groups changed their active rows in each of the last CHURN_ROUNDS rounds
#: is given up (PolishOutcome.churned). Read off the tuning list of bench_convex_relu.py
#: --validation (docs/convex_relu.md): every attempt that certified there fell below 90 % by
#: round 12 (breast_cancer, the slowest, 0.90 at round 10 and 0.85 at round 12), while on the
#: two 20-d sets 95-100 % of the groups changed in every round up to the cap of 40
CHURN_START = 12
CHURN_ROUNDS = 5
CHURN_FRACTION = 0.9
#: ... unless the attempt's certified relative gap still falls fast: a churning attempt goes on
#: while the smallest gap of its last CHURN_ROUNDS rounds is at most 1/CHURN_PROGRESS of the
#: smallest gap before them. Read off the tuning list's two 20-d sets, the only ones that churn
#: (traces in docs/convex_relu.md, point 11): their gap fell at most 2x per 5 rounds (class20
#: 0.97 to 0.71 in 40 rounds, synth20 0.95 to 0.17, noisily), so 4x never keeps them going. On
#: the fresh list it kept digits 1-7's attempt going past round 12 to a certificate (0.17 of
#: CLARABEL's time against 0.97 with the conic polish after the churn test)
CHURN_PROGRESS = 4.0


@dataclass
class PolishOutcome:
    """What one polishing attempt found. ``accepted``: feasible and certified within gap_tol."""

    accepted: bool
    x: np.ndarray | None
    objective: float
    dual_bound: float
    relative_gap: float
    cone_violation: float
    newton_steps: int
    rounds: int
    reason: str
    #: the attempt was given up because nearly every group still changed its active rows round
    #: after round (``polish_squared``'s churn test): the guess is far off, a conic re-solve
    #: (``polish_conic``) needs no exact guess
    churned: bool = False


@dataclass
class _Group:
    s: int                      # 0: v block (+), 1: w block (-)
    i: int                      # pattern index
    active: np.ndarray          # indices of rows held at equality
    basis: np.ndarray           # d x r, orthonormal null space of X[active]
    block: np.ndarray | None = None     # n x r, +-D_i X basis (cached until the basis changes)


def _null_basis(Xk: np.ndarray, d: int) -> np.ndarray:
    if Xk.shape[0] == 0:
        return np.eye(d)
    _, sv, Vt = np.linalg.svd(Xk, full_matrices=True)
    rank = int(np.sum(sv > 1e-10 * max(sv[0], 1e-300)))
    return Vt[rank:].T


def _group_norms(v: np.ndarray, offs: np.ndarray) -> np.ndarray:
    """||v_b|| for the consecutive blocks v[offs[b]:offs[b+1]] (all blocks non-empty)."""
    if len(offs) < 2:
        return np.zeros(0)
    return np.sqrt(np.add.reduceat(v * v, offs[:-1]))


def _woodbury_step(A: np.ndarray, offs: np.ndarray, zz: np.ndarray, g: np.ndarray, beta: float,
                   n: int) -> np.ndarray | None:
    """H^-1 g for H = C + (1/n) A'A, C = blockdiag(c_b (I - e_b e_b')), c_b = beta/||z_b||,
    e_b = z_b/||z_b||, without forming the m x m matrix H (m > n + groups).

    C is singular along each e_b, so write H = C' + W S W' with C' = blockdiag(c_b I),
    W = [A'/sqrt(n), E] (E: the e_b as columns) and S = diag(I_n, -c_b). Woodbury gives
    H^-1 = C'^-1 - C'^-1 W K^-1 W' C'^-1 with K = S^-1 + W' C'^-1 W = [[M, B], [B', 0]]
    (the lower right block is -1/c_b + e_b'e_b/c_b = 0), M = I + A C'^-1 A'/n (n x n, SPD),
    B = A C'^-1 E / sqrt(n) (column b: A_b z_b / (beta sqrt(n))). The saddle system is solved
    by a Cholesky of M and one of the Schur complement B' M^-1 B. Cost O(n^2 m) per step
    against O(m^3) for a dense factorisation. None when either factor fails (H singular or
    nearly so): the caller falls back to the dense path."""
    G = len(offs) - 1
    sizes = np.diff(offs)
    norms = _group_norms(zz, offs)
    inv_c = np.repeat(norms / beta, sizes)                      # C'^-1 on the diagonal
    sq = math.sqrt(n)
    # M = I + A C'^-1 A' / n: a symmetric rank-m update (upper triangle only, half the flops
    # of a general product; the Cholesky below reads that triangle)
    As = A * np.sqrt(inv_c / n)
    M = dsyrk(1.0, As.T, trans=1, lower=0)
    M[np.diag_indices_from(M)] += 1.0
    B = np.add.reduceat(A * zz, offs[:-1], axis=1) / (beta * sq) if G else np.zeros((n, 0))
    h = inv_c * g
    r1 = A @ h / sq
    r2 = np.add.reduceat(np.repeat(1.0 / norms, sizes) * zz * h, offs[:-1]) if G else np.zeros(0)
    try:
        Mf = cho_factor(M, lower=False, overwrite_a=True, check_finite=False)
        MiB = cho_solve(Mf, B, check_finite=False)
        Mir1 = cho_solve(Mf, r1, check_finite=False)
        Sf = cho_factor(B.T @ MiB, check_finite=False)
    except np.linalg.LinAlgError:
        return None
    bb = cho_solve(Sf, B.T @ Mir1 - r2, check_finite=False)
    aa = Mir1 - MiB @ bb
    # H^-1 g = h - C'^-1 (A' aa / sqrt(n) + E bb)
    corr = A.T @ aa / sq + np.repeat(bb / norms, sizes) * zz
    out = h - inv_c * corr
    return out if np.all(np.isfinite(out)) else None


def _newton(A_blocks: list[np.ndarray], z: list[np.ndarray], y: np.ndarray, beta: float,
            n: int, max_steps: int = 50, dec_tol: float = _NEWTON_DEC_TOL,
            deadline: float = math.inf) -> tuple[list[np.ndarray], int, list[int]]:
    """Damped Newton on (1/2n)||sum A_b z_b - y||^2 + beta sum ||z_b||. Returns z, the step
    count and the groups that collapsed to (numerically) zero (the problem is not smooth there).
    The Newton system is solved through Woodbury over n (_woodbury_step) when the reduced
    problem has more variables than n + groups, else by a dense Cholesky."""
    sizes = [a.shape[1] for a in A_blocks]
    offs = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    A = np.hstack(A_blocks) if A_blocks else np.zeros((n, 0))
    zz = np.concatenate(z) if z else np.zeros(0)
    m = zz.size
    use_woodbury = m > n + len(sizes)
    AtA: np.ndarray | None = None

    def fval(v: np.ndarray) -> float:
        r = A @ v - y
        return 0.5 * float(r @ r) / n + beta * float(np.sum(_group_norms(v, offs)))

    f = fval(zz)
    start_norms = _group_norms(zz, offs)
    size_arr = np.asarray(sizes, dtype=np.intp)
    steps = 0
    for steps in range(1, max_steps + 1):
        if limit_status(deadline) is not None:      # a step costs O(n^2 m): check each one
            break
        g = A.T @ (A @ zz - y) / n
        norms = _group_norms(zz, offs)
        if len(sizes) and float(np.min(norms)) <= 0.0:
            return z, steps, [int(np.argmin(norms))]
        g += np.repeat(beta / norms, size_arr) * zz
        solved = _woodbury_step(A, offs, zz, g, beta, n) if use_woodbury else None
        if solved is not None:
            step = -solved
        else:
            if AtA is None:
                AtA = A.T @ A / n
            H = AtA.copy()
            for b in range(len(sizes)):
                sl = slice(offs[b], offs[b + 1])
                zb = zz[sl]
                nb = float(np.linalg.norm(zb))
                e = zb / nb
                H[sl, sl] += (beta / nb) * (np.eye(sizes[b]) - np.outer(e, e))
            try:
                H[np.diag_indices_from(H)] += 1e-14 * float(np.trace(H)) / max(m, 1)
                step = -cho_solve(cho_factor(H, check_finite=False), g,
                                  check_finite=False)
            except np.linalg.LinAlgError:
                step = -np.linalg.lstsq(H, g, rcond=None)[0]
        # a group whose full Newton step passes through zero along its own direction wants
        # to be zero: the smooth model cannot get it there (||z|| has a kink), so it leaves
        crossing = np.flatnonzero(np.add.reduceat(zz * (zz + step), offs[:-1]) <= 0.0).tolist()
        if crossing:
            return [zz[offs[b]:offs[b + 1]] for b in range(len(sizes))], steps, crossing
        dec = -float(g @ step)                              # Newton decrement squared
        if dec <= dec_tol * max(abs(f), 1e-300):
            break
        a = 1.0
        while True:
            cand = zz + a * step
            fc = fval(cand)
            if fc <= f - 1e-4 * a * dec or a < 1e-10:
                break
            a *= 0.5
        if a < 1e-10:
            break
        zz, f = cand, fc
        # a group whose norm collapses: the smooth model is wrong there (it should be zero)
        dead = np.flatnonzero(_group_norms(zz, offs) <= 1e-4 * start_norms).tolist()
        if dead:
            return [zz[offs[b]:offs[b + 1]] for b in range(len(sizes))], steps, dead
    return [zz[offs[b]:offs[b + 1]] for b in range(len(sizes))], steps, []


def polish_squared(pb: ReLUTraining, V: np.ndarray, active: np.ndarray | None = None, *,
                   act_tol: float = 1e-2, gap_tol: float = 1e-7, feas_tol: float = 1e-9,
                   max_rounds: int = 100, deadline: float = math.inf,
                   max_dim: int = 6000, add_rows: int = 1, drop_rows: int = 1,
                   churn_start: int = CHURN_START,
                   trace: list[tuple[int, int, int, float]] | None = None) -> PolishOutcome:
    """Polish the ADMM iterate ``V`` (c, 2, P, d) of a squared-loss problem without eps; see the
    module docstring. ``active`` (c, 2, P, n, bool): ADMM's guess of the rows at equality (its
    s-iterate is zero there), intersected with the rows of slack <= act_tol times the group's
    largest |x_k'u|. Gives up (not accepted) at ``deadline`` (a time.perf_counter() reading),
    when the reduced problem has more than ``max_dim`` variables (a dense Newton system), and
    when the active set churns (CHURN_*, from round ``churn_start`` on; 0: never; the outcome's
    ``churned``): nearly every group changed its rows in each of the last CHURN_ROUNDS rounds
    and the certified gap did not fall CHURN_PROGRESS-fold over them. An attempt let go on by
    that last clause and not certified in ``max_rounds`` is ``churned`` too. ``trace``: a list
    that gets (round, groups changed, groups, certified relative gap) per round. Host arrays
    only."""
    X, n, d, P, beta = pb.X, pb.n_samples, pb.d, pb.P, pb.beta
    Df = pb.D.astype(np.float64)
    E = 2.0 * Df - 1.0
    U_out = np.zeros_like(V)
    dual_total = 0.0
    steps_total = 0
    rounds_used = 0
    sign = (1.0, -1.0)

    def block_matrix(g: _Group) -> np.ndarray:
        if g.block is None:
            g.block = sign[g.s] * (Df[:, g.i:g.i + 1] * (X @ g.basis))
        return g.block

    for j in range(pb.c):
        y = pb.Y[:, j]
        groups: list[_Group] = []
        z: list[np.ndarray] = []
        for s in (0, 1):
            for i in range(P):
                u = V[j, s, i]
                if not np.any(u):
                    continue
                xu = X @ u
                near = E[:, i] * xu <= act_tol * float(np.max(np.abs(xu)))
                act = np.flatnonzero(near & active[j, s, i] if active is not None else near)
                g = _Group(s, i, act, _null_basis(X[act], d))
                if g.basis.shape[1]:
                    groups.append(g)
                    z.append(g.basis.T @ u)
        if sum(zk.size for zk in z) > max_dim:
            return PolishOutcome(False, None, math.inf, -math.inf, math.inf, math.inf,
                                 steps_total, rounds_used,
                                 f"reduced problem too large ({sum(zk.size for zk in z)} > "
                                 f"{max_dim} variables)")
        certified = False
        dual_j = -math.inf
        zero_fits: dict[tuple[int, int], np.ndarray] = {}     # (s, i) -> last NNLS multipliers
        tight = False
        progressed = False
        loose = _NEWTON_DEC_TOL_LOOSE > _NEWTON_DEC_TOL
        churn_run = 0           # consecutive rounds in which >= CHURN_FRACTION of groups changed
        gaps: list[float] = []  # the certified relative gap of each round (the churn test)
        for rnd in range(1, max_rounds + 1):
            rounds_used = max(rounds_used, rnd)
            if limit_status(deadline) is not None:
                return PolishOutcome(False, None, math.inf, -math.inf, math.inf, math.inf,
                                     steps_total, rounds_used, "time limit")
            if sum(zk.size for zk in z) > max_dim:
                return PolishOutcome(False, None, math.inf, -math.inf, math.inf, math.inf,
                                     steps_total, rounds_used, "reduced problem too large")
            # Newton on the current support; groups that collapse leave it
            while True:
                dec_tol = (_NEWTON_DEC_TOL_TIGHT if tight else
                           _NEWTON_DEC_TOL_LOOSE if loose else _NEWTON_DEC_TOL)
                z, steps, dead = _newton([block_matrix(g) for g in groups], z, y, beta, n,
                                         dec_tol=dec_tol, deadline=deadline)
                steps_total += steps
                if not dead:
                    break
                for k in sorted(dead, reverse=True):
                    del groups[k], z[k]
            yhat = np.zeros(n)
            for g, zk in zip(groups, z):
                yhat += block_matrix(g) @ zk
            lam = (yhat - y) / n
            # ---- certificate: scaled dual point from lam and the multipliers
            worst = 0.0
            changes = 0
            in_support = set()
            for k, g in enumerate(groups):
                u = g.basis @ z[k]
                in_support.add((g.s, g.i))
                Fl = sign[g.s] * (X.T @ (Df[:, g.i] * lam))
                xu = X @ u
                slack = E[:, g.i] * xu
                violated = np.flatnonzero(slack < -feas_tol * float(np.max(np.abs(xu))))
                res = Fl
                drop = np.zeros(0, dtype=np.intp)
                if g.active.size:
                    Gk = (E[g.active, g.i][:, None] * X[g.active]).T          # d x |K|
                    mu = np.linalg.lstsq(Gk, Fl + beta * u / np.linalg.norm(u), rcond=None)[0]
                    res = Fl - Gk @ np.maximum(mu, 0.0)
                    if float(np.linalg.norm(res)) > beta:
                        # the stationarity fit is not the best dual multiplier when the
                        # active rows are degenerate or mu has small negative entries: the
                        # smallest ||F_b'lam - G_b'mu|| over mu >= 0 (an NNLS in |K| <= few
                        # dozen variables) gives the tightest valid scaling t below
                        res = Fl - Gk @ nnls(Gk, Fl, maxiter=50 * max(Gk.shape[1], 1))[0]
                    neg = mu < -1e-9 * max(float(np.max(np.abs(mu))), 1e-300)
                    if neg.any():           # the drop_rows most negative multipliers
                        drop = g.active[np.argsort(mu)[:min(drop_rows, int(neg.sum()))]]
                if violated.size:           # and the add_rows most violated inactive rows
                    violated = violated[np.argsort(slack[violated])[:add_rows]]
                worst = max(worst, float(np.linalg.norm(res)))
                if violated.size or drop.size:
                    new_act = (set(g.active.tolist()) - set(drop.tolist())) | set(violated.tolist())
                    g.active = np.array(sorted(new_act), dtype=np.intp)
                    g.basis = _null_basis(X[g.active], d)
                    g.block = None
                    z[k] = g.basis.T @ u
                    changes += 1
            churn_run = churn_run + 1 if changes >= CHURN_FRACTION * max(len(groups), 1) else 0
            n_groups_round = len(groups)
            keep = [k for k, g in enumerate(groups) if g.basis.shape[1] > 0]
            groups, z = [groups[k] for k in keep], [z[k] for k in keep]
            XtDl = X.T @ (Df * lam[:, None])                               # d x P
            entering = []
            for s in (0, 1):
                if limit_status(deadline) is not None:      # P NNLS problems of size d x n
                    return PolishOutcome(False, None, math.inf, -math.inf, math.inf, math.inf,
                                         steps_total, rounds_used, "time limit")
                for i in range(P):
                    if (s, i) in in_support:
                        continue
                    Fl = sign[s] * XtDl[:, i]
                    r = float(np.linalg.norm(Fl))
                    if r > beta:
                        # min over mu >= 0 of ||F_b'lam - G_b'mu|| (G_b' = X' diag(E_i)). Any
                        # mu >= 0 bounds it from above: last round's fit usually still shows
                        # r <= beta (lam moves little), and then neither the entering test nor
                        # the dual scaling t (which only sees r > beta) needs the exact NNLS
                        Gt = X.T * E[:, i]
                        mu_old = zero_fits.get((s, i))
                        r_up = math.inf
                        if mu_old is not None:
                            # refit on last round's support only (at most d columns): still a
                            # feasible mu, so still an upper bound, at a fraction of the cost
                            cols = np.flatnonzero(mu_old > 0)
                            r_up = float(nnls(Gt[:, cols], Fl)[1]) if cols.size else r
                        if r_up <= beta:
                            r = r_up
                        else:
                            mu, r = nnls(Gt, Fl, maxiter=50 * n)
                            zero_fits[(s, i)] = mu
                            if r > beta * (1.0 + 1e-9):
                                entering.append((r, s, i, mu, Fl))
                    worst = max(worst, r)
            ll = float(lam @ lam)
            t_max = min(1.0, beta / worst) if worst > 0 else 1.0
            t = min(max(-float(lam @ y) / (n * ll), 0.0), t_max) if ll > 0 else 0.0
            dual_j = -t * float(lam @ y) - 0.5 * n * t * t * ll
            primal_j = 0.5 * n * ll + beta * sum(float(np.linalg.norm(zk)) for zk in z)
            rel_gap = (primal_j - dual_j) / max(abs(primal_j), 1e-300)
            gap_ok = rel_gap <= gap_tol
            gaps.append(rel_gap)
            if trace is not None:
                trace.append((rnd, changes, len(groups), rel_gap))
            if churn_start and rnd >= churn_start and churn_run >= CHURN_ROUNDS:
                recent = min(gaps[-CHURN_ROUNDS:])
                before = min(gaps[:-CHURN_ROUNDS], default=math.inf)
                if recent * CHURN_PROGRESS > before:
                    return PolishOutcome(False, None, math.inf, -math.inf, math.inf, math.inf,
                                         steps_total, rounds_used,
                                         f"active set churns ({changes} of {n_groups_round} "
                                         f"groups changed in round {rnd}; gap {rel_gap:.2g})",
                                         churned=True)
                progressed = True       # still churning, but the gap falls fast: go on
            if changes == 0 and (gap_ok or not entering) and loose:
                # settled on a loosely converged point: converge Newton and look again before
                # certifying (the certificate is only ever evaluated at the normal tolerance)
                loose = False
                continue
            if changes == 0 and (gap_ok or not entering):
                if gap_ok or tight:
                    certified = True
                    break
                # the active set has settled but the bound is loose: the dual scaling t sees
                # the Newton gradient's residual, so converge Newton further and look again
                tight = True
                continue
            # groups whose zero block violates its optimality condition enter along the
            # negative reduced gradient, in the null space of the rows their NNLS fit uses
            for _r, s, i, mu, Fl in sorted(entering, key=lambda e: -e[0])[:max(1, P // 10)]:
                act = np.flatnonzero(mu > 0)
                g = _Group(s, i, act, _null_basis(X[act], d))
                if g.basis.shape[1] == 0:
                    continue
                dirn = -(Fl - (X.T * E[:, i]) @ mu)
                zb = g.basis.T @ dirn
                if not np.any(zb):
                    continue
                groups.append(g)
                z.append(1e-3 * zb / np.linalg.norm(zb) * max(
                    (float(np.linalg.norm(zk)) for zk in z), default=1.0))
        if not certified:
            # an attempt the churn test let go on (its gap fell fast) and that still did not
            # settle counts as churned: the conic polish of the same iterate follows
            return PolishOutcome(False, None, math.inf, -math.inf, math.inf, math.inf,
                                 steps_total, rounds_used, "active set did not settle"
                                 + (" (churned; its gap fell too fast to stop)" if progressed
                                    else ""), churned=progressed)
        for g, zk in zip(groups, z):
            U_out[j, g.s, g.i] = g.basis @ zk
        dual_total += dual_j
    x = U_out.ravel()
    f = pb.objective(x)
    viol = pb.cone_violation(x)
    gap = (f - dual_total) / max(abs(f), 1e-300)
    ok = bool(viol <= feas_tol * 10 and gap <= gap_tol)
    reason = "certified" if ok else (f"cone violation {viol:.1e}" if viol > feas_tol * 10
                                     else f"certified gap {gap:.1e} > {gap_tol:g}")
    return PolishOutcome(ok, x, f, dual_total, gap, viol, steps_total, rounds_used, reason)


def _restricted_conic(pb: ReLUTraining, j: int, groups: list[tuple[int, int]],
                      rows: list[np.ndarray], deadline: float,
                      refine: bool = True) -> tuple[np.ndarray | None, str]:
    """CLARABEL's solution U (G x d) of output j's program restricted to ``groups`` (s, i) and to
    each group's cone rows ``rows``, posed directly in CLARABEL's standard form (no CVXPY: its
    compilation cost 1.2-1.4 s CPU of a 3.4-4.4 s polish on the two 20-d sets, with no stop check
    inside it). Variables x = [u (G d), r (n), t (G)]:

        min (1/2n) r'r + beta sum_b t_b   s.t.  r = sum_b +-D_i X u_b - y   (zero cone),
            (2 D_i - I)[K_b] X u_b >= 0  (nonnegative cone),  ||u_b|| <= t_b  (second-order cones).

    ``refine``: CLARABEL's iterative refinement of each KKT solve (its default). Without it a
    solve of the two 20-d tuning sets took 15-22 % less CPU time and still certified
    (docs/convex_relu.md, point 11): the dense n x G d fit block fills the LDL factor, so each
    refinement step's two triangular solves are not cheap next to the factorization.
    The solve gets the time left to ``deadline`` and a termination callback that reads
    limit_status, so a time limit and Ctrl-C end it within one interior-point iteration.
    (None, why) when it does not solve."""
    import clarabel

    X, n, d, beta = pb.X, pb.n_samples, pb.d, pb.beta
    Df = pb.D.astype(np.float64)
    E = 2.0 * Df - 1.0
    G = len(groups)
    nu = G * d
    nv = nu + n + G
    M = np.hstack([(1.0 if s == 0 else -1.0) * (Df[:, i:i + 1] * X) for s, i in groups])
    A_fit = sparse.hstack([sparse.csc_matrix(-M), sparse.identity(n, format="csc"),
                           sparse.csc_matrix((n, G))])
    Ac = sparse.block_diag([E[K, i][:, None] * X[K] for (_s, i), K in zip(groups, rows)],
                           format="csc")
    n_rows = Ac.shape[0]
    A_cone = sparse.hstack([-Ac, sparse.csc_matrix((n_rows, n + G))])
    # -(t_b, u_b) + s = 0 with s in the second-order cone of dimension d + 1
    soc_row = np.arange(G * (d + 1))
    soc_col = np.empty(G * (d + 1), dtype=np.intp)
    soc_col.reshape(G, d + 1)[:, 0] = nu + n + np.arange(G)
    soc_col.reshape(G, d + 1)[:, 1:] = np.arange(nu).reshape(G, d)
    A_soc = sparse.csc_matrix((-np.ones(soc_row.size), (soc_row, soc_col)),
                              shape=(G * (d + 1), nv))
    A = sparse.vstack([A_fit, A_cone, A_soc], format="csc")
    b = np.concatenate([-pb.Y[:, j], np.zeros(n_rows + G * (d + 1))])
    Pq = sparse.diags(np.concatenate([np.zeros(nu), np.full(n, 1.0 / n), np.zeros(G)]),
                      format="csc")
    q = np.concatenate([np.zeros(nu + n), np.full(G, beta)])
    cones = [clarabel.ZeroConeT(n), clarabel.NonnegativeConeT(n_rows)] + \
        [clarabel.SecondOrderConeT(d + 1)] * G
    if limit_status(deadline) is not None:          # building is O(n d G + rows d): check after
        return None, _stop_reason(deadline)
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    settings.tol_gap_abs = settings.tol_gap_rel = settings.tol_feas = 1e-8
    settings.iterative_refinement_enable = refine
    remaining = deadline - time.perf_counter()
    if math.isfinite(remaining):
        settings.time_limit = max(remaining, 1e-3)
    solver = clarabel.DefaultSolver(Pq, q, A, b, cones, settings)
    # called once per interior-point iteration (0.05-0.15 s on the 20-d sets): True stops it
    # (clarabel builds without the callback keep only the time limit above)
    if hasattr(solver, "set_termination_callback"):
        solver.set_termination_callback(lambda _info: limit_status(deadline) is not None)
    sol = solver.solve()
    status = str(sol.status)
    # a solve that stalls ("InsufficientProgress"; without iterative refinement it did on 2 of
    # the 7 fresh high-dimension sets, after 25 iterations where 21 solve it) still returns its
    # last iterate, usually within the certificate's reach: the caller certifies it on the full
    # program, and polish_conic repeats the attempt with refinement when that fails
    if status not in ("Solved", "AlmostSolved", "InsufficientProgress"):
        stop = limit_status(deadline)
        return None, _stop_reason(deadline) if stop is not None else f"CLARABEL status {status}"
    return np.asarray(sol.x)[:nu].reshape(G, d), ""


def _stop_reason(deadline: float) -> str:
    from solverhub.core.result import Status

    return "interrupted" if limit_status(deadline) == Status.INTERRUPTED else "time limit"


def conic_polish_unavailable() -> str | None:
    """Why the conic polish cannot run here (it needs clarabel), or None."""
    from importlib.util import find_spec

    return None if find_spec("clarabel") is not None else \
        "clarabel is not installed (pip install 'solverhub[cvxpy]')"


#: the conic polish first solves without CLARABEL's iterative refinement (polish_conic)
CONIC_REFINE_FIRST = False


def polish_conic(pb: ReLUTraining, V: np.ndarray, *, row_tol: float = 0.2,
                 group_tol: float = 0.0, gap_tol: float = 1e-7, feas_tol: float = 1e-9,
                 max_rounds: int = 4, deadline: float = math.inf,
                 refine: bool | None = None) -> PolishOutcome:
    """The conic polish (_polish_conic) with CLARABEL's iterative refinement off
    (CONIC_REFINE_FIRST; ``refine``: None for that, True/False to fix it): 15-22 % cheaper on
    the tuning sets. When that attempt neither certifies nor was stopped (a solve that fails,
    a stalled solve whose point does not certify, a certified gap just above ``gap_tol``), it
    is made again with the refinement on. Every accepted point is certified on the full
    program within ``gap_tol`` (certified_outcome)."""
    kw: dict[str, Any] = dict(row_tol=row_tol, group_tol=group_tol, gap_tol=gap_tol,
                              feas_tol=feas_tol, max_rounds=max_rounds, deadline=deadline)
    first = CONIC_REFINE_FIRST if refine is None else refine
    out = _polish_conic(pb, V, refine=first, **kw)
    if out.accepted or first or refine is not None \
            or out.reason in ("time limit", "interrupted") or conic_polish_unavailable():
        return out
    again = _polish_conic(pb, V, refine=True, **kw)
    again.reason = f"without refinement: {out.reason}; with: {again.reason}"
    again.rounds += out.rounds
    return again


def _polish_conic(pb: ReLUTraining, V: np.ndarray, *, row_tol: float, group_tol: float,
                  gap_tol: float, feas_tol: float, max_rounds: int, deadline: float,
                  refine: bool) -> PolishOutcome:
    """Polish the ADMM iterate ``V`` (c, 2, P, d) of a squared-loss problem by CLARABEL restricted
    to ADMM's nonzero groups and to their candidate active rows (_restricted_conic): the rows
    whose slack is <= ``row_tol`` times the group's largest |x_k'u|. Rows of the restricted
    solution that violate their cone are added and the restricted problem solved again (up to
    ``max_rounds`` solves). Groups whose norm is <= ``group_tol`` times the largest are left
    out (zero); a left-out group whose zero block violates its optimality condition (as in the
    certificate's NNLS) enters, with all its rows, and the problem is solved again.
    The point is certified as the ADMM's own iterates are
    (certify.certify_point: projection onto the full cones and a dual bound of the full
    program, zero groups included), and accepted only within ``gap_tol``. Stops (not accepted,
    reason "time limit" or "interrupted") at ``deadline`` or on Ctrl-C, checked around every
    build and solve and once per interior-point iteration.

    Where the Newton polish's active set does not settle (effective dimension above ~13: the
    optimum's groups hold 11-20 rows at equality and ADMM guesses hundreds wrong), this needs no
    exact guess: on make_classification 20-d a quarter to a half of the rows remain
    (docs/convex_relu.md)."""
    X, n, d, P, beta = pb.X, pb.n_samples, pb.d, pb.P, pb.beta
    Df = pb.D.astype(np.float64)
    E = 2.0 * Df - 1.0
    U_out = np.zeros_like(V)
    solves = 0

    def failed(reason: str) -> PolishOutcome:
        return PolishOutcome(False, None, math.inf, -math.inf, math.inf, math.inf, 0, solves,
                             reason)

    missing = conic_polish_unavailable()
    if missing is not None:
        return failed(missing)
    for j in range(pb.c):
        y = pb.Y[:, j]
        groups: list[tuple[int, int]] = []
        rows: list[np.ndarray] = []
        norms = np.linalg.norm(V[j], axis=-1)
        cut = group_tol * float(np.max(norms)) if norms.size else 0.0
        for s in (0, 1):
            for i in range(P):
                u = V[j, s, i]
                if not np.any(u) or norms[s, i] <= cut:
                    continue
                xu = X @ u
                groups.append((s, i))
                rows.append(np.flatnonzero(E[:, i] * xu <= row_tol * float(np.max(np.abs(xu)))))
        settled = False
        U = np.zeros((0, d))
        for _ in range(max_rounds):
            G = len(groups)
            if G == 0:
                settled = True
                break
            if limit_status(deadline) is not None:
                return failed(_stop_reason(deadline))
            U_new, why = _restricted_conic(pb, j, groups, rows, deadline, refine=refine)
            if U_new is None:
                return failed(why)
            U = U_new
            solves += 1
            added = 0
            yhat = np.zeros(n)
            for b, ((s, i), K) in enumerate(zip(groups, rows)):
                xu = X @ U[b]
                yhat += (1.0 if s == 0 else -1.0) * Df[:, i] * xu
                viol = np.flatnonzero(E[:, i] * xu < -feas_tol * max(float(np.max(np.abs(xu))),
                                                                     1e-300))
                new = np.setdiff1d(viol, K)
                if new.size:
                    rows[b] = np.union1d(K, new)
                    added += new.size
            # groups left out whose zero block violates its optimality condition
            # (min over mu >= 0 of ||F_b'lam - G_b'mu|| > beta) enter with all n rows
            lam = (yhat - y) / n
            XtDl = X.T @ (Df * lam[:, None])
            inside = set(groups)
            for s in (0, 1):
                if limit_status(deadline) is not None:      # up to P NNLS of size d x n
                    return failed(_stop_reason(deadline))
                for i in range(P):
                    if (s, i) in inside:
                        continue
                    Fl = (1.0 if s == 0 else -1.0) * XtDl[:, i]
                    if float(np.linalg.norm(Fl)) > beta and \
                            nnls(X.T * E[:, i], Fl, maxiter=50 * n)[1] > beta * (1.0 + 1e-6):
                        groups.append((s, i))
                        rows.append(np.arange(n))
                        added += 1
            if not added:
                settled = True
                break
        if not settled:
            return failed(f"restricted rows did not settle in {max_rounds} solves")
        for b, (s, i) in enumerate(groups[:U.shape[0]]):
            U_out[j, s, i] = U[b]
    if limit_status(deadline) is not None:
        return failed(_stop_reason(deadline))
    return certified_outcome(pb, U_out, solves, feas_tol=feas_tol, gap_tol=gap_tol,
                             deadline=deadline)


def certified_outcome(pb: ReLUTraining, U: np.ndarray, rounds: int, *, feas_tol: float, gap_tol: float,
                      deadline: float, loss_dual: np.ndarray | None = None) -> PolishOutcome:
    """A restricted polish's weights ``U`` judged on the full program: accepted when the
    certificate (``certify_point``, with the restricted solve's loss multipliers where given)
    gives a relative gap of at most ``gap_tol`` and the cone violation is at most
    ``10 feas_tol``."""
    cert = certify_point(pb, U.ravel(), loss_dual=loss_dual, deadline=deadline)
    x = cert.x
    gap = cert.relative_gap()
    cone_viol = pb.cone_violation(x)
    ok = bool(cone_viol <= feas_tol * 10 and gap <= gap_tol)
    reason = "certified" if ok else (f"cone violation {cone_viol:.1e}" if cone_viol > feas_tol * 10
                                     else f"certified gap {gap:.1e} > {gap_tol:g}")
    bound = cert.bound if cert.bound is not None else -math.inf
    return PolishOutcome(ok, x, cert.objective, bound, gap, cone_viol, 0, rounds, reason)
