"""Benchmark of the convex_relu plugin against the targets of issue 9 (docs/benchmarks.md).

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_convex_relu.py [--quick] [--out FILE]
        [--sets ADDRESS ...]     (only these problems, main table only)

Validation table (issue 23): ``--validation [--lists tuning validation] [--sets-only NAME ...]``:
the data sets of VALIDATION_LISTS (fixed before the route rule of convex-relu-auto was tuned: the
rule's thresholds were read off the tuning list only), each run in this one process with
single-threaded BLAS: CLARABEL (convex-relu-cvxpy, the reference f*), convex-relu-admm with
defaults and convex-relu-auto with defaults, CPU seconds. A run counts as reaching f* when its
reported (feasible) objective is within 1e-5 relative of f*; the ratio is its time over
CLARABEL's (below 1: faster). Targets (issue 23): within 1e-5 everywhere, ratio <= 0.5 where
CLARABEL needs more than 1 s, <= 1.5 where it needs less.

Scale table (issue 25): ``--scale [--sizes 1000 10000 100000] [--time-limit 60]``: synthetic
regression (planted ReLU net, d = 10, P = 20, squared loss, beta by the data-scaled rule), each
solver in its own child process (wall seconds, the child's peak resident memory, killed at twice
the limit when a solver does not stop): convex-relu-admm with defaults and CLARABEL
(convex-relu-cvxpy); scnn when installed.

One process, one thread, CPU seconds (time.process_time). For each data set: CVXPY + CLARABEL (the
reference optimum f*), the paper's ADMM (time until its objective stays within 1e-5 relative of
f*, the cone violation of that point, and its state when CLARABEL's time is spent), ADMM with
polishing (CPU time of a run that returns a certified point within 1e-5 of f*), Adam on the
nonconvex net (objective, accuracy). Then the
warm-start certificate (Adam's patterns added to the pool) and adversarial training (hinge loss,
eps = 0.2, PGD attack with 50 steps on the recovered network). scnn (pyscnn) is used when it is
installed (it is not by default: it needs torch).
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import solverhub as sh
from solverhub.plugins.convex_relu import ConvexReluAdmm, ConvexReluCvxpy, ReluAdam
from solverhub.plugins.convex_relu.adam import adam_train
from solverhub.plugins.convex_relu.problem import network_predict


class Recorder:
    """Notifier recording (cpu seconds, objective, cone violation proxy) per iteration."""

    def __init__(self):
        self.t0 = time.process_time()
        self.rows = []

    def iteration(self, k, info):
        self.rows.append((time.process_time() - self.t0, info["objective"], k))

    def incumbent(self, *a):
        pass


def time_to_target(rows, fstar, tol=1e-5):
    """First CPU time (and iteration) after which the objective stays within tol (relative) of
    f*; (None, None) when it never does."""
    hit = (None, None)
    for t, f, k in rows:
        if abs(f - fstar) <= tol * abs(fstar):
            if hit[0] is None:
                hit = (t, k)
        else:
            hit = (None, None)
    return hit


def cpu(fn):
    t = time.process_time()
    out = fn()
    return out, time.process_time() - t


def pgd_accuracy(pb, W1, w2, eps, steps=50):
    """Test accuracy under an l_inf PGD attack of radius eps (bias column not perturbed)."""
    X, Y = pb.X_test.copy(), pb.Y_test[:, 0]
    if eps == 0:
        return float(np.mean(np.sign(network_predict(X, W1, w2)[:, 0] + 1e-300) == Y))
    nb = pb.nonbias
    delta = np.zeros_like(X)
    alpha = 2.5 * eps / steps
    for _ in range(steps):
        A = (X + delta) @ W1[0]                                    # (n, m)
        grad = ((A > 0) * w2[0]) @ W1[0].T                         # d f / d x
        delta[:, nb] -= alpha * np.sign(Y[:, None] * grad[:, nb])
        delta = np.clip(delta, -eps, eps)
        if pb.bias:
            delta[:, -1] = 0.0
    Z = network_predict(X + delta, W1, w2)[:, 0]
    return float(np.mean(np.where(Z >= 0, 1.0, -1.0) == Y))


def bench_dataset(address, admm_iters, out):
    pb = sh.load_problem(address)
    ref, t_ref = cpu(lambda: ConvexReluCvxpy(solver="CLARABEL").solve(pb))
    fstar = ref.objective
    rec = Recorder()
    res, t_admm = cpu(lambda: ConvexReluAdmm(max_iterations=admm_iters, polish=False).solve(
        pb, notifier=rec, time_limit=max(2.0 * t_ref, 10.0)))
    t_hit, k_hit = time_to_target(rec.rows, fstar)
    # the cone violation of the point where ADMM first stays within 1e-5 (same iterates: rerun
    # to that iteration); CLARABEL's own is ~1e-9, its feasibility tolerance 1e-8
    cone_hit = None
    if k_hit is not None:
        cone_hit = pb.cone_violation(ConvexReluAdmm(max_iterations=k_hit, polish=False)
                                     .solve(pb).x)
    # ADMM with polishing (polish.py): the CPU time of the whole run when it returns a certified
    # point within 1e-5 of f* (its cone violation is that of the returned point)
    pol, t_pol = cpu(lambda: ConvexReluAdmm(max_iterations=admm_iters, polish=True).solve(
        pb, time_limit=max(2.0 * t_ref, 10.0)))
    pol_ok = bool(pol.info.get("polished")) and abs(pol.objective - fstar) <= 1e-5 * abs(fstar)
    # where ADMM stands at CLARABEL/5 and CLARABEL/10 of the time
    def at(frac):
        rows = [f for t, f, _ in rec.rows if t <= t_ref / frac]
        return abs(rows[-1] - fstar) / fstar if rows else math.inf
    adam, t_adam = cpu(lambda: ReluAdam(width=50, max_iterations=2000).solve(pb))
    sh_ref = pb.scores(*pb.recover(ref.x))
    sh_admm = pb.scores(*pb.recover(res.x))
    key = "test_accuracy" if "test_accuracy" in sh_ref else "test_r2"
    row = dict(data=address, n=pb.n_samples, d=pb.d, P=pb.P, c=pb.c, f_clarabel=fstar,
               t_clarabel=t_ref, f_admm=res.objective, gap_admm=(res.objective - fstar) / fstar,
               cone_admm=pb.cone_violation(res.x), it_admm=res.iterations, t_admm=t_admm,
               status_admm=res.status.value, t_hit=t_hit, k_hit=k_hit, cone_hit=cone_hit,
               cone_clarabel=pb.cone_violation(ref.x), gap_at5=at(5), gap_at10=at(10),
               t_pol=t_pol if pol_ok else None, it_pol=pol.iterations,
               gap_pol=(pol.objective - fstar) / fstar, cone_pol=pb.cone_violation(pol.x),
               cert_pol=pol.info.get("polish_relative_gap"),
               f_adam=adam.objective, t_adam=t_adam, acc_clarabel=sh_ref.get(key),
               acc_admm=sh_admm.get(key), acc_adam=adam.metrics.get(key))
    out.append(row)
    print(row, flush=True)
    return row


def pol_cell(r):
    cert = f"{r['cert_pol']:.0e}" if r["cert_pol"] is not None else "not certified"
    t = f"{r['t_pol']:.2f}" if r["t_pol"] is not None else "-"
    return f"{t} ({r['it_pol']}; {r['gap_pol']:.1e}, {r['cone_pol']:.0e}, {cert})"


def pol_ratio(r):
    return r["t_clarabel"] / r["t_pol"] if r["t_pol"] else None


def main_table(rows):
    """The markdown table of bench_dataset rows (docs/benchmarks.md)."""
    lines = ["| data | n x d | P | CLARABEL f* (cone viol.) | CLARABEL s | ADMM s to 1e-5 (iters) "
             "| ratio | cone viol. there | ADMM gap at t*/5 | ADMM final gap (iters, cone viol.) "
             "| ADMM + polish s (iters; gap to f*, cone viol., certified gap) | ratio "
             "| Adam f | Adam s | test acc CLARABEL / ADMM / Adam |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ratio = f"{r['t_clarabel'] / r['t_hit']:.1f}x" if r["t_hit"] else "not reached"
        hit = f"{r['t_hit']:.2f} ({r['k_hit']})" if r["t_hit"] else "-"
        cone_hit = f"{r['cone_hit']:.0e}" if r["cone_hit"] is not None else "-"
        lines.append(
            f"| {r['data'].split(':', 1)[1]} (c={r['c']}) | {r['n']} x {r['d']} | {r['P']} | "
            f"{r['f_clarabel']:.7f} ({r['cone_clarabel']:.0e}) | {r['t_clarabel']:.1f} | {hit} | "
            f"{ratio} | {cone_hit} | "
            f"{r['gap_at5']:.1e} | {r['gap_admm']:.1e} ({r['it_admm']}, {r['cone_admm']:.0e}) | "
            f"{pol_cell(r)} | "
            f"{f'{r_pol:.1f}x' if (r_pol := pol_ratio(r)) else 'not reached'} | "
            f"{r['f_adam']:.5f} | {r['t_adam']:.1f} | {r['acc_clarabel']:.3f} / "
            f"{r['acc_admm']:.3f} / {r['acc_adam']:.3f} |")
    return lines


def _scale_problem(n, d=10, P=20, seed=0):
    from solverhub.plugins.convex_relu import ReLUTraining
    from solverhub.plugins.convex_relu.data import beta_rule
    from solverhub.plugins.convex_relu.problem import sample_patterns

    rng = np.random.default_rng(seed)
    X = np.hstack([rng.standard_normal((n, d - 1)), np.ones((n, 1))])
    W = rng.standard_normal((d, 3))
    y = np.maximum(X @ W, 0.0) @ np.array([1.0, -1.0, 0.5]) + 0.1 * rng.standard_normal(n)
    y -= y.mean()
    gates, D = sample_patterns(X, P, seed)
    return ReLUTraining(X, y, loss="squared", beta=beta_rule(X, y, D), gates=gates, patterns=D,
                        name=f"scale-n{n}")


def _scale_child(n, solver, time_limit, conn):
    import resource

    try:
        pb = _scale_problem(n)
        t = time.perf_counter()
        if solver == "scnn":
            from peer_scnn import solve_problem

            f = solve_problem(pb)
            out = dict(status="done", objective=float(f), bound=None)
        else:
            r = sh.solve(pb, solver=solver, time_limit=time_limit)
            out = dict(status=r.status.value, objective=r.objective, bound=r.bound,
                       viol=r.metrics.get("cone_violation"))
        out["wall"] = time.perf_counter() - t
    except Exception as exc:                                # reported in the table
        out = dict(status=f"error: {str(exc)[:80]}", wall=None)
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    conn.send(out)


def scale_table(sizes, time_limit):
    import importlib.util
    import multiprocessing as mp

    solvers = ["convex-relu-admm", "convex-relu-cvxpy"]
    if importlib.util.find_spec("scnn") is not None:
        solvers.append("scnn")
    lines = ["| n | solver | status | wall s | peak MB | objective | gap to bound | "
             "cone violation |", "|---|---|---|---|---|---|---|---|"]
    ctx = mp.get_context("fork")
    for n in sizes:
        for solver in solvers:
            a, b = ctx.Pipe(False)
            t = time.perf_counter()
            p = ctx.Process(target=_scale_child, args=(n, solver, time_limit, b))
            p.start()
            out = None
            if a.poll(2 * time_limit + 30):
                out = a.recv()
            p.join(5)
            if p.is_alive():
                p.kill()
                p.join()
            if out is None:
                out = dict(status=f"killed after {time.perf_counter() - t:.0f} s", wall=None,
                           peak_mb=None)
            f, bd = out.get("objective"), out.get("bound")
            gap = (f - bd) / max(abs(f), 1e-300) if f is not None and bd is not None else None
            def fmt(v, spec):
                return "-" if v is None else format(v, spec)

            lines.append(f"| {n} | {solver} | {out['status']} | {fmt(out.get('wall'), '.1f')} | "
                         f"{fmt(out.get('peak_mb'), '.0f')} | {fmt(f, '.8g')} | "
                         f"{fmt(gap, '.1e')} | {fmt(out.get('viol'), '.0e')} |")
            print(lines[-1], flush=True)
    return lines


def _npz(tmp, name, X, y):
    import os

    path = os.path.join(tmp, f"{name}.npz")
    np.savez(path, X=X, y=y)
    return path


def _planted(n, d, units, noise, seed):
    """Regression data from a planted ReLU network (d features, ``units`` hidden units)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    W = rng.standard_normal((d, units))
    return X, np.maximum(X @ W, 0.0) @ rng.standard_normal(units) + noise * rng.standard_normal(n)


