"""Loading problems: the host's side of the :class:`~solverhub.core.records.LoaderSpec` contract.

An address ``scheme:target?k=v&...`` is parsed once, here; its parameters (and keyword parameters
of :func:`solverhub.load_problem`) are validated by the loader's parameter model, then the loader is
called as ``load(target, params)``. Loaders never parse addresses themselves.

Parameter models should derive from :class:`LoaderParams`, which gives every loader the same
reading of query strings: unknown keys are errors, booleans are spelt ``true`` / ``false`` and
nothing else, a list is written comma-separated (``x0=1,2``), and a number is never a boolean.
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from solverhub.core.address import Address, parse_address
from solverhub.core.errors import BadInputError, PluginError
from solverhub.core.records import LoaderSpec, resolve

__all__ = ["LoaderParams", "NoParams", "validate_loader_params", "address_of", "call_loader",
           "load_source", "check_source", "resolve_source_paths", "loader_label"]

_BOOL_TEXT = {"true": True, "false": False}


def _plain(annotation: Any) -> Any:
    """``X`` for ``X | None`` / ``Optional[X]``; else the annotation itself."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _is_list(annotation: Any) -> bool:
    return typing.get_origin(_plain(annotation)) in (list, tuple) or _plain(annotation) in (list, tuple)


