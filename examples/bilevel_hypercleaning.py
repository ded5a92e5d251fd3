"""Data hyper-cleaning as a bilevel program (an application of the LV-HBA paper), on scikit-learn's
bundled breast-cancer data with 40 % of the training labels flipped.

    upper:  min_x  F(x, w) = mean over the validation set of log(1 + exp(-y_j w'z_j))
    lower:  w in argmin_w  f(x, w) = mean over the training set of s(x_i) log(1 + exp(-~y_i w'z_i))
                                     + mu/2 ||w||^2,        s = the logistic sigmoid, x in [-6, 6]^n

A weight s(x_i) near 0 drops a (probably mislabelled) training sample. The lower level is strongly
convex and its constraints do not involve x, so both lv-hba and bilevel-penalty apply.

    python examples/bilevel_hypercleaning.py          # about a minute
    solverhub solve "py:examples.bilevel_hypercleaning:make_problem?seed=0" --solver bilevel-penalty

Reports test accuracy of the logistic regression trained with uniform weights (no cleaning), with
the weights found by each solver, and (as the ceiling) on clean labels.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from solverhub.plugins.bilevel import BilevelProblem


def _data(seed: int, n_train: int, n_val: int, flip: float):
    from sklearn.datasets import load_breast_cancer

    Z, t = load_breast_cancer(return_X_y=True)
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(t))
    Z = (Z - Z[idx[:n_train]].mean(0)) / Z[idx[:n_train]].std(0)
    Z = np.hstack([Z, np.ones((len(t), 1))])            # bias feature
    y = 2.0 * t - 1.0
    tr, va, te = idx[:n_train], idx[n_train:n_train + n_val], idx[n_train + n_val:]
    noisy = y[tr].copy()
    flipped = rng.choice(n_train, int(round(flip * n_train)), replace=False)
    noisy[flipped] *= -1
    return Z[tr], noisy, y[tr], Z[va], y[va], Z[te], y[te], flipped


def _softplus(m):
    if np.iscomplexobj(m):
        return np.log1p(np.exp(-m))
    return np.logaddexp(0.0, -m)


def _sig(v):
    return 1.0 / (1.0 + np.exp(-v))


def make_problem(seed: int = 0, n_train: int = 200, n_val: int = 100, flip: float = 0.4,
                 mu: float = 1e-2, kappa: float = 30.0) -> BilevelProblem:
    """Weights s(kappa x_i): kappa rescales x so that one step size suits x and w (lv-hba takes
    one step size alpha for both; the x-gradient is of order 1/n)."""
    Ztr, ytr, _, Zva, yva, Zte, yte, flipped = _data(int(seed), int(n_train), int(n_val), float(flip))
    n, d = Ztr.shape
    nv = len(yva)

    def F(x, w):
        return np.sum(_softplus(yva * (Zva @ w))) / nv

    def grad_F(x, w):
        m = yva * (Zva @ w)
        return np.zeros(n), Zva.T @ (-yva * _sig(-m)) / nv

    kappa = float(kappa)

    def f(x, w):
        return np.sum(_sig(kappa * x) * _softplus(ytr * (Ztr @ w))) / n + 0.5 * mu * np.sum(w * w)

    def grad_f(x, w):
        m = ytr * (Ztr @ w)
        s = _sig(kappa * x)
        return kappa * s * (1 - s) * _softplus(m) / n, Ztr.T @ (s * -ytr * _sig(-m)) / n + mu * w

    p = BilevelProblem(n, d, F, f, grad_F=grad_F, grad_f=grad_f, X=(-6.0 / kappa, 6.0 / kappa),
                       x0=np.full(n, 2.0 / kappa), y0=np.zeros(d), name=f"hypercleaning(seed={seed})",
                       source=f"py:examples.bilevel_hypercleaning:make_problem?seed={seed}")
    p.test_set = (Zte, yte)
    p.kappa = kappa
    p.flipped = flipped
    return p


def accuracy(w, Z, y) -> float:
    return float(np.mean(np.sign(Z @ w) == y))


def main(seed: int = 0) -> int:
    import solverhub as sh

    P = make_problem(seed)
    Zte, yte = P.test_set
    from scipy.optimize import minimize

    def lower_fit(x, labels=None):
        Ztr, noisy, clean = _data(seed, P.nx, 100, 0.4)[:3]
        lab = noisy if labels is None else clean
        s = _sig(x)
        fun = lambda w: (np.sum(s * _softplus(lab * (Ztr @ w))) / len(lab) + 5e-3 * w @ w)
        return minimize(fun, np.zeros(P.ny), method="L-BFGS-B").x

    rows = [("no cleaning (uniform weights, 40 % flipped)", accuracy(lower_fit(P.kappa * P.x0), Zte, yte), "-"),
            ("clean labels (ceiling)", accuracy(lower_fit(P.kappa * P.x0, "clean"), Zte, yte), "-")]
    for solver, opts in (("lv-hba", {"alpha": 0.1, "eta": 0.1, "max_iterations": 5000}),
                         ("bilevel-penalty", {"variant": "single-loop", "alpha": 0.1,
                                              "inner_step": 0.1, "sigma": 0.05,
                                              "max_iterations": 5000})):
        t = time.perf_counter()
        res = sh.solve(P, solver=solver, **opts)
        t = time.perf_counter() - t
        x = res.x[:P.nx]
        drop = _sig(P.kappa * x) < 0.5
        caught = len(set(np.flatnonzero(drop)) & set(P.flipped.tolist()))
        rows.append((f"{solver} ({res.status}, {t:.1f} s)", accuracy(res.x[P.nx:], Zte, yte),
                     f"{caught}/{len(P.flipped)} flipped dropped, {int(drop.sum()) - caught} clean dropped"))
    print("| training | test accuracy | samples dropped (weight < 1/2) |")
    print("|---|---|---|")
    for name, acc, note in rows:
        print(f"| {name} | {acc:.3f} | {note} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
