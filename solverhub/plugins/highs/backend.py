"""``HighsBackend``: the MIP backend over one reusable ``highspy.Highs`` object.

Measured traps handled here (see docs/backends.md):

* ``threads`` is process-global in HiGHS: the first backend of a process fixes it; every later
  ``Highs`` object is given the same value (a different one makes ``run()`` fail, and can hang).
* ``e.interrupt()`` in ``cbMipInterrupt`` leaves ``user_interrupt`` set inside the callback data,
  so every later ``run()`` on the object stops at once with status Interrupt; the callback here
  writes the current flag (True *or* False) on every call.
* HiGHS's feasibility jump heuristic (root, before the root LP) checks neither the time limit nor
  the interrupt callbacks; its work is capped at ``nnz << 10`` effort units, which took 16 s on a
  1000 x 80,000 set cover (800,000 non-zeros) with a 12 s limit. With ``fj_seconds_per_nnz`` set,
  a solve whose unfixed columns' non-zeros predict a longer worst case than ``fj_share`` of its time
  limit (scaled by the share of a core the process gets, measured once), or that is warm-started,
  runs without it (``info["feasibility_jump"]``).
* MIP presolve does not always honour the time limit either (it polls no callback): on the same set
  cover a warm-started sub-MIP with 25 % of its columns fixed and a 4 s limit spent 14 s in presolve
  ("Time limit reached in probing", then more presolve work; with presolve off the limit held). With
  ``presolve_guard``, once a warm-started solve with fixed columns spent longer than its limit before
  its first poll, later such solves of this backend run without presolve (``info["presolve"]``).
* ``info["max_poll_gap"]``: the longest stretch (seconds) between two interrupt polls of a solve,
  the end of the run included: how late an interrupt can be answered.
* ``pause()`` holds a running solve inside its next interrupt poll (the thread that runs it waits
  there, its presolved model, cut pool and tree kept) until ``resume()``; meanwhile *another*
  ``Highs`` object of the process may solve (measured: air04 held 4 s at 8 s while a second object
  solved, then it went on to the same optimum). A solve paused that way still counts the held time
  against its own ``time_limit`` (HiGHS's limits are wall clock). ``offer_solution(x)`` is handed to
  the search through HiGHS's user-solution callback.
* The ``objective_bound`` option is not a usable cutoff (it is compared in HiGHS's internal,
  presolved objective space: ignored on a minimisation, everything pruned on a maximisation), so
  ``cutoff`` adds an objective row for the duration of the solve.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from typing import Any, Callable

import numpy as np

from solverhub.core.backend import BackendResult, GatedPause, IncumbentCallback, MIPBackend, PauseGate
from solverhub.core.errors import BadInputError
from solverhub.core.interrupt import stop_requested
from solverhub.core.mip import MIPProblem
from solverhub.core.result import Status
from solverhub.plugins.highs import HIGHS_CAPABILITIES
from solverhub.plugins.highs.lpbound import lp_bound
from solverhub.plugins.mipfiles.cutoff import cutoff_row, round_integer_bounds

__all__ = ["HighsBackend", "HIGHS_CAPABILITIES", "process_threads", "check_highs_options"]

log = logging.getLogger(__name__)


_THREADS_LOCK = threading.Lock()
_PROCESS_THREADS: int | None = None

#: options the backend sets itself on every solve (not accepted in ``highs_options``)
_MANAGED = {"time_limit", "random_seed", "mip_max_nodes", "mip_rel_gap", "threads",
            "solve_relaxation", "output_flag", "log_to_console", "objective_bound"}

#: share of a solve's time limit that HiGHS's presolve gets (``presolve_time_share``, used by
#: Balans): its time checks are far apart (probing; other rules check nothing), so a presolve
#: that would take most of the limit ends seconds past it instead of at it
PRESOLVE_TIME_SHARE = 0.5

#: worst-case seconds of HiGHS's feasibility jump per non-zero (its cap is nnz << 10 effort units):
#: 16.2 s for 800,000 non-zeros measured on a loaded 2-core machine, rounded up
FJ_SECONDS_PER_NNZ = 2.5e-5

#: CPU seconds of HiGHS's MIP presolve per non-zero of the unfixed columns: fast0507 (409,349
#: non-zeros) spent 2.3 s of CPU in a presolve that polls no callback and overran a 5 s limit to
#: 10.8 s at a fifth of a core; rounded up (issue 21)
PRESOLVE_SECONDS_PER_NNZ = 6e-6


def process_threads(requested: int) -> int:
    """The HiGHS thread count of this process: fixed by the first call, returned afterwards."""
    global _PROCESS_THREADS
    with _THREADS_LOCK:
        if _PROCESS_THREADS is None:
            _PROCESS_THREADS = max(1, int(requested))
            # another highspy user in this process (Pyomo's "highs", say) may have started HiGHS's
            # global task scheduler with its own thread count; every later run() with ours then
            # fails with kError. Restart the scheduler once, before our first run.
            import highspy

            reset = getattr(highspy.Highs, "resetGlobalScheduler", None)
            if reset is not None:
                reset(True)
        elif int(requested) != _PROCESS_THREADS:
            log.warning("HiGHS 'threads' is process-global and already %d in this process; "
                        "the request for %d threads is ignored", _PROCESS_THREADS, requested)
        return _PROCESS_THREADS


def cpu_share(seconds: float = 0.03) -> float:
    """Share of a core this process gets now (CPU time / wall time of a short busy loop), in
    [0.05, 1]: on a machine loaded 4x over it is about 0.25, and uninterruptible work takes 4x as
    long as on a quiet one."""
    w0, c0 = time.perf_counter(), time.process_time()
    n = 0
    while time.perf_counter() - w0 < seconds:
        n += 1
    wall = time.perf_counter() - w0
    return float(min(max((time.process_time() - c0) / wall, 0.05), 1.0)) if wall > 0 else 1.0


def _mark_user_stop(res: BackendResult) -> None:
    """A solve stopped by the user's request is ``interrupted`` even with an incumbent (one stopped
    by the caller's own ``interrupt()`` or callback stays ``feasible``)."""
    if res.info.get("interrupted") and res.status == Status.FEASIBLE and stop_requested():
        res.status = Status.INTERRUPTED
        res.info["stopped_by_user"] = True


