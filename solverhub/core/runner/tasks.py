"""Tasks and their records: what one task is, how a config becomes tasks, and the one function that
solves a task wherever it runs (this process, a pool worker, a dask worker) and always returns a
:class:`~solverhub.core.taskrecord.TaskRecord`."""

from __future__ import annotations

import math
import os
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Iterable

from solverhub.core.config import RunConfig, instance_label
from solverhub.core.errors import BadInputError
from solverhub.core.result import SolutionStatus, Status, TerminationCondition
from solverhub.core.taskrecord import TaskRecord

__all__ = ["Task", "make_tasks", "run_task", "error_record", "interrupted_record",
           "infrastructure_error", "task_name"]


@dataclass(frozen=True)
class Task:
    instance: str            # resolved path or address
    solver: str              # the label of the [solvers.<label>] section
    solver_name: str         # the registered solver name
    seed: int
    time_limit: float | None
    options: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    reference: float | None = None
    group: str | None = None  # the solver section a grid (sweep) label was expanded from
    #: the options with the options model's defaults filled in, as a solved task's line records
    #: them (for the lines the runner writes itself: a worker that died, a hang)
    resolved_options: dict[str, Any] | None = field(default=None, hash=False, compare=False)
    #: the user's consent to run code named by the instance (core/trust.py), for the worker
    allow_code: bool | list[str] = field(default=False, hash=False, compare=False)

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.instance, self.solver, self.seed)

    def to_dict(self) -> dict[str, Any]:
        """What a worker gets (plain data: pickled to a pool worker or a dask worker)."""
        return {"instance": self.instance, "solver": self.solver, "solver_name": self.solver_name,
                "seed": self.seed, "time_limit": self.time_limit, "options": dict(self.options),
                "reference": self.reference, "group": self.group,
                "resolved_options": self.resolved_options, "allow_code": self.allow_code}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Task":
        """From :meth:`to_dict` (or the older form, with the solver name under ``kind``)."""
        name = d["solver_name"] if "solver_name" in d else d["kind"]
        return cls(d["instance"], d["solver"], name, d["seed"], d.get("time_limit"),
                   dict(d.get("options") or {}), d.get("reference"), d.get("group"),
                   d.get("resolved_options"), d.get("allow_code") or False)


def make_tasks(cfg: RunConfig) -> list[Task]:
    """Instances x solver labels x seeds, skipping the pairs whose problem kind the solver cannot
    take (a mixed-kind config runs each solver on the instances it applies to)."""
    from solverhub.core.api import can_take, source_kind, validate_options
    from solverhub.core.manager import get_plugin_manager
    from solverhub.core.trust import code_allowed

    pm = get_plugin_manager()
    with code_allowed(cfg.allow_code):
        kinds = {inst: source_kind(inst) for inst in cfg.instances}
    takes: dict[str, str] = {}
    resolved: dict[str, dict[str, Any] | None] = {}
    for label, entry in cfg.solvers.items():
        spec = pm.get_solver(entry.kind)
        takes[label] = spec.problem_kind
        try:
            resolved[label] = validate_options(spec, dict(entry.options)).model_dump(mode="json")
        except Exception:  # the task's own solve reports it
            resolved[label] = None
    return [Task(inst, label, cfg.solvers[label].kind, seed, cfg.time_limit,
                 dict(cfg.solvers[label].options), cfg.reference_for(inst),
                 cfg.solvers[label].group, resolved[label], cfg.allow_code)
            for inst, label, seed in cfg.tasks() if can_take(takes[label], kinds[inst])]


def task_name(task: Task) -> str:
    return f"{instance_label(task.instance)} / {task.solver} / seed {task.seed}"


# ---------------------------------------------------------------------- records
def _base_record(task: Task, **kw: Any) -> TaskRecord:
    return TaskRecord(instance=task.instance, solver=task.solver, seed=task.seed,
                      solver_name=task.solver_name, time_limit=task.time_limit,
                      options=dict(task.resolved_options or task.options),
                      instance_name=instance_label(task.instance), group=task.group or None, **kw)


