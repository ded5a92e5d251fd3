"""Typed registration records that plugins return from their hooks (conda style), and the one
table of registries (:data:`REGISTRIES`: hook name -> record type, uniqueness rule) that the plugin
manager and the conformance kit both read.

Every record derives from :class:`Record`: a ``name`` unique within its registry and the
``provider`` the plugin manager fills with the name of the plugin that returned it, so duplicates
are reported naming both providers. Callables in a record (a solver's factory, a loader's ``load``
...) may be given as a dotted path ``"package.module:attr"``: the module is imported on first use,
so registering a plugin imports nothing heavy.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable, ClassVar, TypeVar, cast

from pydantic import BaseModel, ConfigDict

from solverhub.core.kinds import KindProtocol

__all__ = [
    "Record",
    "LazyRef",
    "RegistryEntry",
    "REGISTRIES",
    "REGISTRY_BY_HOOK",
    "NoOptions",
    "ProblemKind",
    "LoaderSpec",
    "Converter",
    "SolverSpec",
    "BackendSpec",
    "MetaComponent",
    "META_CATEGORIES",
    "ArrayBackend",
    "PyomoSolverSpec", "TunerSpec",
]


class LazyRef:
    """A callable (or class) named by its dotted path ``"package.module:attr"``, imported on first
    use; calling it calls the target. Records hold these in place of the strings they were given."""

    __slots__ = ("path", "_target")

    def __init__(self, path: str) -> None:
        module, sep, attr = path.partition(":")
        if not sep or not module or not attr:
            raise ValueError(f"dotted path {path!r} must read 'package.module:attr'")
        self.path = path
        self._target: Any = None

    def resolve(self) -> Any:
        """The named object (imported once). An import failure names the path."""
        if self._target is None:
            module, _, attr = self.path.partition(":")
            obj: Any = importlib.import_module(module)
            try:
                for part in attr.split("."):
                    obj = getattr(obj, part)
            except AttributeError:
                raise ImportError(f"{self.path}: module {module!r} has no attribute {attr!r}") from None
            self._target = obj
        return self._target

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"LazyRef({self.path!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LazyRef) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    def __reduce__(self) -> tuple[Any, ...]:  # pickles by path (process pools, dask)
        return (LazyRef, (self.path,))


T = TypeVar("T")


def resolve(obj: T | str) -> T:
    """``obj`` itself, or the object a :class:`LazyRef` names. A record field typed ``X | str``
    holds a :class:`LazyRef` in place of the string once the record is built, so this gives ``X``."""
    return cast(T, obj.resolve() if isinstance(obj, LazyRef) else obj)


@dataclass(frozen=True)
class Record:
    """Base of every registration record: ``name``, unique within its registry, and ``provider``,
    the plugin that registered it (filled by the plugin manager). Subclasses list in
    ``_lazy_fields`` the fields that may be given as a dotted path (see :class:`LazyRef`)."""

    _lazy_fields: ClassVar[tuple[str, ...]] = ()

    name: str
    provider: str = field(default="", kw_only=True)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"{type(self).__name__}: name must be a non-empty string, got {self.name!r}")
        for fname in self._lazy_fields:
            value = getattr(self, fname)
            if isinstance(value, str):
                object.__setattr__(self, fname, LazyRef(value))


def _probe(available: Callable[[], str | None] | str | None) -> str | None:
    """Run an availability probe: ``None`` (usable) or the reason it is not."""
    if available is None:
        return None
    try:
        reason = resolve(available)()
    except Exception as exc:  # a probe must never take the host down
        return f"availability probe raised {type(exc).__name__}: {exc}"
    return None if not reason else str(reason)


class NoOptions(BaseModel):
    """Options model of a solver that takes none; unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class ProblemKind(Record):
    """A kind of problem (``mip``, ``knapsack``, ``nlp-eq`` ...), the Python type that carries it,
    and its :class:`~solverhub.core.kinds.KindProtocol` (checking, metrics, reference, conformance
    instances)::

        ProblemKind("least-squares", BoxLeastSquares, "min ||Ax-b|| s.t. l <= x <= u",
                    protocol=LeastSquaresKind())
    """

    type: type
    description: str = ""
    protocol: KindProtocol = field(default_factory=KindProtocol)


