"""Solvers of the ``linear-system`` kind: ``sor``, ``ssor-cg`` (the paper's two methods, sweeps
compiled in ``solverhub.cython_ext._linsys``), and the SciPy references ``scipy-direct`` (sparse
LU) and ``scipy-cg``. Each reports its iteration count as ``Result.iterations`` (the cost the
tuners of Khodak et al. see) and stops at the problem's relative residual tolerance."""

from __future__ import annotations

import inspect
import math
import time
from typing import Any, Literal

import numpy as np
from pydantic import Field

from solverhub.core.observers import NULL_NOTIFIER, Notifier
from solverhub.core.options import IterationLimitOptions
from solverhub.core.result import Result, Status
from solverhub.core.solver import SolverBase
from solverhub.core.timing import deadline_of, limit_status

from . import kernels

__all__ = ["SOROptions", "SSORCGOptions", "ScipyCGOptions", "SOR", "SSORCG", "ScipyDirect",
           "ScipyCG"]

#: nonzeros touched between two limit checks (~10 ms of CSR work), so that a time limit and
#: Ctrl-C hold within a second at any size while small systems pay no per-sweep Python overhead
WORK_PER_CHECK = 2_000_000


class _IterativeOptions(IterationLimitOptions):
    omega: float = Field(1.0, gt=0, lt=2, allow_inf_nan=False,
                         description="relaxation parameter in (0, 2); 1 is Gauss-Seidel (SSOR: "
                                     "symmetric Gauss-Seidel)")
    max_iterations: int = Field(10_000, ge=1, description="iteration limit")
    tolerance: float | None = Field(None, gt=0, lt=1, description="relative residual to stop at "
                                    "(None: the problem's own tolerance)")
    kernel: Literal["auto", "scipy"] = Field("auto", description="auto: the compiled sweep; "
                                             "scipy: the SciPy reference")


class SOROptions(_IterativeOptions):
    """Options of ``sor``."""


class SSORCGOptions(_IterativeOptions):
    """Options of ``ssor-cg``."""


class ScipyCGOptions(IterationLimitOptions):
    max_iterations: int = Field(10_000, ge=1, description="iteration limit")
    tolerance: float | None = Field(None, gt=0, lt=1, description="relative residual to stop at "
                                    "(None: the problem's own tolerance)")


def _finish(status: Status, x: np.ndarray, iterations: int, t0: float, rel: float) -> Result:
    """The result; its objective is the relative residual (what a linear system minimises)."""
    if not np.all(np.isfinite(x)) or not math.isfinite(rel):
        return Result(Status.ERROR, runtime=time.perf_counter() - t0, iterations=iterations,
                      error=f"the iteration diverged (relative residual {rel:g}): omega outside "
                            "the convergent range for this matrix?")
    return Result(status, x=x, objective=rel, runtime=time.perf_counter() - t0,
                  iterations=iterations)


def _validated(problem: Any) -> Any:
    # the host validated a problem it loaded; a solver called directly (Python API, the
    # conformance kit) gets the same clear BadInputError instead of a SciPy shape error
    problem.validate()
    return problem


