"""``convex-relu-admm``: ADMM for the sampled convex program (Bai, Gautam, Sojoudi 2023, Alg. 1).

Variables u = (v_1..v_P, w_1..w_P) for each output, stacked as U of shape (c, 2, P, d).
Two splittings, both with the paper's v-step (group soft-threshold) and s-step (cone projection):

``woodbury`` (squared loss, the paper's ADMM): u - v = 0, G u - s = 0, s >= 0; scaled duals
lambda, nu. The u-step solves (I + G'G + F'F/(n rho)) u = F'y/(n rho) + v - lambda + G'(s - nu)
(paper eq. for step 1, in our 1/n loss scaling). Since (2 D_i - I)^2 = I, G_i'G_i = X'X and
B = I + G'G = blockdiag(I + X'X); with M = (I + X'X)^-1 and K = X M X', the Woodbury identity gives
A^-1 r = rM - (F' (n rho I + H)^-1 F (rM)) M with H = F B^-1 F' = 2 K o (D D') (n x n). H is
eigendecomposed once, so a change of rho (residual balancing) costs nothing; an iteration is
O(n d P + n^2).

``split`` (hinge and logistic losses, adversarial training; also valid for squared): the loss
is split off with Z = D (V - W) (n x d per output: row k is sum_i d_ik (v_i - w_i), so that
yhat_k = x_k'Z_k and the robust margin is y_k x_k'Z_k - eps ||Z_k||_1). The u-step then solves
(I + G'G + R'R) u = rhs exactly: the sum V + W needs M, the difference V - W the Sylvester
equation Delta (I + X'X) + 2 (D'D) Delta = r, solved with the eigendecompositions of D'D (P x P)
and X'X (d x d) made once. The loss enters only through a per-sample prox (closed form for
squared and hinge, Newton for logistic, bisection on the prox multiplier under eps > 0). This
replaces the inexact u-step the paper suggests for non-quadratic losses by an exact one (see
docs/convex_relu.md).

Steps 2-4 (paper): v <- group soft-threshold(u + lambda, beta / rho); s <- (G u + nu)_+;
lambda += gamma (u - v), nu += gamma (G u - s). Stopping: primal and dual residuals below
eps_abs sqrt(p) + eps_rel * scale (Boyd et al. 2011, sec. 3.3.1), then a certificate (certify.py:
the iterate projected onto the cones and a Lagrange-dual bound); ``optimal`` only within rel_gap of
the bound, else the tolerances tighten and ADMM goes on. The reported point is always the feasible
one, never the raw iterate (issue 25). Adaptive rho: residual
balancing (Boyd et al. sec. 3.4.1, mu = 10, tau = 2) every ``adapt_every`` iterations.

Polishing (squared loss, ``polish=True`` by default; polish.py, not in the paper): at
iterations polish_start, 2 polish_start, 4 polish_start, ... and at the end, the support and
the active cone rows of the iterate define a reduced smooth problem solved by Newton; that
point is returned only when it is cone feasible and certified by a dual bound within
``polish_gap`` (relative). Hinge and logistic (eps >= 0; polish_margin.py, issue 23): Clarabel on
a working set of the iterate's largest blocks (logistic: and of the blocks the ADMM's loss
multiplier rho_z xi marks as most violating), grown by the blocks whose optimality condition
fails, certified on the full program within ``polish_gap``.

Array namespace: the iteration is written once against ``xp = array_namespace(device)`` (NumPy
for "cpu", CuPy for "cuda" from the CUDA plugin); only polishing runs on the host.
"""

from __future__ import annotations

import math
import os
import time
from types import ModuleType
from typing import Any, Literal

import numpy as np
from pydantic import Field

from solverhub.core.arrays import array_namespace, to_host
from solverhub.core.errors import BadInputError
from solverhub.core.observers import NULL_NOTIFIER
from solverhub.core.options import DeviceOptions, IterationLimitOptions
from solverhub.core.result import Result, Status
from solverhub.core.solver import SolverBase
from solverhub.core.timing import deadline_of, limit_status

from .certify import Certificate, certify_point
from .polish import CHURN_START, PolishOutcome, polish_conic, polish_squared
from .polish_margin import clarabel_unavailable, polish_margin
from .problem import ReLUTraining

__all__ = ["AdmmOptions", "ConvexReluAdmm", "run_admm"]

#: largest n d 2P c for which the (host) polishing is attempted; breast_cancer at P = 200 is 5e6
POLISH_MAX_WORK = 1e9
#: seconds the final certificate (projection and dual bound) may run past a time limit or Ctrl-C
CERTIFY_GRACE = 0.8


