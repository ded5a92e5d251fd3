"""``convex-relu-auto``: the default route for a ``relu-training`` problem, chosen from the
problem's shape and named in the result (``result.route``: the route, the rule's reason and the
solver that ran), as ``bilevel-auto`` does.

1. ``admm`` (``convex-relu-admm`` with ``polish_method="newton-conic"``): squared loss without
   adversarial eps or sample weights, at most ``admm_max_n`` samples (the Woodbury u-step), and
   data whose effective dimension (:func:`effective_dimension`) is at most ``admm_max_dim``.
   Its polish is the Newton polish; when Newton's active set churns (nearly every group still
   changes a row round after round: polish.py ``CHURN_*``), or at the last attempt before the
   hand-over, the conic polish of the same iterate follows. When that has not certified after
   ``admm_polish_failures`` (2) attempts (iterations 200 and 400: every set the ADMM wins on the
   tuning list certified by then), CLARABEL solves the whole problem (route
   ``admm, then clarabel``).
2. ``admm-conic``: as ``admm`` where only the effective dimension is above ``admm_max_dim``,
   with the conic polish straight away (``polish_method="conic"``: CLARABEL restricted to
   ADMM's nonzero groups and rows of slack <= 0.2 max|x'u|, polish.py ``polish_conic``), which
   needs no exact guess of the rows at equality; the same hand-over to CLARABEL (``admm-conic,
   then clarabel``). On the tuning list's two 20-d sets the Newton polish churns from round 1
   (95-100 % of the groups change per round), so trying it first would only add its 12 rounds
   (0.08-0.13 of CLARABEL's time) before the conic polish; from round 6, on the fresh list
   of session 5, it still cost 0.01-0.07 and never kept Newton going (docs/convex_relu.md,
   point 11).
3. ``admm-margin``: the logistic loss, with or without adversarial eps (not robust cones): the
   ADMM (split u-step) with the working-set polish of the margin losses (polish_margin.py:
   Clarabel on a growing set of blocks, certified on the full program); the same hand-over.
   Tuning list: moons logistic 0.17 of CLARABEL's CPU time (0.09 with session 5's start set),
   breast_cancer logistic 0.48; make_classification 10-d logistic is lost (its optimum uses a
   third of the blocks; no shape rule separates it from the sets won). The hinge loss stays
   with CLARABEL: breast_cancer hinge 0.90, and adversarial breast_cancer hinge at eps 0.2 2.9x.
4. ``clarabel`` (``convex-relu-cvxpy``: CLARABEL, SCS when CLARABEL is missing or fails; the
   solver that ran is ``info["conic_solver"]``): everything else.

Why (docs/convex_relu.md, "When each solver wins"; docs/benchmarks.md, issue 23): the ADMM wins
by certifying an active-set polish early (polish.py). That polish exists for the squared loss
only, and it settles only when ADMM has guessed the cone rows at equality: the optimum's groups
hold about as many rows at equality as the data has effective dimensions, and ADMM's guess of
them improves about 2x per doubling of iterations while the polish corrects one row per group
per round. Past an effective dimension of about 13 the polish stops settling within its 100
rounds and the ADMM runs to its limit (make_classification 20-d: 1327 wrong rows at iteration
200, 143 at 1600; CLARABEL 5.6 s, ADMM 2.4e-2 above it after 14 s). Without the polish (hinge,
logistic, eps > 0) the ADMM's linear convergence tail takes longer than CLARABEL's interior
point. Above ``admm_max_n`` samples the ADMM takes the split u-step, which was not measured to
win.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from pydantic import Field

from solverhub.core.errors import BadInputError
from solverhub.core.observers import NULL_NOTIFIER
from solverhub.core.options import SolverOptions
from solverhub.core.result import Result, Route
from solverhub.core.solver import SolverBase

from .problem import ReLUTraining

__all__ = ["AutoOptions", "ConvexReluAuto", "choose_route", "effective_dimension"]

#: the route rule's thresholds (measured on the tuning list of benchmarks/bench_convex_relu.py
#: --validation, checked on its validation list; docs/benchmarks.md)
ADMM_MAX_DIM = 13.0
ADMM_MAX_N = 1500
#: margin losses whose working-set polish (polish_margin.py) beat CLARABEL 2x on the tuning list
#: (moons logistic 0.17); the hinge loss stays with CLARABEL, without eps (breast_cancer: 0.90,
#: short of 2x) and with it: moons hinge at eps 0.1 took 0.18 of CLARABEL's CPU time, but the
#: issue's own adversarial case (breast_cancer hinge, eps 0.2, P = 50) took 2.9x (184 s against
#: 63 s), its working set growing over many restricted solves (docs/benchmarks.md)
MARGIN_POLISH_LOSSES: tuple[str, ...] = ("logistic",)
#: adversarial training with a margin loss outside MARGIN_POLISH_LOSSES (the hinge) on admm-margin
MARGIN_POLISH_ADVERSARIAL = False


def effective_dimension(X: np.ndarray) -> float:
    """The participation ratio (sum lambda)^2 / sum lambda^2 of the eigenvalues of X'X: the
    number of directions the data really spans (d for isotropic data, 1 for data on a line).
    O(n d^2); standardized breast_cancer (30 features) has 4.2, make_classification with 10
    informative of 20 features 16."""
    ev = np.linalg.eigvalsh(X.T @ X)
    sq = float(np.sum(ev * ev))
    return float(np.sum(ev)) ** 2 / sq if sq > 0 else 0.0


def choose_route(pb: ReLUTraining, *, admm_max_dim: float = ADMM_MAX_DIM,
                 admm_max_n: int = ADMM_MAX_N) -> tuple[str, str]:
    """(route, why): ``admm``, ``admm-conic``, ``admm-margin`` or ``clarabel``; see the module
    docstring."""
    if pb.loss != "squared" and (pb.loss in MARGIN_POLISH_LOSSES
                                 or (pb.eps > 0 and MARGIN_POLISH_ADVERSARIAL)) \
            and not (pb.robust_cones and pb.eps > 0):
        return "admm-margin", (f"{pb.loss} loss{' (adversarial)' if pb.eps > 0 else ''}: ADMM, "
                               f"then Clarabel on a working set of blocks, certified on the "
                               f"full program")
    if pb.loss != "squared":
        return "clarabel", (f"{pb.loss} loss: the ADMM has no certified polish for it and its "
                            f"linear tail is slower than the interior point")
    if pb.eps > 0:
        return "clarabel", "adversarial training (eps > 0): no polish for the robust loss"
    if pb.sample_weight is not None:
        return "clarabel", "sample weights: the ADMM's polish (Woodbury u-step) has none"
    if pb.n_samples > admm_max_n:
        return "clarabel", (f"{pb.n_samples} > {admm_max_n} samples: the ADMM's split u-step, "
                            f"not measured to win")
    dim = effective_dimension(pb.X)
    if dim > admm_max_dim:
        return "admm-conic", (f"effective dimension {dim:.1f} > {admm_max_dim:g}: the Newton "
                              f"polish's active set does not settle; ADMM with the conic polish "
                              f"(CLARABEL on ADMM's groups and candidate rows)")
    return "admm", (f"squared loss, {pb.n_samples} samples, effective dimension {dim:.1f} <= "
                    f"{admm_max_dim:g}: ADMM with a certified polish")


class AutoOptions(SolverOptions):
    """Options of ``convex-relu-auto``; each route runs with its solver's defaults."""

    admm_max_dim: float = Field(ADMM_MAX_DIM, gt=0, description="largest effective dimension "
                                "(participation ratio of X'X) routed to the ADMM")
    admm_max_n: int = Field(ADMM_MAX_N, ge=1, description="most samples routed to the ADMM")
    admm_polish_failures: int = Field(2, ge=0, description="the admm route hands over to "
                                      "CLARABEL after this many failed polishing attempts "
                                      "(iterations 200 and 400; every win on the tuning sets "
                                      "certified by then); 0: never")
    route: str = Field("auto", pattern="^(auto|admm|admm-conic|admm-margin|clarabel)$",
                       description="auto: by the rule; admm, admm-conic, admm-margin or "
                                   "clarabel: forced")