class LoaderParams(BaseModel):
    """Base of loader parameter models: one reading of query strings for every loader."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _query_strings(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for key, value in data.items():
            field = cls.model_fields.get(key)
            if field is None:
                continue
            ann = _plain(field.annotation)
            if isinstance(value, bool) and ann in (int, float):
                # lax pydantic turns True into 1; for a size or a seed that is surely a mistake
                raise ValueError(f"parameter {key!r} must be a number, got {value!r}")
            if not isinstance(value, str):
                continue
            if ann is bool:
                if value not in _BOOL_TEXT:
                    raise ValueError(f"parameter {key!r}: expected true or false, got {value!r}")
                out[key] = _BOOL_TEXT[value]
            elif _is_list(ann):
                out[key] = [v.strip() for v in value.split(",")] if value.strip() else []
        return out


class NoParams(LoaderParams):
    """The parameter model of a loader that takes no parameters."""


def _query_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(_query_text(v) for v in value)
    return str(value)


def address_of(scheme: str, target: str, params: BaseModel) -> str:
    """The address ``scheme:target?k=v`` that gives these parameters, listing only those set
    explicitly (in the model's field order): a loaded problem's ``source``."""
    fields = type(params).model_fields
    query = "&".join(f"{fields[k].alias or k}={_query_text(getattr(params, k))}"
                     for k in fields if k in params.model_fields_set)
    return f"{scheme}:{target}" + (f"?{query}" if query else "")


def loader_label(loader: LoaderSpec) -> str:
    """``loader 'bolib' (plugin 'bilevel')``: how messages name a loader."""
    who = f"loader {loader.name!r}"
    return f"{who} (plugin {loader.provider!r})" if loader.provider else who


def _describe(exc: ValidationError, model: type[BaseModel], values: dict[str, Any]) -> str:
    parts = []
    known = ", ".join(f.alias or name for name, f in model.model_fields.items()) or "none"
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if not isinstance(p, int))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            parts.append(f"unknown parameter {loc!r} (known: {known})")
        elif err["type"] == "missing":
            parts.append(f"missing parameter {loc!r}")
        elif loc:
            parts.append(f"parameter {loc!r}={values.get(loc)!r}: {msg}")
        else:  # a model-level check: its message names its parameters
            parts.append(msg)
    return "; ".join(dict.fromkeys(parts))


def validate_loader_params(loader: LoaderSpec, target: Any, values: dict[str, Any],
                           source: Any) -> Any:
    """The validated parameter model instance for ``target`` (the raw dict for an old-style
    loader); a bad or unknown parameter is a :class:`BadInputError` naming ``source``, the
    parameter and the loader."""
    model = _params_model(loader, target, source)
    if model is None:
        return {k: str(v) for k, v in values.items()}  # the old contract: strings
    try:
        return model(**values)
    except ValidationError as exc:
        raise BadInputError(f"{source}: {_describe(exc, model, values)} "
                            f"[{loader_label(loader)}]") from None


def _params_model(loader: LoaderSpec, target: Any, source: Any) -> type[BaseModel] | None:
    try:
        return loader.params_model(target)
    except BadInputError as exc:
        msg = str(exc)
        raise BadInputError(msg if msg.startswith(str(source)) else f"{source}: {msg}") from None
    except Exception as exc:
        raise PluginError(f"{source}: {loader_label(loader)} failed to give its parameter model: "
                          f"{type(exc).__name__}: {exc}") from exc


def call_loader(loader: LoaderSpec, target: Any, params: Any, source: Any) -> Any:
    """Call the loader; any exception but bad input names the loader, its plugin and the source."""
    from solverhub.core.interrupt import stop_requested

    try:
        if loader.params is None:  # the old contract: the whole source and a dict of strings
            problem = resolve(loader.load)(source, params)
        else:
            problem = resolve(loader.load)(target, params)
    except (BadInputError, KeyboardInterrupt):
        raise
    except Exception as exc:
        if stop_requested():  # Ctrl-C reached the loader as some other exception
            raise KeyboardInterrupt from exc
        raise PluginError(f"{source}: {loader_label(loader)} raised {type(exc).__name__}: "
                          f"{exc}") from exc
    if problem is None:
        raise BadInputError(f"{source}: {loader_label(loader)} returned nothing")
    return problem


def _scheme_loader(addr: Address, source: Any) -> LoaderSpec:
    from solverhub.core.manager import get_plugin_manager

    pm = get_plugin_manager()
    loader = pm.loader_for_scheme(addr.scheme or "")
    if loader is None:
        known = ", ".join(sorted(pm.registry("schemes"))) or "none"
        raise BadInputError(f"{source}: no loader plugin understands the scheme "
                            f"{addr.scheme!r} (known schemes: {known})")
    return loader


def _check_consent(loader: LoaderSpec, addr: Address, source: Any) -> None:
    if loader.runs_code:
        from solverhub.core.trust import require_consent

        require_consent(str(source), addr.target, loader)


def _file_loader(path: str, source: Any) -> LoaderSpec:
    from solverhub.core.manager import get_plugin_manager

    pm = get_plugin_manager()
    loaders = pm.loaders_for_file(path)
    if loaders:
        return loaders[0]
    if not Path(path).exists():
        raise BadInputError(f"{source}: file not found")
    suffixes = sorted({s for ld in pm.loaders().values() for s in ld.suffixes})
    raise BadInputError(f"{source}: no loader plugin understands this file type "
                        f"(known: {', '.join(suffixes) or 'none'})")


def _fallback(source: Any, params: dict[str, Any]) -> Any:
    """The deprecated ``solverhub_load_problem`` hook (plugins without loader records)."""
    from solverhub.core.manager import get_plugin_manager

    return get_plugin_manager().hook.solverhub_load_problem(source=source, params=params)


def load_source(source: Any, params: dict[str, Any] | None = None) -> Any:
    """Load ``source`` (address, path or object) through its loader; see the module docstring."""
    from solverhub.core.manager import get_plugin_manager

    params = dict(params or {})
    if isinstance(source, (str, Path)):
        addr = parse_address(source)
        if addr.scheme is not None:
            try:
                loader = _scheme_loader(addr, source)
            except BadInputError:
                problem = _fallback(str(source), {**addr.params, **params})
                if problem is not None:
                    return problem
                if Path(str(source)).exists():  # a file whose name has a colon
                    return load_source(Path(str(source)), params)
                raise
            _check_consent(loader, addr, source)
            values = {**addr.params, **params}
            model = validate_loader_params(loader, addr.target, values, source)
            if loader.names_file(addr.target) and not Path(addr.target).exists():
                raise BadInputError(f"{source}: file not found: {addr.target}")
            return call_loader(loader, addr.target, model, str(source))
        try:
            loader = _file_loader(str(source), source)
        except BadInputError:
            problem = _fallback(source, params)
            if problem is not None:
                return problem
            raise
        if not Path(str(source)).exists():
            raise BadInputError(f"{source}: file not found")
        model = validate_loader_params(loader, str(source), params, source)
        return call_loader(loader, source, model, source)
    for loader in get_plugin_manager().loaders_for_object(source):
        name = getattr(source, "name", None)
        what = f"{type(source).__name__} {name!r}" if isinstance(name, str) and name else \
            f"a {type(source).__name__} object"
        model = validate_loader_params(loader, source, params, what)
        return call_loader(loader, source, model, what)
    problem = _fallback(source, params)
    if problem is None:
        raise BadInputError(f"no loader plugin understands an object of type {type(source).__name__}")
    return problem


def check_source(source: str) -> LoaderSpec | None:
    """Validate an address or path without loading it: a known scheme, the user's consent where
    it runs code, a known target (where the loader's parameter model depends on it), valid
    parameters, and the file where the target names one. Returns its loader (None for a source
    only the fallback hook may understand). Raises :class:`BadInputError`."""
    addr = parse_address(source)
    if addr.scheme is None:
        try:
            loader = _file_loader(source, source)
        except BadInputError:
            if Path(source).exists():
                return None  # perhaps a fallback-hook plugin reads it; loading will tell
            raise
        if not Path(source).exists():
            raise BadInputError(f"{source}: file not found")
        return loader
    try:
        loader = _scheme_loader(addr, source)
    except BadInputError:
        if _fallback_plugins():
            return None
        raise
    _check_consent(loader, addr, source)
    validate_loader_params(loader, addr.target, addr.params, source)
    if loader.names_file(addr.target) and not Path(addr.target).exists():
        raise BadInputError(f"{source}: file not found: {addr.target}")
    return loader


def _fallback_plugins() -> bool:
    from solverhub.core.manager import get_plugin_manager

    return bool(get_plugin_manager().hook.solverhub_load_problem.get_hookimpls())


def _path_fields(model: type[BaseModel] | None) -> set[str]:
    if model is None:
        return set()
    return {name for name, f in model.model_fields.items()
            if isinstance(_plain(f.annotation), type) and issubclass(_plain(f.annotation), Path)}


def resolve_source_paths(source: str, base: Path) -> str:
    """``source`` with its relative paths made absolute against ``base``: a plain path, the
    target of an address whose loader says it names a file, and parameters typed ``Path``.
    Anything else comes back as written (an unknown scheme is left to validation)."""
    addr = parse_address(source)
    if addr.scheme is None:
        p = Path(source).expanduser()
        return str((p if p.is_absolute() else base / p).resolve())
    from solverhub.core.manager import get_plugin_manager

    loader = get_plugin_manager().loader_for_scheme(addr.scheme)
    if loader is None or loader.runs_code:
        return source  # a code-running loader's model must not be asked before consent
    target, changed = addr.target, False
    if target and loader.names_file(target) and not Path(target).expanduser().is_absolute():
        target, changed = str((base / Path(target).expanduser()).resolve()), True
    try:
        fields = _path_fields(loader.params_model(addr.target))
    except Exception:  # an unknown target: validation reports it
        fields = set()
    params = dict(addr.params)
    for key in fields & set(params):
        p = Path(params[key]).expanduser()
        if not p.is_absolute():
            params[key], changed = str((base / p).resolve()), True
    if not changed:
        return source
    query = "&".join(f"{quote(k, safe='')}={quote(v, safe='/,:.-_')}" for k, v in params.items())
    return f"{addr.scheme}:{target}" + (f"?{query}" if query else "")
