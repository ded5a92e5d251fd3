"""Convex sets with Euclidean projections: boxes, balls, simplices, polyhedra (Dykstra).

Every set has ``dim``, ``convex`` (True), ``project(p)`` and ``violation(p)`` (0 inside). The
projection onto an intersection of a product of simple sets with halfspaces and hyperplanes is
Dykstra's alternating projection method (Boyle and Dykstra 1986), in
:func:`dykstra_polyhedron`; its hot loop has a Cython kernel
(``solverhub.plugins.bilevel._dykstra`` when built) and this NumPy version is its oracle.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from solverhub.core.errors import BadInputError

__all__ = [
    "Ball",
    "Box",
    "CoupledBounds",
    "Polyhedron",
    "Simplex",
    "as_set",
    "dykstra_polyhedron",
    "is_convex_set",
    "project_coupled_bounds",
    "project_simplex",
]


class Box:
    """``{z : lower <= z <= upper}`` (infinite bounds allowed)."""

    convex = True

    def __init__(self, lower: Any, upper: Any, dim: int | None = None) -> None:
        lo = np.asarray(lower, dtype=np.float64)
        up = np.asarray(upper, dtype=np.float64)
        if dim is None:
            dim = int(max(lo.size, up.size))
        self.lower = np.broadcast_to(lo, (dim,)).copy() if lo.ndim == 0 or lo.size == 1 else lo.ravel()
        self.upper = np.broadcast_to(up, (dim,)).copy() if up.ndim == 0 or up.size == 1 else up.ravel()
        self.dim = int(dim)
        if self.lower.shape != (dim,) or self.upper.shape != (dim,):
            raise BadInputError(f"box: bounds of shapes {self.lower.shape} and {self.upper.shape} "
                                f"for dimension {dim}")
        if np.any(np.isnan(self.lower)) or np.any(np.isnan(self.upper)):
            raise BadInputError("box: a bound is NaN")
        if np.any(self.lower > self.upper):
            j = int(np.argmax(self.lower > self.upper))
            raise BadInputError(f"box: lower[{j}] = {self.lower[j]:g} exceeds upper[{j}] = "
                                f"{self.upper[j]:g} (empty set)")
        self.unbounded = bool(np.all(self.lower == -np.inf) and np.all(self.upper == np.inf))

    def project(self, p: np.ndarray) -> np.ndarray:
        return p if self.unbounded else np.minimum(np.maximum(p, self.lower), self.upper)

    def violation(self, p: np.ndarray) -> float:
        if self.unbounded or p.size == 0:
            return 0.0
        return float(max(np.max(self.lower - p, initial=0.0), np.max(p - self.upper, initial=0.0)))

    def __repr__(self) -> str:
        return f"Box(dim={self.dim})"


class Ball:
    """``{z : ||z - center|| <= radius}``."""

    convex = True

    def __init__(self, center: Any, radius: float) -> None:
        self.center = np.asarray(center, dtype=np.float64).ravel()
        self.radius = float(radius)
        self.dim = self.center.size
        if not (math.isfinite(self.radius) and self.radius >= 0) or not np.all(np.isfinite(self.center)):
            raise BadInputError(f"ball: radius {radius!r} must be finite and >= 0, center finite")

    def project(self, p: np.ndarray) -> np.ndarray:
        d = p - self.center
        nrm = float(np.linalg.norm(d))
        return p if nrm <= self.radius else self.center + d * (self.radius / nrm)

    def violation(self, p: np.ndarray) -> float:
        return max(0.0, float(np.linalg.norm(p - self.center)) - self.radius)

    def __repr__(self) -> str:
        return f"Ball(dim={self.dim}, radius={self.radius:g})"


def project_simplex(p: np.ndarray, total: float = 1.0) -> np.ndarray:
    """Projection onto ``{z >= 0, sum z = total}`` by sorting (Held, Wolfe, Crowder 1974)."""
    u = np.sort(p)[::-1]
    css = np.cumsum(u) - total
    idx = np.arange(1, p.size + 1)
    rho = int(np.nonzero(u - css / idx > 0)[0][-1])
    tau = css[rho] / (rho + 1.0)
    return np.maximum(p - tau, 0.0)


class Simplex:
    """``{z >= 0 : sum z = total}``."""

    convex = True

    def __init__(self, dim: int, total: float = 1.0) -> None:
        self.dim = int(dim)
        self.total = float(total)
        if self.dim < 1 or not (self.total > 0 and math.isfinite(self.total)):
            raise BadInputError(f"simplex: dimension {dim} and total {total} must be positive")

    def project(self, p: np.ndarray) -> np.ndarray:
        return project_simplex(p, self.total)

    def violation(self, p: np.ndarray) -> float:
        return float(max(np.max(-p, initial=0.0), abs(float(np.sum(p)) - self.total)))

    def __repr__(self) -> str:
        return f"Simplex(dim={self.dim}, total={self.total:g})"


def dykstra_polyhedron(p: np.ndarray, A: np.ndarray, b: np.ndarray, eq: np.ndarray,
                       lower: np.ndarray, upper: np.ndarray, *, max_sweeps: int = 20000,
                       tol: float = 1e-13) -> tuple[np.ndarray, int]:
    """Projection of ``p`` onto ``{z : A z <= b (rows with eq: A z = b), lower <= z <= upper}``
    by Dykstra's method: the sets are the box and each row's halfspace (hyperplane); the
    correction vectors of the halfspaces are multiples of their normals, so they are stored as
    scalars (this is Hildreth's method for the rows). Returns ``(z, sweeps)``; the sweep loop stops
    when no component moves more than ``tol * max(1, ||p||_inf)`` in a sweep.

    NumPy reference (and oracle) of the Cython kernel ``_dykstra.dykstra_polyhedron``."""
    z = np.array(p, dtype=np.float64)
    m = A.shape[0]
    norms2 = np.einsum("ij,ij->i", A, A)
    corr_rows = np.zeros(m)
    corr_box = np.zeros_like(z)
    scale = tol * max(1.0, float(np.max(np.abs(z), initial=0.0)))
    sweeps = 0
    for sweeps in range(1, max_sweeps + 1):  # noqa: B007 (the count is returned)
        z_old = z.copy()
        # the box, with its Dykstra correction
        w = z + corr_box
        z = np.minimum(np.maximum(w, lower), upper)
        corr_box = w - z
        for i in range(m):
            if norms2[i] == 0.0:
                continue
            a = A[i]
            # add back the correction (a multiple of a), project, store the new multiple
            s = float(a @ z) + corr_rows[i] * norms2[i] - b[i]
            t = s / norms2[i]
            if not eq[i] and t < 0.0:
                t = 0.0
            z = z + (corr_rows[i] - t) * a
            corr_rows[i] = t
        if float(np.max(np.abs(z - z_old), initial=0.0)) <= scale:
            break
    return z, sweeps


class Polyhedron:
    """``{z : A z <= b (equality rows where eq), lower <= z <= upper}``, projected by Dykstra."""

    convex = True

    def __init__(self, A: Any, b: Any, eq: Any = None, lower: Any = -np.inf, upper: Any = np.inf) -> None:
        self.A = np.atleast_2d(np.asarray(A, dtype=np.float64))
        self.b = np.asarray(b, dtype=np.float64).ravel()
        self.dim = self.A.shape[1]
        self.eq = np.zeros(self.b.size, dtype=bool) if eq is None else np.asarray(eq, dtype=bool).ravel()
        if self.A.shape[0] != self.b.size or self.eq.size != self.b.size:
            raise BadInputError(f"polyhedron: A has {self.A.shape[0]} rows, b {self.b.size}, "
                                f"eq {self.eq.size}")
        if not (np.all(np.isfinite(self.A)) and np.all(np.isfinite(self.b))):
            raise BadInputError("polyhedron: A or b has NaN or infinite entries")
        self.box = Box(lower, upper, self.dim)

    def violation(self, p: np.ndarray) -> float:
        r = self.A @ p - self.b
        r = np.where(self.eq, np.abs(r), np.maximum(r, 0.0))
        return max(float(np.max(r, initial=0.0)), self.box.violation(p))

    def project(self, p: np.ndarray) -> np.ndarray:
        if self.violation(p) <= 0.0:
            return p
        return dykstra(p, self.A, self.b, self.eq, self.box.lower, self.box.upper)[0]

    def __repr__(self) -> str:
        return f"Polyhedron(dim={self.dim}, rows={self.b.size})"


def dykstra(p: np.ndarray, A: np.ndarray, b: np.ndarray, eq: np.ndarray, lower: np.ndarray,
            upper: np.ndarray, max_sweeps: int = 20000, tol: float = 1e-13) -> tuple[np.ndarray, int]:
    """The compiled kernel when built, else :func:`dykstra_polyhedron`."""
    kern = _kernel()
    if kern is not None:
        return kern.dykstra_polyhedron(np.ascontiguousarray(p, dtype=np.float64),
                                       np.ascontiguousarray(A, dtype=np.float64),
                                       np.ascontiguousarray(b, dtype=np.float64),
                                       np.ascontiguousarray(eq, dtype=np.uint8),
                                       np.ascontiguousarray(lower, dtype=np.float64),
                                       np.ascontiguousarray(upper, dtype=np.float64),
                                       int(max_sweeps), float(tol))
    return dykstra_polyhedron(p, A, b, eq, lower, upper, max_sweeps=max_sweeps, tol=tol)


def _kernel() -> Any:
    """The compiled Dykstra kernel, or None (not built, or SOLVERHUB_PURE_PYTHON set)."""
    from solverhub.cython_ext import load_extension

    return load_extension("_bilevel")[0]


def _nearest_on_segment(px: np.ndarray, py: np.ndarray, ax: np.ndarray, ay: np.ndarray,
                        bx: np.ndarray, by: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Componentwise nearest point of the segments [a_i, b_i] in the plane to p_i, and the
    squared distance (a zero-length segment is its end point)."""
    dx, dy = bx - ax, by - ay
    len2 = dx * dx + dy * dy
    safe = np.where(len2 > 0.0, len2, 1.0)
    t = np.clip(((px - ax) * dx + (py - ay) * dy) / safe, 0.0, 1.0)
    t = np.where(len2 > 0.0, t, 0.0)
    qx, qy = ax + t * dx, ay + t * dy
    return qx, qy, (px - qx) ** 2 + (py - qy) ** 2


def project_coupled_bounds(x: np.ndarray, y: np.ndarray, x_lower: np.ndarray,
                           x_upper: np.ndarray, y_lower: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean projection of (x, y) onto {x_lower <= x <= x_upper, y_lower <= y <= x}, exactly.

    The set is a product over i of planar quadrilaterals (vertices (a, l), (u, l), (u, u), (a, a)
    with l = y_lower_i, u = x_upper_i, a = max(x_lower_i, l)), so the projection is separable per
    component: a point inside is kept, a point outside goes to the nearest of the four edges
    (for a convex set the nearest boundary point is the projection). Vectorised over i; finite
    bounds with max(x_lower, y_lower) <= x_upper are required (checked by :class:`CoupledBounds`).
    """
    lo = np.maximum(x_lower, y_lower)
    inside = (x >= lo) & (x <= x_upper) & (y >= y_lower) & (y <= x)
    if bool(np.all(inside)):
        return x, y
    u, ell = x_upper, y_lower
    best_x, best_y, best_d = _nearest_on_segment(x, y, lo, ell, u, ell)           # y = l
    for ax, ay, bx, by in ((u, ell, u, u),                                          # x = u
                           (u, u, lo, lo),                                          # y = x
                           (lo, lo, lo, ell)):                                      # x = a
        qx, qy, d = _nearest_on_segment(x, y, ax, ay, bx, by)
        closer = d < best_d
        best_x = np.where(closer, qx, best_x)
        best_y = np.where(closer, qy, best_y)
        best_d = np.where(closer, d, best_d)
    return np.where(inside, x, best_x), np.where(inside, y, best_y)


class CoupledBounds:
    """``{(x, y) in R^n x R^n : x_lower <= x <= x_upper, y_lower <= y <= x}``: componentwise bounds
    of y by x (an upper-level variable bounding a lower-level one, e.g. the per-sample weights c_i
    bounding the SVM dual variables alpha_i). ``project(x, y)`` is exact and vectorised
    (:func:`project_coupled_bounds`), so lv-hba can take it as ``project_C``."""

    convex = True

    def __init__(self, x_lower: Any, x_upper: Any, y_lower: Any, dim: int) -> None:
        self.dim = int(dim)
        parts = []
        for what, v in (("x_lower", x_lower), ("x_upper", x_upper), ("y_lower", y_lower)):
            a = np.asarray(v, dtype=np.float64)
            if a.ndim == 0 or a.size == 1:
                a = np.full(self.dim, float(a.reshape(-1)[0]))
            a = a.ravel()
            if a.shape != (self.dim,):
                raise BadInputError(f"coupled bounds: {what} has {a.size} entries, expected {self.dim}")
            if not np.all(np.isfinite(a)):
                raise BadInputError(f"coupled bounds: {what} has NaN or infinite entries (finite "
                                    f"bounds are required)")
            parts.append(a)
        self.x_lower, self.x_upper, self.y_lower = parts
        empty = np.maximum(self.x_lower, self.y_lower) > self.x_upper
        if np.any(empty):
            j = int(np.argmax(empty))
            raise BadInputError(f"coupled bounds: component {j} is empty (max(x_lower, y_lower) = "
                                f"{max(self.x_lower[j], self.y_lower[j]):g} > x_upper = "
                                f"{self.x_upper[j]:g})")

    def project(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        xa = np.asarray(x, dtype=np.float64).ravel()
        ya = np.asarray(y, dtype=np.float64).ravel()
        if xa.shape != (self.dim,) or ya.shape != (self.dim,):
            raise BadInputError(f"coupled bounds: (x, y) of sizes {xa.size} and {ya.size}, "
                                f"expected {self.dim} each")
        return project_coupled_bounds(xa, ya, self.x_lower, self.x_upper, self.y_lower)

    def violation(self, x: np.ndarray, y: np.ndarray) -> float:
        lo = np.maximum(self.x_lower, self.y_lower)
        r = np.concatenate([lo - x, x - self.x_upper, self.y_lower - y, y - x])
        return float(max(0.0, np.max(r, initial=0.0)))

    def __repr__(self) -> str:
        return f"CoupledBounds(dim={self.dim})"


def is_convex_set(obj: Any) -> bool:
    return callable(getattr(obj, "project", None)) and getattr(obj, "convex", False) is True


def as_set(obj: Any, dim: int, what: str) -> Any:
    """``None`` (the whole space), a ``(lower, upper)`` pair (a box) or a set object."""
    if obj is None:
        return Box(-np.inf, np.inf, dim)
    if isinstance(obj, tuple) and len(obj) == 2:
        return Box(obj[0], obj[1], dim)
    if not callable(getattr(obj, "project", None)):
        raise BadInputError(f"{what}: expected None, a (lower, upper) pair or a set with a "
                            f"project() method, got {type(obj).__name__}")
    d = getattr(obj, "dim", dim)
    if d != dim:
        raise BadInputError(f"{what}: the set has dimension {d}, the variable {dim}")
    return obj