class ConvexReluAuto(SolverBase[AutoOptions]):
    """The default route: ``convex-relu-admm`` where it wins, CLARABEL through
    ``convex-relu-cvxpy`` elsewhere; see the module docstring."""

    Options = AutoOptions

    def solve(self, problem: Any, *, time_limit: float | None = None, seed: int = 0,
              notifier: Any = NULL_NOTIFIER) -> Result:
        t0 = time.perf_counter()
        if not isinstance(problem, ReLUTraining):
            raise BadInputError(f"convex-relu-auto solves relu-training problems, not "
                                f"{type(problem).__name__}")
        problem.validate()
        if self.options.route == "auto":
            route, why = choose_route(problem, admm_max_dim=self.options.admm_max_dim,
                                      admm_max_n=self.options.admm_max_n)
        else:
            route, why = self.options.route, "forced by the route option"
        if route.startswith("admm") and problem.robust_cones and problem.eps > 0:
            route, why = "clarabel", "robust cones are not linear constraints"
        if route in ("clarabel", "admm-conic", "admm-margin") and self.options.route == "auto":
            from .cvx import cvxpy_unavailable

            missing = cvxpy_unavailable()
            if missing is not None:
                route, why = "admm", f"{why}; but {missing}"
        # the conic polish's settings, measured on the tuning list's two 20-d sets
        # (docs/convex_relu.md): rows of slack <= 0.2 max|x'u|, groups above 1 % of the largest
        conic_polish = {"polish_method": "conic", "polish_row_tol": 0.2, "polish_group_tol": 0.01}
        # the admm route: Newton first; when its active set churns (polish.py CHURN_*), the
        # conic polish of the same iterate instead of more failed Newton attempts
        newton_polish = dict(conic_polish, polish_method="newton-conic")
        def left() -> float | None:
            return None if time_limit is None else max(0.01, time_limit - (time.perf_counter() - t0))

        if route.startswith("admm"):
            from .admm import ConvexReluAdmm

            fallback = self.options.route == "auto" and self.options.admm_polish_failures > 0
            extra: dict[str, Any] = conic_polish if route == "admm-conic" else newton_polish
            admm = ConvexReluAdmm(max_polish_failures=self.options.admm_polish_failures
                                  if fallback else None, **extra)
            res = admm.solve(problem, time_limit=left(), seed=seed, notifier=notifier)
            name = "convex-relu-admm"
            if res.info.get("polish_gave_up"):
                # a misrouted problem: the polish has not settled where it settles on every set
                # the ADMM wins (docs/convex_relu.md); CLARABEL gives the 1e-5 answer
                from .cvx import ConvexReluCvxpy, cvxpy_unavailable

                if cvxpy_unavailable() is None:
                    conic = ConvexReluCvxpy().solve(problem, time_limit=left(), seed=seed,
                                                    notifier=notifier)
                    if conic.objective is not None and (res.objective is None
                                                        or conic.objective <= res.objective):
                        conic.info["admm_objective"] = res.objective
                        res, name = conic, "convex-relu-cvxpy"
                        route = f"{route}, then clarabel"
                        why = (f"{why}; but the polish did not certify in "
                               f"{self.options.admm_polish_failures} attempts, so CLARABEL")
        else:
            from .cvx import ConvexReluCvxpy

            res = ConvexReluCvxpy().solve(problem, time_limit=left(), seed=seed, notifier=notifier)
            name = "convex-relu-cvxpy"
        res.route = Route(route, why, name)
        res.runtime = time.perf_counter() - t0
        return res
