"""LP objective and bound of every MIP solver, against HiGHS run directly (a Netlib-style check).

    python benchmarks/bench_lp_bounds.py                       # hand-written LPs + 12 MIPLIB relaxations
    python benchmarks/bench_lp_bounds.py --miplib ''           # hand-written LPs only
    python benchmarks/bench_lp_bounds.py --solvers highs balans --instances p0033 dsbmip

Netlib itself cannot be downloaded here, so the set is what Netlib exercises:

* the hand-written LPs of ``tests/data/lp`` (RANGES on E/L/G rows with both signs, an objective
  constant in the RHS of the objective row, free rows, every bound type, OBJSENSE MAX, an
  infeasible and an unbounded LP, a negative UP bound alone);
* the LP relaxations of real MIPLIB 3 instances (the ``.mps.gz`` read and its integrality dropped;
  dsbmip and mod011 have ranged rows).

Every registered solver of problem kind ``mip`` solves each LP through ``solverhub.solve``; a solver
that refuses continuous columns (ortools-sat) is listed once as refusing. The reference is HiGHS
alone: ``highspy.Highs().readModel(path)`` (integrality dropped), ``run()``, its
``objective_function_value``, and its dual objective worked out from its basis and duals
(row duals times the active row bounds, plus reduced costs times the active column bounds, plus
the offset; highspy's ``getDualObjectiveValue`` does not return the value). Columns:

* ``obj rel diff``: |objective - HiGHS objective| / max(1, |HiGHS objective|);
* ``bound - obj``: (bound - objective) / max(1, |objective|), 0 at a proved LP optimum (the MIP dual
  bound that was reported before was 0 on every LP);
* ``HiGHS dual - primal``: the same for HiGHS's own dual objective.

Prints a markdown table (and ``--json FILE`` writes the rows).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
LP_DIR = REPO / "tests" / "data" / "lp"
MIPLIB_DIR = REPO.parent / "shared" / "data" / "miplib3"
#: relaxations of a dozen MIPLIB 3 instances: small to mid-size, dsbmip and mod011 with ranges
MIPLIB_DEFAULT = ["10teams", "air04", "bell5", "dcmulti", "dsbmip", "egout", "fiber", "gesa2",
                  "khb05250", "mod011", "qiu", "vpm2"]
_STATUS = {"kOptimal": "optimal", "kInfeasible": "infeasible", "kUnbounded": "unbounded"}


def direct_highs(path: Path) -> dict[str, Any]:
    """HiGHS alone on ``path`` with integrality dropped: status, objective, dual objective, time."""
    import highspy

    h = highspy.Highs()
    h.silent()
    h.setOptionValue("threads", 1)
    if h.readModel(str(path)) == highspy.HighsStatus.kError:
        return {"status": "read error"}
    lp = h.getLp()
    if len(lp.integrality_):
        lp.integrality_ = []
        h.passModel(lp)
    t0 = time.perf_counter()
    h.run()
    runtime = time.perf_counter() - t0
    status = _STATUS.get(h.getModelStatus().name, h.getModelStatus().name)
    out: dict[str, Any] = {"status": status, "time": runtime, "rows": lp.num_row_,
                           "cols": lp.num_col_}
    if status == "optimal":
        out["objective"] = float(h.getInfo().objective_function_value)
        out["dual"] = basis_dual_objective(h)
    h.clear()
    return out


def basis_dual_objective(h: Any) -> float | None:
    """offset + sum of duals times the bounds their basis status says are active (HiGHS's duals
    carry the sign of the model's sense, so this is the dual objective for min and max alike)."""
    basis, sol, lp = h.getBasis(), h.getSolution(), h.getLp()
    if not (basis.valid and sol.dual_valid):
        return None

    def part(status, duals, lower, upper) -> float:
        total = 0.0
        for st, d, lo, up in zip(status, duals, lower, upper):
            name = st.name
            if name == "kLower":
                total += d * lo
            elif name == "kUpper":
                total += d * up
        return total

    return (float(lp.offset_) + part(basis.col_status, sol.col_dual, lp.col_lower_, lp.col_upper_)
            + part(basis.row_status, sol.row_dual, lp.row_lower_, lp.row_upper_))


def relaxed(path: Path):
    import solverhub as sh

    p = sh.load_problem(path)
    p.integrality = np.zeros(p.n, dtype=bool)
    return p


def rel(a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return None
    return (a - b) / max(1.0, abs(b))


def fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if v == 0.0:
            return "0"
        return f"{v:.3g}" if abs(v) < 1e-3 else f"{v:.10g}"
    return str(v)


def lp_solvers(wanted: list[str] | None) -> list[str]:
    from solverhub.core.manager import get_plugin_manager

    names = sorted(n for n, s in get_plugin_manager().solvers().items() if s.problem_kind == "mip")
    return [n for n in names if wanted is None or n in wanted]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--miplib", default=str(MIPLIB_DIR), help="MIPLIB 3 folder ('' for none)")
    ap.add_argument("--instances", nargs="*", default=MIPLIB_DEFAULT)
    ap.add_argument("--solvers", nargs="*", default=None, help="default: every MIP solver")
    ap.add_argument("--time-limit", type=float, default=120.0)
    ap.add_argument("--json", default=None, help="also write the rows to this file")
    args = ap.parse_args(argv)

    import solverhub as sh
    from solverhub.core.errors import BadInputError

    lps: list[tuple[str, Path, Any]] = [(p.stem, p, p) for p in sorted(LP_DIR.glob("*.mps"))]
    if args.miplib:
        folder = Path(args.miplib)
        if not folder.is_dir():
            print(f"(no MIPLIB folder {folder}: hand-written LPs only)", file=sys.stderr)
        else:
            for name in args.instances:
                path = folder / f"{name}.mps.gz"
                lps.append((f"{name} (LP)", path, relaxed(path)))
    solvers = lp_solvers(args.solvers)
    rows: list[dict[str, Any]] = []
    refused: dict[str, str] = {}
    worst = {"obj": 0.0, "bound": 0.0}
    for label, path, target in lps:
        try:
            sh.load_problem(target)
        except BadInputError as exc:  # a file solverhub's strict reader refuses is not solved
            print(f"{label}: refused by the reader: {exc}", file=sys.stderr)
            continue
        ref = direct_highs(path)
        for solver in solvers:
            if solver in refused:
                continue
            try:
                res = sh.solve(target, solver=solver, time_limit=args.time_limit)
            except BadInputError as exc:
                msg = str(exc)
                refused[solver] = "continuous columns" if "continuous" in msg else msg[:120]
                continue
            d = rel(res.objective, ref.get("objective"))
            row = {"lp": label, "size": f"{ref.get('rows')}x{ref.get('cols')}", "solver": solver,
                   "status": res.status.value, "highs_status": ref["status"],
                   "objective": res.objective, "highs_objective": ref.get("objective"),
                   "obj_rel_diff": None if d is None else abs(d), "bound": res.bound,
                   "bound_minus_obj": rel(res.bound, res.objective),
                   "highs_dual_minus_primal": rel(ref.get("dual"), ref.get("objective")),
                   "time": res.runtime, "highs_time": ref.get("time")}
            rows.append(row)
            if row["obj_rel_diff"] is not None:
                worst["obj"] = max(worst["obj"], row["obj_rel_diff"])
            if row["bound_minus_obj"] is not None:
                worst["bound"] = max(worst["bound"], abs(row["bound_minus_obj"]))
    cols = [("LP", "lp"), ("rows x cols", "size"), ("solver", "solver"), ("status", "status"),
            ("HiGHS status", "highs_status"), ("objective", "objective"),
            ("HiGHS objective", "highs_objective"), ("obj rel diff", "obj_rel_diff"),
            ("bound", "bound"), ("bound - obj", "bound_minus_obj"),
            ("HiGHS dual - primal", "highs_dual_minus_primal"), ("time s", "time")]
    print("| " + " | ".join(c for c, _ in cols) + " |")
    print("|" + "|".join("---" for _ in cols) + "|")
    for r in rows:
        vals = [fmt(round(r[k], 2) if k == "time" and r[k] is not None else r[k]) for _, k in cols]
        print("| " + " | ".join(vals) + " |")
    mismatched = [r for r in rows if r["status"] != r["highs_status"]]
    print()
    for solver, why in refused.items():
        print(f"- {solver}: refuses LPs ({why})")
    print(f"- {len(rows)} solves; status differs from HiGHS's on {len(mismatched)}; largest "
          f"objective difference {worst['obj']:.2g}; largest |bound - objective| {worst['bound']:.2g}"
          " (relative)")
    if args.json:
        Path(args.json).write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return 0 if not mismatched and worst["obj"] <= 1e-7 and worst["bound"] <= 1e-7 else 1


if __name__ == "__main__":
    sys.exit(main())
