"""Built-in plugin ``pyaddress``: problems built by Python callables, ``py:module:attr?k=v``.

    solverhub solve "py:examples.least_squares:make_problem?m=200&n=50&seed=1" --solver projected-gradient
    sh.load_problem("py:mypkg.problems:build?size=30")

``module`` is imported (the current directory is searched too, as ``python -m`` does), ``attr`` is
called with the query parameters (values parsed as TOML literals: ``3``, ``0.5``, ``true``, else
strings) and must return a problem object of a registered kind; an ``attr`` that is already a
problem object takes no parameters. A module that defines ``solverhub_*`` hook implementations is
registered as a plugin (named ``py:<module>``) when it is imported, so a problem and the solver
for it can live in one file that is not installed.
"""

from __future__ import annotations

import importlib
import os
import sys
import tomllib
from typing import Any

from solverhub.core.address import parse_address
from solverhub.core.errors import BadInputError
from solverhub.core.hookspecs import hookimpl
from solverhub.core.records import LoaderSpec

__all__ = ["SCHEME", "import_module_of", "load_py_address", "declared_kind"]

SCHEME = "py"


def _split(source: str) -> tuple[str, str, dict[str, str]]:
    addr = parse_address(source)
    module, sep, attr = addr.target.partition(":")
    if not sep or not module.strip() or not attr.strip():
        raise BadInputError(f"{source!r}: expected py:<module>:<callable>?param=value "
                            f"(e.g. py:examples.least_squares:make_problem?n=50)")
    return module.strip(), attr.strip(), addr.params


def import_module_of(source: str) -> Any:
    """Import the module a ``py:`` address names and register its hooks (if it has any)."""
    module, _, _ = _split(source)
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is None or not module.startswith(exc.name):
            raise BadInputError(f"{source!r}: importing {module!r} failed: {exc}") from exc
        cwd = os.getcwd()
        if cwd in sys.path:
            raise BadInputError(f"{source!r}: no module named {module!r} (searched sys.path and "
                                f"the current directory)") from None
        sys.path.insert(0, cwd)  # as `python -m` does: a module next to the user is found
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError:
            raise BadInputError(f"{source!r}: no module named {module!r} (searched sys.path and "
                                f"the current directory {cwd})") from None
    except BadInputError:
        raise
    except Exception as exc:
        raise BadInputError(f"{source!r}: importing {module!r} raised {type(exc).__name__}: "
                            f"{exc}") from exc
    _register_hooks(mod, module)
    return mod


def _register_hooks(mod: Any, module: str) -> None:
    if not any(name.startswith("solverhub_") and callable(getattr(mod, name)) for name in dir(mod)):
        return
    from solverhub.core.manager import get_plugin_manager

    pm = get_plugin_manager()
    if pm.is_registered(mod):
        return
    pm.register_plugin(mod, name=f"py:{module}")


def declared_kind(source: str) -> str | None:
    """The problem kind a ``py:`` address yields, from the callable's return annotation (a class
    with a ``kind`` attribute), without calling it; None when it does not say."""
    import typing

    module, attr, _ = _split(source)
    target = getattr(import_module_of(source), attr, None)
    if target is None:
        return None
    if not callable(target):
        kind = getattr(target, "kind", None)
        return kind if isinstance(kind, str) else None
    try:
        hint = typing.get_type_hints(target).get("return")
    except Exception:  # an annotation that does not resolve tells nothing
        return None
    kind = getattr(hint, "kind", None)
    return kind if isinstance(kind, str) else None


def _value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def load_py_address(source: Any, params: dict[str, Any]) -> Any:
    module, attr, query = _split(str(source))
    mod = import_module_of(str(source))
    try:
        target = getattr(mod, attr)
    except AttributeError:
        raise BadInputError(f"{source!r}: module {module!r} has no attribute {attr!r}") from None
    kwargs = {k: _value(v) if isinstance(v, str) else v for k, v in {**query, **params}.items()}
    if not callable(target):
        if kwargs:
            raise BadInputError(f"{source!r}: {module}.{attr} is not callable and takes no "
                                f"parameters (got {sorted(kwargs)})")
        return target
    try:
        return target(**kwargs)
    except BadInputError:
        raise
    except TypeError as exc:
        raise BadInputError(f"{source!r}: {module}.{attr}({', '.join(kwargs)}) failed: {exc}") from exc


@hookimpl
def solverhub_loaders() -> list[LoaderSpec]:
    return [LoaderSpec("python-callable", load_py_address, schemes=(SCHEME,),
                       description="py:<module>:<callable>?k=v, a problem built by Python code")]