class AdmmOptions(IterationLimitOptions, DeviceOptions):

    max_iterations: int = Field(20000, ge=1, description="iteration limit")
    rho: float = Field(0.1, gt=0, description="initial penalty rho (adapted when adaptive_rho)")
    gamma: float = Field(1.0, gt=0, lt=2, description="dual step gamma (paper's step 4)")
    adaptive_rho: bool = Field(True, description="residual balancing of rho (mu=10, tau=2)")
    adapt_every: int = Field(10, ge=1, description="iterations between rho updates")
    eps_abs: float = Field(1e-7, gt=0, description="absolute residual tolerance")
    eps_rel: float = Field(1e-6, gt=0, description="relative residual tolerance")
    relaxation: float = Field(1.0, gt=0, lt=2, description="over-relaxation alpha (1: none)")
    rho_rule: Literal["balance", "normalized"] = Field(
        "normalized", description="balance: Boyd's mu=10/tau=2 on raw residuals; normalized: "
                                  "residuals relative to their scales, rho *= sqrt(ratio)")
    rho_step: float = Field(2.0, ge=1.0, description="normalized rule: largest factor by which "
                                                      "one update changes a penalty")
    max_rho_updates: int = Field(50, ge=0, description="rho is frozen after this many changes")
    anderson: int = Field(0, ge=0, description="Anderson acceleration memory (0: off)")
    splitting: Literal["auto", "woodbury", "split"] = Field(
        "auto", description="auto: woodbury for the squared loss without eps, split otherwise")
    polish: bool = Field(True, description="squared loss: active-set Newton polishing with a "
                                           "dual certificate (polish.py); hinge and logistic: "
                                           "Clarabel on a working set of blocks, certified on "
                                           "the full program (polish_margin.py; needs "
                                           "clarabel); false: the paper's ADMM only")
    polish_method: Literal["newton", "conic", "newton-conic"] = Field(
        "newton", description="newton: the active-set Newton polish (polish.py polish_squared); "
                              "conic: CLARABEL restricted to ADMM's nonzero groups and their "
                              "candidate active rows (polish_conic; needs clarabel), for data of "
                              "high effective dimension where the Newton polish does not settle; "
                              "newton-conic: Newton, and the conic polish of the same iterate "
                              "when Newton's active set churns (PolishOutcome.churned)")
    polish_row_tol: float = Field(0.2, gt=0, description="conic polish: rows whose slack is <= "
                                                         "this times the group's largest |x'u| "
                                                         "are kept")
    polish_group_tol: float = Field(0.0, ge=0, lt=1, description="conic polish: groups whose "
                                                                "norm is <= this times the "
                                                                "largest are left out (zero)")
    polish_start: int = Field(200, ge=1, description="first polishing attempt; then at 2x, 4x, ...")
    polish_start_groups: int = Field(10, ge=1, description="hinge/logistic polish: the working "
                                     "set starts with this many of the iterate's largest "
                                     "blocks (polish_margin.py)")
    polish_dual_groups: int = Field(20, ge=0, description="logistic polish: the "
                                    "working set also starts with this many blocks whose "
                                    "optimality condition the ADMM's own loss multiplier "
                                    "violates most (polish_margin.py)")
    polish_grow: float = Field(1.0, gt=0, description="hinge/logistic polish: at most this "
                                                      "times the working set's size of the "
                                                      "most violating blocks enter per solve")
    polish_rounds: int = Field(40, ge=1, description="active-set rounds of one polishing "
                                                     "attempt (every attempt that certified on "
                                                     "the tuning sets took 13-30)")
    max_polish_failures: int | None = Field(
        None, ge=1, description="stop (status feasible, info['polish_gave_up']) after this many "
                                "failed polishing attempts; None: go on to the limits "
                                "(convex-relu-auto passes 2 and then routes to CLARABEL)")
    polish_gap: float = Field(1e-7, gt=0, description="accept a polished point whose objective "
                                                      "is within this (relative) of its dual bound")
    device: str = Field("cpu", description="array device: cpu (NumPy) or a plugin's device, "
                                           "e.g. cuda (CuPy)")
    rel_gap: float = Field(1e-5, gt=0, description="optimal only when the feasible point's "
                                                   "objective is within this (relative) of the "
                                                   "Lagrange-dual bound")
    woodbury_max_n: int = Field(1500, ge=1, description="auto splitting: the woodbury u-step "
                                                        "(an n x n eigendecomposition) only up "
                                                        "to this many samples, split above")


def _group_shrink(xp: ModuleType, A: Any, thr: float) -> Any:
    """Group soft-threshold over the last axis (the paper's step 2)."""
    norms = xp.sqrt(xp.sum(A * A, axis=-1, keepdims=True))
    scale = xp.maximum(1.0 - thr / xp.maximum(norms, 1e-300), 0.0)
    return A * scale


def _norm(xp: ModuleType, A: Any) -> float:
    return float(xp.sqrt(xp.sum(A * A)))


