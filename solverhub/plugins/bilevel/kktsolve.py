"""Solving the KKT reformulation (:mod:`.kkt`): SOS1 complementarity through PySCIPOpt, or the
big-M MIP (the ``bilevel -> mip`` converter) through any MIP solver registered with solverhub."""

from __future__ import annotations

import math
import threading
import time
from importlib.util import find_spec
from typing import Any

import numpy as np
import scipy.sparse as sp

import solverhub as sh
from solverhub.core.interrupt import stop_requested
from solverhub.core.mip import MIPProblem
from solverhub.core.observers import NULL_NOTIFIER
from solverhub.core.solver import SolverBase

from .kkt import KKTForm, require_form, slack_bounds
from .options import KKTOptions
from .problem import BilevelProblem

__all__ = ["BilevelKKT", "KKTOptions", "big_m_mip", "from_mip_solution", "invert_big_m", "to_mip"]


def _has_scip() -> bool:
    return find_spec("pyscipopt") is not None


# ---------------------------------------------------------------------------- big-M MIP
def to_mip(P: BilevelProblem, multiplier_bound: float | None = None) -> tuple[MIPProblem, dict]:
    """The big-M form of the KKT reformulation as a :class:`MIPProblem` (F must be linear), and
    what inverting it needs. Columns: x, y, lam (one per row of g), mu_lo, mu_up (finite bounds of
    y), one binary per complementarity pair."""
    K = require_form(P, "bilevel -> mip")
    if K.HF is not None:
        raise sh.BadInputError(f"{P.source or P.name}: F is quadratic; the big-M MIP takes a linear "
                               f"F (use bilevel-kkt with backend='scip', which solves the MIQP)")
    M_lam = float(multiplier_bound if multiplier_bound is not None else _default_mult(P))
    M_s = slack_bounds(K)
    proven = bool(np.all(np.isfinite(M_s)))
    M_s = np.where(np.isfinite(M_s), np.maximum(M_s, 0.0), max(1e4, 10 * M_lam))
    n, ny, lg = K.n, K.ny, K.Ag.shape[0]
    lo_idx = np.flatnonzero(np.isfinite(K.yl))
    up_idx = np.flatnonzero(np.isfinite(K.yu))
    pairs = K.pairs()
    o_lam = n
    o_mlo = o_lam + lg
    o_mup = o_mlo + lo_idx.size
    o_u = o_mup + up_idx.size
    ncol = o_u + len(pairs)
    rows: list[tuple[np.ndarray, np.ndarray, float, float]] = []   # (cols, vals, lower, upper)

    def add(cols: Any, vals: Any, lo: float, up: float) -> None:
        cols, vals = np.asarray(cols, dtype=np.int64), np.asarray(vals, dtype=float)
        keep = vals != 0.0
        rows.append((cols[keep], vals[keep], lo, up))

    allz = np.arange(n)
    for A, b, eq in ((K.AG, K.bG, K.G_eq), (K.Ag, K.bg, K.g_eq)):
        for i in range(A.shape[0]):
            add(allz, A[i], b[i] if eq[i] else -np.inf, b[i])
    # stationarity: Hy z + Ag_y' lam - mu_lo + mu_up = -cy
    Agy = K.Ag[:, K.nx:]
    pos_lo = {int(j): k for k, j in enumerate(lo_idx)}
    pos_up = {int(j): k for k, j in enumerate(up_idx)}
    for j in range(ny):
        cols = [allz, o_lam + np.arange(lg)]
        vals = [K.Hy[j], Agy[:, j]]
        if j in pos_lo:
            cols.append(np.array([o_mlo + pos_lo[j]]))
            vals.append(np.array([-1.0]))
        if j in pos_up:
            cols.append(np.array([o_mup + pos_up[j]]))
            vals.append(np.array([1.0]))
        add(np.concatenate(cols), np.concatenate(vals), -K.cy[j], -K.cy[j])
    for k, (kind, i) in enumerate(pairs):
        u = o_u + k
        if kind == "g":         # lam_i <= M u ; bg_i - Ag_i z <= M_s (1 - u)
            add([o_lam + i, u], [1.0, -M_lam], -np.inf, 0.0)
            add(np.concatenate([allz, [u]]), np.concatenate([K.Ag[i], [-M_s[k]]]),
                K.bg[i] - M_s[k], np.inf)
        elif kind == "lo":      # mu_lo <= M u ; y - yl <= M_s (1 - u)
            add([o_mlo + pos_lo[i], u], [1.0, -M_lam], -np.inf, 0.0)
            add([K.nx + i, u], [1.0, M_s[k]], -np.inf, K.yl[i] + M_s[k])
        else:                   # mu_up <= M u ; yu - y <= M_s (1 - u)
            add([o_mup + pos_up[i], u], [1.0, -M_lam], -np.inf, 0.0)
            add([K.nx + i, u], [-1.0, M_s[k]], -np.inf, M_s[k] - K.yu[i])
    indptr = np.cumsum([0] + [r[0].size for r in rows])
    A = sp.csr_matrix((np.concatenate([r[1] for r in rows]) if rows else np.zeros(0),
                       np.concatenate([r[0] for r in rows]) if rows else np.zeros(0, np.int64),
                       indptr), shape=(len(rows), ncol))
    col_lo = np.concatenate([K.lower_bounds, np.where(K.g_eq, -M_lam, 0.0), np.zeros(lo_idx.size),
                             np.zeros(up_idx.size), np.zeros(len(pairs))])
    col_up = np.concatenate([K.upper_bounds, np.full(lg, M_lam), np.full(lo_idx.size, M_lam),
                             np.full(up_idx.size, M_lam), np.ones(len(pairs))])
    integrality = np.zeros(ncol, dtype=bool)
    integrality[o_u:] = True
    c = np.zeros(ncol)
    c[:n] = K.cF
    names = ([f"x{i + 1}" for i in range(K.nx)] + [f"y{j + 1}" for j in range(ny)]
             + [f"lam{i + 1}" for i in range(lg)] + [f"mu_lo{j + 1}" for j in lo_idx]
             + [f"mu_up{j + 1}" for j in up_idx] + [f"u_{kind}{i + 1}" for kind, i in pairs])
    mip = MIPProblem(c, A, np.array([r[2] for r in rows]), np.array([r[3] for r in rows]), col_lo,
                     col_up, integrality, offset=K.F0, name=f"kkt-{P.name}", col_names=names,
                     source=P.source)
    meta = {"n": n, "multiplier_columns": slice(o_lam, o_u), "multiplier_bound": M_lam,
            "slack_bounds_proven": proven}
    return mip, meta


