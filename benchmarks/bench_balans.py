"""Balans benchmark on MIPLIB 3 and generated families (issues 8 and 12; docs/balans.md, docs/benchmarks.md).

Hard mode (default): the 15 hard instances of ../shared/data/miplib3/README.md and five generated
instances at sizes HiGHS does not finish in 30 s (GENERATED), a 30 s budget, one thread per solver,
two runs in parallel (a process pool of 2, one solve per process), seeds 0-2 for the randomised
solvers. Solvers:

    balans         solverhub balans, default options
    balans_miplib  solverhub balans, the paper's MIPLIB config (thompson, scores [1, 1, 0, 0])
    balans_scip    solverhub balans, sub-MIPs by HiGHS or SCIP (OR-Tools), chosen by a bandit
    balans_portfolio  solverhub balans with the backend portfolio HiGHS + SCIP (PySCIPOpt): the
                   first phase raced on one thread, sub-MIPs and "continue" on either (issue 21)
    balans_portfolio0  the same with race_share=0: the race ends at the first turn that finds an
                   incumbent (HiGHS's, when it finds one within its first slice)
    highs          solverhub "highs" (HiGHS alone), with the same seeds as Balans
    scip           pyscipopt, 1 thread; incumbent trajectory from a BESTSOLFOUND event handler
    balans_ref     the reference PyPI balans==2.2.0 (SCIP backend, default config)

Tuning / validation split (issue 12), fixed before any tuning: the instances are sorted by
sha256("balans-split-2026:" + name) and the first half (rounded up) is the tuning half, the rest the
validation half (`split_of`, printed by --list-split). Defaults may only be tuned on the tuning half
(--split tuning); they are kept only when they win on the validation half.

Each run records the primal gap at the budget, the primal integral over [0, budget] normalised by
the budget (solverhub.core.result.primal_gap / primal_integral) and the real wall time measured
outside the solver from the solve call (reading the instance included, imports excluded). The
reference value is the optimum or best known value of miplib3.solu; for a generated instance, the
best objective any run in the results file reached (so its gaps are relative to the best found).
Raw results go to benchmarks/results/balans_hard.jsonl as each run ends (--resume skips runs already
there). Generated instances are written once as MPS to benchmarks/results/instances/ so that every
solver (pyscipopt included) reads the same file.

Easy mode (--easy): the easy set, balans against HiGHS and SCIP, balans's total wall time over the
faster peer's (issue 21 target <= 1.5x).

    python benchmarks/bench_balans.py                     # full hard benchmark (2 runs at a time)
    python benchmarks/bench_balans.py --workers 1         # one at a time: the issue-12 tables (63 min)
    python benchmarks/bench_balans.py --split validation  # the validation half only (about 22 min)
    python benchmarks/bench_balans.py --instances pk1,qiu --seeds 0 --budget 10 --no-docs
    python benchmarks/bench_balans.py --easy --budget 60
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import hashlib
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
#: generated instances at sizes HiGHS does not finish in 30 s (the "hard" sizes of Gasse et al. 2019,
#: and a 1000 x 80,000 set cover like the issue's 87,000-column set-partitioning model)
GENERATED = {
    "gen-sc-80k": "generate:set_cover?rows=1000&cols=80000&density=0.01&seed=1",
    "gen-sc-2000": "generate:set_cover?rows=2000&cols=1000&density=0.05&seed=1",
    "gen-ca-300": "generate:combinatorial_auction?n_items=300&n_bids=1500&seed=1",
    "gen-fl-400": "generate:facility_location?n_customers=400&n_facilities=100&seed=1",
    "gen-is-1500": "generate:independent_set?n_nodes=1500&affinity=4&seed=1",
}
#: issue 21: a separate set (outside the tuning/validation split, never tuned on) of generated
#: instances where HiGHS alone is late to a first solution (single-sourcing capacitated facility
#: location: binary assignments, capacity 1.3x the demand). In a probe on the loaded machine
#: gen-cflss-300's first HiGHS solution came at about 29.5 s of 30; in the seeds 0-2 runs at
#: 18-25 s on both (docs/benchmarks.md): late, not none. --split nofirst runs them
NOFIRST = {
    "gen-cflss-400": "generate:facility_location?n_customers=400&n_facilities=80&ratio=1.3"
                     "&binary_assignment=true&seed=4",
    "gen-cflss-300": "generate:facility_location?n_customers=300&n_facilities=80&ratio=1.3"
                     "&binary_assignment=true&seed=3",
}
#: issue 21's "six MIPLIB 3 instances that no benchmark of the project uses": the issue does not name
#: them, and its largest (nw04, 87,482 columns) is not in ../shared/data/miplib3. Stand-in: the six
#: largest (by columns) of the instances in that folder that no benchmark or test names (easy-set
#: members, run here with Balans's defaults, never tuned on). --split unseen runs them
UNSEEN = ["air03", "mitre", "rentacar", "cap6000", "p2756", "mod010"]
SPLIT_SALT = "balans-split-2026:"
#: run with every seed: Balans, HiGHS (its random_seed) and SCIP (randomization/randomseedshift;
#: issue 21); Balans's first solve is HiGHS with the run's seed, and HiGHS's own seed-to-seed
#: spread is large, air04: first incumbent at 12-24 s)
RANDOMISED = {"balans", "balans_miplib", "balans_scip", "balans_portfolio", "balans_portfolio0",
              "balans_ref", "highs", "scip"}
ALL_SOLVERS = ["balans", "balans_miplib", "balans_scip", "balans_portfolio", "balans_portfolio0",
               "highs", "scip", "balans_ref"]
DEFAULT_SOLVERS = ["balans", "highs", "scip"]
INSTANCES = RESULTS / "instances"

PAPER_ARMS = ["crossover", "mutation_25", "mutation_50", "mutation_75", "local_branching_10",
              "local_branching_25", "local_branching_50", "proximity_0.005", "proximity_0.015",
              "proximity_0.030", "rens_25", "rens_50", "rens_75", "rins_25", "rins_50", "rins_75"]
SOLVERHUB_OPTIONS = {
    "balans": {},
    "balans_miplib": {"destroy": PAPER_ARMS, "policy": "thompson", "scores": [1, 1, 0, 0],
                      "acceptance": "hill_climbing"},
    "balans_scip": {"sub_backends": ["highs", "ortools-scip"]},
    "balans_portfolio": {"portfolio": ["highs", "scip"]},
    "balans_portfolio0": {"portfolio": ["highs", "scip"], "race_share": 0.0},
    # HiGHS as it is, the peer the issue names (its own late answers included)
    "highs": {"deadline_guard": False},
}
#: extra option sets for tuning runs on the tuning half: --solvers balans+NAME (see --variants)
VARIANTS: dict[str, dict[str, Any]] = {
    "paper16": {"destroy": PAPER_ARMS},
    "scip_sub": {"sub_backends": ["highs", "ortools-scip"]},
    "nodes500": {"sub_node_limit": 500},
    "presolve_off": {"backend_options": {"highs": {"presolve": "off"}}},
    "nostall": {"initial_stall": None},
    "share08": {"initial_share": 0.8, "initial_stall": None},
    # issue 21 tuning (tuning half only): an earlier end of the first phase, shorter sub-MIPs
    "early": {"initial_min_share": 0.1, "initial_stall": 0.1},
    "sub05": {"sub_time_limit": 1.5},
    # the arms that found new bests on the tuning half's default run (mkc, qiu), with continue
    "arms7": {"destroy": ["crossover", "mutation_25", "mutation_50", "mutation_75", "rins_50",
                          "rins_75", "continue"]},
    "auto": {"first_backend": "auto"},
    "highsfirst": {"first_backend": None},  # before issue 21's learnt first phase
    # diagnosis (issue 21): HiGHS's feasibility jump in the first solve without Balans's guard
    "fjon": {"backend_options": {"highs": {"fj_seconds_per_nnz": None}}},
    # issue 21 (this session): a presolve-free probe for a first solution before the first solve
    "probe": {"first_probe": True},
    # issue 21 (fifth round): the bandit alone decides when a first solve cut while improving
    # is resumed (the default before resume_improving)
    "noresume": {"resume_improving": False},
    # issue 21 (fifth round): the defaults before this round (no resume_improving, the first
    # level's whole reward per second)
    "r5": {"resume_improving": False, "gain_per_second": False},
}


def split_of(name: str) -> str:
    """'tuning' or 'validation': fixed by a salted hash of the name, before any tuning."""
    if name in NOFIRST:
        return "nofirst"
    if name in UNSEEN:
        return "unseen"
    order = sorted(HARD + list(GENERATED),
                   key=lambda n: hashlib.sha256((SPLIT_SALT + n).encode()).hexdigest())
    if name not in order:
        return "tuning"  # an instance outside the benchmark set (a --instances extra)
    return "tuning" if order.index(name) < (len(order) + 1) // 2 else "validation"


def instance_path(name: str) -> str:
    """The file every solver reads: MIPLIB's, or a generated instance written once as MPS."""
    if name in GENERATED or name in NOFIRST:
        path = INSTANCES / f"{name}.mps.gz"
        if not path.exists():
            import solverhub as sh
            from solverhub.plugins.mipfiles.io import write_mps

            INSTANCES.mkdir(parents=True, exist_ok=True)
            tmp = INSTANCES / f".{name}.{os.getpid()}.mps.gz"
            write_mps(sh.load_problem({**GENERATED, **NOFIRST}[name]), tmp)
            os.replace(tmp, path)
        return str(path)
    return str(MIPLIB / f"{name}.mps.gz")


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


