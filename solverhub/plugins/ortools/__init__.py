"""Built-in plugin ``ortools``: MIP backends and solvers ``ortools-scip`` and ``ortools-sat``
(OR-Tools ``model_builder``). OR-Tools is imported only when a backend or solver is built."""

from __future__ import annotations

from typing import Any

from solverhub.core.hookspecs import hookimpl
from solverhub.core.records import BackendSpec, SolverSpec

from .solver import OrtoolsOptions

SCIP_CAPABILITIES = frozenset({"warm_start", "bounds", "rows", "objective", "relaxation",
                               "dual_bound", "cutoff"})
SAT_CAPABILITIES = frozenset({"warm_start", "bounds", "rows", "objective", "relaxation",
                              "dual_bound", "interrupt", "cutoff"})


def _scip_backend(problem: Any, *, threads: int = 1, seed: int = 0, **kw: Any):
    from .backend import ScipBackend

    return ScipBackend(problem, threads=threads, seed=seed, **kw)


def _sat_backend(problem: Any, *, threads: int = 1, seed: int = 0, **kw: Any):
    from .backend import SatBackend

    return SatBackend(problem, threads=threads, seed=seed, **kw)


def _scip_solver(**options: Any):
    from .solver import OrtoolsSolver

    return OrtoolsSolver("scip", **options)


def _sat_solver(**options: Any):
    from .solver import OrtoolsSolver

    return OrtoolsSolver("sat", **options)


@hookimpl
def solverhub_mip_backends() -> list:
    return [
        BackendSpec("ortools-scip", _scip_backend, SCIP_CAPABILITIES,
                    "SCIP via OR-Tools model_builder (no incumbent callback, no interrupt)"),
        BackendSpec("ortools-sat", _sat_backend, SAT_CAPABILITIES,
                    "CP-SAT via OR-Tools model_builder, 1 worker; pure integer models only"),
    ]


@hookimpl
def solverhub_solvers() -> list:
    return [
        SolverSpec("ortools-scip", "mip", _scip_solver, OrtoolsOptions,
                   "SCIP through OR-Tools model_builder"),
        SolverSpec("ortools-sat", "mip", _sat_solver, OrtoolsOptions,
                   "CP-SAT through OR-Tools model_builder (pure integer models)"),
    ]
