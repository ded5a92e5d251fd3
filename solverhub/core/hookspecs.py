"""Hook specifications of the solverhub host (DESIGN.md section 2).

Three families, all prefixed ``solverhub_``:

* modeling   -- problem kinds, loaders (by address scheme, file suffix or Python object),
  converters between problem forms;
* solving    -- solvers and MIP backends;
* meta-search -- destroy/repair operators, bandit policies, acceptance criteria, stopping rules,
  tuners across solves, and observer hooks called during a run (start, new incumbent, iteration, end).

Registration hooks return lists of typed records (:mod:`solverhub.core.records`); each example
below is a complete hook implementation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from solverhub.core.records import (
        ArrayBackend,
        BackendSpec,
        Converter,
        LoaderSpec,
        MetaComponent,
        ProblemKind,
        PyomoSolverSpec,
        SolverSpec,
        TunerSpec,
    )
    from solverhub.core.result import Result

__all__ = ["hookspec", "hookimpl", "PROJECT"]

PROJECT = "solverhub"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# ---------------------------------------------------------------- modeling
@hookspec
def solverhub_problem_kinds() -> list[ProblemKind]:
    """Problem kinds this plugin defines, each with its protocol (checking, metrics, reference,
    conformance instances).

    Example::

        @sh.hookimpl
        def solverhub_problem_kinds():
            return [sh.ProblemKind("knapsack", KnapsackProblem, "0/1 knapsack",
                                   protocol=KnapsackKind())]
    """


@hookspec
def solverhub_loaders() -> list[LoaderSpec]:
    """Loaders by address scheme, file suffix or Python object; a scheme belongs to one loader.

    Example::

        @sh.hookimpl
        def solverhub_loaders():
            return [sh.LoaderSpec("knapsack-files", read_knapsack, suffixes=(".kp",),
                                  kind="knapsack", params=sh.NoParams)]

    The host parses an address once and validates its parameters with the record's ``params``
    model, then calls ``load(target, params)`` (see :mod:`solverhub.core.loading`).
    """


@hookspec(firstresult=True)
def solverhub_load_problem(source: Any, params: dict[str, Any]) -> Any | None:
    """Fallback loader, asked only when no registered :class:`LoaderSpec` claims ``source``: load
    it (a path, an address ``scheme:rest?k=v``, or a Python object) into a problem object, or
    return ``None`` when this plugin does not understand it. ``params`` holds query parameters
    already parsed from an address. Raise ``BadInputError`` for a source this plugin owns but
    cannot read (missing file, malformed content). Deprecated: new plugins register
    :class:`LoaderSpec` records (``solverhub_loaders``), whose parameters the host validates.

    Example::

        @sh.hookimpl
        def solverhub_load_problem(source, params):
            if isinstance(source, str) and source.endswith(".kp"):
                return read_knapsack(source)
            return None
    """


@hookspec
def solverhub_converters() -> list[Converter]:
    """Converters between problem kinds; the host uses one to give a solver the kind it takes,
    and its ``invert`` to map the result back to the source problem's form (checked and measured
    by the source kind).

    Example::

        @sh.hookimpl
        def solverhub_converters():
            return [sh.Converter("knapsack-to-mip", "knapsack", "mip", knapsack_to_mip,
                                 invert=mip_result_to_knapsack)]
    """


# ---------------------------------------------------------------- solving
@hookspec
def solverhub_solvers() -> list[SolverSpec]:
    """Solvers: name, problem kind, factory, options model, availability.

    Example::

        @sh.hookimpl
        def solverhub_solvers():
            return [sh.SolverSpec("knapsack-dp", "knapsack", DPSolver, DPOptions,
                                  description="dynamic programming over capacities")]
    """


@hookspec
def solverhub_mip_backends() -> list[BackendSpec]:
    """MIP backends for large-neighbourhood search (sub-MIPs of Balans).

    Example::

        @sh.hookimpl
        def solverhub_mip_backends():
            return [sh.BackendSpec("mybackend", MyBackend, frozenset({"warm_start", "interrupt"}))]
    """


@hookspec
def solverhub_array_backends() -> list[ArrayBackend]:
    """Array libraries solvers can compute on (``device="cuda"``); NumPy (``"cpu"``) is built in.

    Example::

        @sh.hookimpl
        def solverhub_array_backends():
            return [sh.ArrayBackend("cuda", lambda: importlib.import_module("cupy"),
                                    available=lambda: None if has_gpu() else "no CUDA device")]
    """


# ---------------------------------------------------------------- meta-search
@hookspec
def solverhub_destroy_operators() -> list[MetaComponent]:
    """Destroy operators (category ``destroy``).

    Example::

        @sh.hookimpl
        def solverhub_destroy_operators():
            return [sh.MetaComponent("heaviest_10", "destroy", HeaviestItems, {"share": 0.1})]
    """


@hookspec
def solverhub_repair_operators() -> list[MetaComponent]:
    """Repair operators (category ``repair``).

    Example::

        @sh.hookimpl
        def solverhub_repair_operators():
            return [sh.MetaComponent("greedy", "repair", GreedyRepair)]
    """


@hookspec
def solverhub_bandit_policies() -> list[MetaComponent]:
    """Bandit policies choosing the operator arm (category ``policy``).

    Example::

        @sh.hookimpl
        def solverhub_bandit_policies():
            return [sh.MetaComponent("exp3", "policy", Exp3, {"gamma": 0.1})]
    """


@hookspec
def solverhub_acceptance_criteria() -> list[MetaComponent]:
    """Acceptance criteria (category ``acceptance``).

    Example::

        @sh.hookimpl
        def solverhub_acceptance_criteria():
            return [sh.MetaComponent("threshold", "acceptance", ThresholdAccepting, {"t": 0.01})]
    """


@hookspec
def solverhub_stopping_rules() -> list[MetaComponent]:
    """Stopping rules (category ``stopping``).

    Example::

        @sh.hookimpl
        def solverhub_stopping_rules():
            return [sh.MetaComponent("target", "stopping", StopAtTarget, {"value": 0.0})]
    """


@hookspec
def solverhub_tuners() -> list[TunerSpec]:
    """Online tuners choosing a solver option before each solve of an instance sequence from
    the costs of the solves before (``solverhub tune``, docs/tuning.md).

    Example::

        @sh.hookimpl
        def solverhub_tuners():
            return [sh.TunerSpec("eps-greedy", "mypkg.tuners:EpsGreedy", {"epsilon": 0.1})]
    """


# ---------------------------------------------------------------- observers
@hookspec
def solverhub_on_run_start(solver: str, problem: Any, options: dict[str, Any]) -> None:
    """A solve starts.

    Example::

        @sh.hookimpl
        def solverhub_on_run_start(solver, problem, options):
            log.info("%s on %s", solver, getattr(problem, "name", problem))
    """


@hookspec
def solverhub_on_incumbent(solver: str, time: float, objective: float, bound: Any) -> None:
    """A solver found a new incumbent (objective in the problem's own sense).

    Example::

        @sh.hookimpl
        def solverhub_on_incumbent(solver, time, objective, bound):
            print(f"{time:8.2f}s  {objective:.6g}")
    """


@hookspec
def solverhub_on_iteration(solver: str, iteration: int, info: dict[str, Any]) -> None:
    """Any solver finished an iteration (an LNS step, an ADMM or Newton iteration ...); ``info``
    holds its scalars (objective, residuals, step size, arm ...). The host also keeps a thinned
    copy as ``Result.history``.

    Example::

        @sh.hookimpl
        def solverhub_on_iteration(solver, iteration, info):
            if iteration % 100 == 0:
                print(iteration, info.get("objective"))
    """


@hookspec
def solverhub_on_run_end(solver: str, result: Result) -> None:
    """A solve ended with ``result``.

    Example::

        @sh.hookimpl
        def solverhub_on_run_end(solver, result):
            print(solver, result.status, result.objective)
    """


# ---------------------------------------------------------------- Pyomo
@hookspec
def solverhub_pyomo_solvers() -> list[PyomoSolverSpec]:
    """Pyomo solver classes for solvers of kinds other than ``mip`` (MIP solvers are registered
    in Pyomo's ``SolverFactory`` without this), as :class:`PyomoSolverSpec` records: the
    solverhub solver's name and ``make_class(pyomo_name)``, which returns a ``pyomo.contrib.solver``
    ``SolverBase`` subclass. The Pyomo plugin registers each as ``solverhub_<name>`` (and with
    ``_`` for ``-``), when Pyomo's solver factory is imported.

    Example::

        @sh.hookimpl
        def solverhub_pyomo_solvers():
            return [sh.PyomoSolverSpec("my-nlp", "mypkg.pyomo_nlp:make_class")]
    """
