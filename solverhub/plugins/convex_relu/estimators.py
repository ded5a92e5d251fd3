"""scikit-learn estimators: ``ConvexReLUClassifier`` and ``ConvexReLURegressor``.

    from solverhub import ConvexReLUClassifier
    clf = ConvexReLUClassifier(P=50, beta=1e-3).fit(X, y)    # a two-layer ReLU network
    clf.predict(X_test); clf.score(X_test, y_test); clf.W1_, clf.w2_

``fit`` standardises the features (training statistics), appends a ones column (bias), samples
``P`` activation patterns (seeded by ``random_state``; the regressor also centres the targets),
solves the convex program through
``solverhub.solve`` with the chosen solver (``admm``, ``cvxpy``, ``gated`` or ``auto``, the
default route; the solver's own options in ``solver_options``) and keeps the recovered
network. Classes: one output for two classes, one-vs-rest outputs for more. ``predict_proba``
exists for the logistic loss only.
"""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from .data import MAX_P, beta_rule, encode_targets
from .problem import ReLUTraining, network_predict, sample_patterns

__all__ = ["ConvexReLUClassifier", "ConvexReLURegressor"]

_SOLVERS = {"admm": "convex-relu-admm", "cvxpy": "convex-relu-cvxpy", "gated": "convex-relu-gated",
            "auto": "convex-relu-auto"}


_COMMON_CONSTRAINTS: dict[str, list] = {
    "P": [Interval(numbers.Integral, 1, MAX_P, closed="both")],
    "solver": [StrOptions(set(_SOLVERS))],
    "fit_intercept": ["boolean"],
    "random_state": ["random_state"],
    "time_limit": [Interval(numbers.Real, 0, None, closed="neither"), None],
    "solver_options": [dict, None],
}


def _seed_of(random_state: Any) -> int:
    """The pattern seed: an int as given; a RandomState draws one (consuming it); None draws
    from NumPy's global RandomState (fresh randomness), as scikit-learn defines random_state."""
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return int(random_state)
    return int(check_random_state(random_state).randint(0, 2**31 - 1))


class _ConvexReLUBase(BaseEstimator):
    _loss_default = "squared"

    def _features(self, X: np.ndarray) -> np.ndarray:
        Z = (X - self.mean_) / self.scale_
        return np.hstack([Z, np.ones((Z.shape[0], 1))]) if self.fit_intercept else Z

    def _fit(self, X: np.ndarray, Y: np.ndarray, task: str, classes: Any,
             sample_weight: np.ndarray | None = None, eps: float = 0.0) -> "_ConvexReLUBase":
        import solverhub as sh

        w = None
        if sample_weight is not None:
            # weights normalised to mean 1 over the kept samples, so that an integer weight is
            # the same as repeating the sample; weight 0 is the same as leaving it out
            keep = sample_weight > 0
            if not keep.any():
                raise ValueError("sample_weight: every weight is 0")
            X, Y, w = X[keep], Y[keep], sample_weight[keep]
            w = w * (w.size / float(w.sum()))
        self.mean_ = np.average(X, axis=0, weights=w)
        sd = np.sqrt(np.average((X - self.mean_) ** 2, axis=0, weights=w))
        self.scale_ = np.where(sd > 0, sd, 1.0)
        Xf = self._features(X)
        seed = _seed_of(self.random_state)
        gates, D = sample_patterns(Xf, int(self.P), seed)
        if D.shape[1] == 0:
            raise ValueError("every sampled activation pattern is all-zero: increase P")
        beta = self.beta
        if beta == "auto":
            beta = beta_rule(Xf, Y, D)
        self.beta_ = float(beta)
        Xp, Yp, bias, pw = Xf, Y, self.fit_intercept, w
        if w is not None and self.loss == "squared":
            # weighted squared loss = unweighted on rows scaled by sqrt(w) (w > 0 keeps every
            # row's sign, so the patterns and cones are unchanged); every solver then applies
            r = np.sqrt(w)[:, None]
            Xp, Yp, bias, pw = Xf * r, Y * r, False, None
        pb = ReLUTraining(Xp, Yp, loss=self.loss, beta=self.beta_, gates=gates, patterns=D,
                          bias=bias, task=task, classes=classes, eps=eps,
                          name=type(self).__name__, sample_weight=pw)
        res = sh.solve(pb, solver=_SOLVERS[self.solver], time_limit=self.time_limit,
                       seed=seed, options=dict(self.solver_options or {}))
        if res.status.value == "error" or res.x is None or res.objective is None:
            raise RuntimeError(f"{type(self).__name__}: the solver failed: {res.error}")
        self.W1_, self.w2_ = pb.recover(res.x)
        self.objective_ = float(res.objective)
        self.bound_ = None if res.bound is None else float(res.bound)
        self.gap_ = res.gap
        self.status_ = res.status.value
        self.n_iter_ = int(res.iterations)
        self.metrics_ = dict(res.metrics)
        if self.status_ != "optimal":
            gap = "unknown (no dual bound)" if self.gap_ is None else f"{self.gap_:.2g}"
            warnings.warn(f"{type(self).__name__}: the solver stopped with status "
                          f"{self.status_!r}: objective {self.objective_:.8g}, relative gap to "
                          f"the dual bound {gap}, cone violation "
                          f"{self.metrics_.get('cone_violation', float('nan')):.2g}; raise "
                          f"time_limit or solver_options['max_iterations'], or use "
                          f"solver='cvxpy'", ConvergenceWarning, stacklevel=3)
        return self

    def _decision(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "W1_")
        X = validate_data(self, X, reset=False)
        return network_predict(self._features(np.asarray(X, dtype=np.float64)), self.W1_, self.w2_)


