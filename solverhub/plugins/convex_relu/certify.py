"""A feasible point and a Lagrange-dual lower bound for any iterate of the sampled convex program.

A first-order method's last iterate satisfies the cone constraints only approximately, and its
objective can lie *below* the optimum. Before any objective is reported:

1. :func:`project_to_cones` maps each block u_b onto its cone K_b = {u : (2 D_i - I) X u >= 0}
   (Euclidean projection by Moreau's decomposition, u + G_b' mu with mu = argmin_{mu >= 0}
   ||u + G_b' mu||, an NNLS on the rows near or past the boundary), then moves it a hair into the
   interior along its gate g_i ((2 D_i - I) X g_i >= 0 by the pattern's definition), so that the
   recovered network's own activation patterns are exactly D_i (adversarial training reads them).
2. :func:`dual_bound` evaluates the Lagrange dual of the program (our 1/n scaling, every loss,
   adversarial margins included) at a dual point built from the iterate:

       max_{Lam, mu >= 0}  -(1/n) sum_k loss_k*(n Lam_k)
       s.t.  || s_b sum_k d_ik Lam_k - X' (2 D_i - I) mu_b || <= beta    for every block b

   Lam_k (a d-vector per sample) is the loss gradient at the point divided by n (squared,
   logistic), or the method's own multiplier (hinge: ADMM's loss dual), written as
   (a_k / n) (-y_k x_k + eps w_k) with a_k in [0, 1] and |w_k| <= 1 for the margin losses so that
   it lies in the conjugate's domain; mu_b by NNLS; a common scaling t in [0, 1] makes the point
   dual feasible and is then chosen to maximise the (concave) dual value. The value is a lower
   bound on the sampled optimum whatever the iterate.

Both respect a deadline: past it, projection falls back to the gate move alone and the bound is
given up (None): a limit holds even when the bound would take long (n P NNLS problems).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from scipy.optimize import nnls
from scipy.special import xlogy

from .problem import ReLUTraining

__all__ = ["project_to_cones", "dual_bound", "Certificate", "certify_point"]

#: rows with slack below this fraction of the block's scale enter the projection's NNLS
_NEAR = 1e-3
#: relative move into the interior along the gate after the projection
_INTERIOR = 1e-10
#: a block whose repair along its gate would change it by more than this (relative) is zeroed
_MAX_GATE_MOVE = 0.1
#: the dual bound's NNLS uses at most max(this times d, _BOUND_ROWS_MIN) rows per block: the rows
#: most aligned with the block's dual residual; any subset gives a valid (looser) bound
_BOUND_ROWS_PER_DIM = 50
_BOUND_ROWS_MIN = 2000
#: the projection's NNLS takes at most this many (times d) of the most violated rows
_PROJECT_ROWS_PER_DIM = 8


def _gates(pb: ReLUTraining) -> np.ndarray | None:
    g = pb.gates
    if g is None or g.ndim != 2 or g.shape != (pb.d, pb.P):
        return None
    # the pattern of each kept gate must be the stored pattern (it is, unless D was edited)
    return g if np.array_equal((pb.X @ g) >= 0, pb.D) else None


def project_to_cones(pb: ReLUTraining, x: Any, *, deadline: float = math.inf) -> np.ndarray:
    """A cone-feasible copy of ``x`` (shape (c, 2, P, d) or flat), strictly inside each cone
    where the block is nonzero and its gate is known. Blocks that cannot be made feasible (no
    gate, projection failed) are set to zero, which is always feasible."""
    U = pb.blocks(x).copy()
    X, E = pb.X, 2.0 * pb.D - 1.0
    G = _gates(pb)
    XG = None if G is None else X @ G
    for j in range(pb.c):
        for s in (0, 1):
            XU = U[j, s] @ X.T                                   # (P, n)
            for i in np.flatnonzero(np.any(U[j, s] != 0.0, axis=1)):
                u = U[j, s, i]
                slack = E[:, i] * XU[i]
                scale = float(np.max(np.abs(XU[i])))
                if scale == 0.0:
                    continue
                if float(slack.min()) < 0.0 and time.perf_counter() < deadline:
                    u = _project_block(X, E[:, i], u, slack, scale)
                    slack = E[:, i] * (X @ u)
                if XG is not None and G is not None:  # both or neither
                    gs = E[:, i] * XG[:, i]                       # >= 0 by definition
                    need = slack < 0.0
                    t = 0.0
                    if need.any():
                        ok = gs[need] > 0
                        if not ok.all():
                            U[j, s, i] = 0.0
                            continue
                        t = float(np.max(-slack[need] / gs[need]))
                    gn = float(np.linalg.norm(G[:, i]))
                    un = float(np.linalg.norm(u))
                    if 2.0 * t * gn > _MAX_GATE_MOVE * un:
                        # the gate is nearly parallel to a violated row: the move would dwarf
                        # the block; zero (always feasible) costs less
                        U[j, s, i] = 0.0
                        continue
                    t = 2.0 * t + _INTERIOR * un / max(gn, 1e-300)
                    u = u + t * G[:, i]
                elif float(slack.min()) < -1e-13 * scale:
                    u = np.zeros_like(u)
                U[j, s, i] = u
    return U.reshape(-1) if np.ndim(x) == 1 else U


def _project_block(X: np.ndarray, e: np.ndarray, u: np.ndarray, slack: np.ndarray,
                   scale: float) -> np.ndarray:
    """Euclidean projection of u onto {u : e * (X u) >= 0} (Moreau: u + A' mu, mu = argmin_{mu >=
    0} ||u + A' mu||, A = diag(e) X), on the rows near the boundary first, all rows if needed."""
    n, d = X.shape
    rows = np.flatnonzero(slack <= _NEAR * scale)
    if rows.size > _PROJECT_ROWS_PER_DIM * d:      # the most violated rows (NNLS cost)
        rows = rows[np.argsort(slack[rows])[:_PROJECT_ROWS_PER_DIM * d]]
    for attempt in range(2):
        A = e[rows, None] * X[rows]
        mu, _ = nnls(A.T, -u, maxiter=50 * max(A.shape))
        p = u + A.T @ mu
        sl = e * (X @ p)
        # leftovers are repaired along the gate (or the block zeroed) by the caller; all rows
        # only where that NNLS is cheap
        if float(sl.min()) >= -1e-12 * scale or attempt or n > 2000:
            return p
        rows = np.arange(n)
    return p