def _empty_model_result(problem: MIPProblem) -> BackendResult:
    """A model without columns: optimal at the offset when every (empty) row admits 0."""
    ok = bool(np.all(problem.row_lower <= 1e-9) and np.all(problem.row_upper >= -1e-9))
    if not ok:
        return BackendResult(Status.INFEASIBLE)
    return BackendResult(Status.OPTIMAL, objective=problem.offset, x=np.zeros(0),
                         bound=problem.offset)


def _set_option(h: Any, key: str, value: Any, who: str = "highs_options") -> None:
    st, otype = h.getOptionType(key)
    if getattr(st, "name", "") == "kError":
        raise BadInputError(f"{who}: unknown HiGHS option {key!r}")
    tname = getattr(otype, "name", "")
    try:
        if tname == "kBool":
            if isinstance(value, str):
                value = value.strip().lower() in ("1", "true", "on", "yes")
            value = bool(value)
        elif tname == "kInt":
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            value = int(value)
        elif tname == "kDouble":
            value = float(value)
        else:
            value = str(value)
    except (TypeError, ValueError):
        raise BadInputError(f"{who}: HiGHS option {key!r} got {value!r}, expected a "
                            f"{tname[1:].lower() or 'value'}") from None
    st = h.setOptionValue(key, value)
    if getattr(st, "name", "") == "kError":
        raise BadInputError(f"{who}: HiGHS rejected {key}={value!r} (out of range or not allowed)")


def check_highs_options(options: dict[str, Any], who: str = "highs_options") -> None:
    """Raise :class:`BadInputError` for an unknown HiGHS option or a bad value."""
    if not options:
        return
    from solverhub.plugins.mipfiles._highs import new_highs

    h = new_highs()
    try:
        for k, v in options.items():
            if k in _MANAGED and k != "threads":
                raise BadInputError(f"{who}: HiGHS option {k!r} is set by solverhub itself; use the "
                                    f"solver's own option instead")
            _set_option(h, k, v, who)
    finally:
        h.clear()


