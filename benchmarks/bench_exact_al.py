"""Benchmarks of the exact augmented Lagrangian solver ``exact-al`` (issue 10, docs/exact_al.md).

    python benchmarks/bench_exact_al.py repro  [--sketch gaussian|kaczmarz] [--out FILE.json]
    python benchmarks/bench_exact_al.py peers  [--max-n 100] [--time-limit 60] [--out FILE.json]
    python benchmarks/bench_exact_al.py scale  [--sizes 1000 10000] [--out FILE.json]
    python benchmarks/bench_exact_al.py kernel [--sizes 20 100 400]
    python benchmarks/bench_exact_al.py xp     [--device numpy-xp|cuda] [--sizes 500 2000] [--steps 20]

repro: the paper's 47 CUTEst problems that S2MPJ has (41), paper rules, seed 2023: converged set and
Newton iterations next to the authors' stored outputs (published_cutest.json). peers: every
equality-only, bound-free S2MPJ problem with an objective and n <= max-n: exact-al (best settings)
against SciPy trust-constr and SLSQP (and IPOPT through cyipopt when installed). scale: the
LUKVLE1 family (hand-vectorised, sparse) at large n. kernel: sketch steps per second, Cython
against the NumPy reference. xp: the array-namespace path (``device`` other than "cpu") against
the CPU path, on NumPy through a stand-in backend ("numpy-xp") or on a real device: the solver on
small problems (the same iterates; wall time) and ``block_sketch_solve`` (a fixed number of
Gaussian block steps on a dense KKT matrix). Each prints a Markdown table (pasted in docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import solverhub as sh
from solverhub.plugins.exact_al.s2mpj import _canonical, available, list_problems

PUBLISHED = Path(sh.__file__).parent / "plugins" / "exact_al" / "published_cutest.json"
KKT_TOL = 1e-4
#: exact-al's settings for the peers comparison (departures; docs/exact_al.md)
BEST = {"sketch": "exact", "shift": "inertia", "licq": "regularize", "hessian_check": "curvature"}


def _solve(address_or_problem, options, time_limit, seed=2023):
    try:
        r = sh.solve(address_or_problem, solver="exact-al", time_limit=time_limit, seed=seed,
                     options=options)
    except sh.BadInputError as exc:
        return {"status": "bad_input", "iterations": None, "runtime": None, "error": str(exc)}
    return {"status": r.status.value, "iterations": r.iterations, "runtime": r.runtime,
            "kkt": r.metrics.get("kkt_residual"), "objective": r.objective,
            "sketch_steps": r.info.get("sketch_steps"), "error": r.error}


def repro(args) -> dict:
    pub = json.loads(PUBLISHED.read_text())["problems"]
    key = "gv" if args.sketch == "gaussian" else "rk"
    have = set(list_problems(with_objective=False))
    rows = []
    for name, rec in pub.items():
        p = rec[key]
        if _canonical(name) not in have:
            rows.append({"problem": name, "in_s2mpj": False, "published": p})
            continue
        t = time.perf_counter()
        opts = {"sketch": args.sketch, "merit_hessian": args.merit_hessian}
        res = _solve(f"s2mpj:{_canonical(name)}", opts, args.time_limit)
        res["wall"] = time.perf_counter() - t
        rows.append({"problem": name, "in_s2mpj": True, "published": p, "ours": res})
        print(f"{name:12s} paper {p['iterations'] if p['converged'] else 'singular':>8} | ours "
              f"{res['status']:>15} {res['iterations']!s:>5}  {res['wall']:.2f}s", file=sys.stderr)
    both = [r for r in rows if r["in_s2mpj"]]
    conv_p = {r["problem"] for r in both if r["published"]["converged"]}
    conv_o = {r["problem"] for r in both if r["ours"]["status"] == "optimal"}
    within = [r for r in both if r["published"]["converged"] and r["ours"]["status"] == "optimal"
              and abs(r["ours"]["iterations"] - r["published"]["iterations"]) <= 2]
    exact = [r for r in both if r["published"]["converged"] and r["ours"]["status"] == "optimal"
             and r["ours"]["iterations"] == r["published"]["iterations"]]
    common = [r for r in both if r["problem"] in conv_p & conv_o]
    summary = {"sketch": args.sketch, "merit_hessian": args.merit_hessian,
               "problems_in_s2mpj": len(both), "published_converged": len(conv_p),
               "ours_converged": len(conv_o), "same_converged_set": conv_p == conv_o,
               "counts_within_2": len(within), "counts_equal": len(exact), "common": len(common),
               "mean_published": statistics.mean(r["published"]["iterations"] for r in common) if common else None,
               "mean_ours": statistics.mean(r["ours"]["iterations"] for r in common) if common else None,
               "median_published": statistics.median(r["published"]["iterations"] for r in common) if common else None,
               "median_ours": statistics.median(r["ours"]["iterations"] for r in common) if common else None,
               "total_sketch_steps": sum(r["ours"].get("sketch_steps") or 0 for r in both),
               "wall_s": sum(r["ours"]["wall"] for r in both)}
    print(f"\n### Reproduction ({args.sketch} sketch, merit Hessian {args.merit_hessian})\n")
    print("| problem | paper iters | ours | status | sketch steps | time s |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        p = r["published"]
        pub_s = str(p["iterations"]) if p["converged"] else "singular"
        if not r["in_s2mpj"]:
            print(f"| {r['problem']} | {pub_s} | not in S2MPJ | | | |")
            continue
        o = r["ours"]
        print(f"| {r['problem']} | {pub_s} | {o['iterations'] if o['iterations'] is not None else ''} | "
              f"{o['status']}{' (singular)' if o['error'] and 'singular' in o['error'] else ''} | "
              f"{o.get('sketch_steps') or ''} | {o['wall']:.2f} |")
    print("\n" + json.dumps(summary, indent=1))
    return {"summary": summary, "rows": rows}


# ------------------------------------------------------------------ peers
def _scipy_solve(prob, method, time_limit):
    from scipy.optimize import NonlinearConstraint, minimize

    Jd = lambda x: (lambda J: J.toarray() if hasattr(J, "toarray") else J)(prob.jacobian(x))
    t = time.perf_counter()
    try:
        if method == "SLSQP":
            res = minimize(prob.objective, prob.x0, jac=prob.gradient, method="SLSQP",
                           constraints=[{"type": "eq", "fun": prob.constraints, "jac": Jd}],
                           options={"maxiter": 3000, "ftol": 1e-10})
        else:
            # the constraints' Hessian sum v_i Hess c_i = Hess L(x, v) - Hess f(x)
            con = NonlinearConstraint(prob.constraints, 0.0, 0.0, jac=lambda x: prob.jacobian(x),
                                      hess=lambda x, v: prob.lagrangian_hessian(x, v)
                                      - prob.objective_hessian(x))
            res = minimize(prob.objective, prob.x0, jac=prob.gradient,
                           hess=lambda x: prob.objective_hessian(x), method="trust-constr",
                           constraints=[con], options={"maxiter": 3000, "gtol": 1e-8, "xtol": 1e-12})
    except Exception as exc:  # a peer crashing counts as a failure
        return {"status": "error", "iterations": None, "runtime": time.perf_counter() - t,
                "error": f"{type(exc).__name__}: {exc}"}
    wall = time.perf_counter() - t
    from solverhub.plugins.exact_al.problem import kkt_residuals

    x = np.asarray(res.x, dtype=float)
    try:
        kkt = kkt_residuals(prob, x)["kkt_residual"] if np.all(np.isfinite(x)) else math.inf
    except Exception:
        kkt = math.inf
    return {"status": "optimal" if kkt <= KKT_TOL else "failed", "iterations": int(getattr(res, "nit", 0) or 0),
            "runtime": wall, "kkt": kkt, "objective": float(res.fun) if np.isfinite(res.fun) else None}


def _ipopt_solve(prob, time_limit):
    """IPOPT through cyipopt (optional peer): exact derivatives, the sparsity patterns taken at x0
    (Hessian with random multipliers, lower triangle), tol 1e-8; success = our KKT test."""
    try:
        import cyipopt
    except ImportError:
        return None
    import scipy.sparse as sp

    n, m = prob.n, prob.m
    x0 = prob.x0
    lam_r = np.random.default_rng(0).standard_normal(m)
    J0 = sp.coo_matrix(prob.jacobian(x0))
    if J0.nnz == 0 or n * m <= 40000:
        jr, jc = np.nonzero(np.ones((m, n)))
    else:
        jr, jc = J0.row, J0.col
    H0 = sp.coo_matrix(abs(sp.csr_matrix(prob.lagrangian_hessian(x0, lam_r)))
                       + abs(sp.csr_matrix(prob.objective_hessian(x0))))
    if n <= 300:
        hr, hc = np.tril_indices(n)
    else:
        keep = H0.row >= H0.col
        hr, hc = H0.row[keep], H0.col[keep]
    iters = [0]

    class _P:
        def objective(self, x): return prob.objective(x)
        def gradient(self, x): return prob.gradient(x)
        def constraints(self, x): return prob.constraints(x)
        def jacobianstructure(self): return jr, jc
        def jacobian(self, x): return np.asarray(sp.csr_matrix(prob.jacobian(x))[jr, jc]).ravel()
        def hessianstructure(self): return hr, hc

        def hessian(self, x, lam, of):
            Hf = sp.csr_matrix(prob.objective_hessian(x))
            H = of * Hf + (sp.csr_matrix(prob.lagrangian_hessian(x, lam)) - Hf)
            return np.asarray(H[hr, hc]).ravel()

        def intermediate(self, alg_mod, iter_count, *a):
            iters[0] = iter_count
            return True

    t = time.perf_counter()
    nlp = cyipopt.Problem(n=n, m=m, problem_obj=_P(), lb=[-2e19] * n, ub=[2e19] * n,
                          cl=[0.0] * m, cu=[0.0] * m)
    nlp.add_option("print_level", 0)
    nlp.add_option("sb", "yes")
    nlp.add_option("tol", 1e-8)
    nlp.add_option("max_cpu_time", float(time_limit))
    try:
        x, info = nlp.solve(x0)
    except Exception as exc:
        return {"status": "error", "iterations": None, "runtime": time.perf_counter() - t,
                "error": str(exc)}
    wall = time.perf_counter() - t
    from solverhub.plugins.exact_al.problem import kkt_residuals

    try:
        kkt = kkt_residuals(prob, np.asarray(x))["kkt_residual"]
    except Exception:
        kkt = math.inf
    return {"status": "optimal" if kkt <= KKT_TOL else "failed", "iterations": iters[0],
            "runtime": wall, "kkt": kkt}


def peers(args) -> dict:
    names = list_problems(max_n=args.max_n)
    rows = []
    for name in names:
        addr = f"s2mpj:{name}"
        row = {"problem": name}
        try:
            prob = sh.load_problem(addr)
            prob.validate()
        except sh.BadInputError as exc:
            row["skip"] = str(exc)
            rows.append(row)
            continue
        row["n"], row["m"] = prob.n, prob.m
        todo = set(args.solvers)
        if "exact-al" in todo:
            row["exact-al"] = _solve(prob, BEST, args.time_limit)
        if "exact-al-paper" in todo:
            row["exact-al-paper"] = _solve(prob, {}, args.time_limit)
        if "trust-constr" in todo:
            row["trust-constr"] = _scipy_solve(prob, "trust-constr", args.time_limit)
        if "SLSQP" in todo:
            row["SLSQP"] = _scipy_solve(prob, "SLSQP", args.time_limit)
        if "ipopt" in todo:
            row["ipopt"] = _ipopt_solve(prob, args.time_limit)
        print(name, {k: (v["status"], v.get("iterations"), round(v["runtime"] or 0, 3)) for k, v in row.items()
                     if isinstance(v, dict)}, file=sys.stderr)
        rows.append(row)
    return _peer_table(rows, "S2MPJ equality-only problems with an objective, n <= %d" % args.max_n)


def _peer_table(rows, title):
    solvers = [s for s in ("exact-al", "exact-al-paper", "trust-constr", "SLSQP", "ipopt")
               if any(isinstance(r.get(s), dict) for r in rows)]
    print(f"\n### {title}\n")
    print("| solver | solved (KKT <= 1e-4) | median iterations (solved) | median wall s | total wall s |")
    print("|---|---|---|---|---|")
    summary = {}
    for s in solvers:
        rs = [r[s] for r in rows if isinstance(r.get(s), dict)]
        ok = [r for r in rs if r["status"] == "optimal"]
        its = [r["iterations"] for r in ok if r.get("iterations") is not None]
        walls = [r["runtime"] for r in rs if r.get("runtime") is not None]
        summary[s] = {"solved": len(ok), "of": len(rs),
                      "median_iterations": statistics.median(its) if its else None,
                      "median_wall": statistics.median(walls) if walls else None,
                      "total_wall": sum(walls)}
        print(f"| {s} | {len(ok)}/{len(rs)} | {summary[s]['median_iterations']} | "
              f"{summary[s]['median_wall']:.3f} | {summary[s]['total_wall']:.1f} |")
    print("\n" + json.dumps(summary, indent=1))
    return {"summary": summary, "rows": rows}


def scale(args) -> dict:
    from solverhub.plugins.exact_al import testproblems as tp

    rows = []
    # warm-up (imports, first-call set-up) for every solver, untimed
    warm = tp.hs40()
    _solve(warm, BEST, None)
    _ipopt_solve(warm, 10)
    _scipy_solve(warm, "trust-constr", 10)
    _scipy_solve(warm, "SLSQP", 10)
    for n in args.sizes:
        for fam, build in (("lukvle1", tp.lukvle1),) + ((("pde", _pde),) if _pde else ()):
            prob = build(n)
            row = {"problem": f"{fam}(n={prob.n})", "n": prob.n, "m": prob.m}
            row["exact-al"] = _solve(prob, BEST, args.time_limit)
            row["ipopt"] = _ipopt_solve(prob, args.time_limit)
            if prob.n <= args.scipy_max_n:
                row["trust-constr"] = _scipy_solve(prob, "trust-constr", args.time_limit)
                row["SLSQP"] = _scipy_solve(prob, "SLSQP", args.time_limit) \
                    if prob.n <= args.slsqp_max_n else None
            print(row["problem"], {k: (v["status"], v.get("iterations"), round(v["runtime"] or 0, 3))
                                   for k, v in row.items() if isinstance(v, dict)}, file=sys.stderr)
            rows.append(row)
    _scale_table(rows)
    return {"rows": rows}


def _scale_table(rows):
    print("\n| problem | n | m | exact-al | wall s | IPOPT | wall s | exact-al / IPOPT time | trust-constr | wall s | SLSQP | wall s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")

    def fmt(d):
        if not d:
            return "not run", ""
        return f"{d['status']} ({d.get('iterations')})", f"{d['runtime']:.3f}"
    for r in rows:
        e, i = r["exact-al"], r.get("ipopt")
        ratio = f"{e['runtime'] / i['runtime']:.2f}" if i and i.get("runtime") else ""
        cells = [*fmt(e), *fmt(i), ratio, *fmt(r.get("trust-constr")), *fmt(r.get("SLSQP"))]
        print(f"| {r['problem']} | {r['n']} | {r['m']} | " + " | ".join(cells) + " |")


def _pde_builder():
    try:
        from solverhub.plugins.exact_al.generators import pde_control
    except ImportError:
        return None
    return lambda n: pde_control(grid=max(2, int(round(math.sqrt(n / 2)))))


_pde = _pde_builder()


def kernel(args) -> dict:
    from solverhub.plugins.exact_al import sketch as S

    rows = []
    for N in args.sizes:
        rng = np.random.default_rng(0)
        A = rng.standard_normal((N, N))
        K = A + A.T
        b = rng.standard_normal(N)
        out = {"N": N}
        for method in ("gaussian", "kaczmarz"):
            for impl in ("cython", "numpy"):
                if impl == "cython" and not S.KERNEL_COMPILED:
                    continue
                steps = 20000 if method == "kaczmarz" else max(200, 400000 // (N * N) * 10)
                s = S.SketchSolver(K, b, method, np.random.default_rng(1), 1, use_kernel=(impl == "cython"))
                if method == "kaczmarz":
                    s._kaczmarz_setup()
                t = time.perf_counter()
                s.run(0.0, steps)
                out[f"{method}-{impl}"] = steps / (time.perf_counter() - t)
        rows.append(out)
    print("\n| N = n + m | Gaussian: Cython steps/s | NumPy steps/s | ratio | Kaczmarz: Cython steps/s | NumPy steps/s | ratio |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        g = r.get("gaussian-cython", float("nan")), r["gaussian-numpy"]
        k = r.get("kaczmarz-cython", float("nan")), r["kaczmarz-numpy"]
        print(f"| {r['N']} | {g[0]:,.0f} | {g[1]:,.0f} | {g[0] / g[1]:.1f}x | {k[0]:,.0f} | {k[1]:,.0f} | {k[0] / k[1]:.1f}x |")
    return {"rows": rows}


def _numpy_as_device(name: str) -> None:
    """Register a stand-in array backend ``name`` that is NumPy: the xp code, run on the CPU."""
    from solverhub.core.manager import get_plugin_manager

    class _NumpyAsDevice:
        @sh.hookimpl
        def solverhub_array_backends(self):
            return [sh.ArrayBackend(name, lambda: np, description="NumPy through the xp path")]

    get_plugin_manager().register_plugin(_NumpyAsDevice(), name=f"bench-{name}")


def xp_path(args) -> dict:
    from solverhub.plugins.exact_al import generators as gen
    from solverhub.plugins.exact_al import sketch as S
    from solverhub.plugins.exact_al import testproblems as tp

    device = args.device
    if device == "numpy-xp":
        _numpy_as_device(device)
    cases = [("hs6", tp.hs6, {}), ("hs40", tp.hs40, {}),
             ("hs7 kaczmarz forcing", tp.hs7, {"sketch": "kaczmarz", "accuracy": "forcing"}),
             ("hs28 block q=0", tp.hs28, {"block_size": 0}),
             ("pde grid 4, gaussian forcing, 3 it", lambda: gen.pde_control(grid=4),
              {"accuracy": "forcing", "max_iterations": 3, "max_sketch_steps": 2000})]
    rows = []
    print(f"\n| problem | options | cpu: status (it), sketch steps | wall s | {device}: status (it), "
          f"sketch steps | wall s | max abs x diff |")
    print("|---|---|---|---|---|---|---|")
    for label, build, opts in cases:
        res = {}
        for dev in ("cpu", device):
            t = time.perf_counter()
            r = sh.solve(build(), solver="exact-al", seed=2023, options={**opts, "device": dev})
            res[dev] = (r, time.perf_counter() - t)
        (a, ta), (b, tb) = res["cpu"], res[device]
        dx = float(np.max(np.abs(a.x - b.x)))
        rows.append({"problem": label, "cpu_s": ta, "dev_s": tb, "dx": dx, "it": [a.iterations, b.iterations]})
        print(f"| {label} | {opts} | {a.status.value} ({a.iterations}), {a.info['sketch_steps']} | {ta:.3f} "
              f"| {b.status.value} ({b.iterations}), {b.info['sketch_steps']} | {tb:.3f} | {dx:.1e} |")
    print(f"\n| N = n + m | q | steps | cpu s/step | {device} s/step | max abs z diff |")
    print("|---|---|---|---|---|---|")
    for N in args.sizes:
        m = N // 4
        rng = np.random.default_rng(5)
        n = N - m
        G = rng.standard_normal((n, n))
        H = (G + G.T) / (4.0 * math.sqrt(2.0 * n)) + np.eye(n)
        A = 2.0 * rng.standard_normal((m, n)) / math.sqrt(n)
        K = np.block([[H, A.T], [A, np.zeros((m, m))]])
        r = rng.standard_normal(N)
        q = math.ceil(math.sqrt(N))
        per = {}
        for dev in ("cpu", device):
            t = time.perf_counter()
            z, out = S.block_sketch_solve(K, r, device=dev, block=q, tol=1e-30, max_steps=args.steps, seed=0)
            per[dev] = ((time.perf_counter() - t) / out.steps, z)
        dz = float(np.max(np.abs(per["cpu"][1] - per[device][1])))
        rows.append({"N": N, "q": q, "cpu_s_per_step": per["cpu"][0], "dev_s_per_step": per[device][0], "dz": dz})
        print(f"| {N} | {q} | {args.steps} | {per['cpu'][0]:.4f} | {per[device][0]:.4f} | {dz:.1e} |")
    return {"device": device, "rows": rows}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="part", required=True)
    a = sub.add_parser("repro")
    a.add_argument("--sketch", default="gaussian", choices=["gaussian", "kaczmarz"])
    a.add_argument("--merit-hessian", default="lagrangian", choices=["lagrangian", "objective"])
    a.add_argument("--time-limit", type=float, default=120)
    b = sub.add_parser("peers")
    b.add_argument("--max-n", type=int, default=100)
    b.add_argument("--time-limit", type=float, default=60)
    b.add_argument("--solvers", nargs="+", default=["exact-al", "trust-constr", "SLSQP", "ipopt"],
                   help="any of exact-al (best settings), exact-al-paper, trust-constr, SLSQP, ipopt")
    c = sub.add_parser("scale")
    c.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    c.add_argument("--time-limit", type=float, default=120)
    c.add_argument("--scipy-max-n", type=int, default=1000, help="trust-constr up to this n")
    c.add_argument("--slsqp-max-n", type=int, default=500,
                   help="SLSQP up to this n (dense; LUKVLE1 n=1000 ran > 6 min unfinished)")
    d = sub.add_parser("kernel")
    d.add_argument("--sizes", type=int, nargs="+", default=[10, 50, 200])
    e = sub.add_parser("xp")
    e.add_argument("--device", default="numpy-xp",
                   help="numpy-xp: the xp code on NumPy (stand-in backend); or a real device (cuda)")
    e.add_argument("--sizes", type=int, nargs="+", default=[500, 2000])
    e.add_argument("--steps", type=int, default=20)
    for p in (a, b, c, d, e):
        p.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    if args.part in ("repro", "peers") and available():
        print(available(), file=sys.stderr)
        return 2
    out = {"repro": repro, "peers": peers, "scale": scale, "kernel": kernel, "xp": xp_path}[args.part](args)
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
