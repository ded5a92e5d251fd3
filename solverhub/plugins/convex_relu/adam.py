"""Adam of our own (NumPy, full batch) on the nonconvex two-layer ReLU network: the baseline
``relu-adam`` and the source of warm-start patterns (data.py, ``warm_start=adam``).

Objective: (1/n) sum_k loss(sum_j (x_k'w1_j)_+ w2_j, y_k) + (beta/2)(||W1||^2 + ||w2||^2), one
network per output (problem.py). Adam: Kingma and Ba (2015), Algorithm 1, with their defaults
beta1 = 0.9, beta2 = 0.999, eps = 1e-8.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from pydantic import Field

from solverhub.core.errors import BadInputError
from solverhub.core.observers import NULL_NOTIFIER
from solverhub.core.options import IterationLimitOptions
from solverhub.core.result import Result, Status
from solverhub.core.solver import SolverBase
from solverhub.core.timing import deadline_of, limit_status


def _dloss(loss: str, z: np.ndarray, y: np.ndarray) -> np.ndarray:
    if loss == "squared":
        return z - y
    m = y * z
    if loss == "hinge":
        return -y * (m < 1.0)
    return -y * 0.5 * (1.0 - np.tanh(0.5 * m))


def adam_train(X: np.ndarray, Y: np.ndarray, *, loss: str, beta: float, width: int = 50,
               iterations: int = 2000, lr: float = 1e-2, seed: int = 0, deadline: float = math.inf,
               callback: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Train ``W1`` (c, d, width), ``w2`` (c, width) by full-batch Adam; ``callback(k, W1, w2)``
    after each step may return True to stop."""
    n, d = X.shape
    c = Y.shape[1]
    rng = np.random.default_rng(seed)
    W1 = rng.standard_normal((c, d, width)) / math.sqrt(d)
    w2 = rng.standard_normal((c, width)) / math.sqrt(width)
    params = [W1, w2]
    m1 = [np.zeros_like(p) for p in params]
    m2 = [np.zeros_like(p) for p in params]
    b1, b2, eps = 0.9, 0.999, 1e-8
    for k in range(1, iterations + 1):
        if limit_status(deadline) is not None:
            break
        A = np.stack([X @ W1[j] for j in range(c)])                   # (c, n, m)
        Hd = np.maximum(A, 0.0)
        Z = np.einsum("cnm,cm->cn", Hd, w2)
        G = _dloss(loss, Z, Y.T) / n                                   # (c, n)
        g2 = np.einsum("cnm,cn->cm", Hd, G) + beta * w2
        back = (G[:, :, None] * w2[:, None, :]) * (A > 0)              # (c, n, m)
        g1 = np.stack([X.T @ back[j] for j in range(c)]) + beta * W1
        for i, g in enumerate((g1, g2)):
            m1[i] = b1 * m1[i] + (1 - b1) * g
            m2[i] = b2 * m2[i] + (1 - b2) * g * g
            step = lr * (m1[i] / (1 - b1 ** k)) / (np.sqrt(m2[i] / (1 - b2 ** k)) + eps)
            params[i] -= step
        if callback is not None and callback(k, W1, w2):
            break
    return W1, w2


class AdamOptions(IterationLimitOptions):

    width: int = Field(50, ge=1, description="hidden units per output")
    max_iterations: int = Field(2000, ge=1, description="full-batch Adam steps (was iterations)")
    lr: float = Field(1e-2, gt=0, description="Adam step size")


class ReluAdam(SolverBase[AdamOptions]):
    """The nonconvex baseline: a local solution, ``info['local'] = True``; status ``feasible``
    (no certificate). ``x`` is None (a network is not a point of the convex program); the
    network's accuracies are reported as metrics and its weights in ``info``."""

    Options = AdamOptions

    def solve(self, problem: Any, *, time_limit: float | None = None, seed: int = 0,
              notifier: Any = NULL_NOTIFIER) -> Result:
        t0 = time.perf_counter()
        if problem.sample_weight is not None:
            raise BadInputError(f"{problem.name}: relu-adam does not take sample weights")
        deadline = deadline_of(t0, time_limit)
        traj: list[tuple[float, float]] = []
        state = {"k": 0}

        def cb(k, W1, w2):
            state["k"] = k
            if k % 10 == 0 or k == 1:
                f = problem.network_objective(W1, w2)
                if not math.isfinite(f):
                    state["bad"] = k
                    return True
                notifier.iteration(k, {"objective": f})
                if not traj or f < traj[-1][1]:
                    t = time.perf_counter() - t0
                    traj.append((t, f))
                    notifier.incumbent(t, f, None)
            return False

        W1, w2 = adam_train(problem.X, problem.Y, loss=problem.loss, beta=problem.beta,
                            width=self.width, iterations=self.max_iterations, lr=self.lr, seed=seed,
                            deadline=deadline, callback=cb)
        t = time.perf_counter() - t0
        if "bad" in state:
            return Result(Status.ERROR, runtime=t, iterations=state["k"],
                          error=f"relu-adam: non-finite objective at step {state['bad']} "
                                f"(lr {self.lr:g} too large?)")
        f = problem.network_objective(W1, w2)
        if not traj or f < traj[-1][1]:
            traj.append((t, f))
            notifier.incumbent(t, f, None)
        elif f > traj[-1][1]:
            traj = [(tt, vv) for tt, vv in traj if vv >= f] + [(t, f)]
        status = Status.FEASIBLE
        if state["k"] < self.max_iterations:
            status = limit_status(deadline) or Status.TIME_LIMIT
        metrics = problem.scores(W1, w2)
        metrics["active_neurons"] = float(np.count_nonzero(np.linalg.norm(W1, axis=1) * np.abs(w2)
                                                           > 1e-10))
        return Result(status, objective=f, x=None, runtime=t, iterations=state["k"],
                      trajectory=traj, metrics=metrics,
                      info={"local": True, "W1": W1.tolist(), "w2": w2.tolist(),
                            "width": self.width})
