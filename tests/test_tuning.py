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


def test_chebcb_approaches_the_instance_optimal_arm():
    """Cost depends on the context c: the best omega is 0.5 + c. A non-contextual bandit can at
    best pick one omega; ChebCB learns the map and beats the best fixed arm in hindsight."""
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
    cheb = run(ChebCB(OMEGA, cost_bound=1.0, seed=2, context_low=0, context_high=1, degree=3))
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
