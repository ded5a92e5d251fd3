"""SVM hyperparameter selection with per-sample weights as a bilevel program whose lower-level
constraints couple the levels (the SVM application of the LV-HBA paper, Yao et al., ICLR 2024).

Upper variable c in [c_min, c_max]^n (one weight per training sample); lower level: the
soft-margin linear SVM with per-sample penalties c_i,

    min_{w, xi}  nu/2 ||w||^2 + sum_i c_i xi_i   s.t.  y_i z_i'w >= 1 - xi_i,  xi_i >= 0,

taken in its Lagrangian dual, where the weights become the coupled constraints 0 <= alpha_i <= c_i:

    alpha in argmin_{alpha}  f(c, alpha) = ||Z'(y o alpha)||^2 / (2 nu) - 1'alpha
                             s.t.  g(c, alpha) = alpha - c <= 0,  alpha >= 0,
    w(alpha) = Z'(y o alpha) / nu.

(The bias is the constant feature appended to z, regularised like the other weights, as in
LIBLINEAR; nu = ||Z||_2^2 scales the dual Hessian to norm 1, so the equivalent per-sample C of the
usual form 1/2 ||w||^2 + sum C_i xi_i is C_i = c_i / nu.) Upper level: the mean squared hinge loss of
w(alpha) on a validation set,

    F(c, alpha) = mean_j max(0, 1 - y_j v_j'w(alpha))^2.

Why the dual: in the primal (w, b, xi) form the coupled set {y_i (w'z_i + b) >= 1 - xi_i,
0 <= xi_i <= c_i} is not separable per sample (every margin row contains the shared (w, b)), so its
projection is a QP over all rows (Dykstra needed thousands of sweeps). In the dual the set
C = {c_min <= c <= c_max, 0 <= alpha <= c} is a product of planar quadrilaterals, projected exactly
in closed form (:class:`~solverhub.plugins.bilevel.sets.CoupledBounds`), which lv-hba takes as
``project_C``. The authors' released SVM script uses yet another form (weights e^{c_i} on squared
slacks, margin rows as constraints independent of c, so nothing couples the levels there).

``formulation="scaled"`` is the same model after alpha = c o s with s in [0, 1]^n: the lower-level
set no longer depends on c, so bilevel-penalty (Kwon et al., which needs that) applies; its lower
level is convex in s for fixed c.

    solverhub solve "py:solverhub.plugins.bilevel.svm:make_problem?seed=0" --solver lv-hba
    python examples/bilevel_svm.py 0 0.2                            # one seed, every method
    python benchmarks/bench_bilevel.py --svm --seeds 5 --flip 0.2   # the table in docs/benchmarks.md
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from solverhub.core.errors import BadInputError

from .problem import BilevelProblem
from .sets import CoupledBounds

__all__ = ["SVMData", "SVMRow", "accuracy", "cross_validated_c", "load_svm_data", "make_problem",
           "svm_comparison", "svm_problem", "validation_tuned_c", "weighted_svm",
           "weights_and_model"]

#: the uniform weights tried by the cross-validated plain SVM (in units of nu, i.e. C = c / nu)
C_GRID = tuple(10.0 ** e for e in np.arange(-4.0, 1.01, 0.5))
DATASETS = ("breast_cancer", "digits38")


@dataclass
class SVMData:
    """Standardised features with a constant bias column appended, labels in {-1, +1}."""

    Z_train: np.ndarray
    y_train: np.ndarray
    Z_val: np.ndarray
    y_val: np.ndarray
    Z_test: np.ndarray
    y_test: np.ndarray
    flipped: np.ndarray          # indices of training labels flipped on purpose
    name: str = "svm"

    def __post_init__(self) -> None:
        check_data(self)

    @property
    def nu(self) -> float:
        """||Z_train||_2^2: the dual Hessian D Z Z' D / nu then has norm 1."""
        return float(np.linalg.norm(self.Z_train, 2) ** 2)


