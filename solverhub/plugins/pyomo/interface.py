"""solverhub solvers as Pyomo (>= 6.10) ``pyomo.contrib.solver`` solvers.

``SolverFactory("solverhub_<name>")`` (new interface, or ``pyomo.environ.SolverFactory`` for the
legacy wrapper) gives an instance of a subclass of :class:`SolverhubSolver`, one class per
solverhub solver. ``solve(model, **config)`` compiles the model (:mod:`.convert`), runs
:func:`solverhub.solve` and reports in Pyomo's terms. Every solverhub
:class:`~solverhub.core.result.Result` carries why the solver stopped (``termination``) and what
it holds (``solution_status``), with the same meanings as Pyomo's; they are mapped name for name
(``max_time_limit`` -> ``maxTimeLimit``, ``proven_infeasible`` -> ``provenInfeasible`` ...),
``noSolution`` when no solution vector came back:

==============================  ==============================  ===========================
solverhub status                ``termination_condition``       ``solution_status``
==============================  ==============================  ===========================
optimal                         convergenceCriteriaSatisfied    optimal
feasible (a rule ended it)      convergenceCriteriaSatisfied    feasible
time_limit                      maxTimeLimit                    feasible, or noSolution
iteration_limit                 iterationLimit                  feasible, or noSolution
interrupted (Ctrl-C)            interrupted                     feasible, or noSolution
infeasible                      provenInfeasible                noSolution
unbounded                       unbounded                       noSolution
error                           error                           noSolution
==============================  ==============================  ===========================

Pyomo's conventions (those of its own ``highs`` interface, checked by running Pyomo's solver
suite: tests/test_pyomo_suite.py):

* ``raise_exception_on_nonoptimal_result=True`` (the new interface's default) raises
  ``NoOptimalSolutionError`` for any termination but ``convergenceCriteriaSatisfied``;
  ``load_solutions=True`` raises ``NoFeasibleSolutionError`` when there is no solution to load;
  the loader raises ``NoSolutionError`` / ``NoDualsError``. Each message is Pyomo's own text,
  followed by solverhub's detail in parentheses;
* every variable is marked stale when a solve starts, and only loaded ones become fresh;
* ``results.solver_log`` holds everything printed during the solve (solverhub's log lines:
  problem size, incumbents, final status; and any output of the solver), which ``tee`` also gets;
* a model without an active objective is a feasibility problem (``incumbent_objective`` and
  ``objective_bound`` None);
* ``time_limit=0`` returns ``maxTimeLimit`` without running the solver;
* ``pyomo.kernel`` blocks are accepted (see :mod:`.convert`).

A time-limited heuristic run (Balans) with an incumbent is read with
``raise_exception_on_nonoptimal_result=False`` (and, to choose when to load,
``load_solutions=False`` then ``results.solution_loader.load_vars()``).
"""

from __future__ import annotations

import datetime
import io
import logging
import math
import sys
import time
from typing import Any, Mapping, Sequence

from pyomo.common.config import ConfigValue, NonNegativeInt
from pyomo.common.errors import PyomoException
from pyomo.common.tee import TeeStream, capture_output
from pyomo.common.timing import HierarchicalTimer
from pyomo.contrib.solver.common.base import Availability, SolverBase
from pyomo.contrib.solver.common.config import BranchAndBoundConfig
from pyomo.contrib.solver.common.results import Results, SolutionStatus, TerminationCondition
from pyomo.contrib.solver.common.solution_loader import SolutionLoader
from pyomo.contrib.solver.common.util import (
    NoDualsError,
    NoFeasibleSolutionError,
    NoOptimalSolutionError,
    NoReducedCostsError,
    NoSolutionError,
)
from pyomo.core.staleflag import StaleFlagManager

from solverhub.core.result import Result, Status
from solverhub.core.result import SolutionStatus as ShSolutionStatus
from solverhub.core.result import TerminationCondition as ShTermination
from solverhub.plugins.pyomo.convert import (
    InfeasibleModelError,
    PyomoMIPProblem,
    is_kernel_model,
    pyomo_to_mip,
)

__all__ = ["SolverhubSolver", "SolverhubConfig", "SolverhubSolutionLoader", "make_solver_class",
           "TERMINATION", "termination_of", "results_from"]

logger = logging.getLogger(__name__)