def _validation_sets(tmp):
    """name -> (list, builder). The lists were fixed before convex-relu-auto's rule was tuned:
    ``tuning`` holds the sets the diagnosis and the rule's thresholds were read from (including
    the issue's eight), ``validation`` sets that were first run after the rule was fixed
    (regression, multi-class, synthetic, larger n, a margin loss)."""
    from sklearn import datasets as skd

    from solverhub.plugins.convex_relu.data import make_problem

    def file_set(name, X, y, **kw):
        return lambda: make_problem(_npz(tmp, name, X, y), P=kw.pop("P", 50), **kw)

    def bundled(name, **kw):
        return lambda: make_problem(name, P=kw.pop("P", 50), **kw)

    sets = {
        # tuning: the issue's sets and the two margin losses
        "moons": ("tuning", file_set("moons", *skd.make_moons(400, noise=0.2, random_state=0))),
        "circles": ("tuning", file_set("circles", *skd.make_circles(400, noise=0.1, factor=0.5,
                                                                     random_state=0))),
        "classification-20d": ("tuning", file_set("class20", *skd.make_classification(
            500, n_features=20, n_informative=10, random_state=0))),
        "digits 4-9": ("tuning", bundled("digits", classes="4,9")),
        "breast_cancer": ("tuning", bundled("breast_cancer")),
        "diabetes (regression)": ("tuning", bundled("diabetes")),
        "wine (3-class)": ("tuning", bundled("wine")),
        "synthetic 20-d regression, n=1000": ("tuning", file_set("synth20", *_planted(
            1000, 20, 5, 0.3, 1))),
        "breast_cancer hinge": ("tuning", bundled("breast_cancer", loss="hinge")),
        "moons logistic": ("tuning", file_set("moons_log", *skd.make_moons(
            400, noise=0.2, random_state=0), loss="logistic")),
        # validation: run only after the rule was fixed
        "friedman1 (regression), n=600": ("validation", file_set("friedman1", *skd.make_friedman1(
            600, n_features=10, noise=1.0, random_state=3))),
        "make_regression 30-d, effective rank 5": ("validation", file_set(
            "reg30", *skd.make_regression(500, n_features=30, effective_rank=5, noise=5.0,
                                          random_state=4))),
        "iris (3-class)": ("validation", bundled("iris")),
        "digits 0,1,2 (3-class)": ("validation", bundled("digits", classes="0,1,2")),
        "classification 3-class 15-d": ("validation", file_set("class3", *skd.make_classification(
            450, n_features=15, n_informative=8, n_classes=3, random_state=5))),
        "digits 5-6": ("validation", bundled("digits", classes="5,6")),
        "synthetic 8-d regression, n=1400": ("validation", file_set("synth8", *_planted(
            2000, 8, 4, 0.2, 6), P=30)),
        "synthetic 6-d regression, n=2800 (split u-step)": ("validation", file_set(
            "synth6", *_planted(4000, 6, 3, 0.2, 7), P=20)),
        "digits 5-6 logistic": ("validation", bundled("digits", classes="5,6", loss="logistic")),
        # margin losses and adversarial training (issue 23, the working-set polish): the
        # tuning sets decided convex-relu-auto's admm-margin branch, the validation sets were
        # fixed before and run after it (digits 5-6 logistic above had been looked at while
        # the polish was written; see docs/benchmarks.md)
        "moons hinge, adversarial eps=0.1": ("tuning", file_set("moons_adv", *skd.make_moons(
            400, noise=0.2, random_state=0), loss="hinge", eps=0.1)),
        # breast_cancer logistic and classification 10-d logistic were validation sets of
        # session 4; session 5 diagnosed and tuned the logistic polish on them, so they are
        # tuning sets now (the "fresh" list below is the validation for that work)
        "breast_cancer logistic": ("tuning", bundled("breast_cancer", loss="logistic")),
        "digits 3-8 hinge": ("validation", bundled("digits", classes="3,8", loss="hinge")),
        "circles logistic": ("validation", file_set("circles_log", *skd.make_circles(
            400, noise=0.1, factor=0.5, random_state=1), loss="logistic")),
        "classification 10-d logistic": ("tuning", file_set("class10_log",
            *skd.make_classification(300, n_features=10, n_informative=5, random_state=8),
            loss="logistic")),
        "circles logistic, adversarial eps=0.1": ("validation", file_set(
            "circles_adv", *skd.make_circles(300, noise=0.1, factor=0.5, random_state=2),
            loss="logistic", eps=0.1)),
        # fresh: margin-loss sets fixed at the start of session 5 (issue 23, the logistic
        # polish's start set and the margin route), before any of them was run; none of them
        # was used to choose a setting
        "fresh: wine logistic (3-class)": ("fresh", bundled("wine", loss="logistic")),
        "fresh: iris logistic (3-class)": ("fresh", bundled("iris", loss="logistic")),
        "fresh: digits 1-7 logistic": ("fresh", bundled("digits", classes="1,7",
                                                        loss="logistic")),
        "fresh: classification 8-d logistic, n=500": ("fresh", file_set(
            "class8_log", *skd.make_classification(500, n_features=8, n_informative=4,
                                                   random_state=11), loss="logistic")),
        "fresh: moons logistic, adversarial eps=0.05": ("fresh", file_set(
            "moons_adv_log", *skd.make_moons(500, noise=0.25, random_state=9),
            loss="logistic", eps=0.05)),
        "fresh: digits 2-3 hinge": ("fresh", bundled("digits", classes="2,3", loss="hinge")),
        "fresh: classification 6-d hinge, n=400": ("fresh", file_set(
            "class6_hinge", *skd.make_classification(400, n_features=6, n_informative=3,
                                                     random_state=12), loss="hinge")),
        # fresh-sq (session 5, issue 23; run as "fresh" before the margin worktree's list of
        # that name was merged): squared-loss sets fixed at 16:15 UTC on 2026-12-07, before any
        # of them was run, to check the admm-conic route's Newton-first rule (its churn test
        # from round 6 with the gap-progress clause, read off the two 20-d tuning sets only);
        # none of them was in the lists above
        "make_regression 25-d, effective rank 8": ("fresh-sq", file_set(
            "reg25", *skd.make_regression(500, n_features=25, effective_rank=8, noise=3.0,
                                          random_state=21))),
        "friedman1 20-d (15 noise features)": ("fresh-sq", file_set("friedman20", *skd.make_friedman1(
            500, n_features=20, noise=1.0, random_state=22))),
        "sparse uncorrelated 16-d regression": ("fresh-sq", file_set(
            "sparse16", *skd.make_sparse_uncorrelated(500, n_features=16, random_state=23))),
        "classification 4-class 18-d": ("fresh-sq", file_set("class4", *skd.make_classification(
            400, n_features=18, n_informative=9, n_classes=4, random_state=24))),
        "digits 1-7": ("fresh-sq", bundled("digits", classes="1,7")),
        "synthetic 14-d regression, n=1500": ("fresh-sq", file_set("synth14", *_planted(
            1500, 14, 4, 0.3, 25), P=30)),
        "make_regression 40-d, effective rank 12, n=700": ("fresh-sq", file_set(
            "reg40", *skd.make_regression(700, n_features=40, effective_rank=12, noise=3.0,
                                          random_state=26))),
        "low-rank 24-d planted regression": ("fresh-sq", file_set("lowrank24", *_low_rank_planted(
            500, 24, 6, 27))),
        # fresh-sq-2 (session 5): fixed at 16:50 UTC, before any was run, after the fresh list
        # showed the churn test's progress clause deciding digits 1-7 on the admm route:
        # squared-loss sets of effective dimension <= 13 (the admm route) never used above
        "digits 2-3": ("fresh-sq-2", bundled("digits", classes="2,3")),
        "digits 0-8": ("fresh-sq-2", bundled("digits", classes="0,8")),
        "classification 3-class 12-d": ("fresh-sq-2", file_set("class3b", *skd.make_classification(
            400, n_features=12, n_informative=6, n_classes=3, random_state=31))),
        "synthetic 10-d regression, n=800": ("fresh-sq-2", file_set("synth10", *_planted(
            800, 10, 4, 0.3, 32))),
    }
    return sets