def solverhub_options(name: str) -> dict[str, Any] | None:
    if name in SOLVERHUB_OPTIONS:
        return SOLVERHUB_OPTIONS[name]
    if name.startswith("balans+") and name[len("balans+"):] in VARIANTS:
        return VARIANTS[name[len("balans+"):]]
    return None


def _run_solverhub(name: str, path: str, seed: int, budget: float) -> dict[str, Any]:
    import solverhub as sh

    kind = "highs" if name == "highs" else "balans"
    res = sh.solve(path, solver=kind, time_limit=budget, seed=seed, options=solverhub_options(name))
    out = {"status": str(res.status), "objective": res.objective,
           "trajectory": [[float(t), float(v)] for t, v in res.trajectory], "error": res.error}
    if kind == "balans":
        out["iterations"] = res.iterations
        out["time_initial"] = res.info.get("time_initial")
        out["arms"] = {a["name"]: [a["pulls"], a["best"]] for a in res.info.get("arms", [])}
        out["sub_backends"] = res.info.get("sub_backends")
        out["continue_pulls"] = res.info.get("continue_pulls")
        out["initial_extended"] = res.info.get("initial_extended")
        out["runtime"] = res.runtime
        out["max_overrun"] = res.info.get("max_overrun")
        out["time_lp"] = res.info.get("time_lp")
        out["solver_budget"] = res.info.get("budget")  # what the host left after reading
        out["backends_skipped"] = res.info.get("backends_skipped")
        out["first_backend"] = res.info.get("first_backend")  # the learnt first phase's choice
        out["stopped_for_setup"] = res.info.get("stopped_for_setup")
        # seconds the held search got at the end where no set-up fitted (instead of stopping)
        out["final_continue"] = res.info.get("final_continue")
        out["time_to_first"] = res.info.get("time_to_first")
        # the first solve was cut at its cap while improving, and the first pull resumed it
        out["initial_cut_improving"] = res.info.get("initial_cut_improving")
        out["resumed_first"] = res.info.get("resumed_first")
        out["first_probe"] = res.info.get("first_probe")
        pf = res.info.get("portfolio")
        if pf:  # what the portfolio chose: the race's winner, its turns, the sub-MIP backends
            out["portfolio"] = {"first": pf.get("first"), "race_seconds": pf.get("race_seconds"),
                                "first_found": pf.get("first_found"), "turns": pf.get("turns")}
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
        if solverhub_options(name) is not None:
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
    path = task.get("path") or str(MIPLIB / f"{inst}.mps.gz")
    if name == "balans_ref":
        _quiet_stdout()
    _preload(name)  # imports are not part of a solver's wall time; reading the instance is
    t0 = time.perf_counter()
    try:
        if solverhub_options(name) is not None:
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


