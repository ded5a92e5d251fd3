"""``convex-relu-gated``: the gated-ReLU relaxation (Mishkin, Sahiner, Pilanci 2022) by FISTA
with function-value restarts, then a cone decomposition back to the ReLU program.

Gated program (the ReLU program without its cone constraints, one block per pattern):

    min_u  (1/n) sum_k loss(sum_i D_i X u_i, y)_k + beta sum_i ||u_i||_2

FISTA (Beck and Teboulle 2009, eq. (4.1)-(4.3)) with step 1/L, L the Lipschitz constant of the
smooth part (||F||_2^2 / n for the squared loss, / (4n) for the logistic loss, by power
iteration) and the group soft-threshold as prox; restart (momentum reset) whenever the objective
increases (O'Donoghue and Candes 2015). Stop when the proximal-gradient step ||u - prox(u -
grad/L)|| * L is below ``tolerance`` times max(1, ||grad at 0||). The hinge loss is not smooth:
it is refused.

Cone decomposition: each gated block u_i is written u_i = v_i - w_i with v_i, w_i in the cone
K_i = {u : (2 D_i - I) X u >= 0}: w_i is the minimum-Euclidean-norm point with w_i in K_i and
u_i + w_i in K_i (a small QP per block, solved through its dual by L-BFGS-B; leftover violations
from the dual's tolerance are repaired along the gate g_i, which lies inside K_i). Mishkin et al.
minimise ||v_i|| + ||w_i|| instead (a second-order-cone program); ours is a cheaper proxy, so the
ReLU objective after decomposition can be larger than theirs. The gated objective (reported in
info) is optimal for the gated model only; the ReLU objective after decomposition is an upper
bound on the ReLU program's optimum.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from pydantic import Field

from solverhub.core.errors import BadInputError
from solverhub.core.observers import NULL_NOTIFIER
from solverhub.core.options import IterationLimitOptions
from solverhub.core.result import Result, Status
from solverhub.core.solver import SolverBase
from solverhub.core.timing import deadline_of, limit_status

from .problem import ReLUTraining

__all__ = ["GatedOptions", "ConvexReluGated"]


class GatedOptions(IterationLimitOptions):

    max_iterations: int = Field(10000, ge=1, description="FISTA iteration limit")
    tolerance: float = Field(1e-8, gt=0, description="relative proximal-gradient tolerance")
    restart: bool = Field(True, description="function-value restarts of the momentum")
    decompose: bool = Field(True, description="cone decomposition back to the ReLU program")


class ConvexReluGated(SolverBase[GatedOptions]):
    Options = GatedOptions

    def solve(self, problem: Any, *, time_limit: float | None = None, seed: int = 0,
              notifier: Any = NULL_NOTIFIER) -> Result:
        t0 = time.perf_counter()
        pb = problem
        if pb.sample_weight is not None:
            raise BadInputError(f"{pb.name}: convex-relu-gated does not take sample weights; use "
                                f"convex-relu-admm or convex-relu-cvxpy")
        if pb.loss == "hinge":
            raise BadInputError(f"{pb.name}: convex-relu-gated needs a smooth loss (squared or "
                                f"logistic); use convex-relu-admm for the hinge loss")
        if pb.eps > 0:
            raise BadInputError(f"{pb.name}: convex-relu-gated has no adversarial variant; use "
                                f"convex-relu-admm or convex-relu-cvxpy")
        if self.decompose and pb.gates is None:
            raise BadInputError(f"{pb.name}: the cone decomposition needs the gates of the "
                                f"patterns (give gates=, or decompose=false)")
        deadline = deadline_of(t0, time_limit)
        X, n, d, P, c = pb.X, pb.n_samples, pb.d, pb.P, pb.c
        Yt = pb.Y.T
        XT = np.ascontiguousarray(X.T)
        DT = np.ascontiguousarray(pb.D.T.astype(np.float64))

        def F(U):   # (c,P,d) -> (c,n)
            return np.sum((U.reshape(-1, d) @ XT).reshape(c, P, n) * DT, axis=1)

        def Ft(q):  # (c,n) -> (c,P,d)
            return ((DT[None] * q[:, None, :]).reshape(-1, n) @ X).reshape(c, P, d)

        def smooth(U):
            z = F(U)
            if pb.loss == "squared":
                r = z - Yt
                return 0.5 * float(np.sum(r * r)) / n, Ft(r) / n
            m = Yt * z
            f = float(np.logaddexp(0.0, -m).sum()) / n
            return f, Ft(-Yt * 0.5 * (1.0 - np.tanh(0.5 * m))) / n

        def reg(U):
            return pb.beta * float(np.linalg.norm(U, axis=-1).sum())

        # Lipschitz constant by power iteration on F'F (seeded start)
        rng = np.random.default_rng(seed)
        Q = rng.standard_normal((c, P, d))
        lip = 1.0
        for _ in range(50):
            Q = Q / max(float(np.linalg.norm(Q)), 1e-300)
            Q = Ft(F(Q))
            lip = float(np.linalg.norm(Q))
        L = 1.05 * lip / n * (1.0 if pb.loss == "squared" else 0.25)
        L = max(L, 1e-12)
        thr = pb.beta / L

        def prox(A):
            nr = np.linalg.norm(A, axis=-1, keepdims=True)
            return A * np.maximum(1.0 - thr / np.maximum(nr, 1e-300), 0.0)

        U = np.zeros((c, P, d))
        Yk = U.copy()
        tk = 1.0
        f0, g0 = smooth(U)
        scale = max(1.0, float(np.linalg.norm(g0)))
        fobj = f0 + reg(U)
        traj = [(time.perf_counter() - t0, fobj)]
        notifier.incumbent(traj[0][0], fobj, None)
        status = Status.ITERATION_LIMIT
        k = restarts = 0
        pg = math.inf
        while k < self.max_iterations:
            stop = limit_status(deadline)
            if stop is not None:
                status = stop
                break
            k += 1
            fy, gy = smooth(Yk)
            Un = prox(Yk - gy / L)
            pg = float(np.linalg.norm(Un - Yk)) * L / scale
            fn = smooth(Un)[0] + reg(Un)
            if not math.isfinite(fn):
                return Result(Status.ERROR, runtime=time.perf_counter() - t0, iterations=k,
                              error=f"convex-relu-gated: non-finite objective at iteration {k}")
            if self.restart and fn > fobj:
                # function restart: drop the momentum and take a plain step from U
                restarts += 1
                tk = 1.0
                Yk = U
                continue
            tn = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * tk * tk))
            Yk = Un + ((tk - 1.0) / tn) * (Un - U)
            U, tk = Un, tn
            notifier.iteration(k, {"objective": fn, "prox_grad": pg})
            if fn < fobj:
                fobj = fn
                t = time.perf_counter() - t0
                if k % 10 == 0 or k < 50:
                    traj.append((t, fn))
                    notifier.incumbent(t, fn, None)
            if pg <= self.tolerance:
                status = Status.OPTIMAL
                break
        gated_obj = smooth(U)[0] + reg(U)
        info: dict[str, Any] = {"gated_objective": gated_obj, "restarts": restarts,
                                "lipschitz": L, "prox_grad": pg, "gated_status": status.value}
        t = time.perf_counter() - t0
        if not self.decompose:
            # the gated model itself: v = u on the pattern's blocks, w = 0 (cones not enforced)
            x = np.stack([U, np.zeros_like(U)], axis=1).ravel()
        else:
            x, t_max = self._decompose(pb, U, deadline)
            info["decomposition_max_norm"] = t_max
            # the ReLU-program point is feasible, not optimal for the ReLU program
            if status == Status.OPTIMAL:
                status = Status.FEASIBLE
        obj = pb.objective(x)
        if traj[-1][1] > obj or not self.decompose:
            traj.append((t, obj))
        else:
            traj = [(tt, vv) for tt, vv in traj if vv >= obj] + [(t, obj)]
        return Result(status, objective=obj, x=x, runtime=time.perf_counter() - t0, iterations=k,
                      trajectory=traj, info=info)

    @staticmethod
    def _decompose(pb: ReLUTraining, U: np.ndarray, deadline: float = math.inf
                   ) -> tuple[np.ndarray, float]:
        """u_i = v_i - w_i with v_i, w_i in K_i: w_i is the minimum-norm point of
        {w : A w >= b}, A = (2 D_i - I) X, b = max(0, -A u_i) (then w_i in K_i and
        v_i = u_i + w_i in K_i), found through its dual max_{mu >= 0} b'mu - ||A'mu||^2 / 2,
        w = A'mu, by L-BFGS-B."""
        from scipy.optimize import minimize

        assert pb.gates is not None  # solve() refuses decompose without gates
        E = 2.0 * pb.D - 1.0                                            # (n, P)
        out = np.zeros((pb.c, 2, pb.P, pb.d))
        w_max = 0.0
        for j in range(pb.c):
            for i in range(pb.P):
                u = U[j, i]
                if not np.any(u):
                    continue
                A = E[:, i:i + 1] * pb.X
                b = np.maximum(-(A @ u), 0.0)
                w = np.zeros(pb.d)
                if np.any(b > 0) and time.perf_counter() < deadline:
                    def fun(mu, A=A, b=b):
                        g = A.T @ mu
                        return 0.5 * float(g @ g) - float(b @ mu), A @ g - b
                    r = minimize(fun, np.zeros(A.shape[0]), jac=True, method="L-BFGS-B",
                                 bounds=[(0.0, None)] * A.shape[0],
                                 options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-12})
                    w = A.T @ r.x
                if np.any(b > 0):
                    # rows the dual left slightly infeasible: move along the gate (strictly
                    # inside K_i where x_k'g_i != 0) by the smallest amount that repairs them
                    g = pb.gates[:, i] / max(float(np.linalg.norm(pb.gates[:, i])), 1e-300)
                    sg = A @ g
                    short = np.maximum(b - A @ w, 0.0)
                    if np.any(short > 0):
                        ok = sg > 0
                        tau = float(np.max(np.where(ok, short / np.where(ok, sg, 1.0), 0.0)))
                        w = w + tau * g
                out[j, 0, i] = u + w
                out[j, 1, i] = w
                w_max = max(w_max, float(np.linalg.norm(w)))
        return out.ravel(), w_max