#: solverhub termination condition -> Pyomo's (the same names, snake_case on our side)
TERMINATION: dict[ShTermination, TerminationCondition] = {
    ShTermination.CONVERGENCE_CRITERIA_SATISFIED: TerminationCondition.convergenceCriteriaSatisfied,
    ShTermination.MAX_TIME_LIMIT: TerminationCondition.maxTimeLimit,
    ShTermination.ITERATION_LIMIT: TerminationCondition.iterationLimit,
    ShTermination.INTERRUPTED: TerminationCondition.interrupted,
    ShTermination.PROVEN_INFEASIBLE: TerminationCondition.provenInfeasible,
    ShTermination.LOCALLY_INFEASIBLE: TerminationCondition.locallyInfeasible,
    ShTermination.UNBOUNDED: TerminationCondition.unbounded,
    ShTermination.INFEASIBLE_OR_UNBOUNDED: TerminationCondition.infeasibleOrUnbounded,
    ShTermination.ERROR: TerminationCondition.error,
    ShTermination.UNKNOWN: TerminationCondition.unknown,
}

#: solverhub solution status -> Pyomo's
SOLUTION: dict[ShSolutionStatus, SolutionStatus] = {
    ShSolutionStatus.NO_SOLUTION: SolutionStatus.noSolution,
    ShSolutionStatus.INFEASIBLE: SolutionStatus.infeasible,
    ShSolutionStatus.FEASIBLE: SolutionStatus.feasible,
    ShSolutionStatus.OPTIMAL: SolutionStatus.optimal,
}


class SolverhubConfig(BranchAndBoundConfig):
    """Pyomo's branch-and-bound config plus ``seed``.

    ``time_limit`` and ``seed`` go to :func:`solverhub.solve`; ``solver_options`` are the
    solverhub solver's own options (validated by its options model: see ``solverhub solvers``);
    ``threads``, ``rel_gap`` and ``abs_gap`` are passed only where the solver has an option of
    that meaning (``threads``; ``mip_rel_gap``/``rel_gap``; ``mip_abs_gap``/``abs_gap``) and
    ignored otherwise. ``tee`` gets the solve's log (problem size, incumbents, final status).
    ``symbolic_solver_labels`` and ``working_dir`` have no effect (names are always kept and no
    file is written).
    """

    def __init__(self, description=None, doc=None, implicit=False, implicit_domain=None,
                 visibility=0):
        super().__init__(description=description, doc=doc, implicit=implicit,
                         implicit_domain=implicit_domain, visibility=visibility)
        self.seed: int = self.declare(
            "seed", ConfigValue(domain=NonNegativeInt, default=0,
                                description="Random seed passed to the solverhub solver."))


def _standard(exc_type: type[PyomoException], detail: str = "") -> Exception:
    """``exc_type`` with Pyomo's own message (what Pyomo's interfaces raise, so that code matching
    on it keeps working), followed by solverhub's detail when there is one."""
    text: str = exc_type.default_message  # type: ignore[attr-defined]  # each of Pyomo's solver errors defines it
    return exc_type(f"{text} ({detail})" if detail else text)


class SolverhubSolutionLoader(SolutionLoader):
    """Primal values of one solution (or none); MIP solvers report no duals or reduced costs."""

    def __init__(self, model: Any, problem: PyomoMIPProblem | None, x: Any, message: str = "") -> None:
        self._pyomo_model = model  # needed by Pyomo's legacy wrapper (suffix handling)
        self._problem = problem
        self._x = x
        self._message = message

    def get_number_of_solutions(self) -> int:
        return 0 if self._x is None else 1

    def get_vars(self, vars_to_load: Sequence[Any] | None = None) -> Mapping[Any, float]:
        if self._x is None:
            raise _standard(NoSolutionError, self._message)
        assert self._problem is not None  # a solution comes with its problem
        return self._problem.solution_map(self._x, vars_to_load)

    def load_vars(self, vars_to_load: Sequence[Any] | None = None) -> None:
        if self._x is None:
            raise _standard(NoSolutionError, self._message)
        assert self._problem is not None  # a solution comes with its problem
        self._problem.load_solution(self._x, vars_to_load)
        StaleFlagManager.mark_all_as_stale(delayed=True)

    def get_duals(self, cons_to_load: Sequence[Any] | None = None) -> dict:
        raise _standard(NoDualsError, "solverhub MIP solvers return no duals")

    def get_reduced_costs(self, vars_to_load: Sequence[Any] | None = None) -> Mapping[Any, float]:
        raise _standard(NoReducedCostsError, "solverhub MIP solvers return no reduced costs")

    def load_import_suffixes(self) -> None:
        # clear stale values of `dual`/`rc` suffixes; there is nothing to import into them
        if is_kernel_model(self._pyomo_model):
            suffixes = _clear_kernel_import_suffixes(self._pyomo_model)
        else:
            suffixes = self._collect_and_clear_import_suffixes()
        if suffixes:
            logger.info("solverhub: import suffixes %s left empty (no duals for MIP)",
                        ", ".join(sorted(suffixes)))


