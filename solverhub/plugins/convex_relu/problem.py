"""The ``relu-training`` problem: data, loss, weight decay and the pattern pool of the convex
reformulation of a two-layer ReLU network (Pilanci and Ergen 2020; Bai, Gautam, Sojoudi 2023).

Scaling convention (fixed here, used by every solver of the kind; docs/convex_relu.md):

    convex:     min_{v_i, w_i}  (1/n) sum_k loss(yhat_k, y_k) + beta sum_i (||v_i||_2 + ||w_i||_2)
                yhat = sum_i D_i X (v_i - w_i),  s.t. (2 D_i - I) X v_i >= 0, (2 D_i - I) X w_i >= 0
    nonconvex:  min_{W1, w2}    (1/n) sum_k loss(sum_j (x_k'w1_j)_+ w2_j, y_k)
                                + (beta/2) sum_j (||w1_j||^2 + w2_j^2)

with loss(z, y) = (z - y)^2 / 2 (squared), (1 - y z)_+ (hinge) or log(1 + exp(-y z)) (logistic).
This is scnn's scaling ((1/(2n))||.||^2 + lambda * group-L1) for the squared loss. Several outputs
(one-vs-rest) are independent problems whose objectives add up.

Adversarial training (l_inf radius ``eps``, patterns held fixed): the margin of sample k becomes
``y_k yhat_k - eps ||sum_i d_ik (v_i - w_i)||_1`` (bias coordinate excluded), the worst case of a
perturbation of x_k of l_inf norm eps; only the margin losses (hinge, logistic) have it. Robust
cones (optional) ask ``(2 d_ik - 1) x_k'v_i >= eps ||v_i||_1``.

A solution ``x`` is the flat array of shape ``(c, 2, P, d)``: for each output, the v blocks then
the w blocks.

NumPy only at import time (scikit-learn is imported by the loader).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from solverhub.core.errors import BadInputError

__all__ = ["KIND", "LOSSES", "ReLUTraining", "sample_patterns", "patterns_from_gates",
           "loss_values", "network_predict"]

KIND = "relu-training"
LOSSES = ("squared", "hinge", "logistic")


def loss_values(loss: str, z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-sample losses ``loss(z, y)`` (for hinge/logistic ``z`` is the prediction, ``y`` +-1)."""
    if loss == "squared":
        return 0.5 * (z - y) ** 2
    m = y * z
    if loss == "hinge":
        return np.maximum(1.0 - m, 0.0)
    return np.logaddexp(0.0, -m)


def margin_loss(loss: str, m: np.ndarray) -> np.ndarray:
    """hinge/logistic loss as a function of the margin ``y z``."""
    if loss == "hinge":
        return np.maximum(1.0 - m, 0.0)
    return np.logaddexp(0.0, -m)


def patterns_from_gates(X: np.ndarray, gates: np.ndarray) -> np.ndarray:
    """``D[:, i] = 1[X g_i >= 0]`` (n x P, bool)."""
    return (X @ gates) >= 0