def _margins(pb: ReLUTraining, U: np.ndarray, j: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Predictions z (n,) and, under eps > 0, Z = D (V - W) (n, d) of output j."""
    diff = U[j, 0] - U[j, 1]                                         # (P, d)
    Zr = pb.D.astype(np.float64) @ diff                              # (n, d)
    z = np.einsum("nd,nd->n", pb.X, Zr)
    return z, (Zr if pb.eps > 0 else None)


def dual_bound(pb: ReLUTraining, x: Any, *, loss_dual: np.ndarray | None = None,
               deadline: float = math.inf, fast: bool = False) -> float | None:
    """A lower bound on the sampled program's optimum from the point ``x`` (see the module
    docstring). ``loss_dual`` (c, n, d): the method's multiplier of the loss (Lam, e.g. ADMM's
    rho_z * xi); without it the loss gradient at ``x`` is used (for the hinge loss with
    a = 1 where the margin is below 1). None when ``deadline`` passes first. ``fast``: at most
    _PROJECT_ROWS_PER_DIM d rows per NNLS (a looser bound, for the grace after a limit)."""
    U = pb.blocks(x)
    X, n, d, beta = pb.X, pb.n_samples, pb.d, pb.beta
    Df = pb.D.astype(np.float64)
    E = 2.0 * Df - 1.0
    w_sample = pb.weights
    nbmask = np.zeros(d, dtype=bool)
    nbmask[pb.nonbias] = True
    total = 0.0
    for j in range(pb.c):
        y = pb.Y[:, j]
        z, Zr = _margins(pb, U, j)
        if pb.loss == "squared":
            lam = w_sample * (z - y) / n                              # Lam_k = lam_k x_k
            Lam = lam[:, None] * X
            ly, ll = float(lam @ y), float(np.sum(lam * lam / w_sample))

            def value(t: float) -> float:
                return -t * ly - 0.5 * n * t * t * ll
        else:
            m = y * z
            wsgn = np.zeros((n, d))
            if Zr is not None:
                m = m - pb.eps * np.abs(Zr[:, nbmask]).sum(axis=1)
                wsgn[:, nbmask] = np.sign(Zr[:, nbmask])
            if loss_dual is not None:
                L = loss_dual[j] * n / w_sample[:, None]
                if pb.bias:
                    a = -y * L[:, -1]
                else:
                    xn = np.maximum(np.einsum("nd,nd->n", X, X), 1e-300)
                    a = -y * np.einsum("nd,nd->n", L, X) / xn
                a = np.clip(a, 0.0, 1.0)
                if Zr is not None:
                    safe = np.maximum(a, 1e-300)[:, None]
                    wl = (L / safe + y[:, None] * X) / pb.eps
                    wsgn[:, nbmask] = np.clip(wl[:, nbmask], -1.0, 1.0)
                    wsgn[a <= 0.0] = 0.0
            elif pb.loss == "hinge":
                a = (m < 1.0).astype(np.float64)
            else:
                a = 0.5 * (1.0 - np.tanh(0.5 * m))                   # sigma(-m)
            coef = w_sample * a / n
            Lam = coef[:, None] * (-y[:, None] * X + pb.eps * wsgn)
            if pb.loss == "hinge":
                sa = float(np.sum(w_sample * a)) / n

                def value(t: float) -> float:
                    return t * sa
            else:
                def value(t: float) -> float:
                    ta = t * a
                    return -float(np.sum(w_sample * (xlogy(ta, ta) + xlogy(1 - ta, 1 - ta)))) / n
        C = Lam.T @ Df                                                # (d, P): sum_k d_ik Lam_k
        cn = np.linalg.norm(C, axis=0)
        # mu = 0 is a feasible multiplier, so r_b <= ||c_b||: blocks are taken in decreasing
        # ||c_b|| and those that cannot raise the worst residual found so far are skipped
        worst = float(np.max(cn[cn <= beta], initial=0.0))
        order = sorted(((float(cn[i]), i) for i in np.flatnonzero(cn > beta)), reverse=True)
        for cnorm, i in order:
            if cnorm <= worst:
                break
            if time.perf_counter() >= deadline:
                return None
            A = X.T * E[:, i]                                         # d x n
            for sgn in (1.0, -1.0):
                c = sgn * C[:, i]
                Ab = A
                keep = _PROJECT_ROWS_PER_DIM * d if fast else max(_BOUND_ROWS_PER_DIM * d,
                                                                  _BOUND_ROWS_MIN)
                if n > keep:
                    align = (c @ A) / np.maximum(np.linalg.norm(A, axis=0), 1e-300)
                    Ab = A[:, np.argpartition(-align, keep)[:keep]]
                mu, _ = nnls(Ab, c, maxiter=50 * max(Ab.shape))
                worst = max(worst, float(np.linalg.norm(c - Ab @ mu)))
        t_max = min(1.0, beta / worst) * (1.0 - 1e-12) if worst > 0 else 1.0
        total += _maximise(value, t_max)
    return total


def _maximise(value: Any, t_max: float) -> float:
    """max of a concave function of t on [0, t_max] (golden section; the end points included)."""
    lo, hi = 0.0, t_max
    best = max(value(lo), value(hi))
    g = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = value(a), value(b)
    for _ in range(80):
        if fa < fb:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = value(b)
        else:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = value(a)
        if hi - lo <= 1e-15 * max(t_max, 1e-300):
            break
    return max(best, fa, fb)


class Certificate:
    """A feasible point, its objective and a dual lower bound (or None). The point's cone
    violation is the kind's to check (the host does it after every solve)."""

    __slots__ = ("x", "objective", "bound")

    def __init__(self, x: np.ndarray, objective: float, bound: float | None) -> None:
        self.x, self.objective, self.bound = x, objective, bound

    def relative_gap(self) -> float:
        if self.bound is None or not math.isfinite(self.bound):
            return math.inf
        return max(self.objective - self.bound, 0.0) / max(abs(self.objective), 1e-300)


def certify_point(pb: ReLUTraining, x: Any, *, loss_dual: np.ndarray | None = None,
                  deadline: float = math.inf, fast: bool = False) -> Certificate:
    """Project ``x`` onto the cones, evaluate it, and bound the optimum from it."""
    x = np.asarray(x, dtype=np.float64).ravel()
    xf = project_to_cones(pb, x, deadline=deadline)
    # the dual point is read off the iterate itself (any point gives a valid bound; the
    # iterate's loss gradient is the method's own estimate of the multiplier)
    bound = dual_bound(pb, x, loss_dual=loss_dual, deadline=deadline, fast=fast)
    f = pb.objective(xf)
    if bound is not None:
        bound = min(bound, f)
    return Certificate(xf, f, bound)