@dataclass(frozen=True)
class LoaderSpec(Record):
    """Reads problems from addresses (``scheme:target?k=v``), files (by suffix) or Python objects.

    The host parses the address once and validates its parameters with ``params``, a pydantic
    model (best a :class:`~solverhub.core.loading.LoaderParams`: unknown keys refused, booleans
    spelt ``true``/``false``, lists comma-separated), or a function ``params(target) -> model``
    when the parameters depend on the target (a generator family, a named test problem); it may
    raise ``BadInputError`` for an unknown target. The host then calls
    ``load(target, params)`` with the target (the text after ``scheme:`` without the query; a
    file's path; the object) and the validated model instance. ``load`` returns a problem object
    (of kind ``kind`` when given) and raises ``BadInputError`` for a source it owns but cannot
    read; any other exception is reported naming the loader and its plugin.

    ``target_is_path`` (a bool, or a predicate on the target) says the target names a file, and
    parameters annotated ``pathlib.Path`` name files too: both resolve like every other path (in a
    run config, against the config's folder). ``runs_code``: loading imports or calls code named
    by the address, so it runs only with the user's consent (see :mod:`solverhub.core.trust`).
    ``examples``: sources it reads, which the conformance kit loads (check ``loaders_contract``).

    Each address scheme belongs to exactly one loader (a second claim is refused, naming both
    plugins). ``accepts(obj)`` claims Python objects (e.g. Pyomo models) and must be cheap and
    never raise::

        LoaderSpec("bolib", load_bolib, schemes=("bolib",), kind="bilevel", params=bolib_params)
        LoaderSpec("mps", read_mip, suffixes=(".mps", ".mps.gz"), kind="mip")

    A loader without ``params`` (``None``, the old form) is called ``load(source, params)`` with
    the whole source and the raw parameter dict; new loaders declare a model (``NoParams`` when
    they take none).
    """

    _lazy_fields = ("load", "accepts", "params")

    load: Callable[[Any, Any], Any] | str
    schemes: tuple[str, ...] = ()
    suffixes: tuple[str, ...] = ()
    accepts: Callable[[Any], bool] | str | None = None
    kind: str | None = None
    description: str = ""
    params: type[BaseModel] | Callable[[str], type[BaseModel]] | str | None = None
    target_is_path: bool | Callable[[str], bool] = False
    runs_code: bool = False
    #: addresses (or paths) this loader reads, for the conformance kit to load and check
    examples: tuple[str, ...] = ()

    def params_model(self, target: Any) -> type[BaseModel] | None:
        """The parameter model for ``target`` (None for an old-style loader)."""
        p = resolve(self.params)
        if p is None or (isinstance(p, type) and issubclass(p, BaseModel)):
            return p
        return cast(Callable[[str], type[BaseModel]], p)(target)  # a function of the target

    def names_file(self, target: str) -> bool:
        """True when ``target`` (of an address of this loader's scheme) names a file."""
        t = self.target_is_path
        return bool(t(target)) if callable(t) else bool(t)


@dataclass(frozen=True)
class Converter(Record):
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

    _lazy_fields = ("convert", "invert")

    source_kind: str
    target_kind: str
    convert: Callable[[Any], Any] | str
    invert: Callable[[Any, Any, Any], Any] | str | None = None


