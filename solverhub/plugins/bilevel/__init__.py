"""Built-in plugin ``bilevel``: the ``bilevel`` problem kind, ``bolib:<NAME>`` test problems and
the solvers ``lv-hba`` (Yao, Yu, Zeng, Zhang, ICLR 2024) and ``bilevel-penalty`` (Kwon, Kwon,
Wright, Nowak, ICLR 2024). See docs/bilevel.md.

Importing this module imports NumPy and pydantic only; SciPy (lower-level values, LP feasibility)
is imported when a solution is checked.
"""

from __future__ import annotations

from typing import Any

from solverhub.core.hookspecs import hookimpl
from solverhub.core.records import Converter, LoaderSpec, ProblemKind, SolverSpec

from .kind import BilevelKind
from .problem import KIND, BilevelProblem
from .sets import Ball, Box, CoupledBounds, Polyhedron, Simplex

__all__ = ["KIND", "Ball", "BilevelKind", "BilevelProblem", "Box", "CoupledBounds", "Polyhedron",
           "Simplex"]


def _load(source: Any, params: dict[str, Any]) -> Any:
    from .bolib import load_bolib

    return load_bolib(source, params)


def _lvhba(**opts: Any) -> Any:
    from .lvhba import LVHBA

    return LVHBA(**opts)


def _kkt(**opts: Any) -> Any:
    from .kktsolve import BilevelKKT

    return BilevelKKT(**opts)


def _auto(**opts: Any) -> Any:
    from .auto import BilevelAuto

    return BilevelAuto(**opts)


def _implicit(**opts: Any) -> Any:
    from .implicit import BilevelImplicit

    return BilevelImplicit(**opts)


def _penalty(**opts: Any) -> Any:
    from .penalty import BilevelPenalty

    return BilevelPenalty(**opts)


@hookimpl
def solverhub_problem_kinds() -> list[ProblemKind]:
    return [ProblemKind(KIND, BilevelProblem, "bilevel program: min F(x, y) over x in X, y in "
                        "argmin {f(x, .) : g(x, .) <= 0, . in Y}, G(x, y) <= 0",
                        protocol=BilevelKind())]


@hookimpl
def solverhub_loaders() -> list[LoaderSpec]:
    return [LoaderSpec("bolib", _load, schemes=("bolib",), kind=KIND,
                       description="bolib:<NAME>, bilevel test problems with published optima "
                                   "(BOLIB set and the LV-HBA / BiC-GAFFA toys)")]


def _to_mip(problem: Any) -> Any:
    from .kktsolve import to_mip

    return to_mip(problem)[0]


@hookimpl
def solverhub_converters() -> list[Converter]:
    # the big-M KKT reformulation: any MIP solver (highs, balans, ...) solves a bilevel program
    # whose lower level is convex quadratic with affine constraints and whose F is linear
    return [Converter("bilevel-kkt-big-m", KIND, "mip", _to_mip)]


@hookimpl
def solverhub_solvers() -> list[SolverSpec]:
    from .options import AutoOptions, ImplicitOptions, KKTOptions, LVHBAOptions, PenaltyOptions

    return [SolverSpec("lv-hba", KIND, _lvhba, LVHBAOptions,
                       "LV-HBA: proximal Lagrangian value function, single loop, Hessian-free "
                       "(Yao et al., ICLR 2024); coupled lower-level constraints"),
            SolverSpec("bilevel-penalty", KIND, _penalty, PenaltyOptions,
                       "penalty method of Kwon et al. (ICLR 2024): double loop or single-loop "
                       "momentum; lower-level constraints independent of x"),
            SolverSpec("bilevel-kkt", KIND, _kkt, KKTOptions,
                       "exact route: the lower level's KKT conditions (convex quadratic lower "
                       "level, affine constraints) with complementarity as SOS1 (SCIP) or big-M "
                       "rows (any MIP solver); global optimum"),
            SolverSpec("bilevel-implicit", KIND, _implicit, ImplicitOptions,
                       "approximate implicit differentiation: hypergradient steps for lower "
                       "levels strongly convex in y without constraints (local solution)"),
            SolverSpec("bilevel-auto", KIND, _auto, AutoOptions,
                       "the default route per problem class, named in the result: the exact KKT "
                       "route where it applies, else lv-hba")]
