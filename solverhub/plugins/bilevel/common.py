"""What both bilevel solvers share: the result of a run, divergence and limit checks."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

import solverhub as sh
from solverhub.core.errors import BadInputError

from .problem import BilevelProblem

#: an iterate this many times larger than the start (and 1e6 in absolute terms) has diverged
DIVERGENCE_FACTOR = 1e8


def require_problem(problem: Any, solver: str) -> BilevelProblem:
    """The type check for a direct call (the host has checked and validated the problem)."""
    if not isinstance(problem, BilevelProblem):
        raise BadInputError(f"{solver} takes a bilevel problem (kind 'bilevel'), got "
                            f"{type(problem).__name__}")
    return problem


def diverged(vecs: tuple[np.ndarray, ...], limit: float) -> str | None:
    """None when every vector is finite and within ``limit`` (max norm), else why not."""
    for v in vecs:
        if v.size == 0:
            continue
        m = float(np.max(np.abs(v)))
        if not math.isfinite(m):
            return "non-finite iterate"
        if m > limit:
            return f"iterate of size {m:.3g} beyond {limit:.3g}"
    return None


def finish(problem: BilevelProblem, status: sh.Status, x: np.ndarray, y: np.ndarray, t0: float,
           k: int, info: dict[str, Any], notifier: Any) -> sh.Result:
    """A result carrying (x, y) with F as the objective; the trajectory is the final point only
    (the iterates are not bilevel-feasible before the end, so a best-so-far F would mislead)."""
    obj = problem.F(x, y)
    runtime = time.perf_counter() - t0
    if not math.isfinite(obj):
        return sh.Result(sh.Status.ERROR, runtime=runtime, iterations=k, info=info,
                         error=f"non-finite upper objective F = {obj} at the final iterate")
    notifier.incumbent(runtime, obj, None)
    info.setdefault("local", True)
    info["lower_objective"] = problem.f(x, y)
    return sh.Result(status, objective=obj, bound=None, x=np.concatenate([x, y]), runtime=runtime,
                     iterations=k, trajectory=[(runtime, obj)], info=info)


def breakdown(t0: float, k: int, info: dict[str, Any], solver: str, why: str) -> sh.Result:
    info["diverged"] = True
    return sh.Result(sh.Status.ERROR, runtime=time.perf_counter() - t0, iterations=k, info=info,
                     error=f"{solver}: diverged at iteration {k} ({why}); reduce the step sizes")
