"""scnn (PyPI ``pyscnn``, Mishkin, Sahiner, Pilanci, ICML 2022) as a comparison peer of
``convex-relu-*``: its augmented Lagrangian (AL) solver for the convex ReLU program, run on OUR
patterns and scored on OUR objective.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/peer_scnn.py [--P 50] [--quick]

Install (paper note; torch from PyPI, 2.13.0 CPU wheel here):
    pip install torch==2.13.0 opt_einsum tqdm cvxpy scikit-learn
    pip install --no-deps linalg_backends==0.0.1b0 pyscnn==0.0.10

Scaling: scnn minimises (1/(2n)) ||sum_i D_i X (v_i - w_i) - y||^2 + lambda sum_i (||v_i|| + ||w_i||)
(``squared_error / (2 * y.shape[0])`` plus ``NeuronGL1(lambda)``), which is our convention
(problem.py) with lambda = beta, for the squared loss only (scnn's AL model is squared-loss only).
We still recompute the objective from scnn's returned convex weights with
``ReLUTraining.objective``, so nothing depends on that reading. Configuration as the note says:
``unitize_data=False`` (scnn would otherwise rescale the columns and solve another problem),
``bias=False`` (our X already has the ones column), float64, one torch thread, and scnn's own
gates replaced by ours (``ConvexReLU(G=problem.gates)``): scnn removes duplicate and all-zero
patterns as we do (``np.unique`` order), and :func:`train_scnn` checks that the pattern sets agree.
Several outputs run, but scnn stopped 17 % above CLARABEL on wine with c = 3 (docs/benchmarks.md):
compare on single-output problems.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["ScnnRun", "scnn_unavailable", "train_scnn", "solve_problem"]


def scnn_unavailable() -> str | None:
    """None when scnn and torch import, else why not (one line)."""
    try:
        import torch  # noqa: F401
        import scnn.optimize  # noqa: F401
    except Exception as exc:  # ImportError, or torch failing to load its libraries
        return (f"scnn peer unavailable: {type(exc).__name__}: {exc} (install: pip install "
                f"torch==2.13.0 opt_einsum tqdm; pip install --no-deps linalg_backends==0.0.1b0 "
                f"pyscnn==0.0.10)")
    return None


@dataclass
class ScnnRun:
    """One scnn AL run, scored on our objective (problem.py convention)."""

    objective: float            # ours, recomputed from scnn's convex weights
    scnn_objective: float       # scnn formula on scnn patterns (cross-checks the mapping)
    cone_violation: float       # ours (relative, ReLUTraining.cone_violation)
    cpu_time: float             # process CPU seconds of scnn's optimize_model call
    wall_time: float
    train_accuracy: float
    test_accuracy: float | None
    x: np.ndarray = field(repr=False)   # (c, 2, P, d) in OUR pattern order
    options: dict[str, Any] = field(default_factory=dict)


def _pattern_keys(D: np.ndarray) -> list[bytes]:
    return [np.packbits(D[:, i]).tobytes() for i in range(D.shape[1])]


def train_scnn(X: np.ndarray, y: np.ndarray, gates: np.ndarray, beta: float, *,
               loss: str = "squared", X_test: np.ndarray | None = None,
               y_test: np.ndarray | None = None, tol: float = 1e-6,
               constraint_tol: float = 1e-6, max_primal_iters: int = 10000,
               max_dual_iters: int = 10000, delta: float = 1000.0, threads: int = 1,
               verbose: bool = False) -> ScnnRun:
    """Train scnn's convex ReLU (AL solver) on ``X`` (n x d, ones column included), targets ``y``
    (n or n x c), gates (d x P), weight decay ``beta``; score it on our objective.

    ``tol`` / ``constraint_tol`` / ``max_*_iters`` / ``delta`` are scnn's ``AL`` options (its
    defaults here; ``max_primal_iters`` also caps the total inner iterations). ``delta`` has no
    effect in pyscnn 0.0.10: ``build_internal_model`` fixes the penalty at 1000 (checked: delta
    100 and 1000 give the same iterates). Raises ValueError naming the input for a loss scnn's
    AL does not have or for patterns that disagree with ours.
    """
    from solverhub.plugins.convex_relu.problem import ReLUTraining

    if loss != "squared":
        raise ValueError(f"loss={loss!r}: scnn's augmented Lagrangian (AL) solves the squared "
                         f"loss only")
    reason = scnn_unavailable()
    if reason:
        raise ImportError(reason)
    import torch
    from scnn.metrics import Metrics
    from scnn.models import ConvexReLU
    from scnn.optimize import optimize_model
    from scnn.regularizers import NeuronGL1
    from scnn.solvers import AL

    X = np.ascontiguousarray(X, dtype=np.float64)
    Y = np.asarray(y, dtype=np.float64).reshape(X.shape[0], -1)
    ours = ReLUTraining(X, Y, loss="squared", beta=beta, gates=gates, bias=False,
                        task="classification" if np.all(np.isin(Y, (-1.0, 1.0))) else "regression",
                        X_test=X_test, y_test=None if y_test is None
                        else np.asarray(y_test, dtype=np.float64).reshape(len(X_test), -1))
    torch.set_num_threads(threads)
    model = ConvexReLU(np.asarray(gates, dtype=np.float64), c=Y.shape[1], bias=False)
    solver = AL(model, max_primal_iters=max_primal_iters, max_dual_iters=max_dual_iters,
                tol=tol, constraint_tol=constraint_tol, delta=delta)
    metrics = Metrics(metric_freq=10 ** 9, objective=False, grad_norm=False, time=False)
    t_cpu, t_wall = time.process_time(), time.perf_counter()
    cvx, _ = optimize_model(model, solver, metrics, X, Y, regularizer=NeuronGL1(beta),
                            return_convex=True, unitize_data=False, verbose=verbose, device="cpu",
                            dtype="float64", seed=778)
    cpu_time, wall_time = time.process_time() - t_cpu, time.perf_counter() - t_wall

    # map scnn's blocks (its pattern order) onto ours
    V, W = (np.asarray(p, dtype=np.float64) for p in cvx.parameters[:2])     # (c, p, d)
    D_scnn = (X @ np.asarray(cvx.G, dtype=np.float64)) > 0
    # our problem keeps duplicate and all-zero patterns of raw gates (weights stay 0 there); scnn
    # drops them: every scnn pattern must be one of ours, and every non-zero one of ours in scnn's
    where: dict[bytes, int] = {}
    for i, k in enumerate(_pattern_keys(ours.D)):
        where.setdefault(k, i)
    keys = _pattern_keys(D_scnn)
    zero = np.packbits(np.zeros(X.shape[0], dtype=bool)).tobytes()
    if set(keys) - set(where) or set(where) - set(keys) - {zero}:
        raise ValueError(f"gates: scnn's {len(keys)} patterns differ from our {len(where)} "
                         f"distinct ones (a tie X g = 0?)")
    U = np.zeros((Y.shape[1], 2, ours.P, ours.d))
    for j, k in enumerate(keys):
        U[:, 0, where[k]] = V[:, j]
        U[:, 1, where[k]] = W[:, j]
    Z = np.einsum("nd,cpd->cnp", X, V - W)
    group_l1 = np.linalg.norm(V, axis=-1).sum() + np.linalg.norm(W, axis=-1).sum()
    scnn_loss = float(np.sum((np.einsum("cnp,np->nc", Z, D_scnn) - Y) ** 2) / (2 * X.shape[0])
                      + beta * group_l1)
    W1, w2 = ours.recover(U)
    acc = ours.scores(W1, w2)
    key = "train_r2" if ours.task == "regression" else "train_accuracy"
    return ScnnRun(objective=ours.objective(U), scnn_objective=scnn_loss,
                   cone_violation=ours.cone_violation(U), cpu_time=cpu_time, wall_time=wall_time,
                   train_accuracy=acc[key], test_accuracy=acc.get(key.replace("train", "test")),
                   x=U, options=dict(tol=tol, constraint_tol=constraint_tol,
                                     max_primal_iters=max_primal_iters,
                                     max_dual_iters=max_dual_iters, delta=delta))


def solve_problem(pb: Any, **options: Any) -> ScnnRun:
    """:func:`train_scnn` on a ``relu-training`` problem (its gates, beta, test data)."""
    if pb.gates is None:
        raise ValueError(f"{pb.name}: scnn needs gates (this problem was given patterns only)")
    return train_scnn(pb.X, pb.Y, pb.gates, pb.beta, loss=pb.loss, X_test=pb.X_test,
                      y_test=pb.Y_test, **options)


def main() -> None:
    import solverhub as sh
    from solverhub.plugins.convex_relu import ConvexReluCvxpy

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--P", type=int, default=50)
    ap.add_argument("--data", default="breast_cancer")
    ap.add_argument("--tols", default="1e-3,1e-4,1e-5,1e-6,1e-7,1e-8,1e-10",
                    help="scnn AL tol = constraint_tol values to sweep")
    ap.add_argument("--max-iters", type=int, default=100000,
                    help="scnn AL max_primal_iters (= its total inner-iteration cap) and "
                         "max_dual_iters")
    ap.add_argument("--verbose", action="store_true", help="scnn's own log")
    args = ap.parse_args()
    reason = scnn_unavailable()
    if reason:
        raise SystemExit(reason)
    pb = sh.load_problem(f"dataset:{args.data}?P={args.P}")
    t = time.process_time()
    ref = ConvexReluCvxpy(solver="CLARABEL").solve(pb)
    t_ref = time.process_time() - t
    fstar = ref.objective
    acc_ref = pb.scores(*pb.recover(ref.x))
    print(f"{pb}: CLARABEL f* = {fstar:.9f} in {t_ref:.2f} CPU s, test acc "
          f"{acc_ref.get('test_accuracy', float('nan')):.3f}", flush=True)
    lines = ["| scnn AL tol (= constraint_tol) | objective (ours) | rel. gap to CLARABEL | cone "
             "violation | CPU s | train / test acc |", "|---|---|---|---|---|---|"]
    t_hit = None
    for tol in (float(s) for s in args.tols.split(",")):
        run = solve_problem(pb, tol=tol, constraint_tol=tol, max_primal_iters=args.max_iters,
                            max_dual_iters=args.max_iters, verbose=args.verbose)
        gap = (run.objective - fstar) / abs(fstar)
        if t_hit is None and abs(gap) <= 1e-5 and run.cone_violation <= 1e-5:
            t_hit = run.cpu_time
        lines.append(f"| {tol:g} | {run.objective:.9f} | {gap:+.1e} | {run.cone_violation:.0e} | "
                     f"{run.cpu_time:.2f} | {run.train_accuracy:.3f} / "
                     f"{run.test_accuracy:.3f} |")
        print(lines[-1], f"(scnn's own objective {run.scnn_objective:.9f})", flush=True)
    # ours in the same process: convex-relu-admm with its defaults (polishing on)
    t = time.process_time()
    ours = sh.solve(pb, solver="convex-relu-admm")
    t_ours = time.process_time() - t
    gap = (ours.objective - fstar) / abs(fstar)
    lines.append(f"| convex-relu-admm (defaults: ADMM + polish), status {ours.status} | "
                 f"{ours.objective:.9f} | {gap:+.1e} | {ours.metrics.get('cone_violation', float('nan')):.0e}"
                 f" | {t_ours:.2f} | - |")
    print()
    print(f"{args.data} P={pb.P}: CLARABEL f* = {fstar:.9f} ({t_ref:.2f} CPU s)")
    print("\n".join(lines))
    print(f"scnn CPU s to 1e-5 relative of CLARABEL (first tol reaching it, cone viol <= 1e-5): "
          f"{'not reached' if t_hit is None else f'{t_hit:.2f}'}")


if __name__ == "__main__":
    main()
