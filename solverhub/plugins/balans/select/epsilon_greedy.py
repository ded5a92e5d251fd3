"""Epsilon-greedy: with probability epsilon a uniformly random arm, otherwise the arm with the best
mean reward (ties broken at random)."""

from __future__ import annotations

import numpy as np

from solverhub.plugins.balans.select.base import MeanRewards, argmax_random_tie


class EpsilonGreedy:
    def __init__(self, n_arms: int, epsilon: float = 0.15, initial: float = 0.0) -> None:
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
        self.epsilon = float(epsilon)
        self.stats = MeanRewards(n_arms, initial)

    def select(self, rng: np.random.Generator) -> int:
        if rng.random() < self.epsilon:
            return int(rng.integers(self.stats.n_arms))
        return argmax_random_tie(self.stats.means, rng)

    def update(self, arm: int, reward: float) -> None:
        self.stats.update(arm, reward)
