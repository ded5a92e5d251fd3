"""Run-config validation (DESIGN.md section 7): strict keys with located errors, path resolution,
solver kinds and options checked against the registered solvers, TOML round trip."""

from __future__ import annotations

import sys
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from solverhub.core.config import (RunConfig, config_to_toml, instance_label, load_config,
                                   parse_config, quickstart_text)
from solverhub.core.errors import BadInputError

GEN = "generate:set_cover?rows=40&cols=80&density=0.1&seed=1"


def base(**kw):
    d = {"name": "t", "instances": [GEN], "seeds": [0], "time_limit": 5,
         "solvers": {"h": {"kind": "highs"}}}
    d.update(kw)
    return d


def test_valid_config_defaults():
    cfg = parse_config(base())
    assert isinstance(cfg, RunConfig)
    assert cfg.executor.kind == "local" and cfg.executor.workers == 1
    assert cfg.instances == [GEN]  # addresses are kept as they are
    assert cfg.tasks() == [(GEN, "h", 0)]


def test_design_example_shape(tmp_path):
    (tmp_path / "m.mps").write_text("NAME x\nENDATA\n")
    text = f"""
name = "balans-vs-highs"
instances = ["m.mps", "{GEN}"]
seeds = [0, 1, 2]
time_limit = 60
[solvers.h2]
kind = "highs"
[solvers.h2.options]
rel_gap = 0.01
[solvers.highs]
kind = "highs"
[executor]
kind = "local"
workers = 2
"""
    (tmp_path / "c.toml").write_text(text)
    cfg = load_config(tmp_path / "c.toml")
    # relative paths resolve against the config file's folder, not the working directory
    assert cfg.instances[0] == str((tmp_path / "m.mps").resolve())
    assert cfg.instances[1] == GEN
    assert len(cfg.tasks()) == 2 * 2 * 3
    assert cfg.solvers["h2"].options == {"rel_gap": 0.01}


@pytest.mark.parametrize("mutate, where", [
    (lambda d: d["solvers"]["h"].__setitem__("optoins", {}), "config.toml: solvers.h.optoins: unknown key"),
    (lambda d: d.__setitem__("seed", [1]), "config.toml: seed: unknown key"),
    (lambda d: d.__setitem__("executor", {"kind": "local", "worker": 2}),
     "config.toml: executor.worker: unknown key"),
    (lambda d: d.__setitem__("executor", {"kind": "slurm"}), "config.toml: executor.kind"),
    (lambda d: d.__setitem__("output", {"plot": False}), "config.toml: output.plot: unknown key"),
    (lambda d: d.__setitem__("time_limit", -1), "config.toml: time_limit"),
    (lambda d: d.__setitem__("seeds", [1, 1]), "config.toml: seeds"),
    (lambda d: d.pop("instances"), "config.toml: instances: missing required key"),
])
def test_typos_name_their_location(mutate, where):
    d = base()
    mutate(d)
    with pytest.raises(BadInputError) as ei:
        parse_config(d)
    assert where in str(ei.value)
    assert "\n" not in str(ei.value)


def test_unknown_solver_kind_names_section():
    with pytest.raises(BadInputError, match=r"solvers\.fast\.kind: unknown solver 'hihgs'"):
        parse_config(base(solvers={"fast": {"kind": "hihgs"}}))


def test_unknown_solver_option_names_section_and_option():
    d = base(solvers={"h": {"kind": "highs", "options": {"mip_rel_gapp": 0.1}}})
    with pytest.raises(BadInputError) as ei:
        parse_config(d, source="my.toml")
    msg = str(ei.value)
    assert msg.startswith("my.toml: solvers.h.options:") and "mip_rel_gapp" in msg


def test_bad_option_value():
    d = base(solvers={"h": {"kind": "highs", "options": {"rel_gap": "lots"}}})
    with pytest.raises(BadInputError, match=r"solvers\.h\.options"):
        parse_config(d)