def big_m_mip(P: BilevelProblem) -> MIPProblem:
    """The converter ``bilevel -> mip``: the big-M KKT form, carrying what inverting it needs."""
    mip, meta = to_mip(P)
    mip.kkt_meta = meta  # type: ignore[attr-defined]  # rides on the converted MIP, read back by invert_big_m
    return mip


def invert_big_m(source: BilevelProblem, target: MIPProblem, result: sh.Result) -> sh.Result:
    """The converter's inverse: (x, y) from the MIP's first columns (F is the MIP's objective, so
    the objective, bound and trajectory carry over); the bound is kept only where the big-M form
    is exact (slack bounds proven, no multiplier at its bound)."""
    meta = target.kkt_meta  # type: ignore[attr-defined]  # set by big_m_mip
    if result.x is not None:
        z, at_bound = from_mip_solution(meta, result.x)
        result.x = z
        if at_bound:
            result.info["warning"] = (f"a multiplier ended at its big-M bound "
                                      f"{meta['multiplier_bound']:g}: raise multiplier_bound")
        exact = meta["slack_bounds_proven"] and not at_bound
        result.info["global"] = bool(result.status == sh.Status.OPTIMAL and exact)
        if not exact:
            result.bound = None
            if result.status == sh.Status.OPTIMAL:
                result.status = sh.Status.FEASIBLE
    result.info["local"] = False
    return result


def _default_mult(P: BilevelProblem) -> float:
    # the problem's declared bound (BOLIB: 10) is LV-HBA's box and too tight for big-M rows;
    # 1e4 keeps every BOLIB multiplier inside while the LP relaxation stays usable
    return max(1e4, float(P.multiplier_bound or 0.0))


def from_mip_solution(meta: dict, x: np.ndarray) -> tuple[np.ndarray, bool]:
    """(x, y) from a solution of the big-M MIP, and whether a multiplier ended at its bound."""
    v = np.asarray(x, dtype=float)
    mult = v[meta["multiplier_columns"]]
    at_bound = bool(np.any(np.abs(mult) >= 0.999 * meta["multiplier_bound"]))
    return v[:meta["n"]].copy(), at_bound


