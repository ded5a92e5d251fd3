"""The MIP backend interface used by large-neighbourhood search (Balans) and by the backend solvers.

A backend owns one solver object built once from a :class:`MIPProblem` and reused for every
sub-MIP: restricting the model (bounds, extra rows, another objective) and undoing it is cheap,
building a new solver object per iteration is not (HiGHS leaks memory when many are created, and
its ``threads`` option is process-global: set once per process).

All objective values are in the backend's *current* objective and the problem's own sense.
"""

from __future__ import annotations

import abc
import contextlib
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np

from solverhub.core.errors import BadInputError
from solverhub.core.mip import MIPProblem
from solverhub.core.result import Status

__all__ = ["BackendResult", "MIPBackend", "GatedPause", "IncumbentCallback", "CAPABILITIES",
           "PauseGate", "solve_whole_model"]

#: capability names a backend may declare (BackendSpec.capabilities)
CAPABILITIES = frozenset({
    "warm_start",       # solve(warm_start=x) uses x as a starting incumbent
    "bounds",           # set_col_bounds / restore
    "rows",             # add_row / remove_rows
    "objective",        # set_objective
    "relaxation",       # solve_relaxation
    "dual_bound",       # BackendResult.bound is a valid dual bound
    "interrupt",        # interrupt() stops a running solve from another thread or a callback
    "incumbent_callback",  # solve(on_incumbent=...) reports improving solutions as they are found
    "cutoff",           # solve(cutoff=v) prunes solutions not better than v
    "pause",            # pause()/resume() hold a running solve at its next poll and let it go on
                        # (its tree kept), is_paused() tells when it holds; offer_solution(x)
                        # hands the running or paused search a solution (needs "interrupt")
})

#: called with (seconds since the solve started, objective, x) at each improving solution; return
#: True to stop the solve
IncumbentCallback = Callable[[float, float, np.ndarray], bool | None]


class PauseGate:
    """The gate behind the ``pause`` capability: a backend's poll callback (running in the solve's
    thread) waits in :meth:`hold` while the gate is closed, keeping the search's tree; another
    thread closes it (:meth:`pause`), opens it (:meth:`resume`) and asks whether the search is
    held (:meth:`is_paused`). One implementation for every backend that can hold a solve."""

    def __init__(self) -> None:
        self._open = threading.Event()
        self._open.set()
        self._held = threading.Event()   # set while a poll waits at the gate

    def pause(self) -> None:
        self._open.clear()

    def resume(self) -> None:
        self._held.clear()   # not paused from now on, even before the held poll wakes up
        self._open.set()

    def is_paused(self) -> bool:
        return self._held.is_set()

    @property
    def closed(self) -> bool:
        """A pause was asked: the next poll should :meth:`hold`."""
        return not self._open.is_set()

    def hold(self, stop: Callable[[], bool]) -> bool:
        """Wait at the gate (inside a poll) until it opens or ``stop()`` says so; returns
        ``stop()``."""
        self._held.set()
        try:
            while not self._open.wait(0.02):
                if stop():
                    break
        finally:
            self._held.clear()
        return stop()


@dataclass
class BackendResult:
    """Outcome of one backend solve. ``status`` is OPTIMAL (proved), TIME_LIMIT or ITERATION_LIMIT
    (a time, node or iteration limit reached, with or without a solution), FEASIBLE (a solution,
    not proved, the solve ended otherwise: the caller's own stop or cutoff), INFEASIBLE,
    UNBOUNDED, INTERRUPTED (a stop request) or ERROR. ``x`` is set whenever a solution exists."""

    status: Status
    objective: float | None = None
    x: np.ndarray | None = None
    bound: float | None = None
    runtime: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def has_solution(self) -> bool:
        return self.x is not None


