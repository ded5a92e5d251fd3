"""One finished task of a run: the typed form of a ``results.jsonl`` line.

The runner builds every line as a :class:`TaskRecord` (a solved task, a solver error, a worker that
died, an interrupted task) and the report reads every line back as one, so that the field names and
their meaning are written down once, here.

Names (each means one thing):

* ``solver`` is the label of the config's ``[solvers.<label>]`` section (a grid expands one
  section into several labels, ``group`` names the section);
* ``solver_name`` is the registered solver that label runs (``highs``, ``balans`` ...);
* ``problem_kind`` is the problem kind the solver solved (``mip``, ``maxcut`` ...).

Lines written before this module (up to solverhub 0.x) had the solver name under ``kind``; they are
read as ``solver_name``, so that ``--resume`` and ``report`` keep working on old folders. Keys this
version does not know are kept in :attr:`TaskRecord.extra` and written back unchanged.

A failed task has ``status = "error"`` and ``error_origin`` saying whose failure it was:
``"solver"`` (the solver raised or returned an error), ``"input"`` (the instance or the options
were rejected) or ``"infrastructure"`` (the worker process died, the task hung past its limit, the
dask cluster lost it, the result could not be sent). ``--resume --retry-errors`` runs the
infrastructure failures again (and, with ``--retry-errors=all``, every error).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Any, Literal

from solverhub.core.errors import BadInputError
from solverhub.core.serialize import jsonable

__all__ = ["TaskRecord", "MalformedRecordError", "ErrorOrigin", "ERROR_ORIGINS", "TaskIdentity"]

ErrorOrigin = Literal["solver", "input", "infrastructure"]
ERROR_ORIGINS: tuple[str, ...] = ("solver", "input", "infrastructure")

#: (instance, solver label, options as canonical JSON, time limit, seed, code version)
TaskIdentity = tuple[str, str, str, "float | None", int, str]


class MalformedRecordError(BadInputError):
    """A ``results.jsonl`` line that is not a task record (missing or mistyped identity fields)."""


@dataclass
class TaskRecord(Mapping[str, Any]):
    """One ``results.jsonl`` line (see the module docstring for the names). Also a read-only
    mapping of the line's keys (``rec["objective"]``, ``rec.get("history")``), for code written
    against the JSON lines; new code reads the typed attributes."""

    # what was run (the task's identity, with options, time limit and code version)
    instance: str
    solver: str
    seed: int
    solver_name: str = ""
    time_limit: float | None = None
    options: dict[str, Any] = field(default_factory=dict)
    instance_name: str = ""
    group: str | None = None
    # what came of it (DESIGN.md section 5's fields)
    status: str = "error"
    objective: float | None = None
    bound: float | None = None
    runtime: float = 0.0
    iterations: int = 0
    primal_integral: float | None = None
    trajectory: list[list[float]] = field(default_factory=list)
    reference: float | None = None
    sense: int | None = None
    error: str | None = None
    error_origin: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    problem_kind: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    history: dict[str, Any] = field(default_factory=dict)
    termination: str | None = None
    solution_status: str | None = None
    #: the host's replacements of reported values, and the converter a result went through
    corrections: list[dict[str, Any]] | None = None
    conversion: dict[str, Any] | None = None
    #: the route an automatic solver took (``{"name", "reason", "solver"}``)
    route: dict[str, Any] | None = None
    #: the solver reports no incumbent times (its primal integral is unknown, not a 100 % gap)
    incumbents_unknown: bool = False
    # where it was solved (core/provenance.py)
    versions: dict[str, Any] = field(default_factory=dict)
    plugin: dict[str, Any] | None = None
    python: str | None = None
    host: str | None = None
    cpu: str | None = None
    cpu_count: int | None = None
    pid: int | None = None
    #: keys of the line this version does not know, written back as they were
    extra: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dict(cls, d: Any, *, where: str = "") -> "TaskRecord":
        """The record of one parsed line; :class:`MalformedRecordError` naming ``where`` (e.g.
        ``"run/results.jsonl line 3"``) and the culprit when it is not a task record."""
        at = f"{where}: " if where else ""
        if not isinstance(d, dict):
            raise MalformedRecordError(f"{at}not a JSON object")
        missing = [k for k in ("instance", "solver", "seed") if k not in d]
        if missing:
            raise MalformedRecordError(f"{at}not a task record (no {', '.join(map(repr, missing))})")
        for key in ("instance", "solver"):
            if not isinstance(d[key], str) or not d[key]:
                raise MalformedRecordError(f"{at}{key!r} must be a non-empty string, got {d[key]!r}")
        if isinstance(d["seed"], bool) or not isinstance(d["seed"], int):
            raise MalformedRecordError(f"{at}'seed' must be an integer, got {d['seed']!r}")
        if not isinstance(d.get("status", "error"), str):
            raise MalformedRecordError(f"{at}'status' must be a string, got {d['status']!r}")
        known = _FIELD_NAMES
        kw: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for k, v in d.items():
            if k in known and k != "extra":
                kw[k] = v
            elif k == "kind":  # lines before TaskRecord: the registered solver name
                kw.setdefault("solver_name", v if isinstance(v, str) else "")
            else:
                extra[k] = v
        if "solver_name" in d:  # both present: the explicit name wins
            kw["solver_name"] = d["solver_name"]
        tl = kw.get("time_limit")
        if tl is not None and (isinstance(tl, bool) or not isinstance(tl, (int, float))):
            raise MalformedRecordError(f"{at}'time_limit' must be a number or null, got {tl!r}")
        for key, typ in (("options", dict), ("info", dict), ("metrics", dict), ("history", dict),
                         ("versions", dict)):
            if kw.get(key) is None:
                kw.pop(key, None)
            elif not isinstance(kw[key], typ):
                raise MalformedRecordError(f"{at}{key!r} must be an object, got {kw[key]!r}")
        if kw.get("trajectory") is None:
            kw.pop("trajectory", None)
        for key in ("runtime", "iterations"):
            if kw.get(key) is None:
                kw.pop(key, None)
        for key in ("instance_name", "problem_kind", "solver_name"):
            if kw.get(key) is None:
                kw.pop(key, None)
        return cls(**kw, extra=extra)

    @classmethod
    def from_json(cls, line: str | bytes, *, where: str = "") -> "TaskRecord":
        try:
            d = json.loads(line)
        except (ValueError, UnicodeDecodeError) as exc:
            raise MalformedRecordError(f"{where + ': ' if where else ''}not JSON ({exc})") from None
        return cls.from_dict(d, where=where)

    def to_dict(self) -> dict[str, Any]:
        """The line as strict-JSON data (NaN and inf as null); ``group`` only when set."""
        d: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "extra":
                continue
            v = getattr(self, f.name)
            if f.name in _OMIT_WHEN_NONE and v is None:
                continue
            if f.name == "incumbents_unknown" and not v:  # written only when true
                continue
            d[f.name] = v
        for k, v in self.extra.items():
            d.setdefault(k, v)
        return jsonable(d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=False)

    # ------------------------------------------------------------------ derived
    @property
    def failed(self) -> bool:
        return self.status == "error"

    @property
    def infrastructure_failure(self) -> bool:
        return self.failed and self.error_origin == "infrastructure"

    # computed once per record (reports match thousands of records on them): a record is not
    # changed once it has been written or read
    @cached_property
    def code_version(self) -> str:
        """solverhub's version and the solver's plugin's, as recorded by the solving process
        ("" when the line does not say, e.g. lines written before provenance was recorded)."""
        parts = []
        sh = (self.versions or {}).get("solverhub")
        if sh:
            parts.append(f"solverhub {sh}")
        if isinstance(self.plugin, dict) and self.plugin.get("name"):
            parts.append(f"{self.plugin['name']} {self.plugin.get('version', '?')}")
        return ", ".join(parts)

    @property
    def task_key(self) -> tuple[str, str, int]:
        """(instance, solver label, seed): what ``--resume`` matches a config's task on."""
        return (self.instance, self.solver, self.seed)

    @cached_property
    def options_key(self) -> str:
        return json.dumps(jsonable(self.options or {}), sort_keys=True)

    @property
    def identity(self) -> TaskIdentity:
        """Everything that makes two lines the same task: instance, solver label, options, time
        limit, seed and code version (two folders that ran a label differently hold two tasks)."""
        tl = None if self.time_limit is None else float(self.time_limit)
        return (self.instance, self.solver, self.options_key, tl, self.seed, self.code_version)

    # ------------------------------------------------------------------ read-only mapping view
    # for code written against the JSON lines (plots, user scripts): ``rec["objective"]``,
    # ``rec.get("history")``; the typed attributes are the way in new code
    def __getitem__(self, key: str) -> Any:
        if key in _FIELD_NAMES and key != "extra":
            return getattr(self, key)
        if key == "kind":
            return self.solver_name
        if key in self.extra:
            return self.extra[key]
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        try:
            v = self[key]
        except KeyError:
            return default
        return v

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and (key in _FIELD_NAMES or key in self.extra)

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(self.to_dict())


_FIELD_NAMES = frozenset(f.name for f in fields(TaskRecord))
_OMIT_WHEN_NONE = frozenset({"group", "termination", "solution_status", "plugin", "error_origin",
                             "corrections", "conversion", "route"})

