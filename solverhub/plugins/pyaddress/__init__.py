"""Built-in plugin ``pyaddress``: problems built by Python callables, ``py:module:attr?k=v``.

    solverhub solve "py:examples.least_squares:make_problem?m=200&n=50&seed=1" \
        --solver projected-gradient --allow-code
    sh.allow_code(["mypkg"]); sh.load_problem("py:mypkg.problems:build?size=30")

This runs code, so only with the user's consent (:mod:`solverhub.core.trust`): ``--allow-code``,
``allow_code`` in a run config, ``SOLVERHUB_TRUSTED_MODULES``, or a module of an installed plugin.
``module`` is imported from ``sys.path``, or else (with consent) from the current directory, which
is never added to ``sys.path``. ``attr`` is called with the query parameters, validated by a model
built from its signature (annotated parameters get their type; unannotated ones read a value as a
TOML literal: ``3``, ``0.5``, ``true``, else a string) and must return a problem object of a
registered kind; an ``attr`` that is already a problem object takes no parameters. A module that
defines ``solverhub_*`` hook implementations is registered as a plugin (named ``py:<module>``)
when it is imported, so a problem and the solver for it can live in one file that is not
installed.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import inspect
import os
import sys
import tomllib
import typing
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, create_model, model_validator

from solverhub.core.address import parse_address
from solverhub.core.errors import BadInputError
from solverhub.core.hookspecs import hookimpl
from solverhub.core.loading import LoaderParams, NoParams
from solverhub.core.records import LoaderSpec

__all__ = ["SCHEME", "import_module_of", "load_py_address", "declared_kind"]

SCHEME = "py"


def _split_target(target: str, source: str) -> tuple[str, str]:
    module, sep, attr = target.partition(":")
    if not sep or not module.strip() or not attr.strip():
        raise BadInputError(f"{source!r}: expected py:<module>:<callable>?param=value "
                            f"(e.g. py:examples.least_squares:make_problem?n=50)")
    return module.strip(), attr.strip()


def _from_cwd(module: str) -> Any:
    """Import ``module`` from the current directory without adding it to ``sys.path``: the
    top-level package is found there, its submodules through the package's own path."""
    top = module.split(".")[0]
    spec = importlib.machinery.PathFinder.find_spec(top, [os.getcwd()])
    if spec is None or spec.loader is None:
        return None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[top] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        sys.modules.pop(top, None)
        raise
    return importlib.import_module(module)


def import_module_of(source: str) -> Any:
    """Import the module a ``py:`` address names (after checking the user's consent) and
    register its hooks (if it has any)."""
    from solverhub.core.trust import require_consent

    addr = parse_address(source)
    module, _ = _split_target(addr.target, source)
    require_consent(source, addr.target)
    try:
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name is None or not module.startswith(exc.name):
                raise BadInputError(f"{source!r}: importing {module!r} failed: {exc}") from exc
            mod = _from_cwd(module)
            if mod is None:
                raise BadInputError(f"{source!r}: no module named {module!r} (searched sys.path "
                                    f"and the current directory {os.getcwd()})") from None
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


def _attr(target: str) -> tuple[str, str, Any]:
    source = f"py:{target}"
    module, attr = _split_target(target, source)
    mod = import_module_of(source)
    try:
        return module, attr, getattr(mod, attr)
    except AttributeError:
        raise BadInputError(f"{source!r}: module {module!r} has no attribute {attr!r}") from None


def declared_kind(source: str) -> str | None:
    """The problem kind a ``py:`` address yields, from the callable's return annotation (a class
    with a ``kind`` attribute), without calling it; None when it does not say."""
    _, _, target = _attr(parse_address(source).target)
    if not callable(target):
        kind = getattr(target, "kind", None)
        return kind if isinstance(kind, str) else None
    try:
        hint = typing.get_type_hints(target).get("return")
    except Exception:  # an annotation that does not resolve tells nothing
        return None
    kind = getattr(hint, "kind", None)
    return kind if isinstance(kind, str) else None


class _CallParams(LoaderParams):
    """Parameters of a callable: unannotated ones read a string as a TOML literal."""

    @model_validator(mode="before")
    @classmethod
    def _literals(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for key, value in data.items():
            field = cls.model_fields.get(key)
            if isinstance(value, str) and (field is None or field.annotation is Any):
                out[key] = _value(value)
        return out


def _value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def py_params(target: str) -> type[BaseModel]:
    """The parameter model of ``py:<target>``: one field per parameter of the callable."""
    module, attr, obj = _attr(target)
    if not callable(obj):
        return NoParams
    try:
        sig = inspect.signature(obj)
        hints = typing.get_type_hints(obj)
    except (TypeError, ValueError, NameError):
        sig, hints = None, {}
    fields: dict[str, Any] = {}
    extra: Literal["allow", "forbid"] = "forbid"
    for p in (sig.parameters.values() if sig is not None else ()):
        if p.kind is p.VAR_KEYWORD:
            extra = "allow"
        elif p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD):
            ann = hints.get(p.name, Any)
            fields[p.name] = (ann, ... if p.default is p.empty else p.default)
    if sig is None:
        extra = "allow"
    base = type(f"Params_{attr}", (_CallParams,),
                {"model_config": ConfigDict(extra=extra, frozen=True, arbitrary_types_allowed=True),
                 "__module__": __name__})
    return create_model(f"{module}.{attr}", __base__=base, **fields)


def load_py_address(target: str, params: BaseModel) -> Any:
    module, attr, obj = _attr(target)
    if not callable(obj):
        return obj
    kwargs = {k: getattr(params, k) for k in type(params).model_fields}
    kwargs.update(params.model_extra or {})
    try:
        out = obj(**kwargs)
    except BadInputError:
        raise
    except TypeError as exc:
        raise BadInputError(f"'py:{target}': {module}.{attr}({', '.join(kwargs)}) failed: "
                            f"{exc}") from exc
    from solverhub.core.api import is_problem
    from solverhub.core.manager import get_plugin_manager

    if not is_problem(out) and not get_plugin_manager().loaders_for_object(out):
        raise BadInputError(f"'py:{target}': {module}.{attr} returned {type(out).__name__!s} "
                            f"{out!r:.60}, not a problem of a registered kind")
    return out


@hookimpl
def solverhub_loaders() -> list[LoaderSpec]:
    return [LoaderSpec("python-callable", load_py_address, schemes=(SCHEME,), params=py_params,
                       runs_code=True,
                       description="py:<module>:<callable>?k=v, a problem built by Python code "
                                   "(runs only with the user's consent: --allow-code)")]
