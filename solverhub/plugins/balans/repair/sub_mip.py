"""Repair "sub_mip": solve the neighbourhood's sub-MIP with the run's backend.

The neighbourhood is applied inside ``backend.modified()`` (bounds, extra rows, replaced objective)
and undone on exit, whatever happens. The solve is warm-started from the current solution when the
neighbourhood contains it (not for proximity, whose cutoff row excludes it); without a warm start and
with the original objective, the current objective is passed as a cutoff so that the backend prunes
what cannot improve. The candidate is the sub-MIP's best solution evaluated on the *original*
(minimised) objective; the loop re-checks it on the original model before using it.

``state.info["on_sub_incumbent"]`` (set by the loop) is called with (x, objective) at each improving
solution of a sub-MIP that keeps the original objective, so that a new global best is recorded when it
is found, not when the sub-MIP ends.
"""

from __future__ import annotations

import time

import numpy as np

from solverhub.core.metasearch import Candidate, Neighbourhood, SearchState


class SubMIP:
    def __init__(self, name: str = "sub_mip", warm_start: bool = True, cutoff: bool = True) -> None:
        self.name = name
        self.warm_start = bool(warm_start)
        self.cutoff = bool(cutoff)

    def __call__(self, state: SearchState, neighbourhood: Neighbourhood, time_limit: float,
                 rng: np.random.Generator) -> Candidate:
        backend = state.backend
        problem = state.problem
        nb = neighbourhood
        caps = getattr(backend, "capabilities", frozenset[str]())
        t0 = time.perf_counter()
        original_objective = nb.objective is None
        use_ws = self.warm_start and nb.info.get("warm_start", True) and state.incumbent is not None
        cutoff = None
        if self.cutoff and original_objective and not use_ws and "cutoff" in caps:
            cutoff = float(state.incumbent_objective)
        stop_first = bool(nb.info.get("stop_at_first", False))
        report = state.info.get("on_sub_incumbent") if original_objective else None
        first: dict = {}

        def on_incumbent(t: float, obj: float, x: np.ndarray):
            if report is not None:
                report(np.asarray(x, dtype=np.float64).copy(), float(obj))
            if stop_first:
                first["x"] = np.asarray(x, dtype=np.float64).copy()
                return True
            return None

        want_cb = (report is not None or stop_first) and "incumbent_callback" in caps
        with backend.modified():
            if nb.bound_idx.size:
                backend.set_col_bounds(nb.bound_idx, nb.lower, nb.upper)
            for idx, vals, lo, up in nb.rows:
                backend.add_row(np.asarray(idx), np.asarray(vals, dtype=np.float64), lo, up)
            if nb.objective is not None:
                backend.set_objective(np.asarray(nb.objective, dtype=np.float64), nb.objective_offset)
            # the solver's node limit bounds sub-MIPs, not a "continue" pull of the whole problem
            node_limit = None if nb.info.get("continue") else state.info.get("sub_node_limit")
            res = backend.solve(time_limit=max(time_limit, 1e-3),
                                warm_start=np.asarray(state.incumbent) if use_ws else None,
                                cutoff=cutoff, on_incumbent=on_incumbent if want_cb else None,
                                seed=int(rng.integers(0, 2**31 - 1)), node_limit=node_limit)
        x = res.x if res.x is not None else first.get("x")
        runtime = time.perf_counter() - t0
        if x is None:
            return Candidate(None, float("inf"), str(getattr(res.status, "value", res.status)),
                             runtime=runtime, bound=res.bound)
        x = np.asarray(x, dtype=np.float64)
        return Candidate(x, float(problem.evaluate(x)), str(getattr(res.status, "value", res.status)),
                         runtime=runtime,
                         bound=res.bound if original_objective and nb.is_empty else None,
                         info={"sub_objective": res.objective})
