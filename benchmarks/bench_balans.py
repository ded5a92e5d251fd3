"""Balans benchmark on MIPLIB 3 (the issue's benchmark; docs/balans.md, docs/benchmarks.md "## Balans").

Hard mode (default): the 15 hard instances of ../shared/data/miplib3/README.md, a 30 s budget, one
thread per solver, two runs in parallel (a process pool of 2, one solve per process), 3 seeds for the
randomised solvers. Solvers:

    balans         solverhub balans, default options
    balans_miplib  solverhub balans, the paper's MIPLIB config (thompson, scores [1, 1, 0, 0])
    highs          solverhub "highs" (HiGHS alone)
    scip           pyscipopt, 1 thread; incumbent trajectory from a BESTSOLFOUND event handler
    balans_ref     the reference PyPI balans==2.2.0 (SCIP backend, default config)

Each run records the primal gap at the budget, the primal integral over [0, budget] normalised by
the budget (solverhub.core.result.primal_gap / primal_integral against miplib3.solu) and the real
wall time measured outside the solver. Raw results are appended to
benchmarks/results/balans_hard.jsonl as each run ends (--resume skips runs already there).

Easy mode (--easy): the easy set, balans vs highs, total wall time ratio (target <= 1.5x).

    python benchmarks/bench_balans.py                       # full hard benchmark (~35 min, 2 cores)
    python benchmarks/bench_balans.py --instances pk1,qiu --seeds 1 --budget 10
    python benchmarks/bench_balans.py --easy --budget 60
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import math
import multiprocessing as mp
import os
import re
import sys
import time
import traceback
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MIPLIB = REPO.parent / "shared" / "data" / "miplib3"
RESULTS = REPO / "benchmarks" / "results"
DOCS = REPO / "docs" / "benchmarks.md"

HARD = ["air04", "arki001", "danoint", "fast0507", "harp2", "markshare1", "mas74", "misc07", "mkc",
        "mod011", "noswot", "pk1", "qiu", "seymour", "stein45"]
RANDOMISED = {"balans", "balans_miplib", "balans_ref"}
ALL_SOLVERS = ["balans", "balans_miplib", "highs", "scip", "balans_ref"]
DEFAULT_SOLVERS = ["balans", "highs", "scip", "balans_ref"]

PAPER_ARMS = ["crossover", "mutation_25", "mutation_50", "mutation_75", "local_branching_10",
              "local_branching_25", "local_branching_50", "proximity_0.005", "proximity_0.015",
              "proximity_0.030", "rens_25", "rens_50", "rens_75", "rins_25", "rins_50", "rins_75"]
SOLVERHUB_OPTIONS = {
    "balans": {},
    "balans_miplib": {"destroy": PAPER_ARMS, "policy": "thompson", "scores": [1, 1, 0, 0],
                      "acceptance": "hill_climbing"},
    "highs": {},
}


# ------------------------------------------------------------------ instance data
def read_solu() -> dict[str, float]:
    table = {}
    for line in (MIPLIB / "miplib3.solu").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] in ("=opt=", "=best="):
            table[parts[1]] = float(parts[2])
    return table


def easy_set() -> list[str]:
    text = (MIPLIB / "README.md").read_text()
    m = re.search(r"\*\*easy\*\*[^:]*:(.*?)- \*\*hard\*\*", text, re.S)
    return m.group(1).split() if m else []


# ------------------------------------------------------------------ one run (in a worker process)
def _quiet_stdout() -> None:
    """The reference balans prints; keep the benchmark's stdout for the tables."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)


def _run_solverhub(name: str, path: str, seed: int, budget: float) -> dict[str, Any]:
    import solverhub as sh

    kind = "highs" if name == "highs" else "balans"
    res = sh.solve(path, solver=kind, time_limit=budget, seed=seed, options=SOLVERHUB_OPTIONS[name])
    out = {"status": str(res.status), "objective": res.objective,
           "trajectory": [[float(t), float(v)] for t, v in res.trajectory], "error": res.error}
    if kind == "balans":
        out["iterations"] = res.iterations
        out["time_initial"] = res.info.get("time_initial")
        out["arms"] = {a["name"]: [a["pulls"], a["best"]] for a in res.info.get("arms", [])}
    return out


