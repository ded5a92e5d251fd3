"""Hook specifications of the solverhub host (DESIGN.md section 2).

Three families, all prefixed ``solverhub_``:

* modeling   -- problem kinds, loaders (first plugin that understands a source wins), converters;
* solving    -- solvers and MIP backends;
* meta-search -- destroy/repair operators, bandit policies, acceptance criteria, stopping rules,
  and observer hooks called during a run (start, new incumbent, iteration, end).

Registration hooks return lists of typed records (:mod:`solverhub.core.records`).
"""

from __future__ import annotations

from typing import Any

import pluggy

__all__ = ["hookspec", "hookimpl", "PROJECT"]

PROJECT = "solverhub"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# ---------------------------------------------------------------- modeling
@hookspec
def solverhub_problem_kinds() -> list:
    """Return :class:`~solverhub.core.records.ProblemKind` records."""


@hookspec(firstresult=True)
def solverhub_load_problem(source: Any, params: dict) -> Any:
    """Load ``source`` (a path, an address ``scheme:rest?k=v``, or a Python object) into a problem
    object, or return ``None`` when this plugin does not understand it. ``params`` holds query
    parameters already parsed from an address. Raise ``BadInputError`` for a source this plugin
    owns but cannot read (missing file, malformed content)."""


@hookspec
def solverhub_converters() -> list:
    """Return :class:`~solverhub.core.records.Converter` records."""


# ---------------------------------------------------------------- solving
@hookspec
def solverhub_solvers() -> list:
    """Return :class:`~solverhub.core.records.SolverSpec` records."""


@hookspec
def solverhub_mip_backends() -> list:
    """Return :class:`~solverhub.core.records.BackendSpec` records."""


# ---------------------------------------------------------------- meta-search
@hookspec
def solverhub_destroy_operators() -> list:
    """Return :class:`~solverhub.core.records.MetaComponent` records of category ``destroy``."""


@hookspec
def solverhub_repair_operators() -> list:
    """Return :class:`~solverhub.core.records.MetaComponent` records of category ``repair``."""


@hookspec
def solverhub_bandit_policies() -> list:
    """Return :class:`~solverhub.core.records.MetaComponent` records of category ``policy``."""


@hookspec
def solverhub_acceptance_criteria() -> list:
    """Return :class:`~solverhub.core.records.MetaComponent` records of category ``acceptance``."""


@hookspec
def solverhub_stopping_rules() -> list:
    """Return :class:`~solverhub.core.records.MetaComponent` records of category ``stopping``."""


# ---------------------------------------------------------------- observers
@hookspec
def solverhub_on_run_start(solver: str, problem: Any, options: dict) -> None:
    """A solve starts."""


@hookspec
def solverhub_on_incumbent(solver: str, time: float, objective: float, bound: Any) -> None:
    """A solver found a new incumbent (objective in the problem's own sense)."""


@hookspec
def solverhub_on_iteration(solver: str, iteration: int, info: dict) -> None:
    """A meta-solver finished an iteration; ``info`` holds its statistics (arm, outcome, ...)."""


@hookspec
def solverhub_on_run_end(solver: str, result: Any) -> None:
    """A solve ended with ``result``."""
