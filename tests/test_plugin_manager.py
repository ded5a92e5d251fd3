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


def test_duplicate_solver_names_name_both_providers(pm):
    pm.register_plugin(_plugin("twin"), name="first-plugin")
    pm.register_plugin(_plugin("twin"), name="second-plugin")
    with pytest.raises(DuplicateNameError) as ei:
        pm.solvers()
    assert "first-plugin" in str(ei.value) and "second-plugin" in str(ei.value)
    assert "twin" in str(ei.value)


def test_duplicate_of_a_builtin(pm):
    pm.register_plugin(_plugin("highs"), name="impostor")
    with pytest.raises(DuplicateNameError, match="impostor"):
        pm.solvers()


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