class ConvexReLUClassifier(ClassifierMixin, _ConvexReLUBase):
    """Two-layer ReLU network classifier trained to global optimality over ``P`` sampled
    activation patterns (convex reformulation; docs/convex_relu.md)."""

    _parameter_constraints = {
        **_COMMON_CONSTRAINTS,
        "beta": [Interval(numbers.Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "loss": [StrOptions({"squared", "hinge", "logistic"})],
        "eps": [Interval(numbers.Real, 0, None, closed="left")],
    }

    def __init__(self, P: int = 50, beta: float | str = 1e-3, loss: str = "squared",
                 solver: str = "admm", fit_intercept: bool = True, random_state: Any = 0,
                 time_limit: float | None = None, solver_options: dict | None = None,
                 eps: float = 0.0) -> None:
        self.P = P
        self.beta = beta
        self.loss = loss
        self.eps = eps
        self.solver = solver
        self.fit_intercept = fit_intercept
        self.random_state = random_state
        self.time_limit = time_limit
        self.solver_options = solver_options

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "ConvexReLUClassifier":
        """Fit on ``X``, ``y``; ``sample_weight`` (n,) >= 0 weighs each sample's loss (0
        leaves it out). ``eps > 0`` (hinge or logistic loss): adversarial training against
        l_inf perturbations of the standardised features of radius eps."""
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        if self.eps > 0 and self.loss == "squared":
            raise ValueError("eps > 0 (adversarial training) needs loss='hinge' or 'logistic'")
        sw = None if sample_weight is None else _check_sample_weight(sample_weight, X,
                                                                     ensure_non_negative=True)
        self.classes_ = unique_labels(y if sw is None else np.asarray(y)[sw > 0])
        if self.classes_.size < 2:
            raise ValueError(f"the training labels hold only one class ({self.classes_[0]!r}); "
                             f"a classifier needs at least 2")
        Y = encode_targets(np.asarray(y), self.classes_)
        return self._fit(X, Y, "classification", self.classes_, sw, float(self.eps))

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

    _parameter_constraints = {
        **_COMMON_CONSTRAINTS,
        "beta": [Interval(numbers.Real, 0, None, closed="neither"), StrOptions({"auto"})],
    }

    def __init__(self, P: int = 50, beta: float | str = "auto", solver: str = "admm",
                 fit_intercept: bool = True, random_state: Any = 0,
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

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> "ConvexReLURegressor":
        """Fit on ``X``, ``y``; ``sample_weight`` (n,) >= 0 weighs each sample's loss.
        ``beta="auto"`` (default): the data-scaled rule of data.beta_rule."""
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True, multi_output=True)
        self._multi = np.ndim(y) == 2
        y = np.asarray(y, dtype=np.float64)
        sw = None if sample_weight is None else _check_sample_weight(sample_weight, X,
                                                                     ensure_non_negative=True)
        # centred targets: the network has no unpenalised output bias (as Ridge centres y)
        self.y_mean_ = np.average(y, axis=0, weights=sw)
        Y = y - self.y_mean_
        return self._fit(X, Y.reshape(len(Y), -1), "regression", None, sw)

    def predict(self, X: Any) -> np.ndarray:
        Z = self._decision(X) + np.atleast_1d(self.y_mean_)[None, :]
        return Z if self._multi else Z[:, 0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
