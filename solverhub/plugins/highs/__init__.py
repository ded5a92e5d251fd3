"""Built-in plugin ``highs``: the HiGHS MIP backend (``highs``) and the ``highs`` solver.

Importing this module is cheap: highspy is imported when a backend or solver is built.
"""

from __future__ import annotations

from typing import Any

from solverhub.core.hookspecs import hookimpl
from solverhub.core.records import BackendSpec, SolverSpec

from .solver import HighsOptions

__all__ = ["HIGHS_CAPABILITIES"]

HIGHS_CAPABILITIES = frozenset({"warm_start", "bounds", "rows", "objective", "relaxation",
                                "dual_bound", "interrupt", "incumbent_callback", "cutoff",
                                "pause"})


def _backend_factory(problem: Any, *, threads: int = 1, seed: int = 0, **kw: Any):
    from .backend import HighsBackend

    return HighsBackend(problem, threads=threads, seed=seed, **kw)


def _solver_factory(**options: Any):
    from .solver import HighsSolver

    return HighsSolver(**options)


@hookimpl
def solverhub_mip_backends() -> list:
    return [BackendSpec("highs", _backend_factory, HIGHS_CAPABILITIES,
                        "HiGHS branch-and-cut, one reusable Highs object (highspy)")]


@hookimpl
def solverhub_solvers() -> list:
    return [SolverSpec("highs", "mip", _solver_factory, HighsOptions,
                       "HiGHS MIP solver (branch-and-cut), single run")]
