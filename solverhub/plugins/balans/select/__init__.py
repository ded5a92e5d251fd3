"""Bandit policies that pick the arm of each iteration (built by ``factory(n_arms=..., **params)``)."""

from __future__ import annotations

from solverhub.core.records import MetaComponent
from solverhub.plugins.balans.select.epsilon_greedy import EpsilonGreedy
from solverhub.plugins.balans.select.softmax import Softmax
from solverhub.plugins.balans.select.thompson import Thompson
from solverhub.plugins.balans.select.ucb1 import UCB1

__all__ = ["EpsilonGreedy", "Softmax", "UCB1", "Thompson", "components"]


def components() -> list[MetaComponent]:
    return [
        MetaComponent("epsilon_greedy", "policy", EpsilonGreedy, {"epsilon": 0.15},
                      "random arm with probability epsilon, else the best mean reward"),
        MetaComponent("softmax", "policy", Softmax, {"tau": 1.0},
                      "arm drawn with probability proportional to exp(mean / tau)"),
        MetaComponent("ucb1", "policy", UCB1, {"alpha": 1.0},
                      "upper confidence bound mean + alpha sqrt(2 ln t / n)"),
        MetaComponent("thompson", "policy", Thompson,
                      {"max_reward": None, "prior_alpha": 1.0, "prior_beta": 1.0},
                      "Beta-Bernoulli Thompson sampling (rewards normalised by max_reward)"),
    ]
