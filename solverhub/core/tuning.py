"""Online tuning across an instance sequence (issue 24; Khodak, Chow, Balcan, Talwalkar, "Learning
to Relax", ICLR 2024): before each solve a tuner picks a value of one solver option from a
:class:`ParameterSpace`; after it, the tuner sees only that solve's cost (iterations, runtime, any
metric) and, for contextual tuners, the instance's context features.

Tuners are registered through the ``solverhub_tuners`` hook as :class:`~solverhub.core.records.
TunerSpec` records (built-ins: ``tsallis-inf``, ``chebcb``, ``exp3``, ``ucb1``, ``fixed`` in
:mod:`solverhub.plugins.tuners`). A tuner object follows :class:`Tuner`: ``choose(context)``
returns the option value, ``observe(cost)`` reports the cost of the last choice.
"""

from __future__ import annotations

import math
import time
from typing import Any, Literal, Protocol, Sequence, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["ParameterSpace", "Tuner", "ArmTuner", "TuneConfig", "TuneInterrupted", "parse_tune_config",
           "run_tune", "tune_report", "plot_tune_report"]


class ParameterSpace(BaseModel):
    """The values one option may take: a ``grid`` of given ``values``, or an ``interval`` /
    ``log-interval`` [low, high] discretized into ``points`` arms (evenly, or evenly in log) for
    the discrete tuners (the paper's omega grid)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="the solver option tuned (e.g. omega); a "
                      "product: a label")
    kind: Literal["grid", "interval", "log-interval", "product"] = "interval"
    values: list[float] | None = None
    parameters: list["ParameterSpace"] | None = Field(
        None, description="kind=product: the options tuned together; the arms are every "
        "combination of their arms, numbered 0, 1, ... (settings(arm) decodes one)")
    low: float | None = None
    high: float | None = None
    points: int = Field(20, ge=1, le=10_000, description="arms of an interval's discretization")

    @model_validator(mode="after")
    def _check(self) -> "ParameterSpace":
        if self.kind == "product":
            if not self.parameters or any(p.kind == "product" for p in self.parameters):
                raise ValueError(f"parameter {self.name!r}: a product needs a non-empty "
                                 "'parameters' list of grids or intervals")
            if self.values is not None or self.low is not None or self.high is not None:
                raise ValueError(f"parameter {self.name!r}: a product takes 'parameters' only")
            names = [p.name for p in self.parameters]
            if len(set(names)) != len(names):
                raise ValueError(f"parameter {self.name!r}: an option is named twice")
            return self
        if self.parameters is not None:
            raise ValueError(f"parameter {self.name!r}: 'parameters' is for kind = \"product\"")
        if self.kind == "grid":
            if not self.values:
                raise ValueError(f"parameter {self.name!r}: a grid needs a non-empty 'values' list")
            if self.low is not None or self.high is not None:
                raise ValueError(f"parameter {self.name!r}: a grid takes 'values', not low/high")
            return self
        if self.values is not None:
            raise ValueError(f"parameter {self.name!r}: an {self.kind} takes low/high, not values")
        if self.low is None or self.high is None or not (math.isfinite(self.low)
                                                         and math.isfinite(self.high)):
            raise ValueError(f"parameter {self.name!r}: an {self.kind} needs finite low and high")
        if not self.low < self.high:
            raise ValueError(f"parameter {self.name!r}: low {self.low} must be below high {self.high}")
        if self.kind == "log-interval" and self.low <= 0:
            raise ValueError(f"parameter {self.name!r}: a log-interval needs low > 0, got {self.low}")
        return self

    def arms(self) -> list[float]:
        """The discrete values the bandit tuners choose among (midpoints of ``points`` equal
        cells for an interval, so the open ends of omega in (0, 2) are never chosen)."""
        if self.kind == "product":
            return [float(i) for i in range(math.prod(len(p.arms()) for p in self.parameters or []))]
        if self.kind == "grid":
            return [float(v) for v in self.values or []]
        assert self.low is not None and self.high is not None
        cells = (np.arange(self.points) + 0.5) / self.points
        if self.kind == "interval":
            return [float(v) for v in self.low + cells * (self.high - self.low)]
        lo, hi = math.log(self.low), math.log(self.high)
        return [float(v) for v in np.exp(lo + cells * (hi - lo))]

    def settings(self, value: float) -> dict[str, float]:
        """The option values an arm stands for: ``{name: value}``, or for a product the
        combination numbered ``value`` (the last parameter varies fastest)."""
        if self.kind != "product":
            return {self.name: value}
        index, out = int(value), {}
        for p in reversed(self.parameters or []):
            arms = p.arms()
            index, k = divmod(index, len(arms))
            out[p.name] = arms[k]
        return dict(reversed(list(out.items())))

    def option_names(self) -> list[str]:
        return [p.name for p in self.parameters or []] if self.kind == "product" else [self.name]

    def apply(self, options: dict[str, Any], value: float | None) -> dict[str, Any]:
        """``options`` with the arm's values set (None: unchanged, the solver's default)."""
        if value is None:
            return dict(options)
        for name, v in self.settings(value).items():
            options = with_option(options, name, v)
        return options


@runtime_checkable
class Tuner(Protocol):
    """What a :class:`~solverhub.core.records.TunerSpec` factory returns."""

    def choose(self, context: Sequence[float] | None = None) -> float: ...

    def observe(self, cost: float) -> None: ...


class ArmTuner:
    """Base of the discrete tuners: arms from the space, costs scaled to losses in [0, 1] by
    ``cost_bound`` (the paper's iteration cap: a solve that hits the cap costs 1), a seeded
    generator, and the index of the last arm chosen."""

    contextual = False

    def __init__(self, space: ParameterSpace, *, cost_bound: float, seed: int = 0) -> None:
        if not (cost_bound > 0 and math.isfinite(cost_bound)):
            raise ValueError(f"cost_bound must be a positive number, got {cost_bound!r}")
        self.space = space
        self.arms = space.arms()
        self.k = len(self.arms)
        self.cost_bound = float(cost_bound)
        self.rng = np.random.default_rng(seed)
        self.t = 0  # decisions made
        self.last: int | None = None

    def loss(self, cost: float) -> float:
        c = float(cost)
        if math.isnan(c):
            c = self.cost_bound  # a failed solve costs the cap
        return min(1.0, max(0.0, c / self.cost_bound))

    def choose(self, context: Sequence[float] | None = None) -> float:
        self.t += 1
        self.last = int(self._pick(context))
        return self.arms[self.last]

    def observe(self, cost: float) -> None:
        if self.last is None:
            raise RuntimeError(f"{type(self).__name__}.observe called before choose")
        self._update(self.last, self.loss(cost))

    def _pick(self, context: Sequence[float] | None) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def _update(self, arm: int, loss: float) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def probabilities(self) -> np.ndarray | None:
        """The current sampling distribution over arms, where the tuner has one."""
        return None


# ====================================================================== solverhub tune CONFIG
# A tune config's [tune] section (docs/tuning.md):
#
#     [tune]
#     solver = "sor"
#     options = { max_iterations = 2000 }      # the solver's other options, fixed
#     cost = "iterations"                      # or "runtime", or a metric of the kind
#     tuner = "tsallis-inf"
#     [tune.parameter]                         # a ParameterSpace
#     name = "omega"
#     kind = "interval"
#     low = 1.0
#     high = 1.95
#     points = 12
#     [tune.sequence]                          # addresses with {i} for i in [start, stop)
#     address = "linsys:shifted_poisson?n=32&seed={i}"
#     start = 0
#     stop = 100

TUNE_LOG = "tune.jsonl"
HINDSIGHT_LOG = "hindsight.jsonl"
TUNE_CONFIG = "config.toml"
TUNE_REPORT = "report.json"
PREFIX_LOG = "prefix.jsonl"
SELECTION = "selection.json"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SequenceConfig(_Strict):
    """The ordered instances: ``instances`` (a list of addresses/paths) or ``address`` with
    ``{i}`` formatted for i in range(start, stop)."""

    instances: list[str] | None = None
    address: str | None = None
    start: int = Field(0, ge=0)
    stop: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _check(self) -> "SequenceConfig":
        if (self.instances is None) == (self.address is None):
            raise ValueError("give either 'instances' (a list) or 'address' with start/stop")
        if self.address is not None:
            if "{i}" not in self.address:
                raise ValueError(f"address {self.address!r} must contain {{i}} (the step index)")
            if self.stop is None or self.stop <= self.start:
                raise ValueError("an address sequence needs stop > start")
        elif not self.instances:
            raise ValueError("instances: the list is empty")
        return self

    def addresses(self) -> list[str]:
        if self.instances is not None:
            return list(self.instances)
        assert self.address is not None and self.stop is not None
        return [self.address.replace("{i}", str(i)) for i in range(self.start, self.stop)]


class TuneSection(_Strict):
    solver: str
    options: dict[str, Any] = Field(default_factory=dict)
    parameter: ParameterSpace
    cost: str = Field("iterations", description="iterations, runtime, objective (of a "
                      "minimization, after a fixed budget), primal_integral (to the known optimum, "
                      "else to the solve's own dual bound), or a metric of the kind")
    cost_bound: float | None = Field(None, gt=0, description="cost of a failed solve and the "
                                     "scale of losses (default: options.max_iterations for "
                                     "iterations, time_limit for runtime)")
    tuner: str = "tsallis-inf"
    tuner_params: dict[str, Any] = Field(default_factory=dict)
    context: list[str] = Field(default_factory=list, description="the instance context features "
                               "given to the tuner, in order (e.g. [\"shift\"])")
    seed: int = 0
    time_limit: float | None = Field(None, gt=0, description="seconds per solve")
    hindsight: bool = Field(True, description="also solve every instance with every arm (and "
                            "the solver's default): best fixed and instance-optimal in hindsight")
    hindsight_every: int = Field(1, ge=1, description="brute force on every k-th instance only "
                                 "(steps 0, k, 2k, ...): the comparison is made on that subset")
    select_prefix: int = Field(0, ge=0, description="hold back the first k instances: brute force "
                               "on them chooses the tuner's own settings among select_candidates "
                               "(and gives the best fixed value of the prefix, the offline-tuned "
                               "baseline); the tuner then runs on the rest only")
    select_candidates: list[dict[str, Any]] = Field(
        default_factory=list, description="tuner settings to choose among on the prefix: dicts of "
        "tuner_params, optionally with a 'tuner' name")
    select_seeds: int = Field(3, ge=1, description="tuner seeds each candidate is replayed with")
    select_fixed: bool = Field(True, description="with select_prefix: also a candidate that always "
                               "plays the prefix's best fixed value (offline tuning), so that the "
                               "prefix decides whether online tuning is worth its exploration")
    sequence: SequenceConfig

    @model_validator(mode="after")
    def _check_prefix(self) -> "TuneSection":
        if self.select_candidates and not self.select_prefix:
            raise ValueError("select_candidates needs select_prefix > 0 (the held-back prefix "
                             "they are chosen on)")
        if self.select_prefix and self.select_prefix >= len(self.sequence.addresses()):
            raise ValueError(f"select_prefix {self.select_prefix} leaves no instance to tune "
                             f"on (the sequence has {len(self.sequence.addresses())})")
        return self


class TuneConfig(_Strict):
    name: str = "tune"
    tune: TuneSection


class TuneInterrupted(Exception):
    """Ctrl-C during ``solverhub tune``: every finished step is in the folder; ``--resume``."""

    def __init__(self, out_dir: Any) -> None:
        super().__init__(f"interrupted; finished steps are in {out_dir}")
        self.out_dir = out_dir


def parse_tune_config(text: str, source: str = "config.toml") -> TuneConfig:
    """Validate a tune config (TOML text); errors are BadInputError naming the key."""
    import tomllib

    from pydantic import ValidationError

    from solverhub.core.config import _pydantic_message
    from solverhub.core.errors import BadInputError

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadInputError(f"{source}: not valid TOML: {exc}") from None
    try:
        cfg = TuneConfig.model_validate(data)
    except ValidationError as exc:
        raise BadInputError(_pydantic_message(source, exc)) from None
    _check_names(cfg, source)
    return cfg


def _check_names(cfg: TuneConfig, source: str) -> None:
    """Solver, options, parameter and tuner exist and fit, before the first solve."""
    from solverhub.core.api import kind_protocol, validate_options
    from solverhub.core.errors import BadInputError, UnknownNameError
    from solverhub.core.manager import get_plugin_manager

    t = cfg.tune
    pm = get_plugin_manager()
    try:
        spec = pm.get_available_solver(t.solver)
        tuner = pm.get_tuner(t.tuner)
    except UnknownNameError as exc:
        raise BadInputError(f"{source}: tune: {exc}") from None
    model = spec.options_model
    for name in t.parameter.option_names():
        top = name.split(".")[0]
        if top not in model.model_fields:
            raise BadInputError(f"{source}: tune.parameter.name: solver {t.solver!r} has no "
                                f"option {top!r} (options: {', '.join(model.model_fields)})")
    for value in t.parameter.arms():  # every arm must be a valid option value
        try:
            validate_options(spec, t.parameter.apply(t.options, value))
        except ValueError as exc:  # a dotted name into an option that is no dict
            raise BadInputError(f"{source}: tune.parameter.name: {exc}") from None
    declared = kind_protocol(spec.problem_kind).context_features
    unknown_ctx = [f for f in t.context if declared and f not in declared]
    if unknown_ctx:
        raise BadInputError(f"{source}: tune.context: kind {spec.problem_kind!r} declares no "
                            f"context feature(s) {', '.join(unknown_ctx)} (it declares: "
                            f"{', '.join(declared)})")
    candidates = [{"tuner": t.tuner, **t.tuner_params}] + list(t.select_candidates)
    for i, cand in enumerate(candidates):
        where = "tune.tuner_params" if i == 0 else f"tune.select_candidates[{i - 1}]"
        name = str(cand.get("tuner", t.tuner))
        try:
            tspec = pm.get_tuner(name)
        except UnknownNameError as exc:
            raise BadInputError(f"{source}: {where}: {exc}") from None
        if tspec.contextual and not t.context:
            raise BadInputError(f"{source}: tune.context: tuner {name!r} is contextual: list the "
                                "instance's context features it sees (e.g. context = [\"shift\"])")
        unknown = set(cand) - {"tuner"} - set(tspec.params)
        if unknown:
            raise BadInputError(f"{source}: {where}: unknown for {name!r}: "
                                f"{', '.join(sorted(unknown))} (known: "
                                f"{', '.join(tspec.params) or 'none'})")
    del tuner
    if cost_bound(cfg, spec) is None:
        raise BadInputError(f"{source}: tune.cost_bound: give the cost of a failed solve for cost "
                            f"{t.cost!r}")


def with_option(options: dict[str, Any], name: str, value: Any) -> dict[str, Any]:
    """``options`` with ``name`` set to ``value``; a dotted name (``highs_options.
    mip_heuristic_effort``) sets a key inside a dict-valued option, keeping its other keys."""
    out = dict(options)
    head, _, rest = name.partition(".")
    if not rest:
        out[head] = value
        return out
    inner = out.get(head, {})
    if not isinstance(inner, dict):
        raise ValueError(f"option {head!r} is not a table, cannot set {name!r}")
    out[head] = with_option(inner, rest, value)
    return out


def cost_bound(cfg: TuneConfig, spec: Any) -> float | None:
    t = cfg.tune
    if t.cost_bound is not None:
        return t.cost_bound
    if t.cost == "iterations":
        opts = spec.options_model.model_validate(t.options)
        mi = getattr(opts, "max_iterations", None)
        return float(mi) if mi else None
    if t.cost == "runtime":
        return t.time_limit
    if t.cost == "primal_integral":
        return 1.0  # normalized to [0, 1]: no incumbent all along
    return None


def cost_of(result: Any, cost: str, bound: float, horizon: float | None = None) -> float:
    """The cost a tuner sees: a failed solve (error) costs ``bound``; one stopped by the time
    limit at least ``bound`` (its iterations so far would make it look cheap), unless the cost is
    the runtime itself."""
    if result.status == "error":
        return bound
    if cost == "iterations":
        value = float(result.iterations)
    elif cost == "runtime":
        return float(result.runtime)
    elif cost == "objective":  # a minimization's objective after a fixed budget
        obj = result.objective
        return float(obj) if obj is not None and math.isfinite(obj) else bound
    elif cost == "primal_integral" and cost not in result.metrics:
        return _own_bound_primal_integral(result, bound, horizon)
    else:
        metric = result.metrics.get(cost)
        if metric is None or not math.isfinite(metric):
            return bound
        value = float(metric)
        if cost == "primal_integral":
            return value  # a time-limited solve is the point: its integral is the cost
    return max(value, bound) if result.status == "time_limit" else value


def _own_bound_primal_integral(result: Any, bound: float, horizon: float | None) -> float:
    """The primal integral (Berthold 2013) over the time limit when the instance has no known
    optimum: the gap is measured to the solve's own final dual bound, a valid bound on the optimum,
    so the cost is never below the integral to the optimum (equal when the solve closed the gap).
    No bound or no incumbent trajectory: ``bound`` (the cost of a failed solve). ``horizon``: the
    time limit (default the runtime)."""
    from solverhub.core.result import finite_or_none, primal_integral

    ref = finite_or_none(result.bound)
    horizon = horizon or finite_or_none(result.runtime)
    if ref is None or not horizon or not result.trajectory \
            or getattr(result, "incumbents_unknown", False):
        return bound
    return float(primal_integral(result.trajectory, ref, horizon))


def _read_jsonl(path: Any, *, repair: bool = False) -> list[dict[str, Any]]:
    """The records of a log; reading stops at a line cut by a kill (that step is redone), and
    with ``repair`` the file is truncated there, so that appended lines start on a fresh line."""
    import json

    out: list[dict[str, Any]] = []
    if not path.exists():
        return out
    data = path.read_bytes()
    good = 0  # bytes of complete, valid lines
    for line in data.splitlines(keepends=True):
        if not line.endswith(b"\n"):
            break
        if line.strip():
            try:
                out.append(json.loads(line))
            except ValueError:
                break
        good += len(line)
    if repair and good < len(data):
        with open(path, "r+b") as f:
            f.truncate(good)
    return out


def _make_tuner(name: str, params: dict[str, Any], space: ParameterSpace, bound: float,
                seed: int) -> Any:
    from solverhub.core.manager import get_plugin_manager
    from solverhub.core.records import resolve

    spec = get_plugin_manager().get_tuner(name)
    return resolve(spec.factory)(space, cost_bound=bound, seed=seed, **{**spec.params, **params})


def instance_context(problem: Any, kind: str, features: Sequence[str], where: str) -> tuple[
        dict[str, float], list[float] | None]:
    """The context the kind's protocol declares for ``problem`` and the vector of ``features``
    a contextual tuner sees (None when none is asked for); a missing feature is bad input."""
    from solverhub.core.api import kind_protocol
    from solverhub.core.errors import BadInputError

    context = kind_protocol(kind).context(problem)
    missing = [f for f in features if f not in context]
    if missing:
        raise BadInputError(f"{where}: no context feature(s) {', '.join(missing)} (the instance "
                            f"has: {', '.join(context) or 'none'})")
    return context, [float(context[f]) for f in features] or None


def replay(tuner: Any, table: np.ndarray, values: list[float],
           contexts: Sequence[list[float] | None]) -> float:
    """Total cost of ``tuner`` run over a brute-forced cost table (rows: instances, columns:
    ``values``): the online run it would have made, without solving again."""
    total = 0.0
    for row, ctx in zip(table, contexts):
        value = tuner.choose(ctx)
        cost = float(row[values.index(value)])
        tuner.observe(cost)
        total += cost
    return total


def run_tune(cfg: TuneConfig, out_dir: Any, *, config_text: str = "", resume: bool = False,
             progress: Any = None) -> dict[str, Any]:
    """Run the tuner over the sequence, appending one line per step to ``tune.jsonl`` (flushed),
    then the hindsight solves to ``hindsight.jsonl``, and write ``report.json``. ``resume``
    replays the recorded steps into a fresh tuner (same seed: the same choices) and continues.

    With ``select_prefix = k`` the first k instances are held back: every value is solved on
    each (``prefix.jsonl``), each candidate tuner setting is replayed over that table, the best
    is kept (``selection.json``), and the tuner runs on the instances after the prefix only."""
    import json
    from pathlib import Path

    from solverhub.core.api import load_problem, solve
    from solverhub.core.errors import BadInputError
    from solverhub.core.interrupt import handle_sigint, stop_requested
    from solverhub.core.manager import get_plugin_manager

    t = cfg.tune
    pm = get_plugin_manager()
    spec = pm.get_available_solver(t.solver)
    bound = cost_bound(cfg, spec)
    assert bound is not None
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()) and not resume:
        raise BadInputError(f"{out}: folder exists and is not empty (use --resume to continue it)")
    out.mkdir(parents=True, exist_ok=True)
    if config_text and not (out / TUNE_CONFIG).exists():
        (out / TUNE_CONFIG).write_text(config_text, encoding="utf-8")
    all_addresses = t.sequence.addresses()
    prefix, addresses = all_addresses[:t.select_prefix], all_addresses[t.select_prefix:]
    default = spec.options_model.model_validate(t.options)
    # a product's default is the solver's own (None: its options unset)
    default_value = None if t.parameter.kind == "product" \
        else _option_value(default, t.parameter.name)
    tuner_name, tuner_params = t.tuner, dict(t.tuner_params)
    if prefix:
        _brute_force(cfg, out, prefix, bound, default_value, progress, PREFIX_LOG, "prefix", 1)
        selection = select_tuner(cfg, out, bound)
        (out / SELECTION).write_text(json.dumps(selection, indent=2), encoding="utf-8")
        tuner_name, tuner_params = selection["tuner"], selection["tuner_params"]
    tuner = _make_tuner(tuner_name, tuner_params, t.parameter, bound, t.seed)
    done = _read_jsonl(out / TUNE_LOG, repair=True)
    for rec in done:  # replay: the same seed and history give the same choices
        ctx = rec.get("context_vector")
        value = tuner.choose(ctx)
        if rec["step"] >= len(addresses) or addresses[rec["step"]] != rec["instance"] \
                or rec.get("tuner") != tuner_name or rec.get("seed") != t.seed \
                or not math.isclose(value, rec["value"], rel_tol=1e-12, abs_tol=1e-12):
            raise BadInputError(f"{out / TUNE_LOG}: step {rec['step']} does not match this config "
                                "(another sequence, tuner or seed?): start a new folder")
        tuner.observe(rec["cost"])
    with handle_sigint(), open(out / TUNE_LOG, "a", encoding="utf-8") as log:
        for step in range(len(done), len(addresses)):
            addr = addresses[step]
            problem = load_problem(addr)
            context, ctx = instance_context(problem, spec.problem_kind, t.context, addr)
            t0 = time.perf_counter()
            value = tuner.choose(ctx)
            overhead = time.perf_counter() - t0
            res = solve(problem, solver=t.solver, time_limit=t.time_limit, seed=t.seed,
                        **t.parameter.apply(t.options, value))
            if res.status == "interrupted" or stop_requested():
                raise TuneInterrupted(out)
            c = cost_of(res, t.cost, bound, t.time_limit)
            t0 = time.perf_counter()
            tuner.observe(c)
            overhead += time.perf_counter() - t0
            rec = {"step": step, "instance": addr, "tuner": tuner_name, "seed": t.seed,
                   "value": value, "setting": t.parameter.settings(value), "cost": c,
                   "status": str(res.status), "runtime": res.runtime, "context": context,
                   "context_vector": ctx, "tuner_seconds": overhead}
            log.write(json.dumps(rec) + "\n")
            log.flush()
            if progress is not None:
                progress("tune", step + 1, len(addresses), rec)
    if t.hindsight:
        _brute_force(cfg, out, addresses, bound, default_value, progress, HINDSIGHT_LOG,
                     "hindsight", t.hindsight_every)
    report = tune_report(out, cfg, default_value)
    (out / TUNE_REPORT).write_text(json.dumps(report, indent=2), encoding="utf-8")
    return report


def _option_value(options: Any, name: str) -> Any:
    """The value of a (dotted) option in a validated options model; None when unset."""
    head, _, rest = name.partition(".")
    value = getattr(options, head)
    for key in rest.split(".") if rest else ():
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _table(recs: list[dict[str, Any]], steps: list[int], values: list[Any]) -> np.ndarray:
    """Cost table (rows ``steps``, columns ``values``) from brute-force records; NaN where none."""
    table = np.full((len(steps), len(values)), np.nan)
    row = {s: i for i, s in enumerate(steps)}
    col = {v: j for j, v in enumerate(values)}
    for r in recs:
        if r["step"] in row and r["value"] in col:
            table[row[r["step"]], col[r["value"]]] = r["cost"]
    return table


def select_tuner(cfg: TuneConfig, out: Any, bound: float) -> dict[str, Any]:
    """Choose the tuner's settings on the held-back prefix: each candidate (the configured tuner
    and ``select_candidates``) is replayed over ``select_seeds`` sequences as long as the tuned
    part, drawn with replacement from the prefix's instances (so that a short prefix does not
    reward the first rounds of exploration only); the least mean total wins (ties: the first).
    Also the prefix's best fixed value."""
    t = cfg.tune
    recs = _read_jsonl(out / PREFIX_LOG)
    arms = t.parameter.arms()
    steps = list(range(t.select_prefix))
    table = _table(recs, steps, arms)
    ctx_by_step = {r["step"]: r.get("context_vector") for r in recs}
    horizon = len(t.sequence.addresses()) - t.select_prefix
    draws = [np.random.default_rng(t.seed + k).integers(0, len(steps), horizon)
             for k in range(t.select_seeds)]
    rows: list[dict[str, Any]] = []
    means: list[float] = []
    for cand in [{"tuner": t.tuner, **t.tuner_params}, *t.select_candidates]:
        name = str(cand.get("tuner", t.tuner))
        params = {k: v for k, v in cand.items() if k != "tuner"}
        totals = [replay(_make_tuner(name, params, t.parameter, bound, t.seed + k), table[d],
                         arms, [ctx_by_step.get(int(i)) for i in d]) for k, d in enumerate(draws)]
        means.append(float(np.mean(totals)))
        rows.append({"tuner": name, "tuner_params": params, "prefix_total_mean": means[-1]})
    col = int(np.argmin(table.sum(axis=0)))
    if t.select_fixed:  # offline tuning as a candidate; its estimate is in-sample (optimistic)
        means.append(float(np.mean([table[d, col].sum() for d in draws])))
        rows.append({"tuner": "fixed", "tuner_params": {"value": arms[col]},
                     "prefix_total_mean": means[-1]})
    best = int(np.argmin(means))  # ties: the first
    return {"tuner": rows[best]["tuner"], "tuner_params": rows[best]["tuner_params"],
            "candidates": rows, "prefix_steps": len(steps),
            "prefix_best_fixed_value": arms[col], "prefix_best_fixed_total": float(
                table[:, col].sum())}


