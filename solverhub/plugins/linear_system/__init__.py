"""Built-in plugin ``linear_system``: the ``linear-system`` kind (A x = b, sparse A, checked to a
relative residual), the loader of ``linsys:<family>?param=value`` sequences after Khodak, Chow,
Balcan and Talwalkar (ICLR 2024), and the solvers ``sor``, ``ssor-cg`` (``omega`` tunable across a
sequence, see docs/tuning.md), ``scipy-direct`` and ``scipy-cg``.

Importing this module imports nothing heavy; SciPy and the kernels load when used.
"""

from __future__ import annotations

from solverhub.core.hookspecs import hookimpl
from solverhub.core.records import LoaderSpec, ProblemKind, SolverSpec

__all__ = ["KIND"]

KIND = "linear-system"
_SOLVERS = "solverhub.plugins.linear_system.solvers"


@hookimpl
def solverhub_problem_kinds() -> list[ProblemKind]:
    from solverhub.plugins.linear_system.problem import LinearSystemKind, LinearSystemProblem

    return [ProblemKind(KIND, LinearSystemProblem, "A x = b with a sparse square A, solved to a "
                        "relative residual tolerance", protocol=LinearSystemKind())]


@hookimpl
def solverhub_loaders() -> list[LoaderSpec]:
    return [LoaderSpec("linsys", "solverhub.plugins.linear_system.generators:load_linsys",
                       schemes=("linsys",), kind=KIND,
                       params="solverhub.plugins.linear_system.generators:linsys_params",
                       examples=("linsys:heat?n=8&step=3", "linsys:shifted_poisson?n=8&seed=1"),
                       description="linsys:<family>?param=value: heat (2D heat equation, "
                                   "?n=&step=) and shifted_poisson (?n=&shift=&seed=) sequences")]


@hookimpl
def solverhub_solvers() -> list[SolverSpec]:
    return [SolverSpec("sor", KIND, f"{_SOLVERS}:SOR", f"{_SOLVERS}:SOROptions",
                       "successive over-relaxation, compiled CSR sweeps; omega tunable"),
            SolverSpec("ssor-cg", KIND, f"{_SOLVERS}:SSORCG", f"{_SOLVERS}:SSORCGOptions",
                       "conjugate gradient preconditioned by symmetric SOR (SPD A); omega tunable"),
            SolverSpec("scipy-direct", KIND, f"{_SOLVERS}:ScipyDirect",
                       description="SciPy sparse LU (SuperLU), the reference"),
            SolverSpec("scipy-cg", KIND, f"{_SOLVERS}:ScipyCG", f"{_SOLVERS}:ScipyCGOptions",
                       "SciPy conjugate gradient without preconditioner (SPD A)")]
