"""The result of a solve, common to every solver and problem kind (DESIGN.md section 3)."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from solverhub.core.serialize import jsonable

__all__ = ["Status", "TerminationCondition", "SolutionStatus", "Correction", "Conversion", "Result",
           "summarize", "primal_gap", "bound_gap", "primal_integral"]


class TerminationCondition(str, enum.Enum):
    """Why a solver stopped (Pyomo's ``contrib.solver`` ``TerminationCondition``, snake_case)."""

    #: the solver's own stopping criteria hold: optimality proved (MIP), within tolerance
    #: (convex), a KKT point (nonconvex), or a heuristic's convergence rule (e.g. no improvement)
    CONVERGENCE_CRITERIA_SATISFIED = "convergence_criteria_satisfied"
    MAX_TIME_LIMIT = "max_time_limit"
    #: an iteration, node or other work limit
    ITERATION_LIMIT = "iteration_limit"
    #: a stop request (Ctrl-C)
    INTERRUPTED = "interrupted"
    PROVEN_INFEASIBLE = "proven_infeasible"
    #: a local method ended at a point that is infeasible and locally least infeasible
    LOCALLY_INFEASIBLE = "locally_infeasible"
    UNBOUNDED = "unbounded"
    INFEASIBLE_OR_UNBOUNDED = "infeasible_or_unbounded"
    ERROR = "error"
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value

    @property
    def is_limit(self) -> bool:
        """Stopped by a limit or a stop request, before reaching a conclusion."""
        return self in (TerminationCondition.MAX_TIME_LIMIT, TerminationCondition.ITERATION_LIMIT,
                        TerminationCondition.INTERRUPTED)

    @property
    def is_conclusion(self) -> bool:
        """The solver reached an answer (converged, or proved infeasibility or unboundedness)."""
        return self in (TerminationCondition.CONVERGENCE_CRITERIA_SATISFIED,
                        TerminationCondition.PROVEN_INFEASIBLE, TerminationCondition.UNBOUNDED,
                        TerminationCondition.INFEASIBLE_OR_UNBOUNDED)


class SolutionStatus(str, enum.Enum):
    """What a solver holds at the end (Pyomo's ``contrib.solver`` ``SolutionStatus``)."""

    NO_SOLUTION = "no_solution"
    #: a point that violates the constraints (e.g. the last iterate of a local method)
    INFEASIBLE = "infeasible"
    FEASIBLE = "feasible"
    OPTIMAL = "optimal"

    def __str__(self) -> str:
        return self.value

    @property
    def has_solution(self) -> bool:
        """A feasible (or optimal) solution is held."""
        return self in (SolutionStatus.FEASIBLE, SolutionStatus.OPTIMAL)


class Status(str, enum.Enum):
    """The one-word summary of a result (DESIGN.md section 3), derived from the termination
    condition and the solution status (:func:`summarize`); a limit with an incumbent is the
    limit (``time_limit``), its ``solution_status`` is then ``feasible``."""

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    TIME_LIMIT = "time_limit"
    ITERATION_LIMIT = "iteration_limit"
    INTERRUPTED = "interrupted"
    ERROR = "error"

    def __str__(self) -> str:
        return self.value

    @property
    def is_final(self) -> bool:
        """A conclusion the solver reached (optimal, infeasible, unbounded): it stands when a stop
        request arrives while the task ends, and a resumed run does not solve it again."""
        return self in (Status.OPTIMAL, Status.INFEASIBLE, Status.UNBOUNDED)

    @property
    def is_limit(self) -> bool:
        """Stopped by a time or iteration limit or by a stop request (with or without a solution)."""
        return self in (Status.TIME_LIMIT, Status.ITERATION_LIMIT, Status.INTERRUPTED)

    @property
    def has_solution_possible(self) -> bool:
        """A result with this status may carry a solution (see ``Result.solution_status``)."""
        return self in (Status.OPTIMAL, Status.FEASIBLE, Status.TIME_LIMIT,
                        Status.ITERATION_LIMIT, Status.INTERRUPTED)

    @property
    def counts_as_solved(self) -> bool:
        """Counted as solved in reports: proved (MIP) or within tolerance of the optimum."""
        return self is Status.OPTIMAL

    @property
    def rerun_on_resume(self) -> bool:
        """A task that ended so is solved again by ``solverhub run --resume`` (the user stopped it)."""
        return self is Status.INTERRUPTED

    @property
    def termination(self) -> TerminationCondition:
        """The termination condition a result with only this status is given."""
        return _DEFAULT_TERMINATION[self]


_DEFAULT_TERMINATION = {
    Status.OPTIMAL: TerminationCondition.CONVERGENCE_CRITERIA_SATISFIED,
    # every limit has its own status: "feasible" is a normal end short of an optimality claim
    Status.FEASIBLE: TerminationCondition.CONVERGENCE_CRITERIA_SATISFIED,
    Status.INFEASIBLE: TerminationCondition.PROVEN_INFEASIBLE,
    Status.UNBOUNDED: TerminationCondition.UNBOUNDED,
    Status.TIME_LIMIT: TerminationCondition.MAX_TIME_LIMIT,
    Status.ITERATION_LIMIT: TerminationCondition.ITERATION_LIMIT,
    Status.INTERRUPTED: TerminationCondition.INTERRUPTED,
    Status.ERROR: TerminationCondition.ERROR,
}

_LIMIT_SUMMARY = {
    TerminationCondition.MAX_TIME_LIMIT: Status.TIME_LIMIT,
    TerminationCondition.ITERATION_LIMIT: Status.ITERATION_LIMIT,
    TerminationCondition.INTERRUPTED: Status.INTERRUPTED,
}


def summarize(termination: TerminationCondition, solution_status: SolutionStatus) -> Status:
    """The one-word :class:`Status` of a termination condition and a solution status.

    A limit gives the limit whatever is held; a proof of infeasibility (also "infeasible or
    unbounded", and a locally infeasible end) gives ``infeasible``; converging gives ``optimal``
    with an optimal solution, ``feasible`` with a feasible one; anything else without a solution
    is ``error``."""
    t, s = TerminationCondition(termination), SolutionStatus(solution_status)
    if t in _LIMIT_SUMMARY:
        return _LIMIT_SUMMARY[t]
    if t in (TerminationCondition.PROVEN_INFEASIBLE, TerminationCondition.LOCALLY_INFEASIBLE,
             TerminationCondition.INFEASIBLE_OR_UNBOUNDED):
        return Status.INFEASIBLE
    if t is TerminationCondition.UNBOUNDED:
        return Status.UNBOUNDED
    if t is TerminationCondition.ERROR or not s.has_solution:
        return Status.ERROR
    if t is TerminationCondition.CONVERGENCE_CRITERIA_SATISFIED and s is SolutionStatus.OPTIMAL:
        return Status.OPTIMAL
    return Status.FEASIBLE


def default_solution_status(status: Status, holds_solution: bool) -> SolutionStatus:
    """The solution status a result with only ``status`` is given: ``optimal`` / ``feasible``
    as the status says, ``feasible`` at a limit when a solution is held, else ``no_solution``."""
    status = Status(status)
    if status is Status.OPTIMAL:
        return SolutionStatus.OPTIMAL
    if status is Status.FEASIBLE or (status.is_limit and holds_solution):
        return SolutionStatus.FEASIBLE
    return SolutionStatus.NO_SOLUTION


@dataclass(frozen=True)
class Correction:
    """The host replaced a value a solver reported (``field``: ``objective``, ``status``) with its
    own check of the reported solution: what was reported, what the problem's kind recomputed,
    and why."""

    field: str
    reported: float | str | None
    recomputed: float | str | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        def value(v: Any) -> Any:
            return v if v is None or isinstance(v, str) else finite_or_none(v)

        return {"field": self.field, "reported": value(self.reported),
                "recomputed": value(self.recomputed), "reason": self.reason}


def primal_gap(value: float | None, reference: float) -> float:
    """Berthold's primal gap in [0, 1]: 1 without an incumbent or with opposite signs."""
    if value is None or not math.isfinite(value):
        return 1.0
    if abs(reference) < 1e-12 and abs(value) < 1e-12:
        return 0.0
    if reference * value < 0:
        return 1.0
    denom = max(abs(reference), abs(value))
    return min(1.0, abs(reference - value) / denom) if denom > 0 else 0.0


def bound_gap(objective: float | None, bound: float | None) -> float | None:
    """The gap between an incumbent and a dual bound, by the one gap formula of the project
    (:func:`primal_gap`, the bound in place of the reference): in [0, 1]; None without both."""
    if objective is None or bound is None or not (math.isfinite(objective) and math.isfinite(bound)):
        return None
    return primal_gap(objective, bound)


def primal_integral(trajectory: list[tuple[float, float]], reference: float, horizon: float,
                    *, normalize: bool = True, sense: int = 1) -> float:
    """Primal integral (Berthold 2013) of a (time, incumbent) trajectory over [0, horizon].

    Before the first incumbent the gap is 1. With ``normalize`` the integral is divided by the
    horizon, giving a number in [0, 1]. ``sense`` is unused for the gap (it is symmetric) but kept
    so that callers state what the objective values mean.
    """
    if horizon <= 0:
        return float("nan")
    total, t_prev, g_prev = 0.0, 0.0, 1.0
    for t, obj in sorted(trajectory):
        t = min(max(t, 0.0), horizon)
        total += g_prev * (t - t_prev)
        t_prev, g_prev = t, primal_gap(obj, reference)
    total += g_prev * (horizon - t_prev)
    return total / horizon if normalize else total


@dataclass
class Result:
    """What every solver returns.

    ``objective`` is in the problem's own sense (a maximisation reports the maximum); ``bound`` is
    the best proven dual bound in the same sense, or ``None``; ``trajectory`` lists (seconds since
    start, incumbent objective) pairs at each improvement.

    The outcome is two facts and their summary: ``termination`` (why the solver stopped),
    ``solution_status`` (what it holds) and ``status`` (one word, :func:`summarize`). A solver
    may give the facts (``Result(termination=TerminationCondition.MAX_TIME_LIMIT,
    solution_status=SolutionStatus.FEASIBLE, x=...)``) or only the status (``Result(Status.
    TIME_LIMIT, x=...)``: the facts are derived, a held ``x`` or objective meaning a feasible
    solution at a limit); given both, they must agree. Assigning one later restates the others.
    """

    status: Status = None  # type: ignore[assignment]  # derived when not given
    objective: float | None = None
    bound: float | None = None
    x: np.ndarray | None = None
    runtime: float = 0.0
    iterations: int = 0
    trajectory: list[tuple[float, float]] = field(default_factory=list)
    primal_integral: float | None = None
    solver: str = ""
    instance: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    #: the problem kind's scalars (MIP: primal_gap, gap; continuous kinds: residuals, errors ...)
    metrics: dict[str, float] = field(default_factory=dict)
    #: thinned column-wise iteration log: {"iteration": [...], "time": [...], "<scalar>": [...]}
    history: dict[str, list[Any]] = field(default_factory=dict)
    #: the problem kind's name (``mip``, ...), set by the host
    kind: str = ""
    #: why the solver stopped (derived from ``status`` when not given)
    termination: TerminationCondition = None  # type: ignore[assignment]
    #: what the solver holds at the end (derived from ``status`` and ``x`` when not given)
    solution_status: SolutionStatus = None  # type: ignore[assignment]
    #: values the host replaced with its own evaluation, each with the reported value and why
    corrections: list[Correction] = field(default_factory=list)
    #: set when the problem was solved through a converter and the result mapped back
    conversion: Conversion | None = None
    #: True when the solver reports no incumbents while it runs (``ortools-scip``): only the final
    #: one is known, so a primal integral from ``trajectory`` would pretend there was none until
    #: the end; ``primal_integral`` stays None (unknown)
    incumbents_unknown: bool = False
    #: set by an automatic solver (``bilevel-auto``, ``convex-relu-auto``): the route it took
    route: Route | None = None

    def __post_init__(self) -> None:
        status = None if self.status is None else Status(self.status)
        term = None if self.termination is None else TerminationCondition(self.termination)
        sol = None if self.solution_status is None else SolutionStatus(self.solution_status)
        if status is None and term is None:
            raise ValueError("Result needs a status or a termination condition")
        if sol is None:
            holds = self._holds_solution()
            sol = (default_solution_status(status, holds) if status is not None
                   else SolutionStatus.FEASIBLE if holds else SolutionStatus.NO_SOLUTION)
        if term is None:
            assert status is not None
            term = status.termination
        summary = summarize(term, sol)
        if status is not None and status is not summary:
            raise ValueError(f"Result: status {status.value!r} contradicts termination "
                             f"{term.value!r} with solution status {sol.value!r} (they give "
                             f"{summary.value!r})")
        object.__setattr__(self, "status", summary)
        object.__setattr__(self, "termination", term)
        object.__setattr__(self, "solution_status", sol)
        object.__setattr__(self, "_ready", True)

    def _holds_solution(self) -> bool:
        return self.x is not None or self.objective is not None

    def __setattr__(self, name: str, value: Any) -> None:
        if not self.__dict__.get("_ready"):
            object.__setattr__(self, name, value)
        elif name == "status":
            self._restate(Status(value))
        elif name in ("termination", "solution_status"):
            object.__setattr__(self, name, TerminationCondition(value) if name == "termination"
                               else SolutionStatus(value))
            object.__setattr__(self, "status", summarize(self.termination, self.solution_status))
        else:
            object.__setattr__(self, name, value)

    def _restate(self, status: Status) -> None:
        """``result.status = X``: the solution status follows X (a limit keeps a held solution as
        feasible); the termination stays when it still agrees, else it is X's own."""
        if status is Status.OPTIMAL:
            sol = SolutionStatus.OPTIMAL
        elif status is Status.FEASIBLE:
            sol = SolutionStatus.FEASIBLE
        elif status.is_limit and (self.solution_status.has_solution or self._holds_solution()):
            sol = SolutionStatus.FEASIBLE
        else:
            sol = SolutionStatus.NO_SOLUTION
        agrees = summarize(self.termination, sol) is status and status is not Status.ERROR
        term = self.termination if agrees else status.termination
        object.__setattr__(self, "termination", term)
        object.__setattr__(self, "solution_status", sol)
        object.__setattr__(self, "status", status)

    @property
    def has_solution(self) -> bool:
        """A feasible (or optimal) solution is reported."""
        return self.solution_status.has_solution

    @property
    def gap(self) -> float | None:
        """Gap between objective and bound, or None when either is missing: :func:`bound_gap`."""
        return bound_gap(self.objective, self.bound)

    def with_reference(self, reference: float, horizon: float | None = None) -> "Result":
        """Fill ``primal_integral`` (normalised by ``horizon``, default the runtime) from a known
        optimal or best-known value."""
        h = horizon if horizon is not None else self.runtime
        self.primal_integral = (None if self.incumbents_unknown
                                else primal_integral(self.trajectory, reference, h))
        return self

    def to_dict(self, *, include_x: bool = False) -> dict[str, Any]:
        """The JSON contract of DESIGN.md section 5 (plus ``info``). An error result shows no
        objective, bound or x, whatever a solver left in them: they would read as an answer."""
        failed = self.status == Status.ERROR
        d: dict[str, Any] = {
            "status": self.status.value,
            "termination": self.termination.value,
            "solution_status": self.solution_status.value,
            "objective": None if failed else finite_or_none(self.objective),
            "bound": None if failed else finite_or_none(self.bound),
            "runtime": self.runtime,
            "iterations": self.iterations,
            "solver": self.solver,
            "instance": self.instance,
            "primal_integral": finite_or_none(self.primal_integral),
            "trajectory": [[float(t), float(v)] for t, v in self.trajectory],
            "options": _jsonable(self.options),
            "info": _jsonable(self.info),
            "kind": self.kind,
            "metrics": _jsonable(self.metrics),
            "history": _jsonable(self.history),
            "incumbents_unknown": bool(self.incumbents_unknown),
        }
        if self.corrections:
            d["corrections"] = [c.to_dict() for c in self.corrections]
        if self.conversion is not None:
            d["conversion"] = self.conversion.to_dict()
        if self.route is not None:
            d["route"] = self.route.to_dict()
        if self.error is not None:
            d["error"] = self.error
        if include_x and self.x is not None and not failed:
            d["x"] = [float(v) for v in np.asarray(self.x).ravel()]
        return d

    def plot(self, ax=None, reference: float | None = None):
        """Plot the incumbent (and bound, where tracked) over time; returns the matplotlib axes."""
        from solverhub.core.plotting import plot_trajectory

        return plot_trajectory(self, ax=ax, reference=reference)


@dataclass
class Conversion:
    """How a result was obtained through a converter: the problem was converted from
    ``source_kind`` to ``target_kind`` by ``converter``, solved, checked in the target's form
    (its metrics: ``target_metrics``) and mapped back to the source's form."""

    converter: str
    source_kind: str
    target_kind: str
    target_metrics: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"converter": self.converter, "source_kind": self.source_kind,
                "target_kind": self.target_kind, "target_metrics": _jsonable(self.target_metrics)}


@dataclass
class Route:
    """The route an automatic solver chose for one problem: ``name`` (``kkt``, ``admm-conic``,
    ``admm, then clarabel`` ...), ``reason`` (one sentence naming what its rule read) and
    ``solver`` (the registered solver that produced the answer)."""

    name: str
    reason: str = ""
    solver: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "reason": self.reason, "solver": self.solver}


def finite_or_none(v: Any) -> float | None:
    """``float(v)`` when it is a finite number (booleans excluded), else None."""
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


# one sanitizer for every JSON the project writes
_jsonable = jsonable
