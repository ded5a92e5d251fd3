"""Built-in plugin ``bilevel``: the ``bilevel`` problem kind, ``bolib:<NAME>`` test problems and
the solvers ``lv-hba`` (Yao, Yu, Zeng, Zhang, ICLR 2024) and ``bilevel-penalty`` (Kwon, Kwon,
Wright, Nowak, ICLR 2024). See docs/bilevel.md.

Importing this module imports NumPy and pydantic only; SciPy (lower-level values, LP feasibility)
is imported when a solution is checked.
"""

from __future__ import annotations

from solverhub.core.hookspecs import hookimpl
from solverhub.core.records import Converter, LoaderSpec, ProblemKind, SolverSpec

from .kind import BilevelKind
from .problem import KIND, BilevelProblem
from .sets import Ball, Box, CoupledBounds, Polyhedron, Simplex

__all__ = ["KIND", "Ball", "BilevelKind", "BilevelProblem", "Box", "CoupledBounds", "Polyhedron",
           "Simplex"]


@hookimpl
def solverhub_problem_kinds() -> list[ProblemKind]:
    return [ProblemKind(KIND, BilevelProblem, "bilevel program: min F(x, y) over x in X, y in "
                        "argmin {f(x, .) : g(x, .) <= 0, . in Y}, G(x, y) <= 0",
                        protocol=BilevelKind())]


@hookimpl
def solverhub_loaders() -> list[LoaderSpec]:
    return [LoaderSpec("bolib", "solverhub.plugins.bilevel.bolib:load_bolib_target", schemes=("bolib",),
                       kind=KIND, params="solverhub.plugins.bilevel.bolib:bolib_params",
                       examples=("bolib:Bard1988Ex1", "bolib:QuadraticClosedForm?n=3"),
                       description="bolib:<NAME>, bilevel test problems with published optima "
                                   "(BOLIB set and the LV-HBA / BiC-GAFFA toys)")]


@hookimpl
def solverhub_converters() -> list[Converter]:
    # the big-M KKT reformulation: any MIP solver (highs, balans, ...) solves a bilevel program
    # whose lower level is convex quadratic with affine constraints and whose F is linear
    return [Converter("bilevel-kkt-big-m", KIND, "mip", "solverhub.plugins.bilevel.kktsolve:big_m_mip",
                      invert="solverhub.plugins.bilevel.kktsolve:invert_big_m")]


@hookimpl
def solverhub_solvers() -> list[SolverSpec]:
    return [SolverSpec("lv-hba", KIND, "solverhub.plugins.bilevel.lvhba:LVHBA",
                       "solverhub.plugins.bilevel.options:LVHBAOptions",
                       "LV-HBA: proximal Lagrangian value function, single loop, Hessian-free "
                       "(Yao et al., ICLR 2024); coupled lower-level constraints"),
            SolverSpec("bilevel-penalty", KIND, "solverhub.plugins.bilevel.penalty:BilevelPenalty",
                       "solverhub.plugins.bilevel.options:PenaltyOptions",
                       "penalty method of Kwon et al. (ICLR 2024): double loop or single-loop "
                       "momentum; lower-level constraints independent of x"),
            SolverSpec("bilevel-kkt", KIND, "solverhub.plugins.bilevel.kktsolve:BilevelKKT",
                       "solverhub.plugins.bilevel.options:KKTOptions",
                       "exact route: the lower level's KKT conditions (convex quadratic lower "
                       "level, affine constraints) with complementarity as SOS1 (SCIP) or big-M "
                       "rows (any MIP solver); global optimum"),
            SolverSpec("bilevel-implicit", KIND, "solverhub.plugins.bilevel.implicit:BilevelImplicit",
                       "solverhub.plugins.bilevel.options:ImplicitOptions",
                       "approximate implicit differentiation: hypergradient steps for lower "
                       "levels strongly convex in y without constraints (local solution)"),
            SolverSpec("bilevel-auto", KIND, "solverhub.plugins.bilevel.auto:BilevelAuto",
                       "solverhub.plugins.bilevel.options:AutoOptions",
                       "the default route per problem class, named in the result: the exact KKT "
                       "route where it applies, else lv-hba")]