# ---------------------------------------------------------------------------- the solver
class BilevelKKT(SolverBase[KKTOptions]):
    """``bilevel-kkt``: the KKT reformulation solved exactly (see :mod:`.kkt`)."""

    Options = KKTOptions

    def solve(self, problem: Any, *, time_limit: float | None = None, seed: int = 0,
              notifier: Any = NULL_NOTIFIER) -> sh.Result:
        t0 = time.perf_counter()
        K = require_form(problem, "bilevel-kkt")
        backend = self.options.backend
        if backend == "auto":
            backend = "scip" if _has_scip() else "highs"
        if backend == "scip":
            if not _has_scip():
                raise sh.BadInputError("bilevel-kkt: backend 'scip' needs PySCIPOpt (pip install "
                                       "pyscipopt)")
            res = _solve_scip(problem, K, t0, time_limit, seed, self.options, notifier)
        else:
            res = _solve_mip(problem, backend, t0, time_limit, seed, self.options)
        res.info["backend"] = backend
        return res


def _remaining(t0: float, time_limit: float | None) -> float | None:
    if time_limit is None or not math.isfinite(time_limit):
        return None
    return max(0.01, time_limit - (time.perf_counter() - t0))


def _solve_mip(P: BilevelProblem, backend: str, t0: float, time_limit: float | None, seed: int,
               o: KKTOptions) -> sh.Result:
    mip, meta = to_mip(P, o.multiplier_bound)
    sub = sh.solve(mip, solver=backend, time_limit=_remaining(t0, time_limit), seed=seed)
    runtime = time.perf_counter() - t0
    info: dict[str, Any] = {"local": False, "multiplier_bound": meta["multiplier_bound"],
                            "mip_columns": mip.c.size, "mip_rows": mip.A.shape[0]}
    if sub.x is None:
        return sh.Result(sub.status, runtime=runtime, iterations=sub.iterations, info=info,
                         error=sub.error)
    z, at_bound = from_mip_solution(meta, sub.x)
    x, y = z[:P.nx], z[P.nx:]
    exact = meta["slack_bounds_proven"] and not at_bound
    info["global"] = bool(sub.status == sh.Status.OPTIMAL and exact)
    if at_bound:
        info["warning"] = (f"a multiplier ended at its big-M bound {meta['multiplier_bound']:g}: "
                           f"raise multiplier_bound (the optimum may be cut off)")
    status = sub.status if exact or sub.status != sh.Status.OPTIMAL else sh.Status.FEASIBLE
    obj = P.F(x, y)
    return sh.Result(status, objective=obj, bound=sub.bound if info["global"] else None,
                     x=z, runtime=runtime, iterations=sub.iterations,
                     trajectory=[(t, v) for t, v in sub.trajectory] or [(runtime, obj)], info=info)


_SCIP_STATUS = {"optimal": sh.Status.OPTIMAL, "infeasible": sh.Status.INFEASIBLE,
                "unbounded": sh.Status.UNBOUNDED, "inforunbd": sh.Status.INFEASIBLE,
                "timelimit": sh.Status.TIME_LIMIT, "userinterrupt": sh.Status.INTERRUPTED,
                "nodelimit": sh.Status.ITERATION_LIMIT, "gaplimit": sh.Status.FEASIBLE}