def _low_rank_planted(n, d, rank, seed):
    """A planted ReLU network (3 units) on d-dimensional data of effective rank ``rank``
    (scikit-learn's make_low_rank_matrix), with noise."""
    from sklearn.datasets import make_low_rank_matrix

    rng = np.random.default_rng(seed)
    X = make_low_rank_matrix(n, d, effective_rank=rank, random_state=seed) * np.sqrt(n)
    W = rng.standard_normal((d, 3))
    return X, np.maximum(X @ W, 0.0) @ rng.standard_normal(3) + 0.2 * rng.standard_normal(n)


def _within(f, fstar, tol=1e-5):
    # no reference when CLARABEL itself fails (the row says so)
    return fstar is not None and f is not None and math.isfinite(f) \
        and f - fstar <= tol * abs(fstar)


def validation_row(name, which, pb, time_factor):
    from solverhub.plugins.convex_relu import ConvexReluAuto
    from solverhub.plugins.convex_relu.auto import effective_dimension

    w0 = time.perf_counter()
    ref, t_ref = cpu(lambda: ConvexReluCvxpy(solver="CLARABEL").solve(pb))
    fstar = ref.objective
    # the limits are wall-clock: a multiple of CLARABEL's wall time, so that on a loaded machine
    # the ADMM gets about time_factor times CLARABEL's CPU time too
    limit = max(time_factor * (time.perf_counter() - w0), 5.0)
    admm, t_admm = cpu(lambda: ConvexReluAdmm().solve(pb, time_limit=limit))
    auto, t_auto = cpu(lambda: ConvexReluAuto().solve(pb, time_limit=limit))
    row = dict(name=name, list=which, n=pb.n_samples, d=pb.d, P=pb.P, c=pb.c, loss=pb.loss,
               dim=effective_dimension(pb.X), fstar=fstar, t_ref=t_ref,
               ref_status=ref.status.value, f_admm=admm.objective, t_admm=t_admm,
               admm_ok=_within(admm.objective, fstar), admm_status=admm.status.value,
               f_auto=auto.objective, t_auto=t_auto, auto_ok=_within(auto.objective, fstar),
               route=auto.route.name if auto.route else None, limit=limit,
               auto_polish=[a["reason"] for a in auto.info.get("polish_attempts", [])])
    if row["route"] and row["route"].startswith("admm-conic"):
        # the conic polish alone (the admm-conic route without its hand-over), for comparison
        conic, t_conic = cpu(lambda: ConvexReluAdmm(
            polish_method="conic", polish_row_tol=0.2, polish_group_tol=0.01,
            max_polish_failures=2).solve(pb, time_limit=limit))
        row.update(f_conic=conic.objective, t_conic=t_conic,
                   conic_ok=_within(conic.objective, fstar))
    print(row, flush=True)
    return row


