"""Built-in plugin ``mipfiles``: the ``mip`` problem kind and MPS/LP files (gzipped too).

Loader: a str or Path whose name ends in ``.mps``, ``.lp``, ``.mps.gz``, ``.lp.gz`` or ``.gz``
(case-insensitive) is read with HiGHS into a :class:`~solverhub.core.mip.MIPProblem`; a
``*.solu`` file in the same folder listing the instance gives ``reference_objective``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from solverhub.core.hookspecs import hookimpl
from solverhub.core.loading import NoParams
from solverhub.core.mip import MIPProblem
from solverhub.core.records import LoaderSpec, ProblemKind

from .io import MIP_SUFFIXES, read_mip, reference_value, write_lp, write_mps
from .kind import MIPKind

__all__ = ["read_mip", "write_mps", "write_lp", "reference_value"]


@hookimpl
def solverhub_problem_kinds() -> list:
    return [ProblemKind("mip", MIPProblem,
                        "mixed-integer linear program in matrix form (MPS/LP files, Pyomo models)",
                        protocol=MIPKind())]


def _load_file(path: Any, params: Any) -> Any:
    return read_mip(Path(path))


@hookimpl
def solverhub_loaders() -> list[LoaderSpec]:
    return [LoaderSpec("mps-lp-files", _load_file, suffixes=MIP_SUFFIXES, kind="mip", params=NoParams,
                       description="MPS and CPLEX LP files, gzipped too (read with HiGHS, checked "
                                   "strictly)")]
