"""The conformance checks themselves. See :mod:`solverhub.testing` for the entry points."""

from __future__ import annotations

import importlib
import inspect
import json
import math
import os
import subprocess
import sys
import time
import types
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, Iterable, Literal

import numpy as np
from pydantic import BaseModel

from solverhub.core.errors import BadInputError, UnknownNameError
from solverhub.core.kinds import KindProtocol
from solverhub.core.mip import MAX, MIPProblem
from solverhub.core.observers import Notifier
from solverhub.core.records import REGISTRY_BY_HOOK, LazyRef, SolverSpec
from solverhub.core.result import Result, Status

__all__ = ["Check", "CheckSkipped", "solver_checks", "plugin_checks", "check_solver", "check_plugin",
           "check_options_model", "check_result", "RecordingNotifier", "machine_slowdown"]

REL_TOL = 1e-6
SOLUTION_STATUSES = (Status.OPTIMAL, Status.FEASIBLE)
#: libraries a plugin module must not import at import time (DESIGN: plugins are cheap to import)
HEAVY_MODULES = ("highspy", "ortools", "pyomo", "pyscipopt", "cvxpy", "torch", "jax", "cupy",
                 "gurobipy", "dask", "distributed", "matplotlib")


class CheckSkipped(Exception):
    """A check does not apply (e.g. no instance of the solver's problem kind was given)."""


def _skip(msg: str) -> None:
    pytest = sys.modules.get("pytest")
    if pytest is not None:
        pytest.skip(msg)
    raise CheckSkipped(msg)


@dataclass
class Check:
    """One named conformance check; call it to run it (raises ``AssertionError`` on failure).

    Under pytest a check that does not apply is skipped; elsewhere it raises :class:`CheckSkipped`.
    ``str(check)`` is its name, so ``@pytest.mark.parametrize("check", checks, ids=str)`` gives
    readable test ids.
    """

    name: str
    func: Callable[[], None] = field(repr=False)
    doc: str = ""

    def __call__(self) -> None:
        try:
            self.func()
        except CheckSkipped as exc:
            _skip(f"{self.name}: {exc}")

    def __str__(self) -> str:
        return self.name


class RecordingNotifier(Notifier):
    """A notifier that records what a solver reports (and forwards nothing)."""

    def __init__(self, solver: str = "") -> None:
        super().__init__(solver)
        self.incumbents: list[tuple[float, float, Any]] = []
        self.iterations: list[tuple[int, dict]] = []

    def incumbent(self, time: float, objective: float, bound: Any = None) -> None:  # noqa: A002
        self.incumbents.append((time, objective, bound))

    def iteration(self, iteration: int, info: dict) -> None:
        self.iterations.append((iteration, info))


# ====================================================================================== helpers
def _close(a: float, b: float, tol: float = REL_TOL) -> bool:
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def _sense(problem: Any) -> int:
    return int(getattr(problem, "sense", 1) or 1)


def _pairs(instances: Iterable[Any] | None) -> list[tuple[Any, float | None]]:
    out = []
    for item in instances or []:
        if isinstance(item, tuple) and len(item) == 2:
            out.append((item[0], None if item[1] is None else float(item[1])))
        else:
            out.append((item, None))
    return out


def _label(problem: Any) -> str:
    return str(getattr(problem, "name", None) or type(problem).__name__)


def check_options_model(spec: SolverSpec) -> None:
    """The options model is a pydantic model with ``extra="forbid"`` whose fields all have
    defaults, whose defaults validate and dump to JSON, and an unknown option is rejected with a
    :class:`BadInputError` naming it (through :func:`solverhub.core.api.validate_options`)."""
    from solverhub.core.api import validate_options

    model = spec.options_model
    who = f"solver {spec.name!r}"
    assert isinstance(model, type) and issubclass(model, BaseModel), \
        f"{who}: options must be a pydantic BaseModel subclass, got {model!r}"
    extra = model.model_config.get("extra")
    assert extra == "forbid", f"{who}: options model {model.__name__} must set " \
                              f"model_config = ConfigDict(extra='forbid'), has extra={extra!r}"
    required = [n for n, f in model.model_fields.items() if f.is_required()]
    assert not required, f"{who}: options without a default: {required}"
    defaults = validate_options(spec, {})
    try:
        json.dumps(defaults.model_dump(mode="json"))
    except (TypeError, ValueError) as exc:
        raise AssertionError(f"{who}: default options are not JSON-serialisable: {exc}") from None
    # the defaults, fed back in, validate again (what `solverhub solvers` shows must be accepted)
    validate_options(spec, defaults.model_dump())
    bogus = "no_such_option_xyz"
    try:
        validate_options(spec, {bogus: 1})
    except BadInputError as exc:
        assert bogus in str(exc), f"{who}: the error for an unknown option does not name it: {exc}"
    else:
        raise AssertionError(f"{who}: the unknown option {bogus!r} was accepted")