def _target_met(r, t_key, ok_key):
    if not r[ok_key]:
        return False
    ratio = r[t_key] / r["t_ref"]
    return ratio <= 0.5 if r["t_ref"] > 1.0 else ratio <= 1.5


def validation_table(rows):
    lines = ["| list | data | n x d, P, c | loss | eff. dim | CLARABEL s (f*) | ADMM: ratio, gap to f* "
             "| auto route | auto: ratio, gap to f* | auto meets target "
             "| conic polish alone (ADMM + polish_conic, no hand-over): ratio, gap |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        def cell(f, t, ok):
            gap = (f - r["fstar"]) / abs(r["fstar"]) if f is not None and r["fstar"] is not None \
                else math.nan
            return f"{t / r['t_ref']:.2f}{'' if ok else ' (not within 1e-5)'}, {gap:+.1e}"
        lines.append(
            f"| {r['list'] if r['list'] == 'tuning' else '**' + r['list'] + '**'} | {r['name']} | "
            f"{r['n']} x {r['d']}, {r['P']}, {r['c']} | {r['loss']} | {r['dim']:.1f} | "
            f"{r['t_ref']:.2f} ({r['fstar'] if r['fstar'] is None else format(r['fstar'], '.8g')}"
            f"{'' if r['ref_status'] == 'optimal' else ', ' + r['ref_status']}) | "
            f"{cell(r['f_admm'], r['t_admm'], r['admm_ok'])} | "
            f"{r['route']} | {cell(r['f_auto'], r['t_auto'], r['auto_ok'])} | "
            f"{'yes' if _target_met(r, 't_auto', 'auto_ok') else 'no'} | "
            f"{cell(r['f_conic'], r['t_conic'], r['conic_ok']) if 't_conic' in r else '-'} |")
    for which in ("tuning", "validation", "fresh", "fresh-sq", "fresh-sq-2"):
        part = [r for r in rows if r["list"] == which]
        if part:
            met = sum(_target_met(r, "t_auto", "auto_ok") for r in part)
            admm_met = sum(_target_met(r, "t_admm", "admm_ok") for r in part)
            lines.append(f"\n{which}: convex-relu-auto meets the target on {met} of {len(part)}, "
                         f"convex-relu-admm on {admm_met} of {len(part)}.")
    return lines


def run_validation(lists, names, time_factor, out):
    import tempfile

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (which, build) in _validation_sets(tmp).items():
            if which not in lists or (names and not any(k in name for k in names)):
                continue
            rows.append(validation_row(name, which, build(), time_factor))
    text = "\n".join(validation_table(rows))
    print(text)
    if out:
        with open(out, "w") as fh:
            fh.write(text + "\n")


_CHILD = """
import sys, time
from solverhub.core.cli import main
from solverhub.plugins.convex_relu import polish
real = polish._restricted_conic
def marked(*a, **k):
    print("CONIC-SOLVE", time.perf_counter(), file=sys.stderr, flush=True)
    return real(*a, **k)
polish._restricted_conic = marked
print("START", time.perf_counter(), file=sys.stderr, flush=True)
rc = main(sys.argv[1:])
print("DONE", time.perf_counter(), file=sys.stderr, flush=True)
sys.exit(rc)
"""


def stop_check(names, delay=0.5):
    """Time limit and Ctrl-C inside the conic polish (issue 23): ``solverhub solve ... --solver
    convex-relu-auto --json`` on each named validation set in a child process (single-threaded
    BLAS). Run 1: SIGINT ``delay`` s after the child enters the restricted CLARABEL solve; the
    latency is the wall time from the signal to the CLI's return. Run 2: a time limit that ends
    ``delay`` s into that solve (from run 1's timing); the overrun is the time from the CLI's
    start to its return (JSON written; imports before and interpreter exit after are not
    counted: a loaded machine takes 1-2 s for each) past the limit. Prints one line per run."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import tempfile

    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    lines = ["| data | run | status | route | polish attempts "
             "| s from the signal / past the limit to the CLI's return |",
             "|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for name, (_which, build) in _validation_sets(tmp).items():
            if not any(k in name for k in names):
                continue
            pb = build()
            path = os.path.join(tmp, "stop.npz")
            # the loaded problem as a file: standardized X with its bias column, labels as given
            np.savez(path, X=pb.X[:, :-1], y=pb.Y[:, 0] if pb.c == 1 else pb.Y.argmax(1))
            addr = (f"dataset:{path}?P={pb.P}&loss={pb.loss}&beta={pb.beta!r}&test_size=0"
                    f"&standardize=false")
            cmd = [sys.executable, "-c", _CHILD, "solve", addr, "--solver", "convex-relu-auto",
                   "--json"]
            t_solve = 0.0
            for run in ("SIGINT", "time limit"):
                extra = [] if run == "SIGINT" else ["--time-limit", f"{t_solve + delay:.2f}"]
                child = subprocess.Popen(cmd + extra, env=env, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True)
                assert child.stderr is not None
                t_start = float(child.stderr.readline().split()[1])
                line = child.stderr.readline()
                t_mark = time.perf_counter()
                if run == "SIGINT":
                    t_solve = t_mark - t_start
                    time.sleep(delay)
                    t_sig = time.perf_counter()
                    child.send_signal(signal.SIGINT)
                out, err = child.communicate()
                done = [float(x.split()[1]) for x in err.splitlines() if x.startswith("DONE")]
                t_end = done[0] if done else math.nan
                past = t_end - t_sig if run == "SIGINT" else t_end - t_start - (t_solve + delay)
                try:
                    res = json.loads(out)
                except ValueError:
                    res = {"status": f"no JSON (rc {child.returncode}): {err[-200:]}"}
                info = res.get("info", {})
                attempts = "; ".join(a.get("reason", "") for a in info.get("polish_attempts", []))
                lines.append(f"| {name} | {run}{'' if line.startswith('CONIC') else ' (no conic solve)'} "
                             f"| {res.get('status')} | {(res.get('route') or {}).get('name')} | {attempts} "
                             f"| {past:.2f} |")
                print(lines[-1], flush=True)
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--validation", action="store_true", help="the validation table (issue 23)")
    ap.add_argument("--lists", nargs="+", default=["tuning", "validation"],
                    choices=["tuning", "validation", "fresh", "fresh-sq", "fresh-sq-2"],
                    help="validation table: which lists (fresh: the margin-loss sets fixed in "
                         "session 5; fresh-sq, fresh-sq-2: session 5's squared-loss sets)")
    ap.add_argument("--only", nargs="+", default=None, metavar="NAME",
                    help="validation table: only sets whose name contains one of these")
    ap.add_argument("--time-factor", type=float, default=3.0,
                    help="validation table: ADMM time limit = this x CLARABEL's wall time "
                         "(>= 5 s)")
    ap.add_argument("--scale", action="store_true", help="the scale table (issue 25) only")
    ap.add_argument("--sizes", nargs="+", type=int, default=[1000, 3000, 10000, 30000, 100000])
    ap.add_argument("--time-limit", type=float, default=60.0, help="per solver, scale table")
    ap.add_argument("--stop-check", action="store_true", help="time limit and Ctrl-C inside "
                    "the conic polish, on the --only sets (issue 23)")
    ap.add_argument("--quick", action="store_true", help="P = 50 data sets only")
    ap.add_argument("--out", default=None, help="write the markdown table here")
    ap.add_argument("--sets", nargs="+", default=None, metavar="ADDRESS",
                    help="run only these problem addresses (main table only; no warm-start or "
                         "adversarial part), e.g. 'dataset:digits?classes=1,7&P=50'")
    args = ap.parse_args()
    if args.validation:
        run_validation(args.lists, args.only, args.time_factor, args.out)
        return
    if args.stop_check:
        print("\n".join(stop_check(args.only or ["make_regression 30-d"])))
        return
    if args.scale:
        text = "\n".join(scale_table(args.sizes, args.time_limit))
        print(text)
        if args.out:
            with open(args.out, "w") as fh:
                fh.write(text + "\n")
        return
    rows = []
    sets = ["dataset:breast_cancer?P=50", "dataset:digits?classes=3,8&P=50",
            "dataset:wine?P=50", "dataset:iris?classes=1,2&P=50"]
    if not args.quick:
        sets.insert(1, "dataset:breast_cancer?P=200")
    if args.sets:
        sets = args.sets
    for s in sets:
        bench_dataset(s, 200000, rows)
    if args.sets:
        text = "\n".join(main_table(rows))
        print(text)
        for r in rows:
            print(f"{r['data']}: CLARABEL {r['t_clarabel']:.2f} s, ADMM+polish {pol_cell(r)}, "
                  f"ratio {f'{x:.1f}x' if (x := pol_ratio(r)) else 'not reached'}")
        if args.out:
            with open(args.out, "w") as fh:
                fh.write(text + "\n")
        return

    # warm start: the Adam net's own patterns in the pool -> the convex optimum certifies <= Adam
    pbw = sh.load_problem("dataset:breast_cancer?P=50&warm_start=adam&warm_width=50"
                          "&warm_iterations=2000")
    pb0 = sh.load_problem("dataset:breast_cancer?P=50")
    W1, w2 = adam_train(pb0.X, pb0.Y, loss="squared", beta=pb0.beta, width=50, iterations=2000,
                        seed=0)
    f_adam = pb0.network_objective(W1, w2)
    warm, t_warm = cpu(lambda: ConvexReluCvxpy().solve(pbw))
    warm_row = dict(P=pbw.P, f_convex=warm.objective, f_adam=f_adam, t=t_warm,
                    certified=warm.objective <= f_adam)
    print("warm", warm_row, flush=True)

    # adversarial: hinge, P = 50, standard vs robust loss eps = 0.2; PGD on the recovered nets
    adv = {}
    for eps in (0.0, 0.2):
        pb = sh.load_problem(f"dataset:breast_cancer?P=50&loss=hinge&eps={eps}")
        r, t = cpu(lambda: ConvexReluAdmm(max_iterations=20000).solve(pb))
        W1, w2 = pb.recover(r.x)
        adv[eps] = dict(t=t, status=r.status.value,
                        acc={a: pgd_accuracy(pb, W1, w2, a) for a in (0.0, 0.1, 0.2, 0.4)})
        print("adv", eps, adv[eps], flush=True)

    lines = main_table(rows)
    lines.append("")
    lines.append(f"Warm start (breast_cancer, P = 50 random + Adam's 50 units -> {warm_row['P']} "
                 f"patterns): convex optimum {warm_row['f_convex']:.6f} vs Adam net "
                 f"{warm_row['f_adam']:.6f}: certified {'yes' if warm_row['certified'] else 'NO'} "
                 f"(CLARABEL {warm_row['t']:.1f} s).")
    lines.append("")
    lines.append("| training (hinge, P = 50, ADMM) | clean | PGD eps 0.1 | 0.2 | 0.4 |")
    lines.append("|---|---|---|---|---|")
    for eps, a in adv.items():
        lines.append(f"| {'standard' if eps == 0 else f'robust loss eps={eps}'} | "
                     + " | ".join(f"{a['acc'][e]:.3f}" for e in (0.0, 0.1, 0.2, 0.4)) + " |")
    diff = adv[0.2]["acc"][0.2] - adv[0.0]["acc"][0.2]
    lines.append("")
    lines.append(f"PGD eps 0.2 accuracy, robust minus standard: {100 * diff:+.1f} points "
                 f"(target >= +15).")
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")


if __name__ == "__main__":
    main()
