"""Shared bases for solver options models: the common knobs under one name each.

=================  ==========================================================================
``time_limit``      seconds, counted from the call: an argument of ``solve`` (``--time-limit``,
                    a run config's ``time_limit``), never an option
``seed``            an argument of ``solve`` (``--seed``, a run config's ``seeds``)
``max_iterations``  the iteration limit (:class:`IterationLimitOptions`)
``rel_gap``         the relative gap at which a solver may stop (:class:`RelGapOptions`)
``device``          the array device (:class:`DeviceOptions`): ``cpu`` or a plugin's
=================  ==========================================================================

A model derived from :class:`SolverOptions` forbids unknown keys and accepts the old names it
lists in ``deprecated_names`` (``{"mip_rel_gap": "rel_gap"}``): an old name is renamed with a
:class:`DeprecationWarning` naming the new one, so configs written with it still validate.
A subclass re-declares a knob to give it its own default or bounds, keeping the name.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["OptionRenamedWarning", "SolverOptions", "IterationLimitOptions", "RelGapOptions", "DeviceOptions",
           "COMMON_DEPRECATED_NAMES"]

class OptionRenamedWarning(DeprecationWarning):
    """An option was given by its deprecated name (shown by the CLI, which hides other
    deprecation warnings)."""


#: old spellings of the common knobs, accepted by every :class:`SolverOptions` model that has
#: the new name
COMMON_DEPRECATED_NAMES: dict[str, str] = {
    "iterations": "max_iterations",
    "mip_rel_gap": "rel_gap",
    "relative_gap": "rel_gap",
    "gap_tolerance": "rel_gap",
}


class SolverOptions(BaseModel):
    """Base of a solver's options model: unknown keys are errors; old names of renamed options
    (``deprecated_names``, old -> new, plus :data:`COMMON_DEPRECATED_NAMES` for the knobs the
    model has) are accepted with a :class:`DeprecationWarning`."""

    model_config = ConfigDict(extra="forbid")

    #: old option name -> new name, for this model (in addition to the common ones)
    deprecated_names: ClassVar[dict[str, str]] = {}

    @model_validator(mode="before")
    @classmethod
    def _rename_deprecated(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        renames = {**COMMON_DEPRECATED_NAMES, **cls.deprecated_names}
        out = dict(data)
        for old, new in renames.items():
            if old not in out or old in cls.model_fields or new not in cls.model_fields:
                continue
            if new in out:
                raise ValueError(f"options {old!r} and {new!r} are the same option "
                                 f"({old!r} is its deprecated name): give only {new!r}")
            warnings.warn(f"option {old!r} of {cls.__name__} is deprecated: use {new!r}",
                          OptionRenamedWarning, stacklevel=2)
            out[new] = out.pop(old)
        return out


class IterationLimitOptions(SolverOptions):
    """``max_iterations``: the iteration limit (was also ``iterations``)."""

    max_iterations: int | None = Field(None, ge=1, description="iteration limit (None: none)")


class RelGapOptions(SolverOptions):
    """``rel_gap``: the relative gap |primal - bound| / |primal| at which the solver may stop
    (was ``mip_rel_gap``, ``relative_gap``, ``gap_tolerance``)."""

    rel_gap: float | None = Field(None, ge=0.0, description="relative gap at which to stop "
                                                             "(None: the solver's default)")


class DeviceOptions(SolverOptions):
    """``device``: the array device the solver computes on (``cpu`` is NumPy; others come from
    plugins, see ``solverhub plugins``)."""

    device: str = Field("cpu", min_length=1, description="array device: cpu (NumPy) or a "
                                                         "plugin's device, e.g. cuda")


class PresetOptions(SolverOptions):
    """``preset``: a named set of option values (``paper`` reproduces a publication, the default
    is what works best on unseen problems) that fills the options not given; an option given
    explicitly wins over its preset. Subclasses declare the ``preset`` field (a ``Literal`` of the
    names, so a bad name is refused naming the choices), ``presets`` and ``default_preset``."""

    #: preset name -> the option values it sets
    presets: ClassVar[dict[str, dict[str, Any]]] = {}
    default_preset: ClassVar[str] = ""

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        name = data.get("preset", cls.default_preset)
        if name not in cls.presets:
            return data  # the Literal check names the bad value
        return {**cls.presets[name], **data}

