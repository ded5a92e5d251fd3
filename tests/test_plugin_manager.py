"""The plugin manager: duplicate names, SOLVERHUB_DISABLE_PLUGINS, run-time registration,
check_pending, plugins whose registration hook raises."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict

from solverhub import SolverSpec, hookimpl
from solverhub.core.errors import DuplicateNameError, UnknownNameError
from solverhub.core.manager import SolverhubPluginManager, get_plugin_manager


class _Opts(BaseModel):
    model_config = ConfigDict(extra="forbid")
    level: int = 1


class _Solver:
    def __init__(self, level=1):
        self.level = level

    def solve(self, problem, **kw):  # pragma: no cover - never called here
        raise NotImplementedError


def _plugin(*names):
    class P:
        @hookimpl
        def solverhub_solvers(self):
            return [SolverSpec(n, "mip", _Solver, _Opts, description="test") for n in names]
    return P()


@pytest.fixture
def pm(monkeypatch):
    monkeypatch.delenv("SOLVERHUB_DISABLE_PLUGINS", raising=False)
    m = SolverhubPluginManager()
    m.load_all()
    return m


def test_duplicate_solver_names_refused_with_a_warning_naming_both(pm):
    pm.register_plugin(_plugin("twin"), name="first-plugin")
    pm.register_plugin(_plugin("twin"), name="second-plugin")
    with pytest.warns(UserWarning, match="SOLVERHUB_DISABLE_PLUGINS=first-plugin") as rec:
        solvers = pm.solvers()
    text = str(rec[0].message)
    assert "first-plugin" in text and "second-plugin" in text and "'twin'" in text
    assert solvers["twin"].provider == "first-plugin"       # the first registration is kept
    [conflict] = pm.conflicts
    assert (conflict.kept_from, conflict.refused_from) == ("first-plugin", "second-plugin")
    infos = {i.name: i.to_dict() for i in pm.plugin_infos()}
    assert infos["second-plugin"]["conflicts"][0]["name"] == "twin"
    assert infos["first-plugin"]["conflicts"] == []
    with pytest.raises(DuplicateNameError, match="second-plugin"):
        pm.check_unique()


def test_duplicate_of_a_builtin_keeps_the_builtin_and_the_host_usable(pm):
    pm.register_plugin(_plugin("highs"), name="impostor")
    with pytest.warns(UserWarning, match="impostor"):
        spec = pm.get_solver("highs")
    assert spec.provider == "highs"
    assert "ortools-scip" in pm.solvers()       # the rest of the host is untouched


def test_cli_plugins_lists_a_conflicting_entry_point_plugin(tmp_path, monkeypatch):
    """A third-party plugin (loaded through an entry point) that registers `highs` does not stop
    `solverhub plugins` nor `solverhub solve`; both say what is refused."""
    import json
    import subprocess
    import sys

    pkg = tmp_path / "impostor_plugin.py"
    pkg.write_text(
        "import solverhub as sh\n"
        "from solverhub.plugins.highs.solver import HighsOptions, HighsSolver\n"
        "@sh.hookimpl\n"
        "def solverhub_solvers():\n"
        "    return [sh.SolverSpec('highs', 'mip', HighsSolver, HighsOptions, description='x')]\n")
    dist = tmp_path / "impostor_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: impostor-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[solverhub]\nimpostor = impostor_plugin\n")
    env = {**__import__("os").environ, "PYTHONPATH": str(tmp_path)}
    env.pop("SOLVERHUB_DISABLE_PLUGINS", None)
    out = subprocess.run([sys.executable, "-m", "solverhub", "plugins", "--json"], env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "SOLVERHUB_DISABLE_PLUGINS=highs" in out.stderr and "impostor" in out.stderr
    infos = {p["name"]: p for p in json.loads(out.stdout)["plugins"]}
    assert infos["impostor"]["conflicts"] == [{"registry": "solvers", "name": "highs",
                                               "kept_from": "highs", "refused_from": "impostor"}]
    solved = subprocess.run([sys.executable, "-m", "solverhub", "solve",
                             "generate:multiple_knapsack?n_items=12&n_knapsacks=2&seed=1", "--solver", "highs", "--json"],
                            env=env, capture_output=True, text=True)
    assert solved.returncode == 0, solved.stderr
    assert json.loads(solved.stdout)["status"] == "optimal"


def test_disable_plugins_env(monkeypatch):
    monkeypatch.setenv("SOLVERHUB_DISABLE_PLUGINS", "ortools, highs")
    m = SolverhubPluginManager()
    m.load_all()
    infos = {i.name: i for i in m.plugin_infos()}
    assert infos["highs"].disabled and infos["ortools"].disabled
    assert not infos["mipfiles"].disabled
    assert "highs" not in m.solvers()
    with pytest.raises(UnknownNameError, match="highs"):
        m.get_solver("highs")


def test_runtime_registration_appears(pm):
    assert "late-solver" not in pm.solvers()
    name = pm.register_plugin(_plugin("late-solver"), name="late")
    assert name == "late"
    spec = pm.get_solver("late-solver")
    assert spec.provider == "late" and spec.options is _Opts
    infos = {i.name: i for i in pm.plugin_infos()}
    assert infos["late"].registers["solvers"] == ["late-solver"]
    pm.unregister_plugin("late")
    assert "late-solver" not in pm.solvers()


def test_check_pending_full_manager():
    get_plugin_manager().check_pending()
    m = SolverhubPluginManager()
    m.load_all()
    m.check_pending()


def test_registration_hook_that_raises_is_broken_others_work(pm):
    class Bad:
        @hookimpl
        def solverhub_solvers(self):
            raise RuntimeError("registration exploded")

    pm.register_plugin(Bad(), name="bad-plugin")
    pm.register_plugin(_plugin("good-solver"), name="good-plugin")
    with pytest.warns(UserWarning, match="bad-plugin"):
        solvers = pm.solvers()
    assert "good-solver" in solvers and "highs" in solvers
    infos = {i.name: i for i in pm.plugin_infos()}
    assert infos["bad-plugin"].broken and "registration exploded" in infos["bad-plugin"].error
    assert not infos["good-plugin"].broken


def test_wrong_record_type_marks_broken(pm):
    class Wrong:
        @hookimpl
        def solverhub_solvers(self):
            return ["not a SolverSpec"]

    pm.register_plugin(Wrong(), name="wrong-plugin")
    with pytest.warns(UserWarning, match="wrong-plugin"):
        pm.solvers()
    assert {i.name: i for i in pm.plugin_infos()}["wrong-plugin"].broken


def test_builtins_are_listed(pm):
    infos = {i.name: i for i in pm.plugin_infos()}
    for name in ("mipfiles", "generators", "highs", "ortools", "balans", "pyomo"):
        assert name in infos and infos[name].builtin
    assert "highs" in infos["highs"].registers.get("solvers", [])