def _with_provenance(rec: TaskRecord) -> TaskRecord:
    """Add this process's versions, Python, host and CPU (see core/provenance.py)."""
    from solverhub.core.provenance import task_provenance

    facts = task_provenance(rec.solver_name)
    rec.versions = facts.get("versions") or {}
    rec.plugin = facts.get("plugin")
    rec.python, rec.host, rec.cpu = facts.get("python"), facts.get("host"), facts.get("cpu")
    rec.cpu_count = facts.get("cpu_count")
    rec.pid = os.getpid()
    return rec


def error_record(task: Task, message: str, *, origin: str = "solver", tb: str | None = None,
                 runtime: float = 0.0) -> TaskRecord:
    """The line of a task that produced no result: ``origin`` says whose failure it was
    (``solver``, ``input`` or ``infrastructure``, see core/taskrecord.py)."""
    return _with_provenance(_base_record(
        task, status=Status.ERROR.value, termination=TerminationCondition.ERROR.value,
        solution_status=SolutionStatus.NO_SOLUTION.value, runtime=runtime,
        reference=task.reference, error=message, error_origin=origin,
        info={"traceback": tb} if tb else {}))


def infrastructure_error(task: Task, message: str, *, runtime: float = 0.0) -> TaskRecord:
    """A task lost to the machinery, not to its solver (a worker died, a hang, a lost cluster)."""
    return error_record(task, message, origin="infrastructure", runtime=runtime)


def interrupted_record(task: Task) -> TaskRecord:
    from solverhub.core.runner.base import mark_interrupted

    return mark_interrupted(error_record(task, "interrupted by the user"))


def run_task(task: Task | dict[str, Any], observers: Iterable[Any] = ()) -> TaskRecord:
    """Solve one task; always returns its record, never raises (except KeyboardInterrupt outside
    the solve). Runs in a worker process or in this one."""
    from solverhub.core.api import load_problem, solve
    from solverhub.core.trust import code_allowed

    if isinstance(task, dict):
        task = Task.from_dict(task)
    t0 = time.perf_counter()
    try:
        with code_allowed(task.allow_code or False):
            problem = load_problem(task.instance)
        ref = task.reference
        if ref is None:
            ref = getattr(problem, "reference_objective", None)
        res = solve(problem, task.solver_name, time_limit=task.time_limit, seed=task.seed,
                    options=dict(task.options), observers=observers,
                    reference=None if ref is None else float(ref))
    except BadInputError as exc:
        return error_record(task, str(exc), origin="input", runtime=time.perf_counter() - t0)
    except Exception as exc:
        return error_record(task, f"{type(exc).__name__}: {exc}", tb=traceback.format_exc(),
                            runtime=time.perf_counter() - t0)
    d = res.to_dict()
    rec = _base_record(task)
    if d.get("options"):
        rec.options = d["options"]  # resolved: the options model's defaults filled in
    rec.status = d["status"]
    rec.objective, rec.bound = d["objective"], d["bound"]
    rec.runtime, rec.iterations = d["runtime"], d["iterations"]
    rec.primal_integral, rec.trajectory = d["primal_integral"], d["trajectory"]
    rec.reference = None if ref is None or not math.isfinite(float(ref)) else float(ref)
    sense = getattr(problem, "sense", None)
    rec.sense = sense if isinstance(sense, int) else None
    rec.error = d.get("error")
    if rec.status == "error":
        rec.error_origin = "solver"
    rec.info = d.get("info") or {}
    rec.problem_kind = str(d.get("kind") or getattr(problem, "kind", "") or "")
    rec.metrics = d.get("metrics") or {}
    rec.history = d.get("history") or {}
    rec.termination = d.get("termination")
    rec.solution_status = d.get("solution_status")
    rec.corrections = d.get("corrections") or None
    rec.conversion = d.get("conversion") or None
    rec.route = d.get("route") or None
    # no primal integral: the solver reports no incumbent times
    rec.incumbents_unknown = bool(d.get("incumbents_unknown"))
    return _with_provenance(rec)