@dataclass(frozen=True)
class SolverSpec(Record):
    """A solver: ``factory(options)`` receives the validated options object (an instance of the
    ``options`` model) and returns a :class:`~solverhub.core.solver.Solver`, an object with
    ``solve(problem, *, time_limit=None, seed=0, notifier=NULL_NOTIFIER) -> Result``. A subclass
    of :class:`~solverhub.core.solver.SolverBase` is such a factory. The host validates the
    options and the problem once, before the factory is called: a solver repeats neither.

    ``options`` is a pydantic model (``extra="forbid"``; derive it from
    :class:`~solverhub.core.options.SolverOptions` to get the common knobs under their one name);
    its defaults are what ``solverhub solvers`` lists. ``factory``, ``options`` and ``available``
    may be dotted paths (``"mypkg.solver:MySolver"``), imported when first used. ``available()``
    returns ``None`` when the solver can run here, else the reason it cannot (a missing optional
    package, no GPU): the solver is then listed as unavailable with that reason, and asking for it
    is one clear error. ``deterministic``: the same seed gives the same answer (the conformance
    suite checks it)::

        SolverSpec("convex-relu-cvxpy", "relu-training", "mypkg.cvx:CvxpySolver",
                   "mypkg.cvx:CvxpyOptions", available="mypkg.cvx:cvxpy_unavailable")

    A factory written for the older contract, ``factory(**options)`` (keyword options), still
    works: a factory is given the options object when it is a ``SolverBase`` subclass or its one
    required parameter is named ``options``, and the options as keywords otherwise.
    """

    _lazy_fields = ("factory", "options", "available")

    problem_kind: str
    factory: Callable[..., Any] | str
    options: type[BaseModel] | str = NoOptions
    description: str = ""
    available: Callable[[], str | None] | str | None = None
    deterministic: bool = True

    @property
    def options_model(self) -> type[BaseModel]:
        """The options model class (imported now when it was given as a dotted path)."""
        return resolve(self.options)

    def build(self, options: BaseModel) -> Any:
        """The solver object for already-validated ``options`` (see the class docstring)."""
        from solverhub.core.solver import takes_options_object

        factory = resolve(self.factory)
        if takes_options_object(factory):
            return factory(options)
        return factory(**options.model_dump())

    def unavailable_reason(self) -> str | None:
        """``None`` when available; a probe that raises counts as unavailable, with its error."""
        return _probe(self.available)


@dataclass(frozen=True)
class BackendSpec(Record):
    """A MIP backend for large-neighbourhood search: ``factory(problem, *, threads=1, seed=0)``
    returns a :class:`solverhub.core.backend.MIPBackend`."""

    _lazy_fields = ("factory",)

    factory: Callable[..., Any] | str
    capabilities: frozenset[str] = field(default_factory=frozenset)
    description: str = ""


META_CATEGORIES = ("destroy", "repair", "policy", "acceptance", "stopping")


@dataclass(frozen=True)
class MetaComponent(Record):
    """A meta-search building block: a destroy or repair operator, a bandit policy, an acceptance
    criterion or a stopping rule. ``factory(**params)`` builds a fresh (stateful) instance per run;
    ``params`` documents the paper's parameters with their defaults."""

    _lazy_fields = ("factory",)

    category: str
    factory: Callable[..., Any] | str
    params: dict[str, Any] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.category not in META_CATEGORIES:
            raise ValueError(f"meta component {self.name!r}: category must be one of "
                             f"{META_CATEGORIES}, got {self.category!r}")


@dataclass(frozen=True)
class ArrayBackend(Record):
    """An array library that solvers can compute on, chosen by a solver's ``device`` option.

    ``module()`` imports and returns the array namespace (``cupy``); it is only called once
    ``available()`` has returned ``None`` (else the reason, e.g. "no CUDA device"). The host's own
    ``"cpu"`` device is NumPy and needs no record. Solvers get the namespace through
    :func:`solverhub.core.arrays.array_namespace` and hand host arrays back (``to_host``)::

        ArrayBackend("cuda", lambda: importlib.import_module("cupy"), available=probe_cuda,
                     description="CuPy on the first CUDA device")
    """

    _lazy_fields = ("module", "available")

    module: Callable[[], ModuleType] | str
    available: Callable[[], str | None] | str | None = None
    description: str = ""

    def load_module(self) -> ModuleType:
        """The array namespace (imports it)."""
        return resolve(self.module)()

    def unavailable_reason(self) -> str | None:
        """``None`` when usable; a probe that raises counts as unavailable, with its error."""
        return _probe(self.available)