def check_data(d: SVMData) -> None:
    """Shapes, finiteness and labels of the three splits; BadInputError names the array."""
    for part in ("train", "val", "test"):
        Z = np.asarray(getattr(d, f"Z_{part}"), dtype=np.float64)
        y = np.asarray(getattr(d, f"y_{part}"), dtype=np.float64)
        if Z.ndim != 2 or y.ndim != 1 or Z.shape[0] != y.shape[0]:
            raise BadInputError(f"svm data: Z_{part} has shape {Z.shape} and y_{part} {y.shape}: "
                                f"expected (samples, features) and (samples,)")
        if Z.shape[0] < 2:
            raise BadInputError(f"svm data: the {part} split has {Z.shape[0]} samples (at least 2)")
        if not (np.all(np.isfinite(Z)) and np.all(np.isfinite(y))):
            raise BadInputError(f"svm data: Z_{part} or y_{part} has NaN or infinite entries")
        if not np.all(np.abs(y) == 1.0):
            raise BadInputError(f"svm data: y_{part} must hold labels -1 and +1")
        setattr(d, f"Z_{part}", Z)
        setattr(d, f"y_{part}", y)
    widths = {d.Z_train.shape[1], d.Z_val.shape[1], d.Z_test.shape[1]}
    if len(widths) != 1:
        raise BadInputError(f"svm data: the splits have different numbers of features {sorted(widths)}")


def load_svm_data(dataset: str = "breast_cancer", seed: int = 0, n_train: int = 200,
                  n_val: int = 100, flip: float = 0.0) -> SVMData:
    """A data set bundled with scikit-learn, split at random (``seed``) into training, validation
    and test sets; ``flip`` is the fraction of training labels flipped. ``breast_cancer`` (569 x
    30) or ``digits38`` (the digits 3 against 8, 357 x 64). The paper's diabetes (Pima) and
    fourclass sets are LIBSVM downloads, not bundled (scikit-learn's ``diabetes`` is a regression
    set), so they are not used."""
    from sklearn import datasets

    if dataset == "breast_cancer":
        Z, t = datasets.load_breast_cancer(return_X_y=True)
        y = 2.0 * t - 1.0
    elif dataset == "digits38":
        Z, t = datasets.load_digits(return_X_y=True)
        keep = (t == 3) | (t == 8)
        Z, y = Z[keep], np.where(t[keep] == 3, 1.0, -1.0)
    else:
        raise BadInputError(f"svm data: unknown dataset {dataset!r} (known: {', '.join(DATASETS)})")
    n_train, n_val = int(n_train), int(n_val)
    if n_train < 2 or n_val < 2 or n_train + n_val > len(y) - 2:
        raise BadInputError(f"svm data: n_train = {n_train} and n_val = {n_val} must be >= 2 and "
                            f"leave test samples ({dataset} has {len(y)})")
    if not (0.0 <= float(flip) < 0.5):
        raise BadInputError(f"svm data: flip = {flip!r} must be in [0, 0.5)")
    rng = np.random.default_rng(int(seed))
    idx = rng.permutation(len(y))
    tr, va, te = idx[:n_train], idx[n_train:n_train + n_val], idx[n_train + n_val:]
    mu, sd = Z[tr].mean(0), Z[tr].std(0)
    Z = (Z - mu) / np.where(sd > 0, sd, 1.0)
    Z = np.hstack([Z, np.ones((len(y), 1))])            # the bias as a regularised feature
    y_tr = y[tr].copy()
    flipped = np.sort(rng.choice(n_train, round(float(flip) * n_train), replace=False))
    y_tr[flipped] *= -1.0
    return SVMData(Z[tr], y_tr, Z[va], y[va], Z[te], y[te], flipped,
                   name=f"{dataset}(seed={seed}, flip={flip:g})")