def _margin_loss(xp: ModuleType, loss: str, m: Any) -> Any:
    if loss == "hinge":
        return xp.maximum(1.0 - m, 0.0)
    return xp.logaddexp(0.0, -m)


class ConvexReluAdmm(SolverBase[AdmmOptions]):
    """ADMM with a factor-once (Woodbury / eigen) u-step; see the module docstring."""

    Options = AdmmOptions

    # ------------------------------------------------------------------ solve
    def solve(self, problem: Any, *, time_limit: float | None = None, seed: int = 0,
              notifier: Any = NULL_NOTIFIER) -> Result:
        t0 = time.perf_counter()
        # the host validates before calling; a direct call (run_admm, the conformance checks)
        # must not reach LAPACK with NaN data (LinAlgError instead of a named bad input)
        problem.validate()
        if problem.robust_cones and problem.eps > 0:
            raise BadInputError(f"{problem.name}: robust cones are not linear constraints; use "
                                f"convex-relu-cvxpy (or robust_cones=false: robust loss only)")
        split = self.splitting
        plain_squared = problem.loss == "squared" and problem.eps == 0 \
            and problem.sample_weight is None
        if split == "auto":
            # the woodbury u-step needs an n x n eigendecomposition (O(n^3), n^2 memory): past
            # woodbury_max_n samples the split u-step (P x P and d x d factors) is the cheaper one
            split = "woodbury" if plain_squared and problem.n_samples <= self.woodbury_max_n \
                else "split"
        if split == "woodbury" and not plain_squared:
            raise BadInputError("splitting='woodbury' is the paper's u-step for the squared loss "
                                "without eps or sample weights; use splitting='split' (or auto)")
        check_memory(problem, split)
        xp = array_namespace(self.device)
        return self._run(problem, split, t0, deadline_of(t0, time_limit), notifier, xp)

    def _run(self, pb: ReLUTraining, split: str, t0: float, deadline: float, notifier: Any,
             xp: ModuleType) -> Result:
        n, d, P, c = pb.n_samples, pb.d, pb.P, pb.c
        X = xp.asarray(pb.X)
        Y = xp.asarray(np.ascontiguousarray(pb.Y.T))                 # (c, n)
        Df = xp.asarray(pb.D.astype(np.float64))
        Et = xp.ascontiguousarray((2.0 * Df - 1.0).T)                # (P, n)
        XT = xp.ascontiguousarray(X.T)                               # (d, n)
        DT = xp.ascontiguousarray(Df.T)                              # (P, n)
        beta = pb.beta

        # the pattern products, each one plain 2-D matrix product (batched broadcasting is slower)
        def G(U):       # G u = (2 D_i - I) X u_i: (c,2,P,d) -> (c,2,P,n)
            return (U.reshape(-1, d) @ XT).reshape(c, 2, P, n) * Et

        def Gt(S):      # G' s = X' (2 D_i - I) s_i: (c,2,P,n) -> (c,2,P,d)
            return ((Et * S).reshape(-1, n) @ X).reshape(c, 2, P, d)

        def F(U):       # F u = sum_i D_i X (v_i - w_i): (c,2,P,d) -> (c,n)
            return xp.sum(((U[:, 0] - U[:, 1]).reshape(-1, d) @ XT).reshape(c, P, n) * DT, axis=1)

        def Ft(q):      # F' q = (X' D_i q, -X' D_i q): (c,n) -> (c,2,P,d)
            T = ((DT[None] * q[:, None, :]).reshape(-1, n) @ X).reshape(c, P, d)
            return xp.stack([T, -T], axis=1)

        def R(U):       # u -> D (V - W): (c,2,P,d) -> (c,n,d)
            diff = U[:, 0] - U[:, 1]
            return xp.stack([Df @ diff[j] for j in range(c)])

        def Rt(W):      # (c,n,d) -> (c,2,P,d)
            T = xp.stack([DT @ W[j] for j in range(c)])
            return xp.stack([T, -T], axis=1)

        def objective(V) -> float:
            if split == "woodbury":
                r = F(V) - Y
                return 0.5 * float(xp.sum(r * r)) / n \
                    + beta * float(xp.sum(xp.sqrt(xp.sum(V * V, axis=-1))))
            return self._objective_split(xp, pb, V, F, R, Y)

        info: dict[str, Any] = {"splitting": split, "device": self.device}
        t_setup = time.perf_counter()
        XtX = X.T @ X
        l2, Q2 = xp.linalg.eigh(XtX)
        l2 = xp.maximum(l2, 0.0)
        if split == "woodbury":
            FtY = Ft(Y) / n
            DDt = Df @ Df.T
            cache: dict[float, tuple[Any, Any, Any]] = {}

            def factor(r: float):
                """M = (r I + X'X)^-1 and the eigendecomposition of H = 2 (X M X') o (D D')."""
                if r not in cache:
                    if len(cache) > 4:
                        cache.clear()
                    Mr = (Q2 / (r + l2)) @ Q2.T
                    XQ = X @ (Q2 / xp.sqrt(r + l2))
                    H = 2.0 * (XQ @ XQ.T) * DDt
                    lh, Qh = xp.linalg.eigh(0.5 * (H + H.T))
                    cache[r] = (Mr, xp.maximum(lh, 0.0), Qh)
                return cache[r]
        else:
            l1, Q1 = xp.linalg.eigh(Df.T @ Df)
            l1 = xp.maximum(l1, 0.0)
            xnorm2 = xp.sum(X * X, axis=1)                          # (n,)
            nb = pb.nonbias
        info["setup_time"] = time.perf_counter() - t_setup
        rel_tol = 1.0          # the residual tolerances' factor: cut when the gap is not certified
        cert: Certificate | None = None

        U = xp.zeros((c, 2, P, d))
        V = xp.zeros_like(U)
        Lam = xp.zeros_like(U)
        S = xp.zeros((c, 2, P, n))
        Nu = xp.zeros_like(S)
        # arrays of the xp namespace (Any, as every array here) with split="split", else None
        Z: Any = None
        Xi: Any = None
        if split == "split":
            Z = xp.zeros((c, n, d))
            Xi = xp.zeros_like(Z)
        # one penalty per constraint block: u = v, G u = s, (split) R u = Z
        rv = rs = rz = self.rho
        p_dim = U.size + S.size + (Z.size if split == "split" else 0)
        sq_u = math.sqrt(U.size)
        a = self.relaxation
        status = Status.ITERATION_LIMIT
        k = 0
        r_norm = s_norm = math.inf
        n_adapt = 0
        aa_dF: Any = None  # Anderson's ring buffers, allocated on the first step
        aa_dG: Any = None
        aa_n = 0
        aa_prev = None
        aa_best = math.inf
        # polishing is host work of about n d 2P c flops per round: skipped on problems so large
        # (the GPU sizes) that a round would cost more than many device iterations
        # hinge/logistic (eps >= 0): the working-set polish, which needs clarabel
        margin = pb.loss != "squared"
        polishable = split == "woodbury" or margin
        if self.polish and margin and clarabel_unavailable() is not None:
            info["polish_skipped"] = clarabel_unavailable()
            polishable = False
        do_polish = self.polish and polishable and n * d * 2 * P * c <= POLISH_MAX_WORK
        if self.polish and polishable and not do_polish:
            info["polish_skipped"] = f"n d 2P c = {n * d * 2 * P * c:.2g} > {POLISH_MAX_WORK:.0e}"
        next_polish = self.polish_start
        polished: PolishOutcome | None = None
        polish_log: list[dict[str, Any]] = []
        t_polish = 0.0
        n_polish_failed = 0
        while True:
            if k >= self.max_iterations:
                break
            stop = limit_status(deadline)
            if stop is not None:
                status = stop
                break
            k += 1
            # ---- step 1: u-update (exact linear solve with the factors made once)
            if split == "woodbury":
                Mr, lh, Qh = factor(rv / rs)
                # the factorization of a new penalty ratio is the set-up's big step: check again
                stop = limit_status(deadline)
                if stop is not None:
                    k -= 1
                    status = stop
                    break
                Rh = (FtY + rv * (V - Lam) + rs * Gt(S - Nu)) / rs
                Zm = Rh @ Mr
                q = F(Zm)
                q = ((q @ Qh) / (n * rs + lh)) @ Qh.T
                U = Zm - Ft(q) @ Mr
            else:
                Rh = rv * (V - Lam) + rs * Gt(S - Nu) + rz * Rt(Z - Xi)
                Sig = ((Rh[:, 0] + Rh[:, 1]) @ Q2 / (rv + rs * l2)) @ Q2.T
                Dl = Q1 @ ((Q1.T @ (Rh[:, 0] - Rh[:, 1]) @ Q2)
                           / (2.0 * rz * l1[:, None] + rv + rs * l2[None, :])) @ Q2.T
                U = xp.stack([0.5 * (Sig + Dl), 0.5 * (Sig - Dl)], axis=1)
            # an iteration is O(n d P c) (about a second at n = 1e5 on a loaded core): check the
            # limit between its halves too, so it holds within a fraction of an iteration
            stop = limit_status(deadline)
            if stop is not None:
                k -= 1
                status = stop
                break
            # over-relaxation (Boyd et al. 2011, sec. 3.4.3): alpha = 1 is the paper's ADMM
            GU = G(U)
            Uh = U if a == 1.0 else a * U + (1.0 - a) * V
            GUh = GU if a == 1.0 else a * GU + (1.0 - a) * S
            # ---- step 2: v-update (group soft-threshold)
            V_old = V
            V = _group_shrink(xp, Uh + Lam, beta / rv)
            # ---- step 3: s-update (cone projection)
            S_old = S
            S = xp.maximum(GUh + Nu, 0.0)
            if split == "split":
                RU = R(U)
                RUh = RU if a == 1.0 else a * RU + (1.0 - a) * Z
                Z_old = Z
                Z = self._loss_prox(xp, pb, RUh + Xi, Y, X, xnorm2, nb, 1.0 / (n * rz))
            # ---- step 4: dual updates (scaled duals)
            Lam = Lam + self.gamma * (Uh - V)
            Nu = Nu + self.gamma * (GUh - S)
            if split == "split":
                Xi = Xi + self.gamma * (RUh - Z)
            stop = limit_status(deadline)
            if stop is not None:
                status = stop
                break
            # ---- residuals, per block and stacked
            pv = _norm(xp, U - V)
            ps = _norm(xp, GU - S)
            dv = rv * _norm(xp, V - V_old)
            GtdS = Gt(S - S_old)
            ds = rs * _norm(xp, GtdS)
            dual = rv * (V - V_old) + rs * GtdS
            yv, ys = rv * Lam, rs * Gt(Nu)
            sc_p = [max(_norm(xp, U), _norm(xp, V)), max(_norm(xp, GU), _norm(xp, S))]
            sc_d = [_norm(xp, yv), _norm(xp, ys)]
            prim = [pv, ps]
            duals = [dv, ds]
            ydual = yv + ys
            if split == "split":
                pz = _norm(xp, RU - Z)
                RtdZ = Rt(Z - Z_old)
                dz = rz * _norm(xp, RtdZ)
                dual = dual + rz * RtdZ
                yz = rz * Rt(Xi)
                ydual = ydual + yz
                prim.append(pz)
                duals.append(dz)
                sc_p.append(max(_norm(xp, RU), _norm(xp, Z)))
                sc_d.append(_norm(xp, yz))
            r_norm = math.sqrt(sum(v * v for v in prim))
            s_norm = _norm(xp, dual)
            if not (math.isfinite(r_norm) and math.isfinite(s_norm)):
                return Result(Status.ERROR, runtime=time.perf_counter() - t0, iterations=k,
                              error=f"convex-relu-admm: non-finite residuals at iteration {k} "
                                    f"(rho {rv:g})", info=info)
            eps_pri = rel_tol * (math.sqrt(p_dim) * self.eps_abs + self.eps_rel * math.sqrt(
                sum(v * v for v in sc_p)))
            eps_dual = rel_tol * (sq_u * self.eps_abs + self.eps_rel * _norm(xp, ydual))
            # the iterate's objective (not an incumbent: the iterate is not cone feasible)
            obj = objective(V)
            notifier.iteration(k, {"objective": obj, "primal_residual": r_norm,
                                   "dual_residual": s_norm, "rho": rv})
            if r_norm <= eps_pri and s_norm <= eps_dual:
                # residuals small: a feasible point and a dual bound decide, not the residuals
                cert = self._certify(pb, V, split, rz, Xi, deadline + CERTIFY_GRACE)
                if cert.relative_gap() <= self.rel_gap:
                    status = Status.OPTIMAL
                    break
                cert = None
                rel_tol *= 0.1
                if rel_tol < 1e-6:          # tolerances 1e6 tighter and still no certificate
                    break
            # ---- polishing on a geometric schedule (host path; see polish.py)
            if do_polish and k == next_polish:
                next_polish *= 2
                tp = time.perf_counter()
                last = self.max_polish_failures is not None \
                    and n_polish_failed + 1 >= self.max_polish_failures
                polished = self._try_polish(pb, V, S, deadline, last=last,
                                            loss_dual=self._loss_dual(pb, split, rz, Xi))
                t_polish += time.perf_counter() - tp
                polish_log.append({"iteration": k, "accepted": polished.accepted,
                                   "relative_gap": polished.relative_gap,
                                   "reason": polished.reason})
                if polished.accepted:
                    status = Status.OPTIMAL
                    break
                polished = None
                n_polish_failed += 1
                if self.max_polish_failures is not None \
                        and n_polish_failed >= self.max_polish_failures:
                    info["polish_gave_up"] = True
                    status = Status.FEASIBLE
                    break
            # ---- adaptive rho, one penalty per block; scaled duals rescale with 1/tau
            # (rho is frozen after max_rho_updates changes: ADMM with a penalty that changes
            # forever need not converge; a fixed one does)
            if self.adaptive_rho and k % self.adapt_every == 0 and n_adapt < self.max_rho_updates:
                taus = []
                for b in range(len(prim)):
                    tau = 1.0
                    if self.rho_rule == "balance":
                        if prim[b] > 10.0 * duals[b]:
                            tau = 2.0
                        elif duals[b] > 10.0 * prim[b]:
                            tau = 0.5
                    else:
                        # residuals relative to their scales (as OSQP does): rho *= sqrt(ratio)
                        rel_p = prim[b] / max(sc_p[b], 1e-300)
                        rel_d = duals[b] / max(sc_d[b], 1e-300)
                        ratio = math.sqrt(rel_p / max(rel_d, 1e-300))
                        if ratio > 5.0 or ratio < 0.2:
                            tau = min(max(ratio, 1.0 / self.rho_step), self.rho_step)
                    taus.append(tau)
                if any(t_ != 1.0 for t_ in taus):
                    n_adapt += 1
                    rv, Lam = rv * taus[0], Lam / taus[0]
                    rs, Nu = rs * taus[1], Nu / taus[1]
                    if split == "split":
                        rz, Xi = rz * taus[2], Xi / taus[2]
                    aa_prev = None
            # ---- Anderson acceleration (type II; Walker and Ni 2011) of the ADMM map
            # z -> T(z), z = the whole state, memory m in ring buffers; the history is dropped
            # whenever rho changes or the fixed-point residual doubles its best value
            if self.anderson > 0:
                parts = [V, S, Lam, Nu] + ([Z, Xi] if split == "split" else [])
                g = xp.concatenate([a_.ravel() for a_ in parts])
                if aa_prev is None:
                    m_ = self.anderson
                    aa_dF, aa_dG = xp.empty((m_, g.size)), xp.empty((m_, g.size))
                    aa_n = 0
                    aa_prev = (g, None, None)
                else:
                    f = g - aa_prev[0]
                    fn_ = _norm(xp, f)
                    if aa_prev[1] is not None:
                        if fn_ > 2.0 * aa_best:
                            aa_n = 0
                        else:
                            j_ = aa_n % self.anderson
                            aa_dF[j_] = f - aa_prev[1]
                            aa_dG[j_] = g - aa_prev[2]
                            aa_n += 1
                    aa_best = min(aa_best, fn_)
                    f_keep, g_keep = f, g
                    mm = min(aa_n, self.anderson)
                    if mm:
                        Fm = aa_dF[:mm]
                        gram = Fm @ Fm.T
                        gram = gram + (1e-12 * float(xp.trace(gram)) + 1e-300) * xp.eye(mm)
                        gam = xp.linalg.solve(gram, Fm @ f)
                        g = g - gam @ aa_dG[:mm]
                    aa_prev = (g, f_keep, g_keep)
                off = 0
                new = []
                for a_ in parts:
                    new.append(g[off:off + a_.size].reshape(a_.shape))
                    off += a_.size
                if split == "split":
                    V, S, Lam, Nu, Z, Xi = new
                else:
                    V, S, Lam, Nu = new
        # a last polishing attempt when ADMM stopped on its own (not on a time limit or Ctrl-C)
        # after at least polish_start iterations (an earlier iterate is a poor guess, and an
        # attempt from it can cost far more than the iterations did)
        if do_polish and polished is None and cert is None and k >= self.polish_start \
                and status in (Status.OPTIMAL, Status.ITERATION_LIMIT) \
                and "polish_gave_up" not in info:
            tp = time.perf_counter()
            cand = self._try_polish(pb, V, S, deadline,
                                    loss_dual=self._loss_dual(pb, split, rz, Xi))
            t_polish += time.perf_counter() - tp
            polish_log.append({"iteration": k, "accepted": cand.accepted,
                               "relative_gap": cand.relative_gap, "reason": cand.reason})
            if cand.accepted:
                polished, status = cand, Status.OPTIMAL
        bound: float | None = None
        if polished is not None:
            x, obj, bound = polished.x, polished.objective, polished.dual_bound
            notifier.iteration(k, {"objective": obj, "primal_residual": 0.0,
                                   "dual_residual": 0.0, "rho": rv})
        else:
            # never the bare iterate: it violates the cones and its objective can lie below the
            # optimum. Project it onto the cones and bound the optimum from it (certify.py)
            info["iterate_objective"] = objective(V)
            if cert is None:
                now = time.perf_counter()
                stopped = status in (Status.TIME_LIMIT, Status.INTERRUPTED)
                limit = now + CERTIFY_GRACE if stopped else deadline + CERTIFY_GRACE
                cert = self._certify(pb, V, split, rz, Xi, limit, fast=stopped)
            x, obj, bound = cert.x, cert.objective, cert.bound
            if status not in (Status.TIME_LIMIT, Status.INTERRUPTED):
                info["iterate_cone_violation"] = pb.cone_violation(to_host(V).ravel())
            gap_ok = cert.relative_gap() <= self.rel_gap
            if gap_ok and status != Status.INTERRUPTED:
                status = Status.OPTIMAL
            elif status == Status.OPTIMAL:
                status = Status.FEASIBLE
            elif status not in (Status.TIME_LIMIT, Status.INTERRUPTED, Status.ITERATION_LIMIT):
                status = Status.FEASIBLE
        t = time.perf_counter() - t0
        if not math.isfinite(obj):
            return Result(Status.ERROR, runtime=t, iterations=k, info=info,
                          error="convex-relu-admm: non-finite objective at the final iterate")
        traj = [(t, obj)]
        notifier.incumbent(t, obj, bound)
        info.update({"primal_residual": r_norm, "dual_residual": s_norm, "rho_final": rv,
                     "rho_cone_final": rs, "rho_loss_final": rz if split == "split" else None,
                     "rho_updates": n_adapt, "patterns": pb.P,
                     "polished": polished is not None, "polish_time": t_polish,
                     "polish_attempts": polish_log})
        if polished is not None:
            info.update({"polish_dual_bound": polished.dual_bound,
                         "polish_relative_gap": polished.relative_gap})
        return Result(status, objective=obj, bound=bound, x=x, runtime=t, iterations=k,
                      trajectory=traj, info=info)

    def _certify(self, pb: ReLUTraining, V: Any, split: str, rz: float, Xi: Any,
                 deadline: float, fast: bool = False) -> Certificate:
        """Feasible point and dual bound from the v iterate; the split form passes its loss
        multiplier (rho_z xi = the loss gradient / n at the prox point) for the margin losses."""
        return certify_point(pb, to_host(V).ravel(), loss_dual=self._loss_dual(pb, split, rz, Xi),
                             deadline=deadline, fast=fast)

    @staticmethod
    def _loss_dual(pb: ReLUTraining, split: str, rz: float, Xi: Any) -> np.ndarray | None:
        """The split form's multiplier of the loss (rho_z xi = the loss gradient / n at the
        prox point), host (c, n, d), for the margin losses; None otherwise."""
        if split == "split" and pb.loss != "squared":
            return rz * to_host(Xi)
        return None

    def _try_polish(self, pb: ReLUTraining, V: Any, S: Any, deadline: float,
                    last: bool = False, loss_dual: np.ndarray | None = None) -> PolishOutcome:
        """Polish on the host: ADMM's support (V) and its guess of the rows at equality (s = 0).
        ``last``: the attempt after which max_polish_failures stops the run (newton-conic then
        tries the conic polish whatever the reason Newton failed)."""
        gap_tol = min(self.polish_gap, self.rel_gap)
        if pb.loss != "squared":
            return polish_margin(pb, to_host(V), start_groups=self.polish_start_groups,
                                 grow=self.polish_grow, gap_tol=gap_tol, deadline=deadline,
                                 admm_dual=loss_dual, dual_groups=self.polish_dual_groups)
        if self.polish_method == "conic":
            return polish_conic(pb, to_host(V), row_tol=self.polish_row_tol,
                                group_tol=self.polish_group_tol, gap_tol=gap_tol,
                                deadline=deadline)
        both = self.polish_method == "newton-conic"
        # the churn test only where a conic polish follows (it stops some attempts that would
        # have settled later: make_regression 30-d certified at round 37, after churning)
        out = polish_squared(pb, to_host(V), to_host(S) <= 0.0, gap_tol=gap_tol,
                             deadline=deadline, max_rounds=self.polish_rounds,
                             churn_start=CHURN_START if both else 0)
        if both and (out.churned or last):
            # Newton's guess of the rows at equality is far off (nearly every group still
            # changes a row per round), or this is the last attempt before the run stops: the
            # conic re-solve needs no exact guess, and costs about half a full CLARABEL solve
            conic = polish_conic(pb, to_host(V), row_tol=self.polish_row_tol,
                                 group_tol=self.polish_group_tol, gap_tol=gap_tol,
                                 deadline=deadline)
            conic.reason = f"newton: {out.reason}; conic: {conic.reason}"
            conic.newton_steps = out.newton_steps
            return conic
        return out

    @staticmethod
    def _objective_split(xp: ModuleType, pb: ReLUTraining, V: Any, F: Any, R: Any, Y: Any) -> float:
        """The kind's objective (problem.py) on device arrays: loss over n plus beta sum ||u||."""
        Z = F(V)                                                        # (c, n)
        if pb.loss == "squared":
            vals = 0.5 * (Z - Y) ** 2
        else:
            m = Y * Z
            if pb.eps > 0:
                m = m - pb.eps * xp.sum(xp.abs(R(V)[..., pb.nonbias]), axis=-1)
            vals = _margin_loss(xp, pb.loss, m)
        return float(xp.sum(vals)) / pb.n_samples \
            + pb.beta * float(xp.sum(xp.sqrt(xp.sum(V * V, axis=-1))))

    @staticmethod
    def _loss_prox(xp: ModuleType, pb: ReLUTraining, A: Any, Y: Any, X: Any, xnorm2: Any,
                   nb: slice, t: float) -> Any:
        """Row-wise argmin_z t loss_k(z) + 1/2 ||z - a_k||^2, where loss_k depends on z through
        x_k'z (and -eps ||z_nb||_1 in the margin under eps > 0). A: (c,n,d), Y: (c,n)."""
        xa = xp.einsum("cnd,nd->cn", A, X)
        if pb.loss == "squared":
            coef = t * (xa - Y) / (1.0 + t * xnorm2)
            return A - coef[:, :, None] * X[None]
        eps = pb.eps
        t = xp.zeros_like(xa) + t                  # per-sample prox steps (sample weights)
        if eps == 0:
            m0 = Y * xa                                                 # margin at a
            if pb.loss == "hinge":
                tau = xp.clip((1.0 - m0) / xp.maximum(xnorm2, 1e-300), 0.0, t)
            else:
                # tau = t sigma(-(m0 + tau |x|^2)), f increasing in tau: safeguarded Newton
                tau = 0.5 * t
                lo, hi = xp.zeros_like(m0), t
                for _ in range(30):
                    m = m0 + tau * xnorm2
                    sg = 0.5 * (1.0 - xp.tanh(0.5 * m))                 # sigma(-m)
                    f = tau - t * sg
                    lo = xp.where(f < 0, tau, lo)
                    hi = xp.where(f > 0, tau, hi)
                    fp = 1.0 + t * xnorm2 * sg * (1.0 - sg)
                    nt = tau - f / fp
                    tau = xp.where((nt > lo) & (nt < hi), nt, 0.5 * (lo + hi))
                    if float(xp.max(xp.abs(f) / t)) <= 1e-15:
                        break
            return A + (tau * Y)[:, :, None] * X[None]

        # eps > 0: z(tau) = shrink_nb(a + tau y x, tau eps); g(tau) = tau - t h(m(z(tau))) is
        # nondecreasing (h = -loss'(margin)); bisection for its root in [0, t]
        yx = Y[:, :, None] * X[None]                                    # (c,n,d)
        mask = xp.zeros(X.shape[1], dtype=bool)
        mask[nb] = True

        def z_of(tau):
            Zt = A + tau[:, :, None] * yx
            thr = (tau * eps)[:, :, None]
            sh = xp.sign(Zt) * xp.maximum(xp.abs(Zt) - thr, 0.0)
            return xp.where(mask, sh, Zt)

        def h_of(Zt):
            m = xp.einsum("cnd,cnd->cn", Zt, yx) - eps * xp.sum(xp.abs(Zt[:, :, nb]), axis=-1)
            if pb.loss == "hinge":
                return (m < 1.0).astype(xp.float64)
            return 0.5 * (1.0 - xp.tanh(0.5 * m))

        lo = xp.zeros(A.shape[:2])
        hi = t
        for _ in range(48):
            mid = 0.5 * (lo + hi)
            g = mid - t * h_of(z_of(mid))
            lo = xp.where(g < 0, mid, lo)
            hi = xp.where(g >= 0, mid, hi)
        return z_of(0.5 * (lo + hi))