class MIPBackend(abc.ABC):
    """A reusable MIP solver object over one problem. Subclasses implement the abstract methods;
    modifications accumulate until :meth:`restore` (or the :meth:`modified` context) undoes them."""

    name: str = "backend"
    capabilities: frozenset[str] = frozenset()

    def __init__(self, problem: MIPProblem, *, threads: int = 1, seed: int = 0,
                 verbose: bool = False) -> None:
        problem.validate()  # a problem edited after construction fails here, naming the field
        self.problem = problem
        self.threads = threads
        self.seed = seed
        self.verbose = verbose

    # ------------------------------------------------------------------ solving
    @abc.abstractmethod
    def solve(self, time_limit: float | None = None, *, warm_start: np.ndarray | None = None,
              cutoff: float | None = None, emphasis: str = "default",
              on_incumbent: IncumbentCallback | None = None,
              node_limit: int | None = None, seed: int | None = None,
              relative_gap: float | None = None,
              presolve_share: float | None = None) -> BackendResult:
        """Solve the current (possibly restricted) model within ``time_limit`` seconds.

        ``warm_start`` is a full-length solution offered as a starting incumbent (ignored where it
        violates the current restrictions); ``cutoff`` is an objective value that solutions must
        beat; ``emphasis`` is ``"default"`` or ``"feasibility"`` (first solution fast).

        ``presolve_share``: a backend whose presolve does not keep the time limit and that
        predicts its duration (HiGHS with ``presolve_seconds_per_nnz``) runs this solve without
        presolve where the prediction exceeds this share of ``time_limit``; None: the backend's own
        default share. Backends whose presolve keeps the limit (SCIP checks it between presolve
        rounds) or that predict nothing (OR-Tools) accept and ignore it."""

    @abc.abstractmethod
    def solve_relaxation(self, time_limit: float | None = None) -> BackendResult:
        """Solve the LP relaxation of the current model (integrality dropped)."""

    def interrupt(self) -> None:
        """Ask a running solve to stop as soon as it can (thread-safe)."""
        raise NotImplementedError(f"backend {self.name} cannot be interrupted")

    def progress(self) -> tuple[float, float, float] | None:
        """(time.perf_counter(), primal bound, dual bound) of the running solve as last seen, or
        None (no report yet, or a backend that does not report). Thread-safe to read."""
        return None

    def pause(self) -> None:
        """("pause") Hold the running solve at its next poll, until :meth:`resume` (thread-safe).
        A solve started while paused holds at its first poll."""
        raise NotImplementedError(f"backend {self.name} cannot pause a solve")

    def resume(self) -> None:
        """("pause") Let a paused solve go on where it stopped (thread-safe)."""
        raise NotImplementedError(f"backend {self.name} cannot pause a solve")

    def is_paused(self) -> bool:
        """("pause") True while a solve is held by :meth:`pause`."""
        return False

    def offer_solution(self, x: np.ndarray) -> None:
        """("pause") Hand the running (or paused) search a full-length solution found elsewhere;
        it takes it at its next chance if feasible and better than its own (thread-safe)."""
        raise NotImplementedError(f"backend {self.name} cannot take solutions while it runs")

    def _offered_vector(self, x: np.ndarray) -> np.ndarray:
        """``x`` of :meth:`offer_solution` as a flat float array of the problem's length."""
        x = np.asarray(x, dtype=np.float64).ravel()
        if x.size != self.problem.n:
            raise BadInputError(f"offer_solution: {x.size} entries, expected {self.problem.n}")
        return x

    # ------------------------------------------------------------------ modifying
    @abc.abstractmethod
    def set_col_bounds(self, idx: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        """Set bounds of columns ``idx`` (fix with lower == upper)."""

    @abc.abstractmethod
    def add_row(self, idx: np.ndarray, vals: np.ndarray, lower: float, upper: float) -> int:
        """Add the row ``lower <= sum(vals * x[idx]) <= upper``; returns a handle for remove_rows."""

    @abc.abstractmethod
    def remove_rows(self, handles: list[int]) -> None:
        """Remove rows added by :meth:`add_row`."""

    @abc.abstractmethod
    def set_objective(self, c: np.ndarray, offset: float = 0.0) -> None:
        """Replace the objective coefficients (same sense as the problem)."""

    @abc.abstractmethod
    def restore(self) -> None:
        """Undo every modification: original bounds, rows and objective."""

    @staticmethod
    def row_arrays(idx: np.ndarray, vals: np.ndarray, lower: float | None, upper: float | None,
                   index_dtype: Any = np.int64) -> tuple[np.ndarray, np.ndarray, float, float]:
        """Checked arguments of :meth:`add_row` for implementations: flat index and value arrays of
        equal length, and bounds with ``None`` read as infinite."""
        idx = np.asarray(idx, dtype=index_dtype).ravel()
        vals = np.asarray(vals, dtype=np.float64).ravel()
        if idx.size != vals.size:
            raise BadInputError(f"add_row: {idx.size} indices but {vals.size} values")
        lo = -np.inf if lower is None else float(lower)
        up = np.inf if upper is None else float(upper)
        return idx, vals, lo, up

    def fix(self, idx: np.ndarray, values: np.ndarray) -> None:
        """Fix columns ``idx`` to ``values``."""
        values = np.asarray(values, dtype=np.float64)
        self.set_col_bounds(idx, values, values)

    @contextlib.contextmanager
    def modified(self) -> Iterator["MIPBackend"]:
        """``with backend.modified(): backend.fix(...); backend.solve(...)`` -- undone on exit."""
        try:
            yield self
        finally:
            self.restore()

    def close(self) -> None:  # noqa: B027 (optional hook: the default has nothing to release)
        """Release the solver object (optional)."""


class GatedPause:
    """``pause``/``resume``/``is_paused`` of a backend whose polls wait at ``self._pause_gate``
    (a :class:`PauseGate`); listed before :class:`MIPBackend` among the bases."""

    _pause_gate: PauseGate

    def pause(self) -> None:
        self._pause_gate.pause()

    def resume(self) -> None:
        self._pause_gate.resume()

    def is_paused(self) -> bool:
        return self._pause_gate.is_paused()


def solve_whole_model(backend: MIPBackend, time_limit: float | None, notifier: Any, *,
                      live_incumbents: bool = True, **solve_kwargs: Any) -> Any:
    """One backend solve of the whole model as a solver's :class:`~solverhub.core.result.Result`
    (the ``highs``, ``scip`` and ``ortools-*`` solvers); closes the backend.

    With ``live_incumbents`` the backend reports improving solutions while it runs and each one is
    a trajectory point; without (OR-Tools), the one point is the end, not the first find, and the
    result says ``incumbents_unknown``."""
    from solverhub.core.result import Result

    trajectory: list[tuple[float, float]] = []

    def on_incumbent(t: float, obj: float, x: Any) -> None:
        if trajectory and trajectory[-1][1] == obj:
            return
        trajectory.append((t, obj))
        notifier.incumbent(t, obj, None)

    try:
        if live_incumbents:
            solve_kwargs["on_incumbent"] = on_incumbent
        br = backend.solve(time_limit, **solve_kwargs)
    finally:
        backend.close()
    if br.objective is not None and (not trajectory or trajectory[-1][1] != br.objective):
        trajectory.append((br.runtime, br.objective))
        if not live_incumbents:
            notifier.incumbent(br.runtime, br.objective, br.bound)
    res = Result(br.status, objective=br.objective, bound=br.bound, x=br.x, runtime=br.runtime,
                 iterations=int(br.info.get("nodes", 0)), trajectory=trajectory,
                 info=dict(br.info),
                 incumbents_unknown=not live_incumbents and br.objective is not None)
    if br.status == Status.ERROR:
        res.error = str(br.info.get("error", br.info.get("solver_status", "backend error")))
    return res
