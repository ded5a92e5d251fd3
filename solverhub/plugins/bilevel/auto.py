"""``bilevel-auto``: one default route per problem class, chosen from the problem's structure and
named in the result (``result.route``: the route, the rule's reason and the solver that ran it).

1. ``kkt`` (``bilevel-kkt``): the lower level is convex quadratic in y with affine constraints, X
   and Y boxes, F quadratic: the KKT reformulation solved by SCIP is exact (global optimum), or by
   HiGHS on the big-M MIP when F is linear and PySCIPOpt is missing.
2. ``implicit`` (``bilevel-implicit``): an unconstrained lower level strongly convex in y, when
   the KKT route does not apply or the problem is large and has no complementarity pairs.
3. ``lv-hba``: otherwise, when C = {x in X, y in Y, g <= 0, G <= 0} has a projection (a stationary
   point of the value-function reformulation: a local solution).
4. else a bad-input error naming why no route applies.
"""

from __future__ import annotations

import time
from importlib.util import find_spec
from typing import Any

import solverhub as sh
from solverhub.core.observers import NULL_NOTIFIER
from solverhub.core.solver import SolverBase

from .common import require_problem
from .kkt import kkt_form
from .options import AutoOptions

__all__ = ["BilevelAuto", "choose_route"]


#: problems up to this many variables go to the exact route even without complementarity pairs
#: (SCIP proves the global optimum in about a second); larger ones without pairs go to the
#: implicit-gradient method (QuadraticClosedForm n = 200: 0.4 s to 7e-8 against SCIP's 60 s)
KKT_SMALL = 50


def choose_route(P: Any) -> tuple[str, str]:
    """(route, why): ``kkt``, ``implicit`` or ``lv-hba``; BadInputError when none applies."""
    from .implicit import why_no_implicit

    form = kkt_form(P)
    implicit_no = why_no_implicit(P)
    if not isinstance(form, str):
        if find_spec("pyscipopt") is None and form.HF is not None:
            form = "F is quadratic and PySCIPOpt (the MIQP backend) is not installed"
        elif form.pairs() or P.n <= KKT_SMALL or implicit_no is not None:
            return "kkt", "convex quadratic lower level with affine constraints: exact"
        else:
            return "implicit", (f"unconstrained strongly convex lower level with {P.n} > "
                                f"{KKT_SMALL} variables: implicit gradient")
    if implicit_no is None:
        return "implicit", f"unconstrained lower level; the KKT route does not apply ({form})"
    why_not = P.why_no_projection_C()
    if why_not is None:
        return "lv-hba", f"the KKT route does not apply ({form}); implicit: {implicit_no}"
    raise sh.BadInputError(f"{P.source or P.name}: no bilevel route applies: the KKT route: {form}; "
                           f"implicit gradient: {implicit_no}; lv-hba: {why_not}")


class BilevelAuto(SolverBase[AutoOptions]):
    Options = AutoOptions

    def solve(self, problem: Any, *, time_limit: float | None = None, seed: int = 0,
              notifier: Any = NULL_NOTIFIER) -> sh.Result:
        t0 = time.perf_counter()
        P = require_problem(problem, "bilevel-auto")
        route, why = choose_route(P)
        if route == "kkt":
            from .kktsolve import BilevelKKT

            inner: Any = BilevelKKT(backend=self.options.kkt_backend)
            name = "bilevel-kkt"
        elif route == "implicit":
            from .implicit import BilevelImplicit

            inner, name = BilevelImplicit(), "bilevel-implicit"
        else:
            from .lvhba import LVHBA

            inner, name = LVHBA(max_iterations=self.options.max_iterations), "lv-hba"
        left = None if time_limit is None else max(0.01, time_limit - (time.perf_counter() - t0))
        res = inner.solve(P, time_limit=left, seed=seed, notifier=notifier)
        res.route = sh.Route(route, why, name)
        res.runtime = time.perf_counter() - t0
        return res
