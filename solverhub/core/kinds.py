"""What a problem kind owns (DESIGN.md section 3), so that core names no kind.

Each :class:`~solverhub.core.records.ProblemKind` record carries a :class:`KindProtocol`: how a
reported solution is checked (exactly, as MIP does, or to a tolerance with residuals reported),
which scalar metrics the kind defines (the report, the CLI table and the plots read them without
knowing the kind), what a reference is (an objective value and optionally a known solution), and
small instances for the conformance suite. The host calls only these methods.

A kind without a protocol gets :class:`KindProtocol` itself: nothing checked, no metrics beyond
the generic ones, which is safe (nothing is turned into an error) but says little.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

__all__ = ["MetricSpec", "Reference", "Verification", "KindProtocol", "relative_error",
           "solution_vector"]


@dataclass(frozen=True)
class MetricSpec:
    """A scalar a kind reports in ``Result.metrics`` under ``name``.

    ``better`` says which direction is good (the report ranks by it); ``aggregate`` how values
    are combined over seeds (``mean``; ``geomean`` for ratios and residuals spanning decades)."""

    name: str
    description: str = ""
    better: Literal["lower", "higher"] = "lower"
    aggregate: Literal["mean", "geomean", "median"] = "mean"


@dataclass
class Reference:
    """What a solution is compared with: a known optimal (``label="opt"``) or best-known
    (``"best"``) objective value, and optionally a known solution vector."""

    objective: float | None = None
    solution: np.ndarray | None = None
    label: str = "known"


@dataclass
class Verification:
    """The kind's verdict on a reported solution.

    ``ok`` False means the solution must not be reported: the host turns the result into an error
    (exact kinds: infeasible; tolerance kinds: non-finite values). ``x`` is the solution to report
    (e.g. integer columns snapped to integers), ``objective`` the problem's own evaluation of it,
    ``residuals`` named scalars copied into ``Result.metrics`` (constraint violation, KKT
    residual ...), ``optimal_ok`` False downgrades an ``optimal`` claim the residuals do not support.
    """

    ok: bool
    x: Any = None
    objective: float | None = None
    residuals: dict[str, float] = field(default_factory=dict)
    message: str = ""
    optimal_ok: bool = True


class KindProtocol:
    """Base protocol with safe defaults; a kind subclasses what it needs.

    Example (a tolerance-checked continuous kind)::

        class LeastSquaresKind(KindProtocol):
            metrics = (MetricSpec("residual_norm", "||Ax - b||"),
                       MetricSpec("projected_gradient", "first-order optimality", "lower", "geomean"))
            def verify(self, problem, x):
                r = problem.residual(x)
                return Verification(ok=bool(np.all(np.isfinite(x))), x=x, objective=problem.evaluate(x),
                                    residuals={"bound_violation": problem.bound_violation(x)})
    """

    #: True: a solution failing the check is an error (MIP). False: residuals are reported.
    exact: bool = False
    #: the kind's own metrics (the record also has status, objective, runtime, iterations)
    metrics: tuple[MetricSpec, ...] = ()
    #: the metric that ranks solvers in reports of kinds without a primal gap (None: the first
    #: of ``metrics``)
    primary_metric: str | None = None

    def verify(self, problem: Any, x: Any) -> Verification | None:
        """Check ``x`` against ``problem``; ``None`` when nothing can be checked.

        Default: a problem with a ``check(x)`` method returning a report with ``feasible`` (and
        optionally ``objective``) is checked exactly by it, as the knapsack example is."""
        check = getattr(problem, "check", None)
        if not callable(check):
            return None
        report = check(x)
        feasible = getattr(report, "feasible", None)
        if feasible is None:
            return None
        obj = getattr(report, "objective", None)
        obj = float(obj) if isinstance(obj, (int, float)) and math.isfinite(obj) else None
        return Verification(bool(feasible), x=x, objective=obj, message=str(report))

    def reference(self, problem: Any) -> Reference | None:
        """The problem's own reference, if it carries one (attributes ``reference_objective`` and
        ``reference_solution``, set by loaders from ``.solu`` files, generators, test sets)."""
        obj = getattr(problem, "reference_objective", None)
        sol = getattr(problem, "reference_solution", None)
        if obj is None and sol is None:
            return None
        return Reference(None if obj is None else float(obj),
                         None if sol is None else np.asarray(sol, dtype=np.float64),
                         str(getattr(problem, "reference_kind", "known")))

    def compute_metrics(self, problem: Any, result: Any, reference: Reference | None,
                        horizon: float) -> dict[str, float]:
        """The kind's metrics of a finished (verified) result; ``horizon`` is the time limit (or
        the runtime without one). Default: the relative error to a known solution and objective."""
        out: dict[str, float] = {}
        if reference is None:
            return out
        if reference.objective is not None and result.objective is not None:
            out["objective_error"] = relative_error(result.objective, reference.objective)
        if reference.solution is not None and result.x is not None:
            x = np.asarray(result.x, dtype=np.float64).ravel()
            if x.shape == reference.solution.ravel().shape:
                out["solution_error"] = relative_error(x, reference.solution.ravel())
        return out

    #: the context features :meth:`context` gives (names; what ``solverhub tune`` lists when a
    #: config asks for one the kind lacks)
    context_features: tuple[str, ...] = ()

    def context(self, problem: Any) -> dict[str, float]:
        """Side information about an instance, seen by contextual tuners before its solve
        (``solverhub tune``, ``[tune] context = [...]``): cheap numbers that may move the best
        option (a diagonal shift, a size). Default: the problem's own ``context`` dict, if any."""
        ctx = getattr(problem, "context", None)
        if not isinstance(ctx, dict):
            return {}
        return {str(k): float(v) for k, v in ctx.items() if isinstance(v, (int, float))}

    def conformance_instances(self) -> list[tuple[Any, float | None]]:
        """Small ``(problem, optimum)`` pairs every solver of the kind must solve quickly."""
        return []

    def infeasible_instances(self) -> list[Any]:
        """Small problems without a feasible point (empty when the kind has no such notion)."""
        return []

    def hard_instance(self) -> Any | None:
        """A problem no solver finishes within a second (for time-limit checks), or None."""
        return None

    def malformed_instances(self) -> list[tuple[str, Any]]:
        """``(label, object)`` pairs that validation must reject with BadInputError."""
        return []


