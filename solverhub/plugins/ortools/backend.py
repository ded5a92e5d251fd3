"""OR-Tools backends ``ortools-scip`` and ``ortools-sat`` over ``model_builder``.

The model (``ModelBuilderHelper``) is built once from the matrix with
``fill_model_from_sparse_data``; modifications change it in place and :meth:`restore` undoes
them. Measured traps (docs/backends.md):

* model_builder has no incumbent callback, and ``interrupt_solve`` does not stop SCIP (a 30 s
  solve ran to its limit): SCIP solves go through ``pywraplp`` (:class:`_ScipMPSolver`), whose
  interrupt works. ``interrupt_solve`` stops CP-SAT, but the interrupted ``ModelSolverHelper``
  then answers NOT_SOLVED to every later solve, so a fresh one is made after an interrupt.
* A user's stop request (Ctrl-C, :mod:`solverhub.core.interrupt`) is polled by a watcher thread
  during each solve; SCIP's and CP-SAT's own SIGINT handlers are switched off so that they do not
  swallow the signal.
* Constraints cannot be deleted: a removed row is emptied (coefficients 0, bounds free) and its
  slot reused by the next ``add_row``.
* CP-SAT scales continuous variables to integers: on MIPLIB 3 it declared the feasible ``vpm2``
  INFEASIBLE and refused ``egout``/``modglob`` (MODEL_INVALID). ``ortools-sat`` therefore refuses
  models with continuous columns (BadInputError), and reports MODEL_INVALID as an error naming
  coefficient scaling. Unbounded integer models give UNKNOWN_STATUS: resolved by an LP check.
* GLOP answered INFEASIBLE on an unbounded LP, so relaxations are solved by SCIP with the
  integrality dropped for the call.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any

import numpy as np

from solverhub.core.backend import BackendResult, IncumbentCallback, MIPBackend
from solverhub.core.errors import BadInputError
from solverhub.core.interrupt import stop_requested
from solverhub.core.mip import MAX, MIPProblem
from solverhub.core.result import Status
from solverhub.plugins.mipfiles.cutoff import cutoff_row, round_integer_bounds
from solverhub.plugins.ortools import SAT_CAPABILITIES, SCIP_CAPABILITIES

__all__ = ["OrtoolsBackend", "ScipBackend", "SatBackend", "SCIP_CAPABILITIES", "SAT_CAPABILITIES"]

log = logging.getLogger(__name__)


_NO_LIMIT = 1e9  # seconds: what "no time limit" is set to on a reused solver helper
_SOLVER_INFINITY = 1e20  # SCIP's infinity: a bound of that size is no bound


_MPSOLVER_STATUS = {0: "OPTIMAL", 1: "FEASIBLE", 2: "INFEASIBLE", 3: "UNBOUNDED",
                    4: "UNKNOWN_STATUS", 5: "MODEL_INVALID", 6: "NOT_SOLVED"}


class _ScipMPSolver:
    """SCIP through ``pywraplp.Solver`` behind the part of model_builder's ``ModelSolverHelper`` that
    the backend uses. model_builder's SCIP route ignores ``interrupt_solve`` (a 30 s solve ran to its
    limit); MPSolver's ``InterruptSolve`` stops SCIP within a fraction of a second, so Ctrl-C can
    stop it. The model is handed over as an ``MPModelProto`` (hints included) at each solve."""

    def __init__(self, verbose: bool) -> None:
        from ortools.linear_solver import pywraplp  # type: ignore[attr-defined]  # SWIG module, no stub

        self._pw = pywraplp
        self._verbose = verbose
        self._limit_ms: int | None = None
        self._params = ""
        self._solver: Any = None
        self._response: Any = None
        self._lock = threading.Lock()
        self._interrupted = False
        self._code = 4

    def solver_is_supported(self) -> bool:
        return bool(self._pw.Solver.SupportsProblemType(
            self._pw.Solver.SCIP_MIXED_INTEGER_PROGRAMMING))

    def enable_output(self, on: bool) -> None:
        self._verbose = bool(on)

    def set_time_limit_in_seconds(self, seconds: float) -> None:
        self._limit_ms = int(min(float(seconds), _NO_LIMIT) * 1000)

    def set_solver_specific_parameters(self, params: str) -> None:
        self._params = params

    def solve(self, model: Any) -> None:
        import os
        import tempfile

        from ortools.linear_solver import linear_solver_pb2  # type: ignore[attr-defined]  # protobuf, no stub

        started = time.perf_counter()
        # model_builder has no in-memory export of its proto: a temporary file (ms on 60k columns)
        fd, path = tempfile.mkstemp(suffix=".pb", prefix="solverhub-scip-")
        os.close(fd)
        try:
            model.write_model_to_proto_file(path)
            with open(path, "rb") as f:
                proto = linear_solver_pb2.MPModelProto.FromString(f.read())
        finally:
            os.unlink(path)
        s = self._pw.Solver("solverhub-scip", self._pw.Solver.SCIP_MIXED_INTEGER_PROGRAMMING)
        err = s.LoadModelFromProto(proto)
        response = linear_solver_pb2.MPSolutionResponse()
        self._response = response
        if err:
            response.status_str = err
            self._code = 5  # MODEL_INVALID
            return
        if self._verbose:
            s.EnableOutput()
        if self._limit_ms is not None:
            # the limit covers the call: the model hand-over (proto file, load) is uninterruptible
            # and took 0.5 s on fast0507's 63,009 columns on a loaded machine
            spent_ms = int((time.perf_counter() - started) * 1000)
            s.SetTimeLimit(max(self._limit_ms - spent_ms, 1))
        if self._params:
            s.SetSolverSpecificParametersAsString(self._params)
        with self._lock:
            self._solver = s
            stop_now = self._interrupted
        code = 6 if stop_now else s.Solve()
        with self._lock:
            self._solver = None
        if not stop_now:
            s.FillSolutionResponseProto(response)
        self._response = response
        self._code = int(code)

    def interrupt_solve(self) -> None:
        with self._lock:
            self._interrupted = True
            if self._solver is not None:
                self._solver.InterruptSolve()

    def status(self) -> str:
        return _MPSOLVER_STATUS.get(self._code, "UNKNOWN_STATUS")

    def status_string(self) -> str:
        return "" if self._response is None else str(self._response.status_str)

    def has_solution(self) -> bool:
        r = self._response
        return r is not None and len(r.variable_value) > 0 and self.status() in ("OPTIMAL",
                                                                                  "FEASIBLE")

    def variable_values(self) -> list[float]:
        return list(self._response.variable_value)

    def objective_value(self) -> float:
        return float(self._response.objective_value)

    def best_objective_bound(self) -> float:
        return float(self._response.best_objective_bound)


class _StopWatcher:
    """Polls :func:`stop_requested` during a native solve that has no callbacks, and interrupts it
    (again every 0.25 s: a request that lands before the solver has started could be lost)."""

    def __init__(self, interrupt: Any) -> None:
        self._interrupt = interrupt
        self._done = threading.Event()
        self.fired = False
        self._thread = threading.Thread(target=self._watch, name="solverhub-stop", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._done.wait(0.05):
            if stop_requested():
                self.fired = True
                self._interrupt()
                if self._done.wait(0.25):
                    return

    def stop(self) -> None:
        self._done.set()
        self._thread.join(timeout=1.0)


class OrtoolsBackend(MIPBackend):
    """Shared part of the two OR-Tools backends; ``solver_name`` is ``"scip"`` or ``"sat"``."""

    solver_name = "scip"
    fresh_solver_per_solve = False

    def __init__(self, problem: MIPProblem, *, threads: int = 1, seed: int = 0,
                 verbose: bool = False, relative_gap: float | None = None,
                 solver_parameters: str = "") -> None:
        super().__init__(problem, threads=threads, seed=seed, verbose=verbose)
        from ortools.linear_solver.python import model_builder_helper as mbh

        self._mbh = mbh
        self._check_model(problem)
        self.default_gap = relative_gap
        self.extra_parameters = solver_parameters
        self._node_limit: int | None = None  # of the solve in progress
        h = self._model = mbh.ModelBuilderHelper()
        # ortools' stub writes the dtype where numpy takes the shape (ndarray[float64, ...])
        h.fill_model_from_sparse_data(problem.col_lower, problem.col_upper, problem.c,  # type: ignore[arg-type]
                                      problem.row_lower, problem.row_upper, problem.A)  # type: ignore[arg-type]
        for j in np.flatnonzero(problem.integrality):
            h.set_var_integrality(int(j), True)
        h.set_objective_offset(float(problem.offset))
        if problem.sense == MAX:
            h.set_maximize(True)
        self._n, self._m0 = problem.n, problem.m
        self._int_idx = np.flatnonzero(problem.integrality)
        self._solver = self._new_solver()
        self._bounds_dirty = np.zeros(self._n, dtype=bool)
        self._obj_dirty = False
        self._rows: dict[int, int] = {}   # handle -> constraint index
        self._free: list[int] = []        # emptied constraint slots
        self._next_handle = 0
        self._interrupted = False
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ set-up
    def _check_model(self, problem: MIPProblem) -> None:
        return None

    def _new_solver(self):
        s = (_ScipMPSolver(self.verbose) if self.solver_name == "scip"
             else self._mbh.ModelSolverHelper(self.solver_name))
        if not s.solver_is_supported():
            raise BadInputError(f"backend {self.name}: OR-Tools was built without {self.solver_name}")
        s.enable_output(bool(self.verbose))
        return s

    def _parameters(self, seed: int, relative_gap: float | None, node_limit: int | None) -> str:
        raise NotImplementedError

    # ------------------------------------------------------------------ modifying
    def set_col_bounds(self, idx: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        idx = np.asarray(idx, dtype=np.int64).ravel()
        lo, up = round_integer_bounds(
            idx, np.broadcast_to(np.asarray(lower, dtype=np.float64), idx.shape),
            np.broadcast_to(np.asarray(upper, dtype=np.float64), idx.shape), self.problem.integrality)
        h = self._model
        for j, l, u in zip(idx.tolist(), lo.tolist(), up.tolist()):
            h.set_var_lower_bound(j, l)
            h.set_var_upper_bound(j, u)
        self._bounds_dirty[idx] = True

    def add_row(self, idx: np.ndarray, vals: np.ndarray, lower: float, upper: float) -> int:
        idx, vals, lo, up = self.row_arrays(idx, vals, lower, upper)
        h = self._model
        ct = self._free.pop() if self._free else h.add_linear_constraint()
        for j, v in zip(idx.tolist(), vals.tolist()):
            h.set_constraint_coefficient(ct, j, v)
        h.set_constraint_lower_bound(ct, lo)
        h.set_constraint_upper_bound(ct, up)
        handle = self._next_handle
        self._next_handle += 1
        self._rows[handle] = ct
        return handle

    def remove_rows(self, handles: list[int]) -> None:
        h = self._model
        for hd in handles:
            ct = self._rows.pop(int(hd), None)
            if ct is None:
                continue
            for j in list(h.constraint_var_indices(ct)):
                h.set_constraint_coefficient(ct, int(j), 0.0)
            h.set_constraint_lower_bound(ct, -math.inf)
            h.set_constraint_upper_bound(ct, math.inf)
            self._free.append(ct)

    def set_objective(self, c: np.ndarray, offset: float = 0.0) -> None:
        c = np.asarray(c, dtype=np.float64).ravel()
        if c.size != self._n:
            raise BadInputError(f"set_objective: {c.size} coefficients for {self._n} columns")
        self._set_costs(c, float(offset))
        self._obj_dirty = True

    def _set_costs(self, c: np.ndarray, offset: float) -> None:
        # set_objective_coefficients(indices, values) left the costs unchanged here: set one by one
        h = self._model
        for j, v in enumerate(np.asarray(c, dtype=np.float64).tolist()):
            h.set_var_objective_coefficient(j, v)
        h.set_objective_offset(float(offset))

    def restore(self) -> None:
        h = self._model
        if self._bounds_dirty.any():
            for j in np.flatnonzero(self._bounds_dirty).tolist():
                h.set_var_lower_bound(j, float(self.problem.col_lower[j]))
                h.set_var_upper_bound(j, float(self.problem.col_upper[j]))
            self._bounds_dirty[:] = False
        if self._rows:
            self.remove_rows(list(self._rows))
        if self._obj_dirty:
            self._set_costs(self.problem.c, float(self.problem.offset))
            self._obj_dirty = False

    def _objective(self) -> tuple[np.ndarray, float]:
        h = self._model
        c = np.fromiter((h.var_objective_coefficient(j) for j in range(self._n)), dtype=np.float64,
                        count=self._n)
        return c, float(h.objective_offset())

    # ------------------------------------------------------------------ solving
    def _user_stop(self, s: Any) -> None:
        """A stop request from the user: every OR-Tools solver here can be interrupted that way."""
        self._interrupted = True
        with self._lock:
            s.interrupt_solve()

    def interrupt(self) -> None:
        if "interrupt" not in self.capabilities:
            raise NotImplementedError(f"backend {self.name} cannot be interrupted "
                                      f"(OR-Tools model_builder does not stop {self.solver_name})")
        self._interrupted = True
        with self._lock:
            self._solver.interrupt_solve()

    def solve(self, time_limit: float | None = None, *, warm_start: np.ndarray | None = None,
              cutoff: float | None = None, emphasis: str = "default",
              on_incumbent: IncumbentCallback | None = None,
              node_limit: int | None = None, seed: int | None = None,
              relative_gap: float | None = None,
              presolve_share: float | None = None) -> BackendResult:
        if emphasis not in ("default", "feasibility"):
            raise BadInputError(f"emphasis must be 'default' or 'feasibility', got {emphasis!r}")
        h = self._model
        h.clear_hints()
        if warm_start is not None:
            x0 = np.asarray(warm_start, dtype=np.float64).ravel()
            if x0.size != self._n:
                raise BadInputError(f"warm_start has {x0.size} entries, expected {self._n}")
            for j, v in enumerate(x0.tolist()):  # a full hint: SCIP drops partial ones
                h.add_hint(j, v)
        cut = None
        if cutoff is not None and math.isfinite(cutoff):
            c, off = self._objective()
            idx, vals, lo, up = cutoff_row(c, off, self.problem.integrality, cutoff, self.problem.sense)
            cut = self.add_row(idx, vals, lo, up)
        with self._lock:
            if self._interrupted or self.fresh_solver_per_solve:
                # an interrupted helper refuses every later solve; a reused CP-SAT helper answered
                # NOT_SOLVED ("Time limit reached") to the second solve
                self._solver = self._new_solver()
                self._interrupted = False
            s = self._solver
        s.set_time_limit_in_seconds(_NO_LIMIT if time_limit is None else min(max(0.0, float(time_limit)), _NO_LIMIT))
        params = self._parameters(int(self.seed if seed is None else seed),
                                  self.default_gap if relative_gap is None else relative_gap,
                                  node_limit)
        s.set_solver_specific_parameters(params)
        self._node_limit = node_limit
        t0 = time.perf_counter()
        watcher = _StopWatcher(lambda: self._user_stop(s))
        try:
            try:
                s.solve(h)
            finally:
                watcher.stop()
            runtime = time.perf_counter() - t0
            res = self._collect(s, runtime, time_limit)
            if watcher.fired and (res.status is Status.FEASIBLE or res.status.is_limit):
                # stopped by the user (Ctrl-C): interrupted, with the incumbent if there is one
                res.status = Status.INTERRUPTED
                res.info["interrupted"] = res.info["stopped_by_user"] = True
            if res.x is not None and not self.problem.check(res.x).feasible:
                self._polish(res)
        finally:
            if cut is not None:
                self.remove_rows([cut])
        info = res.info
        if on_incumbent is not None:
            info["incumbent_callback"] = "not supported: reported once at the end"
            if res.x is not None and res.objective is not None:
                on_incumbent(res.runtime, res.objective, res.x)
        if emphasis != "default":
            info["emphasis"] = f"{emphasis} (ignored by {self.solver_name})"
        if cutoff is not None:
            info["cutoff"] = float(cutoff)
        return res

    def _limit_status(self, runtime: float, time_limit: float | None) -> Status:
        """The limit that stopped a solve OR-Tools reports only as "not proved": the node limit
        when one was set and the time limit was not reached, else the time limit."""
        if self._node_limit is not None and (time_limit is None or runtime < 0.95 * time_limit):
            return Status.ITERATION_LIMIT
        return Status.TIME_LIMIT

    def _collect(self, s, runtime: float, time_limit: float | None) -> BackendResult:
        st = s.status()
        name = getattr(st, "name", str(st))
        x = None
        obj = bound = None
        if s.has_solution():
            x = np.asarray(s.variable_values(), dtype=np.float64)[: self._n].copy()
            obj = float(s.objective_value())
            b = float(s.best_objective_bound())
            # SCIP says "no bound yet" (an LP stopped before its root LP ended) with +-1e20
            bound = b if math.isfinite(b) and abs(b) < _SOLVER_INFINITY else None
        info: dict[str, Any] = {"solver_status": name}
        msg = s.status_string() if hasattr(s, "status_string") else ""
        if msg:
            info["message"] = msg
        if name == "OPTIMAL":
            status = Status.OPTIMAL
        elif name == "FEASIBLE":
            # MPSolver's FEASIBLE: a solution, stopped before the proof (a gap limit reached is
            # OPTIMAL). Stopped by the caller's own interrupt: a normal end, else a limit
            if self._interrupted:
                status = Status.FEASIBLE
                info["interrupted"] = True
            else:
                status = self._limit_status(runtime, time_limit)
        elif name == "INFEASIBLE":
            status, x, obj, bound = Status.INFEASIBLE, None, None, None
        elif name == "UNBOUNDED":
            status = Status.UNBOUNDED
        elif name == "CANCELLED_BY_USER" or (self._interrupted and x is None):
            status = Status.FEASIBLE if x is not None else Status.INTERRUPTED
            info["interrupted"] = True
        elif name == "NOT_SOLVED" or (name == "UNKNOWN_STATUS" and x is None
                                      and time_limit is not None and runtime >= 0.95 * time_limit):
            status = Status.TIME_LIMIT  # with the incumbent, if there is one
        elif name == "UNKNOWN_STATUS":
            status = self._resolve_unknown(time_limit, runtime)
            info["resolved_from"] = name
            x = obj = bound = None
        elif name == "MODEL_INVALID" and self._inverted_bounds() is not None:
            # SCIP through MPSolver refuses lower > upper as invalid: that model is infeasible
            status, x, obj, bound = Status.INFEASIBLE, None, None, None
            info["infeasible_bounds"] = self._inverted_bounds()
        elif name == "MODEL_INVALID":
            status = Status.ERROR
            info["error"] = (f"{self.solver_name} rejected the model as invalid (MODEL_INVALID"
                             f"{': ' + msg if msg else ''}); "
                             + ("CP-SAT must scale every coefficient and bound to 64-bit integers "
                                "(mip_wanted_precision): too large, too small or fractional data "
                                "it cannot scale" if self.solver_name == "sat" else
                                "check for huge or non-finite coefficients"))
        else:
            status = Status.FEASIBLE if x is not None else Status.ERROR
            info["error"] = f"{self.solver_name} status {name}{': ' + msg if msg else ''}"
        return BackendResult(status, obj, x, bound, runtime, info)

    def _inverted_bounds(self) -> str | None:
        """The first column or row of the current model whose lower bound exceeds its upper."""
        h = self._model
        for j in range(h.num_variables()):
            if h.var_lower_bound(j) > h.var_upper_bound(j):
                return f"column {h.var_name(j) or j}: [{h.var_lower_bound(j)}, {h.var_upper_bound(j)}]"
        for i in range(h.num_constraints()):
            if h.constraint_lower_bound(i) > h.constraint_upper_bound(i):
                return (f"row {h.constraint_name(i) or i}: [{h.constraint_lower_bound(i)}, "
                        f"{h.constraint_upper_bound(i)}]")
        return None

    def _polish(self, res: BackendResult) -> None:
        """SCIP returned dsbmip's optimum with a row violated by 1.4e-5 (its tolerances apply to
        the transformed problem). Fix the integer columns at the rounded values and re-solve the LP
        over the continuous ones; keep the result when it passes the check."""
        x = res.x
        assert x is not None  # called only with an incumbent
        h = self._model
        idx = self._int_idx
        saved_lo = [h.var_lower_bound(int(j)) for j in idx]
        saved_up = [h.var_upper_bound(int(j)) for j in idx]
        dirty = self._bounds_dirty.copy()
        xi = np.round(x[idx])
        try:
            self.set_col_bounds(idx, xi, xi)
            lp = self.solve_relaxation(None)
        finally:
            for j, lo, up in zip(idx.tolist(), saved_lo, saved_up):
                h.set_var_lower_bound(j, lo)
                h.set_var_upper_bound(j, up)
            self._bounds_dirty = dirty
        res.info["polished"] = False
        if lp.status == Status.OPTIMAL and lp.x is not None and lp.objective is not None:
            y = lp.x.copy()
            y[idx] = xi
            if self.problem.check(y).feasible:
                res.x = y
                res.objective = float(lp.objective)
                res.info["polished"] = True

    def _resolve_unknown(self, time_limit: float | None, spent: float) -> Status:
        """No answer and no solution, time left: LP relaxation + feasibility check."""
        lp = self.solve_relaxation(None if time_limit is None else max(1.0, time_limit - spent))
        if lp.status == Status.INFEASIBLE:
            return Status.INFEASIBLE
        if lp.status != Status.UNBOUNDED:
            return Status.ERROR
        c, off = self._objective()
        self._set_costs(np.zeros(self._n), 0.0)
        try:
            s = self._new_solver()
            s.set_time_limit_in_seconds(_NO_LIMIT if time_limit is None
                                        else max(1.0, time_limit - spent))
            s.set_solver_specific_parameters(self._parameters(int(self.seed), None, None))
            s.solve(self._model)
            name = getattr(s.status(), "name", "")
        finally:
            self._set_costs(c, off)
        if name == "INFEASIBLE":
            return Status.INFEASIBLE
        if name in ("OPTIMAL", "FEASIBLE"):
            return Status.UNBOUNDED
        return Status.ERROR

    def solve_relaxation(self, time_limit: float | None = None) -> BackendResult:
        h = self._model
        for j in self._int_idx.tolist():
            h.set_var_integrality(j, False)
        try:
            s = self._mbh.ModelSolverHelper("scip")
            s.enable_output(bool(self.verbose))
            s.set_time_limit_in_seconds(_NO_LIMIT if time_limit is None else float(time_limit))
            s.set_solver_specific_parameters("misc/catchctrlc = FALSE")  # leave Ctrl-C to Python
            t0 = time.perf_counter()
            s.solve(h)
            runtime = time.perf_counter() - t0
        finally:
            for j in self._int_idx.tolist():
                h.set_var_integrality(j, True)
        name = getattr(s.status(), "name", "")
        info = {"solver_status": name, "lp_solver": "scip"}
        if name == "OPTIMAL" and s.has_solution():
            x = np.asarray(s.variable_values(), dtype=np.float64)[: self._n].copy()
            obj = float(s.objective_value())
            return BackendResult(Status.OPTIMAL, obj, x, obj, runtime, info)
        if name == "INFEASIBLE":
            return BackendResult(Status.INFEASIBLE, runtime=runtime, info=info)
        if name == "UNBOUNDED":
            return BackendResult(Status.UNBOUNDED, runtime=runtime, info=info)
        if name in ("NOT_SOLVED", "FEASIBLE"):
            return BackendResult(Status.TIME_LIMIT, runtime=runtime, info=info)
        info["error"] = f"LP relaxation: status {name}"
        return BackendResult(Status.ERROR, runtime=runtime, info=info)


class ScipBackend(OrtoolsBackend):
    """SCIP through OR-Tools model_builder (single thread)."""

    name = "ortools-scip"
    solver_name = "scip"
    capabilities = SCIP_CAPABILITIES

    def _parameters(self, seed: int, relative_gap: float | None, node_limit: int | None) -> str:
        # SCIP's own Ctrl-C handler would swallow the signal: solverhub stops it (interrupt.py)
        lines = [f"randomization/randomseedshift = {seed % 2147483647}",
                 "parallel/maxnthreads = 1", "misc/catchctrlc = FALSE"]
        if relative_gap is not None:
            lines.append(f"limits/gap = {float(relative_gap)!r}")
        if node_limit is not None:
            lines.append(f"limits/nodes = {int(node_limit)}")
        if self.extra_parameters:
            lines.append(self.extra_parameters)
        return "\n".join(lines)


class SatBackend(OrtoolsBackend):
    """CP-SAT through OR-Tools model_builder: pure integer models only, one worker."""

    name = "ortools-sat"
    solver_name = "sat"
    capabilities = SAT_CAPABILITIES
    fresh_solver_per_solve = True

    def _check_model(self, problem: MIPProblem) -> None:
        cont = np.flatnonzero(~problem.integrality)
        if cont.size:
            j = int(cont[0])
            raise BadInputError(
                f"backend ortools-sat: {problem.source or problem.name} has {cont.size} continuous "
                f"column(s) (first {problem.column_name(j)!r}); CP-SAT scales continuous variables to "
                f"integers and gave wrong answers on such models (vpm2 declared infeasible): use "
                f"'highs' or 'ortools-scip'")

    def _parameters(self, seed: int, relative_gap: float | None, node_limit: int | None) -> str:
        # CP-SAT's own Ctrl-C handler would swallow the signal: solverhub stops it (interrupt.py)
        parts = [f"num_workers:{max(1, int(self.threads))}", f"random_seed:{seed % 2147483647}",
                 "catch_sigint_signal:false"]
        if relative_gap is not None:
            parts.append(f"relative_gap_limit:{float(relative_gap)!r}")
        if self.extra_parameters:
            parts.append(self.extra_parameters)
        return ",".join(parts)

    #: CP-SAT's default ``mip_max_bound``: larger or infinite variable bounds are clamped to it
    MIP_MAX_BOUND = 1e7

    def _collect(self, s, runtime: float, time_limit: float | None) -> BackendResult:
        res = super()._collect(s, runtime, time_limit)
        if res.x is None:
            return res
        big = np.flatnonzero(np.abs(res.x) >= self.MIP_MAX_BOUND * (1 - 1e-9))
        h = self._model
        clamped = [int(j) for j in big
                   if (res.x[j] > 0 and h.var_upper_bound(int(j)) > self.MIP_MAX_BOUND)
                   or (res.x[j] < 0 and h.var_lower_bound(int(j)) < -self.MIP_MAX_BOUND)]
        if not clamped:
            return res
        # CP-SAT clamped a large or infinite bound to mip_max_bound: its "optimum" is an artefact
        res.info["clamped_columns"] = len(clamped)
        lp = self.solve_relaxation(None if time_limit is None else max(1.0, time_limit - runtime))
        if lp.status == Status.UNBOUNDED:
            return BackendResult(Status.UNBOUNDED, runtime=runtime,
                                 info={**res.info, "resolved_from": res.info.get("solver_status")})
        if res.status == Status.OPTIMAL:
            res.status = Status.FEASIBLE
            res.info["warning"] = ("CP-SAT clamped variable bounds to +-1e7 (mip_max_bound): "
                                   "optimality not proved for the original bounds")
        return res
