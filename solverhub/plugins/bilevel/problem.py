"""The ``bilevel`` problem kind: optimistic bilevel programs with coupled lower-level constraints.

    min_{x in X, y in Y}  F(x, y)   s.t.  G(x, y) <= 0,
                                          y in S(x) = argmin_{t in Y} { f(x, t) : g(x, t) <= 0 }

``g`` and ``G`` are vectors of constraints; rows marked in ``lower_eq`` / ``upper_eq`` are
equalities. ``X`` and ``Y`` are sets (``None``: the whole space, a ``(lower, upper)`` pair: a box,
or a :mod:`~solverhub.plugins.bilevel.sets` object: ball, simplex, polyhedron).

Derivatives: callables ``grad_F(x, y) -> (d_x, d_y)``, ``grad_f``, ``jac_g(x, y) -> (J_x, J_y)``,
``jac_G``, each checked at construction against directional complex-step derivatives (the
derivative checker, :meth:`BilevelProblem.check_derivatives`). Without them the derivatives are
taken by the complex-step method (exact to rounding for functions written with NumPy arithmetic;
central differences where a function refuses complex input). Affine constraint rows and quadratic
objectives are recognised numerically, so their derivatives then cost one matrix product.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

import solverhub as sh
from solverhub.core.errors import BadInputError

from .sets import Box, as_set, is_convex_set

__all__ = ["KIND", "BilevelProblem"]

KIND = "bilevel"
_H = 1e-30  # complex-step increment
#: quadratic objectives are recognised up to this many variables (the test costs n gradients)
_QUAD_DETECT_MAX = 60
#: ... and up to this many with supplied gradients (n gradient calls)
_QUAD_DETECT_MAX_SUPPLIED = 400
#: above this many lower-level variables the lower-level value with affine constraint rows is
#: computed matrix-free (an augmented Lagrangian over L-BFGS-B) instead of by SLSQP, whose dense
#: O(ny^2) memory and O(ny^3) steps took 127 s at ny = 2,000 and failed at ny = 6,700
LOWER_DENSE_MAX = 300


def _pt(v: np.ndarray) -> str:
    """A short rendering of a point for messages."""
    return np.array2string(np.asarray(v, dtype=float), precision=4, threshold=6)


def _vec(v: Any, size: int, what: str) -> np.ndarray:
    a = np.asarray(v, dtype=np.float64).ravel()
    if a.shape != (size,):
        raise BadInputError(f"{what}: has {a.size} entries, expected {size}")
    return a


class BilevelProblem:
    """A bilevel program (see the module docstring). ``x0``/``y0`` is the starting point;
    ``reference_objective`` (F*), ``reference_x``/``reference_y`` (a solution) and
    ``reference_lower`` (f*) the published optimum, when known; ``reference_kind`` says what it is
    ("opt": a global optimum, "best": the best known)."""

    kind = KIND
    sense = sh.MIN
    # set on some problems by the code that builds them (declared here for the type checker only)
    #: the closed form a toy problem has ("lvhba_toy", n) (bolib.py; read by lv-hba)
    structure: tuple[str, int]
    #: the SVM data-cleaning problems (svm.py): data, formulation, weight unit, kappa, start model
    svm_data: Any
    formulation: str
    c_start: float
    upper_weight: float
    start_model: Any

    def __init__(self, nx: int, ny: int, F: Callable, f: Callable, *, g: Callable | None = None,
                 G: Callable | None = None, lower_eq: Any = None, upper_eq: Any = None,
                 X: Any = None, Y: Any = None, grad_F: Callable | None = None,
                 grad_f: Callable | None = None, jac_g: Callable | None = None,
                 jac_G: Callable | None = None, x0: Any = None, y0: Any = None,
                 reference_objective: float | None = None, reference_x: Any = None,
                 reference_y: Any = None, reference_lower: float | None = None,
                 reference_kind: str = "opt", multiplier_bound: float | None = None,
                 project_C: Callable | None = None, name: str = "bilevel",
                 source: str | None = None, check_derivatives: bool = True,
                 notes: str = "") -> None:
        self.name, self.source, self.notes = name, source, notes
        if not (isinstance(nx, (int, np.integer)) and isinstance(ny, (int, np.integer))) \
                or nx < 1 or ny < 1:
            raise BadInputError(f"{self._who()}: nx = {nx!r} and ny = {ny!r} must be integers >= 1")
        self.nx, self.ny = int(nx), int(ny)
        for what, fn in (("F", F), ("f", f)):
            if not callable(fn):
                raise BadInputError(f"{self._who()}: {what} must be callable")
        self._F, self._f, self._g, self._G = F, f, g, G
        self._grad_F, self._grad_f, self._jac_g, self._jac_G = grad_F, grad_f, jac_g, jac_G
        self.X = as_set(X, self.nx, f"{self._who()}: X")
        self.Y = as_set(Y, self.ny, f"{self._who()}: Y")
        self.x0 = np.zeros(self.nx) if x0 is None else _vec(x0, self.nx, f"{self._who()}: x0")
        self.y0 = np.zeros(self.ny) if y0 is None else _vec(y0, self.ny, f"{self._who()}: y0")
        if not (np.all(np.isfinite(self.x0)) and np.all(np.isfinite(self.y0))):
            raise BadInputError(f"{self._who()}: the starting point has NaN or infinite entries")
        self.reference_objective = None if reference_objective is None else float(reference_objective)
        self.reference_x = None if reference_x is None else _vec(reference_x, self.nx,
                                                                 f"{self._who()}: reference_x")
        self.reference_y = None if reference_y is None else _vec(reference_y, self.ny,
                                                                 f"{self._who()}: reference_y")
        self.reference_lower = None if reference_lower is None else float(reference_lower)
        self.reference_kind = reference_kind
        self.multiplier_bound = multiplier_bound
        self.project_C_user = project_C
        self._leq = None if lower_eq is None else np.asarray(lower_eq, dtype=bool).ravel()
        self._ueq = None if upper_eq is None else np.asarray(upper_eq, dtype=bool).ravel()
        self._check = check_derivatives
        self._analysed = False
        self.validate()

    # ------------------------------------------------------------------ basics
    def _who(self) -> str:
        return self.source or self.name

    @property
    def n(self) -> int:
        """Length of the solution vector ``(x, y)``."""
        return self.nx + self.ny

    @property
    def reference_solution(self) -> np.ndarray | None:
        if self.reference_x is None or self.reference_y is None:
            return None
        return np.concatenate([self.reference_x, self.reference_y])

    def column_name(self, j: int) -> str:
        """The name of entry ``j`` of a solution vector (x, y): ``x1..x{nx}``, ``y1..y{ny}``."""
        return f"x{j + 1}" if j < self.nx else f"y{j - self.nx + 1}"

    def split(self, z: Any) -> tuple[np.ndarray, np.ndarray]:
        v = np.asarray(z, dtype=np.float64).ravel()
        if v.shape != (self.n,):
            raise BadInputError(f"{self._who()}: a solution has {self.nx} + {self.ny} = {self.n} "
                                f"entries (x, y), got {v.size}")
        return v[:self.nx], v[self.nx:]

    def _scalar(self, fn: Callable, x: Any, y: Any, what: str) -> float:
        v = fn(x, y)
        a = np.asarray(v)
        if a.size != 1:
            raise BadInputError(f"{self._who()}: {what} returned {a.size} values, expected a scalar")
        return a.reshape(()).item()

    def _vector(self, fn: Callable | None, x: Any, y: Any) -> np.ndarray:
        if fn is None:
            return np.zeros(0)
        return np.atleast_1d(np.asarray(fn(x, y))).ravel()

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Evaluate everything at the starting point: shapes, finiteness, derivatives (checked),
        then recognise affine constraint rows and quadratic objectives."""
        who = self._who()
        for what, v, size in (("x0", self.x0, self.nx), ("y0", self.y0, self.ny)):
            a = np.asarray(v, dtype=np.float64).ravel() if v is not None else None
            if a is None or a.shape != (size,):
                raise BadInputError(f"{who}: {what} has {getattr(a, 'size', 0)} entries, expected {size}")
            if not np.all(np.isfinite(a)):
                raise BadInputError(f"{who}: {what} has NaN or infinite entries")
        self.x0 = np.asarray(self.x0, dtype=np.float64).ravel()
        self.y0 = np.asarray(self.y0, dtype=np.float64).ravel()
        x, y = self.x0, self.y0
        for what, fn in (("F", self._F), ("f", self._f)):
            try:
                value = float(self._scalar(fn, x, y, what))
            except BadInputError:
                raise
            except Exception as exc:
                raise BadInputError(f"{who}: evaluating {what} at the starting point raised "
                                    f"{type(exc).__name__}: {exc}") from exc
            if not math.isfinite(value):
                raise BadInputError(f"{who}: {what} is {value} at the starting point (non-finite)")
        self.l = self._vector(self._g, x, y).size
        self.L = self._vector(self._G, x, y).size
        for what, vfn in (("g", self._g), ("G", self._G)):
            if not np.all(np.isfinite(self._vector(vfn, x, y))):
                raise BadInputError(f"{who}: {what} has non-finite values at the starting point")
        self.lower_eq = np.zeros(self.l, dtype=bool) if self._leq is None else self._leq
        self.upper_eq = np.zeros(self.L, dtype=bool) if self._ueq is None else self._ueq
        for what, m, size in (("lower_eq", self.lower_eq, self.l), ("upper_eq", self.upper_eq, self.L)):
            if m.shape != (size,):
                raise BadInputError(f"{who}: {what} has {m.size} entries, the constraints {size}")
        if not self._analysed:
            self._analyse()

    # ------------------------------------------------------------------ derivatives
    def _complex_ok(self, fn: Callable, x: np.ndarray, y: np.ndarray) -> bool:
        import warnings

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                v = np.asarray(fn(x + 0j, y + 1e-30j))
            return np.iscomplexobj(v) and bool(np.all(np.isfinite(v)))
        except Exception:
            return False

    def _numgrad(self, fn: Callable, x: np.ndarray, y: np.ndarray, vector: bool,
                 cplx: bool) -> np.ndarray:
        """Jacobian (rows: outputs) or gradient of fn at (x, y), all n columns."""
        z = np.concatenate([x, y])
        cols = []
        for i in range(z.size):
            if cplx:
                zc = z.astype(np.complex128)
                zc[i] += 1j * _H
                cols.append(np.atleast_1d(np.asarray(fn(zc[:self.nx], zc[self.nx:]))).ravel().imag / _H)
            else:
                h = 1e-6 * max(1.0, abs(z[i]))
                zp, zm = z.copy(), z.copy()
                zp[i] += h
                zm[i] -= h
                cols.append((np.atleast_1d(np.asarray(fn(zp[:self.nx], zp[self.nx:]), dtype=float)).ravel()
                             - np.atleast_1d(np.asarray(fn(zm[:self.nx], zm[self.nx:]), dtype=float)).ravel())
                            / (2 * h))
        J = np.array(cols).T  # (outputs, n)
        return J if vector else J.ravel()

    def _directional(self, fn: Callable, x: np.ndarray, y: np.ndarray, dx: np.ndarray,
                     dy: np.ndarray, cplx: bool) -> np.ndarray:
        if cplx:
            v = np.atleast_1d(np.asarray(fn(x + 1j * _H * dx, y + 1j * _H * dy))).ravel()
            return v.imag / _H
        h = 1e-6
        a = np.atleast_1d(np.asarray(fn(x + h * dx, y + h * dy), dtype=float)).ravel()
        b = np.atleast_1d(np.asarray(fn(x - h * dx, y - h * dy), dtype=float)).ravel()
        return (a - b) / (2 * h)

    def check_derivatives(self, x: Any = None, y: Any = None, *, directions: int = 3,
                          tol: float = 1e-6) -> dict[str, float]:
        """Compare the supplied derivatives with directional complex-step (or central difference)
        derivatives along random directions; raise :class:`BadInputError` naming the first one
        that disagrees by more than ``tol`` (relative). Returns the largest relative error of each."""
        rng = np.random.default_rng(12345)
        if x is None and y is None:
            # the start and a random point near it (a start at a stationary point hides errors)
            pts = [(self.x0, self.y0), (self.x0 + 0.5 * rng.standard_normal(self.nx),
                                        self.y0 + 0.5 * rng.standard_normal(self.ny))]
            out: dict[str, float] = {}
            for i, (px, py) in enumerate(pts):
                try:
                    with np.errstate(all="ignore"):
                        ok = all(fn is None or np.all(np.isfinite(np.asarray(fn(px, py), dtype=complex)))
                                 for fn in (self._F, self._f, self._g, self._G))
                except Exception:
                    ok = False
                if i and not ok:
                    continue  # outside the functions' domain: the start alone is checked
                for k, v in self.check_derivatives(px, py, directions=directions, tol=tol).items():
                    out[k] = max(out.get(k, 0.0), v)
            return out
        x = self.x0 if x is None else _vec(x, self.nx, "x")
        y = self.y0 if y is None else _vec(y, self.ny, "y")
        out = {}
        pairs = (("grad_F", self._grad_F, self._F, False), ("grad_f", self._grad_f, self._f, False),
                 ("jac_g", self._jac_g, self._g, True), ("jac_G", self._jac_G, self._G, True))
        for what, d, fn, vector in pairs:
            if d is None or fn is None:
                continue
            cplx = self._complex_ok(fn, x, y)
            tol_eff = tol if cplx else max(tol, 1e-4)
            worst = 0.0
            try:
                a, b = d(x, y)
            except Exception as exc:
                raise BadInputError(f"{self._who()}: {what} raised {type(exc).__name__}: {exc}") from exc
            a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
            if vector:
                a = a.reshape(-1, self.nx) if a.size else np.zeros((0, self.nx))
                b = b.reshape(-1, self.ny) if b.size else np.zeros((0, self.ny))
                if a.shape[0] != b.shape[0]:
                    raise BadInputError(f"{self._who()}: {what} returned {a.shape[0]} and "
                                        f"{b.shape[0]} rows")
            elif a.size != self.nx or b.size != self.ny:
                raise BadInputError(f"{self._who()}: {what} returned parts of sizes {a.size} and "
                                    f"{b.size}, expected {self.nx} and {self.ny}")
            for _ in range(directions):
                dx, dy = rng.standard_normal(self.nx), rng.standard_normal(self.ny)
                num = self._directional(fn, x, y, dx, dy, cplx)
                ana = (a @ dx + b @ dy) if vector else np.atleast_1d(a.ravel() @ dx + b.ravel() @ dy)
                if not (np.all(np.isfinite(ana)) and np.all(np.isfinite(num))):
                    bad = what if not np.all(np.isfinite(ana)) else what.split("_")[1]
                    raise BadInputError(f"{self._who()}: derivative checker: {bad} returned NaN or "
                                        f"infinite values at ({_pt(x)}, {_pt(y)})")
                err = float(np.max(np.abs(num - ana) / np.maximum(1.0, np.abs(num)), initial=0.0))
                worst = max(worst, err)
            out[what] = worst
            if not worst <= tol_eff:
                raise BadInputError(f"{self._who()}: derivative checker: {what} disagrees with "
                                    f"the derivative of {what.split('_')[1]} (relative error "
                                    f"{worst:.2e} along a random direction)")
        return out

    def _analyse(self) -> None:
        """Derivatives (supplied, checked; or numerical) and structure (affine rows, quadratics)."""
        x, y = self.x0, self.y0
        if self._check:
            self.check_derivatives()
        self._cplx = {k: (fn is not None and self._complex_ok(fn, x, y))
                      for k, fn in (("F", self._F), ("f", self._f), ("g", self._g), ("G", self._G))}
        rng = np.random.default_rng(0)
        z0 = np.concatenate([x, y])
        pts = [z0 + rng.standard_normal(self.n) * max(1.0, float(np.max(np.abs(z0), initial=0.0)))
               for _ in range(2)]
        # quadratic objectives: gradient affine in (x, y)
        self._quad: dict[str, tuple[np.ndarray, np.ndarray] | None] = {"F": None, "f": None}
        for k in ("F", "f"):
            supplied = (self._grad_F if k == "F" else self._grad_f) is not None
            if self.n <= (_QUAD_DETECT_MAX_SUPPLIED if supplied else _QUAD_DETECT_MAX):
                self._quad[k] = self._detect_quadratic(k, z0, pts)
        # affine constraint rows
        self.g_affine = self._detect_affine("g", z0, pts)   # (A (l, n), b) with g = A z - b, or None
        self.G_affine = self._detect_affine("G", z0, pts)
        self._analysed = True

    def _grad_num(self, k: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The supplied gradient as one vector, else the numerical one."""
        d = self._grad_F if k == "F" else self._grad_f
        if d is not None:
            a, b = d(x, y)
            return np.concatenate([np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()])
        fn = self._F if k == "F" else self._f
        return self._numgrad(fn, x, y, False, self._cplx[k])

    def _detect_quadratic(self, k: str, z0: np.ndarray, pts: list) -> tuple | None:
        try:
            g0 = self._grad_num(k, z0[:self.nx], z0[self.nx:])
            H = np.empty((self.n, self.n))
            for i in range(self.n):
                e = z0.copy()
                e[i] += 1.0
                H[:, i] = self._grad_num(k, e[:self.nx], e[self.nx:]) - g0
            for p in pts:
                gp = self._grad_num(k, p[:self.nx], p[self.nx:])
                if not np.allclose(gp, g0 + H @ (p - z0), rtol=1e-9, atol=1e-9 * max(1.0, np.max(np.abs(gp)))):
                    return None
            H = 0.5 * (H + H.T)
            return H, g0 - H @ z0   # grad(z) = H z + c
        except Exception:
            return None

    def _detect_affine(self, k: str, z0: np.ndarray, pts: list) -> tuple | None:
        fn = self._g if k == "g" else self._G
        rows = self.l if k == "g" else self.L
        if fn is None or rows == 0:
            return (np.zeros((0, self.n)), np.zeros(0))
        try:
            J0 = self.jac_full(k, z0[:self.nx], z0[self.nx:])
            v0 = self._vector(fn, z0[:self.nx], z0[self.nx:])
            for p in pts:
                Jp = self.jac_full(k, p[:self.nx], p[self.nx:])
                vp = self._vector(fn, p[:self.nx], p[self.nx:])
                if not (np.allclose(Jp, J0, rtol=1e-9, atol=1e-9)
                        and np.allclose(vp, v0 + J0 @ (p - z0), rtol=1e-8, atol=1e-8)):
                    return None
            return J0, J0 @ z0 - v0
        except Exception:
            return None

    def jac_full(self, k: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Jacobian of g (k="g") or G (k="G") at (x, y) as an (rows, nx + ny) matrix."""
        d = self._jac_g if k == "g" else self._jac_G
        if d is not None:
            a, b = d(x, y)
            a = np.asarray(a, dtype=float).reshape(-1, self.nx)
            b = np.asarray(b, dtype=float).reshape(-1, self.ny)
            return np.hstack([a, b])
        fn = self._g if k == "g" else self._G
        assert fn is not None, f"jac_full({k!r}): the problem has no {k}"
        return self._numgrad(fn, x, y, True, self._cplx[k]).reshape(-1, self.n)

    # ------------------------------------------------------------------ evaluation
    def F(self, x: np.ndarray, y: np.ndarray) -> float:
        return float(np.real(self._scalar(self._F, x, y, "F")))

    def f(self, x: np.ndarray, y: np.ndarray) -> float:
        return float(np.real(self._scalar(self._f, x, y, "f")))

    def g(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        if self.g_affine is not None:
            A, b = self.g_affine
            return A[:, :self.nx] @ x + A[:, self.nx:] @ y - b
        return self._vector(self._g, x, y).astype(float)

    def G(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        if self.G_affine is not None:
            A, b = self.G_affine
            return A[:, :self.nx] @ x + A[:, self.nx:] @ y - b
        return self._vector(self._G, x, y).astype(float)

    def _grad(self, k: str, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d = self._grad_F if k == "F" else self._grad_f
        if d is not None:
            a, b = d(x, y)
            # the common case, float vectors already, without the conversions (the NumPy path
            # calls this four times an iteration)
            if type(a) is np.ndarray and type(b) is np.ndarray and a.dtype == np.float64 \
                    and b.dtype == np.float64 and a.ndim == 1 and b.ndim == 1:
                return a, b
            return np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
        q = self._quad[k]
        if q is not None:
            H, c = q
            v = H[:, :self.nx] @ x + H[:, self.nx:] @ y + c
        else:
            v = self._grad_num(k, x, y)
        return v[:self.nx], v[self.nx:]

    def grad_F(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._grad("F", x, y)

    def grad_f(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._grad("f", x, y)

    def jac_g(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.g_affine is not None:
            A = self.g_affine[0]
        else:
            A = self.jac_full("g", x, y)
        return A[:, :self.nx], A[:, self.nx:]

    # ------------------------------------------------------------------ sets and feasibility
    def constraint_violation(self, x: np.ndarray, y: np.ndarray) -> float:
        """Largest violation of x in X, y in Y, G <= 0 and g <= 0 (equality rows: |.|)."""
        out = max(self.X.violation(x) if hasattr(self.X, "violation") else 0.0,
                  self.Y.violation(y) if hasattr(self.Y, "violation") else 0.0)
        for v, eq in ((self.g(x, y), self.lower_eq), (self.G(x, y), self.upper_eq)):
            if v.size:
                r = np.where(eq, np.abs(v), np.maximum(v, 0.0))
                out = max(out, float(np.max(r)))
        return out

    def polyhedral_C(self) -> tuple | None:
        """``(A, b, eq, lower, upper)`` describing C = {x in X, y in Y, g <= 0, G <= 0} when X and
        Y are boxes and every constraint row is affine, else None."""
        if not (isinstance(self.X, Box) and isinstance(self.Y, Box)):
            return None
        if self.g_affine is None or self.G_affine is None:
            return None
        A = np.vstack([self.g_affine[0], self.G_affine[0]])
        b = np.concatenate([self.g_affine[1], self.G_affine[1]])
        eq = np.concatenate([self.lower_eq, self.upper_eq])
        return (A, b, eq, np.concatenate([self.X.lower, self.Y.lower]),
                np.concatenate([self.X.upper, self.Y.upper]))

    def why_no_projection_C(self) -> str | None:
        """None when C can be projected onto, else the reason."""
        if self.project_C_user is not None:
            return None
        for what, s in (("X", self.X), ("Y", self.Y)):
            if not is_convex_set(s):
                return (f"{what} ({type(s).__name__}) is not declared convex (convex = True): the "
                        f"projection onto it is not defined")
        bad = []
        if self.g_affine is None:
            bad.append("the lower-level constraints g are not affine")
        if self.G_affine is None:
            bad.append("the upper-level constraints G are not affine")
        if (self.l or self.L) and not (isinstance(self.X, Box) and isinstance(self.Y, Box)):
            bad.append("X or Y is not a box while constraint rows are present")
        if bad:
            return ("; ".join(bad) + ": C = {x in X, y in Y, g(x, y) <= 0, G(x, y) <= 0} may be "
                    "non-convex and has no projection; pass project_C= (a projection onto a "
                    "convex C)")
        return None

    def projector_C(self) -> Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """A function ``(x, y) -> P_C(x, y)``; BadInputError when C has no projection."""
        reason = self.why_no_projection_C()
        if reason is not None:
            raise BadInputError(f"{self._who()}: {reason}")
        nx = self.nx
        user = self.project_C_user
        if user is not None:
            def proj_user(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
                a, b = user(x, y)
                return np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
            return proj_user
        poly = self.polyhedral_C()
        X, Y = self.X, self.Y
        if poly is None or poly[0].shape[0] == 0:
            return lambda x, y: (X.project(x), Y.project(y))
        from .sets import dykstra

        A, b, eq, lo, up = poly
        unb_box = bool(np.all(lo == -np.inf) and np.all(up == np.inf))
        n_eq = int(np.sum(eq))
        if unb_box and A.shape[0] == 1 and n_eq == 1:
            # one hyperplane: the projection in closed form
            a0, b0, nn = A[0], float(b[0]), float(A[0] @ A[0])

            def proj_plane(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
                z = np.concatenate([x, y])
                z -= ((a0 @ z - b0) / nn) * a0
                return z[:nx], z[nx:]
            return proj_plane

        def proj_poly(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            z = np.concatenate([x, y])
            r = A @ z - b
            if np.all(np.where(eq, r == 0.0, r <= 0.0)) and np.all(z >= lo) and np.all(z <= up):
                return x, y
            z = dykstra(z, A, b, eq, lo, up)[0]
            return z[:nx], z[nx:]
        return proj_poly

    def C_is_empty(self) -> bool | None:
        """True when the polyhedral C is empty (an LP feasibility problem, HiGHS through SciPy),
        False when it is not, None when C is not polyhedral."""
        poly = self.polyhedral_C()
        if poly is None:
            return None
        from scipy.optimize import linprog

        A, b, eq, lo, up = poly
        res = linprog(np.zeros(self.n), A_ub=A[~eq] if np.any(~eq) else None,
                      b_ub=b[~eq] if np.any(~eq) else None, A_eq=A[eq] if np.any(eq) else None,
                      b_eq=b[eq] if np.any(eq) else None,
                      bounds=[(None if not math.isfinite(a) else a, None if not math.isfinite(c) else c)
                              for a, c in zip(lo, up)], method="highs")
        return res.status == 2

    def _bound_rows(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Affine inequality rows of g that involve a single lower-level variable are bounds on it
        once x is fixed (e.g. alpha_i <= c_i): ``(mask of those rows, lower, upper)`` with the
        bounds of a box Y merged in. The lower-level value is then a bound-constrained problem
        (L-BFGS-B) instead of an SLSQP problem with one constraint per row."""
        rows = np.zeros(self.l, dtype=bool)
        if not isinstance(self.Y, Box):
            return rows, np.full(self.ny, -np.inf), np.full(self.ny, np.inf)
        lo, up = self.Y.lower.copy(), self.Y.upper.copy()
        if not self.l or self.g_affine is None:
            return rows, lo, up
        A, b = self.g_affine
        Ay = A[:, self.nx:]
        rhs = b - A[:, :self.nx] @ x          # row: Ay t <= rhs
        for i in np.flatnonzero((np.count_nonzero(Ay, axis=1) == 1) & ~self.lower_eq):
            j = int(np.flatnonzero(Ay[i])[0])
            v = rhs[i] / Ay[i, j]
            if Ay[i, j] > 0:
                up[j] = min(up[j], v)
            else:
                lo[j] = max(lo[j], v)
            rows[i] = True
        # bounds crossing by rounding (x on the boundary of the lower level's domain) meet in
        # the middle, within the 1e-6 feasibility tolerance of :meth:`lower_value`
        tiny = (lo > up) & (lo - up <= 1e-6 * np.maximum(1.0, np.abs(up)))
        if np.any(tiny):
            mid = 0.5 * (lo[tiny] + up[tiny])
            lo[tiny], up[tiny] = mid, mid
        return rows, lo, up

    def lower_value(self, x: np.ndarray, y_start: np.ndarray | None = None) -> float | None:
        """``min_t {f(x, t) : t in Y, g(x, t) <= 0}`` by SLSQP from ``y_start`` and the problem's
        start (a local minimum when the lower level is nonconvex); None when SLSQP fails."""
        sol = self.lower_solution(x, y_start)
        return None if sol is None else sol[0]

    def lower_solution(self, x: np.ndarray,
                       y_start: np.ndarray | None = None) -> tuple[float, np.ndarray] | None:
        """``(min_t f(x, t), argmin)`` over ``{t in Y, g(x, t) <= 0}`` (see :meth:`lower_value`)."""
        from scipy.optimize import minimize

        from .sets import Ball, Simplex

        ny = self.ny
        cons: list[dict[str, Any]] = []
        box_rows, lo_y, up_y = self._bound_rows(x)
        if self.l:
            ineq, eqm = ~self.lower_eq & ~box_rows, self.lower_eq
            if np.any(ineq):
                cons.append({"type": "ineq", "fun": lambda t: -self.g(x, t)[ineq],
                             "jac": lambda t: -self.jac_g(x, t)[1][ineq]})
            if np.any(eqm):
                cons.append({"type": "eq", "fun": lambda t: self.g(x, t)[eqm],
                             "jac": lambda t: self.jac_g(x, t)[1][eqm]})
        bounds = None
        if isinstance(self.Y, Box) and not (np.all(lo_y == -np.inf) and np.all(up_y == np.inf)):
            bounds = [(None if not math.isfinite(lo) else lo, None if not math.isfinite(up) else up)
                      for lo, up in zip(lo_y, up_y)]
        elif isinstance(self.Y, Ball):
            c, r = self.Y.center, self.Y.radius
            cons.append({"type": "ineq", "fun": lambda t: np.atleast_1d(r * r - (t - c) @ (t - c)),
                         "jac": lambda t: np.atleast_2d(-2 * (t - c))})
        elif isinstance(self.Y, Simplex):
            bounds = [(0.0, None)] * ny
            tot = self.Y.total
            cons.append({"type": "eq", "fun": lambda t: np.atleast_1d(np.sum(t) - tot),
                         "jac": lambda t: np.ones((1, ny))})
        best: tuple[float, np.ndarray] | None = None
        starts = [self.y0] if y_start is None else [np.asarray(y_start, float), self.y0]
        general = ~box_rows if self.l else np.zeros(0, dtype=bool)
        matrix_free = (ny > LOWER_DENSE_MAX and isinstance(self.Y, Box) and self.g_affine is not None
                       and bool(np.any(general)))
        for t0 in starts:
            t0 = self.Y.project(np.array(t0, dtype=float))
            try:
                if matrix_free:
                    sol = self._lower_augmented_lagrangian(x, t0, general, bounds)
                    if sol is None:
                        continue
                    res = sol
                elif cons:
                    res = minimize(lambda t: self.f(x, t), t0, jac=lambda t: self.grad_f(x, t)[1],
                                   method="SLSQP", bounds=bounds, constraints=cons,
                                   options={"maxiter": 500, "ftol": 1e-12})
                else:  # bounds only: L-BFGS-B is much faster than SLSQP
                    res = minimize(lambda t: self.f(x, t), t0, jac=lambda t: self.grad_f(x, t)[1],
                                   method="L-BFGS-B", bounds=bounds,
                                   options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-10})
            except Exception:
                continue
            t = np.asarray(res.x, dtype=float)
            if not np.all(np.isfinite(t)):
                continue
            viol = self.Y.violation(t) if hasattr(self.Y, "violation") else 0.0
            if self.l:
                v = self.g(x, t)
                viol = max(viol, float(np.max(np.where(self.lower_eq, np.abs(v), v), initial=0.0)))
            if viol > 1e-6:
                continue
            val = self.f(x, t)
            if best is None or val < best[0]:
                best = (val, t)
        return best

    def _lower_augmented_lagrangian(self, x: np.ndarray, t0: np.ndarray, rows: np.ndarray,
                                    bounds: Any) -> Any:
        """The lower level with affine rows ``rows`` of g (Ay t <= r, equality rows ==) and the
        box bounds, by the PHR augmented Lagrangian (Hestenes, Powell, Rockafellar) with
        L-BFGS-B on the bounds: products with Ay only, O(ny) memory. Returns an object with ``x``
        (the point) or None when it does not reach feasibility 1e-9 (relative)."""
        from types import SimpleNamespace

        from scipy.optimize import minimize

        assert self.g_affine is not None
        A, b = self.g_affine
        Ay = A[rows][:, self.nx:]
        r = b[rows] - A[rows][:, :self.nx] @ x
        eq = self.lower_eq[rows]
        lam = np.zeros(r.size)
        rho = 10.0
        tol = 1e-9 * max(1.0, float(np.max(np.abs(r), initial=0.0)))
        t = t0
        prev = math.inf
        for _ in range(40):
            def fun(v: np.ndarray, lam: np.ndarray = lam, rho: float = rho) -> tuple[float, np.ndarray]:
                c = Ay @ v - r + lam / rho
                s = np.where(eq, c, np.maximum(c, 0.0))
                return self.f(x, v) + 0.5 * rho * float(s @ s), self.grad_f(x, v)[1] + rho * (Ay.T @ s)

            res = minimize(fun, t, jac=True, method="L-BFGS-B", bounds=bounds,
                           options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-11})
            t = np.asarray(res.x, dtype=float)
            if not np.all(np.isfinite(t)):
                return None
            c = Ay @ t - r
            viol = float(np.max(np.where(eq, np.abs(c), np.maximum(c, 0.0)), initial=0.0))
            lam = np.where(eq, lam + rho * c, np.maximum(lam + rho * c, 0.0))
            if viol <= tol:
                return SimpleNamespace(x=t)
            if viol > 0.25 * prev:
                rho *= 10.0
            prev = viol
        return None

    def __repr__(self) -> str:
        return (f"BilevelProblem({self.name}: nx={self.nx}, ny={self.ny}, {self.l} lower and "
                f"{self.L} upper constraints)")
