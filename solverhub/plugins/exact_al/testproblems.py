"""Hand-coded equality-constrained test problems (Hock-Schittkowski, Lukšan-Vlček), with exact
derivatives, for tests, conformance checks and ``py:`` addresses::

    solverhub solve "py:solverhub.plugins.exact_al.testproblems:hs6" --solver exact-al --json
    solverhub solve "py:solverhub.plugins.exact_al.testproblems:lukvle1?n=1000" --solver exact-al

Formulas: W. Hock, K. Schittkowski, *Test Examples for Nonlinear Programming Codes* (1981),
problems 6, 7, 28, 39, 40, and with bounds and inequalities 21, 35, 71, 76; L. Lukšan, J. Vlček,
*Sparse and partially separable test problems for
unconstrained and equality constrained optimization* (1999), problem 5.1 (LUKVLE1 in CUTEst).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from solverhub.plugins.exact_al.problem import NLPEqProblem

__all__ = ["hs6", "hs7", "hs28", "hs39", "hs40", "hs21", "hs35", "hs71", "hs76", "disk_halfplane",
           "lukvle1", "chained_rosenbrock_eq", "malformed", "ALL", "ALL_BOUNDED"]


def hs6() -> NLPEqProblem:
    """min (1 - x1)^2 s.t. 10 (x2 - x1^2) = 0; x0 = (-1.2, 1); x* = (1, 1), f* = 0."""
    return NLPEqProblem(
        f=lambda x: (1 - x[0]) ** 2,
        grad=lambda x: np.array([-2 * (1 - x[0]), 0.0]),
        c=lambda x: np.array([10 * (x[1] - x[0] ** 2)]),
        jac=lambda x: np.array([[-20 * x[0], 10.0]]),
        hess=lambda x, lam: np.array([[2 - 20 * lam[0], 0.0], [0.0, 0.0]]),
        x0=[-1.2, 1.0], name="HS6", reference_objective=0.0, reference_solution=[1.0, 1.0])


def hs7() -> NLPEqProblem:
    """min log(1 + x1^2) - x2 s.t. (1 + x1^2)^2 + x2^2 - 4 = 0; x0 = (2, 2); f* = -sqrt(3)."""
    def hess(x, lam):
        u = 1 + x[0] ** 2
        return np.array([[(2 - 2 * x[0] ** 2) / u ** 2 + lam[0] * (4 + 12 * x[0] ** 2), 0.0],
                         [0.0, 2 * lam[0]]])
    return NLPEqProblem(
        f=lambda x: math.log(1 + x[0] ** 2) - x[1],
        grad=lambda x: np.array([2 * x[0] / (1 + x[0] ** 2), -1.0]),
        c=lambda x: np.array([(1 + x[0] ** 2) ** 2 + x[1] ** 2 - 4]),
        jac=lambda x: np.array([[4 * x[0] * (1 + x[0] ** 2), 2 * x[1]]]),
        hess=hess, x0=[2.0, 2.0], name="HS7", reference_objective=-math.sqrt(3),
        reference_solution=[0.0, math.sqrt(3)])


def hs28() -> NLPEqProblem:
    """min (x1 + x2)^2 + (x2 + x3)^2 s.t. x1 + 2 x2 + 3 x3 = 1; x0 = (-4, 1, 1); f* = 0."""
    Q = np.array([[2.0, 2, 0], [2, 4, 2], [0, 2, 2]])
    return NLPEqProblem(
        f=lambda x: (x[0] + x[1]) ** 2 + (x[1] + x[2]) ** 2,
        grad=lambda x: Q @ x,
        c=lambda x: np.array([x[0] + 2 * x[1] + 3 * x[2] - 1]),
        jac=lambda x: np.array([[1.0, 2.0, 3.0]]),
        hess=lambda x, lam: Q.copy(), x0=[-4.0, 1.0, 1.0], name="HS28",
        reference_objective=0.0, reference_solution=[0.5, -0.5, 0.5])


def hs39() -> NLPEqProblem:
    """min -x1 s.t. x2 - x1^3 - x3^2 = 0, x1^2 - x2 - x4^2 = 0; x0 = 2; f* = -1 (BT9's
    structure)."""
    def hess(x, lam):
        H = np.zeros((4, 4))
        H[0, 0] = -6 * x[0] * lam[0] + 2 * lam[1]
        H[2, 2] = -2 * lam[0]
        H[3, 3] = -2 * lam[1]
        return H
    return NLPEqProblem(
        f=lambda x: -x[0],
        grad=lambda x: np.array([-1.0, 0, 0, 0]),
        c=lambda x: np.array([x[1] - x[0] ** 3 - x[2] ** 2, x[0] ** 2 - x[1] - x[3] ** 2]),
        jac=lambda x: np.array([[-3 * x[0] ** 2, 1.0, -2 * x[2], 0.0],
                                [2 * x[0], -1.0, 0.0, -2 * x[3]]]),
        hess=hess, x0=[2.0] * 4, name="HS39", reference_objective=-1.0,
        reference_solution=[1.0, 1.0, 0.0, 0.0])


def hs40() -> NLPEqProblem:
    """min -x1 x2 x3 x4 s.t. x1^3 + x2^2 = 1, x1^2 x4 - x3 = 0, x4^2 - x2 = 0; x0 = 0.8;
    f* = -0.25."""
    def grad(x):
        return -np.array([x[1] * x[2] * x[3], x[0] * x[2] * x[3], x[0] * x[1] * x[3],
                          x[0] * x[1] * x[2]])

    def hess(x, lam):
        H = np.zeros((4, 4))
        for i in range(4):
            for j in range(4):
                if i != j:
                    k, l = (t for t in range(4) if t not in (i, j))
                    H[i, j] = -x[k] * x[l]
        H[0, 0] += lam[0] * 6 * x[0] + lam[1] * 2 * x[3]
        H[1, 1] += lam[0] * 2
        H[0, 3] += lam[1] * 2 * x[0]
        H[3, 0] += lam[1] * 2 * x[0]
        H[3, 3] += lam[2] * 2
        return H
    return NLPEqProblem(
        f=lambda x: -x[0] * x[1] * x[2] * x[3], grad=grad,
        c=lambda x: np.array([x[0] ** 3 + x[1] ** 2 - 1, x[0] ** 2 * x[3] - x[2], x[3] ** 2 - x[1]]),
        jac=lambda x: np.array([[3 * x[0] ** 2, 2 * x[1], 0, 0],
                                [2 * x[0] * x[3], 0, -1, x[0] ** 2],
                                [0, -1, 0, 2 * x[3]]], dtype=float),
        hess=hess, x0=[0.8] * 4, name="HS40", reference_objective=-0.25)


def hs21() -> NLPEqProblem:
    """min 0.01 x1^2 + x2^2 - 100 s.t. 10 x1 - x2 >= 10, 2 <= x1 <= 50, -50 <= x2 <= 50;
    x0 = (-1, -1) (outside the bounds); x* = (2, 0), f* = -99.96."""
    return NLPEqProblem(
        f=lambda x: 0.01 * x[0] ** 2 + x[1] ** 2 - 100,
        grad=lambda x: np.array([0.02 * x[0], 2 * x[1]]),
        c=lambda x: np.array([10 * x[0] - x[1]]),
        jac=lambda x: np.array([[10.0, -1.0]]),
        hess=lambda x, lam: np.diag([0.02, 2.0]),
        x0=[-1.0, -1.0], lb=[2.0, -50.0], ub=[50.0, 50.0], cl=[10.0], cu=[np.inf], name="HS21",
        reference_objective=-99.96, reference_solution=[2.0, 0.0])


def hs35() -> NLPEqProblem:
    """min 9 - 8 x1 - 6 x2 - 4 x3 + 2 x1^2 + 2 x2^2 + x3^2 + 2 x1 x2 + 2 x1 x3 s.t.
    x1 + x2 + 2 x3 <= 3, x >= 0; x0 = (0.5, 0.5, 0.5); x* = (4/3, 7/9, 4/9), f* = 1/9."""
    Q = np.array([[4.0, 2, 2], [2, 4, 0], [2, 0, 2]])
    q = np.array([-8.0, -6, -4])
    return NLPEqProblem(
        f=lambda x: 9 + q @ x + 0.5 * x @ Q @ x,
        grad=lambda x: q + Q @ x,
        c=lambda x: np.array([x[0] + x[1] + 2 * x[2]]),
        jac=lambda x: np.array([[1.0, 1.0, 2.0]]),
        hess=lambda x, lam: Q.copy(),
        x0=[0.5, 0.5, 0.5], lb=[0.0, 0.0, 0.0], cl=[-np.inf], cu=[3.0], name="HS35",
        reference_objective=1 / 9, reference_solution=[4 / 3, 7 / 9, 4 / 9])


def hs71() -> NLPEqProblem:
    """min x1 x4 (x1 + x2 + x3) + x3 s.t. x1 x2 x3 x4 >= 25, sum x^2 = 40, 1 <= x <= 5;
    x0 = (1, 5, 5, 1); f* = 17.0140173 (IPOPT's tutorial problem)."""
    def f(x):
        return x[0] * x[3] * (x[0] + x[1] + x[2]) + x[2]

    def grad(x):
        return np.array([x[3] * (2 * x[0] + x[1] + x[2]), x[0] * x[3], x[0] * x[3] + 1,
                         x[0] * (x[0] + x[1] + x[2])])

    def c(x):
        return np.array([np.prod(x), x @ x])

    def jac(x):
        p = np.array([x[1] * x[2] * x[3], x[0] * x[2] * x[3], x[0] * x[1] * x[3],
                      x[0] * x[1] * x[2]])
        return np.vstack([p, 2 * x])

    def hess(x, lam):
        H = np.array([[2 * x[3], x[3], x[3], 2 * x[0] + x[1] + x[2]],
                      [x[3], 0, 0, x[0]], [x[3], 0, 0, x[0]],
                      [2 * x[0] + x[1] + x[2], x[0], x[0], 0]], dtype=float)
        P = np.zeros((4, 4))
        for i in range(4):
            for j in range(4):
                if i != j:
                    P[i, j] = np.prod([x[k] for k in range(4) if k not in (i, j)])
        return H + lam[0] * P + lam[1] * 2 * np.eye(4)
    return NLPEqProblem(f, grad, c, jac, [1.0, 5.0, 5.0, 1.0], hess=hess, lb=[1.0] * 4,
                        ub=[5.0] * 4, cl=[25.0, 40.0], cu=[np.inf, 40.0], name="HS71",
                        reference_objective=17.0140173,
                        reference_solution=[1.0, 4.74299963, 3.82114998, 1.37940829])


def hs76() -> NLPEqProblem:
    """min x1^2 + x2^2/2 + x3^2 + x4^2/2 - x1 x3 + x3 x4 - x1 - 3 x2 + x3 - x4 s.t.
    x1 + 2 x2 + x3 + x4 <= 5, 3 x1 + x2 + 2 x3 - x4 <= 4, x2 + 4 x3 >= 1.5, x >= 0;
    x0 = (0.5, 0.5, 0.5, 0.5); f* = -4.681818181."""
    Q = np.array([[2.0, 0, -1, 0], [0, 1, 0, 0], [-1, 0, 2, 1], [0, 0, 1, 1]])
    q = np.array([-1.0, -3, 1, -1])
    A = np.array([[1.0, 2, 1, 1], [3, 1, 2, -1], [0, 1, 4, 0]])
    return NLPEqProblem(
        f=lambda x: q @ x + 0.5 * x @ Q @ x, grad=lambda x: q + Q @ x, c=lambda x: A @ x,
        jac=lambda x: A.copy(), hess=lambda x, lam: Q.copy(), x0=[0.5] * 4, lb=[0.0] * 4,
        cl=[-np.inf, -np.inf, 1.5], cu=[5.0, 4.0, np.inf], name="HS76",
        reference_objective=-4.681818181,
        reference_solution=[0.2727273, 2.090909, 0.0, 0.5454545])


def disk_halfplane() -> NLPEqProblem:
    """An infeasible inequality system: x1^2 + x2^2 <= 1 and x1 + x2 >= 3 (the disk and the
    half-plane do not meet; the least violation is at x1 = x2 = 1/sqrt 2 ... 3/2)."""
    return NLPEqProblem(
        f=lambda x: x[0] + 2 * x[1], grad=lambda x: np.array([1.0, 2.0]),
        c=lambda x: np.array([x @ x, x[0] + x[1]]),
        jac=lambda x: np.vstack([2 * x, [1.0, 1.0]]),
        hess=lambda x, lam: 2 * lam[0] * np.eye(2), x0=[0.2, 0.1],
        cl=[-np.inf, 3.0], cu=[1.0, np.inf], name="disk-halfplane (infeasible)")


def lukvle1(n: int = 100) -> NLPEqProblem:
    """LUKVLE1: chained Rosenbrock with trigonometric-exponential constraints, vectorised and
    sparse (Lukšan-Vlček 5.1; CUTEst/S2MPJ LUKVLE1):

        f = sum_{i<n} 100 (x_i^2 - x_{i+1})^2 + (x_i - 1)^2
        c_k = 3 x_{k+1}^3 + 2 x_{k+2} - 5 + sin(x_{k+1} - x_{k+2}) sin(x_{k+1} + x_{k+2})
              + 4 x_{k+1} - x_k exp(x_k - x_{k+1}) - 3,   k = 1 .. n-2

    x0: -1.2 at odd, 1 at even positions (1-based)."""
    n = int(n)
    if n < 3:
        from solverhub.core.errors import BadInputError

        raise BadInputError(f"lukvle1: n must be at least 3, got {n}")
    m = n - 2
    rows = np.arange(m)

    def f(x):
        t = x[:-1] ** 2 - x[1:]
        return float(100 * t @ t + (x[:-1] - 1) @ (x[:-1] - 1))

    def grad(x):
        t = x[:-1] ** 2 - x[1:]
        g = np.zeros(n)
        g[:-1] += 400 * t * x[:-1] + 2 * (x[:-1] - 1)
        g[1:] -= 200 * t
        return g

    def c(x):
        a, b, d = x[:-2], x[1:-1], x[2:]
        # sin(b - d) sin(b + d) = (cos 2d - cos 2b) / 2
        return (3 * b ** 3 + 2 * d - 5 + np.sin(b - d) * np.sin(b + d) + 4 * b
                - a * np.exp(a - b) - 3)

    def jac(x):
        a, b, d = x[:-2], x[1:-1], x[2:]
        e = np.exp(a - b)
        data = np.concatenate([-(1 + a) * e, 9 * b ** 2 + np.sin(2 * b) + 4 + a * e, 2 - np.sin(2 * d)])
        return sp.csr_matrix((data, (np.tile(rows, 3), np.concatenate([rows, rows + 1, rows + 2]))),
                             shape=(m, n))

    def hess(x, lam):
        lam = np.asarray(lam, dtype=float)
        a, b, d = x[:-2], x[1:-1], x[2:]
        e = np.exp(a - b)
        diag = np.zeros(n)
        t = x[:-1] ** 2 - x[1:]
        diag[:-1] += 400 * (3 * x[:-1] ** 2 - x[1:]) + 2
        diag[1:] += 200
        off = -400 * x[:-1]  # (i, i+1) from f
        diag[:-2] += lam * (-(2 + a) * e)
        diag[1:-1] += lam * (18 * b + 2 * np.cos(2 * b) - a * e)
        diag[2:] += lam * (-2 * np.cos(2 * d))
        off = off.copy()
        off[:-1] += lam * (1 + a) * e  # (k, k+1) from c_k
        del t
        return sp.diags([off, diag, off], [-1, 0, 1], shape=(n, n), format="csr")

    x0 = np.where(np.arange(n) % 2 == 0, -1.2, 1.0)
    return NLPEqProblem(f, grad, c, jac, x0, hess=hess, name=f"LUKVLE1(n={n})",
                        metadata={"family": "lukvle1", "n": n})


def chained_rosenbrock_eq(n: int = 400) -> NLPEqProblem:
    """The conformance suite's hard instance: LUKVLE1 at ``n`` variables (dense paper rules take
    far more than a second there)."""
    p = lukvle1(n)
    p.name = f"hard-LUKVLE1(n={n})"
    return p


def malformed() -> list[tuple[str, NLPEqProblem]]:
    """Problems whose validation must fail with BadInputError."""
    good = hs6()
    nan_f = hs6()
    nan_f.f = lambda x: float("nan")
    nan_c = hs6()
    nan_c.c = lambda x: np.array([float("inf")])
    bad_jac = hs6()
    bad_jac.jac = lambda x: np.array([[-20 * x[0], 10.0, 0.0]])
    too_many = NLPEqProblem(f=lambda x: x[0] ** 2, grad=lambda x: np.array([2 * x[0]]),
                            c=lambda x: np.array([x[0] - 1, x[0] + 1]),
                            jac=lambda x: np.array([[1.0], [1.0]]), x0=[0.0], name="m>n")
    wrong_grad = hs6()
    wrong_grad.grad = lambda x: np.array([2 * (1 - x[0]), 0.0])  # sign error
    wrong_hess = hs6()
    wrong_hess.hess = lambda x, lam: np.array([[2 + 20 * lam[0], 0.0], [0.0, 0.0]])
    nan_x0 = NLPEqProblem(good.f, good.grad, good.c, good.jac, [np.nan, 1.0], hess=good.hess)
    return [("nan-objective-at-x0", nan_f), ("inf-constraint-at-x0", nan_c),
            ("wrong-jacobian-shape", bad_jac), ("more-constraints-than-variables", too_many),
            ("wrong-gradient", wrong_grad), ("wrong-hessian", wrong_hess), ("nan-x0", nan_x0)]


ALL = {"HS6": hs6, "HS7": hs7, "HS28": hs28, "HS39": hs39, "HS40": hs40}
#: with bounds and inequalities
ALL_BOUNDED = {"HS21": hs21, "HS35": hs35, "HS71": hs71, "HS76": hs76}
