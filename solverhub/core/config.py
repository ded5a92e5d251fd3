"""Run configs (DESIGN.md section 7): TOML files validated by pydantic models.

    name = "balans-vs-highs"
    instances = ["../../shared/data/miplib3/misc07.mps.gz", "generate:set_cover?rows=500&seed=1"]
    seeds = [0, 1, 2]
    time_limit = 60
    [solvers.balans_default]
    kind = "balans"
    [solvers.balans_default.options]
    backend = "highs"
    [executor]
    kind = "local"          # or "dask" (address = "tcp://host:8786"; no address: a LocalCluster)
    workers = 2

Optional extras: ``[reference]`` maps an instance (as written in ``instances``, or its file name) to
a known optimal or best-known objective value, overriding what the loader knows (MIPLIB ``.solu``);
``[output]`` sets ``dir`` (relative to the config file's folder; default a new
``runs/<name>-<timestamp>``) and ``plots`` (default true); ``[executor] task_grace`` (default 30 s)
is how long past ``time_limit`` a pool task may go without a result before its worker is killed,
``max_tasks_per_worker`` (default 200) when a pool worker is replaced, ``connect_timeout`` (default
30 s) how long to try a dask scheduler's ``address``, and ``host`` (default 127.0.0.1) where a
LocalCluster's scheduler and dashboard listen. ``[solvers.<label>.grid]`` (option -> list of
values) is a sweep: see :func:`expand_grids`.

Every model forbids unknown keys; errors are :class:`BadInputError` naming the file and the key
(``quickstart.toml: solvers.balans.optoins: unknown key``). Relative instance paths resolve against
the config file's folder, paths inside addresses too (``dataset:data.csv``); other addresses
(``generate:...``) are kept as they are. ``allow_code`` (true, or a list of modules) is the user's
consent to run the code ``py:`` instances name (see :mod:`solverhub.core.trust`).
"""

from __future__ import annotations

import math
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, field_validator

from solverhub.core.address import parse_address
from solverhub.core.errors import BadInputError
from solverhub.core.timing import check_time_limit

__all__ = [
    "RunConfig", "SolverEntry", "ExecutorConfig", "OutputConfig",
    "load_config", "parse_config", "quickstart_config", "quickstart_text", "config_to_toml",
    "instance_label", "is_address", "QUICKSTART", "expand_grids",
]

QUICKSTART = "quickstart.toml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SolverEntry(_Strict):
    """One ``[solvers.<label>]`` section: a solver name (``kind``), its options, and optionally a
    ``grid`` (a sweep: option name -> list of values) that expands into one labelled solver per
    combination, each remembering its section as ``group``."""

    kind: str = Field(description="a registered solver name (solverhub solvers)")
    options: dict[str, Any] = Field(default_factory=dict)
    grid: dict[str, list[Any]] = Field(default_factory=dict,
                                       description="option -> values; one solver per combination")
    group: str | None = Field(default=None, description="set by grid expansion: the section's label")

    @field_validator("grid")
    @classmethod
    def _grid_values(cls, v: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in v.items():
            if not values:
                raise ValueError(f"grid.{key}: needs at least one value")
            if any(values.count(x) > 1 for x in values):
                raise ValueError(f"grid.{key}: a value is listed twice")
        return v


class ExecutorConfig(_Strict):
    kind: Literal["local", "dask"] = "local"
    address: str | None = Field(default=None, description="dask scheduler address; none: a LocalCluster")
    workers: int = Field(default=1, ge=1, description="parallel tasks (local processes / dask workers)")
    task_grace: float = Field(default=30.0, ge=0, allow_inf_nan=False,
                              description="seconds past time_limit after which a pool task without a "
                                          "result is killed (and recorded as an error)")

    max_tasks_per_worker: int = Field(default=200, ge=1,
                                      description="local pool: a worker process is replaced after "
                                                  "this many tasks (HiGHS leaks memory over models)")
    connect_timeout: float = Field(default=30.0, gt=0, allow_inf_nan=False,
                                   description="dask: seconds to reach the scheduler at address")
    host: str = Field(default="127.0.0.1", min_length=1,
                      description="dask LocalCluster: the interface its scheduler and dashboard "
                                  "listen on (0.0.0.0: every interface)")

    @field_validator("task_grace", "connect_timeout", mode="before")
    @classmethod
    def _grace_is_a_number(cls, v: Any, info: Any) -> Any:
        # a string or a boolean is a typo, not a number of seconds
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"{info.field_name} must be a number of seconds")
        return v


