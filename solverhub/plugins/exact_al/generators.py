"""The paper's two applications as ``nlp-eq`` generators (``py:`` addresses)::

    solverhub solve "py:solverhub.plugins.exact_al.generators:pde_control?grid=60" --solver exact-al \\
        --set sketch='"exact"' --set shift='"inertia"'
    solverhub solve "py:solverhub.plugins.exact_al.generators:logistic?dataset=breast_cancer" --solver exact-al

``pde_control(grid)``: min 1/2 ||w - w_true||^2 + 0.05 ||z||^2 s.t. Laplacian_h w + z = 0 on the
``grid x grid`` interior points of [-1, 1]^2 (5-point stencil, zero boundary, h = 2/(grid+1)),
``w_true(i, j) = sin(4 + 0.1/sqrt(15) (i - (grid+1)/2)) + cos(3 + 0.1/sqrt(15) (j - (grid+1)/2))``,
start x = 1, lambda = 1 (the authors' setting, which ran grid = 3); sparse derivatives, any size.

``logistic(...)``: min (1/N) sum log(1 + exp(-y_i a_i'w)) s.t. C w = d (``n_linear`` random Gaussian
rows, d = C w0 for a random unit w0, so the set is not empty) and ||w||^2 = 1, on synthetic data or
a scikit-learn bundled set (features standardised); start w = w0 + noise projected... see below.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from solverhub.core.errors import BadInputError
from solverhub.plugins.exact_al.problem import NLPEqProblem

__all__ = ["pde_control", "logistic"]


def _laplacian(g: int) -> sp.csr_matrix:
    h = 2.0 / (g + 1)
    T = sp.diags([np.ones(g - 1), -2 * np.ones(g), np.ones(g - 1)], [-1, 0, 1])
    I = sp.identity(g)
    return ((sp.kron(I, T) + sp.kron(T, I)) / h ** 2).tocsr()


def pde_control(grid: int = 30, alpha: float = 0.1) -> NLPEqProblem:
    """See the module docstring; n = 2 grid^2, m = grid^2. ``alpha``: control weight (0.1: the
    paper's 0.05 ||z||^2 after the 1/2)."""
    g = int(grid)
    if g < 2:
        raise BadInputError(f"pde_control: grid must be at least 2, got {grid}")
    N = g * g
    idx = np.arange(1, g + 1) - (g + 1) / 2
    s = 0.1 / math.sqrt(15)
    # column-major as the authors' reshape: entry (i, j) at i + g j
    Wt = (np.sin(4 + s * idx)[:, None] + np.cos(3 + s * idx)[None, :]).ravel(order="F")
    L = _laplacian(g)
    G = sp.hstack([L, sp.identity(N)], format="csr")
    H = sp.diags(np.concatenate([np.ones(N), alpha * np.ones(N)]), format="csr")

    def f(x):
        w, z = x[:N], x[N:]
        return 0.5 * (float((w - Wt) @ (w - Wt)) + alpha * float(z @ z))

    def grad(x):
        return np.concatenate([x[:N] - Wt, alpha * x[N:]])

    return NLPEqProblem(f, grad, lambda x: G @ x, lambda x: G, np.ones(2 * N),
                        hess=lambda x, lam: H, lam0=np.ones(N), name=f"pde-control(grid={g})",
                        metadata={"family": "pde_control", "grid": g})


def logistic(dataset: str = "synthetic", n_samples: int = 500, n_features: int = 20,
             n_linear: int = 10, seed: int = 0) -> NLPEqProblem:
    """Constrained logistic regression (see the module docstring). ``dataset``: ``synthetic``
    (Gaussian features, labels from a random plane with 10 % flips) or a scikit-learn bundled
    binary set: ``breast_cancer``."""
    rng = np.random.default_rng(int(seed))
    if dataset == "synthetic":
        X = rng.standard_normal((int(n_samples), int(n_features)))
        y = np.sign(X @ rng.standard_normal(int(n_features)) + 1e-12)
        flip = rng.random(y.size) < 0.1
        y[flip] = -y[flip]
    elif dataset == "breast_cancer":
        from sklearn.datasets import load_breast_cancer

        X, y01 = load_breast_cancer(return_X_y=True)
        X = (X - X.mean(0)) / np.maximum(X.std(0), 1e-12)
        y = 2.0 * y01 - 1.0
    else:
        raise BadInputError(f"logistic: unknown dataset {dataset!r} (synthetic, breast_cancer)")
    Ns, d = X.shape
    k = int(n_linear)
    if k + 1 > d:
        raise BadInputError(f"logistic: {k} linear constraints + the sphere need more than {d} "
                            f"features")
    C = rng.standard_normal((k, d))
    w0 = rng.standard_normal(d)
    w0 = w0 / float(np.linalg.norm(w0))
    dvec = C @ w0
    A = y[:, None] * X  # margins y_i a_i'w

    def f(w):
        t = A @ w
        return float(np.mean(np.logaddexp(0.0, -t)))

    def grad(w):
        t = A @ w
        sgm = np.exp(-np.logaddexp(0.0, t))  # 1 / (1 + e^t)
        return -(A.T @ sgm) / Ns

    def c(w):
        return np.concatenate([C @ w - dvec, [w @ w - 1.0]])

    def jac(w):
        return np.vstack([C, 2 * w[None, :]])

    def hess(w, lam):
        t = A @ w
        p = np.exp(-np.logaddexp(0.0, -t))
        wgt = p * (1 - p) / Ns
        return (A.T * wgt) @ A + 2 * lam[-1] * np.eye(d)

    # start: zero weights are infeasible for the sphere; start from a random unit vector
    x0 = rng.standard_normal(d)
    x0 = x0 / float(np.linalg.norm(x0))
    return NLPEqProblem(f, grad, c, jac, x0, hess=hess,
                        name=f"logistic({dataset}, d={d}, N={Ns})",
                        metadata={"family": "logistic", "dataset": dataset})
