"""The ``dataset:`` loader: scikit-learn bundled data sets and .csv/.npz files as
``relu-training`` problems.

    dataset:breast_cancer?P=50&loss=squared&beta=1e-3&seed=0&test_size=0.3
    dataset:digits?classes=3,8&P=100          dataset:wine    dataset:iris?classes=0,1
    dataset:diabetes (regression)             dataset:path/to/data.csv?target=-1
    dataset:path/to/data.npz (arrays X, y; optional X_test, y_test)

Preprocessing (paper note): stratified split (``test_size``, ``split_seed`` = random_state,
default 0.3 and 0), features standardised with the training statistics, a ones column appended
(``bias``), labels +-1 (two classes: one output; more: one-vs-rest outputs). ``warm_start=adam``
adds the hidden units' patterns of a short Adam run of our own (``warm_width`` units,
``warm_iterations`` steps) to the ``P`` random gates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from solverhub.core.errors import BadInputError
from solverhub.core.loading import LoaderParams, address_of

from .problem import LOSSES, ReLUTraining, sample_patterns

__all__ = ["SCHEME", "DATASETS", "MAX_P", "BETA_FACTOR", "DatasetParams", "dataset_params",
           "load_dataset", "make_problem", "names_file", "beta_rule"]

SCHEME = "dataset"
#: the largest P accepted: the patterns alone take n P bytes and the ADMM state 12 x 16 n P
MAX_P = 100_000
#: beta = BETA_FACTOR * beta_max for regression (beta_rule); chosen on validation splits of six
#: synthetic sets (friedman1-3 low and high noise, a noisy linear one; docs/convex_relu.md),
#: never on diabetes
BETA_FACTOR = 0.01
DATASETS = ("breast_cancer", "iris", "wine", "digits", "diabetes")


class DatasetParams(LoaderParams):
    """Parameters of a ``dataset:`` address (see the module docstring)."""

    P: int = Field(50, ge=1, le=MAX_P, description="number of sampled activation patterns")
    loss: Literal[LOSSES] = "squared"  # type: ignore[valid-type]
    beta: float | None = Field(None, gt=0, description="weight decay; default 1e-3 for "
                                                        "classification, the data-scaled rule "
                                                        "(beta_rule) for regression")
    seed: int = Field(0, ge=0)
    test_size: float = Field(0.3, ge=0, lt=1)
    split_seed: int = Field(0, ge=0)
    classes: str | None = Field(None, description="comma list of the labels to keep")
    bias: bool = True
    eps: float = Field(0.0, ge=0)
    robust_cones: bool = False
    warm_start: Literal["none", "adam"] = "none"
    warm_width: int = Field(50, ge=1)
    warm_iterations: int = Field(2000, ge=0)
    target: int = Field(-1, description="column of the labels in a .csv file")
    standardize: bool = True
    reference: float | None = None


def names_file(target: str) -> bool:
    """A ``dataset:`` target ending in .csv or .npz names a file (resolved like other paths)."""
    return target.strip().endswith((".csv", ".npz"))


def dataset_params(target: str) -> type[DatasetParams]:
    """The parameter model of ``dataset:<target>``; an unknown data set is bad input."""
    name = target.strip()
    if not names_file(name) and name not in DATASETS:
        raise BadInputError(f"unknown data set {name!r} (known: {', '.join(DATASETS)}, or a "
                            f".csv/.npz file)")
    return DatasetParams


def load_dataset(target: str, params: DatasetParams) -> ReLUTraining:
    """The ``dataset:`` loader (the host has parsed and validated the parameters)."""
    return make_problem(target.strip(), source=address_of(SCHEME, target, params),
                        **params.model_dump())


def _read_table(name: str, target: int, source: str) -> tuple[np.ndarray, np.ndarray, Any]:
    path = Path(name)
    if not path.exists():
        raise BadInputError(f"{source!r}: no such file {name!r}")
    if name.endswith(".npz"):
        try:
            with np.load(path, allow_pickle=False) as z:
                if "X" not in z or "y" not in z:
                    raise BadInputError(f"{source!r}: the .npz file needs arrays 'X' and 'y' "
                                        f"(has {', '.join(z.files)})")
                X, y = np.asarray(z["X"], dtype=np.float64), np.asarray(z["y"])
                extra = (np.asarray(z["X_test"], dtype=np.float64), np.asarray(z["y_test"])) \
                    if "X_test" in z and "y_test" in z else None
        except (OSError, ValueError) as exc:
            raise BadInputError(f"{source!r}: cannot read {name}: {exc}") from None
        return X, y, extra
    try:
        raw = np.genfromtxt(path, delimiter=",", dtype=np.float64)
    except ValueError as exc:
        raise BadInputError(f"{source!r}: cannot read {name} as CSV: {exc}") from None
    if raw.ndim == 1:
        raw = raw.reshape(1, -1)
    if raw.size and np.all(np.isnan(raw[0])):
        raw = raw[1:]                                                  # a header line
    if raw.ndim != 2 or raw.shape[1] < 2 or raw.shape[0] < 2:
        raise BadInputError(f"{source!r}: {name} needs at least two rows and two columns")
    if np.any(np.isnan(raw)):
        r, col = np.argwhere(np.isnan(raw))[0]
        raise BadInputError(f"{source!r}: {name}: non-numeric or missing value in data row "
                            f"{r + 1}, column {col + 1}")
    j = target % raw.shape[1]
    return np.delete(raw, j, axis=1), raw[:, j], None


def beta_rule(X: np.ndarray, Y: np.ndarray, D: np.ndarray, factor: float = BETA_FACTOR) -> float:
    """The data-scaled weight decay: ``factor * beta_max`` with beta_max = max_{i, j}
    ||X' D_i y_j|| / n, the smallest beta at which the zero network satisfies the optimality
    condition of every block when the cone multipliers are ignored (an upper bound on the
    exact threshold). Scales with y and X as the loss does, so a change of units in y changes
    beta, not the fit."""
    Y = np.asarray(Y, dtype=np.float64).reshape(X.shape[0], -1)
    Df = np.asarray(D, dtype=np.float64)
    bmax = max(float(np.max(np.linalg.norm(X.T @ (Df * Y[:, j:j + 1]), axis=0)))
               for j in range(Y.shape[1])) / X.shape[0]
    return factor * bmax if bmax > 0 else 1e-3


def make_problem(name: str, *, P: int = 50, loss: str = "squared", beta: float | None = None,
                 seed: int = 0, test_size: float = 0.3, split_seed: int = 0,
                 classes: str | None = None, bias: bool = True, eps: float = 0.0,
                 robust_cones: bool = False, warm_start: str = "none", warm_width: int = 50,
                 warm_iterations: int = 2000, target: int = -1, standardize: bool = True,
                 reference: float | None = None, source: str | None = None) -> ReLUTraining:
    """A ``relu-training`` problem from a bundled data set or a file (see the module docstring)."""
    src = source or f"dataset:{name}"
    if loss not in LOSSES:
        raise BadInputError(f"{src!r}: unknown loss {loss!r} (known: {', '.join(LOSSES)})")
    if isinstance(P, bool) or not isinstance(P, (int, np.integer)) or not 1 <= P <= MAX_P:
        raise BadInputError(f"{src!r}: P = {P!r}: the number of sampled patterns must be an "
                            f"integer from 1 to {MAX_P}")
    if beta is not None and not (isinstance(beta, (int, float)) and 0 < beta < float("inf")):
        raise BadInputError(f"{src!r}: beta = {beta!r} must be a finite number > 0")
    if not 0 <= test_size < 1:
        raise BadInputError(f"{src!r}: test_size must be in [0, 1), got {test_size}")
    if warm_start not in ("none", "adam"):
        raise BadInputError(f"{src!r}: warm_start must be 'none' or 'adam', got {warm_start!r}")
    extra = None
    if name.endswith((".csv", ".npz")):
        X, y, extra = _read_table(name, target, src)
        regression = loss == "squared" and np.unique(y).size > max(10, y.size // 5)
    elif name in DATASETS:
        from sklearn import datasets as skd

        X, y = getattr(skd, f"load_{name}")(return_X_y=True)
        regression = name == "diabetes"
        if regression and loss != "squared":
            raise BadInputError(f"{src!r}: diabetes is a regression data set: loss must be squared")
    else:
        raise BadInputError(f"{src!r}: unknown data set {name!r} (known: {', '.join(DATASETS)}, "
                            f"or a .csv/.npz file)")
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or y.shape[0] != X.shape[0]:
        raise BadInputError(f"{src!r}: {X.shape[0]} feature rows but {y.shape[0]} labels")
    if not np.all(np.isfinite(X)):
        raise BadInputError(f"{src!r}: the features contain NaN or infinite values")
    if classes is not None:
        if regression:
            raise BadInputError(f"{src!r}: classes= applies to classification data only")
        try:
            keep = [type(y.flat[0])(c) if y.dtype.kind != "f" else float(c)
                    for c in str(classes).split(",") if c.strip()]
        except ValueError:
            raise BadInputError(f"{src!r}: classes={classes!r} is not a comma list of labels") \
                from None
        missing = [c for c in keep if c not in set(y.tolist())]
        if missing or len(keep) < 2:
            raise BadInputError(f"{src!r}: classes={classes!r}: need at least two labels present "
                                f"in the data (labels: {sorted(set(y.tolist()))[:20]})")
        sel = np.isin(y, keep)
        X, y = X[sel], y[sel]
    label_set = None if regression else np.unique(y)
    if label_set is not None and label_set.size < 2:
        raise BadInputError(f"{src!r}: a single class ({label_set[0]!r}): nothing to learn")
    # the split
    if extra is not None:
        Xtr, ytr, (Xte, yte) = X, y, extra
    elif test_size > 0:
        from sklearn.model_selection import train_test_split

        try:
            Xtr, Xte, ytr, yte = train_test_split(
                X, y, test_size=test_size, random_state=split_seed,
                stratify=None if regression else y)
        except ValueError as exc:
            raise BadInputError(f"{src!r}: cannot split: {exc}") from None
    else:
        Xtr, ytr, Xte, yte = X, y, None, None
    if standardize:
        mu, sd = Xtr.mean(axis=0), Xtr.std(axis=0)
        sd = np.where(sd > 0, sd, 1.0)
        Xtr = (Xtr - mu) / sd
        Xte = None if Xte is None else (Xte - mu) / sd
    if bias:
        Xtr = np.hstack([Xtr, np.ones((Xtr.shape[0], 1))])
        Xte = None if Xte is None else np.hstack([Xte, np.ones((Xte.shape[0], 1))])
    Ytr, Yte = encode_targets(ytr, label_set), None if yte is None else encode_targets(yte, label_set)
    y_offset = 0.0
    if regression:
        # centre the targets with the training mean (the network has no unpenalised output
        # bias, and weight decay would otherwise shrink the mean away); not scaled: the
        # objective stays in the units of y^2, and beta_rule scales beta with y instead
        y_offset = float(Ytr.mean())
        Ytr = Ytr - y_offset
        Yte = None if Yte is None else Yte - y_offset
    if not regression and np.unique(ytr).size < 2:
        raise BadInputError(f"{src!r}: the training split has a single class")
    if beta is None:        # the rule reads the random patterns only (warm-start units excluded)
        beta = beta_rule(Xtr, Ytr, sample_patterns(Xtr, P, seed)[1]) if regression else 1e-3
    extra_gates = None
    if warm_start == "adam":
        from .adam import adam_train

        W1, _ = adam_train(Xtr, Ytr, loss=loss, beta=beta, width=warm_width,
                           iterations=warm_iterations, seed=seed)
        extra_gates = W1.transpose(1, 0, 2).reshape(Xtr.shape[1], -1)
    gates, D = sample_patterns(Xtr, P, seed, extra_gates)
    if D.shape[1] == 0:
        raise BadInputError(f"{src!r}: every sampled pattern is all-zero (P = 0 after removal)")
    label = name if name in DATASETS else Path(name).name
    pb = ReLUTraining(Xtr, Ytr, loss=loss, beta=beta, gates=gates, patterns=D, X_test=Xte,
                        y_test=Yte, bias=bias, eps=eps, robust_cones=robust_cones,
                        task="regression" if regression else "classification",
                        classes=label_set, name=f"{label}-P{P}-{loss}", source=src,
                        reference_objective=reference)
    pb.y_offset = y_offset
    return pb


def encode_targets(y: np.ndarray, label_set: np.ndarray | None) -> np.ndarray:
    """+-1 targets: one column for two classes (+1 = the larger label), one-vs-rest columns for
    more; regression targets (``label_set`` None) unchanged."""
    if label_set is None:
        return np.asarray(y, dtype=np.float64).reshape(-1, 1)
    if label_set.size == 2:
        return np.where(y == label_set[1], 1.0, -1.0).reshape(-1, 1)
    return np.where(y[:, None] == label_set[None, :], 1.0, -1.0)
