"""The ``linear-system`` kind: A x = b with a sparse square A, checked to a residual tolerance."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from solverhub.core.errors import BadInputError
from solverhub.core.kinds import KindProtocol, MetricSpec, Reference, Verification, solution_vector

__all__ = ["KIND", "LinearSystemProblem", "LinearSystemKind", "relative_residual"]

KIND = "linear-system"


def relative_residual(A: sp.spmatrix, b: np.ndarray, x: np.ndarray) -> float:
    """||b - A x||_2 / ||b||_2 (||b|| = 0: the absolute residual)."""
    nb = float(np.linalg.norm(b))
    r = float(np.linalg.norm(b - A @ x))
    return r / nb if nb > 0 else r


@dataclass
class LinearSystemProblem:
    """A x = b. ``tolerance`` is the relative residual ||b - A x|| / ||b|| a solution must reach
    to count as solved (the iterative solvers stop there: their iteration counts are comparable
    across solvers and options). ``x0`` is the starting point of iterative solvers (the previous
    time step's solution in the heat sequence), ``context`` the instance's side information for
    contextual tuners (e.g. ``{"shift": c}``), ``symmetric`` says A = A^T (SSOR-CG needs it)."""

    A: sp.csr_matrix
    b: np.ndarray
    tolerance: float = 1e-8
    x0: np.ndarray | None = None
    context: dict[str, float] = field(default_factory=dict)
    symmetric: bool = False
    name: str = "linear-system"
    source: str = ""
    reference_solution: np.ndarray | None = None
    kind: str = KIND

    def __post_init__(self) -> None:
        if not sp.issparse(self.A):
            self.A = sp.csr_matrix(np.asarray(self.A, dtype=np.float64))
        self.A = sp.csr_matrix(self.A, dtype=np.float64)
        self.A.sum_duplicates()
        self.A.sort_indices()
        self.b = np.asarray(self.b, dtype=np.float64).ravel()
        if self.x0 is not None:
            self.x0 = np.asarray(self.x0, dtype=np.float64).ravel()

    @property
    def n(self) -> int:
        return int(self.A.shape[0])

    def validate(self) -> None:
        """Square A, b and x0 of its size, finite entries, a nonzero diagonal, a tolerance in
        (0, 1); a BadInputError names what is wrong."""
        m, n = self.A.shape
        who = self.name or "linear-system"
        if m != n or n == 0:
            raise BadInputError(f"{who}: A must be square and non-empty, got shape {self.A.shape}")
        if self.b.shape != (n,):
            raise BadInputError(f"{who}: b has {self.b.size} entries, A has {n} rows")
        if self.x0 is not None and self.x0.shape != (n,):
            raise BadInputError(f"{who}: x0 has {self.x0.size} entries, A has {n} columns")
        if not (np.all(np.isfinite(self.A.data)) and np.all(np.isfinite(self.b))):
            raise BadInputError(f"{who}: A or b has NaN or infinite entries")
        if np.any(self.A.diagonal() == 0):
            raise BadInputError(f"{who}: A has zero diagonal entries (SOR and SSOR divide by them)")
        if not (0 < self.tolerance < 1) or not math.isfinite(self.tolerance):
            raise BadInputError(f"{who}: tolerance must be in (0, 1), got {self.tolerance!r}")

    def relative_residual(self, x: np.ndarray) -> float:
        return relative_residual(self.A, self.b, x)


class LinearSystemKind(KindProtocol):
    """Tolerance-checked: a solution with NaN/inf or of the wrong size is rejected; otherwise its
    relative residual is the objective (minimised, 0 at the solution) and a metric, and
    ``optimal`` (solved) with a residual above the problem's
    tolerance is downgraded to ``feasible``. ``iterations`` (sweeps of SOR, CG steps ...) is the
    cost the paper's tuners see."""

    exact = False
    metrics = (
        MetricSpec("relative_residual", "||b - A x|| / ||b||", "lower", "geomean"),
        MetricSpec("iterations", "solver iterations (SOR sweeps, CG steps) to the tolerance",
                   "lower", "mean"),
        MetricSpec("solution_error", "||x - x*|| / max(1, ||x*||) to a known solution", "lower",
                   "geomean"),
    )
    #: the generators' context (shift for shifted Poisson, courant for heat) plus the sizes
    context_features = ("shift", "courant", "diffusion", "n", "unknowns", "nonzeros")

    def context(self, problem: Any) -> dict[str, float]:
        out = super().context(problem)
        out.update(unknowns=float(problem.n), nonzeros=float(problem.A.nnz))
        return out

    def verify(self, problem: Any, x: Any) -> Verification | None:
        if not isinstance(problem, LinearSystemProblem):
            return None
        v = solution_vector(x, problem.n)
        if isinstance(v, Verification):
            return v
        rr = problem.relative_residual(v)
        if not math.isfinite(rr):
            return Verification(ok=False, message="the residual of x is not finite")
        # a small slack: the solver measured the residual in its own arithmetic order
        ok_opt = rr <= problem.tolerance * (1 + 1e-6)
        return Verification(ok=True, x=v, objective=rr, residuals={"relative_residual": rr},
                            optimal_ok=ok_opt,
                            message=f"relative residual {rr:.3g} (tolerance {problem.tolerance:g})")

    def compute_metrics(self, problem: Any, result: Any, reference: Reference | None,
                        horizon: float) -> dict[str, float]:
        out = super().compute_metrics(problem, result, reference, horizon)
        out.pop("objective_error", None)
        out["iterations"] = float(getattr(result, "iterations", 0) or 0)
        return out

    def conformance_instances(self) -> list[tuple[Any, float | None]]:
        from solverhub.plugins.linear_system.generators import shifted_poisson

        return [(shifted_poisson(n=8, shift=0.5, seed=0), None)]

    def hard_instance(self) -> Any | None:
        from solverhub.plugins.linear_system.generators import shifted_poisson

        # 2.5e5 unknowns at a tight tolerance: ~10^5 SOR sweeps of ~2 ms, CG steps in the
        # thousands, a SuperLU factorization of several seconds
        return shifted_poisson(n=500, shift=0.0, seed=0, tolerance=1e-12)

    def malformed_instances(self) -> list[tuple[str, Any]]:
        return [("non-square A", LinearSystemProblem(sp.csr_matrix(np.ones((2, 3))), np.ones(2))),
                ("b of the wrong size", LinearSystemProblem(sp.eye(3, format="csr"), np.ones(2))),
                ("zero diagonal", LinearSystemProblem(sp.csr_matrix(np.array([[0.0, 1], [1, 0]])),
                                                      np.ones(2)))]
