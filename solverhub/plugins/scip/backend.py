"""``ScipBackend``: the MIP backend over one reusable ``pyscipopt.Model`` (SCIP 10 in the wheels).

How the interface maps onto SCIP (measured with PySCIPOpt 6.3 / SCIP 10, docs/backends.md):

* The model is read once from a temporary MPS file written by solverhub's own writer (SCIP's
  reader is C; building 60k-column models expression by expression in Python is not). Columns keep
  the problem's order (checked by name).
* Every solve runs ``optimizeNogil`` (the GIL is released: a timer, a watchdog or a second model
  run meanwhile). Modifications after a solve first go back to SCIP's problem stage
  (``freeTransform``); parameters are reset to solverhub's base set before every solve.
* One event handler (``_Poll``) catches BESTSOLFOUND (improving solutions, reported with their time
  to ``on_incumbent``), NODESOLVED, LPSOLVED and PRESOLVEROUND (polls). At each poll it answers an
  interrupt request (``interruptSolve`` from inside the solve), holds the solve while it is paused
  (the solving thread waits in the callback, tree and LP kept: capability ``pause``) and records
  progress (primal, dual bound, nodes). ``offer_solution`` is accepted but not handed over: a
  ``trySol`` from the handler corrupted SCIP's state (see the method).
* SCIP polls no event during a long LP (air04's root LP: 6.6 s without an event): ``interrupt()``
  also calls ``interruptSolve`` from the caller's thread, which SCIP reads when the LP returns, and
  SCIP's own time limit (``limits/time``, also handed to the LP solver) is always set. The longest
  stretch without a poll is reported as ``info["max_poll_gap"]``, as HiGHS does.
* ``warm_start`` with NaN entries is a *partial* solution (``createPartialSol``: SCIP completes it
  in a sub-SCIP); a full one is added with ``addSol``.
* SCIP's Ctrl-C handler is off (``misc/catchctrlc``); the user's stop request is polled by the
  event handler and by a watcher thread.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import tempfile
import time
from typing import Any

import numpy as np

from solverhub.core.backend import BackendResult, GatedPause, IncumbentCallback, MIPBackend, PauseGate
from solverhub.core.errors import BadInputError
from solverhub.core.interrupt import stop_requested
from solverhub.core.mip import MAX, MIPProblem
from solverhub.core.result import Status
from solverhub.plugins.mipfiles.cutoff import cutoff_row, round_integer_bounds
from solverhub.plugins.ortools.backend import _StopWatcher
from solverhub.plugins.scip import SCIP_CAPABILITIES

__all__ = ["ScipBackend", "SCIP_CAPABILITIES", "LNS_HEURISTICS", "check_scip_params"]

log = logging.getLogger(__name__)

_INF = 1e20  # SCIP's infinity: a bound of that size is no bound

#: SCIP's large-neighbourhood-search heuristics (``heuristics/<name>/freq``: -1 off, 0 root only,
#: k every k-th depth): what ``lns_frequency`` may set
LNS_HEURISTICS = ("rins", "rens", "crossover", "localbranching", "dins", "mutation", "alns",
                  "gins", "lpface", "proximity")

#: parameters solverhub sets itself on every solve (refused in ``scip_params``)
_MANAGED = {"limits/time", "limits/nodes", "limits/gap", "randomization/randomseedshift",
            "misc/catchctrlc", "parallel/maxnthreads", "lp/threads"}

_STATUS = {"timelimit": Status.TIME_LIMIT, "nodelimit": Status.ITERATION_LIMIT,
           "totalnodelimit": Status.ITERATION_LIMIT, "stallnodelimit": Status.ITERATION_LIMIT,
           "gaplimit": Status.TIME_LIMIT, "sollimit": Status.TIME_LIMIT,
           "bestsollimit": Status.TIME_LIMIT, "restartlimit": Status.TIME_LIMIT,
           "memlimit": Status.ERROR, "userinterrupt": Status.INTERRUPTED}


def _set_param(m: Any, key: str, value: Any, who: str) -> None:
    try:
        m.getParam(key)
    except Exception:
        raise BadInputError(f"{who}: unknown SCIP parameter {key!r}") from None
    try:
        m.setParam(key, value)
    except Exception as exc:
        raise BadInputError(f"{who}: SCIP rejected {key} = {value!r} ({exc})") from None


def check_scip_params(params: dict[str, Any], lns_frequency: dict[str, int] | None = None,
                      who: str = "scip_params") -> None:
    """Raise :class:`BadInputError` for an unknown SCIP parameter, a bad value, a parameter that
    solverhub sets itself, or an unknown LNS heuristic name."""
    from pyscipopt import Model

    m = Model()
    m.hideOutput()
    for k, v in (params or {}).items():
        if k in _MANAGED:
            raise BadInputError(f"{who}: SCIP parameter {k!r} is set by solverhub itself; use the "
                                f"solver's own option instead")
        _set_param(m, k, v, who)
    for k, v in (lns_frequency or {}).items():
        if k not in LNS_HEURISTICS:
            raise BadInputError(f"lns_frequency: unknown SCIP LNS heuristic {k!r}; known: "
                                f"{', '.join(LNS_HEURISTICS)}")
        _set_param(m, f"heuristics/{k}/freq", int(v), "lns_frequency")


class ScipBackend(GatedPause, MIPBackend):
    """One ``pyscipopt.Model`` holding the problem, reused across solves."""

    name = "scip"
    capabilities = SCIP_CAPABILITIES

    def __init__(self, problem: MIPProblem, *, threads: int = 1, seed: int = 0,
                 verbose: bool = False, relative_gap: float | None = None,
                 scip_params: dict[str, Any] | None = None, heuristics: str = "default",
                 lns_frequency: dict[str, int] | None = None) -> None:
        super().__init__(problem, threads=threads, seed=seed, verbose=verbose)
        from pyscipopt import Model

        from solverhub.plugins.mipfiles.io import write_mps

        if heuristics not in ("default", "aggressive", "fast", "off"):
            raise BadInputError(f"heuristics must be default, aggressive, fast or off, got "
                                f"{heuristics!r}")
        check_scip_params(dict(scip_params or {}), lns_frequency)
        self.default_gap = relative_gap
        self.scip_params = dict(scip_params or {})
        self.heuristics = heuristics
        self.lns_frequency = dict(lns_frequency or {})
        self._n, self._m0 = problem.n, problem.m
        self._m = m = Model()
        if not verbose:
            m.hideOutput()
        if self._n:
            # columns named by position: SCIP's reader does not keep the file's column order
            # (p0201's C1200 came first), so they are put back in order by name
            named = dataclasses.replace(problem, col_names=[f"x{j}" for j in range(self._n)],
                                        row_names=None)
            fd, path = tempfile.mkstemp(suffix=".mps", prefix="solverhub-scip-")
            os.close(fd)
            try:
                write_mps(named, path)
                m.readProblem(path)
            finally:
                os.unlink(path)
        by_name = {v.name: v for v in m.getVars()}
        try:
            self._vars = [by_name[f"x{j}"] for j in range(self._n)]
        except KeyError as exc:
            raise BadInputError(f"{problem.source or problem.name}: SCIP did not read column "
                                f"{exc} back") from None
        if len(by_name) != self._n:
            raise BadInputError(f"{problem.source or problem.name}: SCIP read {len(by_name)} "
                                f"columns, expected {self._n}")
        self._lower = problem.col_lower.copy()
        self._upper = problem.col_upper.copy()
        self._bounds_dirty = np.zeros(self._n, dtype=bool)
        self._obj_dirty = False
        self._rows: dict[int, Any] = {}
        self._next_handle = 0
        # per-solve state, read and written by the event handler (the solving thread)
        self._interrupt = False
        self._on_incumbent: IncumbentCallback | None = None
        self._t0 = 0.0
        self._n_improving = 0
        self._cb_error: BaseException | None = None
        self._progress: tuple[float, float, float] | None = None
        self._nodes: int | None = None
        self._first_poll: float | None = None
        self._last_poll: float | None = None
        self._max_poll_gap = 0.0
        self._solving = False
        self._pause_gate = PauseGate()   # pause(): the event handler waits at it
        self._user_solution: np.ndarray | None = None  # never set: see offer_solution
        self._handed = 0
        self._not_taken = 0
        self._handler = _make_handler(self)
        m.includeEventhdlr(self._handler, "solverhub_poll", "solverhub incumbents, stops, pauses")

    # ------------------------------------------------------------------ stage
    def _editable(self) -> None:
        """Back to SCIP's problem stage (modifications are refused once transformed)."""
        from pyscipopt import SCIP_STAGE

        if self._m.getStage() != SCIP_STAGE.PROBLEM:
            self._m.freeTransform()

    # ------------------------------------------------------------------ modifying
    def set_col_bounds(self, idx: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        idx = np.asarray(idx, dtype=np.int64).ravel()
        if idx.size == 0:
            return
        lo, up = round_integer_bounds(
            idx, np.broadcast_to(np.asarray(lower, dtype=np.float64), idx.shape),
            np.broadcast_to(np.asarray(upper, dtype=np.float64), idx.shape), self.problem.integrality)
        self._editable()
        m, vs = self._m, self._vars
        for j, l, u in zip(idx.tolist(), lo.tolist(), up.tolist()):
            v = vs[j]
            # widen first: SCIP refuses a lower bound above the current upper one
            m.chgVarUb(v, _INF if u == math.inf else u)
            m.chgVarLb(v, -_INF if l == -math.inf else l)
            m.chgVarUb(v, _INF if u == math.inf else u)
        self._bounds_dirty[idx] = True

    def add_row(self, idx: np.ndarray, vals: np.ndarray, lower: float, upper: float) -> int:
        from pyscipopt import quicksum
        from pyscipopt.scip import ExprCons

        idx, vals, lo, up = self.row_arrays(idx, vals, lower, upper)
        self._editable()
        expr = quicksum(v * self._vars[j] for j, v in zip(idx.tolist(), vals.tolist()))
        cons = self._m.addCons(ExprCons(expr, lhs=None if lo == -math.inf else lo,
                                        rhs=None if up == math.inf else up),
                               name=f"solverhub_row_{self._next_handle}")
        handle = self._next_handle
        self._next_handle += 1
        self._rows[handle] = cons
        return handle

    def remove_rows(self, handles: list[int]) -> None:
        conss = [self._rows.pop(int(h)) for h in handles if int(h) in self._rows]
        if not conss:
            return
        self._editable()
        for c in conss:
            self._m.delCons(c)

    def set_objective(self, c: np.ndarray, offset: float = 0.0) -> None:
        c = np.asarray(c, dtype=np.float64).ravel()
        if c.size != self._n:
            raise BadInputError(f"set_objective: {c.size} coefficients for {self._n} columns")
        self._set_costs(c, float(offset))
        self._obj_dirty = True

    def _set_costs(self, c: np.ndarray, offset: float) -> None:
        from pyscipopt import quicksum

        self._editable()
        nz = np.flatnonzero(c)
        expr = quicksum(float(c[j]) * self._vars[j] for j in nz.tolist())
        self._m.setObjective(expr, "maximize" if self.problem.sense == MAX else "minimize",
                             clear=True)
        # setObjective leaves the offset to addObjoffset, which adds to the current one
        self._m.addObjoffset(float(offset) - float(self._m.getObjoffset()))

    def restore(self) -> None:
        if self._bounds_dirty.any():
            idx = np.flatnonzero(self._bounds_dirty)
            self._bounds_dirty[:] = False
            self.set_col_bounds(idx, self._lower[idx], self._upper[idx])
            self._bounds_dirty[:] = False
        if self._rows:
            self.remove_rows(list(self._rows))
        if self._obj_dirty:
            self._set_costs(self.problem.c, float(self.problem.offset))
            self._obj_dirty = False

    def _current_objective(self) -> tuple[np.ndarray, float]:
        c = np.fromiter((v.getObj() for v in self._vars), dtype=np.float64, count=self._n)
        return c, float(self._m.getObjoffset())

    # ------------------------------------------------------------------ control (thread-safe)
    def interrupt(self) -> None:
        self._interrupt = True  # a held solve sees it in its wait loop
        if self._solving:
            # SCIP polls no event inside an LP: interruptSolve is read when the LP returns
            try:
                self._m.interruptSolve()
            except Exception:  # wrong stage (not started or already ended): the handler stops it
                pass

    def offer_solution(self, x: np.ndarray) -> None:
        """Not taken: handing SCIP a solution from inside its event handler (``trySol``) corrupted
        its state -- "invalid increase in upper bound" in a later heuristic on noswot, and a
        segmentation fault in a resumed search on a knapsack -- so a running SCIP search keeps its
        own incumbents (counted in ``info["solutions_not_taken"]``)."""
        x = self._offered_vector(x)
        self._not_taken += 1

    def progress(self) -> tuple[float, float, float] | None:
        return self._progress

    def nodes(self) -> int | None:
        return self._nodes

    def poll_stats(self) -> dict[str, Any]:
        first = self._first_poll
        return {"setup_seconds": None if first is None else first - self._t0,
                "max_poll_gap": self._max_poll_gap}

    # ------------------------------------------------------------------ event handler side
    def _poll(self, event_type: int, best_found: bool, node_solved: bool = False) -> None:
        m = self._m
        now = time.perf_counter()
        if self._last_poll is not None:
            self._max_poll_gap = max(self._max_poll_gap, now - self._last_poll)
        self._last_poll = now
        if self._first_poll is None:
            self._first_poll = now
        try:
            self._progress = (now, float(m.getPrimalbound()), float(m.getDualbound()))
            self._nodes = int(m.getNNodes())
        except Exception:
            pass
        if best_found:
            self._report_best(now)
        if node_solved and self._user_solution is not None:
            # handed over only between nodes: a trySol from an LPSOLVED event, inside SCIP's own
            # heuristics' bookkeeping, made a later heuristic fail with "invalid increase in
            # upper bound" (noswot)
            x, self._user_solution = self._user_solution, None
            self._try_solution(x)
        stop = self._interrupt or stop_requested()
        if not stop and self._pause_gate.closed:
            stop = self._hold()
        if stop:
            m.interruptSolve()

    def _hold(self) -> bool:
        stop = self._pause_gate.hold(lambda: self._interrupt or stop_requested())
        self._last_poll = time.perf_counter()
        return stop

    def _values(self, sol: Any) -> np.ndarray:
        m = self._m
        return np.fromiter((m.getSolVal(sol, v) for v in self._vars), dtype=np.float64,
                           count=self._n)

    def _report_best(self, now: float) -> None:
        self._n_improving += 1
        cb = self._on_incumbent
        if cb is None or self._interrupt:
            return
        m = self._m
        sol = m.getBestSol()
        if cb(now - self._t0, float(m.getSolObjVal(sol)), self._values(sol)):
            self._interrupt = True

    def _try_solution(self, x: np.ndarray) -> None:
        m = self._m
        sol = m.createOrigSol()
        for v, val in zip(self._vars, x.tolist()):
            m.setSolVal(sol, v, val)
        if m.trySol(sol, printreason=False, free=True):
            self._handed += 1

    # ------------------------------------------------------------------ solving
    def _base_params(self, seed: int, time_limit: float | None, node_limit: int | None,
                     gap: float | None, emphasis: str) -> None:
        from pyscipopt import SCIP_PARAMSETTING

        m = self._m
        m.resetParams()
        m.setParam("misc/catchctrlc", False)  # solverhub stops SCIP (interrupt.py)
        m.setParam("parallel/maxnthreads", max(1, int(self.threads)))
        m.setParam("lp/threads", max(1, int(self.threads)))
        m.setParam("randomization/randomseedshift", int(seed) % 2147483647)
        m.setParam("limits/time", _INF if time_limit is None else min(max(0.0, float(time_limit)),
                                                                       _INF))
        m.setParam("limits/nodes", -1 if node_limit is None else max(0, int(node_limit)))
        m.setParam("limits/gap", 0.0 if gap is None else float(gap))
        heur = {"default": SCIP_PARAMSETTING.DEFAULT, "aggressive": SCIP_PARAMSETTING.AGGRESSIVE,
                "fast": SCIP_PARAMSETTING.FAST, "off": SCIP_PARAMSETTING.OFF}
        if emphasis == "feasibility" and self.heuristics in ("default", "fast"):
            m.setHeuristics(SCIP_PARAMSETTING.AGGRESSIVE)
        elif self.heuristics != "default":
            m.setHeuristics(heur[self.heuristics])
        for k, v in self.lns_frequency.items():
            m.setParam(f"heuristics/{k}/freq", int(v))
        for k, v in self.scip_params.items():
            m.setParam(k, v)

    def solve(self, time_limit: float | None = None, *, warm_start: np.ndarray | None = None,
              cutoff: float | None = None, emphasis: str = "default",
              on_incumbent: IncumbentCallback | None = None,
              node_limit: int | None = None, seed: int | None = None,
              relative_gap: float | None = None,
              presolve_share: float | None = None) -> BackendResult:
        if emphasis not in ("default", "feasibility"):
            raise BadInputError(f"emphasis must be 'default' or 'feasibility', got {emphasis!r}")
        if self._n == 0:
            from solverhub.plugins.highs.backend import _empty_model_result

            return _empty_model_result(self.problem)
        t_call = time.perf_counter()
        self._editable()
        cut_handle = None
        if cutoff is not None and math.isfinite(cutoff):
            c, off = self._current_objective()
            idx, vals, lo, up = cutoff_row(c, off, self.problem.integrality, cutoff, self.problem.sense)
            cut_handle = self.add_row(idx, vals, lo, up)
        # the limit covers the call: going back to the problem stage and the cutoff row count
        spent = time.perf_counter() - t_call
        limit = None if time_limit is None else max(float(time_limit) - spent, 1e-3)
        self._base_params(int(self.seed if seed is None else seed), limit, node_limit,
                          self.default_gap if relative_gap is None else relative_gap, emphasis)
        info: dict[str, Any] = {}
        if warm_start is not None:
            info["warm_start"] = self._add_start(warm_start)
        self._on_incumbent = on_incumbent
        self._interrupt = False
        self._cb_error = None
        self._n_improving = 0
        self._handed = 0
        self._not_taken = 0
        self._progress = self._first_poll = self._nodes = None
        self._max_poll_gap = 0.0
        self._t0 = t0 = time.perf_counter()
        self._last_poll = t0
        watcher = _StopWatcher(self.interrupt)
        try:
            self._solving = True
            error = None
            try:
                self._m.optimizeNogil()
            except Exception as exc:  # SCIP's own error (e.g. "invalid increase in upper bound")
                error = f"SCIP failed: {exc}"
            finally:
                self._solving = False
                watcher.stop()
            runtime = time.perf_counter() - t0
            try:
                res = self._collect(runtime, limit)
            except Exception as exc:
                if error is None:
                    raise
                res = BackendResult(Status.ERROR, runtime=runtime,
                                    info={"solver_status": f"unreadable after the error: {exc}"})
            if error is not None:
                # what SCIP found before it failed is still a solution (checked by the caller)
                res.status = Status.FEASIBLE if res.x is not None else Status.ERROR
                res.info["error"] = error
                log.warning("scip backend: %s", error)
        finally:
            self._on_incumbent = None
            if cut_handle is not None:
                self.remove_rows([cut_handle])
        end = time.perf_counter()
        res.info.update(info)
        res.info["max_poll_gap"] = max(self._max_poll_gap, end - (self._last_poll or t0))
        if self._first_poll is not None:
            res.info["setup_seconds"] = self._first_poll - t0
        if self._handed:
            res.info["solutions_taken"] = self._handed
        if self._not_taken:
            res.info["solutions_not_taken"] = self._not_taken
        if cutoff is not None:
            res.info["cutoff"] = float(cutoff)
        if res.status == Status.FEASIBLE and res.info.get("interrupted") and stop_requested():
            res.status = Status.INTERRUPTED
            res.info["stopped_by_user"] = True
        return res

    def _add_start(self, warm_start: np.ndarray) -> str:
        """A full solution (``addSol``) or, with NaN entries, a partial one that SCIP completes."""
        x = np.asarray(warm_start, dtype=np.float64).ravel()
        if x.size != self._n:
            raise BadInputError(f"warm_start has {x.size} entries, expected {self._n}")
        m = self._m
        known = ~np.isnan(x)
        partial = not bool(known.all())
        sol = m.createPartialSol() if partial else m.createSol()
        for j in np.flatnonzero(known).tolist():
            m.setSolVal(sol, self._vars[j], float(x[j]))
        m.addSol(sol, free=True)
        if partial:
            return f"partial ({int(known.sum())} of {self._n} values)"
        # in the problem stage addSol keeps the solution for presolve and answers False: no verdict
        return "full"

    def _collect(self, runtime: float, time_limit: float | None) -> BackendResult:
        m = self._m
        name = str(m.getStatus())
        x = obj = None
        if m.getNSols() > 0:
            sol = m.getBestSol()
            x = self._values(sol)
            obj = float(m.getSolObjVal(sol))
        try:
            b = float(m.getDualbound())
            bound = b if math.isfinite(b) and abs(b) < _INF else None
        except Exception:
            bound = None
        info: dict[str, Any] = {"solver_status": name, "nodes": int(m.getNNodes()),
                                "lp_iterations": int(m.getNLPIterations()),
                                "improving_solutions": self._n_improving}
        if name == "optimal":
            st = Status.OPTIMAL if x is not None else Status.ERROR
        elif name == "infeasible":
            st, x, obj, bound = Status.INFEASIBLE, None, None, None
        elif name == "unbounded":
            st, x, obj, bound = Status.UNBOUNDED, None, None, None
        elif name == "inforunbd":
            st = self._resolve_inforunbd(time_limit, runtime)
            info["resolved_from"] = name
            x = obj = bound = None
        elif name in _STATUS:
            base = _STATUS[name]
            if name == "userinterrupt":
                info["interrupted"] = True
            if base == Status.ERROR:
                info["error"] = f"SCIP status {name}"
            if base in (Status.TIME_LIMIT, Status.ITERATION_LIMIT) and name not in (
                    "gaplimit", "sollimit", "bestsollimit", "restartlimit"):
                st = base  # the limit that stopped it, with the incumbent if any (as HiGHS)
            else:
                st = Status.FEASIBLE if x is not None else base
        else:
            st = Status.FEASIBLE if x is not None else Status.ERROR
            info["error"] = f"SCIP status {name}"
        return BackendResult(st, objective=obj, x=x, bound=bound, runtime=runtime, info=info)

    def _resolve_inforunbd(self, time_limit: float | None, spent: float) -> Status:
        """SCIP said "infeasible or unbounded": a feasibility solve (zero objective) tells."""
        c, off = self._current_objective()
        self._set_costs(np.zeros(self._n), 0.0)
        try:
            self._base_params(int(self.seed), None if time_limit is None
                              else max(1.0, time_limit - spent), None, None, "default")
            self._m.optimizeNogil()
            name = str(self._m.getStatus())
        finally:
            self._set_costs(c, off)
        if name == "infeasible":
            return Status.INFEASIBLE
        if name == "optimal":
            return Status.UNBOUNDED
        return Status.TIME_LIMIT

    def solve_relaxation(self, time_limit: float | None = None) -> BackendResult:
        """The LP relaxation: integrality dropped for the call (``chgVarType``), presolve kept."""
        from pyscipopt import SCIP_PARAMSETTING

        self._editable()
        ints = [self._vars[j] for j in np.flatnonzero(self.problem.integrality).tolist()]
        types = [v.vtype() for v in ints]
        m = self._m
        for v in ints:
            m.chgVarType(v, "C")
        try:
            self._base_params(int(self.seed), time_limit, None, None, "default")
            m.setHeuristics(SCIP_PARAMSETTING.OFF)
            m.setSeparating(SCIP_PARAMSETTING.OFF)
            self._interrupt = False
            self._on_incumbent = None
            t0 = self._t0 = time.perf_counter()
            self._solving = True
            try:
                m.optimizeNogil()
            finally:
                self._solving = False
            runtime = time.perf_counter() - t0
            res = self._collect(runtime, time_limit)
        finally:
            self._editable()
            for v, t in zip(ints, types):
                m.chgVarType(v, {"BINARY": "B", "INTEGER": "I", "IMPLINT": "I"}.get(t, "C"))
        res.info["lp_solver"] = "scip"
        if res.status == Status.OPTIMAL and res.objective is not None:
            res.bound = res.objective
        if res.status in (Status.FEASIBLE, Status.TIME_LIMIT, Status.ITERATION_LIMIT):
            # an LP stopped early has no usable point
            return BackendResult(Status.TIME_LIMIT, runtime=res.runtime, info=res.info)
        return res

    def close(self) -> None:
        m, self._m = getattr(self, "_m", None), None  # type: ignore[assignment]  # closed: the model is dropped
        if m is not None:
            try:
                m.freeProb()
            except Exception:
                pass


def _make_handler(backend: ScipBackend) -> Any:
    """The event handler of a backend (a class built lazily: pyscipopt is imported on use)."""
    from pyscipopt import SCIP_EVENTTYPE, Eventhdlr

    best = SCIP_EVENTTYPE.BESTSOLFOUND
    node = SCIP_EVENTTYPE.NODESOLVED
    polls = (best | SCIP_EVENTTYPE.NODESOLVED | SCIP_EVENTTYPE.LPSOLVED
             | SCIP_EVENTTYPE.PRESOLVEROUND)

    class _Poll(Eventhdlr):
        def eventinit(self) -> None:
            self.model.catchEvent(polls, self)

        def eventexit(self) -> None:
            self.model.dropEvent(polls, self)

        def eventexec(self, event: Any) -> dict:
            try:
                kind = int(event.getType())
                backend._poll(kind, bool(kind & int(best)), bool(kind & int(node)))
            except BaseException as exc:  # never unwind through SCIP
                backend._cb_error = exc
                backend._interrupt = True
                try:
                    backend._m.interruptSolve()
                except Exception:
                    pass
            return {}

    return _Poll()