def check_memory(pb: ReLUTraining, split: str) -> None:
    """Refuse, before allocating, a problem whose ADMM state cannot fit in the free memory:
    about 12 arrays of c 2 P n (slacks, duals, products), plus 4 n x n (woodbury) or 4 c n d
    (split) ones."""
    n, d, P, c = pb.n_samples, pb.d, pb.P, pb.c
    need = 8.0 * (12 * c * 2 * P * max(n, d) + (4 * n * n if split == "woodbury" else 4 * c * n * d))
    try:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return
    if need > free:
        raise BadInputError(f"{pb.source or pb.name}: convex-relu-admm needs about "
                            f"{need / 2**30:.1f} GiB for n = {n}, P = {P}, d = {d}, c = {c} "
                            f"({split} u-step) but {free / 2**30:.1f} GiB are free: lower P "
                            f"or use fewer samples")


def run_admm(problem: ReLUTraining, options: dict[str, Any] | None = None, *,
             device: str = "cpu", time_limit: float | None = None,
             notifier: Any = NULL_NOTIFIER) -> Result:
    """``convex-relu-admm`` on ``problem`` with ``options`` (AdmmOptions fields, validated) on
    ``device`` ("cpu", or "cuda" with the CUDA plugin). The arrays stay on the device during
    the iteration; the Result holds host arrays. Same as ``solverhub.solve(problem,
    solver="convex-relu-admm", device=device, **options)`` without the host's verification."""
    opts = AdmmOptions(**{**(options or {}), "device": device})
    return ConvexReluAdmm(opts).solve(problem, time_limit=time_limit, notifier=notifier)
