"""Issue 24 benchmark: online tuning of omega across linear-system sequences (Khodak, Chow,
Balcan, Talwalkar, ICLR 2024), reduced sizes, and the SOR sweep against SciPy and NumPy.

    nice -n 10 python benchmarks/bench_tune.py            # all parts (a few minutes on 2 cores)
    nice -n 10 python benchmarks/bench_tune.py --quick    # smaller sequences, 10^4..10^5 sweeps
    nice -n 10 python benchmarks/bench_tune.py --bound 200   # losses = min(1, iterations / 200)
    nice -n 10 python benchmarks/bench_tune.py --part paper  # the paper's own setup only

Parts (``--part``, repeatable; default all): ``paper`` the paper's SOR experiments as set up in the
authors' public scripts (mkhodak/learning-to-relax, scripts/learning.m and contextual.m: a 10 x 10
Laplacian + c I, c = -0.15 + 0.6 Beta(0.5, 1.5) or Beta(2, 6), truncated Gaussian b, 1e-8, the
grid linspace(1, 1.95, 20), 5,000 instances, cap 10,000), ``sequences`` our larger sequences,
``sweeps`` the kernel timings, ``cross`` the three cross-kind studies: ``solverhub tune`` on
solvers_cfg/tune_mip_highs.toml, tune_exact_al_block.toml and tune_relu_rho.toml (each with a
held-back prefix choosing the tuner's settings; folders under benchmarks/results/, resumed when
there: delete one to rerun it).

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
from solverhub.plugins.linear_system.generators import heat, heat_cn, shifted_poisson
from solverhub.plugins.linear_system.solvers import SSORCG
from solverhub.plugins.tuners.bandits import UCB1, ChebCB, Exp3, TsallisINF

OUT = Path(__file__).parent / "results"
CAP = 2000


def sor_iterations(p, omega, cap=CAP):
    x = np.zeros(p.n) if p.x0 is None else p.x0.copy()
    nb = float(np.linalg.norm(p.b))
    sweeps, rn = kernels.sor_solve(p.A, p.A.diagonal(), p.b, x, omega, cap, p.tolerance * nb)
    return sweeps if rn <= p.tolerance * nb else cap


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


def sequence_case(name, problems, solve, context_key, ctx_range, seeds, bound=CAP, grid=None):
    space = ParameterSpace(name="omega", kind="interval", low=1.0, high=2.0, points=20) \
        if grid is None else ParameterSpace(name="omega", kind="grid", values=grid)
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
        ("tsallis-inf normalize=bound", lambda s: TsallisINF(space, cost_bound=bound, seed=s,
                                                             normalize="bound"), None),
        ("tsallis-inf normalize=mean", lambda s: TsallisINF(space, cost_bound=bound, seed=s,
                                                            normalize="mean"), None),
        ("chebcb variant=ridge", lambda s: ChebCB(space, cost_bound=bound, seed=s,
                                                  context_low=lo, context_high=hi, degree=4,
                                                  variant="ridge"), contexts),
        ("chebcb variant=paper", lambda s: ChebCB(space, cost_bound=bound, seed=s, context_low=lo,
                                                  context_high=hi, degree=5, variant="paper"),
         contexts),
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


PAPER_GRID = [float(w) for w in np.linspace(1.0, 1.95, 20)]  # the authors' omega grid
PAPER_CAP = 10_000  # their SOR iteration cap
PAPER_FIXED = (1.0, 1.2, 1.4, 1.6, 1.8)  # the fixed omegas of their learning.m figure


def omega_star(p):
    """Young's optimal omega 2 / (1 + sqrt(1 - rho_J^2)) of L + c I (5-point L, consistently
    ordered): rho_J = 4 cos(pi / (n + 1)) / (4 + c); the paper's instance-optimal comparator."""
    side = int(round(p.n ** 0.5))
    rho = 4 * np.cos(np.pi / (side + 1)) / (4 + p.context["shift"])
    return float(2 / (1 + np.sqrt(1 - rho**2)))


