"""Sketch-and-project solvers for the Newton (KKT) system ``K z = b`` (``K`` symmetric, dense).

Iterations on the residual ``r = K z - b`` (Hong et al. 2023, section 3; Gower and Richtarik 2015):

* Gaussian vector sketch, ``s ~ N(0, I)``:  ``z <- z - (s'r)/(s'K K's) K's``  (``K's = K s``);
* randomized Kaczmarz, row ``i`` uniform:   ``z <- z - r_i/||K_i||^2 K_i'``;
* block versions (``q`` Gaussian columns ``S``, or ``q`` distinct rows ``I``):
  ``z <- z - K S (S'K K S)^+ S'r`` and ``z <- z - K_I' (K_I K_I')^+ r_I``.

The residual is updated along (``r <- r - a K K's``; Kaczmarz uses ``K^2`` formed once) and
recomputed exactly at every chunk boundary. Random numbers are drawn in chunks by NumPy from
the caller's generator, so the compiled kernel (``solverhub.cython_ext._exact_al``) and the
NumPy reference here take the same steps: the reference is the oracle of the kernel tests.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

import numpy as np

__all__ = ["SketchOutcome", "sketch_solve", "gaussian_steps_ref", "kaczmarz_steps_ref",
           "KERNEL_COMPILED", "KERNEL_ERROR"]

KERNEL_ERROR: str | None = None
if os.environ.get("SOLVERHUB_PURE_PYTHON"):
    _kernel: Any = None
    KERNEL_ERROR = "disabled by SOLVERHUB_PURE_PYTHON"
else:
    try:
        from solverhub.cython_ext import _exact_al as _kernel  # type: ignore[attr-defined]
    except ImportError as exc:
        _kernel = None
        KERNEL_ERROR = str(exc)
KERNEL_COMPILED = _kernel is not None

#: random numbers are drawn for this many steps at a time (bounded by memory: chunk x N floats)
CHUNK = 256


def gaussian_steps_ref(K: np.ndarray, z: np.ndarray, r: np.ndarray, S: np.ndarray,
                       tol: float) -> int:
    """Gaussian vector sketch steps with the rows of ``S`` as sketches, in place on ``z`` and
    ``r``; stops after the step that brings ``||r|| <= tol``; returns the steps taken."""
    tol2 = tol * tol
    for k in range(S.shape[0]):
        s = S[k]
        u = K @ s
        uu = float(u @ u)
        if uu <= 0.0:
            continue
        a = float(s @ r) / uu
        z -= a * u
        r -= a * (K @ u)
        if float(r @ r) <= tol2:
            return k + 1
    return S.shape[0]


def kaczmarz_steps_ref(K: np.ndarray, K2: np.ndarray, rownorm2: np.ndarray, z: np.ndarray,
                       r: np.ndarray, rows: np.ndarray, tol: float) -> int:
    """Randomized Kaczmarz steps on rows ``rows`` (``K2 = K K``, ``rownorm2 = ||K_i||^2``)."""
    tol2 = tol * tol
    for k in range(rows.shape[0]):
        i = int(rows[k])
        if rownorm2[i] <= 0.0:
            continue
        a = r[i] / rownorm2[i]
        z -= a * K[i]
        r -= a * K2[:, i]
        if float(r @ r) <= tol2:
            return k + 1
    return rows.shape[0]


class SketchOutcome:
    __slots__ = ("steps", "residual", "converged", "flops")

    def __init__(self, steps: int, residual: float, converged: bool, flops: float) -> None:
        self.steps, self.residual, self.converged, self.flops = steps, residual, converged, flops


class SketchSolver:
    """One sketch run on a fixed ``K``; :meth:`run` may be called again with a smaller tolerance
    and continues from the current ``z`` (the paper's descent-test loop)."""

    def __init__(self, K: np.ndarray, b: np.ndarray, method: str, rng: np.random.Generator,
                 block_size: int = 1, use_kernel: bool = True) -> None:
        self.K = np.ascontiguousarray(K, dtype=np.float64)
        self.b = np.asarray(b, dtype=np.float64)
        self.N = self.K.shape[0]
        self.method = method
        self.rng = rng
        self.q = max(1, min(int(block_size), self.N))
        self.z = np.zeros(self.N)
        self.r = -self.b.copy()
        self.steps = 0
        self.flops = 0.0
        self.use_kernel = use_kernel and KERNEL_COMPILED
        self._K2: np.ndarray | None = None
        self._rn2: np.ndarray | None = None
        self.stopped = False

    def _kaczmarz_setup(self) -> None:
        if self._K2 is None:
            self._K2 = np.ascontiguousarray(self.K @ self.K)  # K symmetric: K K = K' K
            self._rn2 = np.einsum("ij,ij->i", self.K, self.K)
            self.flops += 2.0 * self.N ** 3

    def residual_norm(self) -> float:
        return float(np.linalg.norm(self.r))

    def run(self, tol: float, max_steps: int, deadline: float = math.inf) -> SketchOutcome:
        """Steps until ``||K z - b|| <= tol`` or ``max_steps`` steps in all (over every call);
        stops early (``self.stopped``) at ``deadline`` (a ``time.perf_counter()`` reading) or
        when a stop is requested (Ctrl-C), checked between chunks of steps."""
        from solverhub.core.interrupt import stop_requested

        N, K = self.N, self.K
        self.r = K @ self.z - self.b
        self.stopped = False
        while self.steps < max_steps and float(self.r @ self.r) > tol * tol:
            if time.perf_counter() >= deadline or stop_requested():
                self.stopped = True
                break
            todo = min(CHUNK, max_steps - self.steps)
            m = self.method
            if m == "gaussian" and self.q == 1:
                S = self.rng.standard_normal((todo, N))
                if self.use_kernel:
                    done = _kernel.gaussian_steps(K, self.z, self.r, S, tol)
                else:
                    done = gaussian_steps_ref(K, self.z, self.r, S, tol)
                self.flops += done * (4.0 * N * N + 6.0 * N)
            elif m == "kaczmarz" and self.q == 1:
                self._kaczmarz_setup()
                rows = self.rng.integers(0, N, size=todo)
                if self.use_kernel:
                    done = _kernel.kaczmarz_steps(K, self._K2, self._rn2, self.z, self.r,
                                                  rows.astype(np.int64), tol)
                else:
                    done = kaczmarz_steps_ref(K, self._K2, self._rn2, self.z, self.r, rows, tol)
                self.flops += done * 6.0 * N
            else:
                done = self._block_steps(todo, tol)
            self.steps += done
            self.r = K @ self.z - self.b  # exact residual at every chunk boundary
            self.flops += 2.0 * N * N
            if not np.all(np.isfinite(self.z)):
                break
        res = self.residual_norm()
        return SketchOutcome(self.steps, res, res <= tol, self.flops)

    def _block_steps(self, todo: int, tol: float) -> int:
        K, N, q = self.K, self.N, self.q
        tol2 = tol * tol
        for k in range(todo):
            if self.method == "gaussian":
                S = self.rng.standard_normal((N, q))
                U = K @ S                       # K'S (K symmetric)
                W = K @ U
                y = np.linalg.lstsq(U.T @ U, S.T @ self.r, rcond=None)[0]
                self.z -= U @ y
                self.r -= W @ y
                self.flops += 4.0 * N * N * q + 2.0 * N * q * q
            else:
                self._kaczmarz_setup()
                idx = self.rng.choice(N, size=q, replace=False)
                KI = K[idx]
                y = np.linalg.lstsq(KI @ KI.T, self.r[idx], rcond=None)[0]
                self.z -= KI.T @ y
                self.r -= self._K2[:, idx] @ y
                self.flops += 2.0 * N * q * q + 4.0 * N * q
            if float(self.r @ self.r) <= tol2:
                return k + 1
        return todo


def sketch_solve(K: np.ndarray, b: np.ndarray, method: str, tol: float, max_steps: int,
                 rng: np.random.Generator, block_size: int = 1) -> tuple[np.ndarray, SketchOutcome]:
    """One-shot convenience form: ``(z, outcome)``."""
    s = SketchSolver(K, b, method, rng, block_size)
    out = s.run(tol, max_steps)
    return s.z, out


def _finite(x: float) -> bool:
    return math.isfinite(x)
