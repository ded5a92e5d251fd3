"""LV-HBA: W. Yao, C. Yu, S. Zeng, J. Zhang, "Constrained Bi-Level Optimization: Proximal
Lagrangian Value function Approach and Hessian-free Algorithm", ICLR 2024 (arXiv 2401.16164),
Algorithm 1. Equation references are to that paper; defaults and their provenance in
docs/bilevel.md.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

import solverhub as sh
from solverhub.core.observers import NULL_NOTIFIER
from solverhub.core.solver import SolverBase
from solverhub.core.timing import deadline_of, limit_status

from .common import (
    DIVERGENCE_FACTOR,
    breakdown,
    diverged,
    finish,
    multiplier_at_bound,
    nonfinite,
    require_problem,
)
from .options import LVHBAOptions
from .polish import Polisher, polish_size, why_no_polish

__all__ = ["LVHBA", "LVHBAOptions"]


class LVHBA(SolverBase[LVHBAOptions]):
    """Algorithm 1 of Yao et al. (single loop, first order, no Hessians)."""

    Options = LVHBAOptions

    def solve(self, problem: Any, *, time_limit: float | None = None, seed: int = 0,
              notifier: Any = NULL_NOTIFIER) -> sh.Result:
        t0 = time.perf_counter()
        o = self.options
        P = require_problem(problem, "lv-hba")
        proj_C = P.projector_C()          # BadInputError when C has no projection
        deadline = deadline_of(t0, time_limit)
        r = o.z_bound if o.z_bound is not None else (P.multiplier_bound or 10.0)
        zlo = np.where(P.lower_eq, -r, 0.0)
        zhi = np.full(P.l, r)
        x, y = proj_C(P.x0.copy(), P.y0.copy())
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            return breakdown(t0, 0, {}, "lv-hba", "the projection onto C returned NaN or infinite "
                             "values for the (finite) starting point", cause="projection")
        if P.constraint_violation(x, y) > 1e-6 * max(1.0, float(np.max(np.abs(np.concatenate([x, y]))))) \
                and P.C_is_empty():
            return sh.Result(sh.Status.INFEASIBLE, runtime=time.perf_counter() - t0,
                             info={"reason": "C = {x in X, y in Y, g <= 0, G <= 0} is empty"})
        cuts: list[int] = []
        while True:
            res = self._run(P, o, proj_C, r, zlo, zhi, x.copy(), y.copy(), deadline, t0, notifier)
            # adaptive steps: Algorithm 1's analysis asks alpha, beta and eta below bounds set by
            # the (unknown) Lipschitz constants; a run that diverges had them too large, so the
            # robust preset divides all three by 4 and starts again (at most max_step_cuts times)
            if not (res.status == sh.Status.ERROR and res.info.get("breakdown") == "divergence"
                    and len(cuts) < o.max_step_cuts and limit_status(deadline) is None):
                break
            cuts.append(res.iterations)
            o = o.model_copy(update={"alpha": o.alpha / 4, "beta": o.beta / 4, "eta": o.eta / 4})
        if cuts:
            res.info["step_cuts"] = len(cuts)
            res.info["steps"] = {"alpha": o.alpha, "beta": o.beta, "eta": o.eta}
            res.runtime = time.perf_counter() - t0
        return res

    def _run(self, P: Any, o: LVHBAOptions, proj_C: Any, r: float, zlo: Any, zhi: Any, x: Any,
             y: Any, deadline: float, t0: float, notifier: Any) -> sh.Result:
        """One run of Algorithm 1 from (x, y) with the step sizes of ``o``."""
        theta = y.copy()
        lam = np.zeros(P.l)
        z = np.zeros(P.l)
        projY = P.Y.project
        limit = DIVERGENCE_FACTOR * max(1e-2, float(np.max(np.abs(np.concatenate([x, y])), initial=0.0)))
        info: dict[str, Any] = {"z_bound": r, "local": True}
        info["preset"] = o.preset
        self._polisher: Polisher | None = None
        if o.polish:
            why = why_no_polish(P, o.polish_max_size, o.polish_newton_max_size)
            if why is None:
                self._polisher = Polisher(P, o.polish_start, deadline,
                                          slsqp=polish_size(P) <= o.polish_max_size)
            else:
                info["polish"] = {"applies": False, "reason": why}
        kern = _toy_kernel(P) if o.kernel == "auto" else None
        with np.errstate(over="ignore", invalid="ignore"):
            if kern is not None:
                info["kernel"] = "compiled"
                return self._toy_loop(kern, P, o, r, x, y, theta, lam, z, limit, info, deadline, t0,
                                      notifier)
            qp = _qp_kernel(P)
            if qp is not None and o.kernel == "auto" and P.project_C_user is None:
                info["kernel"] = "compiled-qp"
                return self._qp_loop(qp, P, o, x, y, theta, lam, z, zlo, zhi, limit, info,
                                     deadline, t0, notifier)
            info["kernel"] = "numpy"
            return self._loop(P, o, proj_C, projY, x, y, theta, lam, z, zlo, zhi, limit, info,
                              deadline, t0, notifier)

    def _probe(self, k: int, x: Any, y: Any, theta: Any, lam: Any) -> bool:
        """The stationarity-based stop: a polish when one is due; True to stop the run."""
        pol = self._polisher
        if pol is None or not pol.due(k):
            return False
        return pol.attempt(k, x.copy(), y.copy(), theta.copy(), np.array(lam, dtype=float))

    def _polished(self, P: Any, status: Any, k: int, x: Any, y: Any, theta: Any, lam: Any,
                  info: dict) -> tuple[Any, Any, Any]:
        """The end of a run: a last polish (unless a limit stopped it), and the polished point
        in place of the iterate when one was accepted. Returns (status, x, y)."""
        pol = self._polisher
        if pol is None:
            return status, x, y
        stopped = status in (sh.Status.TIME_LIMIT, sh.Status.INTERRUPTED)
        if not stopped and pol.last_k != k:
            pol.attempt(k, x.copy(), y.copy(), theta.copy(), np.array(lam, dtype=float), final=True)
        info["polish"] = {"applies": True, **pol.info()}
        if pol.unbounded and pol.last is not None:
            info["lower_unbounded"] = True
            info["warning"] = (f"{pol.last.reason}: the bilevel program is ill-posed there; the "
                               f"point returned is not bilevel feasible")
        if pol.best is None:
            return status, x, y
        info["polished"] = True
        if not stopped:
            status = sh.Status.OPTIMAL     # a KKT point of the restricted reformulation, checked
        return status, pol.best.x, pol.best.y

    def _toy_loop(self, kern: Any, P: Any, o: LVHBAOptions, r: float, x: Any, y: Any, theta: Any,
                  lam: Any, z: Any, limit: float, info: dict, deadline: float, t0: float,
                  notifier: Any) -> sh.Result:
        """The same iteration as :meth:`_loop`, fused in the compiled kernel for the toys (their
        derivatives and the projection onto the hyperplane C are written out there)."""
        which = 0 if P.structure[0] == "lvhba_toy" else 1
        x = np.ascontiguousarray(x, dtype=np.float64).copy()
        y = np.ascontiguousarray(y, dtype=np.float64).copy()
        theta = np.ascontiguousarray(theta, dtype=np.float64).copy()
        state = np.array([float(lam[0]), float(z[0]), math.inf])
        params = np.array([o.alpha, o.beta, o.eta, o.gamma1, o.gamma2, o.c0, o.p, r], dtype=np.float64)
        status, k, bad = _compiled_chunks(
            o, deadline,
            lambda k, todo: kern.lvhba_toy_run(which, x, y, theta, state, k, todo, params,
                                               o.tolerance),
            lambda: diverged((x, y, theta, state[:2]), limit),
            self._polisher, lambda k: self._probe(k, x, y, theta, state[:1]),
            lambda k: notifier.iteration(k, {"step": float(state[2]),
                                             "theta_gap": float(np.linalg.norm(y - theta)),
                                             "multiplier_norm": abs(float(state[0])),
                                             "z_norm": abs(float(state[1])), "upper": P.F(x, y),
                                             "c_k": o.c0 * k ** o.p}))
        if bad is not None:
            return breakdown(t0, k, info, "lv-hba", bad)
        info.update({"final_step": float(state[2]), "theta_gap": float(np.linalg.norm(y - theta)),
                     "multiplier": [float(state[0])], "c_k": o.c0 * (k + 1) ** o.p,
                     "multiplier_at_bound": multiplier_at_bound(state[:1], r)})
        status, x, y = self._polished(P, status, k, x, y, theta, state[:1], info)
        return finish(P, status, x, y, t0, k, info, notifier)

    def _qp_loop(self, kern: Any, P: Any, o: LVHBAOptions, x: Any, y: Any, theta: Any, lam: Any,
                 z: Any, zlo: Any, zhi: Any, limit: float, info: dict, deadline: float, t0: float,
                 notifier: Any) -> sh.Result:
        """The iteration of :meth:`_loop` in the compiled kernel, for quadratic F and f, affine g
        and a polyhedral C (their gradients are H z + c, recognised at construction)."""
        HF, cF = P._quad["F"]
        Hf, cf = P._quad["f"]
        Ag, bg = P.g_affine
        AC, bC, eqC, loC, upC = P.polyhedral_C()
        c = np.ascontiguousarray
        xy = c(np.concatenate([x, y]), dtype=np.float64)
        theta = c(theta, dtype=np.float64).copy()
        lam = c(lam, dtype=np.float64).copy()
        z = c(z, dtype=np.float64).copy()
        state = np.array([math.inf])
        params = np.array([o.alpha, o.beta, o.eta, o.gamma1, o.gamma2, o.c0, o.p], dtype=np.float64)
        args = (P.nx, c(HF, dtype=np.float64), c(cF, dtype=np.float64), c(Hf, dtype=np.float64),
                c(cf, dtype=np.float64), c(Ag, dtype=np.float64), c(bg, dtype=np.float64),
                c(zlo, dtype=np.float64), c(zhi, dtype=np.float64), c(P.Y.lower, dtype=np.float64),
                c(P.Y.upper, dtype=np.float64), c(AC, dtype=np.float64), c(bC, dtype=np.float64),
                c(eqC, dtype=np.uint8), c(loC, dtype=np.float64), c(upC, dtype=np.float64), params,
                o.tolerance, 20000, 1e-13)
        nx = P.nx
        status, k, bad = _compiled_chunks(
            o, deadline,
            lambda k, todo: kern.lvhba_qp_run(xy, theta, lam, z, state, k, todo, *args),
            lambda: diverged((xy, theta, lam), limit),
            self._polisher, lambda k: self._probe(k, xy[:nx], xy[nx:], theta, lam),
            lambda k: notifier.iteration(k, {"step": float(state[0]),
                                             "theta_gap": float(np.linalg.norm(xy[nx:] - theta)),
                                             "multiplier_norm": float(np.linalg.norm(lam)),
                                             "z_norm": float(np.linalg.norm(z)),
                                             "upper": P.F(xy[:nx], xy[nx:]),
                                             "c_k": o.c0 * k ** o.p}))
        if bad is not None:
            return breakdown(t0, k, info, "lv-hba", bad)
        x, y = xy[:nx].copy(), xy[nx:].copy()
        info.update({"final_step": float(state[0]), "theta_gap": float(np.linalg.norm(y - theta)),
                     "multiplier": lam.tolist() if lam.size <= 20 else None,
                     "c_k": o.c0 * (k + 1) ** o.p,
                     "multiplier_at_bound": multiplier_at_bound(lam, float(np.max(zhi, initial=1.0)))})
        status, x, y = self._polished(P, status, k, x, y, theta, lam, info)
        return finish(P, status, x, y, t0, k, info, notifier)

    def _loop(self, P: Any, o: LVHBAOptions, proj_C: Any, projY: Any, x: Any, y: Any, theta: Any,
              lam: Any, z: Any, zlo: Any, zhi: Any, limit: float, info: dict, deadline: float,
              t0: float, notifier: Any) -> sh.Result:
        alpha, beta, eta, g1, g2 = o.alpha, o.beta, o.eta, o.gamma1, o.gamma2
        status = sh.Status.ITERATION_LIMIT
        k = 0
        step = math.inf
        for k in range(o.max_iterations):
            stopped = limit_status(deadline)
            if stopped is not None:
                status = stopped
                break
            ck = o.c0 * (k + 1) ** o.p
            # Algorithm 1, step 1: one projected gradient step on the proximal Lagrangian saddle problem
            _, gfy_t = P.grad_f(x, theta)
            if P.l:
                _, Jy_t = P.jac_g(x, theta)
                theta_n = projY(theta - eta * (gfy_t + Jy_t.T @ lam + (theta - y) / g1))
                lam_n = np.minimum(np.maximum(lam + eta * (P.g(x, theta) - (lam - z) / g2), zlo), zhi)
            else:
                theta_n = projY(theta - eta * (gfy_t + (theta - y) / g1))
                lam_n = lam
            # Algorithm 1, step 2: directions of F/c_k + f - v_gamma (v_gamma's gradient by
            # Danskin's theorem at the approximate saddle point (theta+, lambda+))
            gFx, gFy = P.grad_F(x, y)
            gfx, gfy = P.grad_f(x, y)
            gfx_t, _ = P.grad_f(x, theta_n)
            dx = gFx / ck + gfx - gfx_t
            if P.l:
                Jx_tn, _ = P.jac_g(x, theta_n)
                dx = dx - Jx_tn.T @ lam_n
                dz = (z - lam_n) / g2
                z = np.minimum(np.maximum(z - beta * dz, zlo), zhi)
            dy = gFy / ck + gfy - (y - theta_n) / g1
            # finiteness by one dot product each (a NaN or inf entry makes it non-finite; an
            # overflow of a finite one is told apart by the exact test): np.all(np.isfinite())
            # per vector cost a quarter of the iteration at n = 5,000
            if not math.isfinite(float(dx @ dx) + float(dy @ dy)) \
                    and not (np.all(np.isfinite(dx)) and np.all(np.isfinite(dy))):
                return nonfinite(P, t0, k, info, "lv-hba", x, y, theta)
            # Algorithm 1, step 3: projected step of (x, y) onto C, of z onto Z
            x_n, y_n = proj_C(x - alpha * dx, y - alpha * dy)
            ex, ey = x_n - x, y_n - y
            step2 = float(ex @ ex) + float(ey @ ey)
            if not math.isfinite(step2) and not (np.all(np.isfinite(x_n)) and np.all(np.isfinite(y_n))):
                return breakdown(t0, k + 1, info, "lv-hba", "the projection onto C returned NaN or "
                                 "infinite values for a finite point", cause="projection")
            if k % 50 == 0 or k + 1 == o.max_iterations:
                bad = diverged((x_n, y_n, theta_n, lam_n), limit)
                if bad is not None:
                    return breakdown(t0, k + 1, info, "lv-hba", bad)
            step = math.sqrt(step2) / alpha
            x, y, theta, lam = x_n, y_n, theta_n, lam_n
            if (k + 1) % o.log_every == 0:
                notifier.iteration(k + 1, {"step": step, "theta_gap": float(np.linalg.norm(y - theta)),
                                           "multiplier_norm": float(np.linalg.norm(lam)),
                                           "z_norm": float(np.linalg.norm(z)),
                                           "upper": P.F(x, y), "c_k": ck})
            if step <= o.tolerance and float(np.linalg.norm(y - theta)) <= o.tolerance * 1e3:
                status = sh.Status.OPTIMAL
                k += 1
                break
            if self._probe(k + 1, x, y, theta, lam):
                status = sh.Status.OPTIMAL
                k += 1
                break
        else:
            k = o.max_iterations
        bad = diverged((x, y, theta, lam), limit)
        if bad is not None:
            return breakdown(t0, k, info, "lv-hba", bad)
        info.update({"final_step": step, "theta_gap": float(np.linalg.norm(y - theta)),
                     "multiplier": lam.tolist() if lam.size <= 20 else None,
                     "c_k": o.c0 * (k + 1) ** o.p,
                     "multiplier_at_bound": multiplier_at_bound(lam, float(np.max(zhi, initial=1.0)))})
        status, x, y = self._polished(P, status, k, x, y, theta, lam, info)
        return finish(P, status, x, y, t0, k, info, notifier)


def _compiled_chunks(o: LVHBAOptions, deadline: float, run: Any, check: Any, polisher: Any,
                     probe: Any, log: Any) -> tuple[Any, int, str | None]:
    """Drive a compiled LV-HBA loop in chunks: ``run(k, todo)`` returns ``(done, converged)``;
    between chunks the stop check (time, Ctrl-C), the divergence check ``check()`` (a reason or
    None) and, every ``o.log_every`` iterations, the history line ``log(k)``. A chunk is sized by
    the measured time per iteration to last about 20 ms (and never past the next history line),
    so a limit or Ctrl-C is seen within a fraction of a second whatever the problem size or
    ``log_every``. A chunk also ends where ``polisher`` (or None) has an attempt due; ``probe(k)``
    runs it and says whether to stop. Returns (status, iterations, divergence reason)."""
    k = 0
    chunk = 1
    while k < o.max_iterations:
        stopped = limit_status(deadline)
        if stopped is not None:
            return stopped, k, None
        to_log = o.log_every - k % o.log_every
        todo = min(chunk, to_log, o.max_iterations - k)
        if polisher is not None and polisher.next_k > k:
            todo = min(todo, polisher.next_k - k)     # a chunk ends at each polish attempt
        t = time.perf_counter()
        done, converged = run(k, todo)
        spent = time.perf_counter() - t
        k += done
        bad = check()
        if bad is not None:
            return sh.Status.ERROR, k, bad
        if converged or probe(k):
            return sh.Status.OPTIMAL, k, None
        if k % o.log_every == 0:
            log(k)
        # next chunk: ~20 ms of work at the measured rate (within a factor 2 of this one)
        per = spent / max(done, 1)
        target = int(_CHUNK_SECONDS / per) if per > 0 else 2 * chunk
        chunk = max(1, min(2 * chunk, target))
    return sh.Status.ITERATION_LIMIT, k, None


#: up to this many variables the compiled QP loop is taken whatever the Hessians' sparsity
_QP_DENSE_ALWAYS = 30
#: above it, only when the two Hessians together are at least this dense
_QP_MIN_DENSITY = 0.1

#: wall time of one compiled chunk between stop checks
_CHUNK_SECONDS = 0.02


def _toy_kernel(P: Any) -> Any:
    """The compiled module when ``P`` is one of the toys it has a fused loop for, else None."""
    st = getattr(P, "structure", None)
    if not (isinstance(st, tuple) and st and st[0] in ("lvhba_toy", "bicgaffa_toy")):
        return None
    from .sets import _kernel

    return _kernel()


def _qp_kernel(P: Any) -> Any:
    """The compiled module when F and f are quadratic, g affine and C a polyhedron with Y a box."""
    from .sets import Box, _kernel

    if P._quad.get("F") is None or P._quad.get("f") is None or P.g_affine is None:
        return None
    if not isinstance(P.Y, Box) or P.polyhedral_C() is None:
        return None
    # the compiled loop multiplies by the dense n x n Hessians every iteration; where they are
    # mostly zeros (a diagonal problem: 3.3x slower than the NumPy path at n = 100, 8.2x at 200)
    # the problem's own gradients are cheaper
    n = P.n
    nnz = sum(int(np.count_nonzero(P._quad[k][0])) for k in ("F", "f"))
    if n > _QP_DENSE_ALWAYS and nnz < _QP_MIN_DENSITY * 2 * n * n:
        return None
    kern = _kernel()
    return kern if kern is not None and hasattr(kern, "lvhba_qp_run") else None
