"""The Balans solver: one iterate loop over registered components, under one wall-clock deadline.

    t = 0 ----- first full-problem solve ----- root LP ----- LNS iterations ----- deadline
                (initial_share of the budget,      (capped)     (each sub-MIP capped by the
                 incumbents recorded as found,                   time left; none starts after it;
                 never cut while closing the gap)                "continue" pulls: the whole problem)

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

from solverhub.core.backend import BackendResult
from solverhub.core.errors import BadInputError
from solverhub.core.interrupt import stop_requested
from solverhub.core.manager import get_plugin_manager
from solverhub.core.metasearch import Candidate, Neighbourhood, Outcome, SearchState
from solverhub.core.mip import MIPProblem, integral_objective
from solverhub.core.observers import NULL_NOTIFIER, Notifier
from solverhub.core.records import resolve
from solverhub.core.result import Result, Status
from solverhub.core.solver import SolverBase
from solverhub.plugins.balans.background import BackgroundSearch, can_pause
from solverhub.plugins.balans.guard import DeadlineBackend
from solverhub.plugins.balans.options import BalansOptions
from solverhub.plugins.balans.stop.rules import MaxIterations, NoImprovement, Optimality, TimeLimit, gap_closed

__all__ = ["BalansSolver", "first_phase_backend", "is_set_partitioning", "objective_is_integral",
           "round_bound"]

log = logging.getLogger("solverhub.balans")

ABS_TOL = 1e-9


def _stop_status(rule: object) -> Status:
    """The status a search ended by stopping rule ``rule`` reports with its incumbent: the time
    or iteration limit, or ``feasible`` for a convergence rule (no improvement, optimality within
    the gap tolerance, a plugin's rule)."""
    if isinstance(rule, TimeLimit):
        return Status.TIME_LIMIT
    if isinstance(rule, MaxIterations):
        return Status.ITERATION_LIMIT
    return Status.FEASIBLE


def objective_is_integral(p: MIPProblem) -> bool:
    """True when c x is integral at every feasible point: continuous columns have zero cost and
    integer columns integral cost (within 1e-9)."""
    return integral_objective(p.c, p.integrality, tol=1e-9)


def round_bound(p: MIPProblem, bound: float, integral: bool) -> float:
    """A lower bound of the minimised objective, rounded up when c x is integral."""
    if not integral or not math.isfinite(bound):
        return bound
    return math.ceil(bound - p.offset - 1e-6) + p.offset


#: the learnt first phase (first_backend="auto"): a set-partitioning model (every column binary,
#: at least this share of the rows sum(x) = 1 over unit coefficients) of at least PARTITION_MIN_COLS
#: columns has its first solve on SCIP. Chosen on the tuning half (air04: HiGHS's first incumbent
#: at 12 s alone, none within 30 s under load, SCIP's at 3.8 s); docs/balans.md
PARTITION_MIN_SHARE = 0.95
PARTITION_MIN_COLS = 5000


def is_set_partitioning(p: MIPProblem, min_share: float = PARTITION_MIN_SHARE) -> bool:
    """True when every column is binary and at least ``min_share`` of the rows are set-partitioning
    rows (an equality to 1 over coefficients all 1)."""
    m = p.A.shape[0]
    if m == 0 or not bool(np.all(p.integrality & (p.col_lower >= 0) & (p.col_upper <= 1))):
        return False
    A = p.A.tocsr()
    eq = (p.row_lower == p.row_upper) & (np.abs(p.row_upper - 1.0) <= 1e-9)
    # rows whose coefficients are all 1: their sum equals their length
    counts = np.diff(A.indptr)
    non_unit = np.bincount(np.repeat(np.arange(m), counts)[A.data != 1.0], minlength=m)
    part = eq & (non_unit == 0) & (counts > 0)
    return float(part.mean()) >= min_share


def first_phase_backend(p: MIPProblem, default: str) -> str:
    """The learnt first phase: the backend of the first full-problem solve from cheap features of
    the model (no probe solve): SCIP for large set-partitioning models, ``default`` otherwise. The
    rule was learnt against HiGHS: another ``default`` (a user's choice) is kept."""
    if default == "highs" and p.n >= PARTITION_MIN_COLS and is_set_partitioning(p):
        return "scip"
    return default


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


class _GapWatchdog:
    """Ends a backend search on the *whole* problem (the first solve, or a "continue" pull) from
    another thread, and never while that search is closing the gap.

    The gap is best minus dual bound (the run's, raised by the backend's running dual bound where it
    reports one through ``progress()``). The search is *closing* the gap when, over the last
    ``window`` seconds, the gap fell at a rate that would close it within the time left. Otherwise it
    is interrupted once it has an incumbent and either (a) it has run past ``not_before`` (absolute
    perf_counter time) with its last improvement ``stall`` seconds old (its search has stalled; the
    time is better spent on neighbourhoods), or (b) it has reached ``cap``. Without an incumbent it
    runs on: a restart would throw away its root LP and tree, and there is no neighbourhood to search
    without a solution."""

    POLL = 0.05

    def __init__(self, run: "_Run", backend, not_before: float, stall: float | None,
                 cap: float, window: float, spare_root: bool = False) -> None:
        import threading

        self.run, self.backend = run, backend
        # spare_root: not cut while the backend reports its search still at the root node (a
        # restart throws the root LP and cuts away, and no tree search has been seen to judge)
        self._nodes = getattr(backend, "nodes", None) if spare_root else None
        self.not_before, self.stall, self.cap = not_before, stall, cap
        self.window = max(float(window), 0.5)
        self.started = time.perf_counter()
        self.fired = False
        self.fired_at: float | None = None
        #: it fired at the cap while the search was still improving (its last new incumbent younger
        #: than ``stall``), not because it had stalled
        self.cut_improving = False
        self.extended = 0.0  # seconds it ran past the cut because it was closing the gap
        self._samples: list[tuple[float, float]] = []  # (time, gap)
        self._progress = getattr(backend, "progress", None)  # None or returning None: no reports
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True, name="balans-gap-watchdog")
        self._thread.start()

    def _gap(self, now: float) -> float:
        run = self.run
        dual = run.dual_bound
        if self._progress is not None:
            pr = self._progress()
            if pr is not None and pr[0] >= self.started and math.isfinite(pr[2]):
                dual = max(dual, round_bound(run.minp, pr[2], run.integral))
        if not (math.isfinite(run.best_obj) and math.isfinite(dual)):
            return math.inf
        return max(run.best_obj - dual, 0.0)

    def closing(self, now: float) -> bool:
        """True when the gap fell over the window at a rate that closes it within the time left."""
        if not self._samples:
            return False
        gap = self._samples[-1][1]
        if gap <= self.run.tol(self.run.best_obj):
            return True
        old = None
        for t, g in self._samples:
            if t <= now - self.window:
                old = (t, g)
            else:
                break
        if old is None:  # younger than the window: judge from its first sample
            old = self._samples[0]
        span = now - old[0]
        if span < 0.5 or not math.isfinite(old[1]) or not math.isfinite(gap) or old[1] <= gap:
            return False
        rate = (old[1] - gap) / span
        return gap / rate <= self.run.time_left()

    def at_root(self) -> bool:
        """True while a spared search reports that it has not left the root node."""
        if self._nodes is None:
            return False
        nodes = self._nodes()
        return nodes is not None and nodes == 0

    def _watch(self) -> None:
        cut_at = None
        while not self._stop.wait(self.POLL):
            now = time.perf_counter()
            self._samples.append((now, self._gap(now)))
            # keep what the window needs (one sample older than it)
            while len(self._samples) > 2 and self._samples[1][0] <= now - self.window:
                self._samples.pop(0)
            if self.run.best_x is None or now < self.not_before:
                continue
            last = self.run.t0 + self.run.trajectory[-1][0] if self.run.trajectory else self.started
            stalled = self.stall is not None and now - max(last, self.started) >= self.stall
            if not (stalled or now >= self.cap):
                continue
            if self.closing(now) or self.at_root():
                cut_at = cut_at or now
                continue
            self.extended = now - cut_at if cut_at is not None else 0.0
            self.cut_improving = not stalled
            self.fired = True
            self.fired_at = time.perf_counter()
            self.backend.interrupt()
            return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)


