"""The report's cost: summary.csv, solvers.csv, report.md, the PNG plots and report.html of a run
folder of N tasks (target: under 5 s for 1,000 tasks), phase by phase.

    python benchmarks/bench_report.py                       # 1,000 synthetic tasks
    python benchmarks/bench_report.py --tasks 1000 --repeat 3 --profile /tmp/report.prof
    python benchmarks/bench_report.py --folder runs/portfolio   # an existing run folder
    PYTHONPATH=/path/to/other/checkout python benchmarks/bench_report.py   # another version

The synthetic folder imitates what ``solverhub run`` writes (same record fields), with 80 % of the
tasks on MIP instances (4 solvers x 5 seeds each; half the instances with a known optimum, half
measured against the best value found; incumbent trajectories of 1 to 40 improvements; one solver
that reports only its final answer; 2 % errors) and 20 % on an equality-constrained NLP kind
(``nlp-eq``: 2 solvers x 5 seeds; iteration histories of the objective and the KKT residual
spanning up to 10 decades, no trajectory). It is written to a temporary folder (or ``--out``) and
the report is written into it by :func:`solverhub.core.report.write_outputs`, exactly as
``solverhub run`` does at its end and ``solverhub report DIR`` does standalone. The best of
``--repeat`` runs is printed per phase (the machine may be shared).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import math
import pstats
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

MIP_SOLVERS = ("balans", "highs", "scip", "cpsat")
NLP_SOLVERS = ("exact-al", "ipopt")


def _mip_record(rng: np.random.Generator, inst: int, solver: str, seed: int,
                ref: float, known: bool) -> dict:
    tl = 60.0
    address = f"generate:set_cover?rows=500&cols=1000&seed={inst}"
    rec = {"instance": address, "instance_name": f"set_cover-{inst}", "solver": solver,
           "kind": solver, "seed": seed, "time_limit": tl, "options": {"backend": "highs"},
           "problem_kind": "mip", "sense": 1, "reference": ref if known else None,
           "host": "vm", "cpu": "AMD EPYC", "cpu_count": 2, "python": "3.11.7",
           "versions": {"solverhub": "0.1.0", "highspy": "1.16.0"}, "pid": 1000 + seed}
    if rng.random() < 0.02:
        rec.update(status="error", objective=None, bound=None, runtime=float(rng.uniform(0, 2)),
                   iterations=0, primal_integral=None, trajectory=[],
                   error="synthetic failure: the backend refused the model", info={},
                   metrics={}, history={})
        return rec
    n = int(rng.integers(1, 40))
    times = np.sort(rng.uniform(0.01, tl, n))
    # incumbents falling geometrically to within 0-5 % of the optimum
    final = ref * (1 + (0 if rng.random() < 0.4 else rng.uniform(0, 0.05)))
    start = ref * (1 + rng.uniform(0.2, 3.0))
    objs = final + (start - final) * np.geomspace(1, 1e-3, n) * (np.arange(n) < n - 1)
    traj = [[float(t), float(v)] for t, v in zip(times, objs)]
    if solver == "scip":  # like OR-Tools' SCIP: no incumbent times, only the final answer
        traj = []
    optimal = final == ref and rng.random() < 0.5
    runtime = float(times[-1] + rng.uniform(0, 1)) if optimal else tl
    it = int(rng.integers(5, 200))
    k = np.arange(0, it, max(1, it // 50))
    rec.update(status="optimal" if optimal else "time_limit", objective=float(objs[-1]),
               bound=float(ref * (1 - rng.uniform(0, 0.05))), runtime=runtime, iterations=it,
               primal_integral=None, trajectory=traj, error=None,
               info={"time_to_first": float(times[0])},
               metrics={"primal_gap": abs(objs[-1] - ref) / max(abs(objs[-1]), abs(ref)),
                        "gap": float(rng.uniform(0, 0.05))},
               history={"iteration": k.tolist(), "time": np.linspace(0, runtime, len(k)).tolist(),
                        "objective": np.interp(k, np.linspace(0, it, n), objs).tolist()})
    return rec


def _nlp_record(rng: np.random.Generator, inst: int, solver: str, seed: int,
                f_star: float) -> dict:
    it = int(rng.integers(10, 300))
    k = np.arange(0, it, max(1, it // 60))
    decades = rng.uniform(2, 10)
    kkt = np.geomspace(10 ** rng.uniform(-1, 2), 10 ** -decades, len(k))
    obj = f_star + np.abs(rng.normal(0, 10)) * np.geomspace(1, 10 ** -decades, len(k))
    status = "optimal" if rng.random() < 0.8 else "iteration_limit"
    return {"instance": f"s2mpj:HS{inst + 6}", "instance_name": f"HS{inst + 6}",
            "solver": solver, "kind": solver, "seed": seed, "time_limit": 30.0,
            "options": {}, "problem_kind": "nlp-eq", "sense": 1, "reference": f_star,
            "status": status, "objective": float(obj[-1]), "bound": None,
            "runtime": float(rng.uniform(0.05, 3)), "iterations": it, "primal_integral": None,
            "trajectory": [], "error": None, "info": {},
            "metrics": {"kkt_residual": float(kkt[-1]), "constraint_violation": float(kkt[-1] / 3),
                        "evaluations": float(it * 3),
                        "objective_error": abs(float(obj[-1]) - f_star) / max(1.0, abs(f_star))},
            "history": {"iteration": k.tolist(), "time": np.linspace(0, 1, len(k)).tolist(),
                        "objective": obj.tolist(), "kkt_residual": kkt.tolist()},
            "host": "vm", "cpu": "AMD EPYC", "cpu_count": 2, "python": "3.11.7",
            "versions": {"solverhub": "0.1.0"}, "pid": 2000 + seed}


def synthetic_run(folder: str | Path, tasks: int = 1000, seed: int = 0) -> Path:
    """Write a run folder of ``tasks`` synthetic result records (results.jsonl and config.toml)."""
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    n_mip = int(round(0.8 * tasks))
    seeds = range(5)
    recs = []
    inst = 0
    while len(recs) < n_mip:
        ref = float(rng.uniform(100, 10000))
        known = inst % 2 == 0
        for s in MIP_SOLVERS:
            for sd in seeds:
                if len(recs) < n_mip:
                    recs.append(_mip_record(rng, inst, s, sd, ref, known))
        inst += 1
    inst = 0
    while len(recs) < tasks:
        f_star = float(rng.normal(0, 100))
        for s in NLP_SOLVERS:
            for sd in seeds:
                if len(recs) < tasks:
                    recs.append(_nlp_record(rng, inst, s, sd, f_star))
        inst += 1
    with open(folder / "results.jsonl", "w", encoding="utf-8") as f:
        for r in recs:
            f.write(json.dumps(r) + "\n")
    (folder / "config.toml").write_text(f'name = "synthetic-{tasks}"\ninstances = []\n',
                                        encoding="utf-8")
    return folder


def _phases(folder: Path) -> dict[str, tuple[float, float]]:
    """(wall, CPU) seconds per phase of the report of ``folder``, in one process: loading, then
    write_outputs without the PNGs (summary.csv, solvers.csv, report.md, and report.html where the
    code writes one), then write_outputs as a run ends (everything, PNGs included)."""
    from solverhub.core.report import load_runs, write_outputs

    def clock() -> tuple[float, float]:
        return time.perf_counter(), time.process_time()

    c0 = clock()
    records, envs = load_runs([folder])
    c1 = clock()
    write_outputs(folder, records, plots=False, sources=[str(folder)], environments=envs)
    c2 = clock()
    write_outputs(folder, records, plots=True, sources=[str(folder)], environments=envs)
    c3 = clock()

    def span(a, b):
        return b[0] - a[0], b[1] - a[1]

    load, full = span(c0, c1), span(c2, c3)
    return {"load": load, "no PNGs": span(c1, c2), "everything": full,
            "load + everything": (load[0] + full[0], load[1] + full[1])}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--folder", help="an existing run folder (its report files are rewritten)")
    ap.add_argument("--out", help="where the synthetic folder goes (default: a temporary folder)")
    ap.add_argument("--profile", help="write a cProfile of one report to this file, print the top")
    args = ap.parse_args(argv)

    # imports (solverhub, matplotlib, plotly, the plugins) once, outside the timings: a run pays
    # them while its tasks run
    import solverhub.core.plotting  # noqa: F401
    from solverhub.core.manager import get_plugin_manager

    get_plugin_manager().problem_kinds()

    with tempfile.TemporaryDirectory() as tmp:
        if args.folder:
            folder = Path(args.folder)
        else:
            folder = synthetic_run(Path(args.out) if args.out else Path(tmp) / "run", args.tasks)
        n = sum(1 for line in open(folder / "results.jsonl", encoding="utf-8") if line.strip())
        best: dict[str, list[float]] = {}
        for _ in range(max(1, args.repeat)):
            for k, (wall, cpu) in _phases(folder).items():
                b = best.setdefault(k, [math.inf, math.inf])
                b[0], b[1] = min(b[0], wall), min(b[1], cpu)
        import solverhub

        print(f"{folder}: {n} tasks; solverhub from {Path(solverhub.__file__).parent.parent}; "
              f"best of {args.repeat} (seconds; CPU: this process's, less disturbed by other work):")
        print(f"  {'phase':24s} {'wall':>7s} {'CPU':>7s}")
        for k, (wall, cpu) in best.items():
            print(f"  {k:24s} {wall:7.2f} {cpu:7.2f}")
        print("files: " + ", ".join(sorted(p.name for p in folder.iterdir()
                                           if p.suffix in (".png", ".html", ".csv", ".md"))))
        if args.profile:
            from solverhub.core.report import load_runs, write_outputs

            records, envs = load_runs([folder])
            prof = cProfile.Profile()
            prof.enable()
            write_outputs(folder, records, sources=[str(folder)], environments=envs)
            prof.disable()
            prof.dump_stats(args.profile)
            pstats.Stats(args.profile).sort_stats("cumulative").print_stats(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