def paper_case(label, beta_ab, T, trials, bound):
    """One of the paper's SOR sequences: the full cost table by brute force, then each tuner
    replayed over it with ``trials`` seeds (the paper averages 40 trials of fresh sequences; we
    keep one sequence and vary the tuner's seed)."""
    from solverhub.plugins.tuners.bandits import ChebCB, TsallisINF

    a, b = beta_ab
    problems = [shifted_poisson(n=10, shift_dist="beta", beta_a=a, beta_b=b, shift_low=-0.15,
                                shift_high=0.45, rhs="truncated", seed=i) for i in range(T)]
    t0 = time.perf_counter()
    grid = np.array([[sor_iterations(p, w, PAPER_CAP) for w in PAPER_GRID] for p in problems],
                    dtype=float)
    fixed = {w: float(sum(sor_iterations(p, w, PAPER_CAP) for p in problems)) for w in PAPER_FIXED}
    star = float(sum(sor_iterations(p, omega_star(p), PAPER_CAP) for p in problems))
    brute = time.perf_counter() - t0
    best_col = int(grid.sum(axis=0).argmin())
    best_fixed = float(grid[:, best_col].sum())
    inst_grid = float(grid.min(axis=1).sum())
    contexts = [p.context["shift"] for p in problems]
    space = ParameterSpace(name="omega", kind="grid", values=PAPER_GRID)
    makers = {
        "tsallis-inf (paper scale: running mean)":
            (lambda s: TsallisINF(space, cost_bound=PAPER_CAP, seed=s, normalize="mean"), None),
        f"tsallis-inf (bound {bound:g})":
            (lambda s: TsallisINF(space, cost_bound=bound, seed=s, normalize="bound"), None),
        "chebcb (paper variant, degree 5)":
            (lambda s: ChebCB(space, cost_bound=PAPER_CAP, seed=s, context_low=-0.15,
                              context_high=0.45, degree=5, variant="paper"), contexts),
        f"chebcb (ridge, bound {bound:g})":
            (lambda s: ChebCB(space, cost_bound=bound, seed=s, context_low=-0.15,
                              context_high=0.45, degree=4, variant="ridge"), contexts),
    }
    rows = {}
    mean_curves = {}
    for name, (make, ctx) in makers.items():
        totals, curves = [], []
        t1 = time.perf_counter()
        for s in range(trials):
            tuner = make(s)
            costs = []
            for t in range(T):
                w = tuner.choose(None if ctx is None else [ctx[t]])
                costs.append(grid[t, PAPER_GRID.index(w)])
                tuner.observe(costs[-1])
            totals.append(sum(costs))
            curves.append(np.cumsum(costs))
        per_decision = (time.perf_counter() - t1) / (trials * T)
        totals = np.array(totals)
        half = T // 2  # the second half: how close the tuner is once it has learned
        late = np.array([c[-1] - c[half - 1] for c in curves])
        mean_curves[name] = np.mean(curves, axis=0)
        rows[name] = {"total_mean": float(totals.mean()), "total_std": float(totals.std()),
                      "ratio_best_fixed": float(totals.mean() / best_fixed),
                      "ratio_instance_optimal_grid": float(totals.mean() / inst_grid),
                      "ratio_omega_star": float(totals.mean() / star),
                      "ratio_omega1": float(totals.mean() / fixed[1.0]),
                      "second_half_ratio_best_fixed": float(
                          late.mean() / grid[half:, best_col].sum()),
                      "second_half_ratio_omega_star": float(late.mean() / sum(
                          sor_iterations(p, omega_star(p), PAPER_CAP) for p in problems[half:])),
                      "seconds_per_decision": per_decision}
    plot_paper_case(label, mean_curves, {
        f"omega = {PAPER_GRID[best_col]:.2f} (best fixed)": np.cumsum(grid[:, best_col]),
        "omega = 1": np.cumsum([sor_iterations(p, 1.0, PAPER_CAP) for p in problems]),
        "instance-optimal (grid)": np.cumsum(grid.min(axis=1))})
    return {"case": label, "instances": T, "trials": trials, "fixed_totals": fixed,
            "best_fixed_omega": PAPER_GRID[best_col], "best_fixed_total": best_fixed,
            "instance_optimal_grid_total": inst_grid, "omega_star_total": star,
            "brute_force_seconds": brute, "tuners": rows}