def references(records: list[dict[str, Any]], solu: dict[str, float]) -> dict[str, float]:
    """miplib3.solu's value, else (generated instances) the best objective of any run on it."""
    refs = dict(solu)
    for name in [*GENERATED, *NOFIRST]:
        objs = [r["objective"] for r in records if r["instance"] == name
                and r.get("objective") is not None and r.get("status") != "error"]
        if objs:
            refs[name] = (max if GENERATED_SENSE[name] < 0 else min)(objs)
    return refs


#: objective sense of the generated families (auction and independent set maximise)
GENERATED_SENSE = {"gen-sc-80k": 1, "gen-sc-2000": 1, "gen-ca-300": -1, "gen-fl-400": 1,
                   "gen-cflss-300": 1, "gen-cflss-400": 1,
                   "gen-is-1500": -1}


# ------------------------------------------------------------------ tables
def _mean(xs: list[float]) -> float:
    xs = [x for x in xs if x is not None and not (isinstance(x, float) and math.isnan(x))]
    return sum(xs) / len(xs) if xs else float("nan")


def _group(records: list[dict[str, Any]], budget: float) -> dict[tuple[str, str], list[dict]]:
    by: dict[tuple[str, str], list[dict]] = {}
    for r in records:
        if r["budget"] == budget:
            by.setdefault((r["instance"], r["solver"]), []).append(r)
    for rs in by.values():
        rs.sort(key=lambda r: r["seed"])
    return by


