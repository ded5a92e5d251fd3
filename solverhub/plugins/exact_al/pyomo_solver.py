"""``SolverFactory("solverhub_exact-al")`` (also ``solverhub_exact_al``): exact-al on Pyomo NLP
models -- one objective, equality constraints, continuous unbounded variables (the converter
``pyomo-to-nlp-eq``) -- in Pyomo's ``pyomo.contrib.solver`` interface, with the conventions of
the MIP solvers' interface (:mod:`solverhub.plugins.pyomo.interface`): termination conditions
(``convergenceCriteriaSatisfied`` for a verified local optimum, ``maxTimeLimit``,
``iterationLimit``, ``interrupted``, ``error``), ``load_solutions`` / ``solution_loader``,
``raise_exception_on_nonoptimal_result``, ``time_limit``, ``seed``, ``solver_options`` (exact-al's
options), ``tee``. The objective reported is the model's (a maximisation is not negated).
Duals are not returned.

    import pyomo.environ as pe
    import solverhub  # registers the solvers
    res = pe.SolverFactory("solverhub_exact-al").solve(model)
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

import numpy as np

__all__ = ["make_pyomo_class", "NLPEqPyomoProblem"]


class NLPEqPyomoProblem:
    """What the Pyomo interface reads of a converted problem: sense, summary, values per
    variable, and loading them."""

    has_objective = True

    def __init__(self, problem: Any, model: Any) -> None:
        from pyomo.environ import Var

        self.problem = problem
        self.sign = float(problem.metadata.get("sign", 1.0))
        self.sense = -1 if self.sign < 0 else 1
        names = set(problem.metadata.get("pyomo_vars", []))
        self.vars = [v for v in model.component_data_objects(Var, active=True, descend_into=True)
                     if not v.fixed and v.name in names]
        self.n = problem.n

    def summary(self) -> str:
        return f"{self.problem.n} variables, {self.problem.m} equality constraints (nlp-eq)"

    def solution_map(self, x: np.ndarray, vars_to_load: Sequence[Any] | None = None) -> Mapping:
        from pyomo.common.collections import ComponentMap

        out = ComponentMap((v, float(val)) for v, val in zip(self.vars, np.asarray(x, dtype=float)))
        if vars_to_load is None:
            return out
        return ComponentMap((v, out[v] if v in out else v.value) for v in vars_to_load)

    def load_solution(self, x: np.ndarray, vars_to_load: Sequence[Any] | None = None) -> None:
        for v, val in self.solution_map(x, vars_to_load).items():
            v.set_value(val, skip_validation=True)


def make_pyomo_class(pyomo_name: str) -> type:
    """The ``SolverBase`` subclass for exact-al (see the module docstring)."""
    from solverhub.plugins.pyomo.interface import SolverhubSolver, _solver_options

    class ExactALPyomo(SolverhubSolver):
        __doc__ = f"solverhub solver 'exact-al' through Pyomo (registered as {pyomo_name!r})."
        solverhub_solver = "exact-al"

        def _run(self, model: Any, config: Any, timer: Any, log: Any) -> tuple[Any, Any]:
            from solverhub.core.api import solve as sh_solve
            from solverhub.core.manager import get_plugin_manager
            from solverhub.core.result import Result, Status
            from solverhub.plugins.exact_al.pyomo_convert import pyomo_to_nlp_eq

            timer.start("convert")
            try:
                problem = pyomo_to_nlp_eq(model)
            finally:
                timer.stop("convert")
            adapter = NLPEqPyomoProblem(problem, model)
            log.write(f"[{self.name}] {adapter.summary()}")
            # loading is the solution loader's business (load_solutions / load_vars)
            problem.load_on_accept = False  # type: ignore[attr-defined]  # read by pyomo_convert
            if config.time_limit is not None and float(config.time_limit) <= 0:
                res = Result(Status.TIME_LIMIT, info={"reason": "time_limit=0: not solved"})
            else:
                spec = get_plugin_manager().get_solver("exact-al")
                timer.start("solve")
                try:
                    tl = None if config.time_limit is None else max(float(config.time_limit), 1e-3)
                    res = sh_solve(problem, solver="exact-al", time_limit=tl, seed=int(config.seed),
                                   options=_solver_options(config, spec), observers=[log])
                finally:
                    timer.stop("solve")
            if res.objective is not None:
                res = dataclasses.replace(res, objective=adapter.sign * res.objective)
            if res.status == Status.INTERRUPTED:
                res.info["interrupted"] = True
            obj = "" if res.objective is None else f"  objective {res.objective:.10g}"
            log.write(f"[{self.name}] status {res.status.value}{obj}  ({res.runtime:.2f}s, "
                      f"{res.iterations} iterations)" + (f"  error: {res.error}" if res.error else ""))
            return adapter, res

    ExactALPyomo.__name__ = ExactALPyomo.__qualname__ = \
        "Pyomo_" + "".join(ch if ch.isalnum() else "_" for ch in pyomo_name)
    return ExactALPyomo