class OutputConfig(_Strict):
    dir: str | None = Field(default=None, description="run folder; default runs/<name>-<timestamp>")
    plots: bool = True


class RunConfig(_Strict):
    name: str = Field(default="run", min_length=1)
    description: str = ""
    instances: list[str] = Field(min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    time_limit: float | None = Field(default=60.0, description="seconds per task")
    solvers: dict[str, SolverEntry] = Field(min_length=1)
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)
    reference: dict[str, float] = Field(default_factory=dict)
    output: OutputConfig = Field(default_factory=OutputConfig)
    allow_code: StrictBool | list[str] = Field(
        default=False, description="consent to run code named by the instances (py: addresses): "
                                   "true for any module, or a list of modules")

    @field_validator("seeds", mode="before")
    @classmethod
    def _seeds(cls, v: Any) -> Any:
        # `seeds = 3` is shorthand for [0, 1, 2]
        if isinstance(v, int) and not isinstance(v, bool):
            if v < 1:
                raise ValueError("an integer number of seeds must be at least 1")
            return list(range(v))
        return v

    @field_validator("seeds")
    @classmethod
    def _unique_seeds(cls, v: list[int]) -> list[int]:
        if len(set(v)) != len(v):
            raise ValueError("seeds must be distinct")
        return v

    @field_validator("instances")
    @classmethod
    def _unique_instances(cls, v: list[str]) -> list[str]:
        for s in v:
            if not s.strip():
                raise ValueError("an instance is an empty string")
        if len(set(v)) != len(v):
            dup = next(s for s in v if v.count(s) > 1)
            raise ValueError(f"instance {dup!r} is listed twice")
        return v

    @field_validator("time_limit", mode="before")
    @classmethod
    def _time_limit(cls, v: Any) -> float | None:
        # the same rule as sh.solve and --time-limit (a TOML string "2" is refused, inf allowed)
        try:
            return check_time_limit(v, "time_limit")
        except BadInputError as exc:
            raise ValueError(str(exc)) from None

    # ------------------------------------------------------------------ helpers
    def tasks(self) -> list[tuple[str, str, int]]:
        """(instance, solver label, seed) for every task, instance-major."""
        return [(i, s, seed) for i in self.instances for s in self.solvers for seed in self.seeds]

    def reference_for(self, instance: str) -> float | None:
        return self.reference.get(instance)


# ---------------------------------------------------------------------- helpers
def is_address(source: str) -> bool:
    """True for ``scheme:...`` addresses (kept as they are), False for file paths."""
    return parse_address(source).scheme is not None


