"""Built-in plugin ``highs``: the HiGHS MIP backend (``highs``) and the ``highs`` solver.

Importing this module is cheap: highspy is imported when a backend or solver is built.
"""

from __future__ import annotations

from solverhub.core.hookspecs import hookimpl
from solverhub.core.records import BackendSpec, SolverSpec

__all__ = ["HIGHS_CAPABILITIES"]

HIGHS_CAPABILITIES = frozenset({"warm_start", "bounds", "rows", "objective", "relaxation",
                                "dual_bound", "interrupt", "incumbent_callback", "cutoff",
                                "pause"})


@hookimpl
def solverhub_mip_backends() -> list:
    return [BackendSpec("highs", "solverhub.plugins.highs.backend:HighsBackend", HIGHS_CAPABILITIES,
                        "HiGHS branch-and-cut, one reusable Highs object (highspy)")]


@hookimpl
def solverhub_solvers() -> list:
    return [SolverSpec("highs", "mip", "solverhub.plugins.highs.solver:HighsSolver",
                       "solverhub.plugins.highs.solver:HighsOptions",
                       "HiGHS MIP solver (branch-and-cut), single run")]
