"""Typed registration records that plugins return from their hooks (conda style).

Every record has a ``name`` unique within its registry; the plugin manager fills ``provider`` with
the name of the plugin that returned it, so duplicates are reported naming both providers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict

__all__ = [
    "NoOptions",
    "ProblemKind",
    "Converter",
    "SolverSpec",
    "BackendSpec",
    "MetaComponent",
    "META_CATEGORIES",
]


class NoOptions(BaseModel):
    """Options model of a solver that takes none; unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class ProblemKind:
    """A kind of problem (``mip``, ``knapsack``, ``nlp-eq`` ...) and the Python type that carries it."""

    name: str
    type: type
    description: str = ""
    provider: str = ""


@dataclass(frozen=True)
class Converter:
    """Turns a problem of ``source_kind`` into ``target_kind`` (e.g. Pyomo model -> mip)."""

    name: str
    source_kind: str
    target_kind: str
    convert: Callable[[Any], Any]
    provider: str = ""


@dataclass(frozen=True)
class SolverSpec:
    """A solver: ``factory(**options)`` returns an object with
    ``solve(problem, *, time_limit=None, seed=0, observers=()) -> Result``.

    ``options`` is a pydantic model (``extra="forbid"``) that validates the keyword options; its
    defaults are what ``solverhub solvers`` lists.
    """

    name: str
    problem_kind: str
    factory: Callable[..., Any]
    options: type[BaseModel] = NoOptions
    description: str = ""
    provider: str = ""


@dataclass(frozen=True)
class BackendSpec:
    """A MIP backend for large-neighbourhood search: ``factory(problem, *, threads=1, seed=0)``
    returns a :class:`solverhub.core.backend.MIPBackend`."""

    name: str
    factory: Callable[..., Any]
    capabilities: frozenset[str] = field(default_factory=frozenset)
    description: str = ""
    provider: str = ""


META_CATEGORIES = ("destroy", "repair", "policy", "acceptance", "stopping")


@dataclass(frozen=True)
class MetaComponent:
    """A meta-search building block: a destroy or repair operator, a bandit policy, an acceptance
    criterion or a stopping rule. ``factory(**params)`` builds a fresh (stateful) instance per run;
    ``params`` documents the paper's parameters with their defaults."""

    name: str
    category: str
    factory: Callable[..., Any]
    params: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    provider: str = ""

    def __post_init__(self) -> None:
        if self.category not in META_CATEGORIES:
            raise ValueError(f"meta component {self.name!r}: category must be one of "
                             f"{META_CATEGORIES}, got {self.category!r}")