def instance_label(instance: str) -> str:
    """A short display name: a file's name without .mps/.lp/.gz, an address as it is."""
    if is_address(instance):
        return instance
    name = Path(instance).name
    for suffix in (".gz", ".bz2", ".mps", ".lp", ".MPS", ".LP", ".mps", ".lp"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return name or instance


def _resolve_instance(raw: str, base: Path | None) -> str:
    if base is None:
        return raw if is_address(raw) else str(Path(raw).expanduser())
    from solverhub.core.loading import resolve_source_paths

    # paths inside addresses (dataset:data.csv, a loader's Path parameters) resolve the same way
    return resolve_source_paths(raw, base)


def _format_loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _pydantic_message(where: str, exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = _format_loc(tuple(err["loc"])) or "(top level)"
        if err["type"] == "extra_forbidden":
            parts.append(f"{where}: {loc}: unknown key")
        elif err["type"] == "missing":
            parts.append(f"{where}: {loc}: missing required key")
        else:
            msg = err["msg"]
            if msg.startswith("Value error, "):
                msg = msg[len("Value error, "):]
            parts.append(f"{where}: {loc}: {msg}")
    return "; ".join(parts)


def parse_config(data: dict[str, Any] | str, *, source: str = "config.toml",
                 base_dir: str | Path | None = None, check_solvers: bool = True,
                 check_files: bool = True, grant_code: bool = True,
                 load_instances: bool = False) -> RunConfig:
    """Validate a config given as TOML text or a parsed dict.

    ``source`` names the file in error messages; ``base_dir`` is the folder relative paths (plain
    or inside addresses) resolve against (``None`` keeps them as they are). With ``check_solvers``
    every instance, solver, option (grids expanded) and solver x instance pair is checked, and all
    distinct problems are reported at once (:class:`~solverhub.core.preflight.InputProblems`);
    ``load_instances`` also loads every instance once. With ``check_files`` instance files must
    exist. ``grant_code=False`` (a run folder's copy of a config, on ``--resume``) makes its
    ``allow_code`` key count for nothing: consent must then come from the user.
    """
    if isinstance(data, str):
        try:
            data = tomllib.loads(data)
        except tomllib.TOMLDecodeError as exc:
            raise BadInputError(f"{source}: invalid TOML: {exc}") from None
    try:
        cfg = RunConfig.model_validate(data)
    except ValidationError as exc:
        raise BadInputError(_pydantic_message(source, exc)) from None
    if not grant_code:
        cfg = cfg.model_copy(update={"allow_code": False})

    from solverhub.core.trust import code_allowed

    with code_allowed(cfg.allow_code):
        return _check_config(cfg, source, base_dir, check_solvers, check_files, load_instances)


def _check_config(cfg: RunConfig, source: str, base_dir: str | Path | None, check_solvers: bool,
                  check_files: bool, load_instances: bool) -> RunConfig:
    base = Path(base_dir).resolve() if base_dir is not None else None
    resolved = [_resolve_instance(s, base) for s in cfg.instances]
    missing: dict[int, str] = {}
    if check_files:
        for i, (raw, path) in enumerate(zip(cfg.instances, resolved)):
            if not is_address(raw) and not Path(path).exists():
                missing[i] = (f"{source}: instances[{i}]: file not found: {raw}"
                              + (f" (resolved to {path})" if path != raw else ""))
        if missing and not check_solvers:
            raise BadInputError(next(iter(missing.values())))
    if len(set(resolved)) != len(resolved):
        raise BadInputError(f"{source}: instances: two entries resolve to the same instance")

    # reference keys: as written, resolved, or a file name
    refs: dict[str, float] = {}
    for key, value in cfg.reference.items():
        match = [r for raw, r in zip(cfg.instances, resolved)
                 if key in (raw, r) or (not is_address(raw) and key in (Path(raw).name,
                                                                        instance_label(raw)))]
        if not match:
            raise BadInputError(f"{source}: reference.{_quote_key(key)}: not one of the instances")
        if not math.isfinite(value):
            raise BadInputError(f"{source}: reference.{_quote_key(key)}: must be a finite number")
        for r in match:
            refs[r] = float(value)

    solvers = expand_grids(cfg.solvers, source)
    output = cfg.output
    if output.dir and base is not None:
        # like instance paths: relative to the config file's folder, not the working directory
        output = output.model_copy(update={"dir": str((base / Path(output.dir).expanduser()).resolve())})
    cfg = cfg.model_copy(update={"instances": resolved, "reference": refs, "output": output,
                                 "solvers": solvers})
    if check_solvers:
        from solverhub.core.preflight import check_config

        if not check_files:  # missing files are not checked: neither reported nor loaded
            missing = {i: "" for i, (raw, path) in enumerate(zip(cfg.instances, resolved))
                       if not is_address(raw) and not Path(path).exists()}
        check_config(cfg, source, load=load_instances, known=missing)
    return cfg


def _grid_value_text(v: Any) -> str:
    import json

    return v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))


