"""Bilevel plugin benchmarks (issue 11): speed of lv-hba against a straightforward NumPy
implementation of the same updates, the Dykstra projection kernel against its NumPy reference,
and the BOLIB table (what lv-hba and bilevel-penalty reach on each problem).

    python benchmarks/bench_bilevel.py            # speed (a minute)
    python benchmarks/bench_bilevel.py --table    # the BOLIB table (markdown, a minute or two)
    python benchmarks/bench_bilevel.py --table --half validation --solvers lv-hba
                                                  # one half of the seeded BOLIB split
    python benchmarks/bench_bilevel.py --svm --seeds 5 --flip 0.2   # SVM per-sample weights table
    python benchmarks/bench_bilevel.py --numpy-path --repeats 7     # general path vs plain NumPy
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np


# ---------------------------------------------------------------------- straightforward NumPy
def numpy_lvhba_toy(n: int, iters: int, alpha=5e-3, beta=1e-2, eta=0.1, g1=10.0, g2=1.0, c0=1.0,
                    p=0.3, r=1.0) -> np.ndarray:
    """LV-HBA (Algorithm 1 of Yao et al. 2024) on the LV-HBA toy, vectorised NumPy, as one would
    write it directly: the baseline of the speed target."""
    x = np.zeros(n)
    y1, y2 = np.zeros(n), np.zeros(n)
    t1, t2 = y1.copy(), y2.copy()
    lam = z = 0.0
    N = 3 * n
    for k in range(iters):
        ck = c0 * (k + 1) ** p
        g = x.sum() + t1.sum() + t2.sum()
        t1n = t1 - eta * ((t1 - x) + lam + (t1 - y1) / g1)
        t2n = t2 - eta * (1.0 + lam + (t2 - y2) / g1)
        lamn = min(max(lam + eta * (g - (lam - z) / g2), -r), r)
        dx = (x - y2) / ck - y1 + t1n - lamn
        dy1 = (y1 - 1) / ck + (y1 - x) - (y1 - t1n) / g1
        dy2 = (y2 - x) / ck + 1.0 - (y2 - t2n) / g1
        z = min(max(z - beta * (z - lamn) / g2, -r), r)
        w = np.concatenate([x - alpha * dx, y1 - alpha * dy1, y2 - alpha * dy2])
        w -= w.sum() / N
        x, y1, y2 = w[:n], w[n:2 * n], w[2 * n:]
        t1, t2, lam = t1n, t2n, lamn
    return np.concatenate([x, y1, y2])


def diagonal_qp(n: int, seed: int = 0):
    """A user-written problem with a diagonal lower level (the issue-23 case of lv-hba's general
    NumPy path): F = 1/2 ||x - a||^2 + 1/2 ||y - b||^2, f = 1/2 sum d_i (y_i - x_i)^2, X and Y the
    box [-1, 1], gradients supplied. Returns (problem, (a, b, d))."""
    from solverhub.plugins.bilevel import BilevelProblem

    rng = np.random.default_rng(seed)
    a, b, d = rng.standard_normal(n), rng.standard_normal(n), rng.uniform(0.5, 2.0, n)
    P = BilevelProblem(n, n, lambda x, y: 0.5 * np.sum((x - a) ** 2) + 0.5 * np.sum((y - b) ** 2),
                       lambda x, y: 0.5 * np.sum(d * (y - x) ** 2),
                       grad_F=lambda x, y: (x - a, y - b),
                       grad_f=lambda x, y: (-d * (y - x), d * (y - x)),
                       X=(-1.0, 1.0), Y=(-1.0, 1.0), name=f"DiagonalQP(n={n})")
    return P, (a, b, d)


def numpy_lvhba_diagonal(data, iters: int, alpha=5e-3, eta=0.1, g1=10.0, c0=1.0,
                         p=0.3) -> np.ndarray:
    """Algorithm 1 on :func:`diagonal_qp` written out in NumPy (no lower-level constraints, so no
    lambda or z): the baseline of the general path."""
    a, b, d = data
    n = a.size
    x, y = np.zeros(n), np.zeros(n)
    th = y.copy()
    for k in range(iters):
        ck = c0 * (k + 1) ** p
        th = np.clip(th - eta * (d * (th - x) + (th - y) / g1), -1.0, 1.0)
        dx = (x - a) / ck - d * (y - x) + d * (th - x)
        dy = (y - b) / ck + d * (y - x) - (y - th) / g1
        x = np.clip(x - alpha * dx, -1.0, 1.0)
        y = np.clip(y - alpha * dy, -1.0, 1.0)
    return np.concatenate([x, y])


def numpy_path(repeats: int, iters: int = 2000) -> None:
    """lv-hba's general NumPy path (kernel=numpy, the paper preset) against
    :func:`numpy_lvhba_diagonal` on :func:`diagonal_qp`, best of ``repeats``, process CPU time
    (the shared machine's wall time swings with its load)."""
    from solverhub.plugins.bilevel.lvhba import LVHBA

    print(f"\nlv-hba general NumPy path on a diagonal QP, {iters} iterations, best of {repeats} "
          "(CPU seconds)")
    print("| n | plain NumPy | lv-hba kernel=numpy | ratio | max difference |")
    print("|---|---|---|---|---|")
    for n in (1000, 2500, 5000):
        P, data = diagonal_qp(n)
        solver = LVHBA(kernel="numpy", preset="paper", max_iterations=iters, tolerance=1e-30)
        tp = tl = math.inf
        for _ in range(repeats):
            t = time.process_time()
            z = numpy_lvhba_diagonal(data, iters)
            tp = min(tp, time.process_time() - t)
            t = time.process_time()
            r = solver.solve(P)
            tl = min(tl, time.process_time() - t)
        print(f"| {n} | {tp:.3f} | {tl:.3f} | {tl / tp:.2f} | {np.max(np.abs(r.x - z)):.1e} |",
              flush=True)


def _best(fn, repeats: int) -> tuple[float, object]:
    best, out = math.inf, None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def speed(repeats: int) -> None:
    from solverhub.plugins.bilevel.bolib import load_bolib
    from solverhub.plugins.bilevel.lvhba import LVHBA
    from solverhub.plugins.bilevel.sets import _kernel, dykstra_polyhedron

    kern = _kernel()
    print(f"compiled kernel: {'yes' if kern is not None else 'NO (NumPy fallback)'}")
    P = load_bolib("bolib:LVHBAToy?n=100", {})
    ref = P.reference_solution
    t_np, z_np = _best(lambda: numpy_lvhba_toy(100, 50_000), repeats)
    t_gen, r_gen = _best(lambda: LVHBA(max_iterations=50_000, kernel="numpy", preset="paper").solve(P), 1)
    t_c, r_c = _best(lambda: LVHBA(max_iterations=50_000, preset="paper").solve(P), repeats)
    err = lambda v: float(np.linalg.norm(v - ref) / max(1.0, np.linalg.norm(ref)))
    print("\nLV-HBA toy, n = 100, 50,000 iterations (best of %d)" % repeats)
    print("| implementation | time (s) | relative error | speed-up vs NumPy |")
    print("|---|---|---|---|")
    print(f"| straightforward NumPy (this script) | {t_np:.2f} | {err(z_np):.2e} | 1.0 |")
    print(f"| lv-hba, general NumPy path (kernel=numpy) | {t_gen:.2f} | {err(r_gen.x):.2e} | {t_np / t_gen:.2f} |")
    print(f"| lv-hba, compiled loop (kernel=auto) | {t_c:.2f} | {err(r_c.x):.2e} | {t_np / t_c:.1f} |")

    C = load_bolib("bolib:ClarkWesterberg1990a?x0=1.5&y0=3.5", {})
    t_cg, r_cg = _best(lambda: LVHBA(max_iterations=40_000, kernel="numpy", preset="paper").solve(C), 1)
    t_cc, r_cc = _best(lambda: LVHBA(max_iterations=40_000, preset="paper").solve(C), repeats)
    print("\nClarkWesterberg1990a from (1.5, 3.5), 40,000 iterations")
    print("| implementation | time (s) | (x, y) |")
    print("|---|---|---|")
    print(f"| lv-hba, general NumPy path | {t_cg:.2f} | ({r_cg.x[0]:.4f}, {r_cg.x[1]:.4f}) |")
    print(f"| lv-hba, compiled QP loop with the Dykstra kernel | {t_cc:.2f} | ({r_cc.x[0]:.4f}, {r_cc.x[1]:.4f}) |")

    rng = np.random.default_rng(0)
    rows = []
    for (m, n) in ((4, 2), (20, 10), (100, 50)):
        A = rng.standard_normal((m, n))
        b = rng.random(m)
        eq = np.zeros(m, dtype=bool)
        lo, up = -np.ones(n), np.ones(n)
        pts = [3 * rng.standard_normal(n) for _ in range(20)]
        t_ref, zr = _best(lambda: [dykstra_polyhedron(q, A, b, eq, lo, up)[0] for q in pts], repeats)
        if kern is not None:
            e8 = eq.astype(np.uint8)
            t_k, zk = _best(lambda: [kern.dykstra_polyhedron(q, A, b, e8, lo, up, 20000, 1e-13)[0]
                                     for q in pts], repeats)
            diff = max(float(np.max(np.abs(u - v))) for u, v in zip(zr, zk))
            rows.append(f"| {m} x {n} | {t_ref / 20 * 1e3:.3f} | {t_k / 20 * 1e3:.3f} | {t_ref / t_k:.1f} | {diff:.1e} |")
    print("\nDykstra projection onto {Az <= b, -1 <= z <= 1}, 20 random points, per projection")
    print("| rows x dim | NumPy reference (ms) | Cython kernel (ms) | speed-up | max difference |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))


# ---------------------------------------------------------------------- the BOLIB table
def classify(res, problem) -> str:
    """solved: F within 1e-2 (relative to max(1, |F*|)) of the published optimum with the lower
    level solved to 1e-2 (relative to max(1, |f|)); below published: a point the host verified
    bilevel feasible (constraints to 1e-6, lower level to 1e-6 relative) with F below the
    published optimum by more than 1e-2 (the published value is not the optimum); local: lower
    level solved, F above the optimum (a local solution or a stationary point); inexact: the lower
    level not solved to that tolerance at the iteration limit, or F below the optimum off the
    bilevel-feasible set; diverged: status error."""
    if res.status.value == "error":
        return "diverged"
    m = res.metrics
    lr = m.get("lower_residual", math.inf)
    f = m.get("lower_objective", 0.0)
    viol = m.get("constraint_violation", 0.0)
    if not (lr <= 1e-2 * max(1.0, abs(f))) or viol > 1e-6:
        return "inexact"
    ref = res.info.get("reference_objective")
    if ref is None and problem is not None:
        ref = getattr(problem, "reference_objective", None)
    if ref is not None and res.objective < ref - 1e-2 * max(1.0, abs(ref)):
        return "below published" if lr <= 1e-6 * max(1.0, abs(f)) else "inexact"
    return "solved" if m.get("F_error", math.inf) <= 1e-2 else "local"


#: what counts towards "solved to the documented tolerance" in the issue-23 target
SOLVED = ("solved", "below published")

#: seed of the BOLIB split into a tuning and a validation half (issue 23). Fixed, with this rule,
#: before lv-hba's new defaults were tuned: the defaults were chosen on the tuning half only.
SPLIT_SEED = 23


def bolib_halves(seed: int = SPLIT_SEED) -> tuple[list[str], list[str]]:
    """(tuning, validation): the 35 BOLIB problems sorted by name, permuted by
    ``numpy.random.default_rng(seed)``; the first 18 are the tuning half, the other 17 the
    validation half."""
    from solverhub.plugins.bilevel.bolib import PROBLEMS

    names = sorted(PROBLEMS)
    order = np.random.default_rng(seed).permutation(len(names))
    half = (len(names) + 1) // 2
    return (sorted(names[i] for i in order[:half]), sorted(names[i] for i in order[half:]))


def table(solvers: tuple[str, ...] = ("bilevel-auto", "lv-hba", "bilevel-penalty"),
          half: str = "all") -> None:
    """The BOLIB table of ``solvers``; ``half``: all, tuning or validation (:func:`bolib_halves`)."""
    import solverhub as sh
    from solverhub.plugins.bilevel.bolib import PROBLEMS

    names = sorted(PROBLEMS) if half == "all" else bolib_halves()[half == "validation"]

    def parse(column: str) -> tuple[str, dict]:
        # "lv-hba[preset=paper]": a solver with options
        if "[" not in column:
            return column, {}
        name, rest = column.rstrip("]").split("[", 1)
        return name, dict(kv.split("=", 1) for kv in rest.split(";") if kv)
    head = " | ".join(f"{s}: F | {s}" for s in solvers)
    print(f"| problem | F* (published) | {head} |")
    print("|---|---|" + "---|---|" * len(solvers))
    counts: dict[str, dict[str, int]] = {s: {} for s in solvers}
    for name in names:
        cells = []
        problem = sh.load_problem(f"bolib:{name}")
        for solver in solvers:
            try:
                sname, opts = parse(solver)
                res = sh.solve(f"bolib:{name}", solver=sname, **opts)
                c = classify(res, problem)
                obj = "-" if res.objective is None else f"{res.objective:.6g}"
                if sname == "bilevel-auto":
                    c = f"{c} ({res.info.get('route')})"
            except sh.BadInputError:
                c, obj = "not applicable", "-"
            counts[solver][c] = counts[solver].get(c, 0) + 1
            cells += [obj, c]
        Fs = PROBLEMS[name][7][0]
        print(f"| {name} | {Fs:g} | " + " | ".join(cells) + " |", flush=True)
    for s, c in counts.items():
        solved = sum(v for k, v in c.items() if k.split(" (")[0] in SOLVED)
        print(f"\n{s}: solved (incl. below published) {solved} of {len(names)} ({half}); "
              + ", ".join(f"{k} {v}" for k, v in sorted(c.items())))


def svm_table(seeds: int, flip: float, dataset: str) -> None:
    """SVM hyperparameter selection with per-sample weights (solverhub.plugins.bilevel.svm):
    test accuracy of each way of choosing the weights over seeds 0 .. seeds-1 (mean, std, and
    the per-seed values), the SVM retrained exactly for the weights."""
    from solverhub.plugins.bilevel.svm import svm_comparison

    per: dict[str, list] = {}
    for seed in range(seeds):
        for r in svm_comparison(seed=seed, flip=flip, dataset=dataset):
            # the CV row names its C, which differs between seeds
            key = ("uniform c, C by 5-fold CV" if "CV" in r.method else
                   "uniform c, C by the validation loss" if "validation" in r.method else r.method)
            per.setdefault(key, []).append(r)
        print(f"seed {seed} done", file=sys.stderr, flush=True)
    print(f"\n{dataset}, {flip:.0%} of the 200 training labels flipped, 100 validation samples, "
          f"seeds 0-{seeds - 1}")
    cs = [r.method.split("C = ")[1].split(" ")[0] for r in per["uniform c, C by 5-fold CV"]]
    cv = [r.method.split("C = ")[1].split(" ")[0] for r in per["uniform c, C by the validation loss"]]
    print("C chosen by 5-fold CV per seed: " + ", ".join(cs)
          + "; by the validation loss (the start of the bilevel runs): " + ", ".join(cv))
    print("| weights | test accuracy (mean +- std) | per seed | validation accuracy | "
          "validation loss | weight < 1/2: flipped / clean | time (s) |")
    print("|---|---|---|---|---|---|---|")
    for key, rs in per.items():
        acc = np.array([r.test_accuracy for r in rs])
        print(f"| {key} | {acc.mean():.3f} +- {acc.std():.3f} | "
              + " ".join(f"{a:.3f}" for a in acc)
              + f" | {np.mean([r.val_accuracy for r in rs]):.3f} | "
              f"{np.mean([r.val_loss for r in rs]):.3f} | "
              f"{np.mean([r.flipped_dropped for r in rs]):.1f} / "
              f"{np.mean([r.clean_dropped for r in rs]):.1f} | "
              f"{np.mean([r.seconds for r in rs]):.1f} |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--table", action="store_true", help="the BOLIB table instead of the speed runs")
    ap.add_argument("--solvers", default="bilevel-auto,lv-hba,bilevel-penalty",
                    help="--table: comma-separated solvers (columns), each optionally with "
                    "options: 'lv-hba[preset=paper;max_iterations=40000]'")
    ap.add_argument("--half", choices=("all", "tuning", "validation"), default="all",
                    help="--table: the BOLIB problems of one half of the seeded split")
    ap.add_argument("--svm", action="store_true", help="the SVM per-sample weights table")
    ap.add_argument("--numpy-path", action="store_true",
                    help="lv-hba's general NumPy path against plain NumPy on a diagonal QP")
    ap.add_argument("--seeds", type=int, default=5, help="--svm: seeds 0 .. seeds-1")
    ap.add_argument("--flip", type=float, default=0.2, help="--svm: fraction of flipped labels")
    ap.add_argument("--dataset", default="breast_cancer", help="--svm: breast_cancer or digits38")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args(argv)
    if a.svm:
        svm_table(a.seeds, a.flip, a.dataset)
    elif a.numpy_path:
        numpy_path(a.repeats)
    elif a.table:
        table(tuple(a.solvers.split(",")), a.half)
    else:
        speed(a.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
