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

:class:`SketchSolver` is the CPU path (Cython kernels, NumPy). :class:`XpSketchSolver` takes the
same steps written once against an array namespace ``xp`` (NumPy, CuPy: see
:func:`solverhub.core.arrays.array_namespace`) with ``K``, ``z`` and ``r`` on the device; the random
numbers are still drawn on the host by the same generator in the same order, so both give the
same iterates (to rounding). :func:`block_sketch_solve` is the stand-alone entry point for a dense
symmetric system on any device.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import numpy as np

from solverhub.core.arrays import array_namespace, asarray_on, to_host
from solverhub.core.errors import BadInputError
from solverhub.core.timing import limit_status
from solverhub.cython_ext import load_extension

__all__ = [
    "KERNEL_COMPILED",
    "KERNEL_ERROR",
    "SketchOutcome",
    "SketchSolver",
    "XpSketchSolver",
    "check_interval",
    "block_sketch_solve",
    "gaussian_steps_ref",
    "kaczmarz_steps_ref",
    "sketch_solve",
]

_kernel: Any
_kernel, KERNEL_ERROR = load_extension("_exact_al")  # None: the NumPy reference below
KERNEL_COMPILED = _kernel is not None

#: random numbers are drawn for at most this many steps at a time (memory: chunk x N floats)
CHUNK = 256
#: floating-point operations between two stop checks (time limit, Ctrl-C): about 10-50 ms at
#: 0.5-2 GFlop/s, so a limit holds well within a second whatever N and the block size are
WORK_PER_CHECK = 2.5e7


