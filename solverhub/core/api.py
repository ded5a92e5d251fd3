"""The Python API (DESIGN.md section 6): :func:`load_problem` and :func:`solve`."""

from __future__ import annotations

import math
import time
import traceback
from pathlib import Path
from typing import Any, Iterable

import numpy as np
from pydantic import BaseModel, ValidationError

from solverhub.core.address import parse_address
from solverhub.core.errors import BadInputError
from solverhub.core.interrupt import handle_sigint, stop_requested
from solverhub.core.manager import get_plugin_manager
from solverhub.core.observers import Notifier
from solverhub.core.records import SolverSpec
from solverhub.core.result import Result, Status, primal_integral
from solverhub.core.timing import RESERVE_SECONDS, check_time_limit

__all__ = ["load_problem", "solve", "validate_options", "describe_source", "is_problem"]

#: statuses a solver may have proved before a stop request reached it: kept as they are
_PROVED = frozenset({Status.OPTIMAL, Status.INFEASIBLE, Status.UNBOUNDED, Status.ERROR,
                     Status.INTERRUPTED})


def is_problem(obj: Any) -> bool:
    """True for an object of a registered problem kind (it has a ``kind`` naming one)."""
    kind = getattr(obj, "kind", None)
    return isinstance(kind, str) and kind in get_plugin_manager().problem_kinds()


def describe_source(source: Any) -> str:
    if isinstance(source, (str, Path)):
        return str(source)
    return getattr(source, "source", None) or getattr(source, "name", None) or type(source).__name__


def load_problem(source: Any, **params: Any) -> Any:
    """Load a problem from a path, an address (``scheme:...?k=v``) or a Python object (e.g. a Pyomo
    model). The first loader plugin that understands the source wins."""
    pm = get_plugin_manager()
    if is_problem(source):
        return source
    if isinstance(source, (str, Path)):
        addr = parse_address(source)
        merged = {**addr.params, **{k: str(v) for k, v in params.items()}}
        problem = pm.hook.solverhub_load_problem(source=str(source) if not isinstance(source, Path)
                                                 else source, params=merged)
        if problem is not None:
            return problem
        if addr.scheme is not None and not Path(str(source)).exists():
            raise BadInputError(f"{source}: no loader plugin understands the scheme "
                                f"{addr.scheme!r}")
        if not Path(str(source)).exists():
            raise BadInputError(f"{source}: file not found")
        raise BadInputError(f"{source}: no loader plugin understands this file type "
                            f"(known: .mps, .lp, gzipped too)")
    problem = pm.hook.solverhub_load_problem(source=source, params=dict(params))
    if problem is None:
        raise BadInputError(f"no loader plugin understands an object of type {type(source).__name__}")
    return problem


def validate_options(spec: SolverSpec, options: dict[str, Any]) -> BaseModel:
    """Validate ``options`` with the solver's options model; errors name the solver and the key."""
    try:
        return spec.options(**options)
    except ValidationError as exc:
        parts = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "options"
            if err["type"] == "extra_forbidden":
                known = ", ".join(spec.options.model_fields) or "none"
                parts.append(f"unknown option {loc!r} (known: {known})")
            else:
                parts.append(f"option {loc!r}: {err['msg']}")
        raise BadInputError(f"solver {spec.name!r}: " + "; ".join(parts)) from None


def _convert(problem: Any, target_kind: str, solver: str) -> Any:
    kind = getattr(problem, "kind", None)
    if kind == target_kind:
        return problem
    for conv in get_plugin_manager().converters().values():
        if conv.source_kind == kind and conv.target_kind == target_kind:
            return conv.convert(problem)
    raise BadInputError(f"solver {solver!r} takes problems of kind {target_kind!r}, but "
                        f"{describe_source(problem)} is of kind {kind!r} and no converter exists")


