"""Issue 24 benchmark: online tuning of omega across linear-system sequences (Khodak, Chow,
Balcan, Talwalkar, ICLR 2024), reduced sizes, and the SOR sweep against SciPy and NumPy.

    nice -n 10 python benchmarks/bench_tune.py            # all parts (a few minutes on 2 cores)
    nice -n 10 python benchmarks/bench_tune.py --quick    # smaller sequences, 10^4..10^5 sweeps
    nice -n 10 python benchmarks/bench_tune.py --bound 200   # losses = min(1, iterations / 200)

Sequences: cost = iterations to relative residual 1e-8 (SOR sweeps, SSOR-CG steps). The full
cost table (every omega of the grid on every instance) is computed once by brute force, as the
paper does for its baselines; iteration counts are deterministic, so each tuner's run over the
sequence is replayed from the table (several tuner seeds). Baselines: omega = 1 (Gauss-Seidel /
symmetric Gauss-Seidel), the best fixed omega in hindsight, the instance-optimal omega.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from solverhub.core.tuning import ParameterSpace
from solverhub.plugins.linear_system import kernels
from solverhub.plugins.linear_system.generators import heat, shifted_poisson
from solverhub.plugins.linear_system.solvers import SSORCG
from solverhub.plugins.tuners.bandits import UCB1, ChebCB, Exp3, TsallisINF

OUT = Path(__file__).parent / "results"
CAP = 2000


def sor_iterations(p, omega):
    x = np.zeros(p.n) if p.x0 is None else p.x0.copy()
    nb = float(np.linalg.norm(p.b))
    sweeps, rn = kernels.sor_solve(p.A, p.A.diagonal(), p.b, x, omega, CAP, p.tolerance * nb)
    return sweeps if rn <= p.tolerance * nb else CAP


def ssorcg_iterations(p, omega):
    res = SSORCG(omega=omega, max_iterations=CAP).solve(p)
    return res.iterations if str(res.status) == "optimal" else CAP


def cost_table(problems, arms, solve):
    return np.array([[solve(p, w) for w in arms] for p in problems], dtype=float)


def replay(tuner, table, contexts):
    total = 0.0
    arms = tuner.arms
    for t in range(table.shape[0]):
        w = tuner.choose(None if contexts is None else [contexts[t]])
        c = table[t, arms.index(w)]
        tuner.observe(c)
        total += c
    return total


def sequence_case(name, problems, solve, context_key, ctx_range, seeds, bound=CAP):
    space = ParameterSpace(name="omega", kind="interval", low=1.0, high=2.0, points=20)
    arms = space.arms()
    t0 = time.perf_counter()
    table = cost_table(problems, arms + [1.0], solve)
    brute = time.perf_counter() - t0
    default = table[:, -1].sum()
    table = table[:, :-1]
    best = table.sum(axis=0)
    inst = table.min(axis=1).sum()
    contexts = [p.context[context_key] for p in problems]
    lo, hi = ctx_range
    rows = {}
    for label, make, ctx in [
        ("tsallis-inf", lambda s: TsallisINF(space, cost_bound=bound, seed=s), None),
        ("chebcb", lambda s: ChebCB(space, cost_bound=bound, seed=s, context_low=lo,
                                    context_high=hi), contexts),
        ("exp3", lambda s: Exp3(space, cost_bound=bound, seed=s, horizon=len(problems)), None),
        ("ucb1", lambda s: UCB1(space, cost_bound=bound, seed=s), None),
    ]:
        totals = []
        t1 = time.perf_counter()
        for s in seeds:
            totals.append(replay(make(s), table, ctx))
        per_decision = (time.perf_counter() - t1) / (len(seeds) * len(problems))
        totals = np.array(totals)
        rows[label] = {"total_mean": float(totals.mean()), "total_std": float(totals.std()),
                       "ratio_best_fixed": float(totals.mean() / best.min()),
                       "ratio_instance_optimal": float(totals.mean() / inst),
                       "ratio_default": float(totals.mean() / default),
                       "seconds_per_decision": per_decision}
    return {"case": name, "instances": len(problems), "arms": len(arms),
            "default_omega1_total": float(default), "best_fixed_omega": arms[int(best.argmin())],
            "best_fixed_total": float(best.min()), "instance_optimal_total": float(inst),
            "brute_force_seconds": brute, "mean_solve_seconds": brute / table.size,
            "tuners": rows}


def sweep_timing(sizes, loop_max):
    import scipy.sparse as sp  # noqa: F401

    out = []
    for n_side in sizes:
        p = shifted_poisson(n=n_side, shift=0.1, seed=0)
        A, b, diag = p.A, p.b, p.A.diagonal()
        reps = max(1, int(2e6 // A.nnz))
        x = np.zeros(p.n)
        t0 = time.perf_counter()
        kernels.sor_solve(A, diag, b, x, 1.5, reps, 0.0)
        ours = (time.perf_counter() - t0) / reps
        x2 = np.zeros(p.n)
        r_reps = max(1, reps // 4)
        t0 = time.perf_counter()
        kernels.sor_solve_reference(A, diag, b, x2, 1.5, r_reps, 0.0)
        scipy_t = (time.perf_counter() - t0) / r_reps
        row = {"unknowns": p.n, "nnz": int(A.nnz), "compiled_s": ours, "scipy_s": scipy_t,
               "scipy_over_compiled": scipy_t / ours}
        if p.n <= loop_max:
            x3 = np.zeros(p.n)
            t0 = time.perf_counter()
            kernels.sor_sweep_numpy_loop(A, diag, b, x3, 1.5)
            b - A @ x3  # the residual the other two include
            row["numpy_loop_s"] = time.perf_counter() - t0
            row["numpy_loop_over_compiled"] = row["numpy_loop_s"] / ours
        out.append(row)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--bound", type=float, default=CAP,
                    help="the tuners' cost bound (losses = min(1, cost / bound)); default the cap")
    args = ap.parse_args()
    T = 200 if args.quick else 1000
    seeds = range(5)
    print(f"compiled kernel: {kernels.KERNEL_COMPILED}; tuners' cost bound {args.bound:g}")
    results = {"sequences": [], "sweeps": []}
    poisson = [shifted_poisson(n=32, seed=i, shift_low=0.0, shift_high=1.0) for i in range(T)]
    heat_seq = [heat(n=32, step=i) for i in range(T // 2)]
    courant = [p.context["courant"] for p in heat_seq]
    for name, probs, solve, key, rng in [
        ("SOR, shifted Poisson n=32 (1024 unknowns), c ~ U[0,1]", poisson, sor_iterations,
         "shift", (0.0, 1.0)),
        ("SSOR-CG, shifted Poisson n=32, c ~ U[0,1]", poisson, ssorcg_iterations, "shift",
         (0.0, 1.0)),
        ("SOR, heat equation n=32, backward Euler, nu(t) varying", heat_seq, sor_iterations,
         "courant", (min(courant), max(courant))),
    ]:
        r = sequence_case(name, probs, solve, key, rng, seeds, args.bound)
        results["sequences"].append(r)
        print(f"\n{name}: {r['instances']} instances, {r['arms']} omegas in [1, 2); "
              f"omega=1: {r['default_omega1_total']:.0f}, best fixed omega={r['best_fixed_omega']:.3f}: "
              f"{r['best_fixed_total']:.0f}, instance-optimal: {r['instance_optimal_total']:.0f} "
              f"(mean solve {r['mean_solve_seconds'] * 1e3:.2f} ms)")
        print("| tuner | total (mean of 5 seeds) | / best fixed | / instance-optimal | / omega=1 | "
              "ms per decision |")
        print("|---|---|---|---|---|---|")
        for label, row in r["tuners"].items():
            print(f"| {label} | {row['total_mean']:.0f} ± {row['total_std']:.0f} | "
                  f"{row['ratio_best_fixed']:.3f} | {row['ratio_instance_optimal']:.3f} | "
                  f"{row['ratio_default']:.3f} | {row['seconds_per_decision'] * 1e3:.3f} |")
    sizes = (100, 316) if args.quick else (100, 316, 1000)
    results["sweeps"] = sweep_timing(sizes, loop_max=10**5)
    print("\n| unknowns | compiled sweep+residual (ms) | SciPy triangular solve (ms) | SciPy / compiled "
          "| NumPy row loop (ms) | loop / compiled |")
    print("|---|---|---|---|---|---|")
    for r in results["sweeps"]:
        loop = (f"{r['numpy_loop_s'] * 1e3:.1f} | {r['numpy_loop_over_compiled']:.0f}"
                if "numpy_loop_s" in r else "not run | -")
        print(f"| {r['unknowns']:,} | {r['compiled_s'] * 1e3:.3f} | {r['scipy_s'] * 1e3:.3f} | "
              f"{r['scipy_over_compiled']:.1f} | {loop} |")
    OUT.mkdir(exist_ok=True)
    (OUT / f"bench_tune_bound{args.bound:g}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
