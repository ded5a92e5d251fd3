"""Tuners across a sequence (issue 24): the TunerSpec registry, parameter spaces, and each
built-in tuner on synthetic cost functions, seeded (no wall-clock asserts)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

import solverhub as sh
from solverhub.core.tuning import ParameterSpace, Tuner
from solverhub.plugins.tuners.bandits import ChebCB, TsallisINF, chebyshev_features

OMEGA = ParameterSpace(name="omega", kind="interval", low=0.0, high=2.0, points=10)


def make(name, space=OMEGA, seed=0, **params):
    spec = sh.get_plugin_manager().get_tuner(name)
    return spec.factory(space, cost_bound=1.0, seed=seed, **params)


def test_registry_lists_the_builtin_tuners():
    pm = sh.get_plugin_manager()
    assert {"tsallis-inf", "chebcb", "exp3", "ucb1", "fixed"} <= set(pm.tuners())
    assert pm.tuners()["chebcb"].contextual and not pm.tuners()["tsallis-inf"].contextual
    assert pm.tuners()["tsallis-inf"].provider == "tuners"
    with pytest.raises(sh.UnknownNameError, match="tsallis-inf"):
        pm.get_tuner("tsallis")
    assert isinstance(make("exp3"), Tuner)


def test_third_party_tuner_registers_through_the_hook():
    pm = sh.get_plugin_manager()

    class Plugin:
        @sh.hookimpl
        def solverhub_tuners(self):
            return [sh.TunerSpec("always-low", "solverhub.plugins.tuners.bandits:Fixed",
                                 {"value": 0.1})]

    pm.register_plugin(Plugin(), name="test-tuner-plugin")
    try:
        assert pm.get_tuner("always-low").provider == "test-tuner-plugin"
    finally:
        pm.unregister_plugin("test-tuner-plugin")


def test_parameter_spaces():
    assert OMEGA.arms() == pytest.approx([0.1 + 0.2 * i for i in range(10)])
    log = ParameterSpace(name="rho", kind="log-interval", low=1e-2, high=1e2, points=4)
    assert np.diff(np.log10(log.arms())) == pytest.approx([1.0] * 3)
    grid = ParameterSpace(name="block", kind="grid", values=[8, 16, 32])
    assert grid.arms() == [8.0, 16.0, 32.0]
    for bad in [dict(kind="grid"), dict(kind="interval", low=1.0, high=1.0),
                dict(kind="log-interval", low=0.0, high=1.0), dict(kind="grid", values=[1], low=0),
                dict(kind="interval", low=0, high=1, bogus=2)]:
        with pytest.raises(ValidationError):
            ParameterSpace(name="p", **bad)


MEANS = 0.2 + 0.6 * np.abs(np.arange(10) - 6) / 6  # arm 6 (omega 1.3) is best


def run_stochastic(tuner, T, seed):
    """Noisy losses around MEANS; returns the pseudo-regret after each round."""
    rng = np.random.default_rng(seed)
    arms = np.array(OMEGA.arms())
    regret = np.empty(T)
    acc = 0.0
    for t in range(T):
        a = int(np.argmin(np.abs(arms - tuner.choose())))
        tuner.observe(float(np.clip(MEANS[a] + 0.1 * rng.standard_normal(), 0, 1)))
        acc += MEANS[a] - MEANS.min()
        regret[t] = acc
    return regret


def _ucb1_bound(T):  # Auer, Cesa-Bianchi, Fischer 2002, Thm 1
    gaps = MEANS - MEANS.min()
    gaps = gaps[gaps > 0]
    return float(np.sum(8 * math.log(T) / gaps) + (1 + math.pi**2 / 3) * np.sum(gaps))


#: each tuner's own guarantee on the pseudo-regret after T rounds, K = 10 arms, losses in [0, 1]
BOUNDS = {
    "tsallis-inf": lambda T: 4 * math.sqrt(10 * T) + 1,  # Zimmert and Seldin 2021, Thm 1
    "exp3": lambda T: 2 * math.sqrt(math.e - 1) * math.sqrt(T * 10 * math.log(10)),  # Auer 2002
    "ucb1": _ucb1_bound,
}


@pytest.mark.parametrize("name", ["tsallis-inf", "exp3", "ucb1"])
def test_bandits_have_sublinear_regret_against_the_best_fixed_arm(name):
    T = 4000
    params = {"horizon": T} if name == "exp3" else {}
    regret = run_stochastic(make(name, seed=1, **params), T, seed=2)
    uniform = T * float(MEANS.mean() - MEANS.min())
    assert regret[-1] < 0.4 * uniform
    assert regret[-1] < BOUNDS[name](T)
    # sublinear: the second half of the rounds adds less regret than the first half
    assert regret[-1] - regret[T // 2 - 1] < 0.6 * regret[T // 2 - 1]


def test_fixed_tuner_has_linear_regret_and_the_best_fixed_has_none():
    T = 500
    middle = run_stochastic(make("fixed"), T, seed=0)  # middle arm (omega 1.1), mean 0.3
    assert middle[-1] == pytest.approx(T * (MEANS[5] - MEANS.min()))
    best = run_stochastic(make("fixed", value=1.3), T, seed=0)
    assert best[-1] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("name", ["tsallis-inf", "exp3", "ucb1", "chebcb"])
def test_tuners_are_deterministic_with_a_seed(name):
    def choices(seed):
        tuner = make(name, seed=seed)
        out = []
        for t in range(60):
            c = (t % 7) / 7
            v = tuner.choose([c])
            out.append(v)
            tuner.observe(abs(v - 1.0 - 0.5 * c) / 2)
        return out

    assert choices(5) == choices(5)
    if name != "ucb1":  # UCB1 draws no random numbers
        assert choices(5) != choices(6)


def test_tsallis_inf_weights_are_the_closed_form():
    t = TsallisINF(OMEGA, cost_bound=1.0, seed=0)
    t.L = np.linspace(0.0, 5.0, 10)
    eta = 0.7
    w = t._weights(eta)
    assert w.sum() == pytest.approx(1.0, abs=1e-10)
    # w_i = 4 (eta (L_i - x))^-2 with one x for all arms
    x = t.L - 2.0 / (eta * np.sqrt(w))
    assert np.ptp(x) < 1e-8
    assert np.all(np.diff(w) < 0)


@pytest.mark.parametrize("variant", ["ridge", "paper"])
def test_chebcb_approaches_the_instance_optimal_arm(variant):
    """Cost depends on the context c: the best omega is 0.5 + c. A non-contextual bandit can at
    best pick one omega; ChebCB (both variants) learns the map and beats the best fixed arm in
    hindsight."""
    arms = np.array(OMEGA.arms())
    rng = np.random.default_rng(0)
    T = 1500
    contexts = rng.uniform(0, 1, T)

    def mean_loss(a, c):
        return min(1.0, 0.1 + (arms[a] - (0.5 + c)) ** 2)

    def run(tuner):
        noise = np.random.default_rng(1)
        total = 0.0
        for c in contexts:
            a = int(np.argmin(np.abs(arms - tuner.choose([c]))))
            total += mean_loss(a, c)
            tuner.observe(float(np.clip(mean_loss(a, c) + 0.05 * noise.standard_normal(), 0, 1)))
        return total

    instance_opt = sum(min(mean_loss(a, c) for a in range(10)) for c in contexts)
    best_fixed = min(sum(mean_loss(a, c) for c in contexts) for a in range(10))
    cheb = run(ChebCB(OMEGA, cost_bound=1.0, seed=2, context_low=0, context_high=1, degree=3,
                      variant=variant))
    tsallis = run(TsallisINF(OMEGA, cost_bound=1.0, seed=2))
    assert cheb < best_fixed < tsallis
    # within 30 % of the instance-optimal total, where the best fixed arm is 86 % above it
    assert cheb < 1.3 * instance_opt < best_fixed


def test_chebyshev_features_and_context_errors():
    z = 0.3
    assert chebyshev_features(z, 3) == pytest.approx([1, z, 2 * z * z - 1, 4 * z**3 - 3 * z])
    tuner = ChebCB(OMEGA, cost_bound=1.0)
    with pytest.raises(ValueError, match="context"):
        tuner.choose(None)
    with pytest.raises(ValueError, match="cost_bound"):
        TsallisINF(OMEGA, cost_bound=0.0)


# ------------------------------------------------------------------ solverhub tune
TUNE_TOML = """
name = "tiny"
[tune]
solver = "sor"
options = {{ max_iterations = 500 }}
tuner = "{tuner}"
{extra}
[tune.parameter]
name = "omega"
kind = "interval"
low = 1.0
high = 2.0
points = 4
[tune.sequence]
address = "linsys:shifted_poisson?n=6&seed={{i}}"
start = 0
stop = {stop}
"""


def _cli(*args):
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "solverhub", *args], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})


def test_cli_tune_writes_every_choice_and_the_hindsight_report(tmp_path):
    import json

    cfg = tmp_path / "tune.toml"
    cfg.write_text(TUNE_TOML.format(tuner="chebcb", stop=6, extra='context = ["shift"]'))
    out = tmp_path / "out"
    res = _cli("tune", str(cfg), "--out", str(out))
    assert res.returncode == 0, res.stderr
    steps = [json.loads(x) for x in (out / "tune.jsonl").read_text().splitlines()]
    assert [s["step"] for s in steps] == list(range(6))
    assert all(s["value"] in ParameterSpace(name="omega", low=1, high=2, points=4).arms()
               for s in steps)
    report = json.loads((out / "report.json").read_text())
    # 4 arms + the default omega = 1.0, on 6 instances
    assert len((out / "hindsight.jsonl").read_text().splitlines()) == 6 * 5
    assert report["instance_optimal_total"] <= report["best_fixed_total"] <= report["default_total"]
    assert report["tuner_total"] == sum(s["cost"] for s in steps)
    assert (out / "regret.png").stat().st_size > 0
    assert "best fixed in hindsight" in res.stdout


def test_tune_resume_replays_the_recorded_steps(tmp_path):
    import json

    from solverhub.core.tuning import parse_tune_config, run_tune

    text6 = TUNE_TOML.format(tuner="tsallis-inf", stop=6, extra="hindsight = false")
    full = run_tune(parse_tune_config(text6), tmp_path / "full", config_text=text6)
    # a run killed after 3 steps (and a line cut mid-write), then resumed
    part = tmp_path / "part"
    text3 = TUNE_TOML.format(tuner="tsallis-inf", stop=3, extra="hindsight = false")
    run_tune(parse_tune_config(text3), part, config_text=text3)
    with open(part / "tune.jsonl", "a") as f:
        f.write('{"step": 3, "instan')
    resumed = run_tune(parse_tune_config(text6), part, resume=True)
    assert resumed["choices"] == full["choices"]
    assert resumed["tuner_total"] == full["tuner_total"]
    assert [json.loads(x)["step"] for x in (part / "tune.jsonl").read_text().splitlines()] == \
        list(range(6))  # the cut line was dropped, not glued to the next one
    # without --resume a non-empty folder is refused, never overwritten
    with pytest.raises(sh.BadInputError, match="--resume"):
        run_tune(parse_tune_config(text6), part)
    assert len((part / "tune.jsonl").read_text().splitlines()) == 6
    # a folder from another tuner does not replay
    other = TUNE_TOML.format(tuner="exp3", stop=6, extra="hindsight = false")
    with pytest.raises(sh.BadInputError, match="does not match"):
        run_tune(parse_tune_config(other), part, resume=True)
    assert json.loads((part / "tune.jsonl").read_text().splitlines()[0])["step"] == 0


@pytest.mark.parametrize("extra,needle", [
    ('context = ["shift"]\nbogus = 1', "bogus: unknown key"),
    ("", "contextual"),  # chebcb without context
    ('context = ["shift"]\ntuner_params = { nope = 1 }', "nope"),
])
def test_cli_tune_bad_configs_exit_2(tmp_path, extra, needle):
    cfg = tmp_path / "tune.toml"
    cfg.write_text(TUNE_TOML.format(tuner="chebcb", stop=3, extra=extra))
    res = _cli("tune", str(cfg), "--out", str(tmp_path / "out"))
    assert res.returncode == 2
    assert needle in res.stderr
    assert not (tmp_path / "out" / "tune.jsonl").exists()


def test_cli_tune_resume_needs_out(tmp_path):
    cfg = tmp_path / "tune.toml"
    cfg.write_text(TUNE_TOML.format(tuner="ucb1", stop=3, extra=""))
    res = _cli("tune", str(cfg), "--resume")
    assert res.returncode == 2 and "--out" in res.stderr
    res = _cli("tune", str(tmp_path / "missing.toml"))
    assert res.returncode == 2 and "missing.toml" in res.stderr


def test_tune_config_names_a_missing_option_and_solver(tmp_path):
    from solverhub.core.tuning import parse_tune_config

    bad = TUNE_TOML.format(tuner="ucb1", stop=3, extra="").replace('name = "omega"', 'name = "omegaa"')
    with pytest.raises(sh.BadInputError, match="no option 'omegaa'"):
        parse_tune_config(bad)
    with pytest.raises(sh.BadInputError, match="unknown solver 'sorr'"):
        parse_tune_config(TUNE_TOML.format(tuner="ucb1", stop=3, extra="").replace('"sor"', '"sorr"'))
    with pytest.raises(sh.BadInputError, match="omega"):  # arms outside (0, 2)
        parse_tune_config(TUNE_TOML.format(tuner="ucb1", stop=3, extra="")
                          .replace("high = 2.0", "high = 3.0"))


def test_shipped_tune_config_is_valid():
    from pathlib import Path

    from solverhub.core.tuning import parse_tune_config

    path = Path(__file__).parents[1] / "solvers_cfg" / "tune_sor.toml"
    cfg = parse_tune_config(path.read_text(), source=str(path))
    assert cfg.tune.solver == "sor" and len(cfg.tune.sequence.addresses()) == 300
    assert len(cfg.tune.parameter.arms()) == 20


def test_tune_stops_on_ctrl_c_keeping_finished_steps(tmp_path):
    """A stop request (Ctrl-C) ends the loop after the running solve; its lines stay, --resume
    finishes the sequence with the same choices."""
    from solverhub.core.interrupt import clear_stop, request_stop
    from solverhub.core.tuning import TuneInterrupted, parse_tune_config, run_tune

    text = TUNE_TOML.format(tuner="ucb1", stop=12, extra="hindsight = false")
    full = run_tune(parse_tune_config(text), tmp_path / "full", config_text=text)

    def ctrl_c_at_step_5(phase, k, total, rec):
        if k == 5:
            request_stop()  # what the first Ctrl-C does

    out = tmp_path / "out"
    try:
        with pytest.raises(TuneInterrupted):
            run_tune(parse_tune_config(text), out, config_text=text, progress=ctrl_c_at_step_5)
    finally:
        clear_stop()
    assert len((out / "tune.jsonl").read_text().splitlines()) == 5
    report = run_tune(parse_tune_config(text), out, resume=True)
    assert report["steps"] == 12 and report["choices"] == full["choices"]


def test_hindsight_on_every_kth_instance(tmp_path):
    """The brute force may run on a subset (every k-th instance); the tuner is compared there."""
    import json

    from solverhub.core.tuning import parse_tune_config, run_tune

    text = TUNE_TOML.format(tuner="exp3", stop=7, extra="hindsight_every = 3")
    report = run_tune(parse_tune_config(text), tmp_path / "out", config_text=text)
    assert report["compare_steps"] == [0, 3, 6] and report["steps"] == 7
    lines = [json.loads(x) for x in (tmp_path / "out" / "hindsight.jsonl").read_text().splitlines()]
    assert sorted({r["step"] for r in lines}) == [0, 3, 6] and len(lines) == 3 * 5
    assert report["tuner_compare_total"] == sum(report["tuner_cumulative"][i] - (
        report["tuner_cumulative"][i - 1] if i else 0) for i in (0, 3, 6))
    assert report["instance_optimal_total"] <= report["best_fixed_total"]


def test_cost_of_failed_and_time_limited_solves():
    from solverhub.core.tuning import cost_of

    ok = sh.Result(sh.Status.OPTIMAL, x=np.zeros(1), iterations=40, runtime=0.5,
                   metrics={"relative_residual": 1e-9})
    assert cost_of(ok, "iterations", 200) == 40
    assert cost_of(ok, "runtime", 200) == 0.5
    assert cost_of(ok, "relative_residual", 1.0) == 1e-9
    assert cost_of(ok, "nosuch_metric", 7.0) == 7.0
    assert cost_of(sh.Result(sh.Status.ERROR, error="boom"), "iterations", 200) == 200
    late = sh.Result(sh.Status.TIME_LIMIT, x=np.zeros(1), iterations=30, runtime=2.0)
    assert cost_of(late, "iterations", 200) == 200  # not cheap for having been stopped early
    assert cost_of(late, "runtime", 1.5) == 2.0


def test_tsallis_inf_mean_normalization_is_scale_free_and_learns():
    """normalize=mean (the authors' experiment scale: cost over its running mean) makes the same
    choices when every cost is multiplied by 10 (no cost bound to guess), also for costs below 1
    (a primal integral); with the bound scale the choices change."""
    arms = np.array(OMEGA.arms())

    def run(normalize, factor, bound):
        tuner = TsallisINF(OMEGA, cost_bound=bound, seed=3, normalize=normalize)
        noise = np.random.default_rng(4)
        picks = []
        for _ in range(1500):
            a = int(np.argmin(np.abs(arms - tuner.choose())))
            picks.append(a)
            tuner.observe(factor * (20 + 200 * MEANS[a] + 5 * noise.standard_normal()))
        return picks

    assert run("mean", 1, 1000) == run("mean", 10, 1000) == run("mean", 1e-3, 1000)
    assert run("bound", 1, 1000) != run("bound", 10, 1000)
    picks = run("mean", 1, 1000)
    late, early = MEANS[picks[-300:]].mean(), MEANS[picks[:100]].mean()
    assert late < 0.25 < 0.3 < early  # best arm 0.2, uniform play 0.47
    with pytest.raises(ValueError, match="normalize"):
        TsallisINF(OMEGA, cost_bound=1.0, normalize="median")
    with pytest.raises(ValueError, match="variant"):
        ChebCB(OMEGA, cost_bound=1.0, variant="lasso")


def test_paper_shifted_poisson_family():
    """The paper's sequences: beta-distributed shifts on [-0.15, 0.45], a radially truncated
    Gaussian b, and a shift that would make A indefinite is refused."""
    from solverhub.plugins.linear_system.generators import shifted_poisson

    ps = [sh.load_problem(f"linsys:shifted_poisson?n=10&shift_dist=beta&beta_a=0.5&beta_b=1.5&"
                          f"shift_low=-0.15&shift_high=0.45&rhs=truncated&seed={i}") for i in range(40)]
    shifts = np.array([p.context["shift"] for p in ps])
    assert np.all((shifts >= -0.15) & (shifts <= 0.45)) and shifts.min() < 0
    assert np.median(shifts) < 0.0  # Beta(0.5, 1.5) piles up near the low end
    assert all(float(p.b @ p.b) <= p.n for p in ps)
    assert not all(float(p.b @ p.b) <= p.n for p in (shifted_poisson(n=10, seed=i)
                                                     for i in range(40)))
    with pytest.raises(sh.BadInputError, match="indefinite"):
        shifted_poisson(n=10, shift=-0.2)
    res = sh.solve(ps[0], solver="sor", omega=1.8, max_iterations=10_000)
    assert res.status == "optimal"


def test_kind_protocols_declare_context():
    from solverhub.core.api import kind_protocol

    p = sh.load_problem("linsys:shifted_poisson?n=5&shift=0.3")
    ctx = kind_protocol("linear-system").context(p)
    assert ctx["shift"] == 0.3 and ctx["unknowns"] == 25 and ctx["nonzeros"] == p.A.nnz
    assert set(ctx) <= set(kind_protocol("linear-system").context_features)
    mip = sh.load_problem("generate:set_cover?rows=20&cols=30&seed=1")
    mctx = kind_protocol("mip").context(mip)
    assert mctx == {"variables": 30, "constraints": 20, "integers": 30,
                    "nonzeros": float(mip.A.nnz)}


def test_with_option_sets_dotted_names_and_cost_of_objective_and_integral():
    from solverhub.core.tuning import cost_of, with_option

    base = {"highs_options": {"presolve": "off"}, "threads": 1}
    out = with_option(base, "highs_options.mip_heuristic_effort", 0.3)
    assert out == {"highs_options": {"presolve": "off", "mip_heuristic_effort": 0.3}, "threads": 1}
    assert base["highs_options"] == {"presolve": "off"}  # the config's options are not changed
    with pytest.raises(ValueError, match="not a table"):
        with_option(base, "threads.x", 1)
    r = sh.Result(sh.Status.TIME_LIMIT, x=np.zeros(1), objective=12.0, bound=10.0, runtime=2.0,
                  trajectory=[(0.5, 15.0), (1.0, 12.0)])
    assert cost_of(r, "objective", 100.0) == 12.0
    # no known optimum: the gap to the solve's own bound 10, over the 2 s budget
    gap15, gap12 = 5 / 15, 2 / 12
    assert cost_of(r, "primal_integral", 1.0, 2.0) == pytest.approx(
        (0.5 * 1 + 0.5 * gap15 + 1.0 * gap12) / 2.0)
    r.metrics["primal_integral"] = 0.25  # a known optimum's integral wins
    assert cost_of(r, "primal_integral", 1.0, 2.0) == 0.25
    nothing = sh.Result(sh.Status.TIME_LIMIT, runtime=2.0)
    assert cost_of(nothing, "primal_integral", 1.0, 2.0) == 1.0


def test_tune_a_dotted_option_of_another_kind(tmp_path):
    """HiGHS's heuristic effort (a key of its highs_options table) on two tiny generated MIPs:
    the tuner's choices reach the solver, the default (unset) is brute-forced as its own column."""
    import json

    from solverhub.core.tuning import parse_tune_config, run_tune

    text = """
name = "mip"
[tune]
solver = "highs"
cost = "primal_integral"
time_limit = 5.0
tuner = "ucb1"
context = ["variables"]
[tune.parameter]
name = "highs_options.mip_heuristic_effort"
kind = "grid"
values = [0.0, 0.3]
[tune.sequence]
address = "generate:set_cover?rows=15&cols=25&density=0.2&seed={i}"
start = 0
stop = 2
"""
    report = run_tune(parse_tune_config(text), tmp_path / "out", config_text=text)
    steps = [json.loads(x) for x in (tmp_path / "out" / "tune.jsonl").read_text().splitlines()]
    assert [s["value"] for s in steps] == [0.0, 0.3]  # UCB1 tries each arm once
    assert all(0 <= s["cost"] <= 1 and s["context_vector"] == [25.0] for s in steps)
    assert report["default_value"] is None and report["default_total"] >= 0
    hs = [json.loads(x) for x in (tmp_path / "out" / "hindsight.jsonl").read_text().splitlines()]
    assert sorted({str(r["value"]) for r in hs}) == ["0.0", "0.3", "None"]
    bad = text.replace("highs_options.mip", "threads.mip")
    with pytest.raises(sh.BadInputError, match="option .threads."):
        parse_tune_config(bad)
    with pytest.raises(sh.BadInputError, match="declares no context feature.* nosuch"):
        parse_tune_config(text.replace('["variables"]', '["nosuch"]'))  # before any solve


def test_held_back_prefix_chooses_the_tuner_settings(tmp_path):
    """select_prefix: every value on the first k instances, each candidate replayed there, the
    best kept; the tuner runs on the rest only, and the prefix's best fixed value is reported on
    the held-out instances."""
    import json

    from solverhub.core.tuning import parse_tune_config, replay, run_tune

    extra = 'select_prefix = 3\nselect_candidates = [{ tuner = "fixed", value = 1.875 }, ' \
            '{ eta0 = 0.5 }]'
    text = TUNE_TOML.format(tuner="tsallis-inf", stop=8, extra=extra)
    out = tmp_path / "out"
    report = run_tune(parse_tune_config(text), out, config_text=text)
    prefix = [json.loads(x) for x in (out / "prefix.jsonl").read_text().splitlines()]
    assert sorted({r["step"] for r in prefix}) == [0, 1, 2] and len(prefix) == 3 * 5
    sel = json.loads((out / "selection.json").read_text())
    means = [c["prefix_total_mean"] for c in sel["candidates"]]
    assert len(means) == 4 and sel["tuner"] == sel["candidates"][int(np.argmin(means))]["tuner"]
    # the last candidate is offline tuning: always the prefix's best fixed value
    assert sel["candidates"][3] == {"tuner": "fixed", "tuner_params": {
        "value": sel["prefix_best_fixed_value"]}, "prefix_total_mean": means[3]}
    assert report["tuner"] == sel["tuner"] and report["steps"] == 5
    steps = [json.loads(x) for x in (out / "tune.jsonl").read_text().splitlines()]
    assert steps[0]["instance"].endswith("seed=3")  # the prefix is never tuned on
    assert report["prefix_fixed_value"] == sel["prefix_best_fixed_value"]
    assert report["best_fixed_total"] <= report["prefix_fixed_total"]
    # the fixed candidate's replay is exact: its column of the prefix table, over sequences of
    # the tuned length (5) drawn from the 3 prefix instances with the seeds 0, 1, 2
    col = np.array([r["cost"] for r in sorted(prefix, key=lambda r: r["step"])
                    if r["value"] == 1.875])
    draws = [np.random.default_rng(k).integers(0, 3, 5) for k in range(3)]
    assert means[1] == pytest.approx(np.mean([col[d].sum() for d in draws]))
    assert replay(sh.get_plugin_manager().get_tuner("fixed").factory(
        ParameterSpace(name="omega", kind="grid", values=[1.0, 2.0]), cost_bound=1.0, value=2.0),
        np.array([[1.0, 5.0], [2.0, 7.0]]), [1.0, 2.0], [None, None]) == 12.0
    # iterations are deterministic: the tuner replayed over the brute-force costs is the live run
    assert report["replay_total"] == report["tuner_total"]
    # resumed: the same selection and choices
    again = run_tune(parse_tune_config(text), out, resume=True)
    assert again["choices"] == report["choices"]
    no_fixed = text.replace("select_prefix = 3", "select_prefix = 3\nselect_fixed = false")
    run_tune(parse_tune_config(no_fixed), tmp_path / "nofixed", config_text=no_fixed)
    sel = json.loads((tmp_path / "nofixed" / "selection.json").read_text())
    assert [c["tuner"] for c in sel["candidates"]] == ["tsallis-inf", "fixed", "tsallis-inf"]


@pytest.mark.parametrize("extra,needle", [
    ("select_candidates = [{ eta0 = 1.0 }]", "select_prefix"),
    ("select_prefix = 2\nselect_candidates = [{ nope = 1 }]", "select_candidates[0]"),
    ("select_prefix = 2\nselect_candidates = [{ tuner = \"nosuch\" }]", "nosuch"),
    ("select_prefix = 4", "leaves no instance"),
])
def test_bad_prefix_configs(extra, needle):
    from solverhub.core.tuning import parse_tune_config

    with pytest.raises(sh.BadInputError) as exc:
        parse_tune_config(TUNE_TOML.format(tuner="tsallis-inf", stop=4, extra=extra))
    assert needle in str(exc.value)


def test_tune_progress_live_display():
    import io

    from rich.console import Console

    from solverhub.core.cli import TuneProgress

    buf = io.StringIO()
    con = Console(file=buf, force_terminal=True, width=160, color_system=None)
    with TuneProgress(con, "omega", "iterations") as prog:
        prog("tune", 1, 2, {"value": 1.5, "cost": 40, "status": "optimal", "instance": "a"})
        prog("tune", 2, 2, {"value": 1.7, "cost": 30, "status": "optimal", "instance": "b"})
        prog("hindsight", 1, 10, {"value": None, "cost": 90, "status": "optimal", "instance": "a"})
    text = buf.getvalue()
    assert "tune 2/2" in text and "total iterations 70" in text and "hindsight" in text
    plain = io.StringIO()
    prog = TuneProgress(Console(file=plain, force_terminal=False), "omega", "iterations")
    with prog:
        for k in range(1, 41):
            prog("hindsight", k, 40, {"value": 1.0, "cost": 1, "status": "optimal",
                                      "instance": "x"})
    assert len(plain.getvalue().splitlines()) == 20  # about 20 lines per brute-force phase


def test_product_space_tunes_several_options_at_once(tmp_path):
    """kind = "product": every combination of the options' arms is one arm; each record names
    its setting, and the hindsight brute force covers every combination and the defaults."""
    import json

    from solverhub.core.tuning import parse_tune_config, run_tune

    space = ParameterSpace(name="sor", kind="product", parameters=[
        ParameterSpace(name="omega", kind="grid", values=[1.0, 1.5, 1.8]),
        ParameterSpace(name="tolerance", kind="grid", values=[1e-6, 1e-8])])
    assert space.arms() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert space.settings(2.0) == {"omega": 1.5, "tolerance": 1e-6}  # the last varies fastest
    assert space.settings(3.0) == {"omega": 1.5, "tolerance": 1e-8}
    assert space.apply({"max_iterations": 9}, 5.0) == {"max_iterations": 9, "omega": 1.8,
                                                       "tolerance": 1e-8}
    for bad in [dict(kind="product"), dict(kind="product", parameters=[space]),
                dict(kind="grid", values=[1.0], parameters=[space.parameters[0]])]:
        with pytest.raises(ValidationError):
            ParameterSpace(name="p", **bad)
    text = """
name = "product"
[tune]
solver = "sor"
options = { max_iterations = 500 }
tuner = "ucb1"
[tune.parameter]
name = "omega-and-tolerance"
kind = "product"
parameters = [{ name = "omega", kind = "grid", values = [1.0, 1.5, 1.8] },
              { name = "tolerance", kind = "grid", values = [1e-6, 1e-8] }]
[tune.sequence]
address = "linsys:shifted_poisson?n=6&seed={i}"
start = 0
stop = 8
"""
    report = run_tune(parse_tune_config(text), tmp_path / "out", config_text=text)
    steps = [json.loads(x) for x in (tmp_path / "out" / "tune.jsonl").read_text().splitlines()]
    assert [s["setting"] for s in steps[:2]] == [{"omega": 1.0, "tolerance": 1e-6},
                                                 {"omega": 1.0, "tolerance": 1e-8}]
    assert report["default_value"] is None and len(report["choices"]) == 8
    # the loosest tolerance with the omega nearest Young's optimum (1.39 on a 6 x 6 grid) is the
    # cheapest fixed combination
    assert space.settings(report["best_fixed_value"]) == {"omega": 1.5, "tolerance": 1e-6}
    assert report["replay_total"] == report["tuner_total"]
    with pytest.raises(sh.BadInputError, match="no option 'omegaa'"):
        parse_tune_config(text.replace('name = "omega"', 'name = "omegaa"'))


def test_heat_cn_is_the_authors_simulation():
    """Crank-Nicolson steps with the authors' coefficient max(0.1 sin 2 pi t, -10 sin 2 pi t):
    step k's warm start is the solution of step k - 1, and its context the coefficient at t_k."""
    import math

    from solverhub.plugins.linear_system.generators import heat_cn

    p0, p1 = heat_cn(nx=8, step=0, steps=100, stoptime=1.0), heat_cn(nx=8, step=1, steps=100,
                                                                     stoptime=1.0)
    assert p0.n == 49 and p0.context["diffusion"] == 0.0
    x = sh.solve(p0, solver="scipy-direct").x
    assert np.allclose(p1.x0, x, atol=1e-10)
    p70 = sh.load_problem("linsys:heat_cn?nx=8&step=70&steps=100&stoptime=1.0")
    assert p70.context["diffusion"] == pytest.approx(-10 * math.sin(2 * math.pi * 0.7))
    assert sh.solve(p70, solver="ssor-cg", omega=1.3).status == "optimal"
    with pytest.raises(sh.BadInputError, match="past"):
        heat_cn(nx=8, step=100, steps=100)
