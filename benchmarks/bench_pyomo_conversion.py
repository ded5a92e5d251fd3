"""Pyomo model -> solver: our conversion against Pyomo's own HiGHS interface, same model.

    python benchmarks/bench_pyomo_conversion.py                 # 20,000 vars, 1,000,000 nonzeros
    python benchmarks/bench_pyomo_conversion.py --vars 2000 --rows 100 --row-nnz 200 --repeats 3

The model: ``--vars`` variables (75 % binary, 15 % bounded general integer, 10 % continuous),
``--rows`` constraints with ``--row-nnz`` random nonzeros each (70 % ``<=``, 20 % ranges,
10 % ``>=``), a dense objective with a constant. It is built once; every repeat converts it anew.

What is timed (each repeat on the same model, fresh solver objects; median of ``--repeats``):

* ``solverhub: pyomo_to_mip`` -- :func:`solverhub.plugins.pyomo.convert.pyomo_to_mip`, the
  whole conversion to a ``MIPProblem`` (Pyomo's standard-form compiler + our NumPy post-processing:
  range merge, CSR, bounds, integrality, names), with its split into the compiler
  (``LinearStandardFormCompiler.write``) and the rest, timed inside the same call;
* ``solverhub: to HiGHS`` -- the above plus handing the matrix to a ``highspy.Highs`` object
  (``passModel``), i.e. everything ``SolverFactory("solverhub_highs")`` does before HiGHS starts;
* ``Pyomo highs: set_instance`` -- Pyomo's new-interface persistent HiGHS solver
  (``pyomo.contrib.solver`` "highs") on a fresh solver object: ``solve(model, time_limit=1e-3)``
  with a ``HierarchicalTimer``; its ``set_instance`` entry is the model-loading step (walking the
  model and building the ``highspy`` model) and excludes HiGHS's own work (``optimize``).

Prints a table and the ratio Pyomo-highs / ours (> 1: ours faster).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time


def build_model(n: int, m: int, k: int, seed: int):
    import numpy as np
    import pyomo.environ as pyo

    rng = np.random.default_rng(seed)
    model = pyo.ConcreteModel("bench")
    nb, ni = int(0.75 * n), int(0.15 * n)
    model.B = pyo.RangeSet(0, nb - 1)
    model.I = pyo.RangeSet(0, ni - 1)
    model.C = pyo.RangeSet(0, n - nb - ni - 1)
    model.xb = pyo.Var(model.B, domain=pyo.Binary)
    model.xi = pyo.Var(model.I, domain=pyo.NonNegativeIntegers, bounds=(0, 10))
    model.xc = pyo.Var(model.C, domain=pyo.Reals, bounds=(-5, 5))
    allvars = [model.xb[i] for i in model.B] + [model.xi[i] for i in model.I] \
        + [model.xc[i] for i in model.C]
    cols = [rng.choice(n, size=k, replace=False) for _ in range(m)]
    coefs = rng.integers(1, 100, size=(m, k))
    kinds = rng.random(m)

    def rule(mdl, r):
        body = pyo.quicksum(int(a) * allvars[j] for a, j in zip(coefs[r], cols[r]))
        cap = float(coefs[r].sum()) / 4
        if kinds[r] < 0.7:
            return body <= cap
        if kinds[r] < 0.9:
            return pyo.inequality(cap / 10, body, cap)
        return body >= cap / 10

    model.rows = pyo.Constraint(pyo.RangeSet(0, m - 1), rule=rule)
    obj = rng.integers(1, 50, size=n)
    model.obj = pyo.Objective(expr=pyo.quicksum(int(obj[j]) * allvars[j] for j in range(n)) + 7,
                              sense=pyo.maximize)
    return model


def time_ours(model) -> dict:
    from solverhub.plugins.pyomo.convert import pyomo_to_mip

    t1 = time.perf_counter()
    prob = pyomo_to_mip(model)
    t2 = time.perf_counter()
    from solverhub.plugins.mipfiles._highs import new_highs
    from solverhub.plugins.mipfiles.io import to_highs_lp

    h = new_highs()
    h.passModel(to_highs_lp(prob))
    t3 = time.perf_counter()
    return {"compiler": prob.conversion_times["compile"], "post": prob.conversion_times["post"],
            "convert": t2 - t1, "to_highs": t3 - t1,
            "shape": (prob.m, prob.n, prob.A.nnz)}


def time_pyomo_highs(model) -> dict:
    from pyomo.common.timing import HierarchicalTimer
    from pyomo.contrib.solver.common.factory import SolverFactory

    timer = HierarchicalTimer()
    opt = SolverFactory("highs", threads=1)
    t0 = time.perf_counter()
    opt.solve(model, timer=timer, time_limit=1e-3, load_solutions=False,
              raise_exception_on_nonoptimal_result=False)
    total = time.perf_counter() - t0
    return {"set_instance": timer.get_total_time("set_instance"), "solve_call": total}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vars", type=int, default=20000)
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--row-nnz", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = ap.parse_args(argv)

    t = time.perf_counter()
    model = build_model(args.vars, args.rows, args.row_nnz, args.seed)
    build = time.perf_counter() - t

    ours, theirs = [], []
    for _ in range(args.repeats):  # interleaved, so machine load hits both alike
        ours.append(time_ours(model))
        theirs.append(time_pyomo_highs(model))
    med = {
        "compiler": statistics.median(r["compiler"] for r in ours),
        "post_processing": statistics.median(r["post"] for r in ours),
        "convert": statistics.median(r["convert"] for r in ours),
        "to_highs": statistics.median(r["to_highs"] for r in ours),
        "pyomo_set_instance": statistics.median(r["set_instance"] for r in theirs),
        "pyomo_solve_call": statistics.median(r["solve_call"] for r in theirs),
    }
    rows, cols, nnz = ours[0]["shape"]
    out = {
        "model": {"vars": cols, "rows": rows, "nonzeros": nnz, "build_s": build},
        "repeats": args.repeats,
        "median_s": med,
        "ratio_set_instance_over_convert": med["pyomo_set_instance"] / med["convert"],
        "ratio_set_instance_over_to_highs": med["pyomo_set_instance"] / med["to_highs"],
        "python": sys.version.split()[0],
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"model: {cols} vars, {rows} rows, {nnz} nonzeros (built in {build:.1f} s); "
          f"median of {args.repeats} repeats")
    print(f"{'step':48s} {'median s':>9s}")
    for label, key in [("solverhub: pyomo_to_mip (compiler + post-processing)", "convert"),
                       ("solverhub:   of which Pyomo's standard-form compiler", "compiler"),
                       ("solverhub:   of which our NumPy post-processing", "post_processing"),
                       ("solverhub: pyomo_to_mip + passModel into highspy", "to_highs"),
                       ("Pyomo highs: set_instance (model loading)", "pyomo_set_instance"),
                       ("Pyomo highs: whole solve() call, time_limit=1e-3", "pyomo_solve_call")]:
        print(f"{label:52s} {med[key]:9.3f}")
    print(f"ratio Pyomo-highs set_instance / our pyomo_to_mip:        "
          f"{out['ratio_set_instance_over_convert']:.2f}x")
    print(f"ratio Pyomo-highs set_instance / our conversion + passModel: "
          f"{out['ratio_set_instance_over_to_highs']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