def _brute_force(cfg: TuneConfig, out: Any, addresses: list[str], bound: float,
                 default_value: Any, progress: Any, log_name: str, phase: str,
                 every: int) -> None:
    """Every arm (and the default value) on every ``every``-th instance: the brute force of the
    paper (``hindsight.jsonl``; on the held-back prefix, ``prefix.jsonl``)."""
    import json

    from solverhub.core.api import load_problem, solve
    from solverhub.core.interrupt import handle_sigint, stop_requested
    from solverhub.core.manager import get_plugin_manager

    t = cfg.tune
    kind = get_plugin_manager().get_available_solver(t.solver).problem_kind
    values = list(dict.fromkeys([*t.parameter.arms(), default_value]))
    have = {(r["step"], r["value"]) for r in _read_jsonl(out / log_name, repair=True)}
    todo = [(s, v) for s in range(0, len(addresses), every) for v in values
            if (s, v) not in have]
    loaded: dict[int, Any] = {}
    with handle_sigint(), open(out / log_name, "a", encoding="utf-8") as log:
        for k, (step, value) in enumerate(todo):
            if step not in loaded:
                loaded.clear()  # one instance at a time: its values are consecutive in todo
                loaded[step] = load_problem(addresses[step])
            problem = loaded[step]
            _, ctx = instance_context(problem, kind, t.context, addresses[step])
            # value None: the option is unset by default (a key of a table option): leave it out
            opts = t.parameter.apply(t.options, value)
            res = solve(problem, solver=t.solver, time_limit=t.time_limit, seed=t.seed, **opts)
            if res.status == "interrupted" or stop_requested():
                raise TuneInterrupted(out)
            rec = {"step": step, "instance": addresses[step], "value": value,
                   "setting": None if value is None else t.parameter.settings(value),
                   "cost": cost_of(res, t.cost, bound, t.time_limit), "status": str(res.status),
                   "context_vector": ctx}
            log.write(json.dumps(rec) + "\n")
            log.flush()
            if progress is not None:
                progress(phase, k + 1, len(todo), rec)


