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
from solverhub.core.arrays import to_host, to_host_scalar
from solverhub.core.errors import BadInputError
from solverhub.core.interrupt import handle_sigint, stop_requested
from solverhub.core.kinds import KindProtocol, Reference
from solverhub.core.manager import get_plugin_manager
from solverhub.core.observers import Notifier
from solverhub.core.records import Converter, SolverSpec, resolve
from solverhub.core.result import Conversion, Correction, Result, Status
from solverhub.core.timing import RESERVE_SECONDS, check_time_limit

__all__ = ["load_problem", "solve", "validate_options", "validate_options_model", "check_problem",
           "describe_source", "is_problem", "kind_protocol", "source_kind", "can_take"]

def is_problem(obj: Any) -> bool:
    """True for an object of a registered problem kind (it has a ``kind`` naming one)."""
    kind = getattr(obj, "kind", None)
    return isinstance(kind, str) and kind in get_plugin_manager().problem_kinds()


def describe_source(source: Any) -> str:
    if isinstance(source, (str, Path)):
        return str(source)
    return getattr(source, "source", None) or getattr(source, "name", None) or type(source).__name__


def load_problem(source: Any, kind: str | None = None, **params: Any) -> Any:
    """Load a problem from a path, an address (``scheme:...?k=v``) or a Python object (e.g. a Pyomo
    model). An address goes to the one loader registered for its scheme, a file to the loaders of
    its suffix, an object to the loaders that accept it; keyword ``params`` join the address's own
    and are validated by the loader's parameter model (see :mod:`solverhub.core.loading`). A
    ``py:`` address runs code, so it needs the user's consent (:mod:`solverhub.core.trust`). With
    ``kind`` the problem is converted to that kind (``load_problem(pyomo_model, kind="mip")``);
    without, it comes in the loader's own form (a Pyomo model loads as kind ``pyomo``).

    Parameters
    ----------
    source : str, pathlib.Path or object
        A path, an address or a Python object a loader accepts.
    kind : str, optional
        Convert the loaded problem to this kind.
    **params
        Loader parameters, validated by the loader's parameter model.

    Returns
    -------
    object
        The problem, of its loader's kind or of ``kind``.

    Raises
    ------
    BadInputError
        No loader claims the source, a parameter is unknown or invalid, the file is malformed.
    """
    problem = _load(source, **params)
    return problem if kind is None else _convert(problem, kind, None)


def _load(source: Any, **params: Any) -> Any:
    from solverhub.core.loading import load_source

    if is_problem(source):
        return source
    return load_source(source, params)


def source_kind(source: Any) -> str | None:
    """The kind ``source`` loads as, found without loading it where possible: a problem object's
    own ``kind``; the ``kind`` its loader record declares (address scheme, file suffix); for a
    ``py:`` address, the ``kind`` of the callable's annotated return type. None when unknown."""
    if getattr(source, "kind", None) is not None and not isinstance(source, (str, Path)):
        return str(source.kind)
    if not isinstance(source, (str, Path)):
        return None
    pm = get_plugin_manager()
    addr = parse_address(source)
    if addr.scheme is None:
        loaders = pm.loaders_for_file(str(source))
        return loaders[0].kind if loaders else None
    if addr.scheme == "py":
        from solverhub.plugins.pyaddress import declared_kind

        return declared_kind(str(source))
    loader = pm.loader_for_scheme(addr.scheme)
    return loader.kind if loader is not None else None


def can_take(solver_kind: str, problem_kind: str | None) -> bool:
    """True when a solver of ``solver_kind`` can take a problem of ``problem_kind`` (the same kind,
    or a registered converter between them); an unknown problem kind is given the benefit."""
    if problem_kind is None or problem_kind == solver_kind:
        return True
    return any(c.source_kind == problem_kind and c.target_kind == solver_kind
               for c in get_plugin_manager().converters().values())


def _import_py_address(source: str) -> None:
    addr = parse_address(source)
    if addr.scheme == "py":
        from solverhub.plugins.pyaddress import import_module_of

        import_module_of(source)


def validate_options(spec: SolverSpec, options: dict[str, Any] | BaseModel) -> BaseModel:
    """Validate ``options`` with the solver's options model; errors name the solver and the key.
    An instance of the model is taken as it is (validated already)."""
    model = spec.options_model
    if isinstance(options, model):
        return options
    if isinstance(options, BaseModel):  # another model: its fields are the options
        options = options.model_dump()
    return validate_options_model(model, options, who=f"solver {spec.name!r}")


