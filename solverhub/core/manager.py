"""The plugin manager: one ``pluggy.PluginManager("solverhub")`` per process.

Built-in plugins are registered through the same hooks as third-party ones; third-party plugins
come from entry points of group ``solverhub``, loaded lazily and once. A plugin that fails to import
or whose registration hook raises is listed as broken with the reason, never fatal to the host.
``SOLVERHUB_DISABLE_PLUGINS`` (comma list) blocks plugins by name.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata as md
import os
import threading
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable

import pluggy

from solverhub.core import hookspecs
from solverhub.core.errors import DuplicateNameError, UnavailableError, UnknownNameError
from solverhub.core.records import (
    REGISTRIES,
    ArrayBackend,
    BackendSpec,
    Converter,
    LoaderSpec,
    MetaComponent,
    ProblemKind,
    SolverSpec,
    TunerSpec,
    resolve,
)

__all__ = ["SolverhubPluginManager", "PluginInfo", "NameConflict", "get_plugin_manager", "BUILTIN_PLUGINS",
           "ENTRY_POINT_GROUP", "reset_plugin_manager"]

ENTRY_POINT_GROUP = "solverhub"

#: plugin name -> module; each module is itself the plugin object (module-level hookimpls)
BUILTIN_PLUGINS: dict[str, str] = {
    "mipfiles": "solverhub.plugins.mipfiles",
    "generators": "solverhub.plugins.generators",
    "highs": "solverhub.plugins.highs",
    "ortools": "solverhub.plugins.ortools",
    "scip": "solverhub.plugins.scip",
    "balans": "solverhub.plugins.balans",
    "pyomo": "solverhub.plugins.pyomo",
    "pyaddress": "solverhub.plugins.pyaddress",
    "bilevel": "solverhub.plugins.bilevel",
    "exact_al": "solverhub.plugins.exact_al",
    "convex_relu": "solverhub.plugins.convex_relu",
    "cuda": "solverhub.plugins.cuda",
    "linear_system": "solverhub.plugins.linear_system",
    "tuners": "solverhub.plugins.tuners",
}

#: every hook name a plugin may implement (the specs in core/hookspecs.py)
HOOK_NAMES: frozenset[str] = frozenset(n for n in dir(hookspecs) if n.startswith(f"{hookspecs.PROJECT}_"))


def unknown_hooks(names: Iterable[str]) -> list[str]:
    """``solverhub_*`` names among ``names`` that are no hook, each with the closest valid name:
    ``"solverhub_solver (did you mean solverhub_solvers?)"``."""
    out = []
    for name in sorted(set(names)):
        if name.startswith(f"{hookspecs.PROJECT}_") and name not in HOOK_NAMES:
            close = difflib.get_close_matches(name, sorted(HOOK_NAMES), n=1, cutoff=0.6)
            out.append(f"{name}" + (f" (did you mean {close[0]}?)" if close else ""))
    return out


def _debug() -> bool:
    return os.environ.get("SOLVERHUB_DEBUG", "") not in ("", "0")


def describe_import_error(exc: BaseException) -> str:
    """``Type: message (at file:line)``: the innermost frame of the plugin's own code (or the
    file a SyntaxError points at), so a broken plugin names where it broke."""
    where = None
    if isinstance(exc, SyntaxError) and exc.filename:
        where = f"{exc.filename}:{exc.lineno}"
    else:
        frames = [f for f in traceback.extract_tb(exc.__traceback__)
                  if not f.filename.startswith("<") and "importlib" not in f.filename
                  and os.path.basename(os.path.dirname(f.filename)) != "pluggy"
                  and not f.filename.endswith(os.path.join("solverhub", "core", "manager.py"))]
        if frames:
            where = f"{frames[-1].filename}:{frames[-1].lineno}"
    text = f"{type(exc).__name__}: {exc}"
    return text if where is None else f"{text} (at {where})"


@dataclass
class PluginInfo:
    name: str
    module: str
    version: str
    builtin: bool
    broken: bool = False
    error: str | None = None
    disabled: bool = False
    hooks: list[str] = field(default_factory=list)
    #: the full traceback of the failure, kept when SOLVERHUB_DEBUG is set
    traceback: str | None = None
    registers: dict[str, list[str]] = field(default_factory=dict)
    #: records of this plugin refused because another plugin registered the name first
    conflicts: list["NameConflict"] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "module": self.module, "version": self.version,
            "builtin": self.builtin, "broken": self.broken, "error": self.error,
            "disabled": self.disabled, "hooks": self.hooks, "registers": self.registers,
            "traceback": self.traceback,
            "conflicts": [c.to_dict() for c in self.conflicts],
        }


@dataclass(frozen=True)
class NameConflict:
    """A record refused because its name was already registered by another plugin."""

    registry: str
    name: str
    kept_from: str
    refused_from: str

    def message(self) -> str:
        return (f"plugin {self.refused_from!r} registers {self.registry} name {self.name!r}, which "
                f"plugin {self.kept_from!r} already registered; the record from "
                f"{self.refused_from!r} is refused (to use it instead, disable the other one: "
                f"SOLVERHUB_DISABLE_PLUGINS={self.kept_from})")

    def to_dict(self) -> dict[str, str]:
        return {"registry": self.registry, "name": self.name, "kept_from": self.kept_from,
                "refused_from": self.refused_from}


class SolverhubPluginManager(pluggy.PluginManager):
    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT)
        self.add_hookspecs(hookspecs)
        self._info: dict[str, PluginInfo] = {}
        self._registries: dict[str, dict[str, Any]] | None = None
        self._loaded = False
        self._lock = threading.RLock()
        self._warned_conflicts: set[NameConflict] = set()
        #: name clashes found by the last registry build (first registration kept)
        self.conflicts: list[NameConflict] = []

    # ------------------------------------------------------------------ loading
    @staticmethod
    def disabled_names() -> set[str]:
        raw = os.environ.get("SOLVERHUB_DISABLE_PLUGINS", "")
        return {s.strip() for s in raw.split(",") if s.strip()}

    def load_all(self) -> None:
        """Register built-ins, then entry-point plugins; once per manager."""
        with self._lock:
            if self._loaded:
                return
            self._loaded = True
            disabled = self.disabled_names()
            version = _own_version()
            for name, module in BUILTIN_PLUGINS.items():
                self._load_one(name, module, version, True, disabled, lambda m=module: importlib.import_module(m))
            for ep in _entry_points():
                dist_version = getattr(getattr(ep, "dist", None), "version", "?") or "?"
                self._load_one(ep.name, ep.value, dist_version, False, disabled, ep.load)

    def _load_one(self, name: str, module: str, version: str, builtin: bool, disabled: set[str],
                  load) -> None:
        if name in self._info:
            other = self._info[name]
            warnings.warn(f"solverhub: plugin name {name!r} from {module} is already taken by "
                          f"{other.module}; the second one is ignored", stacklevel=3)
            self._info[f"{name} ({module})"] = PluginInfo(name, module, version, builtin, broken=True,
                                                         error=f"duplicate plugin name {name!r}")
            return
        info = PluginInfo(name, module, version, builtin)
        self._info[name] = info
        if name in disabled:
            info.disabled = True
            self.set_blocked(name)
            return
        try:
            plugin = load()
            self.register(plugin, name=name)
        except Exception as exc:  # a broken plugin must never take the host down
            info.broken, info.error = True, describe_import_error(exc)
            if _debug():
                info.traceback = traceback.format_exc()
            warnings.warn(f"solverhub: plugin {name!r} ({module}) is broken and was skipped: "
                          f"{info.error}" + (f"\n{info.traceback}" if info.traceback else ""),
                          stacklevel=3)
            if self.get_plugin(name) is not None:
                self.unregister(name=name)
            return
        info.hooks = sorted(h.name for h in (self.get_hookcallers(plugin) or []))
        self._refuse_unknown_hooks(name, info)

    def _refuse_unknown_hooks(self, name: str, info: PluginInfo) -> bool:
        """A plugin implementing a ``solverhub_*`` hook that does not exist (a misspelling) is
        unregistered and listed as broken, naming the closest valid hook. True if refused."""
        bad = unknown_hooks(info.hooks)
        if not bad:
            return False
        info.broken = True
        info.error = "unknown hook implementation: " + "; ".join(bad)
        warnings.warn(f"solverhub: plugin {name!r} ({info.module}) is broken and was skipped: "
                      f"{info.error}", stacklevel=4)
        self.unregister(name=name)
        return True

    def register_plugin(self, plugin: Any, name: str | None = None) -> str | None:
        """Register a plugin object at run time (tests, notebooks); registries are rebuilt."""
        self.load_all()
        pname = self.register(plugin, name=name)
        if pname is not None:
            info = PluginInfo(pname, getattr(plugin, "__name__", type(plugin).__name__), "?", False,
                              hooks=sorted(h.name for h in self.get_hookcallers(plugin) or []))
            self._info[pname] = info
            self._refuse_unknown_hooks(pname, info)
        self._registries = None
        return pname

    def unregister_plugin(self, name: str) -> None:
        self.unregister(name=name)
        self._info.pop(name, None)
        self._registries = None

    # ------------------------------------------------------------------ registries
    def _build_registries(self) -> dict[str, dict[str, Any]]:
        self.load_all()
        regs: dict[str, dict[str, Any]] = {}
        self.conflicts = []
        for entry in REGISTRIES:
            reg, hook_name, rtype, category = entry.registry, entry.hook, entry.record, entry.category
            table: dict[str, Any] = {}
            caller = getattr(self.hook, hook_name)
            for impl in caller.get_hookimpls():  # registration order (pluggy calls them LIFO)
                provider = impl.plugin_name
                try:
                    records = impl.function() or []
                except Exception as exc:
                    self._mark_broken(provider, f"{hook_name} raised {describe_import_error(exc)}")
                    continue
                for rec in records:
                    if not isinstance(rec, rtype):
                        self._mark_broken(provider, f"{hook_name} returned {type(rec).__name__}, "
                                                    f"expected {rtype.__name__}")
                        continue
                    # only the MetaComponent registries name a category
                    rec_category = getattr(rec, "category", None)
                    if category and rec_category != category:
                        self._mark_broken(provider, f"{hook_name} returned {rec.name!r} of category "
                                                    f"{rec_category!r}, expected {category!r}")
                        continue
                    rec = _with_provider(rec, provider)
                    if rec.name in table:
                        # refuse the later record, keep the host usable (a clash must not take
                        # down `solverhub plugins`, nor `import solverhub` inside Pyomo)
                        self._refuse(NameConflict(reg, rec.name, table[rec.name].provider, provider))
                        continue
                    table[rec.name] = rec
                    self._info.get(provider, PluginInfo(provider, "?", "?", False)).registers \
                        .setdefault(reg, []).append(rec.name)
            regs[reg] = table
        for entry in REGISTRIES:  # e.g. each address scheme belongs to one loader
            for fld in entry.also_unique:
                regs[fld] = self._unique_table(fld, regs[entry.registry])
        return regs

    def _unique_table(self, fld: str, records: dict[str, Any]) -> dict[str, Any]:
        """Value of ``fld`` (each item of a tuple, lower-cased) -> its one record; a second
        claim is refused like a duplicate name."""
        table: dict[str, Any] = {}
        for rec in records.values():
            for value in getattr(rec, fld):
                key = value.lower()
                if key in table:
                    self._refuse(NameConflict(fld, key, table[key].provider, rec.provider))
                    continue
                table[key] = rec
        return table

    def _refuse(self, conflict: NameConflict) -> None:
        self.conflicts.append(conflict)
        info = self._info.get(conflict.refused_from)
        if info is not None:
            info.conflicts.append(conflict)
        if conflict not in self._warned_conflicts:
            self._warned_conflicts.add(conflict)
            warnings.warn(f"solverhub: {conflict.message()}", stacklevel=4)

    def check_unique(self) -> None:
        """Raise :class:`DuplicateNameError` naming both plugins if any name clashed (strict
        callers such as the conformance suite; the host itself only warns and refuses)."""
        self.registry("solvers")
        if self.conflicts:
            raise DuplicateNameError("; ".join(c.message() for c in self.conflicts))

    def _mark_broken(self, provider: str, error: str) -> None:
        info = self._info.get(provider)
        if info is not None:
            info.broken = True
            info.error = error if not info.error else f"{info.error}; {error}"
        warnings.warn(f"solverhub: plugin {provider!r} is broken: {error}", stacklevel=4)

    def registry(self, name: str) -> dict[str, Any]:
        with self._lock:
            if self._registries is None:
                for info in self._info.values():
                    info.registers = {}
                    info.conflicts = []
                self._registries = self._build_registries()
            return self._registries[name]

    def solvers(self) -> dict[str, SolverSpec]:
        return self.registry("solvers")

    def backends(self) -> dict[str, BackendSpec]:
        return self.registry("backends")

    def problem_kinds(self) -> dict[str, ProblemKind]:
        return self.registry("problem_kinds")

    def converters(self) -> dict[str, Converter]:
        return self.registry("converters")

    def meta(self, category: str) -> dict[str, MetaComponent]:
        return self.registry(category)

    def loaders(self) -> dict[str, LoaderSpec]:
        return self.registry("loaders")

    def loader_for_scheme(self, scheme: str) -> LoaderSpec | None:
        return self.registry("schemes").get(scheme.lower())

    def loaders_for_file(self, name: str) -> list[LoaderSpec]:
        """Loaders claiming a suffix of ``name`` (case-insensitive), longest suffix first."""
        low = name.lower()
        hits = [(len(s), ld) for ld in self.loaders().values() for s in ld.suffixes
                if low.endswith(s.lower())]
        out: list[LoaderSpec] = []
        for _, ld in sorted(hits, key=lambda t: -t[0]):
            if ld not in out:
                out.append(ld)
        return out

    def loaders_for_object(self, obj: Any) -> list[LoaderSpec]:
        out = []
        for ld in self.loaders().values():
            if ld.accepts is None:
                continue
            try:
                if resolve(ld.accepts)(obj):
                    out.append(ld)
            except Exception:  # a claim predicate must not break loading for others
                continue
        return out

    def tuners(self) -> dict[str, TunerSpec]:
        return self.registry("tuners")

    def get_tuner(self, name: str) -> TunerSpec:
        return _lookup(self.tuners(), name, "tuner")

    def get_solver(self, name: str) -> SolverSpec:
        return _lookup(self.solvers(), name, "solver")

    def get_available_solver(self, name: str) -> SolverSpec:
        """The solver's record, or :class:`UnavailableError` with the reason it cannot run here."""
        spec = self.get_solver(name)
        reason = spec.unavailable_reason()
        if reason is not None:
            raise UnavailableError(f"solver {name!r} is unavailable: {reason}")
        return spec

    def array_backends(self) -> dict[str, ArrayBackend]:
        return self.registry("array_backends")

    def get_array_backend(self, name: str) -> ArrayBackend:
        """The record of device ``name``, or :class:`UnavailableError` with the reason it cannot
        be used here (no CuPy, no GPU)."""
        spec = self.array_backends().get(name)
        if spec is None:
            known = ", ".join(["cpu", *sorted(self.array_backends())])
            raise UnavailableError(f"unknown device {name!r}: known devices are {known} "
                                   "(a device comes from a plugin, e.g. pip install solverhub[cuda])")
        reason = spec.unavailable_reason()
        if reason is not None:
            raise UnavailableError(f"device {name!r} is unavailable: {reason}")
        return spec

    def get_backend(self, name: str) -> BackendSpec:
        return _lookup(self.backends(), name, "MIP backend")

    def get_meta(self, category: str, name: str) -> MetaComponent:
        labels = {"destroy": "destroy operator", "repair": "repair operator", "policy": "bandit policy",
                  "acceptance": "acceptance criterion", "stopping": "stopping rule"}
        return _lookup(self.meta(category), name, labels[category])

    def plugin_infos(self) -> list[PluginInfo]:
        self.registry("solvers")  # fill `registers`
        return list(self._info.values())