def _cell(rs: list[dict]) -> str:
    return (f"{_mean([r['gap'] for r in rs]):.4f} / {_mean([r['pi'] for r in rs]):.3f} / "
            f"{_mean([r['wall'] for r in rs]):.1f}s" + (f" (n={len(rs)})" if len(rs) > 1 else ""))


def table(records: list[dict[str, Any]], instances: list[str], solvers: list[str], budget: float) -> str:
    """Per instance (mean over seeds) and the mean over instances."""
    by = _group(records, budget)
    head = "| instance | " + " | ".join(f"{s} gap / PI / wall" for s in solvers) + " |"
    lines = [head, "|---|" + "---|" * len(solvers)]
    for inst in instances:
        cells = [_cell(by[(inst, s)]) if (inst, s) in by else "-" for s in solvers]
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


def seed_table(records: list[dict[str, Any]], instances: list[str], solvers: list[str],
               budget: float) -> str:
    """One row per instance and seed: every run of a randomised solver; a deterministic solver's
    one run is shown on each row of its instance."""
    by = _group(records, budget)
    lines = ["| instance | seed | " + " | ".join(f"{s} gap / PI / wall" for s in solvers) + " |",
             "|---|---|" + "---|" * len(solvers)]
    for inst in instances:
        seeds = sorted({r["seed"] for s in solvers for r in by.get((inst, s), [])
                        if s in RANDOMISED or s.startswith("balans+")})
        for seed in seeds or [None]:
            cells = []
            for s in solvers:
                rs = by.get((inst, s), [])
                if s in RANDOMISED or s.startswith("balans+"):
                    rs = [r for r in rs if r["seed"] == seed]
                cells.append(f"{rs[0]['gap']:.4f} / {rs[0]['pi']:.3f} / {rs[0]['wall']:.1f}s"
                             if rs and rs[0].get("gap") is not None else "-")
            lines.append(f"| {inst} | {seed if seed is not None else '-'} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def portfolio_table(records: list[dict[str, Any]], instances: list[str]) -> str:
    """What the portfolio chose per run: the race's winner (first solve), the race's turns, the
    sub-MIP pulls (new bests) per backend and the backends skipped for their predicted build."""
    rows = ["| instance | solver | seed | first solve | race turns (backend:seconds, * = had an "
            "incumbent) | sub-MIP pulls (new bests) | skipped (predicted build s) |",
            "|---|---|---|---|---|---|---|"]
    for inst in instances:
        for r in sorted((r for r in records if r["instance"] == inst and r.get("portfolio")),
                        key=lambda r: (r["solver"], r["seed"])):
            pf = r["portfolio"]
            turns = " ".join(f"{t[0]}:{t[2]:.1f}{'*' if t[4] else ''}" for t in pf.get("turns") or [])
            subs = ", ".join(f"{b} {v[0]} ({v[1]})" for b, v in (r.get("sub_backends") or {}).items())
            skipped = ", ".join(f"{b} {v:.1f}" for b, v in (r.get("backends_skipped") or {}).items())
            rows.append(f"| {inst} | {r['solver']} | {r['seed']} | {pf.get('first')} | {turns} | "
                        f"{subs or '-'} | {skipped or '-'} |")
    return "\n".join(rows)


def choice_table(records: list[dict[str, Any]], instances: list[str], solvers: list[str]) -> str:
    """What Balans chose per run (issue 21): the first solve's backend, its first incumbent and
    phase length, iterations, continue pulls, sub-MIP pulls (new bests) per backend."""
    rows = ["| instance | solver | seed | first backend | first incumbent s | first phase s | "
            "cut while improving (first pull resumed it) | iterations | continue pulls (new bests) "
            "| sub-MIP pulls (new bests) | stopped for set-up (or final continue s) |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for inst in instances:
        for r in sorted((r for r in records if r["instance"] == inst and r["solver"] in solvers
                         and r["solver"].startswith("balans") and "first_backend" in r),
                        key=lambda r: (r["solver"], r["seed"])):
            def f(x: Any) -> str:
                return "-" if x is None else f"{x:.1f}"
            subs = ", ".join(f"{b} {v[0]} ({v[1]})" for b, v in (r.get("sub_backends") or {}).items())
            end = r.get("stopped_for_setup") or (
                f"final {r['final_continue']:.1f}" if r.get("final_continue") else "-")
            pulls = r.get("continue_pulls") or []
            cont = f"{len(pulls)} ({sum(p[4] == 'best' for p in pulls)})"
            cut = r.get("initial_cut_improving")
            cut_s = "-" if cut is None else ("yes" if cut else "no") + (
                " (yes)" if r.get("resumed_first") else "")
            rows.append(f"| {inst} | {r['solver']} | {r['seed']} | {r.get('first_backend')} | "
                        f"{f(r.get('time_to_first'))} | {f(r.get('time_initial'))} | {cut_s} | "
                        f"{r.get('iterations', '-')} | {cont} | {subs or '-'} | {end} |")
    return "\n".join(rows)


def target_checks(records: list[dict[str, Any]], halves: dict[str, list[str]], budget: float,
                  overhead: float = 0.0) -> list[str]:
    """The issue's targets, one line each: met / NOT met with the numbers."""
    by = _group(records, budget)
    out = []
    if not any(s == "balans" for _, s in by):
        return ["(no balans runs: no target checks)"]
    worse = []
    compared = 0
    for insts in halves.values():
        for i in insts:
            peers = {s: _mean([r["pi"] for r in by[(i, s)]]) for s in ("highs", "scip")
                     if (i, s) in by}
            if (i, "balans") in by and peers:
                compared += 1
                pb = _mean([r["pi"] for r in by[(i, "balans")]])
                best_peer = min(peers, key=lambda s: peers[s])
                if not pb <= peers[best_peer] + 0.05:
                    worse.append(f"{i} ({pb:.3f} vs {best_peer} {peers[best_peer]:.3f})")
    out.append("- balans PI <= the best single backend's (HiGHS, SCIP) PI + 0.05 on every "
               "instance: " + ("no HiGHS or SCIP runs to compare with" if not compared
                               else "met" if not worse else "NOT met: " + ", ".join(worse)))
    for half in ("validation", "unseen", "nofirst"):
        val = halves.get(half, [])
        if not val:
            continue

        def means(s: str, val: list[str] = val) -> tuple[float, float]:
            rs = [by[(i, s)] for i in val if (i, s) in by]
            return (_mean([_mean([r["pi"] for r in x]) for x in rs]),
                    _mean([_mean([r["gap"] for r in x]) for x in rs]))
        bpi, bgap = means("balans")
        peers = {s: means(s) for s in ("highs", "scip") if any((i, s) in by for i in val)}
        if peers:
            best_pi = min(v[0] for v in peers.values())
            best_gap = min(v[1] for v in peers.values())
            out.append(f"- {half} mean PI {bpi:.3f} below the best peer's {best_pi:.3f}: "
                       + ("met" if bpi < best_pi else "NOT met"))
            out.append(f"- {half} mean gap {bgap:.4f} below the best peer's {best_gap:.4f}: "
                       + ("met" if bgap < best_gap else "NOT met"))
    for peer in ("highs", "scip"):
        pw = [r["wall"] for (i, s), rs in by.items() if s == peer for r in rs]
        if pw:
            out.append(f"- (for comparison) {peer} longest wall {max(pw):.2f} s over {len(pw)} runs, "
                       f"{sum(w > budget + 1 for w in pw)} over budget + 1 s")
    walls = [(r["wall"], r["instance"], r["seed"]) for (i, s), rs in by.items() if s == "balans" for r in rs]
    over1 = [f"{i} seed {sd}: {w:.2f}s" for w, i, sd in sorted(walls, reverse=True) if w > budget + 1]
    out.append(f"- balans wall <= budget + 1 s ({budget + 1:g} s) on every run: "
               + ("met" if not over1 else "NOT met: " + ", ".join(over1)))
    limit = 1.01 * budget + overhead
    over = [f"{i} seed {sd}: {w:.2f}s" for w, i, sd in sorted(walls, reverse=True) if w > limit]
    out.append(f"- balans wall <= {limit:.2f} s (1 % of {budget:g} s"
               + (f" + {overhead:g} s" if overhead else "") + f") on every run (max "
               f"{max((w for w, _, _ in walls), default=float('nan')):.2f} s over {len(walls)} runs): "
               + ("met" if not over else "NOT met: " + ", ".join(over)))
    return out


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
    ap.add_argument("--instances", default=None,
                    help="comma list (default: the hard set and the generated instances, or the easy set)")
    ap.add_argument("--split", choices=["tuning", "validation", "nofirst", "unseen", "all"], default="all",
                    help="which half of the hard set (fixed by split_of) to run, or the separate "
                         "set where HiGHS finds no first solution (NOFIRST)")
    ap.add_argument("--list-split", action="store_true", help="print the two halves and exit")
    ap.add_argument("--seeds", default="0,1,2", help="seeds of the randomised solvers (comma list)")
    ap.add_argument("--budget", type=float, default=None, help="seconds per run (30 hard, 60 easy)")
    ap.add_argument("--solvers", default=None,
                    help=f"comma list of {ALL_SOLVERS} or balans+VARIANT ({', '.join(VARIANTS)})")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--resume", action="store_true", help="skip runs already in the results file")
    ap.add_argument("--easy", action="store_true",
                    help="easy set: balans vs the faster of highs and scip, wall-time ratio")
    ap.add_argument("--results", default=None, help="JSONL results file")
    ap.add_argument("--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md")
    args = ap.parse_args(argv)

    everything = HARD + list(GENERATED)
    if args.list_split:
        for half in ("tuning", "validation"):
            print(f"{half}: {', '.join(n for n in everything if split_of(n) == half)}")
        return 0
    if not MIPLIB.exists():
        print(f"MIPLIB 3 data not found at {MIPLIB}", file=sys.stderr)
        return 2
    budget = args.budget or (60.0 if args.easy else 30.0)
    instances = args.instances.split(",") if args.instances else (easy_set() if args.easy else everything)
    if not args.easy and args.split == "nofirst" and not args.instances:
        instances = list(NOFIRST)
    elif not args.easy and args.split == "unseen" and not args.instances:
        instances = list(UNSEEN)
    elif not args.easy and args.split != "all":
        instances = [i for i in instances if split_of(i) == args.split]
    solvers = args.solvers.split(",") if args.solvers else DEFAULT_SOLVERS
    for s in solvers:
        if s not in ALL_SOLVERS and solverhub_options(s) is None:
            ap.error(f"unknown solver {s!r}; known: {ALL_SOLVERS} and balans+{{{','.join(VARIANTS)}}}")
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
        path = instance_path(inst)  # generated instances are written here, once, before timing
        for s in solvers:
            for seed in (seeds if s in RANDOMISED or s.startswith("balans+") else seeds[:1]):
                key = (inst, s, seed, budget)
                if args.resume and key in done_keys:
                    continue
                tasks.append({"instance": inst, "solver": s, "seed": seed, "budget": budget,
                              "path": path, "split": split_of(inst)})
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
            print(f"  {rec['instance']:>12} {rec['solver']:>13} seed {rec['seed']}: obj {rec['objective']} "
                  f"gap {rec['gap']} PI {rec['pi']} wall {rec['wall']:.1f}s"
                  + (f" ERROR {rec['error']}" if rec.get("error") else ""), file=sys.stderr)

    keep = {(r["instance"], r["solver"], r["seed"], r["budget"]): r for r in done + new}
    records = [r for r in keep.values() if r["instance"] in instances and r["solver"] in solvers]
    refs = references(list(keep.values()), solu)
    records = [add_metrics(r, refs.get(r["instance"])) for r in records]
    cmd = (f"python benchmarks/bench_balans.py{' --easy' if args.easy else ''} --budget {budget:g} "
           f"--seeds {','.join(map(str, seeds))} --workers {args.workers}"
           + (f" --split {args.split}" if args.split != "all" and not args.easy else "")
           + (f" --instances {args.instances}" if args.instances else "")
           + (f" --solvers {args.solvers}" if args.solvers else ""))
    body = [(f"{'Easy MIPLIB 3 set' if args.easy else 'Hard MIPLIB 3 set and generated instances'}, "
            f"{budget:g} s budget, 1 thread per solver, {args.workers} runs in parallel, seeds {seeds} for "
            f"randomised solvers. Cells: primal gap at the budget / primal integral normalised by the "
            f"budget / real wall time (measured outside the solver from the solve call: reading the "
            f"instance included, Python imports excluded; max "
            f"{max((r['wall'] for r in records), default=0.0):.2f} s). Generated instances: gap against "
            f"the best objective any run reached. Produced by `{cmd}` ({time.strftime('%Y-%m-%d')}).")]
    halves = {"all": instances} if args.easy else {
        h: [i for i in instances if split_of(i) == h] for h in ("tuning", "validation", "nofirst", "unseen")}
    for half, insts in halves.items():
        if not insts:
            continue
        if not args.easy:
            body += ["", f"### {half.capitalize()} half"]
        body += ["", table(records, insts, solvers, budget)]
        if not args.easy and any(s in RANDOMISED or s.startswith("balans+") for s in solvers):
            body += ["", "Every seed:", "", seed_table(records, insts, solvers, budget)]
        if not args.easy and any("first_backend" in r for r in records if r["instance"] in insts):
            body += ["", "What Balans chose:", "", choice_table(records, insts, solvers)]
        if any(r.get("portfolio") for r in records if r["instance"] in insts):
            body += ["", "What the portfolio chose:", "", portfolio_table(records, insts)]
    if args.easy and "balans" in solvers and {"highs", "scip"} & set(solvers):
        # issue 21: total time within 1.5x of the faster of HiGHS and SCIP (per seed)
        totals = {s: sum(r["wall"] for r in records if r["solver"] == s) / max(len(seeds), 1)
                  for s in ("balans", "highs", "scip") if s in solvers}
        peer = min((s for s in totals if s != "balans"), key=lambda s: totals[s])
        ratio = totals["balans"] / totals[peer] if totals[peer] else float("nan")
        body += ["", ("Total wall time per seed: " + ", ".join(f"{s} {v:.1f} s" for s, v in totals.items())
                      + f"; balans / the faster peer ({peer}) {ratio:.2f}x (target <= 1.5x: "
                      + ("met" if ratio <= 1.5 else "NOT met") + ").")]
    elif not args.easy:
        body += ["", "Target checks:", ""] + target_checks(records, halves, budget)
    text = "\n".join(body)
    print(text)
    if not args.no_docs:
        write_docs_section(text, "Balans: easy set" if args.easy else "Balans: hard set")
    return 0


if __name__ == "__main__":
    sys.exit(main())