def test_invalid_toml_and_missing_file(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("name = 'x'\ninstances = [\n")
    with pytest.raises(BadInputError, match="bad.toml: invalid TOML"):
        load_config(p)
    with pytest.raises(BadInputError, match="nope.toml: file not found"):
        load_config(tmp_path / "nope.toml")


def test_missing_instance_file(tmp_path):
    p = tmp_path / "c.toml"
    p.write_text(config_to_toml(parse_config(base())).replace(GEN, "missing.mps.gz"))
    with pytest.raises(BadInputError, match=r"instances\[0\]: file not found: missing.mps.gz"):
        load_config(p)


def test_seeds_shorthand_and_reference(tmp_path):
    (tmp_path / "a.mps.gz").write_bytes(b"")
    cfg = parse_config(base(seeds=3, instances=["a.mps.gz", GEN],
                            reference={"a": 7.0, GEN: 3}), base_dir=tmp_path)
    assert cfg.seeds == [0, 1, 2]
    assert cfg.reference_for(str((tmp_path / "a.mps.gz").resolve())) == 7.0
    assert cfg.reference_for(GEN) == 3.0
    with pytest.raises(BadInputError, match="reference.zzz: not one of the instances"):
        parse_config(base(reference={"zzz": 1.0}))


def test_round_trip_through_toml(tmp_path):
    cfg = parse_config(base(solvers={"h": {"kind": "highs", "options": {"rel_gap": 0.5}}}))
    text = config_to_toml(cfg)
    data = tomllib.loads(text)
    assert data["solvers"]["h"]["options"]["rel_gap"] == 0.5
    assert "threads" in data["solvers"]["h"]["options"]  # defaults filled in
    again = parse_config(text, base_dir=tmp_path)
    assert again.instances == cfg.instances and again.seeds == cfg.seeds
    assert again.solvers["h"].kind == "highs"


def test_instance_label():
    assert instance_label("/x/y/misc07.mps.gz") == "misc07"
    assert instance_label("a.lp") == "a"
    assert instance_label(GEN) == GEN


def test_packaged_configs_parse():
    text = resources.files("solverhub.solvers_cfg").joinpath("quickstart.toml").read_text()
    assert text == quickstart_text()
    cfg = parse_config(text, source="quickstart.toml", check_solvers=False)
    assert cfg.executor.workers == 2 and "balans" in {s.kind for s in cfg.solvers.values()}
    repo_cfg = Path(__file__).parents[1] / "solvers_cfg" / "example_portfolio.toml"
    if repo_cfg.exists():
        parse_config(repo_cfg.read_text(), source=repo_cfg.name, check_solvers=False,
                     check_files=False)


def test_quickstart_validates_against_registered_solvers():
    from solverhub.core.manager import get_plugin_manager

    if "balans" not in get_plugin_manager().solvers():
        pytest.skip("the balans solver is not registered in this checkout")
    from solverhub.core.config import quickstart_config

    quickstart_config()


def test_paths_inside_addresses_resolve_against_the_config_folder(tmp_path, monkeypatch):
    folder = tmp_path / "bench"
    (folder / "data").mkdir(parents=True)
    rows = "\n".join(f"{i % 7},{(i * 3) % 5},{i % 2}" for i in range(30))
    (folder / "data" / "d.csv").write_text("a,b,y\n" + rows + "\n")
    (folder / "c.toml").write_text(
        'instances = ["dataset:data/d.csv?P=4&bias=false", "generate:set_cover?rows=20&cols=30"]\n'
        '[solvers.relu]\nkind = "convex-relu-admm"\n[solvers.h]\nkind = "highs"\n')
    monkeypatch.chdir(tmp_path)  # not the config's folder
    cfg = load_config(folder / "c.toml")
    csv = (folder / "data" / "d.csv").resolve()
    # the file part is made absolute; the parameters and other addresses stay as written
    assert cfg.instances == [f"dataset:{csv}?P=4&bias=false", "generate:set_cover?rows=20&cols=30"]
    # a missing file inside an address is reported like a missing instance file
    (folder / "c.toml").write_text('instances = ["dataset:data/nope.csv"]\n'
                                   '[solvers.relu]\nkind = "convex-relu-admm"\n')
    with pytest.raises(BadInputError, match=r"instances\[0\]: dataset:.*nope.csv: file not found"):
        load_config(folder / "c.toml")


def test_allow_code_key_and_a_copy_that_cannot_grant(tmp_path, monkeypatch):
    (tmp_path / "gen_here.py").write_text(
        "import solverhub as sh\n"
        "def make(seed: int = 0):\n"
        "    return sh.load_problem(f'generate:set_cover?rows=20&cols=30&seed={seed}')\n")
    monkeypatch.chdir(tmp_path)
    body = 'instances = ["py:gen_here:make?seed=2"]\n[solvers.h]\nkind = "highs"\n'
    with pytest.raises(BadInputError, match=r"instances\[0\]: .*module 'gen_here'.*allow_code"):
        parse_config(body)
    assert "gen_here" not in sys.modules  # validation imported nothing before consent
    for value in ('true', '["gen_here"]'):
        cfg = parse_config(f"allow_code = {value}\n" + body)
        assert cfg.allow_code in (True, ["gen_here"])
    with pytest.raises(BadInputError, match="module 'gen_here'"):
        parse_config('allow_code = ["other"]\n' + body)
    # a run folder's copy of a config (--resume) does not grant consent by itself
    with pytest.raises(BadInputError, match="module 'gen_here'"):
        parse_config("allow_code = true\n" + body, grant_code=False)
    with pytest.raises(BadInputError, match="allow_code"):
        parse_config('allow_code = "yes"\n' + body)


def test_path_parameters_of_a_loader_resolve_against_the_config_folder(tmp_path, monkeypatch):
    import solverhub as sh

    class Params(sh.LoaderParams):
        weights: Path | None = None
        scale: float = 1.0

    class Plugin:
        @sh.hookimpl
        def solverhub_loaders(self):
            return [sh.LoaderSpec("weighted", lambda target, params: None, schemes=("weighted",),
                                  params=Params)]

    pm = sh.get_plugin_manager()
    pm.register_plugin(Plugin(), name="weighted-test")
    try:
        (tmp_path / "w.txt").write_text("1\n")
        monkeypatch.chdir("/")
        cfg = parse_config({"instances": ["weighted:x?weights=w.txt&scale=2", "weighted:y?scale=3"],
                            "solvers": {"h": {"kind": "highs"}}}, base_dir=tmp_path,
                           check_solvers=False)
        assert cfg.instances == [f"weighted:x?weights={(tmp_path / 'w.txt').resolve()}&scale=2",
                                 "weighted:y?scale=3"]
    finally:
        pm.unregister_plugin("weighted-test")