def _clear_kernel_import_suffixes(block: Any) -> list[str]:
    from pyomo.core.kernel.suffix import import_suffix_generator

    names = []
    for suffix in import_suffix_generator(block, active=True, descend_into=True):
        suffix.clear()
        names.append(suffix.local_name)
    return names


class _LogObserver:
    """solverhub's log lines of one solve (problem size, incumbents, final status), printed to
    ``sys.stdout`` as looked up at each call: inside the solve's ``capture_output`` that is the
    stream feeding ``results.solver_log`` and ``tee``, as the solver's own output is."""

    def __init__(self, name: str) -> None:
        self.name = name

    def write(self, line: str) -> None:
        out = sys.stdout
        out.write(line + "\n")
        out.flush()

    def on_incumbent(self, solver: str, time: float, objective: float, bound: Any = None) -> None:
        b = "" if bound is None else f"  bound {bound:.10g}"
        self.write(f"[{self.name}] {time:8.2f}s  incumbent {objective:.10g}{b}")


class SolverhubSolver(SolverBase):
    """A solverhub solver in Pyomo's ``pyomo.contrib.solver`` interface (not persistent)."""

    CONFIG = SolverhubConfig()
    #: the solverhub solver name; set on the per-solver subclasses made by :func:`make_solver_class`
    solverhub_solver: str = ""

    def __init__(self, **kwds: Any) -> None:
        super().__init__(**kwds)

    # -------------------------------------------------------------- identity
    def available(self) -> Availability:
        from solverhub.core.manager import get_plugin_manager

        try:
            ok = self.solverhub_solver in get_plugin_manager().solvers()
        except Exception:  # pragma: no cover - a broken plugin set
            ok = False
        return Availability.FullLicense if ok else Availability.NotFound

    def version(self) -> tuple:
        import solverhub

        parts = []
        for p in str(getattr(solverhub, "__version__", "0")).split("+")[0].split("."):
            if not p.isdigit():
                break
            parts.append(int(p))
        return tuple(parts) or (0,)

    # -------------------------------------------------------------- solve
    def solve(self, model: Any, **kwds: Any) -> Results:
        start = datetime.datetime.now(datetime.timezone.utc)
        tick = time.perf_counter()
        config = self.config(value=kwds, preserve_implicit=True)
        # as Pyomo's own interfaces do: every variable is stale until a solution is loaded
        StaleFlagManager.mark_all_as_stale()
        timer = config.timer if config.timer is not None else HierarchicalTimer()
        log = io.StringIO()
        # everything printed during the solve (our log lines and any output of the solver itself)
        # goes to results.solver_log and to the `tee` streams, as in Pyomo's highs interface
        with capture_output(TeeStream(log, *config.tee), capture_fd=True):
            problem, res = self._run(model, config, timer, _LogObserver(self.name))

        results = results_from(res, problem, model, self, config)
        results.solver_log = log.getvalue()
        results.timing_info.start_timestamp = start
        results.timing_info.timer = timer
        timer.start("load solution")
        try:
            # Pyomo's rule: anything but a proven optimum is "non-optimal"
            if (results.termination_condition != TerminationCondition.convergenceCriteriaSatisfied
                    and config.raise_exception_on_nonoptimal_result):
                raise _standard(NoOptimalSolutionError, f"{self.name}: solver status "
                                f"{res.status.value}, solution {res.solution_status.value}"
                                + (f", {res.error}" if res.error else ""))
            if config.load_solutions:
                if results.solution_loader.get_number_of_solutions():
                    results.solution_loader.load_solution()
                else:
                    raise _standard(NoFeasibleSolutionError,
                                    f"{self.name}: solver status {res.status.value}")
        finally:
            timer.stop("load solution")
        results.timing_info.wall_time = time.perf_counter() - tick
        return results

    def _run(self, model: Any, config: Any, timer: HierarchicalTimer,
             log: _LogObserver) -> tuple[PyomoMIPProblem | None, Result]:
        """Compile ``model`` and run the solverhub solver on it (or decide without running it)."""
        from solverhub.core.api import solve as sh_solve
        from solverhub.core.manager import get_plugin_manager

        timer.start("convert")
        try:
            # a model without an objective is a feasibility problem, as in Pyomo's interfaces
            problem = pyomo_to_mip(model, allow_no_objective=True)
        except InfeasibleModelError as exc:
            log.write(f"[{self.name}] {exc}")
            return None, Result(Status.INFEASIBLE, info={"reason": str(exc)})
        finally:
            timer.stop("convert")
        log.write(f"[{self.name}] {problem.summary()}")
        if config.time_limit is not None and float(config.time_limit) <= 0:
            # Pyomo's highs with time_limit=0 stops before solving: no run, no solution
            res = Result(Status.TIME_LIMIT, info={"reason": "time_limit=0: not solved"})
        elif problem.n == 0:
            res = _solve_without_columns(problem)
        else:
            problem.load_on_accept = False
            spec = get_plugin_manager().get_solver(self.solverhub_solver)
            timer.start("solve")
            try:
                time_limit = None
                if config.time_limit is not None:
                    time_limit = max(float(config.time_limit), 1e-3)
                res = sh_solve(problem, solver=self.solverhub_solver, time_limit=time_limit,
                               seed=int(config.seed), options=_solver_options(config, spec),
                               observers=[log])
            finally:
                timer.stop("solve")
        obj = "" if res.objective is None or not problem.has_objective \
            else f"  objective {res.objective:.10g}"
        log.write(f"[{self.name}] status {res.status.value}{obj}  "
                  f"({res.runtime:.2f}s, {res.iterations} iterations)"
                  + (f"  error: {res.error}" if res.error else ""))
        return problem, res


