"""Solver ``exact-al``: exact augmented Lagrangian with randomized iterative sketching
(AdaSketch-Newton; Hong, Na, Mahoney, Kolar, ICML 2023), for :class:`NLPEqProblem`.

Paper rules (defaults) and departures (options; docs/exact_al.md) are marked in the comments by
the step of the note ``../shared/papers/exact_al.md`` they implement.
"""

from __future__ import annotations

import math
import time
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from solverhub.core.arrays import CPU_DEVICES, array_namespace
from solverhub.core.errors import BadInputError
from solverhub.core.observers import NULL_NOTIFIER, Notifier
from solverhub.core.options import DeviceOptions, IterationLimitOptions
from solverhub.core.result import Result, Status
from solverhub.core.solver import SolverBase
from solverhub.core.timing import deadline_of, limit_status
from solverhub.plugins.exact_al.dense_xp import (
    kkt_dense,
    lambda_min_ggt,
    nullspace_lambda_min,
    solve_dense,
)
from solverhub.plugins.exact_al.problem import NLPEqProblem

__all__ = ["ExactALOptions", "ExactAL", "DEVICE_DENSE_CAP"]

#: the largest n + m a sketch solver takes on a device (dense K: 8 (n + m)^2 bytes, 7.2 GB here)
DEVICE_DENSE_CAP = 30_000