def _run_scip(path: str, seed: int, budget: float) -> dict[str, Any]:
    import pyscipopt as scip

    traj: list[list[float]] = []
    t0 = time.perf_counter()

    class BestSol(scip.Eventhdlr):
        def eventinit(self):
            self.model.catchEvent(scip.SCIP_EVENTTYPE.BESTSOLFOUND, self)

        def eventexit(self):
            self.model.dropEvent(scip.SCIP_EVENTTYPE.BESTSOLFOUND, self)

        def eventexec(self, event):
            traj.append([time.perf_counter() - t0, float(self.model.getSolObjVal(self.model.getBestSol()))])

    m = scip.Model()
    m.hideOutput()
    m.readProblem(path)
    m.setParam("limits/time", float(budget))
    m.setParam("parallel/maxnthreads", 1)
    m.setParam("lp/threads", 1)
    m.setParam("randomization/randomseedshift", int(seed))
    m.includeEventhdlr(BestSol(), "bestsol", "records improving solutions")
    t0 = time.perf_counter()
    m.optimize()
    obj = float(m.getObjVal()) if m.getNSols() > 0 else None
    return {"status": str(m.getStatus()), "objective": obj, "trajectory": traj, "error": None}


def _run_reference(path: str, seed: int, budget: float) -> dict[str, Any]:
    import numpy as np
    from alns.stop import MaxRuntime
    from balans.solver import Balans

    t0 = time.perf_counter()
    solver = Balans(seed=int(seed) if seed > 0 else 1, n_mip_jobs=1, mip_solver="scip",
                    stop=MaxRuntime(budget))
    result = solver.solve(path)
    wall = time.perf_counter() - t0
    objs = list(result.statistics.objectives)
    runs = list(np.cumsum(result.statistics.runtimes))
    # iteration end times: the iterations' runtimes end at the wall time; before them, the initial phase
    start = wall - (runs[-1] if runs else 0.0)
    traj, best = [], math.inf
    for k, v in enumerate(objs):
        t = start + (runs[k - 1] if k > 0 and k - 1 < len(runs) else 0.0)
        if v < best - 1e-9:
            best = v
            traj.append([float(t), float(v)])
    obj = float(result.best_state.objective())
    return {"status": "feasible", "objective": obj, "trajectory": traj, "error": None,
            "iterations": len(objs)}


def _preload(name: str) -> None:
    try:
        if name in SOLVERHUB_OPTIONS:
            import solverhub  # noqa: F401  (loads every plugin)
            solverhub.get_plugin_manager()
        elif name == "scip":
            import pyscipopt  # noqa: F401
        elif name == "balans_ref":
            import alns.stop  # noqa: F401
            import balans.solver  # noqa: F401
    except ImportError:  # reported by the run itself
        pass


