"""scikit-learn estimators: ``ConvexReLUClassifier`` and ``ConvexReLURegressor``.

    from solverhub import ConvexReLUClassifier
    clf = ConvexReLUClassifier(P=50, beta=1e-3).fit(X, y)    # a two-layer ReLU network
    clf.predict(X_test); clf.score(X_test, y_test); clf.W1_, clf.w2_

``fit`` standardises the features (training statistics), appends a ones column (bias), samples
``P`` activation patterns (seeded by ``random_state``; the regressor also centres the targets),
solves the convex program through
``solverhub.solve`` with the chosen solver (``admm``, ``cvxpy`` or ``gated``; the solver's own
options in ``solver_options``) and keeps the recovered network. Classes: one output for two
classes, one-vs-rest outputs for more. ``predict_proba`` exists for the logistic loss only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import check_is_fitted, validate_data

from .data import encode_targets
from .problem import ReLUTraining, network_predict, sample_patterns

__all__ = ["ConvexReLUClassifier", "ConvexReLURegressor"]

_SOLVERS = {"admm": "convex-relu-admm", "cvxpy": "convex-relu-cvxpy", "gated": "convex-relu-gated"}


class _ConvexReLUBase(BaseEstimator):
    _loss_default = "squared"

    def _features(self, X: np.ndarray) -> np.ndarray:
        Z = (X - self.mean_) / self.scale_
        return np.hstack([Z, np.ones((Z.shape[0], 1))]) if self.fit_intercept else Z

    def _fit(self, X: np.ndarray, Y: np.ndarray, task: str, classes: Any) -> "_ConvexReLUBase":
        import solverhub as sh

        if self.solver not in _SOLVERS:
            raise ValueError(f"solver must be one of {', '.join(_SOLVERS)}, got {self.solver!r}")
        self.mean_ = X.mean(axis=0)
        sd = X.std(axis=0)
        self.scale_ = np.where(sd > 0, sd, 1.0)
        Xf = self._features(X)
        gates, D = sample_patterns(Xf, int(self.P), 0 if self.random_state is None
                                   else int(self.random_state))
        if D.shape[1] == 0:
            raise ValueError("every sampled activation pattern is all-zero: increase P")
        pb = ReLUTraining(Xf, Y, loss=self.loss, beta=self.beta, gates=gates, patterns=D,
                          bias=self.fit_intercept, task=task, classes=classes,
                          name=type(self).__name__)
        res = sh.solve(pb, solver=_SOLVERS[self.solver], time_limit=self.time_limit,
                       seed=0 if self.random_state is None else int(self.random_state),
                       options=dict(self.solver_options or {}))
        if res.status.value == "error" or res.x is None:
            raise RuntimeError(f"{type(self).__name__}: the solver failed: {res.error}")
        self.W1_, self.w2_ = pb.recover(res.x)
        self.objective_ = float(res.objective)
        self.status_ = res.status.value
        self.n_iter_ = int(res.iterations)
        self.metrics_ = dict(res.metrics)
        return self

    def _decision(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "W1_")
        X = validate_data(self, X, reset=False)
        return network_predict(self._features(np.asarray(X, dtype=np.float64)), self.W1_, self.w2_)


class ConvexReLUClassifier(ClassifierMixin, _ConvexReLUBase):
    """Two-layer ReLU network classifier trained to global optimality over ``P`` sampled
    activation patterns (convex reformulation; docs/convex_relu.md)."""

    def __init__(self, P: int = 50, beta: float = 1e-3, loss: str = "squared",
                 solver: str = "admm", fit_intercept: bool = True, random_state: int | None = 0,
                 time_limit: float | None = None, solver_options: dict | None = None) -> None:
        self.P = P
        self.beta = beta
        self.loss = loss
        self.solver = solver
        self.fit_intercept = fit_intercept
        self.random_state = random_state
        self.time_limit = time_limit
        self.solver_options = solver_options

    def fit(self, X: Any, y: Any) -> "ConvexReLUClassifier":
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_ = unique_labels(y)
        if self.classes_.size < 2:
            raise ValueError(f"the training labels hold only one class ({self.classes_[0]!r}); "
                             f"a classifier needs at least 2")
        Y = encode_targets(np.asarray(y), self.classes_)
        return self._fit(X, Y, "classification", self.classes_)

    def decision_function(self, X: Any) -> np.ndarray:
        Z = self._decision(X)
        return Z[:, 0] if Z.shape[1] == 1 else Z

    def predict(self, X: Any) -> np.ndarray:
        Z = self._decision(X)
        if Z.shape[1] == 1:
            return self.classes_[(Z[:, 0] >= 0).astype(int)]
        return self.classes_[np.argmax(Z, axis=1)]

    def _has_proba(self) -> bool:
        return self.loss == "logistic"

    @available_if(_has_proba)
    def predict_proba(self, X: Any) -> np.ndarray:
        """Logistic loss only: sigmoid of the output (two classes), normalised one-vs-rest
        sigmoids (more)."""
        Z = self._decision(X)
        p = 0.5 * (1.0 + np.tanh(0.5 * Z))
        if Z.shape[1] == 1:
            return np.hstack([1.0 - p, p])
        return p / np.maximum(p.sum(axis=1, keepdims=True), 1e-300)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


class ConvexReLURegressor(RegressorMixin, _ConvexReLUBase):
    """Two-layer ReLU network regressor (squared loss), globally optimal over ``P`` sampled
    activation patterns."""

    def __init__(self, P: int = 50, beta: float = 1e-3, solver: str = "admm",
                 fit_intercept: bool = True, random_state: int | None = 0,
                 time_limit: float | None = None, solver_options: dict | None = None) -> None:
        self.P = P
        self.beta = beta
        self.solver = solver
        self.fit_intercept = fit_intercept
        self.random_state = random_state
        self.time_limit = time_limit
        self.solver_options = solver_options

    @property
    def loss(self) -> str:
        return "squared"

    def fit(self, X: Any, y: Any) -> "ConvexReLURegressor":
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True, multi_output=True)
        self._multi = np.ndim(y) == 2
        y = np.asarray(y, dtype=np.float64)
        # centred targets: the network has no unpenalised output bias (as Ridge centres y)
        self.y_mean_ = y.mean(axis=0)
        return self._fit(X, y - self.y_mean_, "regression", None)

    def predict(self, X: Any) -> np.ndarray:
        Z = self._decision(X) + np.atleast_1d(self.y_mean_)[None, :]
        return Z if self._multi else Z[:, 0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
