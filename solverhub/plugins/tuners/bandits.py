"""Built-in tuners (see :mod:`solverhub.core.tuning`): the paper's Tsallis-INF and ChebCB
(Khodak, Chow, Balcan, Talwalkar, ICLR 2024), Exp3 and UCB1 as baselines, and a fixed option.
All choose among the arms of a :class:`~solverhub.core.tuning.ParameterSpace` and see losses
cost / cost_bound in [0, 1]."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from solverhub.core.tuning import ArmTuner, ParameterSpace

__all__ = ["TsallisINF", "ChebCB", "Exp3", "UCB1", "Fixed", "chebyshev_features"]


class TsallisINF(ArmTuner):
    """1/2-Tsallis-INF (Zimmert and Seldin, JMLR 2021, Alg. 1 with alpha = 1/2), the paper's
    non-contextual tuner: w_t = argmin_{w in simplex} <w, L_hat> - sum_i 4 sqrt(w_i) / eta_t,
    i.e. w_i = 4 / (eta_t (L_hat_i - x))^2 with x set by Newton's method so that sum w = 1;
    eta_t = eta0 / sqrt(t) (eta0 = 2: regret <= 4 sqrt(K T) + 1, their Thm 1), importance-weighted
    loss estimates L_hat_i += loss / w_i for the arm played."""

    def __init__(self, space: ParameterSpace, *, cost_bound: float, seed: int = 0,
                 eta0: float = 2.0) -> None:
        super().__init__(space, cost_bound=cost_bound, seed=seed)
        self.eta0 = float(eta0)
        self.L = np.zeros(self.k)
        self.w = np.full(self.k, 1.0 / self.k)

    def _weights(self, eta: float) -> np.ndarray:
        L = self.L
        x = float(L.min()) - 2.0 / eta  # sum w(x) >= 1 here; Newton then decreases x monotonically
        for _ in range(100):
            w = 4.0 / (eta * (L - x)) ** 2
            f = float(w.sum()) - 1.0
            if abs(f) < 1e-12:
                break
            x -= f / (eta * float(np.sum(w ** 1.5)))
        w = 4.0 / (eta * (L - x)) ** 2
        return w / w.sum()

    def _pick(self, context: Sequence[float] | None) -> int:
        self.w = self._weights(self.eta0 / math.sqrt(self.t))
        return int(self.rng.choice(self.k, p=self.w))

    def _update(self, arm: int, loss: float) -> None:
        self.L[arm] += loss / self.w[arm]

    def probabilities(self) -> np.ndarray:
        return self.w.copy()


class Exp3(ArmTuner):
    """Exp3 (Auer, Cesa-Bianchi, Freund, Schapire 2002) on losses: p = (1 - gamma) w / sum w +
    gamma / K, w_i *= exp(-gamma loss_hat_i / K) with loss_hat = loss / p_i. ``gamma`` None: their
    Cor. 3.2 choice min(1, sqrt(K ln K / ((e - 1) horizon)))."""

    def __init__(self, space: ParameterSpace, *, cost_bound: float, seed: int = 0,
                 gamma: float | None = None, horizon: int = 1000) -> None:
        super().__init__(space, cost_bound=cost_bound, seed=seed)
        k = self.k
        self.gamma = float(gamma) if gamma is not None else \
            min(1.0, math.sqrt(k * math.log(max(k, 2)) / ((math.e - 1) * max(1, horizon))))
        self.logw = np.zeros(k)
        self.p = np.full(k, 1.0 / k)

    def _pick(self, context: Sequence[float] | None) -> int:
        w = np.exp(self.logw - self.logw.max())
        self.p = (1 - self.gamma) * w / w.sum() + self.gamma / self.k
        return int(self.rng.choice(self.k, p=self.p))

    def _update(self, arm: int, loss: float) -> None:
        self.logw[arm] -= self.gamma * (loss / self.p[arm]) / self.k

    def probabilities(self) -> np.ndarray:
        return self.p.copy()


class UCB1(ArmTuner):
    """UCB1 (Auer, Cesa-Bianchi, Fischer 2002) on rewards 1 - loss: each arm once, then the arm
    maximizing mean reward + sqrt(c ln t / n_i) (their c = 2). Deterministic given the costs
    (ties go to the lowest index)."""

    def __init__(self, space: ParameterSpace, *, cost_bound: float, seed: int = 0,
                 c: float = 2.0) -> None:
        super().__init__(space, cost_bound=cost_bound, seed=seed)
        self.c = float(c)
        self.n = np.zeros(self.k)
        self.total = np.zeros(self.k)

    def _pick(self, context: Sequence[float] | None) -> int:
        untried = np.flatnonzero(self.n == 0)
        if untried.size:
            return int(untried[0])
        mean = 1.0 - self.total / self.n
        return int(np.argmax(mean + np.sqrt(self.c * math.log(self.t) / self.n)))

    def _update(self, arm: int, loss: float) -> None:
        self.n[arm] += 1
        self.total[arm] += loss


def chebyshev_features(z: float, degree: int) -> np.ndarray:
    """T_0(z) ... T_degree(z) for z in [-1, 1] (three-term recurrence)."""
    out = np.empty(degree + 1)
    out[0] = 1.0
    if degree >= 1:
        out[1] = z
    for j in range(2, degree + 1):
        out[j] = 2 * z * out[j - 1] - out[j - 2]
    return out


class ChebCB(ArmTuner):
    """ChebCB, the paper's contextual tuner for a scalar context c in [context_low, context_high]
    (the diagonal shift): the cost of each arm is regressed on the Chebyshev polynomials
    T_0..T_degree of the rescaled context (ridge ``reg``, updated online), and arms are drawn by
    inverse-gap weighting around the predicted best (SquareCB, Foster and Rakhlin 2020):
    p_a = 1 / (K + gamma_t (yhat_a - yhat_best)), the rest on the best, gamma_t = gamma0 sqrt(K t).
    (Our reading of the paper's ChebCB; its constants are the defaults here.) ``feature`` names the
    context entry used (index into the context vector)."""

    contextual = True

    def __init__(self, space: ParameterSpace, *, cost_bound: float, seed: int = 0,
                 context_low: float = 0.0, context_high: float = 1.0, degree: int = 4,
                 reg: float = 1.0, gamma0: float = 10.0, feature: int = 0) -> None:
        super().__init__(space, cost_bound=cost_bound, seed=seed)
        if not context_low < context_high:
            raise ValueError(f"chebcb: context_low {context_low} must be below context_high "
                             f"{context_high}")
        self.lo, self.hi = float(context_low), float(context_high)
        self.degree, self.reg, self.gamma0 = int(degree), float(reg), float(gamma0)
        self.feature = int(feature)
        d = self.degree + 1
        self.G = np.repeat(np.eye(d)[None] * self.reg, self.k, axis=0)
        self.g = np.zeros((self.k, d))
        self.p = np.full(self.k, 1.0 / self.k)
        self.phi: np.ndarray | None = None

    def _features(self, context: Sequence[float] | None) -> np.ndarray:
        if context is None or len(context) <= self.feature:
            raise ValueError(f"chebcb needs a context with entry {self.feature} (the instance's "
                             f"side information, e.g. the diagonal shift), got {context!r}")
        c = float(context[self.feature])
        z = 2 * (min(max(c, self.lo), self.hi) - self.lo) / (self.hi - self.lo) - 1
        return chebyshev_features(z, self.degree)

    def predict(self, context: Sequence[float]) -> np.ndarray:
        """Predicted loss of every arm at ``context``."""
        phi = self._features(context)
        return np.array([phi @ np.linalg.solve(self.G[a], self.g[a]) for a in range(self.k)])

    def _pick(self, context: Sequence[float] | None) -> int:
        self.phi = self._features(context)
        yhat = self.predict(context)  # type: ignore[arg-type]
        best = int(np.argmin(yhat))
        gamma = self.gamma0 * math.sqrt(self.k * self.t)
        p = 1.0 / (self.k + gamma * (yhat - yhat[best]))
        p[best] = 0.0
        p[best] = max(0.0, 1.0 - p.sum())
        self.p = p / p.sum()
        return int(self.rng.choice(self.k, p=self.p))

    def _update(self, arm: int, loss: float) -> None:
        assert self.phi is not None
        self.G[arm] += np.outer(self.phi, self.phi)
        self.g[arm] += loss * self.phi

    def probabilities(self) -> np.ndarray:
        return self.p.copy()


class Fixed(ArmTuner):
    """Always the same value (``value``; None: the middle arm): the baseline a tuner must beat."""

    def __init__(self, space: ParameterSpace, *, cost_bound: float, seed: int = 0,
                 value: float | None = None) -> None:
        super().__init__(space, cost_bound=cost_bound, seed=seed)
        self.value = value

    def choose(self, context: Sequence[float] | None = None) -> float:
        self.t += 1
        self.last = 0
        return float(self.value) if self.value is not None else self.arms[self.k // 2]

    def _update(self, arm: int, loss: float) -> None:
        pass
