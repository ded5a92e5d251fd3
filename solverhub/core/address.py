"""Problem addresses: ``scheme:rest?key=value&...`` (``generate:set_cover?rows=500&seed=1``,
``knapsack:items.txt``). Plain paths (``model.mps.gz``, ``../x.lp``) have no scheme."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl

__all__ = ["Address", "parse_address"]

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9_+.-]+):(?!//)(.*)$", re.S)


@dataclass(frozen=True)
class Address:
    raw: str
    scheme: str | None  # None for a plain path
    target: str          # what follows the scheme, without the query
    params: dict[str, str]

    @property
    def path(self) -> Path:
        return Path(self.target)


def parse_address(source: str | Path) -> Address:
    raw = str(source)
    m = _SCHEME.match(raw) if not isinstance(source, Path) else None
    if m is None:
        return Address(raw, None, raw, {})
    scheme, rest = m.group(1).lower(), m.group(2)
    target, _, query = rest.partition("?")
    params = dict(parse_qsl(query, keep_blank_values=True)) if query else {}
    return Address(raw, scheme, target, params)