class HighsBackend(GatedPause, MIPBackend):
    """One ``highspy.Highs`` object holding the problem, reused across solves."""

    name = "highs"
    capabilities = HIGHS_CAPABILITIES

    def __init__(self, problem: MIPProblem, *, threads: int = 1, seed: int = 0,
                 verbose: bool = False, mip_rel_gap: float = 1e-4, presolve: str = "choose",
                 highs_options: dict[str, Any] | None = None,
                 fj_seconds_per_nnz: float | None = None, fj_share: float = 0.5,
                 presolve_guard: bool = False,
                 presolve_seconds_per_nnz: float | None = None,
                 presolve_share: float = 0.5,
                 presolve_time_share: float | None = None) -> None:
        super().__init__(problem, threads=threads, seed=seed, verbose=verbose)
        from solverhub.plugins.mipfiles._highs import new_highs
        from solverhub.plugins.mipfiles.io import to_highs_lp

        opts = dict(highs_options or {})
        if "threads" in opts:
            threads = int(opts.pop("threads"))
            self.threads = threads
        self._h = h = new_highs()
        if verbose:
            h.setOptionValue("output_flag", True)
        h.setOptionValue("threads", process_threads(threads))
        _set_option(h, "presolve", presolve, "highs presolve")
        self._presolve = str(h.getOptionValue("presolve")[1])
        self.presolve_guard = bool(presolve_guard)
        self.presolve_outlasted = False  # a restricted warm-started solve's set-up outlasted its limit
        for k, v in opts.items():
            if k in _MANAGED:
                raise BadInputError(f"highs_options: HiGHS option {k!r} is set by solverhub itself; "
                                    f"use the solver's own option instead")
            _set_option(h, k, v)
        self.default_gap = float(mip_rel_gap)
        self.default_heuristic_effort = float(h.getOptionValue("mip_heuristic_effort")[1])
        st = h.passModel(to_highs_lp(problem))
        if getattr(st, "name", "") == "kError":
            raise BadInputError(f"{problem.source or problem.name}: HiGHS rejected the model")
        self._n, self._m0 = problem.n, problem.m
        self._all_cols = np.arange(self._n, dtype=np.int32)
        self._lower = problem.col_lower.copy()
        self._upper = problem.col_upper.copy()
        self._bounds_dirty = np.zeros(self._n, dtype=bool)
        self._obj_dirty = False
        # current bounds and column non-zero counts: the feasibility-jump guard predicts its work
        self._cur_lower = self._lower.copy()
        self._cur_upper = self._upper.copy()
        self._col_nnz = np.diff(problem.A.tocsc().indptr).astype(np.int64)
        self.fj_seconds_per_nnz = fj_seconds_per_nnz
        self.fj_share = float(fj_share)
        # the guard's prediction is for a quiet machine: divided by the share of a core we get
        # (share_probe measures it: at the build, and again where presolve ends)
        self.share_probe: Callable[[], float] = cpu_share
        self.cpu_share = (self.share_probe() if fj_seconds_per_nnz is not None
                          or presolve_seconds_per_nnz is not None else 1.0)
        # presolve polls no callback and not always the limit: with a rate set, a solve whose
        # predicted presolve (free non-zeros x rate / core share) exceeds presolve_share of its
        # limit (a solve's own presolve_share argument, else this default) runs without it
        # (info["presolve"])
        self.presolve_seconds_per_nnz = presolve_seconds_per_nnz
        self.presolve_share = float(presolve_share)
        self._fj_user = bool(h.getOptionValue("mip_heuristic_run_feasibility_jump")[1])
        self._rows: list[int] = []        # handles of added rows, in HiGHS row order after m0
        self._next_handle = 0
        # callbacks: subscribed once; the per-solve state lives on self
        self._interrupt = False
        self._on_incumbent: IncumbentCallback | None = None
        self._t0 = 0.0
        self._n_improving = 0
        self._cb_error: BaseException | None = None
        self._progress: tuple[float, float, float] | None = None  # (perf_counter, primal, dual)
        self._nodes: int | None = None  # branch-and-bound nodes of the running solve at its last poll
        self._first_poll: float | None = None  # first MIP poll of the running solve (after presolve)
        self._last_poll: float | None = None   # any interrupt poll (MIP, simplex, IPM) of the solve
        self._max_poll_gap = 0.0
        self._fj_on = self._fj_user
        # the LP solvers poll their own interrupt callbacks: without them a stop request waits for
        # the end of a long (root) LP, e.g. seconds on fast0507
        h.cbMipInterrupt.subscribe(self._cb_mip_interrupt)
        for cb in (h.cbSimplexInterrupt, h.cbIpmInterrupt):
            cb.subscribe(self._cb_interrupt)
        h.cbMipImprovingSolution.subscribe(self._cb_improving)
        self._pause_gate = PauseGate()   # pause(): the poll callbacks wait at it
        self._user_solution: np.ndarray | None = None
        h.cbMipUserSolution.subscribe(self._cb_user_solution)
        # the feasibility jump runs after presolve, which can take most of the limit (probing on
        # gen-cflss-400: 20-27 s of 27 under load): with the guard on, the end of presolve is
        # seen through HiGHS's log (the only callback between presolve and the heuristic) and the
        # heuristic is switched off there if it no longer fits in the time left
        self._fj_deadline: float | None = None  # perf_counter deadline of the running solve
        self._fj_rechecked = False
        self._fj_late_off = False
        # presolve_time_share: HiGHS's time limit is this share of the solve's limit until presolve
        # ends (seen in the log, as above), then the whole limit again: presolve stops early
        # instead of late (its checks are seconds apart under load: 3.5-13 s past the limit)
        self.presolve_time_share = presolve_time_share
        self._full_limit: float | None = None  # the limit to restore at the end of presolve
        if (fj_seconds_per_nnz is not None and self._fj_user) or presolve_time_share is not None:
            if not verbose:  # the logging callback fires only where HiGHS writes its log
                h.setOptionValue("output_flag", True)
                h.setOptionValue("log_to_console", False)
                if "log_file" not in opts:  # a user's log file gets the log instead
                    h.setOptionValue("log_file", os.devnull)
            h.cbLogging.subscribe(self._cb_logging)

    # ------------------------------------------------------------------ callbacks
    def _cb_interrupt(self, e: Any) -> None:
        # write the flag every time: a True left in data_in would stop every later run; a user's
        # stop request (Ctrl-C, solverhub.core.interrupt) stops every solve
        try:
            now = time.perf_counter()
            if self._last_poll is not None:
                self._max_poll_gap = max(self._max_poll_gap, now - self._last_poll)
            self._last_poll = now
            stop = self._interrupt or stop_requested()
            if not stop and self._pause_gate.closed:
                stop = self._hold()
        except BaseException as exc:  # a second Ctrl-C lands here: stop, never unwind through C++
            self._cb_error = exc
            self._interrupt = stop = True
        e.interrupt(bool(stop))

    def _hold(self) -> bool:
        """Wait at the pause gate (inside a poll); True when a stop was asked meanwhile."""
        stop = self._pause_gate.hold(lambda: self._interrupt or stop_requested())
        # the held time is no unresponsive stretch: measure from here
        self._last_poll = time.perf_counter()
        return stop

    #: HiGHS log lines written after presolve and before the root node's feasibility jump
    _AFTER_PRESOLVE = ("Presolve reductions", "Solving MIP model", "Presolve: Optimal",
                       "Presolve : Reductions")

    def _cb_logging(self, e: Any) -> None:
        """End of presolve (a log line that follows it): give the solve its whole time limit back
        (``presolve_time_share``) and switch the feasibility jump off for this solve where its
        predicted worst case no longer fits in ``fj_share`` of the time left."""
        if (self._fj_deadline is None or self._fj_rechecked) and self._full_limit is None:
            return
        try:
            msg = str(getattr(e, "message", "")).lstrip()
            if not msg.startswith(self._AFTER_PRESOLVE):
                return
            if self._full_limit is not None:
                # HiGHS's MIP solver reads its options by reference: the rest of the solve sees it
                self._h.setOptionValue("time_limit", self._full_limit)
                self._full_limit = None
            if self._fj_deadline is None or self._fj_rechecked:
                return
            self._fj_rechecked = True
            # the core share now, not at the build: a 30 ms sample taken once can be far off on
            # a loaded machine (gen-cflss-400: the heuristic ran after a long presolve and ended
            # 1.8-2.7 s past the limit)
            self.cpu_share = self.share_probe()
            left = self._fj_deadline - time.perf_counter()
            if self._fj_worst_case() > self.fj_share * max(left, 0.0):
                # HiGHS's MIP solver reads its options by reference: this solve's root sees it
                self._h.setOptionValue("mip_heuristic_run_feasibility_jump", False)
                self._fj_late_off = True
        except BaseException as exc:  # never unwind through C++
            self._cb_error = exc

    def _cb_user_solution(self, e: Any) -> None:
        x, self._user_solution = self._user_solution, None
        if x is None:
            return
        try:
            e.data_in.setSolution(x)
        except BaseException as exc:  # never unwind through C++
            self._cb_error = exc

    def _cb_mip_interrupt(self, e: Any) -> None:
        self._cb_interrupt(e)
        try:  # the MIP poll carries the search's bounds (the LP polls do not)
            out = e.data_out
            self._progress = (time.perf_counter(), float(out.mip_primal_bound),
                              float(out.mip_dual_bound))
            self._nodes = int(out.mip_node_count)
            if self._first_poll is None:
                self._first_poll = self._progress[0]
        except BaseException:  # never unwind through C++
            pass

    def _cb_improving(self, e: Any) -> None:
        self._n_improving += 1
        cb = self._on_incumbent
        if cb is None or self._interrupt:
            # HiGHS only stops at its next interrupt check: after a stop request the user's
            # callback is not called again (the returned solution may still be better)
            return
        out = e.data_out
        try:
            stop = cb(time.perf_counter() - self._t0, float(out.objective_function_value),
                      np.array(out.mip_solution, dtype=np.float64, copy=True)[: self._n])
        except BaseException as exc:  # never let an exception unwind through C++
            self._cb_error = exc
            stop = True
        if stop:
            self._interrupt = True

    def interrupt(self) -> None:
        self._interrupt = True

    def offer_solution(self, x: np.ndarray) -> None:
        x = self._offered_vector(x)
        self._user_solution = x.copy()

    def progress(self) -> tuple[float, float, float] | None:
        """(perf_counter time, primal bound, dual bound) at the running solve's last interrupt poll
        (current objective, problem sense), or None before the first poll of a solve."""
        return self._progress

    def poll_stats(self) -> dict[str, Any]:
        """Of the running (or last) solve: seconds to its first MIP poll (None before it), the longest
        stretch between polls so far, whether feasibility jump is on in it and its predicted worst
        case (one of those stretches may be the heuristic's)."""
        first = self._first_poll
        return {"setup_seconds": None if first is None else first - self._t0,
                "max_poll_gap": self._max_poll_gap, "feasibility_jump": self._fj_on,
                "feasibility_jump_worst_case": self._fj_worst_case() if self._fj_on else 0.0}

    def nodes(self) -> int | None:
        """Branch-and-bound nodes of the running (or last) solve at its last MIP poll; 0 while it is
        still at the root node, None before its first poll."""
        return self._nodes

    def free_nonzeros(self) -> int:
        """Non-zeros of the columns not fixed by the current bounds."""
        return int(self._col_nnz[self._cur_lower < self._cur_upper].sum())

    def feasibility_jump_allowed(self, time_limit: float | None, warm_started: bool) -> bool:
        """Guarded (``fj_seconds_per_nnz`` set): only when its predicted worst case fits in
        ``fj_share`` of the limit, and never in a warm-started solve (it searches for a first
        feasible point, which a warm start already is; on fast0507 a warm-started full solve spent
        10 s past its limit in it)."""
        if not self._fj_user:
            return False
        if self.fj_seconds_per_nnz is None:
            return True
        if warm_started:
            return False
        if time_limit is None or not math.isfinite(time_limit):
            return True
        return self._fj_worst_case() <= self.fj_share * float(time_limit)

    def _fj_worst_case(self) -> float:
        """Predicted worst-case seconds of feasibility jump on the current (unfixed) model."""
        rate = self.fj_seconds_per_nnz if self.fj_seconds_per_nnz is not None else FJ_SECONDS_PER_NNZ
        return rate * self.free_nonzeros() / self.cpu_share

    def _presolve_fits(self, time_limit: float | None, share: float | None = None) -> bool:
        """True unless a presolve rate is set and the predicted presolve of the unfixed model does
        not fit in ``share`` (the solve's ``presolve_share``, else the backend's) of the limit
        (only where presolve is on at all)."""
        if self.presolve_seconds_per_nnz is None or self._presolve == "off":
            return True
        if time_limit is None or not math.isfinite(time_limit):
            return True
        predicted = self.presolve_seconds_per_nnz * self.free_nonzeros() / self.cpu_share
        share = self.presolve_share if share is None else float(share)
        return predicted <= share * float(time_limit)

    def _presolve_allowed(self, warm_started: bool) -> bool:
        """With ``presolve_guard``: no presolve in a warm-started solve with fixed columns (a
        sub-MIP) once such a solve's presolve outlasted its time limit in this backend."""
        if not (self.presolve_guard and self.presolve_outlasted and warm_started):
            return True
        return not bool(self._bounds_dirty.any())  # bounds changed: a restricted sub-MIP

    # ------------------------------------------------------------------ modifying
    def set_col_bounds(self, idx: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        idx = np.asarray(idx, dtype=np.int32).ravel()
        if idx.size == 0:
            return
        lo, up = round_integer_bounds(
            idx, np.broadcast_to(np.asarray(lower, dtype=np.float64), idx.shape),
            np.broadcast_to(np.asarray(upper, dtype=np.float64), idx.shape), self.problem.integrality)
        self._h.changeColsBounds(idx.size, idx, lo, up)
        self._bounds_dirty[idx] = True
        self._cur_lower[idx], self._cur_upper[idx] = lo, up

    def add_row(self, idx: np.ndarray, vals: np.ndarray, lower: float, upper: float) -> int:
        idx, vals, lo, up = self.row_arrays(idx, vals, lower, upper, np.int32)
        self._h.addRow(lo, up, idx.size, idx, vals)
        handle = self._next_handle
        self._next_handle += 1
        self._rows.append(handle)
        return handle

    def remove_rows(self, handles: list[int]) -> None:
        wanted = set(int(h) for h in handles)
        pos = [i for i, hd in enumerate(self._rows) if hd in wanted]
        if not pos:
            return
        rows = np.asarray([self._m0 + i for i in pos], dtype=np.int32)
        self._h.deleteRows(rows.size, rows)
        self._rows = [hd for hd in self._rows if hd not in wanted]

    def set_objective(self, c: np.ndarray, offset: float = 0.0) -> None:
        c = np.asarray(c, dtype=np.float64).ravel()
        if c.size != self._n:
            raise BadInputError(f"set_objective: {c.size} coefficients for {self._n} columns")
        self._h.changeColsCost(self._n, self._all_cols, c)
        self._h.changeObjectiveOffset(float(offset))
        self._obj_dirty = True

    def restore(self) -> None:
        if self._bounds_dirty.any():
            idx = np.flatnonzero(self._bounds_dirty).astype(np.int32)
            self._h.changeColsBounds(idx.size, idx, self._lower[idx], self._upper[idx])
            self._bounds_dirty[:] = False
            self._cur_lower[idx], self._cur_upper[idx] = self._lower[idx], self._upper[idx]
        if self._rows:
            self.remove_rows(list(self._rows))
        if self._obj_dirty:
            self._h.changeColsCost(self._n, self._all_cols, self.problem.c)
            self._h.changeObjectiveOffset(float(self.problem.offset))
            self._obj_dirty = False

    # ------------------------------------------------------------------ solving
    def _current_objective(self) -> tuple[np.ndarray, float]:
        lp = self._h.getLp()
        return np.asarray(lp.col_cost_, dtype=np.float64), float(lp.offset_)

    def solve(self, time_limit: float | None = None, *, warm_start: np.ndarray | None = None,
              cutoff: float | None = None, emphasis: str = "default",
              on_incumbent: IncumbentCallback | None = None,
              node_limit: int | None = None, seed: int | None = None,
              relative_gap: float | None = None,
              presolve_share: float | None = None) -> BackendResult:
        h = self._h
        if emphasis not in ("default", "feasibility"):
            raise BadInputError(f"emphasis must be 'default' or 'feasibility', got {emphasis!r}")
        if self._n == 0:  # HiGHS answers kModelEmpty; the answer is known without it
            return _empty_model_result(self.problem)
        h.setOptionValue("time_limit", math.inf if time_limit is None else max(0.0, float(time_limit)))
        h.setOptionValue("random_seed", int(self.seed if seed is None else seed) % 2147483647)
        h.setOptionValue("mip_max_nodes", 2147483647 if node_limit is None else max(0, int(node_limit)))
        h.setOptionValue("mip_rel_gap", self.default_gap if relative_gap is None else float(relative_gap))
        h.setOptionValue("mip_heuristic_effort", self.default_heuristic_effort if emphasis == "default"
                         else max(0.3, self.default_heuristic_effort))
        fj = self._fj_on = self.feasibility_jump_allowed(time_limit, warm_start is not None)
        h.setOptionValue("mip_heuristic_run_feasibility_jump", fj)
        # re-checked at the end of presolve (_cb_logging) where it is on, guarded and limited
        self._fj_rechecked = self._fj_late_off = False
        self._fj_deadline = (time.perf_counter() + float(time_limit)
                             if fj and self.fj_seconds_per_nnz is not None and time_limit is not None
                             and math.isfinite(time_limit) else None)
        presolve_on = self._presolve_allowed(warm_start is not None)
        presolve_fits = presolve_on and self._presolve_fits(time_limit, presolve_share)
        if not presolve_on or not presolve_fits:
            h.setOptionValue("presolve", "off")
            presolve_on = False
        self._full_limit = None
        if (presolve_on and self.presolve_time_share is not None and self._presolve != "off"
                and time_limit is not None and math.isfinite(time_limit)):
            self._full_limit = max(0.0, float(time_limit))
            h.setOptionValue("time_limit", self.presolve_time_share * self._full_limit)
        cut_handle = None
        if cutoff is not None and math.isfinite(cutoff):
            c, off = self._current_objective()
            idx, vals, lo, up = cutoff_row(c, off, self.problem.integrality, cutoff, self.problem.sense)
            cut_handle = self.add_row(idx, vals, lo, up)
        if warm_start is not None:
            self._offer(warm_start)
        self._on_incumbent = on_incumbent
        self._interrupt = False
        self._cb_error = None
        self._n_improving = 0
        self._progress = self._first_poll = self._nodes = None
        self._max_poll_gap = 0.0
        self._t0 = t0 = time.perf_counter()
        self._last_poll = t0
        try:
            run_status = h.run()
            runtime = time.perf_counter() - t0
            res = self._collect(run_status, runtime, time_limit)
            _mark_user_stop(res)
        finally:
            self._on_incumbent = None
            if cut_handle is not None:
                self.remove_rows([cut_handle])
            if not presolve_on:
                h.setOptionValue("presolve", self._presolve)
        end = time.perf_counter()
        # the longest stretch without a poll, from the start (set-up) to the end: how late this
        # solve could have answered an interrupt
        res.info["max_poll_gap"] = max(self._max_poll_gap, end - (self._last_poll or t0))
        first = self._first_poll if self._first_poll is not None else end
        if (presolve_on and warm_start is not None and self._bounds_dirty.any()
                and time_limit is not None and first - t0 > max(2.0 * float(time_limit),
                                                                float(time_limit) + 1.0)):
            # its set-up ran far past its whole limit (no search at all): not a short limit's noise
            self.presolve_outlasted = True
        if not presolve_on:
            res.info["presolve"] = ("off: predicted to outlast the time limit" if not presolve_fits
                                    else "off: an earlier sub-MIP's presolve outlasted its time "
                                         "limit")
        if cutoff is not None:
            res.info["cutoff"] = float(cutoff)
        if self._first_poll is not None:
            # presolve and set-up before the search polls its interrupt callback: work that no
            # limit or interrupt shortens (a caller can keep that much time back)
            res.info["setup_seconds"] = self._first_poll - t0
        self._fj_deadline = None
        if self._full_limit is not None:  # no end of presolve seen: HiGHS stopped in it
            res.info["presolve_time_capped"] = True
            self._full_limit = None
        if self._fj_late_off:
            res.info["feasibility_jump"] = "off: presolve left too little of the time limit"
        elif fj != self._fj_user:
            res.info["feasibility_jump"] = ("off: warm-started" if warm_start is not None else
                                            "off: predicted to outlast the time limit")
        if self._cb_error is not None:
            res.info["callback_error"] = f"{type(self._cb_error).__name__}: {self._cb_error}"
        return res

    def _offer(self, x: np.ndarray) -> None:
        import highspy

        x = np.asarray(x, dtype=np.float64).ravel()
        if x.size != self._n:
            raise BadInputError(f"warm_start has {x.size} entries, expected {self._n}")
        sol = highspy.HighsSolution()
        sol.col_value = x.tolist()
        sol.value_valid = True
        self._h.setSolution(sol)

    def _solution(self) -> np.ndarray | None:
        info = self._h.getInfo()
        if int(info.primal_solution_status) != 2:
            return None
        sol = self._h.getSolution()
        if not sol.value_valid:
            return None
        return np.asarray(sol.col_value, dtype=np.float64)[: self._n].copy()

    def _collect(self, run_status: Any, runtime: float, time_limit: float | None) -> BackendResult:
        h = self._h
        ms = h.getModelStatus()
        name = getattr(ms, "name", str(ms))
        info = h.getInfo()
        x = self._solution()
        obj = float(info.objective_function_value) if x is not None else None
        stats = {"model_status": name, "nodes": int(info.mip_node_count),
                 "lp_iterations": int(info.simplex_iteration_count),
                 "improving_solutions": self._n_improving}
        lp_note, lp_proved = None, True
        bound: float | None
        if self.problem.integrality.any():
            bound = float(info.mip_dual_bound)
            bound = bound if math.isfinite(bound) else None
        else:
            # a pure LP: mip_dual_bound stays 0 there; the bound is the dual objective
            bound, lp_note, lp_proved = lp_bound(h, name, obj, self.problem.sense)
        if name == "kOptimal":
            st = Status.OPTIMAL if x is not None else Status.ERROR
        elif name == "kInfeasible":
            st, x, obj = Status.INFEASIBLE, None, None
        elif name == "kUnbounded":
            # a feasible point of an unbounded model is no answer, and no bound holds
            st, x, obj, bound = Status.UNBOUNDED, None, None, None
        elif name == "kUnboundedOrInfeasible":
            st = self._resolve_unbounded_or_infeasible(time_limit, runtime)
            stats["resolved_from"] = name
            x = obj = bound = None
        elif name == "kTimeLimit":
            st = Status.TIME_LIMIT  # with the incumbent, if there is one (it is then feasible)
        elif name in ("kIterationLimit", "kSolutionLimit"):
            st = Status.ITERATION_LIMIT  # node and iteration limits, likewise
        elif name in ("kObjectiveBound", "kObjectiveTarget"):
            # the caller's cutoff or target was reached: a normal end when it left a solution
            st = Status.FEASIBLE if x is not None else Status.ITERATION_LIMIT
        elif name in ("kInterrupt", "kHighsInterrupt"):
            st = Status.FEASIBLE if x is not None else Status.INTERRUPTED
            stats["interrupted"] = True
        else:
            st = Status.FEASIBLE if x is not None else Status.ERROR
            stats["error"] = f"HiGHS model status {name} (run status {run_status})"
        if lp_note is not None:
            stats["lp_bound_note"] = lp_note
        if not lp_proved and st == Status.OPTIMAL:  # optimal means proved
            st = Status.FEASIBLE
        return BackendResult(st, objective=obj, x=x, bound=bound if st != Status.INFEASIBLE else None,
                             runtime=runtime, info=stats)

    def _resolve_unbounded_or_infeasible(self, time_limit: float | None, spent: float) -> Status:
        """HiGHS said "unbounded or infeasible": a feasibility solve (zero objective) tells."""
        h = self._h
        c, off = self._current_objective()
        h.changeColsCost(self._n, self._all_cols, np.zeros(self._n))
        try:
            if time_limit is not None:
                h.setOptionValue("time_limit", max(1.0, float(time_limit) - spent))
            h.run()
            name = getattr(h.getModelStatus(), "name", "")
        finally:
            h.changeColsCost(self._n, self._all_cols, c)
            h.changeObjectiveOffset(off)
        if name == "kInfeasible":
            return Status.INFEASIBLE
        if name == "kOptimal":
            return Status.UNBOUNDED  # feasible, and the relaxation has an improving ray
        return Status.TIME_LIMIT

    def solve_relaxation(self, time_limit: float | None = None) -> BackendResult:
        h = self._h
        h.setOptionValue("time_limit", math.inf if time_limit is None else float(time_limit))
        h.setOptionValue("solve_relaxation", True)
        self._interrupt = False
        t0 = time.perf_counter()
        try:
            h.run()
        finally:
            h.setOptionValue("solve_relaxation", False)
        runtime = time.perf_counter() - t0
        name = getattr(h.getModelStatus(), "name", "")
        info = h.getInfo()
        stats = {"model_status": name, "lp_iterations": int(info.simplex_iteration_count)}
        if name == "kOptimal":
            x = np.asarray(h.getSolution().col_value, dtype=np.float64)[: self._n].copy()
            obj = float(info.objective_function_value)
            bound, note, proved = lp_bound(h, name, obj, self.problem.sense)
            if note is not None:
                stats["lp_bound_note"] = note
            return BackendResult(Status.OPTIMAL if proved else Status.FEASIBLE, obj, x, bound,
                                 runtime, stats)
        if name == "kInfeasible":
            return BackendResult(Status.INFEASIBLE, runtime=runtime, info=stats)
        if name in ("kUnbounded", "kUnboundedOrInfeasible"):
            # an LP that is unbounded-or-infeasible: retry without presolve to tell them apart
            if name == "kUnboundedOrInfeasible":
                pre = h.getOptionValue("presolve")[1]
                h.setOptionValue("presolve", "off")
                h.setOptionValue("solve_relaxation", True)
                try:
                    h.run()
                finally:
                    h.setOptionValue("solve_relaxation", False)
                    h.setOptionValue("presolve", pre)
                name = getattr(h.getModelStatus(), "name", "")
                stats["resolved_from"] = "kUnboundedOrInfeasible"
                if name == "kInfeasible":
                    return BackendResult(Status.INFEASIBLE, runtime=runtime, info=stats)
            return BackendResult(Status.UNBOUNDED, runtime=runtime, info=stats)
        if name == "kTimeLimit":
            return BackendResult(Status.TIME_LIMIT, runtime=runtime, info=stats)
        if name in ("kInterrupt", "kHighsInterrupt"):  # the user's stop request (Ctrl-C)
            stats["interrupted"] = True
            return BackendResult(Status.INTERRUPTED, runtime=runtime, info=stats)
        stats["error"] = f"HiGHS model status {name}"
        return BackendResult(Status.ERROR, runtime=runtime, info=stats)

    def close(self) -> None:
        h, self._h = getattr(self, "_h", None), None
        if h is not None:
            try:
                h.cbMipInterrupt.unsubscribe(self._cb_mip_interrupt)
                for cb in (h.cbSimplexInterrupt, h.cbIpmInterrupt):
                    cb.unsubscribe(self._cb_interrupt)
                h.cbMipImprovingSolution.unsubscribe(self._cb_improving)
                if self.fj_seconds_per_nnz is not None or self.presolve_time_share is not None:
                    h.cbLogging.unsubscribe(self._cb_logging)
            except Exception:
                pass
            h.clear()
