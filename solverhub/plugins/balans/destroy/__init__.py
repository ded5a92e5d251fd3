"""Destroy operators (8 families; each size variant is its own registered name).

| name | family / parameter |
|---|---|
| mutation_25, mutation_50, mutation_75 | Mutation, fraction of integer columns freed |
| rins_25, rins_50, rins_75 | RINS, fraction of the LP-differing integer columns freed |
| rens_25, rens_50, rens_75 | RENS, fraction of the LP-fractional integer columns released |
| dins | DINS |
| local_branching_10, local_branching_25, local_branching_50 | Local branching, k up to 10/25/50 % of binaries |
| proximity_0.005, proximity_0.015, proximity_0.030 | Proximity, required relative improvement delta |
| crossover | Crossover |
| random_objective | Random objective |
| continue | the whole problem with the backend (incumbent as warm start), its own growing time slice |
"""

from __future__ import annotations

from solverhub.core.records import MetaComponent
from solverhub.plugins.balans.destroy.continue_search import ContinueSearch
from solverhub.plugins.balans.destroy.crossover import Crossover
from solverhub.plugins.balans.destroy.dins import DINS
from solverhub.plugins.balans.destroy.local_branching import LocalBranching
from solverhub.plugins.balans.destroy.mutation import Mutation
from solverhub.plugins.balans.destroy.proximity import Proximity
from solverhub.plugins.balans.destroy.random_objective import RandomObjective
from solverhub.plugins.balans.destroy.rens import RENS
from solverhub.plugins.balans.destroy.rins import RINS

__all__ = ["Mutation", "RINS", "RENS", "DINS", "LocalBranching", "Proximity", "Crossover",
           "RandomObjective", "ContinueSearch", "components", "PAPER_ARMS", "DEFAULT_ARMS"]

#: the paper's 16 arms (each paired with the one repair operator, sub_mip)
PAPER_ARMS = [
    "crossover",
    "mutation_25", "mutation_50", "mutation_75",
    "local_branching_10", "local_branching_25", "local_branching_50",
    "proximity_0.005", "proximity_0.015", "proximity_0.030",
    "rens_25", "rens_50", "rens_75",
    "rins_25", "rins_50", "rins_75",
]

#: the default arms: the paper's 16 and "continue the full problem with the backend" (issue 12), so
#: that time flows to the backend's own search on instances where it pays
DEFAULT_ARMS = PAPER_ARMS + ["continue"]


def _sized(cls, name: str, **fixed):
    def factory(**params):
        return cls(name=name, **{**fixed, **params})
    factory.__name__ = f"make_{name}"
    return factory


def components() -> list[MetaComponent]:
    out: list[MetaComponent] = []
    for pct in (25, 50, 75):
        f = pct / 100
        out.append(MetaComponent(f"mutation_{pct}", "destroy", _sized(Mutation, f"mutation_{pct}", fraction=f),
                                 {"fraction": f}, f"free {pct} % of the integer columns at random"))
        out.append(MetaComponent(f"rins_{pct}", "destroy", _sized(RINS, f"rins_{pct}", fraction=f),
                                 {"fraction": f}, f"free {pct} % of the integer columns that differ "
                                                  f"from the root LP"))
        out.append(MetaComponent(f"rens_{pct}", "destroy", _sized(RENS, f"rens_{pct}", fraction=f),
                                 {"fraction": f, "textbook": False},
                                 f"release {pct} % of the LP-fractional integer columns into their "
                                 f"LP rounding box"))
    out.append(MetaComponent("dins", "destroy", _sized(DINS, "dins"), {},
                             "DINS: bound integer columns far from the LP by their LP distance"))
    for pct in (10, 25, 50):
        f = pct / 100
        out.append(MetaComponent(f"local_branching_{pct}", "destroy",
                                 _sized(LocalBranching, f"local_branching_{pct}", fraction=f),
                                 {"fraction": f, "random_k": True, "time_factor": 2.5},
                                 f"local branching row: at most k <= {pct} % of the binaries flip"))
    for delta in (0.005, 0.015, 0.030):
        name = f"proximity_{delta:.3f}"
        out.append(MetaComponent(name, "destroy", _sized(Proximity, name, delta=delta),
                                 {"delta": delta, "stop_at_first": True},
                                 f"Hamming-distance objective with a cutoff {delta:g} relative below "
                                 f"the incumbent"))
    out.append(MetaComponent("crossover", "destroy", _sized(Crossover, "crossover"),
                             {"use_pool": True, "time_fraction": 0.5, "fallback_fraction": 0.5},
                             "fix the integer columns on which a second solution agrees"))
    out.append(MetaComponent("random_objective", "destroy", _sized(RandomObjective, "random_objective"),
                             {"free_fraction": 1.0}, "random objective over the integer columns"))
    out.append(MetaComponent("continue", "destroy", _sized(ContinueSearch, "continue"),
                             {"gap_share": 0.1},
                             "the whole problem with the backend, incumbent as warm start, a time "
                             "slice that grows while it closes the gap"))
    return out
