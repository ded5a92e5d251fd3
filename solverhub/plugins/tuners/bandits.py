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
    loss estimates L_hat_i += loss / w_i for the arm played.

    ``normalize`` sets the loss scale: ``bound`` losses min(1, cost / cost_bound), the analysis'
    bounded losses; ``mean`` (default: it did better on every sequence measured, docs/
    benchmarks.md) the scale of the authors' experiments (Khodak et al. 2024,
    their public scripts): raw costs, the estimates divided by the running mean cost at each
    decision, so no cost bound has to be guessed. (The authors subtract 1, the least iteration
    count, from every cost first; we do not, so that any positive cost works, e.g. a primal
    integral in [0, 1], where subtracting 1 would turn every loss negative.)"""

    def __init__(self, space: ParameterSpace, *, cost_bound: float, seed: int = 0,
                 eta0: float = 2.0, normalize: str = "mean") -> None:
        super().__init__(space, cost_bound=cost_bound, seed=seed)
        if normalize not in ("bound", "mean"):
            raise ValueError(f"tsallis-inf: normalize must be 'bound' or 'mean', got {normalize!r}")
        self.eta0 = float(eta0)
        self.normalize = normalize
        self.L = np.zeros(self.k)
        self.w = np.full(self.k, 1.0 / self.k)
        self.cost_sum = 0.0  # normalize=mean: sum of the costs over the decisions so far
        self.observed = 0

    def _weights(self, eta: float) -> np.ndarray:
        L = self.L
        if self.normalize == "mean" and self.observed and self.cost_sum > 0:
            L = L / (self.cost_sum / self.observed)
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

    def observe(self, cost: float) -> None:
        if self.normalize == "bound":
            super().observe(cost)
            return
        if self.last is None:
            raise RuntimeError("TsallisINF.observe called before choose")
        c = float(cost)
        c = self.cost_bound if math.isnan(c) else max(c, 0.0)  # a failed solve costs the bound
        self.cost_sum += c
        self.observed += 1
        self.L[self.last] += c / self.w[self.last]

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
    T_0..T_degree of the context rescaled to [-1, 1], and arms are drawn by inverse-gap weighting
    around the predicted best (SquareCB, Foster and Rakhlin 2020): p_a = 1 / (K + gamma_t (yhat_a -
    yhat_best)), the rest on the best. ``feature`` names the context entry used.

    ``variant``:

    * ``ridge``: ridge regression (``reg``) of the bounded losses min(1, cost / cost_bound),
      updated online, gamma_t = gamma0 sqrt(K t) (degree 4 did well here).
    * ``paper`` (default: it did better on every sequence measured, docs/benchmarks.md): as in
      the authors' experiments (Khodak et al. 2024, public scripts; degree 5 there): per arm
      the least-squares fit of (cost - 1) / s with the data-driven scale s = K N
      (K the largest cost seen, L = (max - min cost) / (context_high - context_low) its spread,
      N = 2 + 4 (hi - lo) L / K (1 + ln(degree + 1))), the coefficients boxed to |theta_0| <= 1/N,
      |theta_j| <= 2 (hi - lo) L / (s j) (a Lipschitz function's Chebyshev coefficients), and
      gamma_t = 2 t sqrt(K t / (R_t + 2 alpha^2 t)) from the squared prediction errors R_t so far,
      alpha = (pi + (2/pi) ln(2 degree + 3)) (hi - lo) L / (2 s (degree + 2)). (The authors' code
      also subtracts the boxed fit's residual from R_t; we do not.)
    """

    contextual = True

    def __init__(self, space: ParameterSpace, *, cost_bound: float, seed: int = 0,
                 context_low: float = 0.0, context_high: float = 1.0, degree: int = 5,
                 reg: float = 1.0, gamma0: float = 10.0, feature: int = 0,
                 variant: str = "paper") -> None:
        super().__init__(space, cost_bound=cost_bound, seed=seed)
        if not context_low < context_high:
            raise ValueError(f"chebcb: context_low {context_low} must be below context_high "
                             f"{context_high}")
        if variant not in ("ridge", "paper"):
            raise ValueError(f"chebcb: variant must be 'ridge' or 'paper', got {variant!r}")
        self.lo, self.hi = float(context_low), float(context_high)
        self.degree, self.reg, self.gamma0 = int(degree), float(reg), float(gamma0)
        self.feature = int(feature)
        self.variant = variant
        d = self.degree + 1
        self.G = np.repeat(np.eye(d)[None] * self.reg, self.k, axis=0)
        self.g = np.zeros((self.k, d))
        self.p = np.full(self.k, 1.0 / self.k)
        self.phi: np.ndarray | None = None
        # variant=paper: the history and the boxed least-squares fits
        self.theta = np.zeros((self.k, d))
        self.arm_features: list[list[np.ndarray]] = [[] for _ in range(self.k)]
        self.arm_costs: list[list[float]] = [[] for _ in range(self.k)]
        self.observed = 0
        self.cost_max, self.cost_min = -math.inf, math.inf
        self.scale = 0.0
        self.eta = 0.0
        self.sq_errors = 0.0
        self.predicted = 0.0

    def _features(self, context: Sequence[float] | None) -> np.ndarray:
        if context is None or len(context) <= self.feature:
            raise ValueError(f"chebcb needs a context with entry {self.feature} (the instance's "
                             f"side information, e.g. the diagonal shift), got {context!r}")
        c = float(context[self.feature])
        z = 2 * (min(max(c, self.lo), self.hi) - self.lo) / (self.hi - self.lo) - 1
        return chebyshev_features(z, self.degree)

    def predict(self, context: Sequence[float]) -> np.ndarray:
        """Predicted loss (variant=paper: scaled cost) of every arm at ``context``."""
        phi = self._features(context)
        if self.variant == "paper":
            return self.theta @ phi
        return np.array([phi @ np.linalg.solve(self.G[a], self.g[a]) for a in range(self.k)])

    def _pick(self, context: Sequence[float] | None) -> int:
        self.phi = self._features(context)
        yhat = self.predict(context)  # type: ignore[arg-type]
        best = int(np.argmin(yhat))
        gamma = self.eta if self.variant == "paper" else self.gamma0 * math.sqrt(self.k * self.t)
        p = 1.0 / (self.k + gamma * (yhat - yhat[best]))
        p[best] = 0.0
        p[best] = max(0.0, 1.0 - p.sum())
        self.p = p / p.sum()
        arm = int(self.rng.choice(self.k, p=self.p))
        self.predicted = float(yhat[arm])
        return arm

    def observe(self, cost: float) -> None:
        if self.variant == "ridge":
            super().observe(cost)
            return
        if self.last is None or self.phi is None:
            raise RuntimeError("ChebCB.observe called before choose")
        c = float(cost)
        c = self.cost_bound if math.isnan(c) else c
        self.arm_features[self.last].append(self.phi)
        self.arm_costs[self.last].append(c)
        self.observed += 1
        self.cost_max, self.cost_min = max(self.cost_max, c), min(self.cost_min, c)
        self._refit(self.last, c)

    def _refit(self, played: int, cost: float) -> None:
        """variant=paper: the data-driven scale, the boxed per-arm fits, the new gamma."""
        from scipy.optimize import lsq_linear

        width = self.hi - self.lo
        kmax = self.cost_max
        lip = (self.cost_max - self.cost_min) / width
        m = self.degree + 1
        n_scale = 2.0 + 4.0 * width * lip / kmax * (1.0 + math.log(m))
        scale = kmax * n_scale
        rescaled = scale != self.scale
        # R_t: the squared error of the prediction for the arm just played
        self.sq_errors += (self.predicted - (cost - 1.0) / scale) ** 2
        self.scale = scale
        ub = np.array([1.0 / n_scale] + [2.0 * width * lip / scale / j for j in range(1, m)])
        for a in range(self.k) if rescaled else [played]:
            if not self.arm_costs[a]:
                continue
            X = np.array(self.arm_features[a])
            y = (np.array(self.arm_costs[a]) - 1.0) / scale
            theta = np.linalg.lstsq(X, y, rcond=None)[0]  # the minimum-norm least-squares fit
            if np.any(np.abs(theta) > ub + 1e-15):
                theta = lsq_linear(X, y, bounds=(-ub, ub + 1e-15)).x
            self.theta[a] = theta
        t = self.observed
        alpha = (math.pi + 2.0 / math.pi * math.log(2 * m + 1)) / (2.0 * scale * (m + 1)) \
            * width * lip
        self.eta = 2.0 * t * math.sqrt(self.k * t / max(self.sq_errors + 2 * alpha**2 * t, 1e-300))

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
