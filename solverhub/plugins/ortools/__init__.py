"""Built-in plugin ``ortools``: MIP backends and solvers ``ortools-scip`` and ``ortools-sat``
(OR-Tools ``model_builder``). OR-Tools is imported only when a backend or solver is built."""

from __future__ import annotations

from solverhub.core.hookspecs import hookimpl
from solverhub.core.records import BackendSpec, SolverSpec

SCIP_CAPABILITIES = frozenset({"warm_start", "bounds", "rows", "objective", "relaxation",
                               "dual_bound", "cutoff"})
SAT_CAPABILITIES = frozenset({"warm_start", "bounds", "rows", "objective", "relaxation",
                              "dual_bound", "interrupt", "cutoff"})


@hookimpl
def solverhub_mip_backends() -> list:
    return [
        BackendSpec("ortools-scip", "solverhub.plugins.ortools.backend:ScipBackend", SCIP_CAPABILITIES,
                    "SCIP via OR-Tools model_builder (no incumbent callback, no interrupt)"),
        BackendSpec("ortools-sat", "solverhub.plugins.ortools.backend:SatBackend", SAT_CAPABILITIES,
                    "CP-SAT via OR-Tools model_builder, 1 worker; pure integer models only"),
    ]


@hookimpl
def solverhub_solvers() -> list:
    return [
        SolverSpec("ortools-scip", "mip", "solverhub.plugins.ortools.solver:ScipSolver",
                   "solverhub.plugins.ortools.solver:OrtoolsOptions",
                   "SCIP through OR-Tools model_builder"),
        SolverSpec("ortools-sat", "mip", "solverhub.plugins.ortools.solver:SatSolver",
                   "solverhub.plugins.ortools.solver:OrtoolsOptions",
                   "CP-SAT through OR-Tools model_builder (pure integer models)"),
    ]