# ---------------------------------------------------------------------- the lower level, exactly
def weighted_svm(Z: np.ndarray, y: np.ndarray, c: np.ndarray, nu: float,
                 alpha0: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The lower level solved to high accuracy for fixed weights c: the box-constrained dual QP
    min ||Z'(y o a)||^2 / (2 nu) - 1'a over 0 <= a <= c (L-BFGS-B). Returns (w, alpha)."""
    from scipy.optimize import minimize

    Zy = Z * y[:, None]

    def fun(a: np.ndarray) -> tuple[float, np.ndarray]:
        v = Zy.T @ a
        return float(v @ v) / (2 * nu) - float(a.sum()), Zy @ v / nu - 1.0

    a0 = np.clip(np.zeros_like(c) if alpha0 is None else alpha0, 0.0, c)
    res = minimize(fun, a0, jac=True, method="L-BFGS-B", bounds=list(zip(np.zeros_like(c), c)),
                   options={"maxiter": 20_000, "ftol": 1e-15, "gtol": 1e-11})
    a = np.clip(res.x, 0.0, c)
    return Zy.T @ a / nu, a


def accuracy(w: np.ndarray, Z: np.ndarray, y: np.ndarray) -> float:
    """Fraction of samples with y z'w > 0."""
    return float(np.mean(y * (Z @ w) > 0))


def cross_validated_c(data: SVMData, folds: int = 5, grid: tuple[float, ...] = C_GRID) -> float:
    """The uniform weight c = C nu (C from ``grid``) of the best mean k-fold accuracy on the
    training set: the plain SVM tuned the usual way (ties: the smaller C)."""
    Z, y, nu = data.Z_train, data.y_train, data.nu
    folds = max(2, min(int(folds), len(y)))
    parts = np.array_split(np.arange(len(y)), folds)
    best, best_acc = grid[0], -1.0
    for C in grid:
        accs = []
        for k in range(folds):
            te = parts[k]
            tr = np.concatenate([parts[j] for j in range(folds) if j != k])
            w, _ = weighted_svm(Z[tr], y[tr], np.full(len(tr), C * nu), nu)
            accs.append(accuracy(w, Z[te], y[te]))
        if np.mean(accs) > best_acc + 1e-12:
            best, best_acc = C, float(np.mean(accs))
    return best * nu


def validation_tuned_c(data: SVMData, grid: tuple[float, ...] = C_GRID) -> float:
    """The uniform weight c = C nu (C from ``grid``) of the smallest validation loss F (mean
    squared hinge): scalar tuning with the same information the bilevel methods get."""
    nu = data.nu
    best, best_loss = grid[0], math.inf
    for C in grid:
        w, _ = weighted_svm(data.Z_train, data.y_train, np.full(len(data.y_train), C * nu), nu)
        loss = float(np.mean(np.maximum(1.0 - data.y_val * (data.Z_val @ w), 0.0) ** 2))
        if loss < best_loss - 1e-12:
            best, best_loss = C, loss
    return best * nu


# ---------------------------------------------------------------------- the bilevel program
def svm_problem(data: SVMData, *, c_start: float | None = None, c_max: float = 10.0,
                c_min: float = 0.0, formulation: str = "coupled", upper_scale: float = 1.0,
                multiplier_bound: float | None = None, name: str | None = None,
                source: str | None = None) -> BilevelProblem:
    """The bilevel program of the module docstring on ``data``, in units of the uniform weight
    ``c_start`` (default: :func:`validation_tuned_c`, the best uniform weight for F):
    x_i = c_i / c_start (x = 1 is the plain SVM, x_i = 0 drops sample i) in X = [c_min, c_max]^n,
    a = alpha / c_start, so that

        f(x, a) = 1/2 a'Q a - (1 / c_start) 1'a,   Q = D Z Z' D / nu  (||Q|| = 1),   0 <= a <= x,
        F(x, a) = kappa * mean_j max(0, 1 - y_j v_j'w)^2,   w = c_start Z'(y o a) / nu

    (f is the dual objective divided by c_start^2, which leaves its minimisers unchanged; kappa
    scales F so that its gradient at the start has largest entry ``upper_scale`` / c_start, the
    scale of f's gradients, on every data set; scaling F does not change the solutions). The start
    is x = 1 and the exact lower-level solution there: the tuned plain SVM. ``multiplier_bound``
    is r of lv-hba's multiplier box, which must hold the multipliers of a_i <= x_i, (1 - y_i z_i'w)
    / c_start at the solution; the default 1 + 2 / c_start holds them on the runs of
    docs/bilevel.md (largest at the start 1.2 on breast_cancer with 20 % flipped labels)."""
    if formulation not in ("coupled", "scaled"):
        raise BadInputError(f"svm problem: formulation {formulation!r} is not 'coupled' or 'scaled'")
    check_data(data)
    Z, yl, Zv, yv = data.Z_train, data.y_train, data.Z_val, data.y_val
    n, nv, nu = len(yl), len(yv), data.nu
    c0 = validation_tuned_c(data) if c_start is None else float(c_start)
    if not (math.isfinite(c0) and c0 > 0):
        raise BadInputError(f"svm problem: c_start = {c_start!r} must be positive and finite")
    if not (math.isfinite(float(c_max)) and 0.0 <= float(c_min) <= 1.0 <= float(c_max)):
        raise BadInputError(f"svm problem: need 0 <= c_min <= 1 <= c_max < inf (relative weights; "
                            f"got c_min = {c_min!r}, c_max = {c_max!r})")
    if not (math.isfinite(float(upper_scale)) and float(upper_scale) > 0):
        raise BadInputError(f"svm problem: upper_scale = {upper_scale!r} must be positive")
    r = 1.0 + 2.0 / c0 if multiplier_bound is None else float(multiplier_bound)
    Zy = Z * yl[:, None]
    Vy = Zv * yv[:, None]
    w0, alpha0 = weighted_svm(Z, yl, np.full(n, c0), nu)
    a0 = alpha0 / c0
    # F in units of the lower level's gradients (of size 1 / c_start): its gradient at the start
    # gets the largest entry upper_scale / c_start, whatever the data and c_start
    h0 = np.maximum(1.0 - Vy @ w0, 0.0)
    g0 = float(np.max(np.abs(Zy @ (Vy.T @ (-2.0 * h0 / nv)) * (c0 / nu))))
    kappa = float(upper_scale) / (c0 * g0) if g0 > 0 else float(upper_scale)

    def hinge(a: Any) -> Any:
        m = Vy @ (Zy.T @ a) * (c0 / nu)
        return np.where(np.real(m) < 1.0, 1.0 - m, 0.0)

    def F_a(a: Any) -> Any:
        h = hinge(a)
        return kappa * np.sum(h * h) / nv

    def dF_a(a: np.ndarray) -> np.ndarray:
        return Zy @ (Vy.T @ (-2.0 * kappa * hinge(a) / nv)) * (c0 / nu)

    def f_a(a: Any) -> Any:
        v = Zy.T @ a
        return np.sum(v * v) / (2 * nu) - np.sum(a) / c0

    def df_a(a: np.ndarray) -> np.ndarray:
        return Zy @ (Zy.T @ a) / nu - 1.0 / c0

    label = name or f"svm-weights({data.name}, {formulation})"
    common: dict[str, Any] = {"X": (float(c_min), float(c_max)), "x0": np.ones(n), "name": label,
                              "source": source}
    if formulation == "coupled":
        C = CoupledBounds(float(c_min), float(c_max), 0.0, n)
        eye = np.eye(n)
        p = BilevelProblem(
            n, n, lambda x, a: F_a(a), lambda x, a: f_a(a),
            g=lambda x, a: a - x, Y=(0.0, float(c_max)), y0=a0,
            grad_F=lambda x, a: (np.zeros(n), dF_a(a)),
            grad_f=lambda x, a: (np.zeros(n), df_a(a)),
            jac_g=lambda x, a: (-eye, eye), multiplier_bound=r, project_C=C.project, **common)
    else:
        p = BilevelProblem(
            n, n, lambda x, s: F_a(x * s), lambda x, s: f_a(x * s), Y=(0.0, 1.0), y0=a0,
            grad_F=lambda x, s: (s * dF_a(x * s), x * dF_a(x * s)),
            grad_f=lambda x, s: (s * df_a(x * s), x * df_a(x * s)), **common)
    p.svm_data = data
    p.formulation = formulation
    p.c_start = c0
    p.upper_weight = kappa
    p.start_model = w0
    return p


def make_problem(seed: int = 0, n_train: int = 200, n_val: int = 100, flip: float = 0.0,
                 dataset: str = "breast_cancer", formulation: str = "coupled",
                 c_start: float | None = None, c_max: float = 10.0,
                 upper_scale: float = 1.0) -> BilevelProblem:
    """The generator behind ``py:solverhub.plugins.bilevel.svm:make_problem?seed=0&flip=0.2``."""
    data = load_svm_data(dataset, int(seed), int(n_train), int(n_val), float(flip))
    q = "&".join(f"{k}={v}" for k, v in (("seed", seed), ("n_train", n_train), ("n_val", n_val),
                                          ("flip", flip), ("dataset", dataset),
                                          ("formulation", formulation)))
    return svm_problem(data, c_start=c_start, c_max=c_max, formulation=formulation,
                       upper_scale=upper_scale, source=f"py:solverhub.plugins.bilevel.svm:make_problem?{q}")


def weights_and_model(problem: BilevelProblem, xy: Any) -> tuple[np.ndarray, np.ndarray]:
    """From a solution vector (x, a) or (x, s): the relative weights x and the SVM they select,
    w retrained for the weights c = c_start x (the lower level solved to high accuracy, not the
    iterate's a)."""
    x, _ = problem.split(xy)
    d: SVMData = problem.svm_data
    w, _ = weighted_svm(d.Z_train, d.y_train, problem.c_start * np.clip(x, 0.0, None), d.nu)
    return x, w


# ---------------------------------------------------------------------- the comparison
#: solver options of the comparison (docs/bilevel.md): lv-hba with the paper's other defaults
#: (gamma (10, 1), c_k = (k+1)^0.3, the paper preset: the published schedule); the penalty method
#: single loop on the scaled form
LVHBA_OPTIONS = {"preset": "paper", "alpha": 0.5, "eta": 1.0, "max_iterations": 3000}
PENALTY_OPTIONS = {"variant": "single-loop", "alpha": 0.5, "inner_step": 0.5, "sigma": 0.1,
                   "max_iterations": 3000}


@dataclass
class SVMRow:
    """One line of the comparison: how the weights were chosen and what the SVM they select does."""

    method: str
    test_accuracy: float
    val_accuracy: float
    val_loss: float              # mean squared hinge on the validation set (F without its scale)
    seconds: float
    flipped_dropped: int         # flipped training labels with relative weight < 1/2
    clean_dropped: int           # clean training labels with relative weight < 1/2
    status: str = "-"


def svm_comparison(seed: int = 0, flip: float = 0.2, dataset: str = "breast_cancer",
                   n_train: int = 200, n_val: int = 100, lvhba: dict | None = None,
                   penalty: dict | None = None) -> list[SVMRow]:
    """Test accuracy of the linear SVM with uniform weights (C = 1, no tuning; C by 5-fold
    cross-validation on the training set; C of the smallest validation loss) and with per-sample
    weights chosen by lv-hba (coupled form) and bilevel-penalty (scaled form, where it applies),
    each retrained exactly for its weights. Every method sees the same training and validation data."""
    import time

    import solverhub as sh

    data = load_svm_data(dataset, seed, n_train, n_val, flip)
    n, nu = len(data.y_train), data.nu
    flipped = set(data.flipped.tolist())

    def val_loss(w: np.ndarray) -> float:
        return float(np.mean(np.maximum(1.0 - data.y_val * (data.Z_val @ w), 0.0) ** 2))

    def row(method: str, x: np.ndarray, c0: float, seconds: float, status: str = "-") -> SVMRow:
        w, _ = weighted_svm(data.Z_train, data.y_train, c0 * np.clip(x, 0.0, None), nu)
        low = set(np.flatnonzero(x < 0.5).tolist())
        return SVMRow(method, accuracy(w, data.Z_test, data.y_test),
                      accuracy(w, data.Z_val, data.y_val), val_loss(w), seconds,
                      len(low & flipped), len(low - flipped), status)

    rows = [row("uniform c, C = 1 (no tuning)", np.ones(n), nu, 0.0)]
    t = time.perf_counter()
    c_cv = cross_validated_c(data)
    rows.append(row(f"uniform c, C = {c_cv / nu:.3g} by 5-fold CV", np.ones(n), c_cv,
                    time.perf_counter() - t))
    t = time.perf_counter()
    c_val = validation_tuned_c(data)
    rows.append(row(f"uniform c, C = {c_val / nu:.3g} by the validation loss", np.ones(n), c_val,
                    time.perf_counter() - t))
    # the bilevel runs start from the best uniform weight for F and refine it per sample
    for solver, formulation, opts in (("lv-hba", "coupled", lvhba or LVHBA_OPTIONS),
                                      ("lv-hba", "scaled", lvhba or LVHBA_OPTIONS),
                                      ("bilevel-penalty", "scaled", penalty or PENALTY_OPTIONS)):
        P = svm_problem(data, c_start=c_val, formulation=formulation)
        t = time.perf_counter()
        res = sh.solve(P, solver=solver, **opts)
        secs = time.perf_counter() - t
        if res.x is None:
            rows.append(SVMRow(f"{solver}, per-sample c ({formulation})", math.nan, math.nan,
                               math.nan, secs, 0, 0, str(res.status)))
            continue
        rows.append(row(f"{solver}, per-sample c ({formulation})", P.split(res.x)[0], c_val, secs,
                        str(res.status)))
    return rows