def plot_paper_case(label, tuners, baselines):
    """The authors' figure layout: instances remaining against total iterations so far, to
    benchmarks/results/tune_paper_<high|low>.png."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 5))
    ax = fig.add_subplot()
    for name, curve in {**tuners, **baselines}.items():
        T = len(curve)
        ax.plot(curve, T - np.arange(1, T + 1), label=name,
                linestyle="--" if name in baselines else "-")
    ax.set_xlabel("total iterations")
    ax.set_ylabel("instances remaining")
    ax.set_xscale("log")
    ax.set_title(label, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    OUT.mkdir(exist_ok=True)
    fig.savefig(OUT / f"tune_paper_{'high' if 'high' in label else 'low'}.png", dpi=110)


def print_paper(r):
    fx = ", ".join(f"{w:g}: {v:,.0f}" for w, v in r["fixed_totals"].items())
    print(f"\n{r['case']}: {r['instances']} instances, tuners averaged over {r['trials']} seeds")
    print(f"fixed omegas {fx}; best fixed in the grid {r['best_fixed_omega']:.3f}: "
          f"{r['best_fixed_total']:,.0f}; instance-optimal in the grid: "
          f"{r['instance_optimal_grid_total']:,.0f}; analytic omega*: {r['omega_star_total']:,.0f}")
    print("| tuner | total | / best fixed | / instance-opt (grid) | / omega* | / omega=1 | "
          "2nd half / best fixed | 2nd half / omega* | ms per decision |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, row in r["tuners"].items():
        print(f"| {name} | {row['total_mean']:,.0f} ± {row['total_std']:,.0f} | "
              f"{row['ratio_best_fixed']:.3f} | {row['ratio_instance_optimal_grid']:.3f} | "
              f"{row['ratio_omega_star']:.3f} | {row['ratio_omega1']:.3f} | "
              f"{row['second_half_ratio_best_fixed']:.3f} | "
              f"{row['second_half_ratio_omega_star']:.3f} | "
              f"{row['seconds_per_decision'] * 1e3:.3f} |")


CROSS = ("tune_mip_highs", "tune_exact_al_block", "tune_relu_rho")


def cross_study(name):
    """Run (or resume) one cross-kind tune config; its report."""
    from solverhub.core.tuning import parse_tune_config, plot_tune_report, run_tune

    path = Path(__file__).parent.parent / "solvers_cfg" / f"{name}.toml"
    text = path.read_text(encoding="utf-8")
    out = OUT / name
    report = run_tune(parse_tune_config(text, str(path)), out, config_text=text,
                      resume=out.exists())
    plot_tune_report(report, out / "regret.png")
    return report


def print_cross(rows):
    print("\n| study | held-out instances | tuner chosen on the prefix | tuner (live) | tuner "
          "(replayed on the brute-force costs) | default | best fixed on the prefix | best fixed "
          "in hindsight | instance-optimal | replay / default | replay / prefix-fixed | replay / "
          "best fixed | overhead per decision (% of a solve) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, r in rows:
        sel = r.get("selection", {})
        chosen = f"{r['tuner']} {json.dumps(r.get('tuner_params') or {})}"
        pct = 100 * r["tuner_seconds_per_decision"] / max(r["solve_seconds_per_step"], 1e-12)
        prefix_value = sel.get("prefix_best_fixed_value")
        print(f"| {name} ({r['cost']}) | {r['steps']} | {chosen} | {r['tuner_total']:.4g} | "
              f"{r['replay_total']:.4g} | {r['default_total']:.4g} ({r['default_value']}) | "
              f"{r.get('prefix_fixed_total', float('nan')):.4g} ({prefix_value:.4g}) | "
              f"{r['best_fixed_total']:.4g} ({r['best_fixed_value']:.4g}) | "
              f"{r['instance_optimal_total']:.4g} | {r['replay_ratio_to_default']:.3f} | "
              f"{r.get('replay_ratio_to_prefix_fixed', float('nan')):.3f} | "
              f"{r['replay_ratio_to_best_fixed']:.3f} | "
              f"{r['tuner_seconds_per_decision'] * 1e3:.3f} ms ({pct:.3f} %) |")


def print_sequence(r):
    print(f"\n{r['case']}: {r['instances']} instances, {r['arms']} omegas; "
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
    ap.add_argument("--part", action="append",
                    choices=("paper", "heat", "sequences", "sweeps", "cross"),
                    help="run only these parts (repeatable; default all)")
    args = ap.parse_args()
    parts = set(args.part or ("paper", "heat", "sequences", "sweeps", "cross"))
    T = 200 if args.quick else 1000
    seeds = range(5)
    print(f"compiled kernel: {kernels.KERNEL_COMPILED}; tuners' cost bound {args.bound:g}")
    results = {"paper": [], "sequences": [], "sweeps": [], "cross": {}}
    if "heat" in parts:  # the authors' heat simulation (h2d.m), SSOR-CG, its first period
        nx, steps = 50, 300 if args.quick else 1000
        seq = [heat_cn(nx=nx, step=k, steps=5000) for k in range(steps)]
        name = (f"SSOR-CG, the authors' heat simulation (Crank-Nicolson, nx = {nx}: "
                f"{(nx - 1) ** 2} unknowns), steps 0-{steps - 1} of 5,000")
        r = sequence_case(name, seq, ssorcg_iterations, "diffusion", (0.0, 10.0), seeds,
                          args.bound, grid=PAPER_GRID)
        results["sequences"].append(r)
        print_sequence(r)
    if "cross" in parts:
        rows = [(name, cross_study(name)) for name in CROSS]
        results["cross"] = {name: {k: v for k, v in r.items() if not k.endswith("cumulative")}
                            for name, r in rows}
        print_cross(rows)
    if "paper" in parts:
        for label, ab in (("paper SOR, high-variance shifts c = -0.15 + 0.6 Beta(0.5, 1.5)",
                           (0.5, 1.5)),
                          ("paper SOR, low-variance shifts c = -0.15 + 0.6 Beta(2, 6)", (2.0, 6.0))):
            r = paper_case(label, ab, 1000 if args.quick else 5000, 3 if args.quick else 10,
                           args.bound)
            results["paper"].append(r)
            print_paper(r)
    poisson = [shifted_poisson(n=32, seed=i, shift_low=0.0, shift_high=1.0) for i in range(T)]
    heat_seq = [heat(n=32, step=i) for i in range(T // 2)]
    courant = [p.context["courant"] for p in heat_seq]
    for name, probs, solve, key, rng in [] if "sequences" not in parts else [
        ("SOR, shifted Poisson n=32 (1024 unknowns), c ~ U[0,1]", poisson, sor_iterations,
         "shift", (0.0, 1.0)),
        ("SSOR-CG, shifted Poisson n=32, c ~ U[0,1]", poisson, ssorcg_iterations, "shift",
         (0.0, 1.0)),
        ("SOR, heat equation n=32, backward Euler, nu(t) varying", heat_seq, sor_iterations,
         "courant", (min(courant), max(courant))),
    ]:
        r = sequence_case(name, probs, solve, key, rng, seeds, args.bound)
        results["sequences"].append(r)
        print_sequence(r)
    sizes = (100, 316) if args.quick else (100, 316, 1000)
    results["sweeps"] = sweep_timing(sizes, loop_max=10**5) if "sweeps" in parts else []
    print("\n| unknowns | compiled sweep+residual (ms) | SciPy triangular solve (ms) | SciPy / compiled "
          "| NumPy row loop (ms) | loop / compiled |")
    print("|---|---|---|---|---|---|")
    for r in results["sweeps"]:
        loop = (f"{r['numpy_loop_s'] * 1e3:.1f} | {r['numpy_loop_over_compiled']:.0f}"
                if "numpy_loop_s" in r else "not run | -")
        print(f"| {r['unknowns']:,} | {r['compiled_s'] * 1e3:.3f} | {r['scipy_s'] * 1e3:.3f} | "
              f"{r['scipy_over_compiled']:.1f} | {loop} |")
    OUT.mkdir(exist_ok=True)
    suffix = "".join("_" + x for x in sorted(parts)) if args.part else ""
    (OUT / f"bench_tune_bound{args.bound:g}{suffix}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
