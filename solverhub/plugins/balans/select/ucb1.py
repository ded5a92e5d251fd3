"""UCB1: every arm once (in random order), then the arm maximising
mean_a + alpha * sqrt(2 ln t / n_a)."""

from __future__ import annotations

import numpy as np

from solverhub.plugins.balans.select.base import MeanRewards, argmax_random_tie


class UCB1:
    def __init__(self, n_arms: int, alpha: float = 1.0) -> None:
        if alpha < 0:
            raise ValueError(f"UCB1 alpha must be >= 0, got {alpha}")
        self.alpha = float(alpha)
        self.stats = MeanRewards(n_arms)

    def select(self, rng: np.random.Generator) -> int:
        counts = self.stats.counts
        unpulled = np.flatnonzero(counts == 0)
        if unpulled.size:
            return int(rng.choice(unpulled))
        t = max(self.stats.total, 1)
        ucb = self.stats.means + self.alpha * np.sqrt(2.0 * np.log(t) / counts)
        return argmax_random_tie(ucb, rng)

    def update(self, arm: int, reward: float) -> None:
        self.stats.update(arm, reward)
