"""The Balans solver: one iterate loop over registered components, under one wall-clock deadline.

    t = 0 ----- root LP ----- first full-problem solve ----- LNS iterations ----- deadline
                (capped)      (initial_share of the budget,   (each sub-MIP capped by the
                              incumbents recorded as found)    time left; none starts after it)

Everything is minimised internally (a max problem is negated) and reported in the problem's own
sense. Every solution is re-checked on the original model before it becomes an incumbent.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from solverhub.core.errors import BadInputError
from solverhub.core.interrupt import stop_requested
from solverhub.core.manager import get_plugin_manager
from solverhub.core.metasearch import Candidate, Neighbourhood, Outcome, SearchState
from solverhub.core.mip import MIPProblem, integral_objective
from solverhub.core.observers import NULL_NOTIFIER, Notifier
from solverhub.core.result import Result, Status
from solverhub.plugins.balans.guard import DeadlineBackend
from solverhub.plugins.balans.options import BalansOptions
from solverhub.plugins.balans.stop.rules import MaxIterations, NoImprovement, Optimality, TimeLimit, gap_closed

__all__ = ["BalansSolver", "objective_is_integral", "round_bound"]

log = logging.getLogger("solverhub.balans")

ABS_TOL = 1e-9


def objective_is_integral(p: MIPProblem) -> bool:
    """True when c x is integral at every feasible point: continuous columns have zero cost and
    integer columns integral cost (within 1e-9)."""
    return integral_objective(p.c, p.integrality, tol=1e-9)


def round_bound(p: MIPProblem, bound: float, integral: bool) -> float:
    """A lower bound of the minimised objective, rounded up when c x is integral."""
    if not integral or not math.isfinite(bound):
        return bound
    return math.ceil(bound - p.offset - 1e-6) + p.offset


@dataclass
class ArmStats:
    name: str
    pulls: int = 0
    counts: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    reward_sum: float = 0.0
    time: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        d = {"name": self.name, "pulls": self.pulls}
        d.update({n: c for n, c in zip(Outcome.NAMES, self.counts)})
        d["reward_sum"] = self.reward_sum
        d["time"] = self.time
        return d


class _StallWatchdog:
    """Interrupts the first full-problem solve once it has an incumbent and either (a) has run past
    ``not_before`` (absolute perf_counter time) with its last improvement (or start) ``stall``
    seconds old -- the backend's own search has stalled and the time is better spent on
    neighbourhoods -- or (b) has reached ``cap``. Without an incumbent it lets the solve go on to the
    deadline: restarting it would throw away its root LP and tree, and without a solution there is
    no neighbourhood to search."""

    def __init__(self, run: "_Run", backend, not_before: float, stall: float | None,
                 cap: float) -> None:
        import threading

        self.run, self.backend = run, backend
        self.not_before, self.stall, self.cap = not_before, stall, cap
        self.started = time.perf_counter()
        self.fired = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.05):
            if self.run.best_x is None:
                continue
            now = time.perf_counter()
            last = self.run.t0 + self.run.trajectory[-1][0] if self.run.trajectory else self.started
            stalled = self.stall is not None and now >= self.not_before \
                and now - max(last, self.started) >= self.stall
            if stalled or now >= self.cap:
                self.fired = True
                self.backend.interrupt()
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)


class BalansSolver:
    """``BalansSolver(**options).solve(problem, time_limit=30, seed=0)``. Stores only its options:
    every solve builds fresh components (policy, acceptance, stopping rules) and a fresh backend."""

    def __init__(self, **options: Any) -> None:
        self.options = BalansOptions(**options)

    def solve(self, problem: MIPProblem, *, time_limit: float | None = None, seed: int = 0,
              notifier: Notifier = NULL_NOTIFIER) -> Result:
        return _Run(self.options, problem, time_limit, seed, notifier).run()


class _Run:
    """State of one solve (discarded afterwards)."""

    def __init__(self, opts: BalansOptions, problem: MIPProblem, time_limit: float | None, seed: int,
                 notifier: Notifier) -> None:
        self.t0 = time.perf_counter()
        self.opts = opts
        self.problem = problem
        self.budget = float(time_limit) if time_limit is not None else opts.default_time_limit
        self.deadline = self.t0 + self.budget
        self.seed = int(seed)
        self.rng = np.random.default_rng(abs(self.seed))
        self.notifier = notifier
        self.level = logging.INFO if opts.verbose else logging.DEBUG
        self.minp = problem.as_minimization()
        self.sense = problem.sense
        self.integral = objective_is_integral(self.minp)
        self.best_x: np.ndarray | None = None
        self.best_obj = math.inf
        self.dual_bound = -math.inf
        self.proved = False
        self.trajectory: list[tuple[float, float]] = []
        self.bound_trajectory: list[tuple[float, float]] = []  # (t, dual bound) at each improvement
        self.pool: list[np.ndarray] = []
        self.info: dict[str, Any] = {}

    # ------------------------------------------------------------------ helpers
    def now(self) -> float:
        return time.perf_counter() - self.t0

    def time_left(self) -> float:
        return self.deadline - time.perf_counter()

    def tol(self, ref: float) -> float:
        return self.opts.improvement_tolerance * abs(ref) + ABS_TOL if math.isfinite(ref) else 0.0

    def own(self, v: float) -> float:
        return self.sense * v

    def update_bound(self, bound: float | None) -> None:
        if bound is None or not math.isfinite(bound):
            return
        b = round_bound(self.minp, float(bound), self.integral)
        if b > self.dual_bound:
            self.dual_bound = b
            self.bound_trajectory.append((self.now(), self.own(b)))

    def gap_closed(self) -> bool:
        return self.proved or gap_closed(self.best_obj, self.dual_bound, self.opts.gap_tolerance, ABS_TOL)

    def offer(self, x: np.ndarray | None) -> bool:
        """Check ``x`` on the original model; make it the best when it improves. Returns True for a
        new best."""
        if x is None:
            return False
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (self.minp.n,):
            return False
        rep = self.minp.check(x)
        if not rep.feasible:
            self.info["rejected_infeasible"] = self.info.get("rejected_infeasible", 0) + 1
            return False
        obj = float(rep.objective)
        if obj < self.best_obj - self.tol(self.best_obj):
            self.best_x, self.best_obj = x.copy(), obj
            t = self.now()
            self.trajectory.append((t, self.own(obj)))
            if self.opts.pool_size:
                self.pool.append(self.best_x)
                del self.pool[:-self.opts.pool_size]
            bound = self.own(self.dual_bound) if math.isfinite(self.dual_bound) else None
            self.notifier.incumbent(t, self.own(obj), bound)
            log.log(self.level, "balans: new best %.10g at %.2fs", self.own(obj), t)
            return True
        return False

    # ------------------------------------------------------------------ components
    def _components(self):
        pm = get_plugin_manager()
        o = self.opts
        destroy, repair = [], []
        for name in o.destroy:
            comp = pm.get_meta("destroy", name)
            destroy.append((name, comp.factory(**o.destroy_params.get(name, {}))))
        for name in o.repair:
            comp = pm.get_meta("repair", name)
            repair.append((name, comp.factory(**o.repair_params.get(name, {}))))
        unknown = set(o.destroy_params) - set(o.destroy)
        if unknown:
            raise BadInputError(f"solver 'balans': destroy_params names operators not in destroy: "
                                f"{sorted(unknown)}")
        arms = [(d, r) for d in destroy for r in repair]
        pcomp = pm.get_meta("policy", o.policy)
        pparams = dict(o.policy_params)
        if "max_reward" in pcomp.params and pparams.get("max_reward") is None:
            pparams["max_reward"] = max(o.scores) if max(o.scores) > 0 else None
        try:
            policy = pcomp.factory(n_arms=len(arms), **pparams)
            acceptance = pm.get_meta("acceptance", o.acceptance).factory(**o.acceptance_params)
        except (TypeError, ValueError) as exc:
            raise BadInputError(f"solver 'balans': bad policy or acceptance parameters: {exc}") from exc
        rules = [TimeLimit(), Optimality(o.gap_tolerance, ABS_TOL)]
        if o.max_iterations is not None:
            rules.append(MaxIterations(o.max_iterations))
        if o.no_improvement is not None:
            rules.append(NoImprovement(o.no_improvement))
        for name, params in o.stopping.items():
            rules.append(pm.get_meta("stopping", name).factory(**params))
        return arms, policy, acceptance, rules

    # ------------------------------------------------------------------ the run
    def run(self) -> Result:
        arms, policy, acceptance, rules = self._components()
        pm = get_plugin_manager()
        raw = pm.get_backend(self.opts.backend).factory(self.minp, threads=1, seed=self.seed)
        backend = DeadlineBackend(raw, self.deadline)
        try:
            status = self._start(backend)
            iterations = 0
            if status is None:
                iterations = self._loop(backend, arms, policy, acceptance, rules)
        finally:
            self.info["deadline_interrupts"] = backend.interrupts
            self.info["max_overrun"] = backend.overrun
            self.info["solves_skipped"] = backend.skipped
            try:
                raw.close()
            except Exception:  # pragma: no cover - closing must not lose the result
                log.debug("balans: backend close failed", exc_info=True)
        return self._result(status, iterations, arms)

    def _start(self, backend) -> Status | None:
        """First solution, then the root LP. Returns a final status (infeasible, unbounded, optimal)
        or None to go on with the search.

        The full-problem solve comes first so that the trajectory starts as early as the backend's
        alone would (its own root LP is part of it); the root LP that RINS/RENS/DINS need is solved
        afterwards, only when the search goes on."""
        status = self._initial_solution(backend)
        if status is not None or stop_requested():  # Ctrl-C: no root LP, the loop stops at once
            return status
        return self._root_lp(backend)

    def _root_lp(self, backend) -> Status | None:
        o = self.opts
        t = time.perf_counter()
        self.lp_x, self.lp_obj = None, None
        lp_limit = min(o.lp_time_limit or max(0.1 * self.budget, 0.5), 0.5 * self.time_left())
        if lp_limit > 0.01:
            lp = backend.solve_relaxation(time_limit=lp_limit)
            if lp.status == Status.INFEASIBLE and self.best_x is None:
                self.info["time_lp"] = time.perf_counter() - t
                return Status.INFEASIBLE
            if lp.status == Status.OPTIMAL and lp.x is not None:
                self.lp_x = np.asarray(lp.x, dtype=np.float64)
                self.lp_obj = float(self.minp.evaluate(self.lp_x))
                self.update_bound(self.lp_obj)
                self.offer(self.lp_x)  # an integral LP optimum is the optimum
            self.info["lp_status"] = str(lp.status)
        self.info["time_lp"] = time.perf_counter() - t
        self.info["lp_bound"] = self.own(self.lp_obj) if self.lp_obj is not None else None
        if self.best_x is not None and self.gap_closed():
            self.proved = True
            return Status.OPTIMAL
        return None

    def _initial_solution(self, backend) -> Status | None:
        o = self.opts
        self.lp_x, self.lp_obj = None, None
        t = time.perf_counter()
        limit = o.initial_time_limit or o.initial_share * self.budget
        emphasis = o.initial_emphasis
        attempts = 0
        caps = getattr(backend, "capabilities", frozenset())

        def on_incumbent(_t: float, _obj: float, x: np.ndarray) -> bool:
            self.offer(x)
            return self.gap_closed()

        while backend.usable() > 0.01 and not stop_requested():
            attempts += 1
            watchdog = None
            solve_limit = limit
            if attempts == 1 and o.initial_time_limit is None and "interrupt" in caps \
                    and "incumbent_callback" in caps:
                # the watchdog ends this solve at initial_share (or on a stall) once it has an
                # incumbent; until then it may run to the deadline
                watchdog = _StallWatchdog(
                    self, backend, self.t0 + o.initial_min_share * self.budget,
                    None if o.initial_stall is None else o.initial_stall * self.budget,
                    self.t0 + o.initial_share * self.budget)
                solve_limit = self.time_left()
            try:
                res = backend.solve(time_limit=max(min(solve_limit, self.time_left()), 1e-3),
                                    emphasis=emphasis,
                                    on_incumbent=on_incumbent if "incumbent_callback" in caps else None,
                                    seed=int(self.rng.integers(0, 2**31 - 1)),
                                    relative_gap=o.gap_tolerance)
            finally:
                if watchdog is not None:
                    watchdog.stop()
                    self.info["initial_stalled"] = watchdog.fired
            if res.status == Status.INFEASIBLE:
                self.info["time_initial"] = time.perf_counter() - t
                return Status.INFEASIBLE
            if res.status == Status.UNBOUNDED:
                self.info["time_initial"] = time.perf_counter() - t
                return Status.UNBOUNDED
            self.offer(res.x)
            if "dual_bound" in caps or res.status == Status.OPTIMAL:
                self.update_bound(res.bound)
            if res.status == Status.OPTIMAL and self.best_x is not None:
                self.proved = True
            if self.best_x is not None:
                break
            limit, emphasis = 2 * limit, "feasibility"
        self.info["time_initial"] = time.perf_counter() - t
        self.info["initial_attempts"] = attempts
        self.info["time_to_first"] = self.trajectory[0][0] if self.trajectory else None
        if self.best_x is not None and self.gap_closed():
            self.proved = True
            return Status.OPTIMAL
        return None

    def _sub_time_limit(self) -> float:
        if self.opts.sub_time_limit is not None:
            return self.opts.sub_time_limit
        return float(np.clip(0.1 * self.budget, 0.5, 60.0))

    def _loop(self, backend, arms, policy, acceptance, rules) -> int:
        if self.best_x is None:
            return 0
        o = self.opts
        scores = o.scores
        sub_limit = self._sub_time_limit()
        stats = [ArmStats(d[0] if len(o.repair) == 1 else f"{d[0]}+{r[0]}") for d, r in arms]
        self.arm_stats = stats
        log_rows: list[list] = []
        self.info["iteration_log"] = log_rows
        current_x, current_obj = self.best_x, self.best_obj
        state = SearchState(problem=self.minp, incumbent=current_x, incumbent_objective=current_obj,
                            best=self.best_x, best_objective=self.best_obj, lp_x=self.lp_x,
                            lp_objective=self.lp_obj, dual_bound=self.dual_bound, backend=backend,
                            solutions=self.pool)

        def on_sub_incumbent(x: np.ndarray, _obj: float) -> bool:
            self.offer(x)
            return self.gap_closed()

        state.info["sub_time_limit"] = sub_limit
        state.info["on_sub_incumbent"] = on_sub_incumbent
        t_sub = t_destroy = 0.0
        no_improve = 0
        it = 0
        step = getattr(acceptance, "step", None)
        while True:
            state.iteration = it
            state.elapsed = self.now()
            state.time_left = backend.usable()  # less what the backend has overrun before
            state.best, state.best_objective = self.best_x, self.best_obj
            state.incumbent, state.incumbent_objective = current_x, current_obj
            state.dual_bound = self.dual_bound
            state.iterations_without_improvement = no_improve
            if self.gap_closed():
                self.proved = True
                break
            if stop_requested():  # Ctrl-C: the running sub-MIP was stopped by its backend too
                self.info["stopped_by_user"] = True
                break
            if state.time_left <= 0.01 or any(rule(state) for rule in rules):
                break
            t_start = self.now()
            a = policy.select(self.rng)
            (dname, destroy), (rname, repair) = arms[a]
            best_before = self.best_obj
            state.info.pop("side_solutions", None)
            td = time.perf_counter()
            nb: Neighbourhood = destroy(state, self.rng)
            t_destroy += time.perf_counter() - td
            for x in state.info.pop("side_solutions", []) or []:
                self.offer(x)
            cand: Candidate | None = None
            status = "skipped"
            left = backend.usable()
            if nb.info.get("not_applicable"):
                status = "not_applicable"
            elif left > 0:
                limit = min(nb.time_limit if nb.time_limit is not None else sub_limit, left)
                cand = repair(state, nb, limit, self.rng)
                t_sub += cand.runtime
                status = cand.status
                if cand.bound is not None and nb.is_empty:
                    self.update_bound(cand.bound)

            outcome, cand_obj = Outcome.REJECT, math.inf
            accepted = False
            rep = None
            if cand is not None and cand.x is not None and cand.x.shape == (self.minp.n,):
                rep = self.minp.check(cand.x)
                if not rep.feasible:
                    status = "candidate failed the feasibility check"
                    rep = None
            if rep is not None:
                cand_obj = float(rep.objective)
                self.offer(cand.x)
                changed = bool(np.any(np.abs(cand.x - current_x) > 1e-9))
                tol = self.tol(current_obj)
                value = current_obj if abs(cand_obj - current_obj) <= tol else cand_obj
                if changed:
                    verdict = acceptance(self.rng, self.best_obj, current_obj, value)
                else:
                    verdict = False
                    if step is not None:
                        step()
                if cand_obj < best_before - self.tol(best_before):
                    outcome, accepted = Outcome.BEST, True
                elif changed and verdict:
                    accepted = True
                    outcome = Outcome.BETTER if cand_obj < current_obj - tol else Outcome.ACCEPT
                if accepted:
                    current_x, current_obj = np.asarray(cand.x, dtype=np.float64), cand_obj
            elif step is not None:
                step()
            if outcome != Outcome.BEST and self.best_obj < best_before - self.tol(best_before):
                # a side solution or a sub-MIP callback found a new best during this iteration
                outcome = Outcome.BEST
                current_x, current_obj = self.best_x, self.best_obj
            reward = scores[outcome]
            policy.update(a, reward)
            st = stats[a]
            st.pulls += 1
            st.counts[outcome] += 1
            st.reward_sum += reward
            t_end = self.now()
            st.time += t_end - t_start
            no_improve = 0 if outcome == Outcome.BEST else no_improve + 1
            log_rows.append([round(t_start, 4), round(t_end, 4), a, outcome])
            it += 1
            iinfo = {"arm": st.name, "outcome": Outcome.NAMES[outcome], "reward": reward,
                     "objective": self.own(cand_obj) if math.isfinite(cand_obj) else None,
                     "best": self.own(self.best_obj), "current": self.own(current_obj),
                     "sub_time": cand.runtime if cand is not None else 0.0, "status": status,
                     "n_free": nb.n_free, "t": t_end}
            self.notifier.iteration(it, iinfo)
            log.log(self.level, "balans it %d %s %s obj=%s best=%.10g (%.2fs)", it, st.name,
                    Outcome.NAMES[outcome], iinfo["objective"], iinfo["best"], t_end)
        self.info["time_sub_mip"] = t_sub
        self.info["time_destroy"] = t_destroy
        self.info["sub_time_limit"] = sub_limit
        return it

    def _result(self, status: Status | None, iterations: int, arms) -> Result:
        runtime = self.now()
        info = self.info
        info["iterations"] = iterations
        info["bound_trajectory"] = [list(tb) for tb in self.bound_trajectory]
        info["arms"] = [s.to_dict() for s in getattr(self, "arm_stats", [])]
        info["budget"] = self.budget
        info["deadline"] = self.budget
        info["seed"] = self.seed
        spent = sum(info.get(k, 0.0) or 0.0 for k in ("time_lp", "time_initial", "time_sub_mip"))
        info["time_overhead"] = max(0.0, runtime - spent)
        if status is None:
            if self.best_x is None:
                status = Status.TIME_LIMIT
            elif self.proved or self.gap_closed():
                status = Status.OPTIMAL
            else:
                status = Status.FEASIBLE
            if status != Status.OPTIMAL and stop_requested():
                status = Status.INTERRUPTED  # Ctrl-C: the best incumbent so far, if any
        if status == Status.OPTIMAL and self.best_x is not None and not math.isfinite(self.dual_bound):
            self.dual_bound = self.best_obj  # proved by the backend without a reported bound
        objective = self.problem.evaluate(self.best_x) if self.best_x is not None else None
        bound = None
        if status == Status.INFEASIBLE or status == Status.UNBOUNDED:
            objective, bound = None, None
            self.best_x = None
        elif math.isfinite(self.dual_bound):
            bound = self.own(self.dual_bound)
        return Result(status=status, objective=objective, bound=bound, x=self.best_x, runtime=runtime,
                      iterations=iterations, trajectory=list(self.trajectory), info=info)