def expand_grids(solvers: dict[str, SolverEntry], source: str = "config.toml") -> dict[str, SolverEntry]:
    """Replace each section with a ``grid`` by one entry per combination of its values, labelled
    ``<label>[key=value,...]`` (keys in the order written) with ``group = <label>``. A grid key
    overrides the same key in ``options``. Sections without a grid stay as they are."""
    import itertools

    out: dict[str, SolverEntry] = {}
    for label, entry in solvers.items():
        if not entry.grid:
            out[label] = entry
            continue
        keys = list(entry.grid)
        for combo in itertools.product(*(entry.grid[k] for k in keys)):
            name = label + "[" + ",".join(f"{k}={_grid_value_text(v)}" for k, v in zip(keys, combo)) + "]"
            if name in out or name in solvers:
                raise BadInputError(f"{source}: solvers.{_quote_key(label)}.grid: the label {name!r} "
                                    f"is taken by another solver section")
            out[name] = SolverEntry(kind=entry.kind, options={**entry.options, **dict(zip(keys, combo))},
                                    group=label)
    return out


def _quote_key(key: str) -> str:
    import re

    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else '"' + key.replace('"', '\\"') + '"'


def load_config(path: str | Path, **kw: Any) -> RunConfig:
    """Read and validate a TOML run config; relative instance paths resolve against its folder."""
    p = Path(path)
    if p.is_dir():
        raise BadInputError(f"{path}: is a folder, expected a TOML run config")
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInputError(f"{path}: file not found") from None
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise BadInputError(f"{path}: not a UTF-8 text file") from None
    return parse_config(text, source=str(path), base_dir=p.resolve().parent, **kw)


def quickstart_text(name: str = QUICKSTART) -> str:
    """The text of a config shipped in the package ``solverhub.solvers_cfg``."""
    try:
        return resources.files("solverhub.solvers_cfg").joinpath(name).read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError):
        raise BadInputError(f"packaged config {name!r} not found in solverhub.solvers_cfg "
                            f"(is the package installed completely?)") from None


def quickstart_config(**kw: Any) -> RunConfig:
    """The packaged quickstart run (``solverhub run`` without a config)."""
    return parse_config(quickstart_text(), source=QUICKSTART, base_dir=None, **kw)


# ---------------------------------------------------------------------- writing
def _drop_none(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _drop_none(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_drop_none(v) for v in obj if v is not None]
    return obj


def resolved_dict(cfg: RunConfig, *, fill_defaults: bool = True) -> dict[str, Any]:
    """The config as a plain dict (TOML-ready: no None). With ``fill_defaults`` each solver's
    options are completed with the defaults of its options model."""
    d = cfg.model_dump(mode="json")
    for entry in d.get("solvers", {}).values():
        if not entry.get("grid"):  # expanded already (see expand_grids)
            entry.pop("grid", None)
    if fill_defaults:
        from solverhub.core.api import validate_options
        from solverhub.core.manager import get_plugin_manager

        pm = get_plugin_manager()
        for label, entry in cfg.solvers.items():
            try:
                model = validate_options(pm.get_solver(entry.kind), entry.options)
            except Exception:  # keep what the user wrote
                continue
            d["solvers"][label]["options"] = model.model_dump(mode="json")
    return _drop_none(d)


def config_to_toml(cfg: RunConfig, **kw: Any) -> str:
    import tomli_w

    return tomli_w.dumps(resolved_dict(cfg, **kw))