class SOR(SolverBase[SOROptions]):
    """Successive over-relaxation: x <- x + omega (D + omega L)^{-1} (b - A x), sweep by sweep."""

    Options = SOROptions

    def solve(self, problem: Any, *, time_limit: float | None = None, seed: int = 0,
              notifier: Notifier = NULL_NOTIFIER) -> Result:
        t0 = time.perf_counter()
        deadline = deadline_of(t0, time_limit)
        _validated(problem)
        A, b = problem.A, problem.b
        tol = self.tolerance if self.tolerance is not None else problem.tolerance
        nb = float(np.linalg.norm(b)) or 1.0
        x = np.zeros(problem.n) if problem.x0 is None else problem.x0.copy()
        diag = A.diagonal()
        rn = float(np.linalg.norm(b - A @ x))
        if rn <= tol * nb:
            return _finish(Status.OPTIMAL, x, 0, t0, rn / nb)
        chunk = max(1, WORK_PER_CHECK // max(1, 2 * A.nnz))
        use_kernel = self.kernel == "auto"
        done = 0
        while done < self.max_iterations:
            stop = limit_status(deadline)
            if stop is not None:
                return _finish(stop, x, done, t0, rn / nb)
            k = min(chunk, self.max_iterations - done)
            sweeps, rn = kernels.sor_solve(A, diag, b, x, self.omega, k, tol * nb,
                                           use_kernel=use_kernel)
            done += int(sweeps)
            notifier.iteration(done, {"relative_residual": rn / nb})
            if rn <= tol * nb:
                return _finish(Status.OPTIMAL, x, done, t0, rn / nb)
            if not math.isfinite(rn):
                break
        return _finish(Status.ITERATION_LIMIT, x, done, t0, rn / nb)


class SSORCG(SolverBase[SSORCGOptions]):
    """Conjugate gradient preconditioned by symmetric SOR (A symmetric positive definite)."""

    Options = SSORCGOptions

    def solve(self, problem: Any, *, time_limit: float | None = None, seed: int = 0,
              notifier: Notifier = NULL_NOTIFIER) -> Result:
        t0 = time.perf_counter()
        deadline = deadline_of(t0, time_limit)
        _validated(problem)
        if not problem.symmetric:
            return Result(Status.ERROR, error=f"ssor-cg needs a symmetric A; {problem.name} is not "
                                              "marked symmetric (use sor or scipy-direct)")
        A, b = problem.A, problem.b
        tol = self.tolerance if self.tolerance is not None else problem.tolerance
        nb = float(np.linalg.norm(b)) or 1.0
        x = np.zeros(problem.n) if problem.x0 is None else problem.x0.copy()
        diag = A.diagonal()
        use_kernel = self.kernel == "auto"
        r = b - A @ x
        rn = float(np.linalg.norm(r))
        z = np.empty_like(r)
        kernels.ssor_apply(A, diag, r, self.omega, z, use_kernel=use_kernel)
        p = z.copy()
        rz = float(r @ z)
        k = 0
        # each step costs ~3 passes over A: a limit check per step is negligible at any size
        while rn > tol * nb and k < self.max_iterations:
            stop = limit_status(deadline)
            if stop is not None:
                return _finish(stop, x, k, t0, rn / nb)
            Ap = A @ p
            pAp = float(p @ Ap)
            if not pAp > 0:
                return Result(Status.ERROR, runtime=time.perf_counter() - t0, iterations=k,
                              error=f"p^T A p = {pAp:g} <= 0: A is not positive definite")
            alpha = rz / pAp
            x += alpha * p
            r -= alpha * Ap
            rn = float(np.linalg.norm(r))
            k += 1
            notifier.iteration(k, {"relative_residual": rn / nb})
            if rn <= tol * nb:
                break
            kernels.ssor_apply(A, diag, r, self.omega, z, use_kernel=use_kernel)
            rz_new = float(r @ z)
            p *= rz_new / rz
            p += z
            rz = rz_new
        # the recurrence residual drifts from the true one in long runs: report the true one
        rel = float(np.linalg.norm(b - A @ x)) / nb
        status = Status.OPTIMAL if rel <= tol * (1 + 1e-6) else Status.ITERATION_LIMIT
        return _finish(status, x, k, t0, rel)


#: nonzeros up to which SuperLU runs in the calling thread (well under a second); above, in a
#: forked child process that is killed at the time limit or Ctrl-C
DIRECT_IN_PROCESS_NNZ = 200_000


def _lu_solve(A: Any, b: np.ndarray) -> np.ndarray:
    from scipy.sparse.linalg import spsolve

    return np.asarray(spsolve(A.tocsc(), b), dtype=np.float64)


def _lu_child(conn: Any, A: Any, b: np.ndarray) -> None:
    try:
        conn.send(("x", _lu_solve(A, b)))
    except Exception as exc:  # a singular matrix: reported to the parent
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


class ScipyDirect(SolverBase):
    """Sparse LU (SciPy's SuperLU): the reference answer. A factorization cannot be stopped
    midway, so a large one runs in a forked child process, polled against the time limit and
    Ctrl-C and killed when either comes (no solution then); a small one runs in place."""

    def solve(self, problem: Any, *, time_limit: float | None = None, seed: int = 0,
              notifier: Notifier = NULL_NOTIFIER) -> Result:
        import multiprocessing as mp

        t0 = time.perf_counter()
        deadline = deadline_of(t0, time_limit)
        _validated(problem)
        if problem.A.nnz <= DIRECT_IN_PROCESS_NNZ or "fork" not in mp.get_all_start_methods():
            try:
                x = _lu_solve(problem.A, problem.b)
            except Exception as exc:
                return Result(Status.ERROR, runtime=time.perf_counter() - t0,
                              error=f"{type(exc).__name__}: {exc}")
            return _finish(Status.OPTIMAL, x, 1, t0, problem.relative_residual(x))
        ctx = mp.get_context("fork")  # the child inherits A: nothing is pickled on the way in
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_lu_child, args=(child, problem.A, problem.b), daemon=True)
        proc.start()
        child.close()
        try:
            while not parent.poll(0.05):
                stop = limit_status(deadline)
                if stop is not None:
                    return Result(stop, runtime=time.perf_counter() - t0)
                if not proc.is_alive() and not parent.poll(0):
                    return Result(Status.ERROR, runtime=time.perf_counter() - t0,
                                  error=f"the SuperLU process died (exit code {proc.exitcode})")
            tag, value = parent.recv()
        finally:
            if proc.is_alive():
                proc.kill()
            proc.join()
            parent.close()
        if tag == "error":
            return Result(Status.ERROR, runtime=time.perf_counter() - t0, error=value)
        return _finish(Status.OPTIMAL, value, 1, t0, problem.relative_residual(value))


class ScipyCG(SolverBase[ScipyCGOptions]):
    """SciPy's unpreconditioned conjugate gradient (``scipy.sparse.linalg.cg``)."""

    Options = ScipyCGOptions

    def solve(self, problem: Any, *, time_limit: float | None = None, seed: int = 0,
              notifier: Notifier = NULL_NOTIFIER) -> Result:
        from scipy.sparse.linalg import cg

        t0 = time.perf_counter()
        deadline = deadline_of(t0, time_limit)
        _validated(problem)
        tol = self.tolerance if self.tolerance is not None else problem.tolerance
        count = [0]
        stopped: list[Status] = []

        class _Stop(Exception):
            pass

        def callback(xk: np.ndarray) -> None:
            count[0] += 1
            st = limit_status(deadline)
            if st is not None:
                stopped.append(st)
                callback.x = xk.copy()  # type: ignore[attr-defined]
                raise _Stop

        # SciPy >= 1.12 names the relative tolerance rtol (1.11, our oldest, names it tol)
        tol_kw = "rtol" if "rtol" in inspect.signature(cg).parameters else "tol"
        try:
            x, _info = cg(problem.A, problem.b, x0=problem.x0, atol=0.0,
                          maxiter=self.max_iterations, callback=callback, **{tol_kw: tol})
        except _Stop:
            x = callback.x  # type: ignore[attr-defined]
            return _finish(stopped[0], x, count[0], t0, problem.relative_residual(x))
        rel = problem.relative_residual(x)
        status = Status.OPTIMAL if rel <= tol * (1 + 1e-6) else Status.ITERATION_LIMIT
        return _finish(status, x, count[0], t0, rel)