class _TwoLevelPolicy:
    """With "continue" among other arms, the choice is made in two levels: first between the
    backend's own search and a neighbourhood, then by the configured policy among the neighbourhoods.

    The first level is Thompson sampling on *reward per second*: each side keeps a Beta posterior of
    its normalised reward (as the ``thompson`` policy) and the mean seconds of its pulls, and the side
    with the larger sample / mean seconds is played. A "continue" pull restarts the backend's search
    and costs several sub-MIPs' time, so it must pay proportionally more; two sides are learnt in a
    few pulls, where a flat bandit over 17 arms barely tries one arm in the 10-30 iterations of a
    30 s run. Seconds start at the pulls' limits (``seconds=(continue slice, sub-MIP limit)``).

    What a side earns per second is its reward *above a reject's* (``floor``, the reject score): a
    pull that found nothing gained nothing, however short. With the paper's graded scores [8, 4, 2,
    1] a reject still earned 1/8, so neighbourhoods of 0.3 s that never improved looked better per
    second than a backend search that found a new best in every 6 s pull (pk1, danoint: the time
    went to neighbourhoods that never paid instead of the search HiGHS alone runs)."""

    def __init__(self, cont: list[int], lns: list[int], inner, max_reward: float,
                 floor: float = 0.0) -> None:
        self.cont, self.lns, self.inner = cont, lns, inner
        self._cont = set(cont)
        self._pos = {a: i for i, a in enumerate(lns)}
        self.floor = floor if max_reward > floor else 0.0
        self.max_reward = max_reward if max_reward > self.floor else self.floor + 1.0
        self.a = np.ones(2)
        self.b = np.ones(2)
        self.seconds = [[1.0, 1], [1.0, 1]]  # [total seconds, pulls] (prior: one pull of 1 s)

    @classmethod
    def build(cls, arms, make, max_reward: float, floor: float = 0.0):
        cont = [i for i, ((d, _), _r) in enumerate(arms) if d == "continue"]
        if not cont or len(cont) == len(arms):
            return make(len(arms))
        lns = [i for i in range(len(arms)) if i not in cont]
        return cls(cont, lns, make(len(lns)), max_reward, floor)

    def prior_seconds(self, continue_seconds: float, lns_seconds: float) -> None:
        self.seconds = [[float(continue_seconds), 1], [float(lns_seconds), 1]]

    def select(self, rng: np.random.Generator) -> int:
        theta = rng.beta(self.a, self.b)
        rate = [theta[k] / max(self.seconds[k][0] / self.seconds[k][1], 1e-3) for k in (0, 1)]
        if rate[0] > rate[1]:
            return self.cont[int(rng.integers(len(self.cont)))] if len(self.cont) > 1 else self.cont[0]
        return self.lns[self.inner.select(rng)]

    def update(self, arm: int, reward: float, seconds: float | None = None) -> None:
        k = 0 if arm in self._cont else 1
        q = float(np.clip((reward - self.floor) / (self.max_reward - self.floor), 0.0, 1.0))
        self.a[k] += q
        self.b[k] += 1.0 - q
        if seconds is not None:
            self.seconds[k][0] += max(float(seconds), 0.0)
            self.seconds[k][1] += 1
        if k == 1:
            self.inner.update(self._pos[arm], reward)


