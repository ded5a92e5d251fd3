"""The exact route: a bilevel program whose lower level is convex in y with affine constraints,
replaced by its KKT conditions and solved by a MIP solver.

For fixed x the lower level  min_t {f(x, t) : g(x, t) <= 0, t in Y}  with f convex quadratic in t
(its y-gradient affine in (x, y)) and g affine has affine constraints, so its KKT conditions are
necessary (no constraint qualification is needed for affine constraints) and sufficient
(convexity): y in S(x) exactly when multipliers exist with

    grad_y f(x, y) + A_y' lam - mu_lo + mu_up = 0,
    lam_i >= 0, -g_i(x, y) >= 0, lam_i * g_i(x, y) = 0   (inequality rows; equality rows: lam_i free)
    mu_lo_j, mu_up_j >= 0 complementary to y_j - y_lo_j and y_up_j - y_j  (the box Y).

The optimistic bilevel program is then a single-level program with complementarity constraints,
which a MIP solver handles exactly:

- as SOS1 pairs {lam_i, s_i} with slacks s_i = -g_i (SCIP through PySCIPOpt; F may be quadratic,
  even nonconvex, which SCIP branches on spatially): no bound on the multipliers is needed, so an
  optimum SCIP proves is the global optimum of the bilevel program;
- as big-M rows with a binary per pair (``bilevel -> mip`` converter, any MIP solver: HiGHS,
  SCIP or CP-SAT through OR-Tools, Balans; F linear): lam_i <= M_lam u_i, s_i <= M_s (1 - u_i).
  M_s comes from an LP over C (a valid bound); no valid M_lam follows from the data in general,
  so M_lam is an option: the optimum is global when the true multipliers lie within it, and
  a multiplier that ends at M_lam is reported.

Fortuny-Amat and McCarl (1981) introduced the big-M form; see docs/bilevel.md for the choice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from solverhub.core.errors import BadInputError

from .problem import BilevelProblem
from .sets import Box

__all__ = ["KKTForm", "kkt_form", "why_no_kkt"]

#: variables up to which a quadratic F / an affine lower-level gradient is detected numerically
_DETECT_MAX = 2000


@dataclass
class KKTForm:
    """The data of the KKT reformulation, all in z = (x, y) of length n = nx + ny.

    F(z) = 1/2 z'HF z + cF'z + F0 (HF None: F linear); upper rows AG z <= bG (``G_eq``: ==);
    lower rows Ag z <= bg (``g_eq``: ==); grad_y f(z) = Hy z + cy; boxes (xl, xu), (yl, yu).
    """

    nx: int
    ny: int
    HF: np.ndarray | None
    cF: np.ndarray
    F0: float
    AG: np.ndarray
    bG: np.ndarray
    G_eq: np.ndarray
    Ag: np.ndarray
    bg: np.ndarray
    g_eq: np.ndarray
    Hy: np.ndarray
    cy: np.ndarray
    xl: np.ndarray
    xu: np.ndarray
    yl: np.ndarray
    yu: np.ndarray

    @property
    def n(self) -> int:
        return self.nx + self.ny

    @property
    def lower_bounds(self) -> np.ndarray:
        return np.concatenate([self.xl, self.yl])

    @property
    def upper_bounds(self) -> np.ndarray:
        return np.concatenate([self.xu, self.yu])

    def pairs(self) -> list[tuple[str, int]]:
        """The complementarity pairs: ("g", i) for inequality rows of g, ("lo", j) / ("up", j) for
        finite bounds of y_j."""
        out = [("g", int(i)) for i in np.flatnonzero(~self.g_eq)]
        out += [("lo", int(j)) for j in np.flatnonzero(np.isfinite(self.yl))]
        out += [("up", int(j)) for j in np.flatnonzero(np.isfinite(self.yu))]
        return out


def _affine_rows(P: BilevelProblem, which: str) -> tuple[np.ndarray, np.ndarray]:
    aff = P.g_affine if which == "g" else P.G_affine
    assert aff is not None
    A, b = aff
    return np.asarray(A, dtype=float).reshape(-1, P.n), np.asarray(b, dtype=float).ravel()


def _lower_gradient(P: BilevelProblem) -> tuple[np.ndarray, np.ndarray] | str:
    """(Hy, cy) with grad_y f(z) = Hy z + cy, or why it is not affine in (x, y)."""
    q = P._quad.get("f")
    if q is not None:
        H, c = q
        return np.asarray(H[P.nx:], dtype=float), np.asarray(c[P.nx:], dtype=float)
    if P.n > _DETECT_MAX:
        return f"f is not recognised as quadratic (more than {_DETECT_MAX} variables)"
    # f itself need not be quadratic (a term in x alone, such as x^3, does not matter to the lower
    # level): its y-gradient must be affine in (x, y), checked at two further points
    z0 = np.concatenate([P.x0, P.y0])

    def gy(z: np.ndarray) -> np.ndarray:
        return np.asarray(P.grad_f(z[:P.nx], z[P.nx:])[1], dtype=float)

    try:
        g0 = gy(z0)
        H = np.empty((P.ny, P.n))
        for i in range(P.n):
            e = z0.copy()
            e[i] += 1.0
            H[:, i] = gy(e) - g0
        rng = np.random.default_rng(7)
        for _ in range(2):
            p = z0 + rng.standard_normal(P.n) * max(1.0, float(np.max(np.abs(z0), initial=0.0)))
            gp = gy(p)
            if not np.allclose(gp, g0 + H @ (p - z0), rtol=1e-8,
                               atol=1e-8 * max(1.0, float(np.max(np.abs(gp), initial=0.0)))):
                return "the lower-level gradient grad_y f is not affine in (x, y) (f is not " \
                       "quadratic in y)"
    except Exception as exc:  # a function outside its domain at a probe point
        return f"the lower-level gradient could not be probed ({type(exc).__name__}: {exc})"
    return H, g0 - H @ z0


def _upper_objective(P: BilevelProblem) -> tuple[np.ndarray | None, np.ndarray, float] | str:
    q = P._quad.get("F")
    if q is None and P.n <= _DETECT_MAX:
        z0 = np.concatenate([P.x0, P.y0])
        rng = np.random.default_rng(0)
        pts = [z0 + rng.standard_normal(P.n) * max(1.0, float(np.max(np.abs(z0), initial=0.0)))
               for _ in range(2)]
        q = P._detect_quadratic("F", z0, pts)
    if q is None:
        return "F is not recognised as a quadratic function of (x, y)"
    H, c = (np.asarray(a, dtype=float) for a in q)
    z0 = np.concatenate([P.x0, P.y0])
    F0 = P.F(P.x0, P.y0) - 0.5 * z0 @ H @ z0 - c @ z0
    scale = max(1.0, float(np.max(np.abs(H), initial=0.0)), float(np.max(np.abs(c), initial=0.0)))
    H[np.abs(H) <= 1e-12 * scale] = 0.0
    return (H if np.any(H) else None), c, float(F0)


def why_no_kkt(P: BilevelProblem) -> str | None:
    """None when the KKT route is exact for ``P``, else the reason (one line)."""
    form = kkt_form(P)
    return form if isinstance(form, str) else None


def kkt_form(P: BilevelProblem) -> KKTForm | str:
    """The KKT reformulation of ``P``, or why the route does not apply (exactly)."""
    if not (isinstance(P.X, Box) and isinstance(P.Y, Box)):
        return "X and Y must be boxes (or the whole space)"
    if P.project_C_user is not None:
        return "the problem supplies its own projection onto C (its constraints are not declared)"
    if P.g_affine is None:
        return "the lower-level constraints g are not affine (the KKT conditions may not hold)"
    if P.G_affine is None:
        return "the upper-level constraints G are not affine"
    grad = _lower_gradient(P)
    if isinstance(grad, str):
        return grad
    Hy, cy = grad
    Hyy = Hy[:, P.nx:]
    Hyy = 0.5 * (Hyy + Hyy.T)
    lam_min = float(np.min(np.linalg.eigvalsh(Hyy), initial=0.0)) if P.ny else 0.0
    if lam_min < -1e-9 * max(1.0, float(np.max(np.abs(Hyy), initial=0.0))):
        return (f"the lower level is not convex in y (smallest eigenvalue of its Hessian "
                f"{lam_min:.3g}): its KKT points need not be minima")
    obj = _upper_objective(P)
    if isinstance(obj, str):
        return obj
    HF, cF, F0 = obj
    AG, bG = _affine_rows(P, "G")
    Ag, bg = _affine_rows(P, "g")
    return KKTForm(P.nx, P.ny, HF, cF, F0, AG, bG, np.asarray(P.upper_eq, bool), Ag, bg,
                   np.asarray(P.lower_eq, bool), Hy, cy, P.X.lower.astype(float),
                   P.X.upper.astype(float), P.Y.lower.astype(float), P.Y.upper.astype(float))


def slack_bounds(K: KKTForm) -> np.ndarray:
    """For each complementarity pair, the largest value its slack takes over C = {x in X, y in Y,
    G <= 0, g <= 0} (an LP each, HiGHS through SciPy); inf where C leaves it unbounded."""
    from scipy.optimize import linprog

    A = np.vstack([K.AG, K.Ag])
    b = np.concatenate([K.bG, K.bg])
    eq = np.concatenate([K.G_eq, K.g_eq])
    bounds = [(None if not math.isfinite(lo) else lo, None if not math.isfinite(up) else up)
              for lo, up in zip(K.lower_bounds, K.upper_bounds)]
    lp = dict(A_ub=A[~eq] if np.any(~eq) else None, b_ub=b[~eq] if np.any(~eq) else None,
              A_eq=A[eq] if np.any(eq) else None, b_eq=b[eq] if np.any(eq) else None,
              bounds=bounds, method="highs")
    out = []
    for kind, i in K.pairs():
        if kind == "g":          # s = bg_i - Ag_i z, maximised: minimise Ag_i z
            res = linprog(K.Ag[i], **lp)
            out.append(K.bg[i] - res.fun if res.status == 0 else math.inf)
        else:
            j = K.nx + i
            if kind == "lo" and math.isfinite(K.yu[i]):
                out.append(K.yu[i] - K.yl[i])
                continue
            if kind == "up" and math.isfinite(K.yl[i]):
                out.append(K.yu[i] - K.yl[i])
                continue
            c = np.zeros(K.n)
            c[j] = -1.0 if kind == "lo" else 1.0
            res = linprog(c, **lp)
            if res.status != 0:
                out.append(math.inf)
            elif kind == "lo":
                out.append(-res.fun - K.yl[i])
            else:
                out.append(K.yu[i] + res.fun)
    return np.asarray(out, dtype=float)


def require_form(P: Any, solver: str) -> KKTForm:
    from .common import require_problem

    P = require_problem(P, solver)
    # the structure is read off derivatives at the start: it must be a point
    for what, v, size in (("x0", P.x0, P.nx), ("y0", P.y0, P.ny)):
        a = np.asarray(v, dtype=float).ravel()
        if a.shape != (size,) or not np.all(np.isfinite(a)):
            raise BadInputError(f"{P.source or P.name}: {what} must be {size} finite numbers")
    form = kkt_form(P)
    if isinstance(form, str):
        raise BadInputError(f"{P.source or P.name}: the KKT route does not apply: {form}")
    return form
