"""Typed registration records that plugins return from their hooks (conda style).

Every record has a ``name`` unique within its registry; the plugin manager fills ``provider`` with
the name of the plugin that returned it, so duplicates are reported naming both providers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict

from solverhub.core.kinds import KindProtocol

__all__ = [
    "NoOptions",
    "ProblemKind",
    "LoaderSpec",
    "Converter",
    "SolverSpec",
    "BackendSpec",
    "MetaComponent",
    "META_CATEGORIES",
    "ArrayBackend",
]


def _probe(available: Callable[[], str | None] | None) -> str | None:
    """Run an availability probe: ``None`` (usable) or the reason it is not."""
    if available is None:
        return None
    try:
        reason = available()
    except Exception as exc:  # a probe must never take the host down
        return f"availability probe raised {type(exc).__name__}: {exc}"
    return None if not reason else str(reason)


class NoOptions(BaseModel):
    """Options model of a solver that takes none; unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class ProblemKind:
    """A kind of problem (``mip``, ``knapsack``, ``nlp-eq`` ...), the Python type that carries it,
    and its :class:`~solverhub.core.kinds.KindProtocol` (checking, metrics, reference, conformance
    instances)::

        ProblemKind("least-squares", BoxLeastSquares, "min ||Ax-b|| s.t. l <= x <= u",
                    protocol=LeastSquaresKind())
    """

    name: str
    type: type
    description: str = ""
    provider: str = ""
    protocol: KindProtocol = field(default_factory=KindProtocol)


@dataclass(frozen=True)
class LoaderSpec:
    """Reads problems from addresses (``scheme:rest?k=v``), files (by suffix) or Python objects.

    ``load(source, params)`` returns a problem object (of kind ``kind`` when given) and raises
    ``BadInputError`` for a source it owns but cannot read. Each address scheme belongs to exactly
    one loader (a second claim is refused, naming both plugins). ``accepts(obj)`` claims Python
    objects (e.g. Pyomo models) and must be cheap and never raise::

        LoaderSpec("bolib", load_bolib, schemes=("bolib",), kind="bilevel")
        LoaderSpec("mps", read_mip, suffixes=(".mps", ".mps.gz"), kind="mip")
    """

    name: str
    load: Callable[[Any, dict[str, Any]], Any]
    schemes: tuple[str, ...] = ()
    suffixes: tuple[str, ...] = ()
    accepts: Callable[[Any], bool] | None = None
    kind: str | None = None
    description: str = ""
    provider: str = ""


@dataclass(frozen=True)
class Converter:
    """Turns a problem of ``source_kind`` into ``target_kind`` (e.g. Pyomo model -> mip), and
    maps a result back (as CVXPY's reductions ``invert`` their solutions).

    ``convert(source) -> target``. ``invert(source, target, result) -> result``: given the result
    of solving ``target`` (already checked by the target kind), returns it in the source's form:
    ``x`` as a solution of ``source``, and ``objective``, ``bound`` and the trajectory's values in
    the source's sense and scale (it may edit ``result`` and return it). The host then checks the
    solution and computes the metrics by the SOURCE kind's protocol, and the result's ``kind`` is
    the source kind; the target kind's metrics stay in ``result.conversion``. It is called for
    every status but ``error``, also without a solution (``x`` None). Without ``invert`` the
    result stays in the target's form and kind::

        Converter("knapsack-to-mip", "knapsack", "mip", to_mip, invert=from_mip)
    """

    name: str
    source_kind: str
    target_kind: str
    convert: Callable[[Any], Any]
    invert: Callable[[Any, Any, Any], Any] | None = None
    provider: str = ""


@dataclass(frozen=True)
class SolverSpec:
    """A solver: ``factory(**options)`` returns an object with
    ``solve(problem, *, time_limit=None, seed=0, notifier=NULL_NOTIFIER) -> Result``.

    ``options`` is a pydantic model (``extra="forbid"``) that validates the keyword options; its
    defaults are what ``solverhub solvers`` lists. ``available()`` returns ``None`` when the
    solver can run here, else the reason it cannot (a missing optional package, no GPU): the
    solver is then listed as unavailable with that reason, and asking for it is one clear error.
    ``deterministic``: the same seed gives the same answer (the conformance suite checks it)::

        SolverSpec("convex-relu-cvxpy", "relu-training", CvxpySolver, CvxpyOptions,
                   available=lambda: None if find_spec("cvxpy") else "cvxpy is not installed "
                                                                     "(pip install solverhub[cvxpy])")
    """

    name: str
    problem_kind: str
    factory: Callable[..., Any]
    options: type[BaseModel] = NoOptions
    description: str = ""
    provider: str = ""
    available: Callable[[], str | None] | None = None
    deterministic: bool = True

    def unavailable_reason(self) -> str | None:
        """``None`` when available; a probe that raises counts as unavailable, with its error."""
        return _probe(self.available)


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


@dataclass(frozen=True)
class ArrayBackend:
    """An array library that solvers can compute on, chosen by a solver's ``device`` option.

    ``module()`` imports and returns the array namespace (``cupy``); it is only called once
    ``available()`` has returned ``None`` (else the reason, e.g. "no CUDA device"). The host's own
    ``"cpu"`` device is NumPy and needs no record. Solvers get the namespace through
    :func:`solverhub.core.arrays.array_namespace` and hand host arrays back (``to_host``)::

        ArrayBackend("cuda", lambda: importlib.import_module("cupy"), available=probe_cuda,
                     description="CuPy on the first CUDA device")
    """

    name: str
    module: Callable[[], ModuleType]
    available: Callable[[], str | None] | None = None
    description: str = ""
    provider: str = ""

    def unavailable_reason(self) -> str | None:
        """``None`` when usable; a probe that raises counts as unavailable, with its error."""
        return _probe(self.available)