def solve(problem: Any, solver: str = "highs", *, time_limit: float | None = None, seed: int = 0,
          options: dict[str, Any] | None = None, observers: Iterable[Any] = (),
          reference: float | None = None, started_at: float | None = None,
          **extra_options: Any) -> Result:
    """Solve ``problem`` (path, address, problem object or Pyomo model) with solver ``solver``.

    Options go in ``options`` or as keywords. Bad input raises :class:`BadInputError`; a crashing
    solver gives ``status == "error"`` with the message in ``Result.error``. MIP solutions are
    re-checked against the original model. ``reference`` (or the problem's known optimum) fills
    ``Result.primal_integral``.

    ``time_limit`` covers the whole call (loading, conversion, solving, verification) counted from
    ``started_at`` (a ``time.perf_counter()`` reading; default: when ``solve`` is called): the
    solver gets what is left of it.
    """
    start = time.perf_counter() if started_at is None else float(started_at)
    pm = get_plugin_manager()
    spec = pm.get_solver(solver)
    opts = {**(options or {}), **extra_options}
    validated = validate_options(spec, opts)
    time_limit = check_time_limit(time_limit)
    source = problem
    loaded = load_problem(problem)
    target = _convert(loaded, spec.problem_kind, solver)
    validate = getattr(target, "validate", None)
    if callable(validate):  # problem objects may have been edited after construction
        validate()
    instance_name = describe_source(source if isinstance(source, (str, Path)) else loaded)
    try:
        solver_obj = spec.factory(**validated.model_dump())
    except BadInputError:
        raise
    except Exception as exc:
        raise BadInputError(f"solver {solver!r} could not be built with options {opts}: {exc}") from exc

    notifier = Notifier(solver, observers, pm)
    notifier.run_start(target, validated.model_dump())
    t0 = time.perf_counter()
    solver_limit = None
    if time_limit is not None:
        solver_limit = max(float(time_limit) - (t0 - start) - RESERVE_SECONDS, 0.01)
    # Ctrl-C: the first asks the solver to stop (it returns its incumbent), a second raises
    # KeyboardInterrupt in it; either way the caller gets an ``interrupted`` result, no exception
    with handle_sigint():
        try:
            result = solver_obj.solve(target, time_limit=solver_limit, seed=seed, notifier=notifier)
        except BadInputError:
            raise
        except KeyboardInterrupt:  # a second Ctrl-C, or a solver that knows nothing of the flag
            result = Result(Status.INTERRUPTED, info={"interrupted": "KeyboardInterrupt"})
        except Exception as exc:  # a crashing plugin gives an error result, not a traceback
            result = Result(Status.ERROR, error=f"solver {solver!r} crashed: {type(exc).__name__}: "
                                                f"{exc}", info={"traceback": traceback.format_exc()})
        if stop_requested() and result.status not in _PROVED:
            # stopped by the user with an incumbent: not "feasible" (a limit was not reached)
            result.status = Status.INTERRUPTED
            result.info.setdefault("interrupted", "stop requested (Ctrl-C)")
    if not result.runtime:
        result.runtime = time.perf_counter() - t0
    result.solver = solver
    result.instance = instance_name
    result.options = validated.model_dump()
    result.info.setdefault("setup_time", t0 - start)
    _verify(target, result)
    ref = reference if reference is not None else getattr(target, "reference_objective", None)
    if ref is not None and result.primal_integral is None:
        horizon = time_limit if time_limit is not None and math.isfinite(time_limit) \
            else max(result.runtime, 1e-9)
        result.primal_integral = primal_integral(result.trajectory, float(ref), horizon)
        result.info.setdefault("reference_objective", float(ref))
    accept = getattr(loaded, "accept_result", None)
    if callable(accept) and loaded is not target:
        accept(result)
    elif callable(getattr(target, "accept_result", None)):
        target.accept_result(result)
    notifier.run_end(result)
    return result


def _verify(problem: Any, result: Result) -> None:
    """Re-check a reported solution on the original model; a failing one is an error result."""
    check = getattr(problem, "check", None)
    if result.x is None or not callable(check):
        return
    integrality = getattr(problem, "integrality", None)
    if integrality is not None and np.any(integrality):
        # integer columns within 1e-9 of an integer are reported as that integer (as SCIP does)
        x = np.array(result.x, dtype=np.float64)
        xi = x[integrality]
        near = np.abs(xi - np.round(xi)) <= 1e-9
        if near.any():
            xi[near] = np.round(xi[near])
            x[integrality] = xi
            result.x = x
    report = check(result.x)
    result.info["verified"] = bool(report.feasible)
    result.info["verification"] = str(report)
    evaluated = getattr(report, "objective", None)
    if report.feasible:
        # the model's own evaluation (of the snapped x) is the truth
        if evaluated is not None and math.isfinite(evaluated):
            result.objective = float(evaluated)
        if result.status == Status.OPTIMAL and result.bound is not None and result.objective is not None \
                and abs(result.bound - result.objective) <= 1e-9 * max(1.0, abs(result.objective)):
            result.bound = result.objective
    else:
        result.error = (f"the solution reported by {result.solver!r} fails the model's feasibility "
                        f"check ({report})")
        result.status = Status.ERROR
