"""Built-in plugin ``generators``: the loader of ``generate:<family>?param=value&seed=N`` addresses.

    solverhub solve "generate:set_cover?rows=500&cols=1000&seed=1" --solver highs
    sh.load_problem("generate:independent_set?n_nodes=300&affinity=4&seed=2")

Parameters arrive as strings and are validated by the family's pydantic model (unknown parameters and
families are errors that list the known ones). Generation itself lives in :mod:`solverhub.instances`,
imported lazily so that loading the plugin stays cheap.
"""

from __future__ import annotations

from typing import Any

from solverhub.core.address import parse_address
from solverhub.core.hookspecs import hookimpl
from solverhub.core.records import LoaderSpec

SCHEME = "generate"


def load_generated(source: Any, params: dict) -> Any:
    from solverhub.core.errors import BadInputError
    from solverhub.instances import FAMILIES, generate

    addr = parse_address(str(source))
    family = addr.target.strip()
    if not family:
        raise BadInputError(f"{source!r}: missing instance family, expected generate:<family>?param=value "
                            f"(known: {', '.join(FAMILIES)})")
    merged = {**addr.params, **(params or {})}
    return generate(family, **merged)


@hookimpl
def solverhub_loaders() -> list[LoaderSpec]:
    return [LoaderSpec("generators", load_generated, schemes=(SCHEME,), kind="mip",
                       description="generate:<family>?param=value&seed=N, seeded MIP instance families")]
