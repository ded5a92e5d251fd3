"""Built-in plugin ``generators``: the loader of ``generate:<family>?param=value&seed=N`` addresses.

    solverhub solve "generate:set_cover?rows=500&cols=1000&seed=1" --solver highs
    sh.load_problem("generate:independent_set?n_nodes=300&affinity=4&seed=2")

The host validates the parameters with the family's pydantic model (unknown parameters and families
are errors that list the known ones). Generation itself lives in :mod:`solverhub.instances`,
imported lazily so that loading the plugin stays cheap.
"""

from __future__ import annotations

from typing import Any

from solverhub.core.hookspecs import hookimpl
from solverhub.core.records import LoaderSpec

SCHEME = "generate"


def family_params(target: str) -> Any:
    """The parameter model of ``generate:<target>`` (an unknown family is bad input)."""
    from solverhub.core.errors import BadInputError
    from solverhub.instances import FAMILIES

    family = target.strip()
    if family not in FAMILIES:
        what = "missing instance family" if not family else f"unknown instance family {family!r}"
        raise BadInputError(f"{what}, expected generate:<family>?param=value "
                            f"(known: {', '.join(FAMILIES)})")
    return FAMILIES[family].params


def load_generated(target: str, params: Any) -> Any:
    from solverhub.instances import FAMILIES

    return FAMILIES[target.strip()].function(**params.model_dump())


@hookimpl
def solverhub_loaders() -> list[LoaderSpec]:
    return [LoaderSpec("generators", load_generated, schemes=(SCHEME,), kind="mip",
                       params=family_params, examples=("generate:set_cover?rows=20&cols=30&seed=1",),
                       description="generate:<family>?param=value&seed=N, seeded MIP instance families")]
