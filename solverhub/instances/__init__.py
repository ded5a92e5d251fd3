"""Seeded instance generators for the Distributional MIPLIB families (learning-to-branch style).

Each generator takes keyword parameters with defaults (validated: nonsense raises
:class:`~solverhub.core.errors.BadInputError`) and a ``seed``; the same parameters and seed always
give the identical :class:`~solverhub.core.mip.MIPProblem`. ``problem.name`` is short
(``set_cover-r500-c1000-d0.05-s1``) and ``problem.source`` is the canonical address
(``generate:set_cover?rows=500&...&seed=1``) that regenerates it, through :func:`solverhub.load_problem`,
``sh.solve`` or ``solverhub solve`` alike.

    from solverhub.instances import set_cover
    p = set_cover(rows=500, cols=1000, density=0.05, seed=1)

Families: ``set_cover``, ``combinatorial_auction``, ``facility_location``, ``independent_set``,
``multiple_knapsack`` (see docs/instances.md for the formulations).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from solverhub.core.errors import BadInputError
from solverhub.core.mip import MIPProblem
from solverhub.instances._common import GeneratorParams, instance_address, instance_name, validate_params
from solverhub.instances.auction import AuctionParams, combinatorial_auction
from solverhub.instances.facility import FacilityLocationParams, facility_location
from solverhub.instances.indset import IndependentSetParams, independent_set
from solverhub.instances.knapsack import MultipleKnapsackParams, multiple_knapsack
from solverhub.instances.setcover import SetCoverParams, set_cover

__all__ = [
    "set_cover", "combinatorial_auction", "facility_location", "independent_set", "multiple_knapsack",
    "FAMILIES", "Family", "generate", "family_params", "GeneratorParams",
    "SetCoverParams", "AuctionParams", "FacilityLocationParams", "IndependentSetParams",
    "MultipleKnapsackParams", "instance_name", "instance_address", "validate_params",
]


@dataclass(frozen=True)
class Family:
    name: str
    function: Callable[..., MIPProblem]
    params: type[GeneratorParams]
    description: str


FAMILIES: dict[str, Family] = {
    f.name: f for f in (
        Family("set_cover", set_cover, SetCoverParams, "Balas-Ho set cover (min, binary)"),
        Family("combinatorial_auction", combinatorial_auction, AuctionParams,
               "Leyton-Brown arbitrary-relationships auction, winner determination (max, binary)"),
        Family("facility_location", facility_location, FacilityLocationParams,
               "Cornuejols et al. capacitated facility location (min, mixed binary)"),
        Family("independent_set", independent_set, IndependentSetParams,
               "maximum independent set on a Barabasi-Albert or Erdos-Renyi graph, clique rows (max, binary)"),
        Family("multiple_knapsack", multiple_knapsack, MultipleKnapsackParams,
               "multiple knapsack, Martello-Toth classes (max, binary)"),
    )
}


def _family(name: str) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise BadInputError(f"generate:{name}: unknown instance family {name!r} "
                            f"(known: {', '.join(FAMILIES)})") from None


def family_params(name: str) -> dict[str, Any]:
    """Parameter names of family ``name`` with their defaults."""
    return {k: f.default for k, f in _family(name).params.model_fields.items()}


def generate(family: str, **params: Any) -> MIPProblem:
    """Generate an instance of ``family``; ``params`` may be strings (as in an address), which are
    converted and validated by the family's parameter model."""
    fam = _family(family)
    p = validate_params(fam.params, params)
    return fam.function(**p.model_dump())
