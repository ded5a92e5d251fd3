"""The protocol of the ``relu-training`` kind: tolerance check (cone violation), metrics, small
conformance instances."""

from __future__ import annotations

from typing import Any

import numpy as np

from solverhub.core.kinds import KindProtocol, MetricSpec, Reference, Verification, relative_error, solution_vector

from .problem import ReLUTraining, sample_patterns

__all__ = ["ReLUTrainingKind", "make_synthetic"]


class ReLUTrainingKind(KindProtocol):
    """``x`` (the convex variables, shape (c, 2, P, d) flattened) is checked to a tolerance:
    only a wrong size or non-finite entries reject it. The relative cone violation, the recovery
    gap (|recovered network objective - convex objective|) and the accuracies are metrics; an
    ``optimal`` claim with a cone violation above ``cone_tol`` becomes ``feasible``."""

    exact = False
    metrics = (
        MetricSpec("objective_error", "|f - f*| / max(1, |f*|) to the reference optimum",
                   "lower", "geomean"),
        MetricSpec("cone_violation", "largest violation of (2D_i - I) X u_i >= 0, relative",
                   "lower", "geomean"),
        MetricSpec("recovery_gap", "|recovered ReLU net objective - convex objective| "
                                   "/ max(1, |f|)", "lower", "geomean"),
        MetricSpec("train_accuracy", "training accuracy of the recovered network", "higher"),
        MetricSpec("test_accuracy", "test accuracy of the recovered network", "higher"),
        MetricSpec("train_r2", "training R^2 (regression)", "higher"),
        MetricSpec("test_r2", "test R^2 (regression)", "higher"),
        MetricSpec("active_neurons", "hidden units of the recovered network", "lower"),
    )

    def __init__(self, cone_tol: float = 1e-5) -> None:
        self.cone_tol = float(cone_tol)

    context_features = ("samples", "features", "patterns", "beta")

    def context(self, problem: Any) -> dict[str, float]:
        """Sizes and the weight decay, for contextual tuners (``solverhub tune``)."""
        return {"samples": float(problem.n_samples), "features": float(problem.d),
                "patterns": float(problem.P), "beta": float(problem.beta)}

    def verify(self, problem: Any, x: Any) -> Verification | None:
        if not isinstance(problem, ReLUTraining):
            return None
        v = solution_vector(x, problem.size, "c*2*P*d")
        if isinstance(v, Verification):
            return v
        viol = problem.cone_violation(v)
        res = {"cone_violation": viol, "recovery_gap": problem.recovery_gap(v)}
        return Verification(ok=True, x=v, objective=problem.objective(v), residuals=res,
                            message=f"cone violation {viol:.3g} (tolerance {self.cone_tol:g})",
                            optimal_ok=viol <= self.cone_tol)

    def compute_metrics(self, problem: Any, result: Any, reference: Reference | None,
                        horizon: float) -> dict[str, float]:
        out: dict[str, float] = {}
        if reference is not None and reference.objective is not None \
                and result.objective is not None:
            out["objective_error"] = relative_error(result.objective, reference.objective)
        x = getattr(result, "x", None)
        if isinstance(problem, ReLUTraining) and x is not None:
            v = np.asarray(x, dtype=np.float64).ravel()
            if v.size == problem.size and np.all(np.isfinite(v)):
                W1, w2 = problem.recover(v)
                out.update(problem.scores(W1, w2))
                out["active_neurons"] = float(np.count_nonzero(w2))
        return out

    def conformance_instances(self) -> list[tuple[Any, float | None]]:
        return [(make_synthetic(n=30, d=3, P=6, loss="squared", seed=1), None),
                (make_synthetic(n=40, d=4, P=8, loss="hinge", seed=1), None),
                (make_synthetic(n=40, d=4, P=8, loss="logistic", seed=1), None)]

    def hard_instance(self) -> Any | None:
        # ADMM needs more than 20 000 iterations here; CVXPY compiles it in about a second
        return make_synthetic(n=400, d=15, P=100, loss="squared", seed=4, beta=1e-5)

    def malformed_instances(self) -> list[tuple[str, Any]]:
        bad_x = make_synthetic(n=20, d=3, P=4, seed=5)
        bad_x.X[0, 0] = np.nan
        short_y = make_synthetic(n=20, d=3, P=4, seed=6)
        short_y.Y = short_y.Y[:-1]
        one_class = make_synthetic(n=20, d=3, P=4, loss="hinge", seed=7)
        one_class.Y[:] = 1.0
        empty = make_synthetic(n=20, d=3, P=4, seed=8)
        empty.D = empty.D[:, :0]
        return [("NaN in X", bad_x), ("y shorter than X", short_y), ("a single class", one_class),
                ("P = 0", empty)]


def make_synthetic(n: int = 60, d: int = 4, P: int = 10, loss: str = "squared", seed: int = 0,
                   beta: float = 1e-2, c: int = 1, eps: float = 0.0,
                   test: bool = True) -> ReLUTraining:
    """A small random problem: Gaussian features (plus a ones column), targets of a random
    planted ReLU net (sign of it for hinge/logistic, one output per ``c``)."""
    rng = np.random.default_rng(seed)
    m = n + (n // 2 if test else 0)
    X = np.hstack([rng.standard_normal((m, d - 1)), np.ones((m, 1))])
    W = rng.standard_normal((d, 3 * c))
    H = np.maximum(X @ W, 0.0)
    T = np.stack([H[:, 3 * j:3 * j + 3] @ np.array([1.0, -1.0, 0.5]) for j in range(c)], axis=1)
    if loss == "squared":
        Y = T + 0.1 * rng.standard_normal(T.shape)
        classes = None
    else:
        Y = np.where(T >= np.median(T, axis=0), 1.0, -1.0)
        classes = np.array([-1, 1]) if c == 1 else np.arange(c)
    gates, D = sample_patterns(X[:n], P, seed)
    return ReLUTraining(X[:n], Y[:n], loss=loss, beta=beta, patterns=D, gates=gates,
                        X_test=X[n:] if test else None, y_test=Y[n:] if test else None,
                        eps=eps, classes=classes, name=f"synthetic-{loss}-n{n}-P{P}-s{seed}")
