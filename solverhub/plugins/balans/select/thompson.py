"""Thompson sampling with Beta-Bernoulli arms.

Each arm keeps Beta(a, b), starting at (prior_alpha, prior_beta); ``select`` draws one sample per arm
and plays the largest. Rewards that are not 0/1 (e.g. scores [8, 4, 2, 1]) are normalised to
q = reward / max_reward in [0, 1] and read as the success probability of a Bernoulli trial; the
update is that trial's expectation, a += q, b += 1 - q (deterministic, so a run is reproducible from
its one generator). ``max_reward`` is the largest score (the solver passes max(scores)); without it,
the largest reward seen so far is used. With binary scores [1, 1, 0, 0] (the paper's MIPLIB config)
this is exact Beta-Bernoulli Thompson sampling."""

from __future__ import annotations

import numpy as np

from solverhub.plugins.balans.select.base import MeanRewards


class Thompson:
    def __init__(self, n_arms: int, max_reward: float | None = None, prior_alpha: float = 1.0,
                 prior_beta: float = 1.0) -> None:
        if prior_alpha <= 0 or prior_beta <= 0:
            raise ValueError("Thompson sampling priors must be positive")
        self.stats = MeanRewards(n_arms)
        self.max_reward = None if max_reward is None else float(max_reward)
        self._seen_max = 0.0
        self.a = np.full(self.stats.n_arms, float(prior_alpha))
        self.b = np.full(self.stats.n_arms, float(prior_beta))

    def select(self, rng: np.random.Generator) -> int:
        return int(np.argmax(rng.beta(self.a, self.b)))

    def update(self, arm: int, reward: float) -> None:
        self.stats.update(arm, reward)
        self._seen_max = max(self._seen_max, float(reward))
        scale = self.max_reward if self.max_reward else self._seen_max
        q = 0.0 if scale <= 0 else float(np.clip(reward / scale, 0.0, 1.0))
        self.a[arm] += q
        self.b[arm] += 1.0 - q
