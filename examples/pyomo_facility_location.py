"""Capacitated facility location in Pyomo, solved by solverhub solvers through Pyomo's SolverFactory.

    python examples/pyomo_facility_location.py [--facilities 10] [--customers 40] [--seed 0]

Each customer is served by exactly one open facility (single sourcing); a facility's capacity
bounds the demand it serves; the cost is the fixed opening costs plus demand-weighted distances.
``import solverhub`` registers ``solverhub_<solver>`` in Pyomo's factories, so the model is solved
with

* ``pyo.SolverFactory("solverhub_highs")`` (legacy interface, ``timelimit=``), exact;
* ``SolverFactory("solverhub_balans")`` from ``pyomo.contrib.solver`` (new interface), a
  time-limited heuristic: ``raise_exception_on_nonoptimal_result=False`` and
  ``load_solutions=False`` give the results object even without an optimality proof, and
  ``results.solution_loader.load_vars()`` loads the incumbent;
* ``pyo.SolverFactory("solverhub_balans")`` (legacy interface): the legacy wrapper does not raise
  on a non-optimal result and loads the incumbent.

Takes about 15 seconds (HiGHS proves the optimum in a few seconds; Balans runs to its limit).
"""

from __future__ import annotations

import argparse
import math
import random
import time

import pyomo.environ as pyo
from pyomo.contrib.solver.common.factory import SolverFactory

import solverhub  # noqa: F401  (registers the solverhub_* solvers in Pyomo)


def build_model(n_fac: int, n_cust: int, seed: int) -> pyo.ConcreteModel:
    rnd = random.Random(seed)
    fac = [(rnd.uniform(0, 100), rnd.uniform(0, 100)) for _ in range(n_fac)]
    cust = [(rnd.uniform(0, 100), rnd.uniform(0, 100)) for _ in range(n_cust)]
    demand = [rnd.randint(5, 35) for _ in range(n_cust)]
    total = sum(demand)
    # capacities: together about 2.5 x the demand, so roughly 40 % of the sites must open
    capacity = [round(rnd.uniform(1.5, 3.5) * total / n_fac) for _ in range(n_fac)]
    fixed = [round(rnd.uniform(300, 700) + 2 * c) for c in capacity]

    m = pyo.ConcreteModel("capacitated_facility_location")
    m.F = pyo.RangeSet(0, n_fac - 1)
    m.C = pyo.RangeSet(0, n_cust - 1)
    m.open = pyo.Var(m.F, domain=pyo.Binary)
    m.assign = pyo.Var(m.F, m.C, domain=pyo.Binary)

    def dist(i, j):
        return math.dist(fac[i], cust[j])

    m.serve = pyo.Constraint(m.C, rule=lambda m, j: sum(m.assign[i, j] for i in m.F) == 1)
    m.capacity = pyo.Constraint(m.F, rule=lambda m, i: sum(demand[j] * m.assign[i, j] for j in m.C)
                                <= capacity[i] * m.open[i])
    m.only_open = pyo.Constraint(m.F, m.C, rule=lambda m, i, j: m.assign[i, j] <= m.open[i])
    m.cost = pyo.Objective(expr=sum(fixed[i] * m.open[i] for i in m.F)
                           + sum(round(0.1 * demand[j] * dist(i, j), 2) * m.assign[i, j]
                                 for i in m.F for j in m.C))
    return m


def describe(m: pyo.ConcreteModel) -> str:
    opened = [i for i in m.F if pyo.value(m.open[i]) > 0.5]
    unserved = sum(1 for j in m.C if abs(sum(pyo.value(m.assign[i, j]) for i in m.F) - 1) > 1e-6)
    return f"cost {pyo.value(m.cost):.2f}, {len(opened)} open facilities {opened}, unserved {unserved}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--facilities", type=int, default=10)
    ap.add_argument("--customers", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--balans-time", type=float, default=6.0)
    args = ap.parse_args()
    build = lambda: build_model(args.facilities, args.customers, args.seed)  # noqa: E731

    # 1. exact: HiGHS through the legacy pyomo.environ.SolverFactory
    m = build()
    t = time.perf_counter()
    res = pyo.SolverFactory("solverhub_highs").solve(m, timelimit=30)
    print(f"solverhub_highs  (legacy): {res.solver.termination_condition}, "
          f"{time.perf_counter() - t:.1f} s; {describe(m)}")
    print(f"    bounds: lower {res.problem.lower_bound:.2f}  upper {res.problem.upper_bound:.2f}")
    best = pyo.value(m.cost)

    # 2. heuristic: Balans through the new interface, time-limited
    m = build()
    t = time.perf_counter()
    opt = SolverFactory("solverhub_balans")
    res = opt.solve(m, time_limit=args.balans_time, seed=args.seed,
                    raise_exception_on_nonoptimal_result=False, load_solutions=False)
    print(f"solverhub_balans (new):    {res.termination_condition.name} / "
          f"{res.solution_status.name}, {time.perf_counter() - t:.1f} s, incumbent "
          f"{res.incumbent_objective}, bound {res.objective_bound}")
    if res.solution_loader.get_number_of_solutions():
        res.solution_loader.load_vars()
        gap = abs(pyo.value(m.cost) - best) / max(abs(best), 1e-9)
        print(f"    loaded: {describe(m)}; gap to HiGHS {100 * gap:.3f} %")

    # 3. Balans through the legacy interface (no exception on a time limit; loads the incumbent)
    m = build()
    t = time.perf_counter()
    res = pyo.SolverFactory("solverhub_balans").solve(m, timelimit=args.balans_time / 2)
    print(f"solverhub_balans (legacy): {res.solver.termination_condition}, "
          f"{time.perf_counter() - t:.1f} s; {describe(m)}")


if __name__ == "__main__":
    main()
