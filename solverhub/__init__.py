"""solverhub: optimization methods from recent research as plugins on one pluggy host.

    import solverhub as sh
    res = sh.solve("model.mps", solver="balans", time_limit=30, seed=0)
"""

from __future__ import annotations

from solverhub.core.api import load_problem, solve
from solverhub.core.backend import BackendResult, MIPBackend
from solverhub.core.errors import BadInputError, DuplicateNameError, SolverhubError, UnavailableError, UnknownNameError
from solverhub.core.hookspecs import hookimpl, hookspec
from solverhub.core.kinds import KindProtocol, MetricSpec, Reference, Verification
from solverhub.core.loading import LoaderParams, NoParams
from solverhub.core.manager import get_plugin_manager
from solverhub.core.metasearch import Candidate, Neighbourhood, Outcome, SearchState
from solverhub.core.mip import MAX, MIN, MIPProblem
from solverhub.core.options import DeviceOptions, IterationLimitOptions, PresetOptions, RelGapOptions, SolverOptions
from solverhub.core.records import (
    ArrayBackend,
    BackendSpec,
    Converter,
    LoaderSpec,
    MetaComponent,
    ProblemKind,
    PyomoSolverSpec,
    SolverSpec,
    TunerSpec,
)
from solverhub.core.result import Correction, Result, Route, SolutionStatus, Status, TerminationCondition
from solverhub.core.solver import Solver, SolverBase
from solverhub.core.trust import allow_code, code_allowed

__all__ = [
    "solve", "load_problem", "get_plugin_manager", "hookimpl", "hookspec",
    "Result", "Status", "TerminationCondition", "SolutionStatus", "Correction", "Route",
    "MIPProblem", "MIN", "MAX", "MIPBackend", "BackendResult",
    "SearchState", "Neighbourhood", "Candidate", "Outcome",
    "Solver", "SolverBase", "SolverOptions", "IterationLimitOptions", "RelGapOptions", "DeviceOptions",
    "PresetOptions",
    "SolverSpec", "BackendSpec", "MetaComponent", "ProblemKind", "Converter", "LoaderSpec",
    "LoaderParams", "NoParams", "allow_code", "code_allowed",
    "ArrayBackend", "PyomoSolverSpec", "TunerSpec", "KindProtocol", "MetricSpec", "Reference", "Verification",
    "SolverhubError", "BadInputError", "UnknownNameError", "DuplicateNameError", "UnavailableError",
]

try:
    from importlib.metadata import version as _version

    __version__ = _version("solverhub")
except Exception:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"


def _register_pyomo_solvers() -> None:
    # DESIGN.md 6: importing solverhub registers its MIP solvers in Pyomo's SolverFactory.
    try:
        from solverhub.plugins.pyomo.factory import register_all
    except ImportError:
        return
    register_all()


_register_pyomo_solvers()


#: names imported on first use (``import solverhub`` stays cheap): name -> module
_LAZY_EXPORTS = {
    "ConvexReLUClassifier": "solverhub.plugins.convex_relu.estimators",
    "ConvexReLURegressor": "solverhub.plugins.convex_relu.estimators",
}


def __getattr__(name: str):
    module = _LAZY_EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'solverhub' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