def validate_options_model(model: type[BaseModel], options: dict[str, Any], *, who: str) -> BaseModel:
    """``model(**options)``, a :class:`BadInputError` starting with ``who`` naming each bad key."""
    try:
        return model(**options)
    except ValidationError as exc:
        parts = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "options"
            if err["type"] == "extra_forbidden":
                known = ", ".join(model.model_fields) or "none"
                parts.append(f"unknown option {loc!r} (known: {known})")
            elif not err["loc"]:  # a check across options: its message names them
                parts.append(err["msg"].removeprefix("Value error, "))
            else:
                parts.append(f"option {loc!r}: {err['msg']}")
        raise BadInputError(f"{who}: " + "; ".join(parts)) from None


def _convert(problem: Any, target_kind: str, solver: str | None) -> Any:
    return _convert_with(problem, target_kind, solver)[0]


def _convert_with(problem: Any, target_kind: str, solver: str | None) -> tuple[Any, Converter | None]:
    """``problem`` as a problem of ``target_kind``, and the converter used (None: same kind)."""
    kind = getattr(problem, "kind", None)
    if kind == target_kind:
        return problem, None
    for conv in get_plugin_manager().converters().values():
        if conv.source_kind == kind and conv.target_kind == target_kind:
            return resolve(conv.convert)(problem), conv
    who = f"solver {solver!r} takes" if solver else "asked for"
    raise BadInputError(f"{who} problems of kind {target_kind!r}, but "
                        f"{describe_source(problem)} is of kind {kind!r} and no converter exists")


def solve(problem: Any, solver: str = "highs", *, time_limit: float | None = None, seed: int = 0,
          options: dict[str, Any] | BaseModel | None = None, observers: Iterable[Any] = (),
          reference: float | None = None, started_at: float | None = None,
          **extra_options: Any) -> Result:
    """Solve ``problem`` (path, address, problem object or Pyomo model) with solver ``solver``.

    Options go in ``options`` (a dict, or an instance of the solver's options model, taken as
    validated) or as keywords; they are validated once, here, and the solver's factory gets the
    validated object (see :mod:`solverhub.core.solver`). Bad input raises :class:`BadInputError`; a crashing
    solver gives ``status == "error"`` with the message in ``Result.error``. MIP solutions are
    re-checked against the original model. ``reference`` (or the problem's known optimum) fills
    ``Result.primal_integral``.

    ``time_limit`` covers the whole call (loading, conversion, solving, verification) counted from
    ``started_at`` (a ``time.perf_counter()`` reading; default: when ``solve`` is called): the
    solver gets what is left of it.

    Parameters
    ----------
    problem : str, pathlib.Path or problem object
        An MPS/LP path, an address (``generate:...``, ``bolib:...``, ``s2mpj:...``,
        ``dataset:...``, ``py:...`` with consent), a problem object of any registered kind, or a
        Pyomo model. A problem of another kind is converted by a registered converter, and the
        result is mapped back to the problem's own form when the converter inverts.
    solver : str
        A registered solver name (``solverhub solvers`` lists them).
    time_limit : float or None
        Seconds for the whole call, counted from ``started_at``; None: no limit.
    seed : int
        Random seed handed to the solver.
    options : dict or pydantic model, optional
        The solver's options; keywords (``**extra_options``) are merged in.
    observers : iterable
        Objects notified of the run's start, incumbents, iterations and end.
    reference : float, optional
        A known optimal value; fills ``Result.primal_integral`` (MIP).
    started_at : float, optional
        The ``time.perf_counter()`` reading the time limit counts from.

    Returns
    -------
    Result
        The checked result: ``status`` with ``termination`` and ``solution_status``,
        ``objective``, ``bound``, ``x``, ``metrics`` of the problem's kind, ``history``,
        ``trajectory``.

    Raises
    ------
    BadInputError
        Unknown solver, invalid option, malformed problem, code without consent.
    """
    start = time.perf_counter() if started_at is None else float(started_at)
    pm = get_plugin_manager()
    if isinstance(problem, str):
        _import_py_address(problem)  # a py: module may register the solver it is solved with
    spec = pm.get_available_solver(solver)
    if isinstance(options, BaseModel):
        validated = validate_options(spec, options) if not extra_options else \
            validate_options(spec, {**options.model_dump(exclude_unset=True), **extra_options})
    else:
        validated = validate_options(spec, {**(options or {}), **extra_options})
    options_dict = validated.model_dump()  # dumped once: observers and the result share it
    time_limit = check_time_limit(time_limit)
    source = problem
    loaded = load_problem(problem)
    target, converter = _convert_with(loaded, spec.problem_kind, solver)
    if target is problem:  # the caller's own object may have been edited after construction;
        check_problem(target, spec)  # a loaded or converted one was validated when built
    else:
        _check_type(target, spec)
    instance_name = describe_source(source if isinstance(source, (str, Path)) else loaded)
    try:
        solver_obj = spec.build(validated)
    except BadInputError:
        raise
    except Exception as exc:
        raise BadInputError(f"solver {solver!r} could not be built with options {options_dict}: "
                            f"{exc}") from exc

    notifier = Notifier(solver, observers, pm)
    notifier.run_start(target, options_dict)
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
        if stop_requested():
            result.info.setdefault("interrupted", "stop requested (Ctrl-C)")
            if not (result.status.is_final or result.status is Status.ERROR):
                # stopped by the user: "interrupted" (with the incumbent, if any), not the limit
                # or "feasible" a solver made of the stop; a conclusion it reached stands
                result.status = Status.INTERRUPTED
    if not result.runtime:
        result.runtime = time.perf_counter() - t0
    result.solver = solver
    result.instance = instance_name
    result.options = options_dict
    result.kind = spec.problem_kind
    result.info.setdefault("setup_time", t0 - start)
    _to_host(result)
    protocol = kind_protocol(spec.problem_kind)
    _verify(target, result, protocol)
    checked = target  # the problem the result is in the form of
    if converter is not None and converter.invert is not None and result.status != Status.ERROR:
        result = _invert(converter, loaded, target, result)
        if result.status != Status.ERROR:
            checked, protocol = loaded, kind_protocol(converter.source_kind)
            _verify(loaded, result, protocol)
    if not result.history and len(notifier.history):
        result.history = notifier.history.to_dict()
    ref = protocol.reference(checked)
    if reference is not None:  # the caller's value wins; a known solution stays
        ref = Reference(float(reference), None if ref is None else ref.solution,
                        "given" if ref is None else ref.label)
    if result.status != Status.ERROR:
        horizon = time_limit if time_limit is not None and math.isfinite(time_limit) \
            else max(result.runtime, 1e-9)
        metrics = protocol.compute_metrics(checked, result, ref, horizon)
        result.metrics.update({k: float(v) for k, v in metrics.items() if v is not None})
        if result.primal_integral is None and "primal_integral" in metrics:
            result.primal_integral = float(metrics["primal_integral"])
        if ref is not None and ref.objective is not None:
            result.info.setdefault("reference_objective", float(ref.objective))
    # the converted problem knows how to load a solution back into its source (a Pyomo model,
    # whichever converter made it); the loaded object is asked only when the target cannot
    accept = getattr(target, "accept_result", None)
    if not callable(accept) and loaded is not target:
        accept = getattr(loaded, "accept_result", None)
    if callable(accept):
        accept(result)
    notifier.run_end(result)
    return result