def termination_of(res: Result) -> TerminationCondition:
    """Pyomo termination condition of a solverhub result: its own termination reason, mapped."""
    return TERMINATION[res.termination]


def results_from(res: Result, problem: PyomoMIPProblem | None, model: Any, solver: SolverhubSolver,
                 config: Any) -> Results:
    """Pyomo :class:`Results` of the solverhub :class:`Result` ``res``."""
    has_x = res.x is not None and problem is not None and res.has_solution
    results = Results()
    results.solver_name = solver.name
    results.solver_version = solver.version()
    results.solver_config = config
    results.termination_condition = termination_of(res)
    results.solution_status = SOLUTION[res.solution_status] if has_x else SolutionStatus.noSolution
    # a feasibility problem (no objective) has neither, as in Pyomo's interfaces
    has_objective = problem is not None and problem.has_objective
    if has_objective and has_x and res.objective is not None and math.isfinite(res.objective):
        results.incumbent_objective = float(res.objective)
    maximize = problem is not None and problem.sense == -1
    if not has_objective:
        pass
    elif res.bound is not None and math.isfinite(float(res.bound)):
        results.objective_bound = float(res.bound)
    elif res.status == Status.OPTIMAL and results.incumbent_objective is not None:
        results.objective_bound = results.incumbent_objective
    elif has_x:
        results.objective_bound = math.inf if maximize else -math.inf
    message = f"{solver.name}: solver status {res.status.value}" \
        + (f", {res.error}" if res.error else "")
    results.solution_loader = SolverhubSolutionLoader(model, problem, res.x if has_x else None,
                                                      message)
    results.timing_info.solver_time = float(res.runtime)
    extra = results.extra_info
    extra.solverhub_status = res.status.value
    extra.solverhub_termination = res.termination.value
    extra.iterations = int(res.iterations)
    extra.trajectory = list(res.trajectory)
    if res.error:
        extra.error = res.error
    if res.info.get("reason"):
        extra.reason = res.info["reason"]
    extra.solverhub_result = res
    results.solver_log = res.error or ""  # the solve's captured log replaces it (SolverhubSolver)
    return results


def _solver_options(config: Any, spec: Any) -> dict:
    options = dict(config.solver_options.value())
    fields = getattr(spec.options_model, "model_fields", {})

    def maybe(value: Any, names: tuple[str, ...], what: str) -> None:
        if value is None:
            return
        for nm in names:
            if nm in fields:
                options.setdefault(nm, value)
                return
        logger.info("solverhub: solver %r has no %s option; Pyomo's %s=%r ignored",
                    spec.name, what, what, value)

    maybe(config.threads, ("threads",), "threads")
    maybe(config.rel_gap, ("mip_rel_gap", "rel_gap"), "rel_gap")
    maybe(config.abs_gap, ("mip_abs_gap", "abs_gap"), "abs_gap")
    return options


def _solve_without_columns(problem: PyomoMIPProblem) -> Result:
    """Every variable fixed (or none used): the objective is the constant; rows are constant too
    (the compiler already rejected violated constant rows)."""
    import numpy as np

    x = np.zeros(0)
    report = problem.check(x)
    status = Status.OPTIMAL if report.feasible else Status.INFEASIBLE
    return Result(status, objective=problem.offset if report.feasible else None,
                  bound=problem.offset if report.feasible else None,
                  x=x if report.feasible else None)


def make_solver_class(solver: str, pyomo_name: str) -> type:
    """A :class:`SolverhubSolver` subclass bound to solverhub solver ``solver``."""
    ident = "".join(ch if ch.isalnum() else "_" for ch in pyomo_name)
    return type(f"Pyomo_{ident}", (SolverhubSolver,), {
        "solverhub_solver": solver,
        "__doc__": f"solverhub solver {solver!r} through Pyomo (registered as {pyomo_name!r}).",
        "__module__": __name__,
    })
