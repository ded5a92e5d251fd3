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


def multiplier_at_bound(lam: np.ndarray, r: float) -> bool:
    """True when a multiplier of the box Z = [0, r] (equality rows [-r, r]) sits at +-r."""
    return bool(lam.size) and bool(np.max(np.abs(lam)) >= (1.0 - 1e-6) * r)


def finish(problem: BilevelProblem, status: sh.Status, x: np.ndarray, y: np.ndarray, t0: float,
           k: int, info: dict[str, Any], notifier: Any) -> sh.Result:
    """A result carrying (x, y) with F as the objective; the trajectory is the final point only
    (the iterates are not bilevel-feasible before the end, so a best-so-far F would mislead)."""
    obj = problem.F(x, y)
    runtime = time.perf_counter() - t0
    if info.get("multiplier_at_bound"):
        # the box Z cut the true multiplier off: the point solves a different (tighter-penalised)
        # problem, often the worst bilevel-feasible one; never call it optimal
        info["warning"] = (f"a lower-level multiplier ended at its bound r = {info.get('z_bound')}: "
                           f"the box Z must contain the true multiplier; raise z_bound")
        if status == sh.Status.OPTIMAL:
            status = sh.Status.FEASIBLE
    if not math.isfinite(obj):
        return sh.Result(sh.Status.ERROR, runtime=runtime, iterations=k, info=info,
                         error=f"non-finite upper objective F = {obj} at the final iterate")
    notifier.incumbent(runtime, obj, None)
    info.setdefault("local", True)
    info["lower_objective"] = problem.f(x, y)
    return sh.Result(status, objective=obj, bound=None, x=np.concatenate([x, y]), runtime=runtime,
                     iterations=k, trajectory=[(runtime, obj)], info=info)


def breakdown(t0: float, k: int, info: dict[str, Any], solver: str, why: str,
              cause: str = "divergence") -> sh.Result:
    """An error result. ``cause`` "divergence": the iterates blew up (the remedy: smaller steps);
    otherwise ``why`` names the function that returned NaN/inf and no remedy is guessed."""
    info["diverged"] = cause == "divergence"
    info["breakdown"] = cause
    msg = (f"{solver}: diverged at iteration {k} ({why}); reduce the step sizes"
           if cause == "divergence" else f"{solver}: iteration {k}: {why}")
    return sh.Result(sh.Status.ERROR, runtime=time.perf_counter() - t0, iterations=k, info=info,
                     error=msg)


def nonfinite(P: BilevelProblem, t0: float, k: int, info: dict[str, Any], solver: str,
              *points: np.ndarray) -> sh.Result:
    """The error for a non-finite search direction at finite iterates: names the derivative that
    returned NaN/inf (the problem's functions, not the step sizes, are at fault), or divergence."""
    x, y = points[0], points[1]
    extra = points[2:]
    if not all(np.all(np.isfinite(v)) for v in points):
        return breakdown(t0, k + 1, info, solver, "non-finite iterate")
    with np.errstate(all="ignore"):
        for what, fn, args in (("grad_F", P.grad_F, [(x, y)]),
                               ("grad_f", P.grad_f, [(x, y)] + [(x, t) for t in extra])):
            for a in args:
                parts = fn(*a)
                if not all(np.all(np.isfinite(np.asarray(v, dtype=float))) for v in parts):
                    return breakdown(t0, k + 1, info, solver, f"{what} returned NaN or infinite "
                                     f"values at a finite point", cause=what)
    return breakdown(t0, k + 1, info, solver, "non-finite search direction")