def check_result(res: Any, problem: Any, *, who: str, optimum: float | None = None) -> None:
    """A well-formed :class:`Result` for ``problem`` (see docs/testing.md for the list)."""
    assert isinstance(res, Result), f"{who}: solve() returned {type(res).__name__}, not Result"
    assert isinstance(res.status, Status), f"{who}: status {res.status!r} is not a Status"
    if res.status == Status.ERROR:
        assert isinstance(res.error, str) and res.error.strip(), \
            f"{who}: status error without an error message"
    # a solution is held at optimal and feasible, and at a limit with an incumbent
    if res.has_solution:
        assert res.objective is not None and math.isfinite(float(res.objective)), \
            f"{who}: status {res.status} (solution {res.solution_status}) with objective " \
            f"{res.objective!r}"
    if res.bound is not None:
        assert isinstance(float(res.bound), float), f"{who}: bound {res.bound!r} is not a number"
    assert isinstance(res.runtime, (int, float)) and math.isfinite(res.runtime) and res.runtime >= 0, \
        f"{who}: runtime {res.runtime!r} must be a finite number >= 0"
    assert isinstance(res.iterations, (int, np.integer)) and res.iterations >= 0, \
        f"{who}: iterations {res.iterations!r} must be an int >= 0"
    assert isinstance(res.info, dict), f"{who}: info must be a dict"
    traj = list(res.trajectory)
    for item in traj:
        assert len(item) == 2, f"{who}: trajectory items must be (time, objective) pairs: {item!r}"
        t, v = float(item[0]), float(item[1])
        assert math.isfinite(t) and t >= 0 and math.isfinite(v), \
            f"{who}: trajectory entry {item!r} must hold finite numbers, time >= 0"
    times = [float(t) for t, _ in traj]
    assert times == sorted(times), f"{who}: trajectory is not sorted by time: {times}"
    n = getattr(problem, "n", None)
    if res.x is not None:
        x = np.asarray(res.x, dtype=float)
        if isinstance(n, (int, np.integer)):
            assert x.shape == (n,), f"{who}: x has shape {x.shape}, expected ({n},)"
        assert np.all(np.isfinite(x)), f"{who}: x contains NaN or infinite values"
    if res.has_solution and isinstance(problem, MIPProblem):
        assert res.x is not None, f"{who}: status {res.status} (solution {res.solution_status}) " \
                                  f"without a solution x"
        rep = problem.check(np.asarray(res.x, dtype=float))
        assert rep.feasible, f"{who}: the returned x is not feasible ({rep})"
        assert res.objective is not None, f"{who}: a solution x without an objective"
        assert _close(rep.objective, float(res.objective)), \
            f"{who}: objective {res.objective} differs from c @ x + offset = {rep.objective}"
    if res.status == Status.OPTIMAL:
        assert res.objective is not None, f"{who}: status optimal without an objective"
        obj = float(res.objective)
        if optimum is not None:
            assert _close(obj, optimum), f"{who}: reported optimal {obj}, the optimum is {optimum}"
        if res.bound is not None and math.isfinite(float(res.bound)):
            b = float(res.bound)
            ok = b >= obj - REL_TOL * max(1, abs(obj)) if _sense(problem) == MAX \
                else b <= obj + REL_TOL * max(1, abs(obj))
            assert ok, f"{who}: bound {b} is on the wrong side of the objective {obj}"
    if traj and res.has_solution:
        assert res.objective is not None, f"{who}: a solution without an objective"
        last = float(traj[-1][1])
        best = max(v for _, v in traj) if _sense(problem) == MAX else min(v for _, v in traj)
        assert _close(best, float(res.objective)) or _close(last, float(res.objective)), \
            f"{who}: the trajectory's best incumbent {best} is not the objective {res.objective}"
    try:
        json.dumps(res.to_dict(), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise AssertionError(f"{who}: Result.to_dict() is not JSON-serialisable: {exc}") from None


# ====================================================================================== solver
@dataclass
class _SolverContext:
    name: str
    pm: Any
    options: dict
    hard_options: dict
    instances: list[tuple[Any, float | None]] | None
    infeasible: list[Any] | None
    hard_instance: Any
    bad_instances: list[tuple[str, Any]] | None
    deterministic: bool | None
    time_limit: float
    time_limit_factor: float
    time_limit_slack: float
    tiny_time_limit: float | None
    skip_missing: bool

    def spec(self) -> SolverSpec:
        pm = self.pm
        if pm is None:
            from solverhub.core.manager import get_plugin_manager

            pm = get_plugin_manager()
        try:
            return pm.get_solver(self.name)
        except UnknownNameError as exc:
            if self.skip_missing:
                raise CheckSkipped(f"solver {self.name!r} is not registered ({exc})") from None
            raise AssertionError(f"solver {self.name!r} is not registered: {exc}") from None

    def build(self, spec: SolverSpec | None = None, *, hard: bool = False) -> Any:
        """The solver with the caller's options (and ``hard_options`` for the limit checks)."""
        from solverhub.core.api import validate_options

        spec = spec or self.spec()
        options = {**self.options, **self.hard_options} if hard else dict(self.options)
        return spec.build(validate_options(spec, options))

    def kind(self) -> str:
        return self.spec().problem_kind

    def protocol(self) -> Any:
        """The protocol of the solver's problem kind: it brings the kind's test instances, so
        that the checks name no kind."""
        from solverhub.core.manager import get_plugin_manager

        kind = self.kind()
        record = (self.pm or get_plugin_manager()).problem_kinds().get(kind)
        if record is None:
            raise CheckSkipped(f"problem kind {kind!r} of solver {self.name!r} is not registered")
        return record.protocol

    def _from_protocol(self, method: str, what: str, hint: str) -> Any:
        found = getattr(self.protocol(), method)()
        if found is None or (isinstance(found, (list, tuple)) and not found):
            raise CheckSkipped(f"the protocol of problem kind {self.kind()!r} provides no {what} "
                               f"({type(self.protocol()).__name__}.{method}()); pass {hint}")
        return found

    def tiny(self) -> list[tuple[Any, float | None]]:
        if self.instances is not None:
            if not self.instances:
                raise CheckSkipped("no tiny instances given")
            return self.instances
        return _pairs(self._from_protocol("conformance_instances", "conformance instances",
                                          "instances=[...]"))

    def infeasible_instances(self) -> list[Any]:
        if self.infeasible is not None:
            if not self.infeasible:
                raise CheckSkipped("no infeasible instance given")
            return self.infeasible
        return list(self._from_protocol("infeasible_instances", "infeasible instances",
                                        "infeasible=[...]"))

    def hard(self) -> Any:
        if self.hard_instance is not None:
            return self.hard_instance
        return self._from_protocol("hard_instance", "hard instance", "hard_instance=")

    def bad(self) -> list[tuple[str, Any]]:
        if self.bad_instances is not None:
            if not self.bad_instances:
                raise CheckSkipped("no malformed instances given")
            return self.bad_instances
        return list(self._from_protocol("malformed_instances", "malformed instances",
                                        "bad_instances=[(label, object), ...]"))


def _solve(ctx: _SolverContext, solver: Any, problem: Any, *,
           time_limit: float | Literal["tiny"] | None = "tiny", seed: int = 0, notifier: Any = None) -> Result:
    tl = ctx.tiny_time_limit if time_limit == "tiny" else time_limit
    kw: dict[str, Any] = {"time_limit": tl, "seed": seed}
    if notifier is not None:
        kw["notifier"] = notifier
    return solver.solve(problem, **kw)


def _supported(ctx: _SolverContext, solver: Any, pairs: list, **kw: Any):
    """Yield (problem, optimum, result) for the instances the solver accepts. A solver may reject
    part of a problem kind with BadInputError (e.g. CP-SAT and continuous columns); rejecting
    every instance is a failure."""
    rejected = []
    for problem, optimum in pairs:
        try:
            res = _solve(ctx, solver, problem, **kw)
        except BadInputError as exc:
            rejected.append(f"{_label(problem)}: {exc}")
            continue
        yield problem, optimum, res
    if rejected and len(rejected) == len(pairs):
        raise AssertionError(f"solver {ctx.name!r} rejects every test instance: " + "; ".join(rejected))


def _c_options(ctx: _SolverContext) -> None:
    check_options_model(ctx.spec())


def _c_factory(ctx: _SolverContext) -> None:
    spec = ctx.spec()
    assert callable(spec.factory), f"solver {ctx.name!r}: factory is not callable"
    assert isinstance(spec.problem_kind, str) and spec.problem_kind, \
        f"solver {ctx.name!r}: problem_kind must be a non-empty string"
    t0 = time.perf_counter()
    solver = ctx.build(spec)
    built = time.perf_counter() - t0
    solve = getattr(solver, "solve", None)
    assert callable(solve), f"solver {ctx.name!r}: the factory's object has no solve() method"
    params = inspect.signature(solve).parameters
    has_var_kw = any(p.kind == p.VAR_KEYWORD for p in params.values())
    for kw in ("time_limit", "seed", "notifier"):
        assert kw in params or has_var_kw, \
            f"solver {ctx.name!r}: solve() must accept the keyword {kw!r}"
    # scikit-learn style: building stores parameters, it does not solve or load anything big
    assert built < 10.0, f"solver {ctx.name!r}: building the solver object took {built:.1f} s"


def _c_result(ctx: _SolverContext) -> None:
    solver = ctx.build()
    for problem, optimum, res in _supported(ctx, solver, ctx.tiny()):
        check_result(res, problem, who=f"solver {ctx.name!r} on {_label(problem)}", optimum=optimum)


def _c_optimal(ctx: _SolverContext) -> None:
    """Exact solvers should prove the tiny optima; a heuristic at least finds a solution."""
    solver = ctx.build()
    for problem, optimum, res in _supported(ctx, solver, ctx.tiny()):
        who = f"solver {ctx.name!r} on {_label(problem)}"
        assert res.has_solution, \
            f"{who}: no solution on a tiny instance (status {res.status}, error {res.error!r})"
        if optimum is not None and res.status == Status.OPTIMAL:
            assert _close(float(res.objective), optimum), f"{who}: {res.objective} != {optimum}"


def _c_infeasible(ctx: _SolverContext) -> None:
    solver = ctx.build()
    for problem, _, res in _supported(ctx, solver, [(p, None) for p in ctx.infeasible_instances()]):
        who = f"solver {ctx.name!r} on infeasible {_label(problem)}"
        check_result(res, problem, who=who)
        assert not res.has_solution, f"{who}: claims a solution (status {res.status}, " \
                                     f"solution {res.solution_status})"
        assert res.status != Status.ERROR, f"{who}: status error ({res.error}); expected infeasible " \
                                           f"(or a limit status without a solution)"


#: statuses by which a solver says it finished the problem (not stopped by a limit or a request)
_FINISHED = (Status.OPTIMAL, Status.INFEASIBLE, Status.UNBOUNDED)


def machine_slowdown(cap: float = 8.0) -> float:
    """How much slower than an idle machine this one runs now: the 1-minute load average per
    core, at least 1 and at most ``cap``. The time checks widen their slack by it, so that a
    loaded CI machine does not fail a solver that honours its limits (a solver that ignores
    them still overruns by far more)."""
    try:
        load = os.getloadavg()[0] / max(1, os.cpu_count() or 1)
    except (OSError, AttributeError):  # pragma: no cover - no load average on this platform
        return 1.0
    return float(min(max(load, 1.0), cap))


def _hard_or_skip(ctx: _SolverContext) -> Any:
    return ctx.hard()


def _not_hard(who: str, res: Result, wall: float) -> str:
    return (f"{who}: finished the hard instance (status {res.status.value}) in {wall:.2f} s, so "
            f"this check proves nothing: the kind's protocol (hard_instance()) or the caller "
            f"(hard_instance=) must supply an instance this solver cannot finish that quickly, "
            f"or hard_options= lift the solver's own limits (e.g. max_iterations)")


def _c_time_limit(ctx: _SolverContext) -> None:
    problem = _hard_or_skip(ctx)
    solver = ctx.build(hard=True)
    limit = ctx.time_limit
    allowed = ctx.time_limit_factor * limit + ctx.time_limit_slack * machine_slowdown()
    t0 = time.perf_counter()
    try:
        res = _solve(ctx, solver, problem, time_limit=limit)
    except BadInputError as exc:
        raise CheckSkipped(f"the solver rejects the hard instance {_label(problem)}: {exc}; pass "
                           f"hard_instance=") from None
    wall = time.perf_counter() - t0
    who = f"solver {ctx.name!r} on {_label(problem)} with time_limit={limit}"
    check_result(res, problem, who=who)
    assert res.status != Status.ERROR, f"{who}: status error ({res.error})"
    assert wall <= allowed, f"{who}: ran {wall:.2f} s wall clock (allowed {allowed:.1f} s)"
    assert res.runtime <= allowed, f"{who}: reports runtime {res.runtime:.2f} s (allowed {allowed:.1f} s)"
    # a limit is only tested by an instance the solver does not finish within it
    assert res.status == Status.TIME_LIMIT or (wall >= 0.5 * limit and res.status not in _FINISHED), \
        _not_hard(who, res, wall)


def _c_interrupt(ctx: _SolverContext) -> None:
    """A stop request (the first Ctrl-C) during a solve of the hard instance is honoured within
    about a second: the solver polls :func:`~solverhub.core.interrupt.stop_requested` often
    enough for its work per step."""
    import threading

    from solverhub.core.interrupt import clear_stop, request_stop

    problem = _hard_or_skip(ctx)
    solver = ctx.build(hard=True)
    delay = max(0.5, ctx.time_limit / 2)
    allowed = ctx.time_limit_slack * machine_slowdown()
    cap = delay + allowed + 10.0  # a solver that ignores the request ends here, not never
    stopped_at: list[float] = []

    def stop() -> None:
        stopped_at.append(time.perf_counter())
        request_stop()

    timer = threading.Timer(delay, stop)
    clear_stop()
    t0 = time.perf_counter()
    timer.start()
    try:
        res = _solve(ctx, solver, problem, time_limit=cap)
    except BadInputError as exc:
        raise CheckSkipped(f"the solver rejects the hard instance {_label(problem)}: {exc}; pass "
                           f"hard_instance=") from None
    finally:
        end = time.perf_counter()
        timer.cancel()
        clear_stop()
    who = f"solver {ctx.name!r} on {_label(problem)}, stop requested after {delay:.1f} s"
    assert stopped_at, _not_hard(who, res, end - t0)
    late = end - stopped_at[0]
    check_result(res, problem, who=who)
    assert res.status != Status.ERROR, f"{who}: status error ({res.error})"
    assert late <= allowed, f"{who}: returned {late:.2f} s after the stop request (allowed " \
                            f"{allowed:.1f} s): poll stop_requested() (or core.timing.limit_status) " \
                            f"at least once per second of work"


def _c_bad_input(ctx: _SolverContext) -> None:
    """As the host runs it: the host's problem check (type, ``validate()``), then the solver;
    one of them must turn the malformed input into a clear error."""
    from solverhub.core.api import check_problem

    spec = ctx.spec()
    solver = ctx.build(spec)
    for label, bad in ctx.bad():
        who = f"solver {ctx.name!r} on malformed input {label!r}"
        try:
            check_problem(bad, spec, ctx.pm)
            res = _solve(ctx, solver, bad)
        except BadInputError as exc:
            assert str(exc).strip(), f"{who}: BadInputError without a message"
            continue
        except Exception as exc:  # the failure this check is about
            raise AssertionError(f"{who}: raised {type(exc).__name__}: {exc} (expected BadInputError "
                                 f"or a Result with status error)") from None
        assert isinstance(res, Result), f"{who}: returned {type(res).__name__}"
        assert res.status == Status.ERROR and res.error, \
            f"{who}: expected BadInputError or status error with a message, got status {res.status}"


def _c_repeated(ctx: _SolverContext) -> None:
    probe = ctx.build()
    tiny = [(p, o) for p, o, _ in _supported(ctx, probe, ctx.tiny())]
    solver = ctx.build()
    first, opt_first = tiny[0]
    order = [(first, opt_first)] + tiny[1:2] + [(first, opt_first)]
    results = []
    for problem, optimum in order:
        res = _solve(ctx, solver, problem)
        check_result(res, problem, who=f"solver {ctx.name!r} (repeated solve) on {_label(problem)}",
                     optimum=optimum)
        results.append(res)
    a, b = results[0], results[-1]
    if a.status == b.status == Status.OPTIMAL:
        assert a.objective is not None and b.objective is not None  # check_result asserted them
        assert _close(float(a.objective), float(b.objective)), \
            f"solver {ctx.name!r}: solving {_label(first)} again on the same object gave " \
            f"{b.objective} after {a.objective}"
    assert a.status == b.status or {a.status, b.status} <= set(SOLUTION_STATUSES), \
        f"solver {ctx.name!r}: the same object gave {a.status} then {b.status} on {_label(first)}"


def _c_seed(ctx: _SolverContext) -> None:
    spec = ctx.spec()
    # the solver's record says whether the same seed gives the same answer; the caller may override
    det = spec.deterministic if ctx.deterministic is None else ctx.deterministic
    if not det:
        raise CheckSkipped(f"solver {ctx.name!r} is not deterministic (SolverSpec(..., "
                           f"deterministic=False)); pass deterministic=True to check it anyway")
    # no time limit: a deterministic solver's answer must not depend on the clock, and a limit
    # reached on a loaded machine in one run and not in the other would (tiny instances finish)
    for problem, _, a in _supported(ctx, ctx.build(spec), ctx.tiny(), seed=3, time_limit=None):
        b = _solve(ctx, ctx.build(spec), problem, seed=3, time_limit=None)
        who = f"solver {ctx.name!r} with seed 3 on {_label(problem)}"
        assert a.status == b.status, f"{who}: status {a.status} then {b.status}"
        assert a.objective == b.objective or (a.objective is not None and b.objective is not None
                                              and _close(a.objective, b.objective, 1e-12)), \
            f"{who}: objective {a.objective} then {b.objective}"
        if a.x is not None and b.x is not None:
            assert np.allclose(a.x, b.x, rtol=0, atol=1e-9), f"{who}: different solutions"
        assert a.iterations == b.iterations, f"{who}: iterations {a.iterations} then {b.iterations}"


def _c_notifier(ctx: _SolverContext) -> None:
    solver = ctx.build()
    for problem, _ in ctx.tiny():
        rec = RecordingNotifier(ctx.name)
        try:
            res = _solve(ctx, solver, problem, notifier=rec)
        except BadInputError:
            continue  # unsupported instance: result_well_formed reports when all are rejected
        who = f"solver {ctx.name!r} on {_label(problem)}"
        check_result(res, problem, who=who)
        times = [float(t) for t, _, _ in rec.incumbents]
        assert times == sorted(times), f"{who}: incumbent notifications go back in time: {times}"
        vals = [float(v) for _, v, _ in rec.incumbents]
        assert all(math.isfinite(v) for v in vals), f"{who}: non-finite incumbent notified: {vals}"
        sign = -1.0 if _sense(problem) == MAX else 1.0
        for u, v in zip(vals, vals[1:]):
            assert sign * v <= sign * u + REL_TOL * max(1, abs(u)), \
                f"{who}: notified incumbents get worse: {vals}"


def _c_host(ctx: _SolverContext) -> None:
    """Through ``solverhub.solve`` the solution passes the host's re-check."""
    import solverhub

    spec = ctx.spec()
    if ctx.pm is not None:
        raise CheckSkipped("solving through the host uses the process-wide plugin manager")
    for problem, optimum in ctx.tiny():
        try:
            res = solverhub.solve(problem, solver=spec.name, time_limit=ctx.tiny_time_limit,
                                  options=dict(ctx.options))
        except BadInputError:
            continue  # unsupported instance: result_well_formed reports when all are rejected
        who = f"solverhub.solve(..., solver={spec.name!r}) on {_label(problem)}"
        check_result(res, problem, who=who, optimum=optimum)
        assert res.solver == spec.name, f"{who}: Result.solver is {res.solver!r}"
        if res.x is not None and callable(getattr(problem, "check", None)):
            assert res.info.get("verified") is True, f"{who}: {res.info.get('verification')}"
        if res.x is not None and res.status != Status.ERROR:
            # the host must not report a solution that the kind's own check rejects
            verdict = ctx.protocol().verify(problem, res.x)
            assert verdict is None or verdict.ok, \
                f"{who}: the kind's check rejects the reported solution: {verdict.message}"


SOLVER_CHECKS: dict[str, tuple[Callable[[_SolverContext], None], str]] = {
    "options_model": (_c_options, "pydantic, extra='forbid', all defaults, unknown option rejected"),
    "factory": (_c_factory, "factory builds an object whose solve() takes time_limit/seed/notifier"),
    "result_well_formed": (_c_result, "well-formed Result on each tiny instance"),
    "solves_tiny": (_c_optimal, "finds a solution of each tiny instance; optimal ones are right"),
    "infeasible": (_c_infeasible, "no solution claimed on an infeasible instance"),
    "time_limit": (_c_time_limit, "a short time limit on an instance hard for the solver is "
                                  "honoured within about a second"),
    "interrupt": (_c_interrupt, "a stop request (Ctrl-C) during a hard solve is honoured within "
                                "about a second"),
    "bad_input": (_c_bad_input, "malformed problem -> BadInputError or status error"),
    "repeated_solve": (_c_repeated, "the same solver object solves again, consistently"),
    "seed_reproducible": (_c_seed, "same seed, same result (when the solver is deterministic)"),
    "notifier": (_c_notifier, "incumbent notifications are ordered and improving"),
    "through_host": (_c_host, "solverhub.solve verifies the solution"),
}


def solver_checks(name: str, *, options: dict | None = None, hard_options: dict | None = None,
                  instances: Iterable[Any] | None = None,
                  infeasible: Iterable[Any] | None = None, hard_instance: Any = None,
                  bad_instances: Iterable[tuple[str, Any]] | None = None,
                  deterministic: bool | None = None, time_limit: float = 1.0,
                  time_limit_factor: float = 1.0, time_limit_slack: float = 1.0,
                  tiny_time_limit: float | None = 10.0, pm: Any = None,
                  skip_missing: bool = False, select: Iterable[str] | None = None) -> list[Check]:
    """The conformance checks of solver ``name`` as a list of :class:`Check` (call each one).

    The solver is looked up when a check runs (not now), so this is safe at pytest collection
    time. Instances come from the protocol of the solver's problem kind
    (``conformance_instances()``, ``infeasible_instances()``, ``hard_instance()``,
    ``malformed_instances()``); ``instances`` (problems or ``(problem, optimum)`` pairs),
    ``hard_instance`` (for the time-limit check), ``infeasible`` and ``bad_instances``
    (``(label, object)`` pairs) replace them; ``hard_options`` are added to ``options`` for the
    ``time_limit`` and ``interrupt`` checks (e.g. a larger ``max_iterations``, so that the hard
    instance stays hard for a solver whose own iteration limit would end it first); checks
    without instances are skipped, saying so. ``time_limit`` is the short limit used on the hard
    instance, which may take at most ``time_limit_factor * time_limit + time_limit_slack`` seconds, the slack widened by
    :func:`machine_slowdown` on a loaded machine; a stop request must be honoured within the
    slack. The hard instance must be hard for the solver: finishing it within the limit fails
    the check (it would prove nothing). ``skip_missing`` skips (rather
    than fails) every check when the solver is not registered. ``select`` keeps only the named
    checks (see ``SOLVER_CHECKS``).
    """
    ctx = _SolverContext(name, pm, dict(options or {}), dict(hard_options or {}),
                         None if instances is None else _pairs(instances),
                         None if infeasible is None else list(infeasible), hard_instance,
                         None if bad_instances is None else list(bad_instances), deterministic,
                         float(time_limit), float(time_limit_factor), float(time_limit_slack),
                         tiny_time_limit, skip_missing)
    keep = set(select) if select is not None else None
    if keep is not None and keep - set(SOLVER_CHECKS):
        raise ValueError(f"unknown checks {sorted(keep - set(SOLVER_CHECKS))}; "
                         f"known: {sorted(SOLVER_CHECKS)}")
    return [Check(f"{name}:{cname}", partial(f, ctx), doc)
            for cname, (f, doc) in SOLVER_CHECKS.items() if keep is None or cname in keep]


# ====================================================================================== plugin
def _resolve_plugin(plugin: Any) -> Any:
    if isinstance(plugin, str):
        return importlib.import_module(plugin)
    return plugin


def _plugin_name(plugin: Any, name: str | None) -> str:
    if name:
        return name
    if isinstance(plugin, types.ModuleType):
        return plugin.__name__.rsplit(".", 1)[-1]
    return getattr(plugin, "__name__", type(plugin).__name__)


def _isolated_pm(plugin: Any, name: str):
    from solverhub.core.manager import SolverhubPluginManager

    pm = SolverhubPluginManager()
    pm._loaded = True  # an isolated manager: only this plugin, no built-ins or entry points
    pm.register(plugin, name=name)
    return pm


def _own_impls(pm: Any, plugin: Any, hook: str) -> list:
    return [impl for impl in getattr(pm.hook, hook).get_hookimpls() if impl.plugin is plugin]


def _records(plugin: Any, name: str) -> dict[str, list]:
    pm = _isolated_pm(plugin, name)
    out: dict[str, list] = {}
    for hook, entry in REGISTRY_BY_HOOK.items():  # the manager's own table
        rtype, category = entry.record, entry.category
        for impl in _own_impls(pm, plugin, hook):
            try:
                recs = impl.function()
            except Exception as exc:
                raise AssertionError(f"plugin {name!r}: {hook}() raised {type(exc).__name__}: {exc}") \
                    from None
            assert recs is None or isinstance(recs, (list, tuple)), \
                f"plugin {name!r}: {hook}() must return a list of {rtype.__name__}, got {type(recs).__name__}"
            for rec in recs or []:
                assert isinstance(rec, rtype), \
                    f"plugin {name!r}: {hook}() returned {type(rec).__name__}, expected {rtype.__name__}"
                assert isinstance(rec.name, str) and rec.name.strip() and rec.name == rec.name.strip(), \
                    f"plugin {name!r}: {hook}() returned a record with name {rec.name!r}"
                if category is not None:  # only the MetaComponent registries name a category
                    rec_category = getattr(rec, "category", None)
                    assert rec_category == category, \
                        f"plugin {name!r}: {hook}() returned {rec.name!r} of category {rec_category!r}"
                out.setdefault(hook, []).append(rec)
    return out


def _p_hooks(plugin: Any, name: str) -> None:
    from solverhub.core.manager import unknown_hooks

    try:
        pm = _isolated_pm(plugin, name)
    except Exception as exc:
        raise AssertionError(f"plugin {name!r} does not register: {type(exc).__name__}: {exc}") from None
    bad = unknown_hooks(h.name for h in pm.get_hookcallers(plugin) or [])
    assert not bad, f"plugin {name!r} implements unknown hooks: {'; '.join(bad)}"
    try:
        pm.check_pending()
    except Exception as exc:
        raise AssertionError(f"plugin {name!r}: {exc}") from None
    hooks = pm.get_hookcallers(plugin) or []
    assert hooks, f"plugin {name!r} implements no solverhub_* hook"


def _resolve_lazy(rec: Any, plugin: str) -> None:
    """Every dotted path a record holds imports and names an object."""
    for fname in type(rec)._lazy_fields:
        value = getattr(rec, fname)
        if isinstance(value, LazyRef):
            try:
                value.resolve()
            except Exception as exc:
                raise AssertionError(f"plugin {plugin!r}: {type(rec).__name__} {rec.name!r} field "
                                     f"{fname} = {value.path!r} does not import: "
                                     f"{type(exc).__name__}: {exc}") from None


def _p_records(plugin: Any, name: str) -> None:
    recs = _records(plugin, name)
    for items in recs.values():
        for rec in items:
            _resolve_lazy(rec, name)
    for hook, items in recs.items():
        names = [r.name for r in items]
        dup = sorted({n for n in names if names.count(n) > 1})
        assert not dup, f"plugin {name!r}: {hook}() returns the names {dup} more than once"
    for spec in recs.get("solverhub_solvers", []):
        assert callable(spec.factory), f"plugin {name!r}: solver {spec.name!r} factory is not callable"
        assert isinstance(spec.problem_kind, str) and spec.problem_kind, \
            f"plugin {name!r}: solver {spec.name!r} has no problem_kind"
        check_options_model(spec)
    for be in recs.get("solverhub_mip_backends", []):
        assert callable(be.factory), f"plugin {name!r}: backend {be.name!r} factory is not callable"
        assert isinstance(be.capabilities, frozenset), \
            f"plugin {name!r}: backend {be.name!r} capabilities must be a frozenset"
    for conv in recs.get("solverhub_converters", []):
        assert callable(conv.convert), f"plugin {name!r}: converter {conv.name!r} is not callable"
    for kind in recs.get("solverhub_problem_kinds", []):
        assert isinstance(kind.type, type), f"plugin {name!r}: problem kind {kind.name!r} type " \
                                            f"must be a class"
        assert isinstance(kind.protocol, KindProtocol), \
            f"plugin {name!r}: problem kind {kind.name!r} protocol must be a KindProtocol, got " \
            f"{type(kind.protocol).__name__}"
    for loader in recs.get("solverhub_loaders", []):
        assert callable(loader.load), f"plugin {name!r}: loader {loader.name!r} load is not callable"
        assert loader.schemes or loader.suffixes or loader.accepts is not None, \
            f"plugin {name!r}: loader {loader.name!r} claims no scheme, suffix or object type"
    for hook in ("solverhub_destroy_operators", "solverhub_repair_operators", "solverhub_bandit_policies",
                 "solverhub_acceptance_criteria", "solverhub_stopping_rules"):
        for comp in recs.get(hook, []):
            assert callable(comp.factory), f"plugin {name!r}: {comp.name!r} factory is not callable"
            assert isinstance(comp.params, dict), f"plugin {name!r}: {comp.name!r} params must be a dict"


def _p_unique(plugin: Any, name: str) -> None:
    """Names do not clash with the other plugins of this environment."""
    from solverhub.core.manager import SolverhubPluginManager

    pm = SolverhubPluginManager()
    pm.load_all()
    if pm.is_registered(plugin):
        own = pm.get_name(plugin)
    else:
        own = name if pm.get_plugin(name) is None else f"{name}-under-test"
        pm.register_plugin(plugin, name=own)
    pm.registry("solvers")  # builds every registry; clashes are refused and listed
    own_clashes = [c for c in pm.conflicts if own in (c.kept_from, c.refused_from)]
    if own_clashes:
        raise AssertionError(f"plugin {name!r}: " + "; ".join(c.message() for c in own_clashes))
    if pm.conflicts:
        raise CheckSkipped("other plugins of this environment clash among themselves: "
                           + "; ".join(c.message() for c in pm.conflicts))


def _refuses_unknown(model: Any, who: str) -> None:
    from pydantic import BaseModel, ValidationError

    assert isinstance(model, type) and issubclass(model, BaseModel), \
        f"{who}: the parameter model must be a pydantic model class, got {model!r}"
    if model.model_config.get("extra") == "allow":  # e.g. a callable taking **kwargs
        return
    try:
        model(no_such_parameter_xyz="1")
    except ValidationError as exc:
        assert any(e["type"] == "extra_forbidden" for e in exc.errors()), \
            f"{who}: an unknown parameter must be refused (extra='forbid'), got {exc.errors()}"
        return
    raise AssertionError(f"{who}: its parameter model accepts an unknown parameter; derive it "
                         f"from solverhub.LoaderParams (extra='forbid')")


def _p_loaders(plugin: Any, name: str) -> None:
    """The LoaderSpec contract: a parameter model the host validates addresses with (unknown
    parameters refused, an unknown target a BadInputError), a cheap claim predicate that never
    raises, and each declared example loads into a problem of the loader's kind."""
    from solverhub.core.loading import call_loader, validate_loader_params
    from solverhub.core.records import resolve

    loaders = _records(plugin, name).get("solverhub_loaders", [])
    if not loaders:
        raise CheckSkipped(f"plugin {name!r} registers no LoaderSpec")
    for ld in loaders:
        who = f"plugin {name!r}: loader {ld.name!r}"
        assert ld.params is not None, \
            f"{who} declares no parameter model (params=...): the host parses an address once " \
            f"and validates its parameters with it (solverhub.NoParams when it takes none)"
        params = resolve(ld.params)
        if isinstance(params, type):
            _refuses_unknown(params, who)
        else:
            try:
                model = params("no-such-target-xyz")
            except BadInputError:
                model = None
            except Exception as exc:
                raise AssertionError(f"{who}: params('no-such-target-xyz') raised "
                                     f"{type(exc).__name__}: {exc}; an unknown target must be a "
                                     f"BadInputError naming it") from None
            if model is not None:
                _refuses_unknown(model, who)
        if ld.accepts is not None:
            for obj in (object(), "no-such-scheme-xyz:thing", 3):
                try:
                    out = ld.accepts(obj)
                except Exception as exc:
                    raise AssertionError(f"{who}: accepts({obj!r}) raised {type(exc).__name__}: "
                                         f"{exc}; it must return False") from None
                assert out is False, f"{who}: accepts({obj!r}) returned {out!r}"
        for example in ld.examples:
            scheme, sep, rest = example.partition(":")
            if sep and scheme in ld.schemes:
                from solverhub.core.address import parse_address

                addr = parse_address(example)
                target, values = addr.target, addr.params
            else:
                target, values = example, {}
            try:
                params = validate_loader_params(ld, target, values, example)
                problem = call_loader(ld, target, params, example)
            except Exception as exc:
                raise AssertionError(f"{who}: its example {example!r} did not load: "
                                     f"{type(exc).__name__}: {exc}") from None
            if ld.kind is not None:
                assert getattr(problem, "kind", None) == ld.kind, \
                    f"{who}: {example!r} loaded a problem of kind " \
                    f"{getattr(problem, 'kind', None)!r}, but the loader declares {ld.kind!r}"


def _p_loader(plugin: Any, name: str) -> None:
    pm = _isolated_pm(plugin, name)
    impls = _own_impls(pm, plugin, "solverhub_load_problem")
    if not impls:
        raise CheckSkipped(f"plugin {name!r} has no fallback solverhub_load_problem (its loaders, "
                           f"if any, are LoaderSpecs: see loaders_contract)")
    foreign = [object(), "no-such-scheme-xyz:thing?a=1", "/no/such/dir/model.unknown-extension-xyz"]
    for impl in impls:
        for src in foreign:
            try:
                out = impl.function(**{k: v for k, v in {"source": src, "params": {}}.items()
                                       if k in impl.argnames})
            except Exception as exc:
                raise AssertionError(f"plugin {name!r}: its loader raised {type(exc).__name__} on a "
                                     f"source it does not own ({src!r}): {exc}; return None instead") \
                    from None
            assert out is None, f"plugin {name!r}: its loader claimed {src!r} (returned {out!r})"


def _p_cheap_import(plugin: Any, name: str) -> None:
    if not isinstance(plugin, types.ModuleType):
        raise CheckSkipped("the plugin is not a module")
    mod = plugin.__name__
    code = (
        "import sys, solverhub\n"
        "before = set(sys.modules)\n"
        f"import importlib; importlib.import_module({mod!r})\n"
        f"heavy = {HEAVY_MODULES!r}\n"
        "new = sorted({m.split('.')[0] for m in set(sys.modules) - before} & set(heavy))\n"
        "print(','.join(new))\n"
    )
    # a fresh interpreter: modules imported by earlier tests must not hide (or fake) anything
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"plugin {name!r}: importing {mod} failed: {out.stderr.strip()[-500:]}"
    heavy = [h for h in out.stdout.strip().split(",") if h]
    assert not heavy, f"plugin {name!r}: importing {mod} imports {heavy}; import heavy libraries " \
                      f"inside factories, so that the host starts fast"


PLUGIN_CHECKS: dict[str, tuple[Callable[[Any, str], None], str]] = {
    "hooks_valid": (_p_hooks, "registers into a fresh manager; check_pending() passes"),
    "records_valid": (_p_records, "hooks return typed records; solver options models conform"),
    "names_unique": (_p_unique, "record names do not clash with the environment's other plugins"),
    "loaders_contract": (_p_loaders, "LoaderSpecs declare a parameter model that refuses unknown "
                                     "parameters and targets; examples load into their kind"),
    "loader_declines_foreign": (_p_loader, "the fallback solverhub_load_problem hook (deprecated) "
                                           "returns None for sources it does not own"),
    "cheap_import": (_p_cheap_import, "importing the plugin module imports no heavy library"),
}


def plugin_checks(plugin: Any, name: str | None = None, *, solvers: bool = False,
                  select: Iterable[str] | None = None, **solver_kw: Any) -> list[Check]:
    """The conformance checks of a plugin object (a module with ``@hookimpl`` functions, an
    instance of a class with them, or a module path string). With ``solvers=True`` the
    :func:`solver_checks` of every solver it registers follow (keywords go to them)."""
    plugin = _resolve_plugin(plugin)
    pname = _plugin_name(plugin, name)
    keep = set(select) if select is not None else None
    checks = [Check(f"{pname}:{cname}", partial(f, plugin, pname), doc)
              for cname, (f, doc) in PLUGIN_CHECKS.items() if keep is None or cname in keep]
    if solvers:
        pm = _isolated_pm(plugin, pname)
        for impl in _own_impls(pm, plugin, "solverhub_solvers"):
            for spec in impl.function() or []:
                checks += solver_checks(spec.name, **solver_kw)
    return checks


def _run_all(checks: list[Check]) -> dict[str, str]:
    report: dict[str, str] = {}
    failures = []
    for check in checks:
        try:
            check.func()
        except CheckSkipped as exc:
            report[check.name] = f"skipped: {exc}"
        except AssertionError as exc:
            report[check.name] = f"FAILED: {exc}"
            failures.append(f"{check.name}: {exc}")
        except Exception as exc:
            report[check.name] = f"FAILED: {type(exc).__name__}: {exc}"
            failures.append(f"{check.name}: unexpected {type(exc).__name__}: {exc}")
        else:
            report[check.name] = "passed"
    if failures:
        raise AssertionError(f"{len(failures)} conformance check(s) failed:\n  " + "\n  ".join(failures))
    return report


def check_solver(name: str, **kw: Any) -> dict[str, str]:
    """Run every :func:`solver_checks` check; raise ``AssertionError`` listing all failures, else
    return ``{check name: "passed" | "skipped: why"}``."""
    return _run_all(solver_checks(name, **kw))


def check_plugin(plugin: Any, name: str | None = None, **kw: Any) -> dict[str, str]:
    """Run every :func:`plugin_checks` check (``solvers=True`` adds the solver checks)."""
    return _run_all(plugin_checks(plugin, name, **kw))
