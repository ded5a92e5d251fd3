"""The solver contract (issue 19): the factory gets the validated options object, options and
problem are validated once per solve, shared option names with deprecated aliases, one registry
table, lazy dotted paths, misspelt hooks refused, plugin import errors located."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings

import pytest
from pydantic import Field, model_validator

import solverhub as sh
from solverhub.core import api
from solverhub.core.manager import SolverhubPluginManager, describe_import_error, unknown_hooks
from solverhub.core.options import OptionRenamedWarning
from solverhub.core.records import REGISTRIES, REGISTRY_BY_HOOK, LazyRef, SolverSpec
from solverhub.core.solver import SolverBase, takes_options_object
from solverhub.testing.instances import tiny_mip_instances


# ----------------------------------------------------------------- options: validated once
class CountingOptions(sh.IterationLimitOptions):
    max_iterations: int = Field(7, ge=1)
    label: str = "x"


VALIDATIONS: list[dict] = []
BUILT: list[object] = []


class CountedOptions(CountingOptions):
    @model_validator(mode="before")
    @classmethod
    def _count(cls, data):
        VALIDATIONS.append(dict(data) if isinstance(data, dict) else {})
        return data


class Recorder(SolverBase[CountedOptions]):
    Options = CountedOptions

    def solve(self, problem, *, time_limit=None, seed=0, notifier=None):
        BUILT.append(self.options)
        return sh.Result(sh.Status.TIME_LIMIT)


@pytest.fixture
def recorder():
    class P:
        @sh.hookimpl
        def solverhub_solvers(self):
            return [SolverSpec("contract-recorder", "mip", Recorder, CountedOptions)]

    pm = sh.get_plugin_manager()
    pm.register_plugin(P(), name="contract-recorder")
    VALIDATIONS.clear()
    BUILT.clear()
    yield
    pm.unregister_plugin("contract-recorder")


def test_solve_validates_options_once_and_the_factory_gets_the_object(recorder):
    res = sh.solve("generate:set_cover?rows=30&cols=60&density=0.1&seed=1", solver="contract-recorder",
                   options={"label": "y"})
    assert len(VALIDATIONS) == 1                      # one validation for the whole call
    [opts] = BUILT
    assert isinstance(opts, CountedOptions) and opts.label == "y" and opts.max_iterations == 7
    assert res.options == {"max_iterations": 7, "label": "y"}


def test_a_validated_options_object_is_not_validated_again(recorder):
    opts = CountedOptions(label="z")
    VALIDATIONS.clear()
    sh.solve("generate:set_cover?rows=30&cols=60&density=0.1&seed=1", solver="contract-recorder", options=opts)
    assert VALIDATIONS == [] and BUILT == [opts]


def test_the_host_validates_a_loaded_problem_no_more(recorder, monkeypatch):
    from solverhub.core.mip import MIPProblem

    calls = []
    original = MIPProblem.validate
    monkeypatch.setattr(MIPProblem, "validate", lambda self: (calls.append(1), original(self))[1])
    sh.solve("generate:set_cover?rows=30&cols=60&density=0.1&seed=1", solver="contract-recorder")
    assert len(calls) == 1                            # at construction only
    problem = tiny_mip_instances()[0][0]
    calls.clear()
    sh.solve(problem, solver="contract-recorder")     # the caller's object: validated once, here
    assert len(calls) == 1


def test_the_host_checks_the_problem_type_for_the_solver():
    from solverhub.plugins.convex_relu import make_synthetic

    spec = sh.get_plugin_manager().get_solver("highs")
    with pytest.raises(sh.BadInputError, match="takes a MIPProblem"):
        api.check_problem(make_synthetic(n=10, d=2, P=2, seed=1), spec)


def test_solver_base_keywords_and_attributes():
    s = Recorder(label="k")
    assert s.label == "k" and s.max_iterations == 7 and s.options.label == "k"
    with pytest.raises(sh.BadInputError, match="unknown option 'nope'"):
        Recorder(nope=1)
    with pytest.raises(TypeError, match="not both"):
        Recorder(CountedOptions(), label="k")
    with pytest.raises(AttributeError):
        getattr(s, "no_such_attribute")  # noqa: B009 - the lookup is what is tested
    assert takes_options_object(Recorder)
    assert takes_options_object(lambda options: options)
    assert not takes_options_object(lambda level=1: level)
    assert not takes_options_object(lambda sleep, label: None)


def test_legacy_keyword_factories_still_work():
    class Opts(sh.SolverOptions):
        level: int = 2

    made = []
    spec = SolverSpec("legacy", "mip", lambda level: made.append(level), Opts)
    spec.build(Opts(level=5))
    assert made == [5]


# ----------------------------------------------------------------- shared names, old aliases
@pytest.mark.parametrize("solver,old,new,value", [
    ("highs", "mip_rel_gap", "rel_gap", 0.5),
    ("ortools-scip", "relative_gap", "rel_gap", 0.5),
    ("balans", "gap_tolerance", "rel_gap", 0.5),
    ("relu-adam", "iterations", "max_iterations", 5),
])
def test_old_option_names_are_deprecated_aliases(solver, old, new, value):
    spec = sh.get_plugin_manager().get_solver(solver)
    with pytest.warns(OptionRenamedWarning, match=f"'{old}'.*use '{new}'"):
        opts = api.validate_options(spec, {old: value})
    assert getattr(opts, new) == value and old not in opts.model_dump()
    with pytest.raises(sh.BadInputError, match="same option"):
        api.validate_options(spec, {old: value, new: value})


def test_common_knobs_have_one_name_across_builtin_solvers():
    pm = sh.get_plugin_manager()
    for spec in pm.solvers().values():
        fields = set(spec.options_model.model_fields)
        assert not fields & {"mip_rel_gap", "relative_gap", "gap_tolerance", "iterations"}, spec.name


def test_a_config_with_an_old_name_still_validates(tmp_path):
    from solverhub.core.config import load_config

    cfg = tmp_path / "old.toml"
    cfg.write_text('instances = ["generate:set_cover?rows=30&cols=60&density=0.1&seed=1"]\n'
                   '[solvers.h]\nkind = "highs"\n[solvers.h.options]\nmip_rel_gap = 0.1\n')
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        load_config(cfg)


def test_cli_names_the_new_option(tmp_path):
    out = subprocess.run([sys.executable, "-m", "solverhub", "solve",
                          "generate:set_cover?rows=30&cols=60&density=0.1&seed=1", "--solver", "highs",
                          "--set", "mip_rel_gap=0.1", "--json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "'mip_rel_gap'" in out.stderr and "use 'rel_gap'" in out.stderr
    assert json.loads(out.stdout)["options"]["rel_gap"] == 0.1


# ----------------------------------------------------------------- registry, lazy paths, hooks
def test_one_registry_table_covers_every_record_hook():
    from solverhub.core import hookspecs

    record_hooks = {n for n in dir(hookspecs) if n.startswith("solverhub_")
                    and n not in ("solverhub_load_problem",) and not n.startswith("solverhub_on_")}
    assert record_hooks == set(REGISTRY_BY_HOOK)
    assert "solverhub_array_backends" in REGISTRY_BY_HOOK
    assert len({r.registry for r in REGISTRIES}) == len(REGISTRIES)


def test_lazy_dotted_paths():
    ref = LazyRef("solverhub.plugins.highs.solver:HighsSolver")
    from solverhub.plugins.highs.solver import HighsSolver

    assert ref.resolve() is HighsSolver
    with pytest.raises(ValueError, match="package.module:attr"):
        LazyRef("no-colon")
    with pytest.raises(ImportError, match="has no attribute"):
        LazyRef("solverhub.core.api:nope").resolve()
    spec = sh.get_plugin_manager().get_solver("convex-relu-admm")
    assert isinstance(spec.factory, LazyRef) and spec.options_model.__name__ == "AdmmOptions"


def test_importing_solverhub_imports_no_solver_module():
    code = ("import sys, solverhub\nsolverhub.get_plugin_manager().solvers()\n"
            "heavy = [m for m in ('scipy.optimize', 'solverhub.plugins.convex_relu.admm', "
            "'solverhub.plugins.highs.solver', 'solverhub.plugins.balans.solver', "
            "'solverhub.plugins.exact_al.solver') if m in sys.modules]\nprint(heavy)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_misspelt_hook_makes_the_plugin_broken_naming_the_closest_hook():
    assert unknown_hooks(["solverhub_solver", "solverhub_solvers", "other"]) == \
        ["solverhub_solver (did you mean solverhub_solvers?)"]

    class Typo:
        @sh.hookimpl
        def solverhub_solver(self):  # noqa: D401 - the misspelling under test
            return []

    pm = SolverhubPluginManager()
    pm.load_all()
    with pytest.warns(UserWarning, match="did you mean solverhub_solvers"):
        pm.register_plugin(Typo(), name="typo")
    info = {i.name: i for i in pm.plugin_infos()}["typo"]
    assert info.broken and "solverhub_solver" in info.error and "solverhub_solvers" in info.error
    assert pm.get_plugin("typo") is None


def _entry_point_plugin(tmp_path, body: str) -> dict:
    (tmp_path / "brokenplug.py").write_text(textwrap.dedent(body))
    dist = tmp_path / "brokenplug-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: brokenplug\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[solverhub]\nbrokenplug = brokenplug\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    env.pop("SOLVERHUB_DISABLE_PLUGINS", None)
    return env


def test_plugin_import_error_names_file_and_line_and_traceback_under_debug(tmp_path):
    env = _entry_point_plugin(tmp_path, """\
        import solverhub as sh

        def helper():
            return 1 / 0

        VALUE = helper()
        """)
    out = subprocess.run([sys.executable, "-m", "solverhub", "plugins", "--json"], env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    info = {p["name"]: p for p in json.loads(out.stdout)["plugins"]}["brokenplug"]
    assert info["broken"] and "ZeroDivisionError" in info["error"]
    assert f"{tmp_path / 'brokenplug.py'}:4" in info["error"]     # the line that raised
    assert info["traceback"] is None
    debug = subprocess.run([sys.executable, "-m", "solverhub", "plugins", "--json"],
                           env={**env, "SOLVERHUB_DEBUG": "1"}, capture_output=True, text=True)
    info = {p["name"]: p for p in json.loads(debug.stdout)["plugins"]}["brokenplug"]
    assert "Traceback" in info["traceback"] and "helper()" in info["traceback"]


def test_syntax_error_location():
    try:
        compile("def f(:\n", "/x/plug.py", "exec")
    except SyntaxError as exc:
        assert "/x/plug.py:1" in describe_import_error(exc)