def run_one(task: dict[str, Any]) -> dict[str, Any]:
    name, inst, seed, budget = task["solver"], task["instance"], task["seed"], task["budget"]
    path = str(MIPLIB / f"{inst}.mps.gz")
    if name == "balans_ref":
        _quiet_stdout()
    _preload(name)  # imports are not part of a solver's wall time; reading the instance is
    t0 = time.perf_counter()
    try:
        if name in SOLVERHUB_OPTIONS:
            out = _run_solverhub(name, path, seed, budget)
        elif name == "scip":
            out = _run_scip(path, seed, budget)
        elif name == "balans_ref":
            out = _run_reference(path, seed, budget)
        else:
            raise ValueError(f"unknown solver {name!r}")
    except Exception as exc:
        out = {"status": "error", "objective": None, "trajectory": [],
               "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-2000:]}
    out["wall"] = time.perf_counter() - t0
    return {**task, **out}


# ------------------------------------------------------------------ metrics
def add_metrics(rec: dict[str, Any], ref: float | None) -> dict[str, Any]:
    from solverhub.core.result import primal_gap, primal_integral

    budget = rec["budget"]
    traj = [(t, v) for t, v in rec.get("trajectory") or []]
    if rec.get("objective") is not None and not traj:
        traj = [(rec["wall"], rec["objective"])]
    at_budget = None
    for t, v in sorted(traj):
        if t <= budget + 1e-6:
            at_budget = v
    if ref is None:
        rec["gap"] = rec["pi"] = None
        return rec
    rec["gap"] = primal_gap(at_budget, ref)
    rec["gap_final"] = primal_gap(rec.get("objective"), ref)
    rec["pi"] = primal_integral(traj, ref, budget)
    return rec


# ------------------------------------------------------------------ tables
def _mean(xs: list[float]) -> float:
    xs = [x for x in xs if x is not None and not (isinstance(x, float) and math.isnan(x))]
    return sum(xs) / len(xs) if xs else float("nan")


def table(records: list[dict[str, Any]], instances: list[str], solvers: list[str], budget: float) -> str:
    by: dict[tuple[str, str], list[dict]] = {}
    for r in records:
        if r["budget"] == budget:
            by.setdefault((r["instance"], r["solver"]), []).append(r)
    head = "| instance | " + " | ".join(f"{s} gap / PI / wall" for s in solvers) + " |"
    lines = [head, "|---|" + "---|" * len(solvers)]
    for inst in instances:
        cells = []
        for s in solvers:
            rs = by.get((inst, s), [])
            if not rs:
                cells.append("-")
                continue
            cells.append(f"{_mean([r['gap'] for r in rs]):.4f} / {_mean([r['pi'] for r in rs]):.3f} / "
                         f"{_mean([r['wall'] for r in rs]):.0f}s" + (f" (n={len(rs)})" if len(rs) > 1 else ""))
        lines.append(f"| {inst} | " + " | ".join(cells) + " |")
    agg = []
    for s in solvers:
        per_inst = [by[(i, s)] for i in instances if (i, s) in by]
        agg.append(f"{_mean([_mean([r['gap'] for r in rs]) for rs in per_inst]):.4f} / "
                   f"{_mean([_mean([r['pi'] for r in rs]) for rs in per_inst]):.3f} / "
                   f"{_mean([_mean([r['wall'] for r in rs]) for rs in per_inst]):.1f}s"
                   f" ({len(per_inst)} inst.)")
    lines.append("| **mean** | " + " | ".join(agg) + " |")
    return "\n".join(lines)


def write_docs_section(body: str, title: str = "Balans") -> None:
    """Replace the ``## <title>`` section of docs/benchmarks.md (create the file or section if
    needed); other sections, "## Balans: ..." ones included, are left alone."""
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    section = f"## {title}\n\n" + body.strip() + "\n"
    m = re.search(rf"^## {re.escape(title)}[ \t]*\n.*?(?=^## |\Z)", text, re.S | re.M)
    if m:
        text = text[:m.start()] + section + ("\n" if text[m.end():] else "") + text[m.end():]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOCS.write_text(text)


# ------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--instances", default=None, help="comma list (default: the hard or easy set)")
    ap.add_argument("--seeds", default="1,2,3", help="seeds of the randomised solvers (comma list)")
    ap.add_argument("--budget", type=float, default=None, help="seconds per run (30 hard, 60 easy)")
    ap.add_argument("--solvers", default=None, help=f"comma list of {ALL_SOLVERS}")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--resume", action="store_true", help="skip runs already in the results file")
    ap.add_argument("--easy", action="store_true", help="easy set: balans vs highs wall-time ratio")
    ap.add_argument("--results", default=None, help="JSONL results file")
    ap.add_argument("--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md")
    args = ap.parse_args(argv)

    if not MIPLIB.exists():
        print(f"MIPLIB 3 data not found at {MIPLIB}", file=sys.stderr)
        return 2
    budget = args.budget or (60.0 if args.easy else 30.0)
    instances = args.instances.split(",") if args.instances else (easy_set() if args.easy else HARD)
    solvers = args.solvers.split(",") if args.solvers else (["balans", "highs"] if args.easy
                                                            else DEFAULT_SOLVERS)
    for s in solvers:
        if s not in ALL_SOLVERS:
            ap.error(f"unknown solver {s!r}; known: {ALL_SOLVERS}")
    seeds = [int(s) for s in args.seeds.split(",")]
    out = Path(args.results) if args.results else RESULTS / ("balans_easy.jsonl" if args.easy
                                                             else "balans_hard.jsonl")
    out.parent.mkdir(parents=True, exist_ok=True)
    solu = read_solu()

    done: list[dict] = []
    if out.exists():
        done = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    done_keys = {(r["instance"], r["solver"], r["seed"], r["budget"]) for r in done}
    tasks = []
    for inst in instances:
        for s in solvers:
            for seed in (seeds if s in RANDOMISED else seeds[:1]):
                key = (inst, s, seed, budget)
                if args.resume and key in done_keys:
                    continue
                tasks.append({"instance": inst, "solver": s, "seed": seed, "budget": budget})
    print(f"{len(tasks)} runs, budget {budget:g}s, {args.workers} workers -> {out}", file=sys.stderr)

    new: list[dict] = []
    ctx = mp.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=args.workers, mp_context=ctx,
                                max_tasks_per_child=1) as pool:
        futs = {pool.submit(run_one, t): t for t in tasks}
        for fut in cf.as_completed(futs):
            t = futs[fut]
            try:
                rec = fut.result()
            except Exception as exc:  # a crashed worker process
                rec = {**t, "status": "error", "objective": None, "trajectory": [], "wall": float("nan"),
                       "error": f"worker died: {exc}"}
            rec = add_metrics(rec, solu.get(rec["instance"]))
            with out.open("a") as fh:
                fh.write(json.dumps(rec) + "\n")
                fh.flush()
            new.append(rec)
            print(f"  {rec['instance']:>10} {rec['solver']:>13} seed {rec['seed']}: obj {rec['objective']} "
                  f"gap {rec['gap']} PI {rec['pi']} wall {rec['wall']:.1f}s"
                  + (f" ERROR {rec['error']}" if rec.get("error") else ""), file=sys.stderr)

    keep = {(r["instance"], r["solver"], r["seed"], r["budget"]): r for r in done + new}
    records = [r for r in keep.values() if r["instance"] in instances and r["solver"] in solvers]
    body = [f"{'Easy' if args.easy else 'Hard'} MIPLIB 3 set, {budget:g} s budget, 1 thread per solver, "
            f"{args.workers} runs in parallel, seeds {seeds} for randomised solvers. Cells: primal gap at "
            f"the budget / primal integral normalised by the budget / real wall time (mean over seeds, "
            f"measured outside the solver from the solve call: reading the instance included, Python "
            f"imports excluded; max {max((r['wall'] for r in records), default=0.0):.2f} s). Produced by "
            f"`python benchmarks/bench_balans.py{' --easy' if args.easy else ''} --budget {budget:g} "
            f"--seeds {','.join(map(str, seeds))} --workers {args.workers}` "
            f"({time.strftime('%Y-%m-%d')}).", "", table(records, instances, solvers, budget)]
    if args.easy and {"balans", "highs"} <= set(solvers):
        wb = sum(r["wall"] for r in records if r["solver"] == "balans") / max(len(seeds), 1)
        wh = sum(r["wall"] for r in records if r["solver"] == "highs")
        body += ["", f"Total wall time: balans {wb:.1f} s (per seed), highs {wh:.1f} s, ratio "
                     f"{wb / wh if wh else float('nan'):.2f}x (target <= 1.5x)."]
    text = "\n".join(body)
    print(text)
    if not args.no_docs:
        write_docs_section(text, "Balans: easy set" if args.easy else "Balans: hard set")
    return 0


if __name__ == "__main__":
    sys.exit(main())
