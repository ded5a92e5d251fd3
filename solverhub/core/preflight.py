"""Fail fast: a run config's instances, solvers, options and solver x instance pairs are checked
before any worker starts, and every distinct problem is reported at once (one line each).

    solverhub run bad.toml          # exit 2, one "solverhub: error: ..." line per problem
    solverhub run cfg.toml --check  # also loads every instance once, prints the task table

Instances are checked without loading them (scheme, target, parameters, file, consent for code);
``load=True`` (``--check``) loads each once, so what only loading finds (a malformed file) is
reported too.
"""

from __future__ import annotations

from typing import Any

from solverhub.core.errors import BadInputError, SolverhubError

__all__ = ["InputProblems", "check_config", "instance_kinds"]


class InputProblems(BadInputError):
    """Several independent problems with the user's input; ``problems`` holds one line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(dict.fromkeys(problems))
        super().__init__("\n".join(self.problems))


def _quote_key(key: str) -> str:
    import re

    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else '"' + key.replace('"', '\\"') + '"'


def _one_line(exc: BaseException) -> str:
    problems = getattr(exc, "problems", None)
    text = "; ".join(problems) if problems else str(exc)
    if isinstance(exc, BadInputError):
        return text
    return f"{type(exc).__name__}: {text}"


def instance_kinds(instances: list[str], source: str, problems: list[str], *,
                   load: bool = False, known: dict[int, str] | None = None
                   ) -> dict[str, str | None]:
    """The problem kind of each valid instance (None: unknown until loaded); a bad one adds a
    line to ``problems`` and is left out (``known``: index -> a problem found already)."""
    from solverhub.core.api import load_problem, source_kind
    from solverhub.core.loading import check_source

    kinds: dict[str, str | None] = {}
    for i, inst in enumerate(instances):
        if known and i in known:
            if known[i]:
                problems.append(known[i])
            continue
        try:
            check_source(inst)
            if load:
                kinds[inst] = getattr(load_problem(inst), "kind", None)
            else:
                kinds[inst] = source_kind(inst)
        except KeyboardInterrupt:
            raise
        except (SolverhubError, Exception) as exc:  # noqa: B014 - a loader's own crash too
            problems.append(f"{source}: instances[{i}]: {_one_line(exc)}")
    return kinds


def _check_device(spec: Any, validated: Any) -> None:
    device = getattr(validated, "device", None)
    if isinstance(device, str) and device.lower() not in ("cpu", "numpy"):
        from solverhub.core.manager import get_plugin_manager

        get_plugin_manager().get_array_backend(device.lower())


def check_config(cfg: Any, source: str, *, load: bool = False,
                 known: dict[int, str] | None = None) -> dict[str, str | None]:
    """Check every instance, solver section (grids expanded), option and pair of ``cfg``; raise
    :class:`InputProblems` listing each distinct problem, or return the instances' kinds.
    ``known`` maps instance indices to a problem found already (an empty one: do not check)."""
    from solverhub.core.api import can_take, validate_options
    from solverhub.core.errors import UnknownNameError
    from solverhub.core.manager import get_plugin_manager

    problems: list[str] = []
    kinds = instance_kinds(list(cfg.instances), source, problems, load=load, known=known)
    pm = get_plugin_manager()
    takes: dict[str, str] = {}
    for label, entry in cfg.solvers.items():
        where = f"{source}: solvers.{_quote_key(label)}"
        if entry.group is not None and entry.group not in cfg.solvers:
            # expanded from a grid: name the section the user wrote
            where = f"{source}: solvers.{_quote_key(entry.group)}.grid ({label})"
        option_where = where if entry.group else f"{where}.options"
        try:
            spec = pm.get_solver(entry.kind)
        except UnknownNameError as exc:
            problems.append(f"{where}.kind: {exc}" if not entry.group else f"{where}: {exc}")
            continue
        reason = spec.unavailable_reason()
        if reason is not None:
            problems.append(f"{where}: solver {entry.kind!r} is unavailable: {reason}")
            continue
        try:
            validated = validate_options(spec, entry.options)
            _check_device(spec, validated)
        except BadInputError as exc:
            problems.append(f"{option_where}: {exc}")
            continue
        takes[label] = spec.problem_kind
    # pairs: a solver that can take no instance, an instance that no solver can take
    valid = [inst for inst in cfg.instances if inst in kinds]
    for label, kind in takes.items():
        if valid and not any(can_take(kind, kinds[inst]) for inst in valid):
            have = sorted({str(kinds[inst]) for inst in valid})
            problems.append(f"{source}: solvers.{_quote_key(label)}: solver "
                            f"{cfg.solvers[label].kind!r} takes problems of kind {kind!r}, and no "
                            f"instance is of that kind or converts to it (instance kinds: "
                            f"{', '.join(have)})")
    if takes and len(takes) == len(cfg.solvers):
        for i, inst in enumerate(cfg.instances):
            if inst in kinds and not any(can_take(k, kinds[inst]) for k in takes.values()):
                problems.append(f"{source}: instances[{i}]: {inst} is of kind {kinds[inst]!r}, "
                                f"which no solver of this config takes")
    if problems:
        raise InputProblems(problems)
    return kinds