def _lookup(table: dict[str, Any], name: str, what: str):
    try:
        return table[name]
    except KeyError:
        known = ", ".join(sorted(table)) or "none"
        raise UnknownNameError(f"unknown {what} {name!r}; known: {known}") from None


def _with_provider(rec: Any, provider: str) -> Any:
    if getattr(rec, "provider", "") == provider:
        return rec
    import dataclasses

    return dataclasses.replace(rec, provider=provider)


def _entry_points() -> Iterable[md.EntryPoint]:
    try:
        return list(md.entry_points(group=ENTRY_POINT_GROUP))
    except Exception:  # pragma: no cover - broken metadata in the environment
        return []


def _own_version() -> str:
    try:
        return md.version("solverhub")
    except md.PackageNotFoundError:
        return "0+unknown"


_PM: SolverhubPluginManager | None = None
_PM_LOCK = threading.Lock()


def get_plugin_manager() -> SolverhubPluginManager:
    """The process-wide plugin manager, with all plugins loaded (lazily, once)."""
    global _PM
    with _PM_LOCK:
        if _PM is None:
            _PM = SolverhubPluginManager()
        pm = _PM
    pm.load_all()
    return pm


def reset_plugin_manager() -> None:
    """Forget the process-wide manager (tests use it after changing the environment)."""
    global _PM
    with _PM_LOCK:
        _PM = None