def _check_type(problem: Any, spec: SolverSpec, pm: Any = None) -> None:
    """The problem is of the type its kind registered (a solver need not check it again)."""
    rec = (pm or get_plugin_manager()).problem_kinds().get(spec.problem_kind)
    ptype = getattr(rec, "type", None)
    if isinstance(ptype, type) and not isinstance(problem, ptype):
        raise BadInputError(f"solver {spec.name!r} takes a {ptype.__name__} (kind "
                            f"{spec.problem_kind!r}), got {type(problem).__name__}")


def check_problem(problem: Any, spec: SolverSpec, pm: Any = None) -> None:
    """What the host checks of a problem before solver ``spec`` sees it, so that no solver
    repeats it: the problem is of its kind's registered type, and its own ``validate()`` passes
    (a :class:`BadInputError` naming the field otherwise)."""
    _check_type(problem, spec, pm)
    validate = getattr(problem, "validate", None)
    if callable(validate):
        validate()


def kind_protocol(kind: str) -> KindProtocol:
    """The protocol of problem kind ``kind`` (the permissive base for an unregistered kind)."""
    rec = get_plugin_manager().problem_kinds().get(kind)
    return getattr(rec, "protocol", None) or KindProtocol()


def _invert(converter: Converter, source: Any, target: Any, result: Result) -> Result:
    """``result`` (checked in the target's form) mapped back to the source's form by the
    converter; a converter that fails to map it turns it into an error naming the converter."""
    trace = Conversion(converter.name, converter.source_kind, converter.target_kind,
                       dict(result.metrics))
    result.metrics = {}
    result.kind = converter.source_kind
    result.conversion = trace
    assert converter.invert is not None
    try:
        out = resolve(converter.invert)(source, target, result)
    except Exception as exc:
        if isinstance(exc, BadInputError):
            raise
        result.info["traceback"] = traceback.format_exc()
        _reject(result, f"converter {converter.name!r} (plugin {converter.provider!r}) could not map "
                        f"the solution back to kind {converter.source_kind!r}: "
                        f"{type(exc).__name__}: {exc}")
        return result
    if out is None:
        out = result
    if not isinstance(out, Result):
        raise TypeError(f"converter {converter.name!r}: invert returned "
                        f"{type(out).__name__}, not a Result")
    out.kind, out.conversion = converter.source_kind, trace
    if out.x is not None:
        _to_host(out)
    return out