@dataclass(frozen=True)
class TunerSpec(Record):
    """An online tuner of one solver option across an instance sequence (meta-search across
    solves, :mod:`solverhub.core.tuning`): ``factory(space, *, cost_bound, seed, **params)``
    returns a fresh :class:`~solverhub.core.tuning.Tuner` (``choose(context) -> value``,
    ``observe(cost)``); ``params`` documents its parameters with their defaults; ``contextual``
    tuners need the instances' context features::

        TunerSpec("tsallis-inf", "mypkg.tuners:TsallisINF", {"eta0": 2.0})
    """

    _lazy_fields = ("factory",)

    factory: Callable[..., Any] | str
    params: dict[str, Any] = field(default_factory=dict)
    contextual: bool = False
    description: str = ""


@dataclass(frozen=True)
class PyomoSolverSpec(Record):
    """A Pyomo solver class for a solverhub solver of a kind other than ``mip`` (MIP solvers are
    registered in Pyomo's ``SolverFactory`` without one): ``name`` is the solverhub solver's
    name, ``make_class(pyomo_name)`` returns a ``pyomo.contrib.solver`` ``SolverBase`` subclass;
    the Pyomo plugin registers it as ``solverhub_<name>`` when Pyomo's factory is imported::

        PyomoSolverSpec("exact-al", "solverhub.plugins.exact_al.pyomo_solver:make_pyomo_class")
    """

    _lazy_fields = ("make_class",)

    make_class: Callable[[str], Any] | str


# ====================================================================================== registries
@dataclass(frozen=True)
class RegistryEntry:
    """One registry: the hook that fills it, the record type its hook returns, the category a
    :class:`MetaComponent` must have, and the record fields that must be unique across plugins
    besides ``name`` (each value of a tuple field counts: a loader's ``schemes``)."""

    registry: str
    hook: str
    record: type[Record]
    category: str | None = None
    also_unique: tuple[str, ...] = ()


#: The one table of registries, read by the plugin manager and by the conformance kit.
REGISTRIES: tuple[RegistryEntry, ...] = (
    RegistryEntry("problem_kinds", "solverhub_problem_kinds", ProblemKind),
    RegistryEntry("converters", "solverhub_converters", Converter),
    RegistryEntry("loaders", "solverhub_loaders", LoaderSpec, also_unique=("schemes",)),
    RegistryEntry("solvers", "solverhub_solvers", SolverSpec),
    RegistryEntry("backends", "solverhub_mip_backends", BackendSpec),
    RegistryEntry("array_backends", "solverhub_array_backends", ArrayBackend),
    RegistryEntry("destroy", "solverhub_destroy_operators", MetaComponent, "destroy"),
    RegistryEntry("repair", "solverhub_repair_operators", MetaComponent, "repair"),
    RegistryEntry("policy", "solverhub_bandit_policies", MetaComponent, "policy"),
    RegistryEntry("acceptance", "solverhub_acceptance_criteria", MetaComponent, "acceptance"),
    RegistryEntry("stopping", "solverhub_stopping_rules", MetaComponent, "stopping"),
    RegistryEntry("tuners", "solverhub_tuners", TunerSpec),
    RegistryEntry("pyomo_solvers", "solverhub_pyomo_solvers", PyomoSolverSpec),
)

#: hook name -> its registry entry
REGISTRY_BY_HOOK: dict[str, RegistryEntry] = {r.hook: r for r in REGISTRIES}
