"""Built-in plugin ``tuners``: online tuners of one solver option across an instance sequence
(:mod:`solverhub.core.tuning`, docs/tuning.md), registered through ``solverhub_tuners``."""

from __future__ import annotations

from solverhub.core.hookspecs import hookimpl
from solverhub.core.records import TunerSpec

_B = "solverhub.plugins.tuners.bandits"


@hookimpl
def solverhub_tuners() -> list[TunerSpec]:
    return [TunerSpec("tsallis-inf", f"{_B}:TsallisINF", {"eta0": 2.0, "normalize": "mean"},
                      description="1/2-Tsallis-INF bandit over the discretized space (Khodak et al. "
                                  "2024 after Zimmert and Seldin 2021): near the best fixed value"),
            TunerSpec("chebcb", f"{_B}:ChebCB", {"context_low": 0.0, "context_high": 1.0,
                                                 "degree": 5, "reg": 1.0, "gamma0": 10.0,
                                                 "feature": 0, "variant": "paper"},
                      contextual=True,
                      description="contextual bandit, Chebyshev regression of cost on a scalar "
                                  "context (Khodak et al. 2024): near the instance-optimal value"),
            TunerSpec("exp3", f"{_B}:Exp3", {"gamma": None, "horizon": 1000},
                      description="Exp3 (Auer et al. 2002), adversarial baseline"),
            TunerSpec("ucb1", f"{_B}:UCB1", {"c": 2.0},
                      description="UCB1 (Auer et al. 2002), stochastic baseline"),
            TunerSpec("fixed", f"{_B}:Fixed", {"value": None},
                      description="always one value (the default omega, or the best in hindsight)")]