def solution_vector(x: Any, size: int, what: str = "") -> np.ndarray | Verification:
    """``x`` as a flat float vector of ``size`` entries, or the failed :class:`Verification`
    saying why not (not numeric, wrong size, NaN or inf): the first check of most kinds' verify.

        v = solution_vector(x, problem.n)
        if isinstance(v, Verification):
            return v
    """
    try:
        v = np.asarray(x, dtype=np.float64).ravel()
    except (TypeError, ValueError) as exc:
        return Verification(ok=False, message=f"x is not a numeric vector: {exc}")
    if v.size != size:
        return Verification(ok=False, message=f"x has {v.size} entries, expected {size}"
                                              + (f" ({what})" if what else ""))
    bad = int(np.count_nonzero(~np.isfinite(v)))
    if bad:
        return Verification(ok=False, message=f"x has {bad} NaN or infinite entries")
    return v


def relative_error(value: Any, reference: Any) -> float:
    """``||value - reference|| / max(1, ||reference||)`` (scalars or vectors): defined at a zero
    reference, unlike Berthold's primal gap, which is 1 for any nonzero value there."""
    v = np.asarray(value, dtype=np.float64)
    r = np.asarray(reference, dtype=np.float64)
    num = float(np.linalg.norm(v - r))
    den = max(1.0, float(np.linalg.norm(r)))
    out = num / den
    return out if math.isfinite(out) else math.inf