def sample_patterns(X: np.ndarray, P: int, seed: int, extra_gates: np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """``(gates, D)``: ``P`` random gates g ~ N(0, I_d) (seeded) plus ``extra_gates`` (columns),
    with duplicate patterns and the all-zero pattern removed (first occurrence kept; the extra
    gates come first, so a warm-start network's patterns are always kept)."""
    rng = np.random.default_rng(seed)
    gates = rng.standard_normal((X.shape[1], int(P)))
    if extra_gates is not None and extra_gates.size:
        gates = np.concatenate([np.asarray(extra_gates, dtype=np.float64), gates], axis=1)
    D = patterns_from_gates(X, gates)
    keep, seen = [], set()
    for i in range(D.shape[1]):
        col = D[:, i]
        if not col.any():
            continue
        key = np.packbits(col).tobytes()
        if key in seen:
            continue
        seen.add(key)
        keep.append(i)
    keep_idx = np.asarray(keep, dtype=np.intp)
    return gates[:, keep_idx], D[:, keep_idx]


def network_predict(X: np.ndarray, W1: np.ndarray, w2: np.ndarray) -> np.ndarray:
    """Outputs of one-hidden-layer ReLU nets: ``W1`` (c, d, m), ``w2`` (c, m) -> (n, c)."""
    H = np.maximum(np.einsum("nd,cdm->cnm", X, W1), 0.0)
    return np.einsum("cnm,cm->nc", H, w2)


class ReLUTraining:
    """Training data of a two-layer ReLU network and the pattern pool of its convex program.

    ``X`` (n x d, with a final ones column when ``bias``), targets ``Y`` (n x c: +-1 for the
    classification losses, real numbers for the squared loss; a 1-D ``y`` is one output),
    ``loss``, ``beta`` (weight decay > 0), ``gates`` (d x P, the patterns are
    ``1[X g_i >= 0]``) or ``patterns`` (n x P, bool), optional test data, ``eps`` (adversarial
    l_inf radius, hinge/logistic only) and ``robust_cones``. ``classes`` are the original labels
    of a classification problem (``c`` outputs one-vs-rest, or one output for two classes).
    Construction validates; :meth:`validate` checks again (objects can be edited).
    """

    kind = KIND
    sense = 1  # minimise (solverhub.MIN)
    #: the mean subtracted from regression targets by the data-set loaders (data.py); set there only
    y_offset: float

    def __init__(self, X: Any, y: Any, *, loss: str = "squared", beta: float = 1e-3,
                 gates: Any = None, patterns: Any = None, X_test: Any = None, y_test: Any = None,
                 bias: bool = True, eps: float = 0.0, robust_cones: bool = False,
                 task: str | None = None, classes: Any = None, name: str = "relu-training",
                 source: str | None = None, reference_objective: float | None = None,
                 sample_weight: Any = None) -> None:
        self.name = name
        self.source = source
        self.X = _as_matrix(X, "X")
        self.Y = _as_targets(y, "y")
        self.loss = str(loss)
        self.beta = beta
        self.bias = bool(bias)
        self.eps = eps
        self.robust_cones = bool(robust_cones)
        self.task = task or ("regression" if self.loss == "squared" and classes is None
                             else "classification")
        self.classes = None if classes is None else np.asarray(classes)
        self.gates = None if gates is None else _as_matrix(gates, "gates")
        if patterns is not None:
            self.D = np.asarray(patterns)
        elif self.gates is not None and self.X.ndim == 2 and self.gates.ndim == 2 \
                and self.gates.shape[0] == self.X.shape[1]:
            self.D = patterns_from_gates(self.X, self.gates)
        else:
            self.D = None  # type: ignore[assignment]  # no patterns: validate() below refuses it
        self.X_test = None if X_test is None else _as_matrix(X_test, "X_test")
        self.Y_test = None if y_test is None else _as_targets(y_test, "y_test")
        self.reference_objective = None if reference_objective is None else float(reference_objective)
        self.reference_kind = "opt"
        self.sample_weight = None if sample_weight is None else _as_matrix(sample_weight,
                                                                            "sample_weight")
        self.validate()

    # ------------------------------------------------------------------ validation
    def _bad(self, what: str) -> BadInputError:
        return BadInputError(f"{self.source or self.name}: {what}")

    def validate(self) -> None:
        """Raise :class:`~solverhub.BadInputError` naming what is wrong (one line)."""
        X, Y = self.X, self.Y
        if not isinstance(X, np.ndarray) or X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
            raise self._bad(f"X must be a non-empty 2-D array, has shape {getattr(X, 'shape', '?')}")
        if not np.all(np.isfinite(X)):
            raise self._bad(f"X contains {int(np.sum(~np.isfinite(X)))} NaN or infinite entries")
        if not isinstance(Y, np.ndarray) or Y.ndim != 2 or Y.shape[0] != X.shape[0] or Y.shape[1] < 1:
            raise self._bad(f"y has {getattr(Y, 'shape', ('?',))[0]} rows but X has {X.shape[0]} "
                            f"(shape mismatch)")
        if not np.all(np.isfinite(Y)):
            raise self._bad(f"y contains {int(np.sum(~np.isfinite(Y)))} NaN or infinite entries")
        if self.loss not in LOSSES:
            raise self._bad(f"unknown loss {self.loss!r} (known: {', '.join(LOSSES)})")
        if not isinstance(self.beta, (int, float, np.floating)) or not math.isfinite(self.beta) \
                or self.beta <= 0:
            raise self._bad(f"beta must be a finite number > 0, got {self.beta!r}")
        self.beta = float(self.beta)
        if not isinstance(self.eps, (int, float, np.floating)) or not math.isfinite(self.eps) \
                or self.eps < 0:
            raise self._bad(f"eps must be a finite number >= 0, got {self.eps!r}")
        self.eps = float(self.eps)
        if self.eps > 0 and self.loss == "squared":
            raise self._bad("adversarial training (eps > 0) needs a margin loss (hinge or logistic)")
        if self.loss != "squared":
            if not np.all(np.isin(Y, (-1.0, 1.0))):
                raise self._bad(f"the {self.loss} loss needs labels -1/+1 in every output")
        if self.task == "classification":
            for j in range(Y.shape[1]):
                if np.unique(Y[:, j]).size < 2:
                    raise self._bad(f"output {j} has a single class in the training labels: "
                                    f"nothing to learn")
        w = self.sample_weight
        if w is not None:
            if w.shape != (X.shape[0],):
                raise self._bad(f"sample_weight must have shape ({X.shape[0]},), has {w.shape}")
            if not np.all(np.isfinite(w)) or np.any(w <= 0):
                raise self._bad("sample_weight must be finite and > 0 (drop samples of weight 0)")
        if self.bias and not np.all(X[:, -1] == 1.0):
            raise self._bad("bias=True needs a final column of ones in X")
        D = self.D
        if D is None:
            raise self._bad("no activation patterns: give gates (d x P) or patterns (n x P)")
        if not isinstance(D, np.ndarray) or D.ndim != 2 or D.shape[0] != X.shape[0]:
            raise self._bad(f"patterns must have shape ({X.shape[0]}, P), have "
                            f"{getattr(D, 'shape', '?')} (gates must have {X.shape[1]} rows)")
        if D.shape[1] == 0:
            raise self._bad("P = 0: the pattern pool is empty (P must be >= 1 and some pattern "
                            "non-zero)")
        if D.dtype != bool:
            if not np.all(np.isin(D, (0, 1))):
                raise self._bad("patterns must be 0/1")
            self.D = D = D.astype(bool)
        if (self.X_test is None) != (self.Y_test is None):
            raise self._bad("give both X_test and y_test, or neither")
        if self.X_test is not None and self.Y_test is not None:  # both or neither (checked above)
            if self.X_test.ndim != 2 or self.X_test.shape[1] != X.shape[1]:
                raise self._bad(f"X_test must have {X.shape[1]} columns, has shape "
                                f"{self.X_test.shape}")
            if self.Y_test.shape != (self.X_test.shape[0], Y.shape[1]):
                raise self._bad(f"y_test must have shape ({self.X_test.shape[0]}, {Y.shape[1]}), "
                                f"has {self.Y_test.shape}")
            if not (np.all(np.isfinite(self.X_test)) and np.all(np.isfinite(self.Y_test))):
                raise self._bad("X_test/y_test contain NaN or infinite entries")

    # ------------------------------------------------------------------ sizes
    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def d(self) -> int:
        return int(self.X.shape[1])

    @property
    def P(self) -> int:
        return int(self.D.shape[1])

    @property
    def c(self) -> int:
        return int(self.Y.shape[1])

    @property
    def size(self) -> int:
        """Number of entries of a solution ``x``."""
        return self.c * 2 * self.P * self.d

    @property
    def weights(self) -> np.ndarray:
        """Per-sample loss weights (n,): ``sample_weight`` or ones."""
        return np.ones(self.n_samples) if self.sample_weight is None else self.sample_weight

    @property
    def nonbias(self) -> slice:
        """Columns that an adversary perturbs (all but the ones column)."""
        return slice(0, self.d - 1) if self.bias else slice(0, self.d)

    # ------------------------------------------------------------------ evaluation
    def blocks(self, x: Any) -> np.ndarray:
        """``x`` as an array of shape (c, 2, P, d)."""
        U = np.asarray(x, dtype=np.float64)
        if U.size != self.size:
            raise BadInputError(f"{self.source or self.name}: x has {U.size} entries, expected "
                                f"{self.size} (= c 2 P d = {self.c}*2*{self.P}*{self.d})")
        return U.reshape(self.c, 2, self.P, self.d)

    def convex_predict(self, U: np.ndarray) -> np.ndarray:
        """``yhat = sum_i D_i X (v_i - w_i)`` for each output: (n, c)."""
        U = self.blocks(U)
        diff = U[:, 0] - U[:, 1]                       # (c, P, d)
        XU = np.einsum("nd,cpd->cnp", self.X, diff)
        return np.einsum("cnp,np->nc", XU, self.D)

    def robust_norms(self, U: np.ndarray) -> np.ndarray:
        """``||sum_i d_ik (v_i - w_i)||_1`` over the perturbed coordinates: (n, c)."""
        U = self.blocks(U)
        diff = (U[:, 0] - U[:, 1])[:, :, self.nonbias]  # (c, P, d')
        Z = np.einsum("np,cpd->cnd", self.D.astype(np.float64), diff)
        return np.abs(Z).sum(axis=2).T

    def data_loss(self, U: np.ndarray) -> float:
        """``(1/n) sum_k w_k loss`` (the robust loss when ``eps > 0``), summed over outputs."""
        Z = self.convex_predict(U)
        w = self.weights[:, None]
        if self.eps > 0:
            m = self.Y * Z - self.eps * self.robust_norms(U)
            return float((w * margin_loss(self.loss, m)).sum() / self.n_samples)
        return float((w * loss_values(self.loss, Z, self.Y)).sum() / self.n_samples)

    def regularizer(self, U: np.ndarray) -> float:
        return self.beta * float(np.linalg.norm(self.blocks(U), axis=-1).sum())

    def objective(self, x: Any) -> float:
        """The convex objective of ``x``."""
        return self.data_loss(x) + self.regularizer(x)

    def cone_violation(self, x: Any) -> float:
        """Largest violation of ``(2 D_i - I) X u_i >= 0`` (robust cones: ``>= eps ||u_i||_1``)
        over all blocks, relative to ``max(1, max |X u_i|)``."""
        U = self.blocks(x)
        S = 2.0 * self.D - 1.0
        # one BLAS product (einsum would not use BLAS here: seconds at n = 1e5)
        XU = (U.reshape(-1, self.d) @ self.X.T).reshape(self.c, 2, self.P, self.n_samples)
        slack = XU * S.T[None, None]
        if self.robust_cones and self.eps > 0:
            slack = slack - self.eps * np.abs(U[..., self.nonbias]).sum(-1)[..., None]
        viol = float(np.max(-slack, initial=0.0))
        if viol <= 0.0:                 # also -0.0, which would print as "-0"
            return 0.0
        return viol / max(1.0, float(np.max(np.abs(XU), initial=0.0)))

    # ------------------------------------------------------------------ the network
    def recover(self, x: Any, tol: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """The nonconvex network of ``x``: each block u with ``||u|| > tol`` gives a hidden unit
        ``w1 = u / sqrt(||u||)``, ``w2 = +sqrt(||u||)`` (v blocks) or ``-sqrt(||u||)`` (w blocks).
        Returns ``W1`` (c, d, m) and ``w2`` (c, m), ``m`` the largest count over outputs (zero
        units pad the others)."""
        U = self.blocks(x)
        norms = np.linalg.norm(U, axis=-1)             # (c, 2, P)
        units = []
        for j in range(self.c):
            idx = np.argwhere(norms[j] > tol)
            units.append(idx)
        m = max(1, max(len(u) for u in units))
        W1 = np.zeros((self.c, self.d, m))
        w2 = np.zeros((self.c, m))
        for j, idx in enumerate(units):
            for t, (s, i) in enumerate(idx):
                r = norms[j, s, i]
                W1[j, :, t] = U[j, s, i] / math.sqrt(r)
                w2[j, t] = math.sqrt(r) * (1.0 if s == 0 else -1.0)
        return W1, w2

    def network_objective(self, W1: np.ndarray, w2: np.ndarray) -> float:
        """The nonconvex objective of a network (robust loss under ``eps`` with the network's own
        patterns: the worst case of a linear model around each sample)."""
        Z = network_predict(self.X, W1, w2)
        reg = 0.5 * self.beta * (float(np.sum(W1 ** 2)) + float(np.sum(w2 ** 2)))
        w = self.weights[:, None]
        if self.eps > 0:
            act = np.einsum("nd,cdm->cnm", self.X, W1) >= 0        # (c, n, m)
            eff = np.einsum("cnm,cdm,cm->cnd", act.astype(np.float64), W1, w2)[..., self.nonbias]
            m = self.Y * Z - self.eps * np.abs(eff).sum(-1).T
            return float((w * margin_loss(self.loss, m)).sum() / self.n_samples) + reg
        return float((w * loss_values(self.loss, Z, self.Y)).sum() / self.n_samples) + reg

    def recovery_gap(self, x: Any) -> float:
        """``|network objective - convex objective| / max(1, |convex objective|)``: zero at a
        point that satisfies the cone constraints (the identity of the reformulation)."""
        W1, w2 = self.recover(x)
        f = self.objective(x)
        return abs(self.network_objective(W1, w2) - f) / max(1.0, abs(f))

    def accuracy(self, Z: np.ndarray, Y: np.ndarray) -> float:
        """Classification accuracy of outputs ``Z`` against targets ``Y`` (sign for one output,
        argmax one-vs-rest for several); for regression the coefficient of determination R^2."""
        if self.task == "regression":
            ss = float(np.sum((Y - Y.mean(axis=0)) ** 2))
            return 1.0 - float(np.sum((Z - Y) ** 2)) / max(ss, 1e-300)
        if Y.shape[1] == 1:
            return float(np.mean(np.where(Z[:, 0] >= 0, 1.0, -1.0) == Y[:, 0]))
        return float(np.mean(np.argmax(Z, axis=1) == np.argmax(Y, axis=1)))

    def scores(self, W1: np.ndarray, w2: np.ndarray) -> dict[str, float]:
        """Train (and test) accuracy of a network (R^2 for regression)."""
        key = "r2" if self.task == "regression" else "accuracy"
        out = {f"train_{key}": self.accuracy(network_predict(self.X, W1, w2), self.Y)}
        if self.X_test is not None and self.Y_test is not None:
            out[f"test_{key}"] = self.accuracy(network_predict(self.X_test, W1, w2), self.Y_test)
        return out

    def __repr__(self) -> str:
        return (f"ReLUTraining({self.name}: n={self.n_samples}, d={self.d}, P={self.P}, "
                f"c={self.c}, loss={self.loss}, beta={self.beta:g}, eps={self.eps:g})")


def _as_matrix(a: Any, what: str) -> np.ndarray:
    try:
        return np.asarray(a, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise BadInputError(f"{what} is not numeric: {exc}") from None


def _as_targets(y: Any, what: str) -> np.ndarray:
    Y = _as_matrix(y, what)
    return Y.reshape(-1, 1) if Y.ndim == 1 else Y
