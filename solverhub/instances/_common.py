"""Shared plumbing of the instance generators: parameter models, validation, names and addresses.

Every family has a pydantic parameter model (``extra="forbid"``) that validates both the keyword
arguments of the Python function and the string parameters of a ``generate:<family>?k=v`` address,
so the two entry points accept exactly the same things and report the same errors.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from pydantic import Field, ValidationError

from solverhub.core.errors import BadInputError
from solverhub.core.loading import LoaderParams

__all__ = ["GeneratorParams", "validate_params", "instance_name", "instance_address", "SeedField"]

#: the seed of every family: a non-negative integer fed to ``numpy.random.default_rng``
SeedField = Field(0, ge=0, description="seed of numpy.random.default_rng; same seed, same instance")


class GeneratorParams(LoaderParams):
    """Base of the per-family parameter models (a loader parameter model: unknown keys refused,
    booleans spelt true/false, a number never a boolean).

    Subclasses set ``family`` and ``name_codes`` (field -> short code used in ``problem.name``);
    fields in ``primary`` always appear in the name, the others only when not at their default.
    """

    family: ClassVar[str] = ""
    name_codes: ClassVar[dict[str, str]] = {}
    primary: ClassVar[tuple[str, ...]] = ()


P = TypeVar("P", bound=GeneratorParams)

def _describe(exc: ValidationError, model: type[GeneratorParams], values: dict[str, Any]) -> str:
    parts = []
    known = ", ".join(model.model_fields)
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            parts.append(f"unknown parameter {loc!r} (known: {known})")
        elif loc:
            parts.append(f"parameter {loc!r}={values.get(loc)!r}: {err['msg']}")
        else:  # a model-level (cross-parameter) check
            msg = err["msg"].removeprefix("Value error, ")
            parts.append(msg)
    return "; ".join(parts)


def validate_params(model: type[P], values: dict[str, Any]) -> P:
    """Validate ``values`` with ``model``; errors become one-line :class:`BadInputError` messages
    naming the family and the parameter."""
    try:
        return model(**values)
    except ValidationError as exc:
        raise BadInputError(f"generate:{model.family}: {_describe(exc, model, values)}") from None


def _fmt_name(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _fmt_addr(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def instance_name(p: GeneratorParams) -> str:
    """``set_cover-r500-c1000-d0.05-s1``: primary parameters always, others when not default."""
    parts = [p.family]
    for key, code in p.name_codes.items():
        value = getattr(p, key)
        default = type(p).model_fields[key].default
        if key in p.primary or value != default:
            if isinstance(value, str):
                parts.append(value if not code else f"{code}{value}")
            else:
                parts.append(f"{code}{_fmt_name(value)}")
    parts.append(f"s{p.seed}")  # type: ignore[attr-defined]
    return "-".join(parts)


def instance_address(p: GeneratorParams) -> str:
    """The canonical address (every parameter spelled out) that regenerates the same instance."""
    query = "&".join(f"{k}={_fmt_addr(getattr(p, k))}" for k in type(p).model_fields)
    return f"generate:{p.family}?{query}"
