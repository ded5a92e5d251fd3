"""Softmax (Boltzmann) exploration: arm a is drawn with probability proportional to
exp(mean_a / tau); unpulled arms count with mean ``initial``."""

from __future__ import annotations

import numpy as np

from solverhub.plugins.balans.select.base import MeanRewards


class Softmax:
    def __init__(self, n_arms: int, tau: float = 1.0, initial: float = 0.0) -> None:
        if not tau > 0:
            raise ValueError(f"softmax temperature tau must be positive, got {tau}")
        self.tau = float(tau)
        self.stats = MeanRewards(n_arms, initial)

    def probabilities(self) -> np.ndarray:
        z = self.stats.means / self.tau
        w = np.exp(z - z.max())
        return w / w.sum()

    def select(self, rng: np.random.Generator) -> int:
        return int(rng.choice(self.stats.n_arms, p=self.probabilities()))

    def update(self, arm: int, reward: float) -> None:
        self.stats.update(arm, reward)
