"""Running reward statistics shared by the bandit policies."""

from __future__ import annotations

import numpy as np


class MeanRewards:
    """Per-arm pull counts and reward sums; ``means`` of unpulled arms is ``initial``."""

    def __init__(self, n_arms: int, initial: float = 0.0) -> None:
        if int(n_arms) < 1:
            raise ValueError(f"a bandit needs at least one arm, got n_arms={n_arms}")
        self.n_arms = int(n_arms)
        self.initial = float(initial)
        self.counts = np.zeros(self.n_arms, dtype=np.int64)
        self.sums = np.zeros(self.n_arms)

    @property
    def means(self) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            m = self.sums / self.counts
        return np.where(self.counts > 0, m, self.initial)

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def update(self, arm: int, reward: float) -> None:
        self.counts[arm] += 1
        self.sums[arm] += float(reward)


def argmax_random_tie(values: np.ndarray, rng: np.random.Generator) -> int:
    best = np.flatnonzero(values >= np.max(values) - 1e-12)
    return int(best[0]) if best.size == 1 else int(rng.choice(best))