class BalansSolver(SolverBase[BalansOptions]):
    """``BalansSolver(options).solve(problem, time_limit=30, seed=0)``. Stores only its options:
    every solve builds fresh components (policy, acceptance, stopping rules) and a fresh backend."""

    Options = BalansOptions

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
        #: the status of the limit or rule that ended the search (None: not ended by one)
        self.stop_reason: Status | None = None
        self.trajectory: list[tuple[float, float]] = []
        self.bound_trajectory: list[tuple[float, float]] = []  # (t, dual bound) at each improvement
        self.pool: list[np.ndarray] = []
        self.info: dict[str, Any] = {}
        # seconds per unit of free share (share of the non-zeros in unfixed columns) that a solve
        # may run without answering an interrupt (presolve, root LP): starts at the first solve's
        # set-up, raised by every longer stretch seen in the loop (_predicted_stretch)
        self.stretch_per_share = 0.0
        self._col_nnz: np.ndarray | None = None
        self._nnz = 1.0
        self.search: BackgroundSearch | None = None  # the paused first solve (resume_search)
        self._backends: dict[str, DeadlineBackend] = {}
        self._cpu_share: float | None = None
        # every paused whole-problem search by backend name: the first solve's, and with a
        # portfolio the race's others ("continue" pulls on a backend resume its own)
        self.searches: dict[str, BackgroundSearch] = {}
        self._first_done = False  # the first phase is over: later solves' presolve_share is half
        names = [opts.backend] + [b for b in (opts.portfolio or []) if b != opts.backend]
        self.portfolio = names if len(names) > 1 else []
        #: the backend of the first full-problem solve (the portfolio races its own)
        self.first_name = opts.backend
        if not self.portfolio and opts.first_backend == "auto":
            self.first_name = first_phase_backend(problem, opts.backend)
        elif not self.portfolio and opts.first_backend is not None:
            self.first_name = opts.first_backend
        self.info["first_backend"] = self.first_name

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
        return self.proved or gap_closed(self.best_obj, self.dual_bound, self.opts.rel_gap, ABS_TOL)

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
        named = {o.backend, self.first_name, *(o.sub_backends or []), *(o.portfolio or [])}
        stray = set(o.backend_options) - named
        if stray:
            raise BadInputError(f"solver 'balans': backend_options names backends not in use "
                                f"(backend / sub_backends): {sorted(stray)}")
        for name in self.portfolio:  # raced by pausing: each search must hold and go on
            from solverhub.plugins.balans.background import PAUSE_NEEDS

            missing = PAUSE_NEEDS - set(pm.get_backend(name).capabilities)
            if missing:
                raise BadInputError(f"solver 'balans': portfolio backend {name!r} cannot pause a "
                                    f"solve (lacks {sorted(missing)}); use 'highs' or 'scip'")
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
            policy = _TwoLevelPolicy.build(arms, lambda n: pcomp.factory(n_arms=n, **pparams),
                                           max(o.scores),
                                           o.scores[Outcome.REJECT] if o.gain_per_second else 0.0)
            acceptance = pm.get_meta("acceptance", o.acceptance).factory(**o.acceptance_params)
        except (TypeError, ValueError) as exc:
            raise BadInputError(f"solver 'balans': bad policy or acceptance parameters: {exc}") from exc
        rules = [TimeLimit(), Optimality(o.rel_gap, ABS_TOL)]
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
        sub_names = list(dict.fromkeys(self.opts.sub_backends or self.portfolio
                                       or [self.opts.backend]))
        backends: dict[str, DeadlineBackend] = {}
        self._backends = backends
        if self.time_left() <= 0.01:
            # the host's reading took the whole budget (the 80k set cover under load): building a
            # backend (seconds for 800,000 non-zeros) would only make the run late
            self.info["stopped_before_start"] = True
            return self._result(Status.TIME_LIMIT, 0, arms)
        try:
            # the run's backend is built first (a model build is part of the run); the others when
            # first used, and only where their predicted build fits (_build)
            backend = self._build(self.first_name, force=True)
            status = self._initial_solution(backend, backends)
            iterations = 0
            if status is None and not stop_requested():  # Ctrl-C: no root LP, no loop
                # a paused search holds its backend's instance: the root LP and the
                # neighbourhoods get a second one
                nbs: dict[str, DeadlineBackend] = {}
                for name in dict.fromkeys([self.opts.backend, *sub_names]):
                    held = name in self.searches and not self.searches[name].finished
                    b = self._build(name, key=name + " (neighbourhoods)" if held else name,
                                    force=name == self.opts.backend)
                    if b is not None:
                        nbs[name] = b
                self._sub_presolve_share()
                twin = nbs[self.opts.backend]
                subs = [nbs[b] for b in sub_names if b in nbs]
                status = self._root_lp(twin)
                if status is None:
                    iterations = self._loop(twin, arms, policy, acceptance, rules, subs)
            for search in self.searches.values():
                status = self._finish_search(status, search)
        finally:
            if self.search is not None:
                self.info["search_pauses"] = self.search.pauses
            for search in self.searches.values():
                if not search.finished:
                    try:  # an error above: the search thread must not outlive the run
                        search.finish()
                    except Exception:  # pragma: no cover
                        log.debug("balans: ending a background search failed", exc_info=True)
            self.info["deadline_interrupts"] = sum(b.interrupts for b in backends.values())
            self.info["max_overrun"] = max((b.overrun for b in backends.values()), default=0.0)
            self.info["solves_skipped"] = sum(b.skipped for b in backends.values())
            for b in backends.values():
                try:
                    b._backend.close()
                except Exception:  # pragma: no cover - closing must not lose the result
                    log.debug("balans: backend close failed", exc_info=True)
        return self._result(status, iterations, arms)

    #: CPU seconds per non-zero to build a backend where that is not negligible: SCIP's model goes
    #: through an MPS file (write, SCIP's reader, columns by name): 1.2 s of CPU for the 80k set
    #: cover's 800,000 non-zeros, rounded up (20 s of wall time on a machine loaded 8x over)
    BUILD_SECONDS_PER_NNZ = {"scip": 2e-6}

    def _build(self, name: str, key: str | None = None, force: bool = False):
        """The backend ``name`` (cached under ``key``), or None when its predicted build (non-zeros
        x rate / the share of a core this process gets) does not fit in a quarter of the time
        left: the build cannot be interrupted, and a portfolio member is not worth a late run."""
        backends = self._backends
        key = key or name
        if key in backends:
            return backends[key]
        rate = self.BUILD_SECONDS_PER_NNZ.get(name, 0.0)
        if rate and not force:
            if self._cpu_share is None:
                from solverhub.plugins.highs.backend import cpu_share

                self._cpu_share = cpu_share()
            predicted = rate * max(self.minp.A.nnz, 1) / self._cpu_share
            if predicted > 0.25 * self.time_left():
                self.info.setdefault("backends_skipped", {})[key] = round(predicted, 3)
                return None
        backends[key] = b = DeadlineBackend(self._make_backend(name), self.deadline)
        # the first solve: presolve off only where it is predicted to outlast the whole limit.
        # At half of it fast0507's first solve at 30 s lost presolve on a loaded machine and
        # ended at 497-539 (HiGHS alone, with presolve: 188-190), still 0.6-0.9 s late. Later
        # solves keep half (_sub_presolve_share), where a late presolve hits the deadline
        b.presolve_share = self._presolve_share(
            name, self.SUB_PRESOLVE_SHARE if self._first_done else self.FIRST_PRESOLVE_SHARE)
        return backends[key]

    #: share of a solve's limit its predicted presolve may take (MIPBackend.solve's
    #: ``presolve_share``): the first solve all of it, every later solve (sub-MIPs, pulls) half
    FIRST_PRESOLVE_SHARE = 1.0
    SUB_PRESOLVE_SHARE = 0.5

    def _presolve_share(self, name: str, share: float) -> float | None:
        """``share`` as the per-solve ``presolve_share`` of backend ``name``'s solves, unless the
        user set ``presolve_share`` in ``backend_options`` (then None: the backend's own)."""
        return None if "presolve_share" in self.opts.backend_options.get(name, {}) else share

    def _sub_presolve_share(self) -> None:
        """After the first phase: every solve of every backend (the first solve's own, where it
        is reused, included) predicts presolve against half its limit."""
        self._first_done = True
        for key, b in self._backends.items():
            b.presolve_share = self._presolve_share(key.split(" ")[0], self.SUB_PRESOLVE_SHARE)

    def _make_backend(self, name: str):
        """The backend ``name`` over the minimised problem, with ``backend_options[name]``. HiGHS gets
        the feasibility-jump guard by default (its feasibility jump ignores time limits)."""
        pm = get_plugin_manager()
        spec = pm.get_backend(name)
        kwargs = dict(self.opts.backend_options.get(name, {}))
        if name == "highs":
            from solverhub.plugins.highs.backend import (
                FJ_SECONDS_PER_NNZ,
                PRESOLVE_SECONDS_PER_NNZ,
                PRESOLVE_TIME_SHARE,
            )

            kwargs.setdefault("fj_seconds_per_nnz", FJ_SECONDS_PER_NNZ)
            kwargs.setdefault("fj_share", 0.8)
            kwargs.setdefault("presolve_guard", True)
            kwargs.setdefault("presolve_seconds_per_nnz", PRESOLVE_SECONDS_PER_NNZ)
            # presolve's own checks come seconds apart under load (gen-cflss-400's first solve
            # ended its presolve 3.5-13 s past the limit): HiGHS gets half the limit for it
            kwargs.setdefault("presolve_time_share", PRESOLVE_TIME_SHARE)
        try:
            return resolve(spec.factory)(self.minp, threads=1, seed=self.seed, **kwargs)
        except TypeError as exc:
            raise BadInputError(f"solver 'balans': backend_options[{name!r}]: {exc}") from exc

    # The full-problem solve comes first so that the trajectory starts as early as the backend's
    # alone would (its own root LP is part of it); the root LP that RINS/RENS/DINS need is solved
    # afterwards, only when the search goes on.

    def _first_stretch(self, backend, res: BackendResult | None) -> float:
        """What the first solve ran without answering an interrupt: the first prediction of every
        later solve's unresponsive stretch (scaled by its free share). Its set-up before the first
        poll, or its longest poll gap less the predicted worst case of the feasibility jump where
        that ran (the heuristic never runs in the warm-started solves that follow; the rest of the
        gap is root work, cut rounds say, that every solve of this model can have: 1.3 s on
        gen-is-1500)."""
        stats = getattr(backend, "poll_stats", None)
        stats = stats() if stats is not None else {}
        info = res.info if res is not None else {}
        setup = stats.get("setup_seconds", info.get("setup_seconds")) or 0.0
        gap = stats.get("max_poll_gap", info.get("max_poll_gap")) or 0.0
        if stats:
            gap -= float(stats.get("feasibility_jump_worst_case") or 0.0)
        elif "feasibility_jump" not in info:  # no report: the heuristic may be in the gap
            gap = 0.0
        return max(float(setup), float(gap), 0.0)

    def _search_paused(self, backend) -> None:
        """The first solve holds at a pause: learn its set-up and bound as from a finished one."""
        self.stretch_per_share = self._first_stretch(backend, None)
        assert self.search is not None  # called by the paused search itself
        self._bound_from_search(self.search)

    def _held_stretch(self, search: BackgroundSearch) -> float:
        """The longest poll gap of a held whole-problem search so far (its set-up and time held
        excluded; less the feasibility jump's predicted worst case where that ran: the heuristic
        runs once, at its start)."""
        stats = getattr(search.backend, "poll_stats", None)
        stats = stats() if stats is not None else {}
        gap = float(stats.get("max_poll_gap") or 0.0)
        if stats.get("feasibility_jump"):
            gap -= float(stats.get("feasibility_jump_worst_case") or 0.0)
        return max(gap, 0.0)

    def _bound_from_search(self, search: BackgroundSearch) -> None:
        caps = getattr(search.backend, "capabilities", frozenset[str]())
        pr = search.progress()
        if pr is not None and "dual_bound" in caps:
            self.update_bound(pr[2])

    def _resume_search(self, slice_: float, search: BackgroundSearch) -> Candidate:
        """A "continue" pull with a paused search: hand it the best solution, let it run for
        ``slice_`` seconds (longer while it closes the gap), pause it again."""
        o = self.opts
        t = time.perf_counter()
        handed = search.offer(self.best_x, self.best_obj, self.tol(self.best_obj))
        self.info["solutions_handed"] = self.info.get("solutions_handed", 0) + int(handed)
        watchdog = _GapWatchdog(self, search, t + slice_, None, t + slice_,
                                o.progress_window * self.budget)
        try:
            search.resume()
            paused = search.run_until_paused()
        finally:
            watchdog.stop()
        if paused:
            if watchdog.fired_at is not None:  # how late it answered the pause
                self._learn_stretch(time.perf_counter() - watchdog.fired_at, 1.0)
            self._bound_from_search(search)
            status = "paused"
        else:
            status = str(self._finish_search(None, search) or "ended")
        return Candidate(None, math.inf, status, runtime=time.perf_counter() - t,
                         info={"extended": watchdog.extended})

    def _finish_search(self, status: Status | None,
                       search: BackgroundSearch | None) -> Status | None:
        """End a paused (or ended) whole-problem search and take its last solution and bound."""
        if search is None or search.taken:
            return status
        res = search.finish()
        search.taken = True
        if res is None:
            return status
        self.offer(res.x)
        caps = getattr(search.backend, "capabilities", frozenset[str]())
        if "dual_bound" in caps or res.status == Status.OPTIMAL:
            self.update_bound(res.bound)
        if res.status == Status.OPTIMAL and self.best_x is not None:
            self.proved = True
        if res.status in (Status.INFEASIBLE, Status.UNBOUNDED) and self.best_x is None:
            return res.status
        return status

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

    def _race(self, backends: dict[str, Any], emphasis: str) -> BackgroundSearch:
        """The portfolio's first phase on one thread: the backends' whole-problem searches take
        turns (each paused, never restarted, while another runs) in slices that start at
        ``race_slice`` of the budget and double each round until one has an incumbent and at least
        ``race_share`` of the budget has been spent (``race_share=0``: the first turn that finds
        an incumbent ends the race). The winner is the
        search with the best incumbent (ties: the earlier in the order); it goes on as the first
        solve, the others stay paused for "continue" pulls on their backends."""
        o = self.opts
        names = self.portfolio
        best = {n: math.inf for n in names}

        def reporter(name: str):
            def on_incumbent(_t: float, obj: float, x: np.ndarray) -> bool:
                best[name] = min(best[name], float(obj))
                self.offer(x)
                return self.gap_closed()
            return on_incumbent

        race_end = self.t0 + o.race_share * self.budget
        slice_ = max(o.race_slice * self.budget, 0.05)
        turns: list[list] = []  # [backend, start, seconds, seconds to hold, incumbent so far]
        self.info["portfolio"] = {"order": names, "turns": turns}
        winner = None
        out: set[str] = set()  # backends whose build does not fit (_build)
        while self.time_left() > 0.01 and not stop_requested() and winner is None:
            for name in names:
                if self.time_left() <= 0.01 or stop_requested():
                    break
                search = self.searches.get(name)
                t = time.perf_counter()
                if name in out:
                    continue
                if search is None:
                    b = self._build(name, force=name == names[0])
                    if b is None:  # its build does not fit: out of the race
                        out.add(name)
                        continue
                    search = self.searches[name] = BackgroundSearch(
                        b, time_limit=max(self.time_left(), 1e-3), emphasis=emphasis,
                        on_incumbent=reporter(name), seed=self.seed, relative_gap=o.rel_gap)
                    search.start()
                else:
                    search.resume()
                if all(n in out for n in names if n != name):
                    winner = name  # alone in the race: no turns, it goes on as the first solve
                    break
                end = min(t + slice_, self.deadline)
                while time.perf_counter() < end and not search.finished and not stop_requested() \
                        and not self.gap_closed():
                    search.wait(0.02)
                t_hold = time.perf_counter()
                if not search.finished:
                    # pause: the search holds at its next poll. A backend that polls late (SCIP
                    # inside a long LP: 20 s at danoint's root) is not waited for beyond a tenth
                    # of its slice: the next turn starts and the two overlap until it holds
                    search.interrupt()
                    search.wait_paused(0.1 * slice_)
                now = time.perf_counter()
                turns.append([name, round(t - self.t0, 3), round(now - t, 3),
                              round(now - t_hold, 3), math.isfinite(best[name])])
                if search.finished or self.gap_closed():
                    winner = name  # it ended (proved, infeasible) or the gap is closed
                    break
                if o.race_share == 0 and math.isfinite(best[name]):
                    winner = name  # no minimum race: the first turn with an incumbent wins
                    break
            if winner is None and any(math.isfinite(b) for b in best.values()) \
                    and time.perf_counter() >= race_end:
                top = min(best.values())  # ties within the tolerance: the earlier in the order
                winner = next(n for n in names if best[n] <= top + self.tol(top))
            slice_ *= 2.0
        winner = winner or names[0]
        self.info["portfolio"].update({"first": winner, "race_seconds": self.now(),
                                       "first_found": {n: self.own(b) if math.isfinite(b) else None
                                                       for n, b in best.items()}})
        return self.searches[winner]

    def _initial_solution(self, backend, backends: dict[str, Any] | None = None) -> Status | None:
        o = self.opts
        self.lp_x, self.lp_obj = None, None
        t = time.perf_counter()
        limit = o.initial_time_limit or o.initial_share * self.budget
        emphasis = o.initial_emphasis
        attempts = 0
        caps = getattr(backend, "capabilities", frozenset[str]())

        def on_incumbent(_t: float, _obj: float, x: np.ndarray) -> bool:
            self.offer(x)
            return self.gap_closed()

        warm = None
        if o.first_probe and not self.portfolio and o.initial_time_limit is None:
            done = self._first_probe(backend)
            if done is not None:
                self.info["time_initial"] = time.perf_counter() - t
                self.info["time_to_first"] = self.trajectory[0][0] if self.trajectory else None
                return done
            warm = self.best_x
        while backend.usable() > 0.01 and not stop_requested():
            attempts += 1
            watchdog = search = None
            solve_limit = limit
            if attempts == 1 and o.initial_time_limit is None and "interrupt" in caps \
                    and "incumbent_callback" in caps:
                # the watchdog ends this solve at initial_share (or on a stall) once it has an
                # incumbent; until then it may run to the deadline. With resume_search it pauses
                # the solve instead, and "continue" pulls resume it (background.py)
                solve_limit = self.time_left()
                if self.portfolio:
                    assert backends is not None  # run() hands them over
                    search = self._race(backends, emphasis)
                    backend = search.backend
                elif o.resume_search and can_pause(backend):
                    search = BackgroundSearch(
                        backend, time_limit=max(solve_limit, 1e-3), emphasis=emphasis,
                        on_incumbent=on_incumbent, seed=self.seed, relative_gap=o.rel_gap,
                        warm_start=warm if attempts == 1 else None)
                watchdog = _GapWatchdog(
                    self, search or backend, self.t0 + o.initial_min_share * self.budget,
                    None if o.initial_stall is None else o.initial_stall * self.budget,
                    self.t0 + o.initial_share * self.budget, o.progress_window * self.budget,
                    spare_root=o.initial_spare_root)
            try:
                if search is not None:
                    if search.started:  # the race's winner, paused or ended
                        search.resume()
                    else:
                        search.start()
                    if search.run_until_paused():
                        self.search = search
                        self.searches[search.backend.name] = search
                        res = None
                    else:
                        res = search.finish()
                        search.taken = True
                else:
                    res = backend.solve(time_limit=max(min(solve_limit, self.time_left()), 1e-3),
                                        emphasis=emphasis,
                                        on_incumbent=on_incumbent if "incumbent_callback" in caps
                                        else None,
                                        # the run's own seed: the first solve is the backend's run
                                        # alone with this seed, until it is cut
                                        seed=self.seed if attempts == 1
                                        else int(self.rng.integers(0, 2**31 - 1)),
                                        relative_gap=o.rel_gap,
                                        warm_start=warm if attempts == 1 and "warm_start" in caps
                                        else None)
            finally:
                if watchdog is not None:
                    watchdog.stop()
                    self.info["initial_stalled"] = watchdog.fired
                    self.info["initial_extended"] = watchdog.extended
                    self.info["initial_cut_improving"] = watchdog.cut_improving
            if res is None:  # paused with an incumbent: the search goes on in "continue" pulls
                self._search_paused(backend)
                break
            if res.status == Status.INFEASIBLE:
                self.info["time_initial"] = time.perf_counter() - t
                return Status.INFEASIBLE
            if res.status == Status.UNBOUNDED:
                self.info["time_initial"] = time.perf_counter() - t
                return Status.UNBOUNDED
            self.offer(res.x)
            self.stretch_per_share = self._first_stretch(backend, res)
            backend.take_stretch()
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

    def _first_probe(self, backend) -> Status | None:
        """(``first_probe``) A solve of the whole model without presolve, before the first solve,
        that ends at its first solution or is interrupted after ``first_probe_share`` of the
        budget: HiGHS runs its feasibility jump at once instead of after presolve (20-27 s of
        30 on the facility-location models of bench_balans's NOFIRST set under load). Only where
        the backend's feasibility-jump guard lets the heuristic run within the time left (else
        nothing fast is to be had). Its solution warm-starts the first solve. Returns a final
        status where the probe settled the run (proved optimal), else None."""
        import threading

        o = self.opts
        allowed = getattr(backend, "feasibility_jump_allowed", None)
        caps = getattr(backend, "capabilities", frozenset[str]())
        left = backend.usable()
        if allowed is None or not {"interrupt", "incumbent_callback", "warm_start"} <= set(caps) \
                or not allowed(left, False):
            self.info["first_probe"] = {"skipped": "no feasibility jump within the time left"}
            return None
        t = time.perf_counter()

        def on_incumbent(_t: float, _obj: float, x: np.ndarray) -> bool:
            self.offer(x)
            return True  # its first solution is all the probe is for

        timer = threading.Timer(o.first_probe_share * self.budget, backend.interrupt)
        timer.daemon = True
        timer.start()
        try:
            # presolve_share 0: no predicted presolve fits, so this solve runs without it
            res = backend.solve(time_limit=left, presolve_share=0.0, on_incumbent=on_incumbent,
                                seed=self.seed, relative_gap=o.rel_gap)
        finally:
            timer.cancel()
        backend.take_stretch()  # the heuristic's stretch is not a later solve's set-up
        self.offer(res.x)
        self.info["first_probe"] = {"seconds": round(time.perf_counter() - t, 3),
                                    "ended_at": round(time.perf_counter() - self.t0, 3),
                                    "found": res.x is not None,
                                    "feasibility_jump": res.info.get("feasibility_jump", "on")}
        if res.status == Status.OPTIMAL and res.x is not None:
            self.update_bound(res.bound)
            if self.gap_closed():
                self.proved = True
                return Status.OPTIMAL
        return None

    def _free_share(self, nb: Neighbourhood) -> float:
        """Share of the model's non-zeros in columns the neighbourhood does not fix (set-up work of
        a sub-MIP scales with it)."""
        if self._col_nnz is None:
            A = self.minp.A
            self._col_nnz = np.diff(A.tocsc().indptr) if A.nnz else np.ones(self.minp.n)
            self._nnz = max(float(self._col_nnz.sum()), 1.0)
        if nb.bound_idx.size == 0:
            return 1.0
        fixed = nb.bound_idx[np.asarray(nb.lower) >= np.asarray(nb.upper)]
        return 1.0 - float(self._col_nnz[np.unique(fixed)].sum()) / self._nnz

    def _predicted_stretch(self, share: float) -> float:
        """Seconds a solve of a neighbourhood with free share ``share`` may run unresponsive."""
        return self.stretch_per_share * share

    def _fits(self, left: float, share: float) -> bool:
        """True when a solve of free share ``share`` started with ``left`` seconds usable is
        predicted to answer its limit before the deadline (with half its stretch to spare)."""
        return left >= 1.5 * self._predicted_stretch(share)

    def _learn_stretch(self, stretch: float, share: float) -> None:
        """Raise the prediction by an observed stretch (below 0.5 s: within the timer's reach of
        noise; the share is floored at 0.25 so that a tiny sub-MIP's fixed costs are not scaled up)."""
        if stretch > 0.5:
            self.stretch_per_share = max(self.stretch_per_share, stretch / max(share, 0.25))

    def _held_search(self, name: str, anyone: bool = False) -> BackgroundSearch | None:
        """The held whole-problem search a "continue" pull on backend ``name`` resumes: its own, or
        (no portfolio) the first solve's, whichever backend it runs on; with ``anyone``, else any
        held one. None where none can be resumed."""
        search = self.searches.get(name) or (None if self.portfolio else self.search)
        if anyone and (search is None or search.finished):
            search = next((s for s in self.searches.values() if not s.finished), None)
        return search if search is not None and not search.finished else None

    def _final_continue_arm(self, cont_arm: int | None, sub) -> int | None:
        """The "continue" arm ``cont_arm``, when no neighbourhood's set-up fits in the time left
        but a held search can be resumed for the rest of it (it has no set-up); else None."""
        if cont_arm is None or self._held_search(sub.name, anyone=True) is None:
            return None
        return cont_arm

    def _sub_time_limit(self) -> float:
        if self.opts.sub_time_limit is not None:
            return self.opts.sub_time_limit
        return float(np.clip(0.1 * self.budget, 0.5, 60.0))

    def _loop(self, backend, arms, policy, acceptance, rules, subs=None) -> int:
        if self.best_x is None:
            return 0
        o = self.opts
        scores = o.scores
        sub_limit = self._sub_time_limit()
        subs = subs or [backend]
        # with several sub-MIP backends a second bandit (Thompson sampling, the same rewards) learns
        # which one pays on this instance
        bpolicy = None
        if len(subs) > 1:
            from solverhub.plugins.balans.select.thompson import Thompson

            bpolicy = Thompson(len(subs), max_reward=max(scores) if max(scores) > 0 else None)
        bstats = {b.name: [0, 0] for b in subs}  # pulls, new bests
        self.info["sub_backends"] = bstats
        continue_slice = o.continue_slice or 2.0 * sub_limit
        if isinstance(policy, _TwoLevelPolicy):
            policy.prior_seconds(continue_slice, sub_limit)
        continue_log: list[list] = []  # [t_start, slice, seconds run, extended, outcome]
        self.info["continue_pulls"] = continue_log
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
        state.info["sub_node_limit"] = o.sub_node_limit
        t_sub = t_destroy = 0.0
        no_improve = 0
        late_skips = 0  # consecutive iterations skipped for lack of time for their set-up
        # free share of each arm's last neighbourhood: near the deadline only the arms whose
        # predicted set-up still fits are played (small neighbourhoods), instead of none
        arm_share: dict[int, float] = {}
        fallbacks = 0
        final = False  # the rest of the time has gone to the held search (_final_continue_arm)
        # the first solve was paused at its cap while still finding better solutions: its first
        # "continue" pull comes first, before the bandit weighs it against the neighbourhoods from
        # rewards (the pause was the cap's, not a sign that the search stopped paying; on mitre the
        # neighbourhoods' small new bests kept the held search, which finds the optimum seconds
        # after its first solution, from ever being resumed)
        resume_first = bool(o.resume_improving and self.info.get("initial_cut_improving"))
        cont_arm = next((i for i, ((d, _), _r) in enumerate(arms) if d == "continue"), None)
        it = 0
        step = getattr(acceptance, "step", None)
        while True:
            state.iteration = it
            state.elapsed = self.now()
            # the time to the deadline: what each solve must keep back is predicted per solve
            # (_fits, reserving) and enforced by the proxy
            state.time_left = backend.time_left()
            state.best, state.best_objective = self.best_x, self.best_obj
            state.incumbent, state.incumbent_objective = current_x, current_obj
            state.dual_bound = self.dual_bound
            state.iterations_without_improvement = no_improve
            b = bpolicy.select(self.rng) if bpolicy is not None else 0
            state.backend = sub = subs[b]
            state.info["continue_slice"] = continue_slice
            if self.gap_closed():
                self.proved = True
                break
            if stop_requested():  # Ctrl-C: the running sub-MIP was stopped by its backend too
                self.info["stopped_by_user"] = True
                break
            if state.time_left <= 0.01:
                self.stop_reason = Status.TIME_LIMIT
                break
            fired = next((rule for rule in rules if rule(state)), None)
            if fired is not None:
                self.stop_reason = _stop_status(fired)
                break
            state.time_left = sub.time_left()
            a = policy.select(self.rng)
            if resume_first:
                resume_first = False
                if cont_arm is not None and self._held_search(sub.name) is not None:
                    a = cont_arm
                    self.info["resumed_first"] = True
            if a in arm_share and not self._fits(state.time_left, arm_share[a]):
                fit = [i for i in range(len(arms))
                       if i not in arm_share or self._fits(state.time_left, arm_share[i])]
                if not fit or late_skips >= 2 * len(arms):
                    # nothing fits in the time left: no busy loop to the deadline. A held
                    # whole-problem search needs no set-up: it gets the rest of the time (danoint's
                    # validation runs ended 3.4-4.6 s early here, time HiGHS alone searches)
                    final_arm = None if final else self._final_continue_arm(cont_arm, sub)
                    if final_arm is None:
                        if not final:
                            self.info["stopped_for_setup"] = True
                        self.stop_reason = Status.TIME_LIMIT
                        break
                    a, final = final_arm, True
                else:
                    a = fit[int(self.rng.integers(len(fit)))]
                    fallbacks += 1
            t_start = self.now()
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
            left = sub.time_left()
            is_continue = bool(nb.info.get("continue"))
            dual_before = self.dual_bound
            watchdog = None
            share = self._free_share(nb)
            # "continue": the paused search on this backend, or (no portfolio) the first solve's,
            # whichever backend it runs on
            search = self._held_search(sub.name, final) if is_continue else None
            resumable = search is not None and not search.finished
            held = 0.0
            pull_slice = continue_slice
            if resumable:
                # a held search has no set-up to run: it answers at its next poll, within its own
                # longest poll gap so far, which it keeps back from the time left. Scaling the
                # first solve's set-up and gaps by the whole model (1.5x) made every pull "not
                # fit" and ended runs 8-11 s early (qiu, a loaded machine); keeping nothing back
                # let pulls near the deadline end 1.7-2.8 s late (gen-cflss-400)
                assert search is not None
                held = self._held_stretch(search)
                share = 0.0
            arm_share[a] = share
            if nb.info.get("not_applicable"):
                status = "not_applicable"
            elif (not resumable) if final else ((left <= held + 0.05) if resumable
                                                else not self._fits(left, share)):
                # (final: the held search ended meanwhile; no whole-problem restart this late)
                if resumable:
                    arm_share[a] = math.inf  # no later pick of it either (no zero-time pulls)
                # presolve and set-up run before the backend polls its interrupt: a solve started
                # now would end past the deadline (fast0507: 2.2 s late from a proximity sub-MIP;
                # the 80k set cover: 7 s late from a RINS sub-MIP's presolve)
                status = "not_applicable: less time left than its predicted set-up"
            elif left > 0:
                # an interrupt at the limit is answered within the predicted stretch: the limit
                # keeps that much back from the time left, with the same 1.5x margin as the fit
                # (a first stretch of a new kind outran its prediction by 0.7 s on gen-is-1500), and
                # so does the proxy, for every solve of this iteration, instead of the run's
                # largest overrun
                reserve = held if resumable else 1.5 * self._predicted_stretch(share)
                left = max(left - reserve, 1e-3)
                limit = min(nb.time_limit if nb.time_limit is not None else sub_limit, left)
                if final:
                    # the rest of the time: the held search's own limit is the run's deadline
                    # (and the proxy interrupts it there), as the backend alone would stop
                    limit = pull_slice = max(sub.time_left(), 1e-3)
                caps = getattr(sub, "capabilities", frozenset[str]())
                if resumable:
                    pass  # the paused first solve goes on (below), no restart
                elif is_continue and "interrupt" in caps:
                    # its own slice, but never cut while it closes the gap: the backend gets the
                    # time left as its limit and the watchdog ends it after the slice otherwise
                    started = time.perf_counter()
                    watchdog = _GapWatchdog(self, sub, started + limit, None, started + limit,
                                            o.progress_window * self.budget)
                    limit = left
                if resumable:
                    assert search is not None
                    cand = self._resume_search(limit, search)
                else:
                    sub.take_stretch()
                    try:
                        with sub.reserving(reserve):
                            cand = repair(state, nb, limit, self.rng)
                    finally:
                        if watchdog is not None:
                            watchdog.stop()
                        self._learn_stretch(sub.take_stretch(), share)
                t_sub += cand.runtime
                status = cand.status
                if final:
                    self.info["final_continue"] = round(cand.runtime, 4)
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
                assert cand is not None  # rep checks cand.x
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
            if is_continue and outcome in (Outcome.REJECT, Outcome.ACCEPT) \
                    and math.isfinite(dual_before) and math.isfinite(best_before):
                gap_before = best_before - dual_before
                if gap_before > 0 and self.dual_bound - dual_before >= \
                        nb.info.get("gap_share", 0.1) * gap_before:
                    outcome = Outcome.BETTER  # no new solution, but it closed part of the gap
            if is_continue and not status.startswith("not_applicable: less time"):
                continue_log.append([round(t_start, 4), round(pull_slice, 4),
                                     round(cand.runtime if cand is not None else 0.0, 4),
                                     round(watchdog.extended if watchdog is not None
                                           else cand.info.get("extended", 0.0) if cand is not None
                                           else 0.0, 4),
                                     Outcome.NAMES[outcome]])
                if outcome in (Outcome.BEST, Outcome.BETTER):
                    continue_slice *= 2.0  # it is paying: give the next pull more time
            reward = scores[outcome]
            ran = not status.startswith("not_applicable: less time")
            if not ran:
                pass  # it did not run: no outcome to learn from (nor its zero seconds)
            elif isinstance(policy, _TwoLevelPolicy):
                policy.update(a, reward, seconds=self.now() - t_start)
            else:
                policy.update(a, reward)
            if bpolicy is not None and ran:
                bpolicy.update(b, reward)
            bstats[sub.name][0] += 1
            bstats[sub.name][1] += int(outcome == Outcome.BEST)
            st = stats[a]
            st.pulls += 1
            st.counts[outcome] += 1
            st.reward_sum += reward
            t_end = self.now()
            st.time += t_end - t_start
            no_improve = 0 if outcome == Outcome.BEST else no_improve + 1
            late_skips = 0 if ran else late_skips + 1
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
        self.info["fallback_picks"] = fallbacks
        self.info["stretch_per_share"] = self.stretch_per_share
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
                # the limit that ended the search with its incumbent, or "feasible" when a
                # stopping rule (no improvement, a plugin's rule) ended it; the budget otherwise
                status = self.stop_reason or Status.TIME_LIMIT
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
