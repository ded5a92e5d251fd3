"""Registration of solverhub's MIP solvers in Pyomo's solver factories.

``import solverhub`` calls :func:`register_all`. Pyomo is never imported for it:

* if Pyomo's new solver factory (``pyomo.contrib.solver.common.factory``) is already imported,
  the solvers are registered at once;
* otherwise a one-shot post-import hook is put on ``sys.meta_path``: the moment that module
  finishes importing (``import pyomo.environ`` imports it), the solvers are registered and the
  hook removes itself.

So ``import solverhub`` costs nothing extra, and ``SolverFactory("solverhub_highs")`` works
whichever of the two packages was imported first.

Each solver whose problem kind is ``mip`` (built-in or from a third-party plugin) is registered
under ``solverhub_<name>``; a name with ``-`` is registered a second time with ``_``
(``solverhub_ortools-scip`` and ``solverhub_ortools_scip``). Registering in the new factory also
registers a legacy wrapper in ``pyomo.environ.SolverFactory`` under the same name. Solvers
added later in the session (``pm.register_plugin(...)``) appear after another
``register_all()`` call.
"""

from __future__ import annotations

import importlib.abc
import logging
import sys
import threading
from typing import Any

__all__ = ["register_all", "pyomo_names", "mip_solver_names", "registered", "PYOMO_PREFIX"]

logger = logging.getLogger(__name__)

PYOMO_PREFIX = "solverhub_"
_FACTORY_MODULE = "pyomo.contrib.solver.common.factory"

_lock = threading.RLock()
#: Pyomo name -> solverhub solver name, for what this process registered
_registered: dict[str, str] = {}
_hook: "_PostImportFinder | None" = None


def pyomo_names(solver: str) -> list[str]:
    """The Pyomo factory names of solverhub solver ``solver`` (``-`` also spelled ``_``)."""
    names = [PYOMO_PREFIX + solver]
    if "-" in solver:
        names.append(PYOMO_PREFIX + solver.replace("-", "_"))
    return names


def mip_solver_names() -> list[str]:
    """Names of the registered solverhub solvers that take a MIP (problem kind ``mip``)."""
    from solverhub.core.manager import get_plugin_manager

    return sorted(name for name, spec in get_plugin_manager().solvers().items()
                  if spec.problem_kind == "mip")


def registered() -> dict[str, str]:
    """Pyomo name -> solverhub solver name of everything registered so far."""
    with _lock:
        return dict(_registered)


def register_all(*, now: bool = False) -> list[str]:
    """Register every solverhub MIP solver in Pyomo's solver factories.

    Returns the Pyomo names registered by this call. Without Pyomo's solver factory loaded and
    ``now=False`` nothing is imported: registration is deferred until Pyomo is imported
    (returns ``[]``). ``now=True`` imports Pyomo's factory and registers immediately. Calling it
    again registers solvers that appeared since (already registered names are kept).
    """
    if not now and sys.modules.get(_FACTORY_MODULE) is None:
        _install_hook()
        return []
    return _register_now()


def _register_now() -> list[str]:
    from solverhub.plugins.pyomo.interface import make_solver_class

    try:
        from pyomo.contrib.solver.common.factory import SolverFactory
    except ImportError:  # pragma: no cover - pyomo older than 6.10 or missing
        logger.warning("solverhub: pyomo.contrib.solver is not importable; no Pyomo solvers "
                       "registered (pyomo>=6.10 is needed)")
        return []
    added = []
    with _lock:
        for solver in mip_solver_names():
            for pname in pyomo_names(solver):
                if _registered.get(pname) == solver and pname in SolverFactory:
                    continue
                cls = make_solver_class(solver, pname)
                SolverFactory.register(pname, doc=f"solverhub solver {solver!r} (MIP)")(cls)
                _registered[pname] = solver
                added.append(pname)
        # solvers of other kinds that bring their own Pyomo class (hook solverhub_pyomo_solvers)
        from solverhub.core.manager import get_plugin_manager
        from solverhub.core.records import resolve

        for solver, spec in get_plugin_manager().registry("pyomo_solvers").items():
            for pname in pyomo_names(solver):
                if _registered.get(pname) == solver and pname in SolverFactory:
                    continue
                cls = resolve(spec.make_class)(pname)
                SolverFactory.register(pname, doc=f"solverhub solver {solver!r}")(cls)
                _registered[pname] = solver
                added.append(pname)
    if added:
        logger.debug("solverhub: registered Pyomo solvers %s", ", ".join(added))
    return added


# ------------------------------------------------------------------ deferred registration
def _install_hook() -> None:
    global _hook
    with _lock:
        if _hook is not None and _hook in sys.meta_path:
            return
        _hook = _PostImportFinder(_FACTORY_MODULE, _on_factory_imported)
        sys.meta_path.insert(0, _hook)


def _remove_hook() -> None:
    global _hook
    with _lock:
        if _hook is not None:
            try:
                sys.meta_path.remove(_hook)
            except ValueError:
                pass
            _hook = None


def _on_factory_imported() -> None:
    _remove_hook()
    try:
        _register_now()
    except Exception as exc:  # never break the user's `import pyomo.environ`
        logger.warning("solverhub: registering solvers in Pyomo's SolverFactory failed: %s: %s",
                       type(exc).__name__, exc)


class _PostImportFinder(importlib.abc.MetaPathFinder):
    """Finds nothing itself: for one module name it asks the other finders for the spec and
    wraps the loader so that ``callback`` runs right after the module has executed."""

    def __init__(self, name: str, callback: Any) -> None:
        self.name = name
        self.callback = callback
        self._busy = False

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != self.name or self._busy:
            return None
        self._busy = True
        try:
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
            else:
                return None
        finally:
            self._busy = False
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        spec.loader = _CallbackLoader(loader, self.callback)
        return spec


class _CallbackLoader(importlib.abc.Loader):
    def __init__(self, loader: Any, callback: Any) -> None:
        self._loader = loader
        self._callback = callback

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        # the spec keeps the original loader for reloads and importlib.resources
        module.__spec__.loader = self._loader
        module.__loader__ = self._loader
        self._loader.exec_module(module)
        self._callback()

    def __getattr__(self, item: str) -> Any:
        return getattr(self._loader, item)
