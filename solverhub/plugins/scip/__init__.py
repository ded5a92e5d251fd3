"""Built-in plugin ``scip``: SCIP through PySCIPOpt as a MIP backend (``scip``) and a solver (``scip``).

PySCIPOpt's wheels bundle SCIP. Importing this module is cheap: pyscipopt is imported when a backend
or solver is built.
"""

from __future__ import annotations

from solverhub.core.hookspecs import hookimpl
from solverhub.core.records import BackendSpec, SolverSpec

__all__ = ["SCIP_CAPABILITIES"]

SCIP_CAPABILITIES = frozenset({"warm_start", "bounds", "rows", "objective", "relaxation",
                               "dual_bound", "interrupt", "incumbent_callback", "cutoff", "pause"})


def _available() -> str | None:
    from importlib.util import find_spec

    # find_spec, not import: loading SCIP's libraries takes a second on a loaded machine, and the
    # probe runs whenever solvers are listed or checked
    if find_spec("pyscipopt") is None:  # pragma: no cover - a regular dependency
        return "pyscipopt is not installed; pip install pyscipopt"
    return None


@hookimpl
def solverhub_mip_backends() -> list:
    return [BackendSpec("scip", "solverhub.plugins.scip.backend:ScipBackend", SCIP_CAPABILITIES,
                        "SCIP branch-and-cut through PySCIPOpt: incumbent events, interrupt, pause")]


@hookimpl
def solverhub_solvers() -> list:
    return [SolverSpec("scip", "mip", "solverhub.plugins.scip.solver:ScipSolver",
                       "solverhub.plugins.scip.solver:ScipOptions",
                       "SCIP MIP solver (branch-and-cut) through PySCIPOpt, single run",
                       available=_available)]