def _to_host(result: Result) -> None:
    """Device arrays (CuPy ...) become NumPy and 0-d arrays floats, once, here: nothing after
    this point (verification, JSON, plots) sees a device array."""
    result.x = to_host(result.x)
    if result.x is not None:
        result.x = np.asarray(result.x)
    result.objective = to_host_scalar(result.objective)
    result.bound = to_host_scalar(result.bound)


def _reject(result: Result, message: str) -> None:
    """Turn ``result`` into an error that carries no numbers looking like an answer; the rejected
    ones stay in ``info`` for debugging."""
    result.error = message
    result.info["rejected_status"] = result.status.value
    result.info["rejected_objective"] = result.objective
    result.info["rejected_bound"] = result.bound
    if result.x is not None:
        result.info["rejected_x"] = np.asarray(result.x, dtype=np.float64).copy()
    result.status = Status.ERROR
    result.objective = result.bound = result.x = None
    result.primal_integral = None


def _verify(problem: Any, result: Result, protocol: KindProtocol | None = None) -> None:
    """Re-check a reported solution by the problem kind's protocol. A solution the kind rejects
    (MIP: infeasible; any kind: non-finite values) makes the result an error; residuals go to
    ``metrics``; an ``optimal`` claim the residuals do not support becomes ``feasible``."""
    if result.status != Status.ERROR and result.objective is not None \
            and not math.isfinite(float(result.objective)) and result.x is not None:
        _reject(result, f"solver {result.solver!r} reported a non-finite objective "
                        f"({result.objective}) with a solution: a numerical breakdown")
        return
    if result.x is None:
        return
    x = np.asarray(result.x)
    if x.dtype.kind in "fc" and not np.all(np.isfinite(x)):
        bad = int(np.count_nonzero(~np.isfinite(x)))
        _reject(result, f"the solution reported by {result.solver!r} has {bad} non-finite "
                        f"entries (NaN or inf: a numerical breakdown)")
        return
    v = (protocol or KindProtocol()).verify(problem, result.x)
    if v is None:
        return
    result.info["verified"] = bool(v.ok)
    result.info["verification"] = v.message
    result.metrics.update({k: float(val) for k, val in v.residuals.items()})
    if not v.ok:
        _reject(result, f"the solution reported by {result.solver!r} fails the model's feasibility "
                        f"check ({v.message})")
        return
    if v.x is not None:
        result.x = v.x
    # the model's own evaluation (of the checked x) is the truth; a reported value it replaces
    # is kept as a correction
    if v.objective is not None and math.isfinite(v.objective):
        recomputed = float(v.objective)
        reported = result.objective
        if reported is not None and not _same_value(reported, recomputed):
            result.corrections.append(Correction(
                "objective", float(reported), recomputed,
                f"the {result.kind or 'problem'} kind's evaluation of the reported solution "
                f"differs from the objective {result.solver!r} reported"))
        result.objective = recomputed
    if result.status == Status.OPTIMAL and result.bound is not None and result.objective is not None \
            and abs(result.bound - result.objective) <= 1e-9 * max(1.0, abs(result.objective)):
        result.bound = result.objective
    if result.status == Status.OPTIMAL and not v.optimal_ok:
        result.status = Status.FEASIBLE
        result.info["optimality_not_verified"] = v.message
        result.corrections.append(Correction(
            "status", Status.OPTIMAL.value, Status.FEASIBLE.value,
            f"the {result.kind or 'problem'} kind's check does not support the optimality claim "
            f"({v.message})"))


def _same_value(reported: Any, recomputed: float) -> bool:
    """A reported objective equal to the kind's evaluation up to floating-point rounding."""
    try:
        r = float(reported)
    except (TypeError, ValueError):
        return False
    return math.isfinite(r) and abs(r - recomputed) <= 1e-9 * max(1.0, abs(recomputed))