def _solve_scip(P: BilevelProblem, K: KKTForm, t0: float, time_limit: float | None, seed: int,
                o: KKTOptions, notifier: Any) -> sh.Result:
    from pyscipopt import Model, quicksum

    m = Model("bilevel-kkt")
    m.hideOutput()
    m.setParam("randomization/randomseedshift", int(seed) % 2**31)
    m.setParam("limits/gap", o.rel_gap)
    m.setParam("numerics/feastol", 1e-8)
    rem = _remaining(t0, time_limit)
    if rem is not None:
        m.setParam("limits/time", rem)

    def bound(v: float) -> float | None:
        return float(v) if math.isfinite(v) else None

    z = [m.addVar(f"x{i + 1}", lb=bound(K.xl[i]), ub=bound(K.xu[i])) for i in range(K.nx)]
    z += [m.addVar(f"y{j + 1}", lb=bound(K.yl[j]), ub=bound(K.yu[j])) for j in range(K.ny)]

    def lin(a: np.ndarray) -> Any:
        nz = np.flatnonzero(a)
        return quicksum(float(a[i]) * z[i] for i in nz)

    for A, b, eq, what in ((K.AG, K.bG, K.G_eq, "G"), (K.Ag, K.bg, K.g_eq, "g")):
        for i in range(A.shape[0]):
            e = lin(A[i])
            m.addCons(e == float(b[i]) if eq[i] else e <= float(b[i]), name=f"{what}{i + 1}")
    lg = K.Ag.shape[0]
    lam = [m.addVar(f"lam{i + 1}", lb=None if K.g_eq[i] else 0.0) for i in range(lg)]
    mu_lo = {int(j): m.addVar(f"mu_lo{j + 1}", lb=0.0) for j in np.flatnonzero(np.isfinite(K.yl))}
    mu_up = {int(j): m.addVar(f"mu_up{j + 1}", lb=0.0) for j in np.flatnonzero(np.isfinite(K.yu))}
    Agy = K.Ag[:, K.nx:]
    for j in range(K.ny):
        e = lin(K.Hy[j]) + quicksum(float(Agy[i, j]) * lam[i] for i in np.flatnonzero(Agy[:, j]))
        if j in mu_lo:
            e = e - mu_lo[j]
        if j in mu_up:
            e = e + mu_up[j]
        m.addCons(e == -float(K.cy[j]), name=f"stationarity{j + 1}")
    for kind, i in K.pairs():
        if kind == "g":
            s = m.addVar(f"s{i + 1}", lb=0.0)
            m.addCons(s + lin(K.Ag[i]) == float(K.bg[i]))
            m.addConsSOS1([lam[i], s], name=f"comp_g{i + 1}")
        elif kind == "lo":
            s = m.addVar(f"s_lo{i + 1}", lb=0.0)
            m.addCons(s == z[K.nx + i] - float(K.yl[i]))
            m.addConsSOS1([mu_lo[i], s], name=f"comp_lo{i + 1}")
        else:
            s = m.addVar(f"s_up{i + 1}", lb=0.0)
            m.addCons(s == float(K.yu[i]) - z[K.nx + i])
            m.addConsSOS1([mu_up[i], s], name=f"comp_up{i + 1}")
    linear = lin(K.cF)
    if K.HF is None:
        m.setObjective(linear, "minimize")
    else:  # SCIP takes a linear objective: an epigraph variable over the quadratic
        t = m.addVar("F_epigraph", lb=None)
        rows, cols = np.nonzero(np.triu(K.HF))
        quad = quicksum((0.5 if r == c else 1.0) * float(K.HF[r, c]) * z[r] * z[c]
                        for r, c in zip(rows, cols))
        m.addCons(quad + linear <= t, name="F_epigraph")
        m.setObjective(t, "minimize")
    m.addObjoffset(K.F0)
    # the host's Ctrl-C flag (set by its SIGINT handler) reaches SCIP through a watcher thread
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.05):
            if stop_requested():
                m.interruptSolve()
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        m.optimize()
    finally:
        done.set()
        watcher.join()
    runtime = time.perf_counter() - t0
    status = _SCIP_STATUS.get(m.getStatus(), sh.Status.FEASIBLE)
    info: dict[str, Any] = {"local": False, "scip_status": m.getStatus(),
                            "nodes": int(m.getNNodes())}
    if m.getNSols() == 0:
        if status == sh.Status.OPTIMAL:
            status = sh.Status.ERROR
        return sh.Result(status, runtime=runtime, info=info,
                         error="SCIP ended without a solution" if status == sh.Status.ERROR else None)
    sol = m.getBestSol()
    v = np.array([m.getSolVal(sol, var) for var in z])
    x, y = v[:K.nx], v[K.nx:]
    obj = P.F(x, y)
    info["global"] = status == sh.Status.OPTIMAL
    bound_val = float(m.getDualbound())
    notifier.incumbent(runtime, obj, bound_val)
    return sh.Result(status, objective=obj, bound=bound_val if math.isfinite(bound_val) else None,
                     x=v, runtime=runtime, iterations=int(m.getNNodes()),
                     trajectory=[(runtime, obj)], info=info)
