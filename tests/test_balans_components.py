"""Unit tests of the Balans building blocks: destroy neighbourhoods, bandit policies, acceptance
criteria, stopping rules, and their registration (no MIP solves here)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from solverhub import get_plugin_manager
from solverhub.core.metasearch import SearchState
from solverhub.core.mip import MIPProblem
from solverhub.plugins.balans.destroy import PAPER_ARMS

N_BIN, N_GEN, N_CONT = 12, 4, 3


def small_problem() -> MIPProblem:
    n = N_BIN + N_GEN + N_CONT
    rng = np.random.default_rng(0)
    A = sp.csr_matrix(rng.integers(0, 3, size=(4, n)).astype(float))
    integrality = np.array([True] * (N_BIN + N_GEN) + [False] * N_CONT)
    lower = np.zeros(n)
    upper = np.array([1.0] * N_BIN + [10.0] * N_GEN + [np.inf] * N_CONT)
    c = np.arange(1, n + 1, dtype=float)
    return MIPProblem(c, A, np.full(4, -np.inf), np.full(4, 100.0), lower, upper, integrality,
                      offset=3.0)


def state(problem=None, **kw) -> SearchState:
    p = problem or small_problem()
    inc = np.array([1, 0] * (N_BIN // 2) + [3, 5, 0, 10] + [0.5, 1.5, 2.5], dtype=float)
    lp = inc.copy()
    lp[:4] = [0.5, 0.0, 1.0, 0.3]          # binaries 0, 3 differ; 0, 3 fractional
    lp[N_BIN:N_BIN + 4] = [3.0, 2.2, 0.4, 10.0]  # general ints: 13 differs by 2.8, 14 by 0.4
    lp[N_BIN + N_GEN:] = [9.0, 9.0, 9.0]    # continuous differ but must never matter
    base = dict(problem=p, incumbent=inc, incumbent_objective=p.evaluate(inc), best=inc,
                best_objective=p.evaluate(inc), lp_x=lp, lp_objective=p.evaluate(lp),
                dual_bound=-math.inf, backend=None)
    base.update(kw)
    return SearchState(**base)


def make(category: str, name: str, **params):
    return get_plugin_manager().get_meta(category, name).factory(**params)


INT_IDX = np.arange(N_BIN + N_GEN)
CONT_IDX = np.arange(N_BIN + N_GEN, N_BIN + N_GEN + N_CONT)


def fixed_columns(nb) -> set[int]:
    return {int(j) for j, lo, up in zip(nb.bound_idx, nb.lower, nb.upper) if lo == up}


# ------------------------------------------------------------------ registration
def test_registries_hold_every_component():
    pm = get_plugin_manager()
    for name in PAPER_ARMS + ["dins", "random_objective"]:
        assert pm.get_meta("destroy", name).category == "destroy"
    assert set(pm.meta("policy")) >= {"epsilon_greedy", "softmax", "ucb1", "thompson"}
    assert set(pm.meta("acceptance")) >= {"hill_climbing", "simulated_annealing",
                                          "record_to_record_travel", "great_deluge",
                                          "late_acceptance_hill_climbing", "always_accept"}
    assert set(pm.meta("stopping")) >= {"time", "max_iterations", "no_improvement", "optimality"}
    assert "sub_mip" in pm.meta("repair")
    assert len(PAPER_ARMS) == 16 and pm.get_solver("balans").problem_kind == "mip"


# ------------------------------------------------------------------ destroy operators
@pytest.mark.parametrize("pct", [25, 50, 75])
def test_mutation_frees_fraction_of_integers_without_replacement(pct):
    st = state()
    nb = make("destroy", f"mutation_{pct}")(st, np.random.default_rng(1))
    n_int = N_BIN + N_GEN
    k = int(np.floor(pct / 100 * n_int + 0.5))
    assert nb.n_free == k
    fixed = fixed_columns(nb)
    assert len(fixed) == n_int - k and len(nb.bound_idx) == len(set(nb.bound_idx.tolist()))
    assert fixed <= set(INT_IDX.tolist())                    # continuous never touched
    for j, lo in zip(nb.bound_idx, nb.lower):
        assert lo == st.incumbent[j]                          # fixed to the incumbent
    assert not nb.rows and nb.objective is None


def test_rins_frees_only_lp_differing_integers():
    st = state()
    nb = make("destroy", "rins_75")(st, np.random.default_rng(0))
    differing = {0, 3, 13, 14}      # |inc - lp| > 0 among integers (continuous ignored)
    free = set(INT_IDX.tolist()) - fixed_columns(nb)
    assert nb.info["n_candidates"] == 4
    assert len(free) == 3 and free <= differing
    assert not set(CONT_IDX.tolist()) & set(nb.bound_idx.tolist())


def test_rens_releases_lp_fractional_into_rounding_box():
    st = state()
    nb = make("destroy", "rens_50")(st, np.random.default_rng(0))
    # LP-fractional integers: 0 (0.5), 3 (0.3), 13 (2.2), 14 (0.4); half of them = 2 released
    assert nb.info["n_candidates"] == 4 and nb.n_free == 2
    released = {int(j): (lo, up) for j, lo, up in zip(nb.bound_idx, nb.lower, nb.upper) if lo < up}
    assert len(released) == 2 and set(released) <= {0, 3, 13, 14}
    if 13 in released:  # lp 2.2 -> [2, 3], widened to contain the incumbent 5
        assert released[13] == (2.0, 5.0)
    assert not set(CONT_IDX.tolist()) & set(nb.bound_idx.tolist())


def test_dins_bounds_far_integers_by_lp_distance():
    st = state()
    nb = make("destroy", "dins")(st, np.random.default_rng(0))
    bounds = {int(j): (lo, up) for j, lo, up in zip(nb.bound_idx, nb.lower, nb.upper)}
    # column 13: inc 5, lp 2.2, distance 2.8 -> |x - 2.2| <= 2.8 -> [0, 5]
    assert bounds[13] == (0.0, 5.0)
    # column 14: inc 0, lp 0.4 -> distance < 0.5 -> fixed to 0
    assert bounds[14] == (0.0, 0.0)
    # binary 0: inc 1, lp 0.5 -> distance 0.5 -> free within [0, 1]
    assert bounds[0] == (0.0, 1.0)
    assert not set(CONT_IDX.tolist()) & set(bounds)


@pytest.mark.parametrize("pct", [10, 25, 50])
def test_local_branching_row(pct):
    st = state(info={"sub_time_limit": 2.0})
    nb = make("destroy", f"local_branching_{pct}")(st, np.random.default_rng(3))
    assert nb.bound_idx.size == 0 and nb.objective is None and len(nb.rows) == 1
    idx, vals, lo, up = nb.rows[0]
    assert list(idx) == list(range(N_BIN))                 # binaries only
    inc = st.incumbent[idx]
    assert np.all(vals[inc == 1] == -1) and np.all(vals[inc == 0] == 1)
    k = nb.info["k"]
    kmax = max(1, int(np.floor(pct / 100 * N_BIN + 0.5)))
    assert 1 <= k <= kmax and nb.info["kmax"] == kmax
    assert up == k - int(inc.sum()) and lo == -np.inf
    # the incumbent has distance 0: it satisfies the row; flipping k+1 binaries does not
    assert vals @ inc <= up
    assert nb.time_limit == pytest.approx(2.5 * 2.0)


@pytest.mark.parametrize("delta", ["0.005", "0.015", "0.030"])
def test_proximity_objective_and_cutoff(delta):
    st = state()
    p = st.problem
    nb = make("destroy", f"proximity_{delta}")(st, np.random.default_rng(0))
    inc = st.incumbent
    assert nb.objective is not None
    b = np.arange(N_BIN)
    assert np.all(nb.objective[b][inc[b] == 1] == -1) and np.all(nb.objective[b][inc[b] == 0] == 1)
    assert np.all(nb.objective[N_BIN:] == 0)
    assert nb.objective_offset == inc[b].sum()
    assert nb.objective @ inc + nb.objective_offset == 0     # Hamming distance of the incumbent
    idx, vals, lo, up = nb.rows[0]
    f_inc = p.evaluate(inc)
    assert up == pytest.approx(p.c @ inc - float(delta) * abs(f_inc))
    assert np.allclose(vals, p.c[idx]) and lo == -np.inf
    assert nb.info["warm_start"] is False


class _FakeBackend:
    """Records calls; ``solve`` returns a fixed solution (for crossover's random-objective solve)."""

    capabilities = frozenset()

    def __init__(self, x):
        self.x, self.calls = x, []

    def modified(self):
        import contextlib

        return contextlib.nullcontext(self)

    def set_objective(self, c, offset=0.0):
        self.calls.append("set_objective")

    def solve(self, time_limit=None, **kw):
        from solverhub.core.backend import BackendResult
        from solverhub.core.result import Status

        self.calls.append(("solve", time_limit, kw.get("emphasis")))
        return BackendResult(Status.FEASIBLE, 0.0, self.x.copy())


def test_crossover_fixes_agreeing_integers_from_random_objective_solution():
    st = state(info={"sub_time_limit": 2.0})
    other = st.incumbent.copy()
    other[[1, 2, 13]] = [1, 0, 6]        # differs on 3 integer columns (and on a continuous one)
    other[CONT_IDX[0]] = 7.0
    st.backend = _FakeBackend(other)
    nb = make("destroy", "crossover")(st, np.random.default_rng(0))
    assert nb.info["source"] == "random_objective" and nb.info["n_differ"] == 3
    assert set(INT_IDX.tolist()) - fixed_columns(nb) == {1, 2, 13}
    assert ("solve", 1.0, "feasibility") in st.backend.calls
    assert len(st.info["side_solutions"]) == 1


def test_crossover_uses_pool_solution_when_available():
    st = state()
    other = st.incumbent.copy()
    other[[4, 5]] = [0, 1]
    st.solutions = [st.incumbent.copy(), other]
    st.backend = _FakeBackend(other)
    nb = make("destroy", "crossover")(st, np.random.default_rng(0))
    assert nb.info["source"] == "pool" and st.backend.calls == []
    assert set(INT_IDX.tolist()) - fixed_columns(nb) == {4, 5}


def test_random_objective_keeps_constraints():
    st = state()
    nb = make("destroy", "random_objective")(st, np.random.default_rng(0))
    assert nb.objective is not None and np.all(nb.objective[CONT_IDX] == 0)
    assert nb.bound_idx.size == 0 and not nb.rows


def test_operators_without_binaries_or_lp():
    p = small_problem()
    st = state(lp_x=None)
    nb = make("destroy", "rins_50")(st, np.random.default_rng(0))
    assert "fallback" in nb.info
    p2 = MIPProblem(np.ones(2), sp.csr_matrix(np.ones((1, 2))), [-np.inf], [5], [0, 0], [5, 5],
                    [True, True])
    x2 = np.array([1.0, 2.0])
    st2 = SearchState(problem=p2, incumbent=x2, incumbent_objective=3.0, best=x2, best_objective=3.0,
                      lp_x=x2, lp_objective=3.0, dual_bound=-math.inf, backend=None)
    assert make("destroy", "local_branching_10")(st2, np.random.default_rng(0)).info["not_applicable"]
    assert make("destroy", "proximity_0.015")(st2, np.random.default_rng(0)).info["not_applicable"]
    del p


# ------------------------------------------------------------------ bandit policies
@pytest.mark.parametrize("name,params", [
    ("epsilon_greedy", {"epsilon": 0.1}),
    ("softmax", {"tau": 0.05}),
    ("ucb1", {"alpha": 1.0}),
    ("thompson", {}),
])
def test_policy_converges_to_best_arm(name, params):
    probs = [0.2, 0.5, 0.8, 0.35]
    pol = make("policy", name, n_arms=len(probs), **params)
    rng = np.random.default_rng(42)
    env = np.random.default_rng(7)
    pulls = np.zeros(len(probs), dtype=int)
    for _ in range(2000):
        a = pol.select(rng)
        pulls[a] += 1
        pol.update(a, float(env.random() < probs[a]))
    assert int(np.argmax(pulls)) == 2, pulls
    assert pulls[2] > 0.5 * pulls.sum()


def test_policies_are_reproducible():
    for name in ("epsilon_greedy", "softmax", "ucb1", "thompson"):
        seqs = []
        for _ in range(2):
            pol = make("policy", name, n_arms=5)
            rng = np.random.default_rng(0)
            seq = []
            for i in range(50):
                a = pol.select(rng)
                pol.update(a, [8, 4, 2, 1][i % 4])
                seq.append(a)
            seqs.append(seq)
        assert seqs[0] == seqs[1], name


def test_thompson_normalises_rewards():
    pol = make("policy", "thompson", n_arms=2, max_reward=8.0)
    pol.update(0, 8.0)
    pol.update(1, 2.0)
    assert pol.a.tolist() == [2.0, 1.25] and pol.b.tolist() == [1.0, 1.75]


# ------------------------------------------------------------------ acceptance
def test_hill_climbing_and_always_accept():
    rng = np.random.default_rng(0)
    hc = make("acceptance", "hill_climbing")
    assert hc(rng, 10, 10, 10) and hc(rng, 10, 12, 11) and not hc(rng, 10, 12, 12.5)
    assert make("acceptance", "always_accept")(rng, 0, 0, 1e9)


def test_simulated_annealing_schedule_and_probability():
    sa = make("acceptance", "simulated_annealing")
    assert sa.temperature == 20.0
    rng = np.random.default_rng(0)
    assert sa(rng, 0, 5, 4)                      # improving: always
    assert sa.temperature == pytest.approx(19.9)
    sa.step()
    assert sa.temperature == pytest.approx(19.8)
    for _ in range(1000):
        sa.step()
    assert sa.temperature == 1.0                 # linear decay stops at the end temperature
    # at T = 1 a worsening of 50 is (almost) never accepted, of 1e-3 almost always
    assert not any(sa(rng, 0, 0, 50) for _ in range(100))
    assert sum(sa(rng, 0, 0, 1e-3) for _ in range(100)) > 95
    hot = make("acceptance", "simulated_annealing", start_temperature=1e6, end_temperature=1e6)
    assert sum(hot(rng, 0, 0, 1.0) for _ in range(100)) > 95


def test_record_to_record_travel():
    rng = np.random.default_rng(0)
    rrt = make("acceptance", "record_to_record_travel", start_threshold=0.1, end_threshold=0.0,
               step=0.05)
    assert rrt(rng, 100, 100, 109)          # within 10 % of best
    assert not rrt(rng, 100, 100, 106)      # threshold now 5 %
    assert not rrt(rng, 100, 100, 100.5)    # threshold 0: only not worse than current
    assert rrt(rng, 100, 101, 100.5)


def test_great_deluge_level_falls():
    rng = np.random.default_rng(0)
    gd = make("acceptance", "great_deluge", alpha=0.1, beta=0.5)
    assert gd(rng, 100, 100, 109)           # level 110
    assert not gd(rng, 100, 100, 106)       # level 105
    assert gd(rng, 100, 100, 102)           # level 102.5


def test_late_acceptance():
    rng = np.random.default_rng(0)
    la = make("acceptance", "late_acceptance_hill_climbing", history_length=2)
    assert not la(rng, 10, 10, 11)          # history [10, 10]
    assert la(rng, 10, 10, 9)               # current 9
    la2 = make("acceptance", "late_acceptance_hill_climbing", history_length=1)
    la2(rng, 5, 20, 10)                     # accepted, history [10]
    assert la2(rng, 5, 10, 10) and not la2(rng, 5, 10, 11)


# ------------------------------------------------------------------ stopping rules
def test_stopping_rules():
    st = state()
    st.time_left, st.iteration, st.iterations_without_improvement = 5.0, 3, 2
    assert not make("stopping", "time")(st)
    st.time_left = 0.0
    assert make("stopping", "time")(st)
    assert make("stopping", "max_iterations", n=3)(st) and not make("stopping", "max_iterations", n=4)(st)
    assert make("stopping", "no_improvement", n=2)(st) and not make("stopping", "no_improvement", n=3)(st)
    opt = make("stopping", "optimality")
    st.best_objective, st.dual_bound = 100.0, 99.0
    assert not opt(st)
    st.dual_bound = 100.0 - 1e-3
    assert opt(st)
    st.dual_bound = -math.inf
    assert not opt(st)


def test_options_validation():
    from solverhub.plugins.balans.options import BalansOptions

    o = BalansOptions()
    assert o.destroy == PAPER_ARMS + ["continue"] and o.scores == [8, 4, 2, 1] and o.repair == ["sub_mip"]
    with pytest.raises(Exception):
        BalansOptions(scores=[1, 2, 3])
    with pytest.raises(Exception):
        BalansOptions(unknown_key=1)
