"""Pyomo plugin: Pyomo models as solverhub problems, and solverhub solvers inside Pyomo.

* loader: a Pyomo model loads as itself (kind ``pyomo``, :class:`.convert.PyomoModel`); the
  converter compiles it for a MIP solver through Pyomo's standard-form compiler (:mod:`.convert`)
  and ``sh.solve(pyomo_model, solver=...)`` loads the solution back into the model;
* problem kind ``pyomo`` and converter ``pyomo-to-mip`` (:class:`.convert.PyomoModel` -> MIP);
* Pyomo solver factory: every solver whose problem kind is ``mip`` is registered as
  ``solverhub_<name>`` in ``pyomo.contrib.solver``'s ``SolverFactory`` and, through it, in
  ``pyomo.environ.SolverFactory`` (:mod:`.factory`, :mod:`.interface`).

This module is imported when the plugin manager loads plugins: it never imports Pyomo itself.
"""

from __future__ import annotations

import sys
from typing import Any

from pydantic import Field

from solverhub.core.hookspecs import hookimpl
from solverhub.core.loading import LoaderParams
from solverhub.core.records import Converter, LoaderSpec, ProblemKind

__all__ = ["register_all", "solverhub_problem_kinds", "solverhub_converters", "solverhub_loaders"]


def register_all(*args: Any, **kwargs: Any) -> list[str]:
    """See :func:`solverhub.plugins.pyomo.factory.register_all`."""
    from solverhub.plugins.pyomo.factory import register_all as _register_all

    return _register_all(*args, **kwargs)


def _pyomo_to_mip(problem: Any) -> Any:
    from solverhub.plugins.pyomo.convert import PyomoModel, pyomo_to_mip

    if isinstance(problem, PyomoModel):
        return problem.to_mip()
    return pyomo_to_mip(problem)


@hookimpl
def solverhub_problem_kinds() -> list:
    from solverhub.plugins.pyomo.convert import PyomoModel
    from solverhub.plugins.pyomo.kind import PyomoKind

    return [ProblemKind("pyomo", PyomoModel, "a Pyomo ConcreteModel (checked and measured as the "
                                            "problem a converter compiles it into)",
                        protocol=PyomoKind())]


def _invert(source: Any, target: Any, result: Any) -> Any:
    from solverhub.plugins.pyomo.kind import invert_same_columns

    return invert_same_columns(source, target, result)


@hookimpl
def solverhub_converters() -> list:
    # column j of the MIP is the model's j-th variable and the sense is the model's: the result
    # comes back as is, checked and measured through the model's compiled form
    return [Converter("pyomo-to-mip", "pyomo", "mip", _pyomo_to_mip, invert=_invert)]


def _accepts(source: Any) -> bool:
    # Pyomo is never imported here: a Pyomo model in hand implies it already is
    if sys.modules.get("pyomo.core") is None:
        return False
    from solverhub.plugins.pyomo.convert import is_pyomo_model

    return is_pyomo_model(source)


class PyomoLoadParams(LoaderParams):
    names: bool = Field(True, description="keep the model's variable and constraint names")


def _load(source: Any, params: PyomoLoadParams) -> Any:
    from solverhub.plugins.pyomo.convert import PyomoModel

    return PyomoModel(source, names=params.names)


@hookimpl
def solverhub_loaders() -> list[LoaderSpec]:
    # yields the model itself (kind "pyomo"); converters choose the form the solver takes
    return [LoaderSpec("pyomo-models", _load, accepts=_accepts, kind="pyomo", params=PyomoLoadParams,
                       description="Pyomo models and blocks (pyomo.environ and pyomo.kernel)")]