class ExactALOptions(IterationLimitOptions, DeviceOptions):
    """Options of ``exact-al``; defaults are the paper's constants."""

    tolerance: float = Field(1e-4, gt=0, description="stop when ||(grad_x L, c)|| <= tolerance")
    max_iterations: int = Field(10_000, ge=1, description="Newton iteration limit")
    sketch: Literal["gaussian", "kaczmarz", "exact"] = Field(
        "gaussian", description="inner solver of K z = b: Gaussian or Kaczmarz sketch-and-project "
                                "(paper), or a direct factorization (departure)")
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
    mu0: float = Field(1.0, gt=0)
    nu0: float = Field(0.1, gt=0)
    delta0: float = Field(0.1, gt=0)
    xi_B: float = Field(0.1, gt=0, description="Hessian modification constant")
    beta: float = Field(0.1, gt=0, lt=0.5, description="Armijo constant")
    rho: float = Field(1.5, gt=1, description="penalty update factor")
    eig_threshold: float = Field(1e-6, description="modify B when lambda_min(Z'HZ) is below this")
    licq_tol: float = Field(1e-2, ge=0, description="stop as singular when lambda_min(G G') < this")
    licq: Literal["stop", "regularize"] = Field(
        "stop", description="stop: the paper's LICQ guard (error, singular); regularize "
                            "(departure): K's lower-right block becomes -licq_reg I instead")
    licq_reg: float = Field(1e-6, gt=0, description="licq=regularize: the dual regularization")
    mu_max: float = Field(1e8, gt=0)
    nu_min: float = Field(1e-8, gt=0)
    delta_min: float = Field(1e-6, gt=0)
    merit_hessian: Literal["lagrangian", "objective"] = Field(
        "lagrangian", description="H in the merit gradient: Hessian of the Lagrangian (exact) or "
                                  "of the objective (the authors' code; equal for linear c)")
    shift: Literal["paper", "inertia"] = Field(
        "paper", description="paper: B = H + (xi_B + ||H||_F) I when lambda_min(Z'HZ) < threshold; "
                             "inertia (departure): the smallest shift giving lambda_min(Z'BZ) = xi_B")
    hessian_check: Literal["auto", "nullspace", "curvature"] = Field(
        "auto", description="how lambda_min(Z'HZ) is tested: nullspace (dense eigenvalues), "
                            "curvature (departure for large sparse problems: inertia-free test "
                            "dx'B dx >= xi_B ||dx||^2 after the solve); auto: nullspace when "
                            "n <= 500")
    max_backtracks: int = Field(60, ge=1, description="Armijo halvings before the line search fails")
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
    evaluation and one gradient (gradient + Jacobian) evaluation."""

    def __init__(self, p: NLPEqProblem) -> None:
        self.p = p
        self.fc = 0
        self.grad = 0
        self.hess = 0

    def point(self, x: np.ndarray, lam: np.ndarray) -> dict[str, Any]:
        p = self.p
        f = p.objective(x)
        c = p.constraints(x)
        g = p.gradient(x)
        J = p.jacobian(x)
        self.fc += 1
        self.grad += 1
        gl = g + np.asarray(J.T @ lam).ravel()
        return {"x": x, "lam": lam, "f": f, "c": c, "g": g, "J": J, "gl": gl}


def _merit(pt: dict[str, Any], mu: float, nu: float) -> float:
    # L_{mu,nu} = f + lam'c + mu/2 ||c||^2 + nu/2 ||grad_x L||^2
    c, gl = pt["c"], pt["gl"]
    return float(pt["f"] + pt["lam"] @ c + 0.5 * mu * (c @ c) + 0.5 * nu * (gl @ gl))


def _finite_point(pt: dict[str, Any]) -> bool:
    J = pt["J"]
    return (math.isfinite(pt["f"]) and np.all(np.isfinite(pt["c"])) and np.all(np.isfinite(pt["g"]))
            and np.all(np.isfinite(J.data if sp.issparse(J) else J)))


class ExactAL(SolverBase[ExactALOptions]):
    """``exact-al`` (see the module docstring and docs/exact_al.md)."""

    Options = ExactALOptions
    _xp: Any = None

    # ------------------------------------------------------------------ helpers
    def _lambda_min_GGt(self, J: Any) -> float:
        m = J.shape[0]
        if m == 0:
            return math.inf
        if self._xp is not None and (not sp.issparse(J) or m <= 500):
            return lambda_min_ggt(self._xp, J)
        if not sp.issparse(J) or m <= 500:
            Jd = _dense(J)
            return float(np.linalg.eigvalsh(Jd @ Jd.T)[0])
        # large sparse G: 30 steps of inverse iteration with one sparse LU of G G' (ARPACK's
        # shift-invert took ~20 000 iterations on LUKVLE1); the Rayleigh quotient estimates
        # lambda_min from above, and a singular G G' fails the factorization (-> 0)
        from solverhub.plugins.exact_al.sparse_lu import SingularMatrixError, sparse_lu

        GGt = (J @ J.T).tocsc()
        try:
            lu = sparse_lu(GGt, "G G'")
        except SingularMatrixError:
            return 0.0
        v = np.random.default_rng(0).standard_normal(m)
        rq = math.inf
        for _ in range(30):
            w = lu.solve(v / np.linalg.norm(v))
            if not np.all(np.isfinite(w)):
                return 0.0
            nw = float(np.linalg.norm(w))
            rq = 1.0 / nw if nw > 0 else math.inf
            v = w
        return rq

    def solve(self, problem: Any, *, time_limit: float | None = None, seed: int = 0,
              notifier: Notifier = NULL_NOTIFIER) -> Result:
        t0 = time.perf_counter()
        o = self.options
        # device: None = the CPU path (kept as it was); else the array namespace of that device
        # (an unknown or unavailable device is one UnavailableError here, before any work)
        self._xp = None if o.device.lower() in CPU_DEVICES else array_namespace(o.device)
        deadline = deadline_of(t0, time_limit)
        self._deadline = deadline
        self._reg = 0.0
        rng = np.random.default_rng(seed)
        n, m = problem.n, problem.m
        N = n + m
        q = o.block_size if o.block_size > 0 else max(1, math.ceil(math.sqrt(N)))
        check = o.hessian_check if o.hessian_check != "auto" else \
            ("nullspace" if n <= 500 else "curvature")
        dense_cap = 5000 if self._xp is None else DEVICE_DENSE_CAP
        if o.sketch != "exact" and N > dense_cap:
            raise BadInputError(f"exact-al: sketch={o.sketch!r} works on a dense K of size n + m = "
                                f"{N} > {dense_cap} (device {o.device!r}); use sketch='exact' "
                                f"(sparse factorization)")
        ev = _Evaluator(problem)
        x = problem.x0.copy()
        lam = np.zeros(m) if problem.lam0 is None else problem.lam0.copy()
        pt = ev.point(x, lam)
        mu, nu, delta, forcing = o.mu0, o.nu0, o.delta0, o.forcing
        info: dict[str, Any] = {"local": True, "sketch": o.sketch, "block_size": q,
                                "accuracy": o.accuracy, "shift_rule": o.shift,
                                "hessian_check": check}
        trajectory: list[tuple[float, float]] = []
        total_steps, total_flops, sketch_time = 0, 0.0, 0.0
        shifts = 0
        best = math.inf
        status = Status.ITERATION_LIMIT
        error: str | None = None
        k = 0

        def finish(st: Status, err: str | None = None) -> Result:
            info.update({"kkt_residual": kkt, "constraint_violation": float(np.linalg.norm(pt["c"])),
                         "mu": mu, "nu": nu, "delta": delta, "sketch_steps": total_steps,
                         "flops": total_flops, "hessian_shifts": shifts,
                         "sketch_steps_per_s": total_steps / sketch_time if sketch_time > 0 else None,
                         "evaluations": {"objective": ev.fc, "gradient": ev.grad, "hessian": ev.hess},
                         })
            # multipliers (and, for errors, the last iterate) ride in info, which every run record
            # serializes: kept up to 5000 entries
            if m <= 5000:
                info["multipliers"] = pt["lam"].tolist()
            else:
                info["multipliers_omitted"] = f"m = {m} > 5000 (kept out of the run record)"
            # the trajectory is best-so-far over iterates with ||c|| <= tolerance; entries below
            # the reported point (earlier non-KKT points) go, so that its best is the answer
            if st != Status.ERROR:
                fin = float(pt["f"])
                trajectory[:] = [e for e in trajectory if e[1] >= fin]
                if not trajectory or trajectory[-1][1] != fin:
                    trajectory.append((time.perf_counter() - t0, fin))
            if st == Status.ERROR:
                if n <= 5000:
                    info["last_x"] = pt["x"].tolist()
                return Result(st, runtime=time.perf_counter() - t0, iterations=k, error=err,
                              trajectory=trajectory, info=info)
            return Result(st, objective=float(pt["f"]), x=pt["x"].copy(), runtime=time.perf_counter() - t0,
                          iterations=k, trajectory=trajectory, info=info)

        kkt = math.hypot(float(np.linalg.norm(pt["gl"])), float(np.linalg.norm(pt["c"])))
        while True:
            b = -np.concatenate([pt["gl"], pt["c"]])
            bnorm = float(np.linalg.norm(b))
            kkt = bnorm
            cn = float(np.linalg.norm(pt["c"]))
            notifier.iteration(k, {"kkt_residual": kkt, "constraint_violation": cn,
                                   "objective": pt["f"], "mu": mu, "nu": nu, "delta": delta,
                                   "sketch_steps": total_steps, "flops": total_flops,
                                   "evaluations": ev.fc})
            if cn <= o.tolerance and pt["f"] < best:
                best = pt["f"]
                t = time.perf_counter() - t0
                trajectory.append((t, best))
                notifier.incumbent(t, best, None)
            if kkt <= o.tolerance:
                status = Status.OPTIMAL
                break
            if k >= o.max_iterations:
                status = Status.ITERATION_LIMIT
                break
            halt = limit_status(deadline)  # Ctrl-C or the time limit
            if halt is not None:
                status = halt
                break
            x, lam, J, gl, c = pt["x"], pt["lam"], pt["J"], pt["gl"], pt["c"]
            # ---- step 1: Hessian, LICQ guard, Hessian modification
            H = problem.lagrangian_hessian(x, lam)
            ev.hess += 1
            Hm = H if o.merit_hessian == "lagrangian" else problem.objective_hessian(x)
            sparse = sp.issparse(H) or sp.issparse(J)
            xi_G = self._lambda_min_GGt(J)
            if not math.isfinite(float(_fro(H))):
                return finish(Status.ERROR, f"exact-al: the Hessian of the Lagrangian is not finite "
                                            f"at iteration {k}")
            self._reg = 0.0
            if xi_G < o.licq_tol and o.licq == "regularize":
                # departure: dual regularization [[B, G'], [G, -reg I]] (as interior-point codes
                # do for rank-deficient Jacobians); Psi below uses licq_tol in place of xi_G
                self._reg = o.licq_reg
                info["regularized_iterations"] = info.get("regularized_iterations", 0) + 1
                xi_G = o.licq_tol
            if xi_G < o.licq_tol:
                info["singular"] = True
                return finish(Status.ERROR, f"exact-al: singular: lambda_min(G G') = {xi_G:.3g} < "
                                            f"{o.licq_tol:g} at iteration {k} (LICQ guard; the "
                                            f"constraint Jacobian is rank-deficient here)")
            Hf = _fro(H)
            t_shift = 0.0
            if check == "nullspace" and self._xp is not None:
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
                if z is None and check == "curvature" and t_shift < 1e20:
                    # inertia-free rule: a singular K means B needs a (larger) shift
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
                if check == "curvature":
                    dx = z[:n]
                    curv = float(dx @ np.asarray(B @ dx).ravel())
                    if curv < o.xi_B * float(dx @ dx) and float(dx @ dx) > 0:
                        t_shift = max(2 * t_shift, o.xi_B) if o.shift == "inertia" else o.xi_B + Hf
                        B = H + t_shift * (sp.identity(n, format="csr") if sp.issparse(H) else np.eye(n))
                        shifts += 1
                        if t_shift > 1e20:
                            return finish(Status.ERROR, "exact-al: Hessian shift diverged")
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
                # the time limit (or Ctrl-C) struck inside the inner solve: keep the iterate
                sketch_time += time.perf_counter() - ts
                total_steps += sk.steps
                total_flops += sk.flops
                return finish(sk.stop_status)
            if t_shift:
                shifts += check != "curvature"
            sketch_time += time.perf_counter() - ts
            if sk is not None:
                total_steps += sk.steps
                total_flops += sk.flops
            if not np.all(np.isfinite(z)):
                return finish(Status.ERROR, f"exact-al: the sketch solver diverged (non-finite "
                                            f"direction) at iteration {k}")
            # ---- step 5: Armijo backtracking on L_{mu,nu}
            phi0 = _merit(pt, mu, nu)
            gm = merit_grad(mu, nu)
            gz = float(gm @ z)
            if not gz < 0:
                # step 4 accepts z once mu > mu_max or nu < nu_min, but the paper's increase is
                # meant to end at a descent direction: when the caps stop it at an ascent (or
                # flat) direction -- e.g. a regularized step (licq=regularize) whose constraint
                # residual G dx + c = reg dlambda makes the mu-term c'G dx vanish, so no mu helps
                # -- the Armijo search can only fail or crawl. Take the steepest descent
                # direction of L_{mu,nu} instead (always a descent direction when it is nonzero).
                z = -gm
                gz = -float(gm @ gm)
                info["merit_gradient_steps"] = info.get("merit_gradient_steps", 0) + 1
            dx, dl = z[:n], z[n:]
            alpha = 1.0
            new = None
            for _ in range(o.max_backtracks):
                try:
                    trial = ev.point(x + alpha * dx, lam + alpha * dl)
                except (ValueError, OverflowError, ZeroDivisionError, FloatingPointError):
                    trial = None
                if trial is not None and _finite_point(trial) and \
                        _merit(trial, mu, nu) <= phi0 + alpha * o.beta * gz:
                    new = trial
                    break
                alpha *= 0.5
            if new is None:
                return finish(Status.ERROR, f"exact-al: the line search failed at iteration {k} "
                                            f"(no Armijo step after {o.max_backtracks} halvings; "
                                            f"directional derivative {gz:.3g})")
            pt = new
            k += 1
            info["last_step"] = alpha
        return finish(status)

    # ------------------------------------------------------------------ inner solve
    def _direction(self, B: Any, J: Any, b: np.ndarray, o: ExactALOptions, rng: np.random.Generator,
                   q: int, sparse: bool, Psi: float, theta_k: float, delta: float, forcing: float,
                   sk: Any) -> tuple[np.ndarray | None, Any, str]:
        """Solve K z = b: returns (z, sketch state or None, note). ``sk``: continue that run."""
        n = B.shape[0]
        bnorm = float(np.linalg.norm(b))
        if o.sketch == "exact":
            if sparse:
                from solverhub.plugins.exact_al.sparse_lu import (
                    SingularMatrixError,
                    sparse_lu,
                )

                mJ = J.shape[0]
                K = sp.bmat([[sp.csr_matrix(B), sp.csr_matrix(J).T],
                             [sp.csr_matrix(J), -self._reg * sp.identity(mJ) if self._reg else None]],
                            format="csc")
                try:
                    z = sparse_lu(K, "the KKT matrix").solve(b)
                except SingularMatrixError as exc:
                    return None, None, str(exc)
            elif self._xp is not None:
                zd, note = solve_dense(self._xp, kkt_dense(self._xp, B, J, self._reg), b)
                return zd, None, note
            else:
                K = np.block([[_dense(B), _dense(J).T], [_dense(J), -self._reg * np.eye(J.shape[0])]])
                try:
                    z = np.linalg.solve(K, b)
                except np.linalg.LinAlgError as exc:
                    return None, None, str(exc)
            return z, None, ""
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
