"""``SolverFactory("solverhub_exact-al")`` (also ``solverhub_exact_al``): exact-al on Pyomo NLP
models -- one objective, equality constraints, continuous unbounded variables (the converter
``pyomo-to-nlp-eq``) -- in Pyomo's ``pyomo.contrib.solver`` interface, with the conventions of
the MIP solvers' interface (:mod:`solverhub.plugins.pyomo.interface`): termination conditions
(``convergenceCriteriaSatisfied`` for a verified local optimum, ``maxTimeLimit``,
``iterationLimit``, ``interrupted``, ``error``), ``load_solutions`` / ``solution_loader``,
``raise_exception_on_nonoptimal_result``, ``time_limit``, ``seed``, ``solver_options`` (exact-al's
options), ``tee``. The objective reported is the model's (a maximisation is not negated).
Variable bounds, inequality and ranged constraints are taken (exact-al's barrier loop). Duals and
reduced costs come back (``solution_loader.get_duals()`` / ``get_reduced_costs()``, or a
``dual`` / ``rc`` import ``Suffix`` on the model) in Pyomo's convention: the derivative of the
model's optimal objective with respect to the constraint's bound (or the variable's), e.g. a
positive dual on an active ``>=`` constraint of a minimisation.

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

        names = problem.metadata.get("pyomo_cons")
        self.cons: list[Any] = []
        if names is not None:
            from pyomo.environ import Constraint

            by_name = {c.name: c for c in model.component_data_objects(Constraint, active=True)}
            self.cons = [by_name[nm] for nm in names if nm in by_name]

    def summary(self) -> str:
        p = self.problem
        m_eq = int(p.equality_rows.size)
        extra = ""
        if p.has_bounds_or_inequalities:
            lb, ub = p.bounds()
            extra = (f", {p.m - m_eq} inequality constraints, "
                     f"{int(sum(np.isfinite(lb)) + sum(np.isfinite(ub)))} variable bounds")
        return f"{p.n} variables, {m_eq} equality constraints{extra} (nlp-eq)"

    def duals(self, res: Any) -> tuple[Any, Any]:
        """``(duals, reduced costs)`` as ComponentMaps in Pyomo's sign convention (module
        docstring), or None where the result carries none. exact-al's multipliers are those of
        ``L = f + lam'c + z'x`` for the minimised ``f`` (the model's objective times ``sign``):
        the model's sensitivities are ``-sign lam`` and ``-sign z``."""
        from pyomo.common.collections import ComponentMap

        lam = res.info.get("multipliers")
        z = res.info.get("bound_multipliers")
        duals = None
        if lam is not None and len(lam) == len(self.cons):
            duals = ComponentMap((c, -self.sign * float(v)) for c, v in zip(self.cons, lam))
        rcs = None
        if z is not None and len(z) == len(self.vars):
            rcs = ComponentMap((v, -self.sign * float(zv)) for v, zv in zip(self.vars, z))
        elif res.x is not None and not self.problem.has_bounds_or_inequalities:
            rcs = ComponentMap((v, 0.0) for v in self.vars)  # no bounds: no reduced costs
        return duals, rcs

    def solution_map(self, x: np.ndarray, vars_to_load: Sequence[Any] | None = None) -> Mapping:
        from pyomo.common.collections import ComponentMap

        out = ComponentMap((v, float(val)) for v, val in zip(self.vars, np.asarray(x, dtype=float)))
        if vars_to_load is None:
            return out
        return ComponentMap((v, out[v] if v in out else v.value) for v in vars_to_load)

    def load_solution(self, x: np.ndarray, vars_to_load: Sequence[Any] | None = None) -> None:
        for v, val in self.solution_map(x, vars_to_load).items():
            v.set_value(val, skip_validation=True)


def _loader_with_duals(base: Any, duals: Any, rcs: Any) -> Any:
    """``base`` (a SolverhubSolutionLoader) answering get_duals / get_reduced_costs."""
    from pyomo.contrib.solver.common.util import NoDualsError, NoReducedCostsError

    class _NLPSolutionLoader(type(base)):  # type: ignore[misc]
        def get_duals(self, cons_to_load: Sequence[Any] | None = None) -> dict:
            if duals is None or not self.get_number_of_solutions():
                raise NoDualsError("exact-al: no multipliers for this result")
            keys = list(duals.keys()) if cons_to_load is None else cons_to_load
            return {c: duals[c] for c in keys}

        def get_reduced_costs(self, vars_to_load: Sequence[Any] | None = None) -> Mapping[Any, float]:
            from pyomo.common.collections import ComponentMap

            if rcs is None or not self.get_number_of_solutions():
                raise NoReducedCostsError("exact-al: no bound multipliers for this result")
            keys = list(rcs.keys()) if vars_to_load is None else vars_to_load
            return ComponentMap((v, rcs[v]) for v in keys)

        def load_import_suffixes(self) -> None:
            suffixes = self._collect_and_clear_import_suffixes()
            if "dual" in suffixes and duals is not None:
                suffixes["dual"].update(self.get_duals())
            if "rc" in suffixes and rcs is not None:
                suffixes["rc"].update(self.get_reduced_costs())

    loader = object.__new__(_NLPSolutionLoader)
    loader.__dict__.update(base.__dict__)
    return loader


def make_pyomo_class(pyomo_name: str) -> type:
    """The ``SolverBase`` subclass for exact-al (see the module docstring)."""
    from solverhub.plugins.pyomo.interface import SolverhubSolver, _solver_options

    class ExactALPyomo(SolverhubSolver):
        __doc__ = f"solverhub solver 'exact-al' through Pyomo (registered as {pyomo_name!r})."
        solverhub_solver = "exact-al"
        _last: tuple[Any, Any] = (None, None)

        def solve(self, model: Any, **kwds: Any) -> Any:
            results = super().solve(model, **kwds)
            adapter, res = self._last
            if adapter is not None and results.solution_loader.get_number_of_solutions():
                results.solution_loader = _loader_with_duals(results.solution_loader,
                                                             *adapter.duals(res))
            return results

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
            self._last = (adapter, res)
            return adapter, res

    ExactALPyomo.__name__ = ExactALPyomo.__qualname__ = \
        "Pyomo_" + "".join(ch if ch.isalnum() else "_" for ch in pyomo_name)
    return ExactALPyomo