def tune_report(out: Any, cfg: TuneConfig, default_value: Any) -> dict[str, Any]:
    """Cumulative cost of the tuner against the default value, the best fixed value in hindsight
    and the instance-optimal values (from the hindsight solves, when run); with a held-back
    prefix also the settings chosen on it and its best fixed value on the tuned instances (the
    offline-tuned baseline). With the brute force on every instance, also ``replay_total``: the
    same tuner (settings, seed) run over the brute-force costs instead of its own solves, the
    comparison at equal conditions where a cost is timed (runtime, primal integral) and the
    machine's load differed between the tuned and the brute-force solves."""
    import json

    steps = _read_jsonl(out / TUNE_LOG)
    costs = np.array([r["cost"] for r in steps], dtype=float)
    selection = json.loads((out / SELECTION).read_text(encoding="utf-8")) \
        if (out / SELECTION).is_file() else None
    report: dict[str, Any] = {
        "name": cfg.name, "solver": cfg.tune.solver, "parameter": cfg.tune.parameter.name,
        "tuner": selection["tuner"] if selection else cfg.tune.tuner,
        "tuner_params": selection["tuner_params"] if selection else cfg.tune.tuner_params,
        "cost": cfg.tune.cost, "steps": len(steps),
        "tuner_total": float(costs.sum()),
        "tuner_cumulative": np.cumsum(costs).tolist(),
        "choices": [r["value"] for r in steps],
        "tuner_seconds_per_decision": float(np.mean([r["tuner_seconds"] for r in steps]))
        if steps else 0.0,
        "solve_seconds_per_step": float(np.mean([r["runtime"] for r in steps])) if steps else 0.0,
    }
    if selection:
        report["selection"] = selection
    hs = _read_jsonl(out / HINDSIGHT_LOG)
    subset = list(range(0, len(steps), cfg.tune.hindsight_every))
    if hs and subset:
        arms = cfg.tune.parameter.arms()
        table = _table(hs, subset, arms)
        dcol = _table([{**r, "value": "default"} for r in hs if r["value"] == default_value],
                      subset, ["default"])[:, 0]
        if not np.isnan(table).any() and not np.isnan(dcol).any():
            totals = table.sum(axis=0)
            best = int(np.argmin(totals))
            inst = table.min(axis=1)
            tuned = costs[subset]
            report.update({
                "compare_steps": subset, "tuner_compare_total": float(tuned.sum()),
                "tuner_compare_cumulative": np.cumsum(tuned).tolist(),
                "default_value": default_value, "default_total": float(dcol.sum()),
                "best_fixed_value": arms[best], "best_fixed_total": float(totals[best]),
                "instance_optimal_total": float(inst.sum()),
                "best_fixed_cumulative": np.cumsum(table[:, best]).tolist(),
                "instance_optimal_cumulative": np.cumsum(inst).tolist(),
                "default_cumulative": np.cumsum(dcol).tolist(),
                "ratio_to_best_fixed": _ratio(tuned.sum(), totals[best]),
                "ratio_to_instance_optimal": _ratio(tuned.sum(), inst.sum()),
                "ratio_to_default": _ratio(tuned.sum(), dcol.sum()),
            })
            if len(subset) == len(steps):  # the same tuner over the brute-force costs
                from solverhub.core.manager import get_plugin_manager

                bound = cost_bound(cfg, get_plugin_manager().get_available_solver(cfg.tune.solver))
                ctx = {r["step"]: r.get("context_vector") for r in hs}
                contexts = [ctx.get(i) for i in subset]
                if cfg.tune.context and any(c is None for c in contexts):
                    again = math.nan  # a folder from before the brute force kept the context
                else:
                    again = replay(_make_tuner(report["tuner"], report["tuner_params"],
                                               cfg.tune.parameter, float(bound or 1.0),
                                               cfg.tune.seed), table, arms, contexts)
                report.update({"replay_total": again,
                               "replay_ratio_to_default": _ratio(again, dcol.sum()),
                               "replay_ratio_to_best_fixed": _ratio(again, totals[best]),
                               "replay_ratio_to_instance_optimal": _ratio(again, inst.sum())})
            if selection and selection["prefix_best_fixed_value"] in arms:
                col = arms.index(selection["prefix_best_fixed_value"])
                report.update({"prefix_fixed_value": arms[col],
                               "prefix_fixed_total": float(totals[col]),
                               "prefix_fixed_cumulative": np.cumsum(table[:, col]).tolist(),
                               "ratio_to_prefix_fixed": _ratio(tuned.sum(), totals[col])})
                if "replay_total" in report:
                    report["replay_ratio_to_prefix_fixed"] = _ratio(report["replay_total"],
                                                                    totals[col])
    return report


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b > 0 else (1.0 if a == b else math.inf)


def plot_tune_report(report: dict[str, Any], path: Any) -> None:
    """Cumulative cost of the tuner, the default, the best fixed value and the instance-optimal
    values over the compared instances (the paper's figures), to ``path`` (PNG)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    compare = "compare_steps" in report
    x = np.asarray(report["compare_steps"]) + 1 if compare else np.arange(1, report["steps"] + 1)
    ax.plot(x, report["tuner_compare_cumulative" if compare else "tuner_cumulative"],
            label=f"{report['tuner']}")
    def fmt(v: Any) -> str:
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    for key, label in (("default_cumulative", f"default {fmt(report.get('default_value'))}"),
                       ("prefix_fixed_cumulative",
                        f"best fixed on the prefix {fmt(report.get('prefix_fixed_value'))}"),
                       ("best_fixed_cumulative",
                        f"best fixed {fmt(report.get('best_fixed_value'))}"),
                       ("instance_optimal_cumulative", "instance-optimal")):
        if key in report:
            ax.plot(x, report[key], label=label, linestyle="--")
    ax.set_xlabel("instance")
    ax.set_ylabel(f"cumulative {report['cost']}")
    ax.set_title(f"{report['solver']}: tuning {report['parameter']}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