def check_interval(N: int, method: str, q: int = 1) -> int:
    """Sketch steps between two stop checks: as many as fit in ``WORK_PER_CHECK`` flops (a
    Gaussian vector step costs ``4 N^2``, a Kaczmarz step ``6 N``, a block step ``4 N^2 q``),
    between 1 and ``CHUNK``. NumPy's generator fills arrays from one stream, so the sketches do
    not depend on the interval (the Gaussian sketches are the same for every chunking)."""
    if method == "kaczmarz" and q == 1:
        per_step = 6.0 * N
    else:
        per_step = 4.0 * N * N * max(1, q)
    return int(max(1, min(CHUNK, WORK_PER_CHECK // max(per_step, 1.0))))


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


class _SketchLoop:
    """The sketch-and-project outer loop shared by the CPU and the array-namespace solvers: chunks
    of steps between stop checks, the exact residual at every chunk boundary, flop counts. A
    subclass supplies the steps (``_gaussian_chunk``, ``_kaczmarz_chunk``, ``_block_steps``) and
    ``_all_finite``; each draws its sketches from ``rng`` in the same order, so both paths follow
    the same iterates."""

    K: Any
    b: Any
    z: Any
    r: Any
    N: int
    q: int
    method: str
    steps: int
    flops: float
    stop_status: Any
    #: K K and the squared row norms of K, built by _kaczmarz_setup (Kaczmarz sketches only)
    _K2: Any
    _rn2: Any

    def _kaczmarz_setup(self, deadline: float = math.inf) -> None:
        raise NotImplementedError

    @property
    def stopped(self) -> bool:
        return self.stop_status is not None

    def run(self, tol: float, max_steps: int, deadline: float = math.inf) -> SketchOutcome:
        """Steps until ``||K z - b|| <= tol`` or ``max_steps`` steps in all (over every call);
        stops early (``self.stopped``) at ``deadline`` (a ``time.perf_counter()`` reading) or
        when a stop is requested (Ctrl-C), checked between chunks of steps."""
        N = self.N
        self.r = self.K @ self.z - self.b
        self.stop_status = None
        interval = check_interval(N, self.method, self.q)
        self.check_every = interval
        while self.steps < max_steps and float(self.r @ self.r) > tol * tol:
            self.stop_status = limit_status(deadline)
            if self.stop_status is not None:
                break
            if self.method == "kaczmarz" and self._K2 is None:
                self._kaczmarz_setup(deadline)  # K K (2 N^3 flops) in row blocks, checked
                continue
            todo = min(interval, max_steps - self.steps)
            if self.method == "gaussian" and self.q == 1:
                done = self._gaussian_chunk(todo, tol)
                self.flops += done * (4.0 * N * N + 6.0 * N)
            elif self.method == "kaczmarz" and self.q == 1:
                done = self._kaczmarz_chunk(todo, tol)
                self.flops += done * 6.0 * N
            else:
                done = self._block_steps(todo, tol)
            self.steps += done
            self.r = self.K @ self.z - self.b  # exact residual at every chunk boundary
            self.flops += 2.0 * N * N
            if not self._all_finite():
                break
        res = self.residual_norm()
        return SketchOutcome(self.steps, res, res <= tol, self.flops)

    def residual_norm(self) -> float:
        raise NotImplementedError

    def _gaussian_chunk(self, todo: int, tol: float) -> int:
        raise NotImplementedError

    def _kaczmarz_chunk(self, todo: int, tol: float) -> int:
        raise NotImplementedError

    def _block_steps(self, todo: int, tol: float) -> int:
        raise NotImplementedError

    def _all_finite(self) -> bool:
        raise NotImplementedError


class SketchSolver(_SketchLoop):
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
        self._K2 = None
        self._rn2 = None
        #: the status a run stopped early with (time limit, Ctrl-C), else None
        self.stop_status: Any = None

    def solution(self) -> np.ndarray:
        """A host copy of the current ``z``."""
        return self.z.copy()

    def k_fro(self) -> float:
        """``||K||_F``."""
        return float(np.linalg.norm(self.K))

    def _kaczmarz_setup(self, deadline: float = math.inf) -> None:
        if self._K2 is not None:
            return
        # K K (K symmetric: = K' K) in row blocks of about WORK_PER_CHECK flops each, with a stop
        # check between blocks (2 N^3 flops: a minute at N = 5000 on a loaded core)
        N = self.N
        K2 = np.empty((N, N))
        rows = max(1, int(WORK_PER_CHECK // max(2.0 * N * N, 1.0)))
        for i in range(0, N, rows):
            if limit_status(deadline) is not None:
                return  # the loop in run() sees the stop on its next check
            K2[i:i + rows] = self.K[i:i + rows] @ self.K
        self._K2 = K2
        self._rn2 = np.einsum("ij,ij->i", self.K, self.K)
        self.flops += 2.0 * N ** 3

    def residual_norm(self) -> float:
        return float(np.linalg.norm(self.r))

    def _gaussian_chunk(self, todo: int, tol: float) -> int:
        S = self.rng.standard_normal((todo, self.N))
        steps = _kernel.gaussian_steps if self.use_kernel else gaussian_steps_ref
        return steps(self.K, self.z, self.r, S, tol)

    def _kaczmarz_chunk(self, todo: int, tol: float) -> int:
        self._kaczmarz_setup()
        rows = self.rng.integers(0, self.N, size=todo)
        if self.use_kernel:
            return _kernel.kaczmarz_steps(self.K, self._K2, self._rn2, self.z, self.r,
                                          rows.astype(np.int64), tol)
        return kaczmarz_steps_ref(self.K, self._K2, self._rn2, self.z, self.r, rows, tol)

    def _all_finite(self) -> bool:
        return bool(np.all(np.isfinite(self.z)))

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


# ============================================================================ array-namespace path
def psd_pinv_solve(xp: ModuleType, M: Any, rhs: Any) -> Any:
    """``M^+ rhs`` for a small symmetric positive semidefinite ``M`` by ``xp.linalg.eigh``: the
    eigenvalues are its singular values, and those below ``eps * size * max`` count as zero --
    the cut-off of NumPy's ``lstsq(rcond=None)`` that the CPU path uses (CuPy has no such
    ``lstsq`` default everywhere; ``eigh`` is in every namespace)."""
    w, V = xp.linalg.eigh(M)
    wmax = float(xp.max(xp.abs(w))) if w.shape[0] else 0.0
    keep = xp.abs(w) > np.finfo(np.float64).eps * M.shape[0] * wmax
    inv_w = xp.where(keep, 1.0 / xp.where(keep, w, 1.0), 0.0)
    return V @ (inv_w * (V.T @ rhs))


class XpSketchSolver(_SketchLoop):
    """:class:`SketchSolver`'s steps against the array namespace ``xp``: ``K``, ``z``, ``r`` live
    on the device; sketches are drawn on the host from ``rng`` exactly as the CPU path draws them
    (same calls, same order) and moved over, so both paths follow the same iterates. Per-step
    arithmetic only (matrix-vector products, ``eigh`` of the q x q block system): no SciPy, no
    NumPy-only calls on device arrays."""

    def __init__(self, K: Any, b: Any, method: str, rng: np.random.Generator, block_size: int = 1,
                 *, xp: ModuleType) -> None:
        self.xp = xp
        self.K = asarray_on(xp, K, dtype=xp.float64)
        self.b = asarray_on(xp, b, dtype=xp.float64)
        self.N = int(self.K.shape[0])
        self.method = method
        self.rng = rng
        self.q = max(1, min(int(block_size), self.N))
        self.z = xp.zeros(self.N, dtype=xp.float64)
        self.r = -self.b
        self.steps = 0
        self.flops = 0.0
        self._K2: Any = None
        self._rn2: Any = None
        self.stop_status: Any = None

    def solution(self) -> np.ndarray:
        """``z`` as a host NumPy array (a copy)."""
        return np.array(to_host(self.z), dtype=np.float64, copy=True)

    def k_fro(self) -> float:
        return float(self.xp.linalg.norm(self.K))

    def residual_norm(self) -> float:
        return float(self.xp.linalg.norm(self.r))

    def _kaczmarz_setup(self, deadline: float = math.inf) -> None:
        if self._K2 is None:
            self._K2 = self.K @ self.K  # K symmetric: K K = K' K
            self._rn2 = self.xp.sum(self.K * self.K, axis=1)
            self.flops += 2.0 * self.N ** 3

    def _gaussian_chunk(self, todo: int, tol: float) -> int:
        return self._gaussian_vector_steps(asarray_on(self.xp, self.rng.standard_normal((todo, self.N))), tol)

    def _kaczmarz_chunk(self, todo: int, tol: float) -> int:
        self._kaczmarz_setup()
        return self._kaczmarz_vector_steps(self.rng.integers(0, self.N, size=todo), tol)

    def _all_finite(self) -> bool:
        return bool(self.xp.all(self.xp.isfinite(self.z)))

    def _gaussian_vector_steps(self, S: Any, tol: float) -> int:
        K, tol2 = self.K, tol * tol
        for k in range(S.shape[0]):
            s = S[k]
            u = K @ s
            uu = float(u @ u)
            if uu <= 0.0:
                continue
            a = float(s @ self.r) / uu
            self.z = self.z - a * u
            self.r = self.r - a * (K @ u)
            if float(self.r @ self.r) <= tol2:
                return k + 1
        return S.shape[0]

    def _kaczmarz_vector_steps(self, rows: np.ndarray, tol: float) -> int:
        K, K2, tol2 = self.K, self._K2, tol * tol
        rn2 = to_host(self._rn2)  # N numbers, read per step: keep them on the host
        for k in range(rows.shape[0]):
            i = int(rows[k])
            if rn2[i] <= 0.0:
                continue
            a = float(self.r[i]) / float(rn2[i])
            self.z = self.z - a * K[i]
            self.r = self.r - a * K2[i]  # K2 symmetric: row i is column i (as the kernel reads it)
            if float(self.r @ self.r) <= tol2:
                return k + 1
        return rows.shape[0]

    def _block_steps(self, todo: int, tol: float) -> int:
        xp, K, N, q = self.xp, self.K, self.N, self.q
        tol2 = tol * tol
        for k in range(todo):
            if self.method == "gaussian":
                S = asarray_on(xp, self.rng.standard_normal((N, q)))
                U = K @ S                       # K'S (K symmetric)
                W = K @ U
                y = psd_pinv_solve(xp, U.T @ U, S.T @ self.r)
                self.z = self.z - U @ y
                self.r = self.r - W @ y
                self.flops += 4.0 * N * N * q + 2.0 * N * q * q
            else:
                self._kaczmarz_setup()
                idx = asarray_on(xp, self.rng.choice(N, size=q, replace=False))
                KI = xp.take(K, idx, axis=0)
                y = psd_pinv_solve(xp, KI @ KI.T, xp.take(self.r, idx, axis=0))
                self.z = self.z - KI.T @ y
                self.r = self.r - xp.take(self._K2, idx, axis=1) @ y
                self.flops += 2.0 * N * q * q + 4.0 * N * q
            if float(self.r @ self.r) <= tol2:
                return k + 1
        return todo


def make_sketch_solver(K: Any, b: Any, method: str, rng: np.random.Generator, block_size: int,
                       *, xp: ModuleType | None = None, use_kernel: bool = True) -> Any:
    """The CPU :class:`SketchSolver` for ``xp`` None or NumPy-on-"cpu", else the
    :class:`XpSketchSolver` on ``xp``."""
    if xp is None:
        return SketchSolver(K, b, method, rng, block_size, use_kernel=use_kernel)
    return XpSketchSolver(K, b, method, rng, block_size, xp=xp)


def block_sketch_solve(K: Any, r: Any, *, device: str = "cpu", block: int = 0,
                       method: str = "gaussian", tol: float = 1e-8, max_steps: int = 10_000,
                       seed: int = 0) -> tuple[np.ndarray, SketchOutcome]:
    """Solve the dense symmetric system ``K z = r`` by block sketch-and-project on ``device``.

    ``K``: (N, N) symmetric (host NumPy, or an array of the device's namespace); ``r``: (N,).
    ``block``: the block size q (0: ``ceil(sqrt(N))``; 1: the vector sketch); ``method``:
    ``"gaussian"`` (q Gaussian columns) or ``"kaczmarz"`` (q distinct rows; forms ``K K`` once).
    Stops when ``||K z - r|| <= tol ||r||`` or after ``max_steps`` steps. ``device="cpu"`` is the
    CPU path (Cython kernel for q = 1, NumPy blocks); any other device runs
    :class:`XpSketchSolver` on that device's namespace. Sketches come from
    ``numpy.random.default_rng(seed)`` on the host on every device, so a CPU and a GPU run with
    the same seed take the same steps. Returns ``(z, outcome)`` with ``z`` a host NumPy array and
    ``outcome.residual`` the absolute residual ``||K z - r||``."""
    if method not in ("gaussian", "kaczmarz"):
        raise BadInputError(f"block_sketch_solve: method must be 'gaussian' or 'kaczmarz', got "
                            f"{method!r}")
    if not (isinstance(tol, (int, float)) and math.isfinite(tol) and tol > 0):
        raise BadInputError(f"block_sketch_solve: tol must be a positive number, got {tol!r}")
    if int(max_steps) < 1 or int(block) < 0:
        raise BadInputError(f"block_sketch_solve: max_steps must be >= 1 and block >= 0, got "
                            f"{max_steps!r}, {block!r}")
    xp = array_namespace(device)
    Kd = asarray_on(xp, K, dtype=xp.float64)
    rd = asarray_on(xp, r, dtype=xp.float64)
    if Kd.ndim != 2 or Kd.shape[0] != Kd.shape[1]:
        raise BadInputError(f"block_sketch_solve: K must be square (N, N), got shape {tuple(Kd.shape)}")
    N = int(Kd.shape[0])
    if rd.shape != (N,):
        raise BadInputError(f"block_sketch_solve: r must have shape ({N},), got {tuple(rd.shape)}")
    if not (bool(xp.all(xp.isfinite(Kd))) and bool(xp.all(xp.isfinite(rd)))):
        raise BadInputError("block_sketch_solve: K and r must be finite (NaN or inf found)")
    # K must be symmetric (the steps use K' = K): one random probe, O(N^2)
    v = asarray_on(xp, np.random.default_rng(seed + 1).standard_normal(N))
    asym = float(xp.linalg.norm(Kd @ v - Kd.T @ v))
    if asym > 1e-10 * max(float(xp.linalg.norm(Kd)) * float(xp.linalg.norm(v)), 1e-300):
        raise BadInputError(f"block_sketch_solve: K must be symmetric (||K v - K'v|| = {asym:.3g} "
                            f"for a random v)")
    q = int(block) if int(block) > 0 else max(1, math.ceil(math.sqrt(N)))
    rng = np.random.default_rng(seed)
    xp_or_none = None if xp is np and str(device).lower() in ("cpu", "numpy") else xp
    solver = make_sketch_solver(Kd, rd, method, rng, q, xp=xp_or_none)
    out = solver.run(tol * float(xp.linalg.norm(rd)), int(max_steps))
    return solver.solution(), out
