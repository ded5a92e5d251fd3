"""One rule for time limits in the API, the CLI and run configs; `--set` values that are meant as
JSON but do not parse are errors saying so (issue 7: plugins and options)."""

from __future__ import annotations

import json
import math

import pytest

import solverhub as sh
from solverhub.core.cli import main, parse_set_values
from solverhub.core.config import parse_config
from solverhub.core.errors import BadInputError
from solverhub.core.timing import check_time_limit

SMALL = "generate:set_cover?rows=30&cols=60&density=0.1&seed=1"

ACCEPTED = [(30, 30.0), (2.5, 2.5), (1e10, 1e10), (math.inf, math.inf), (None, None)]
REFUSED = [True, False, "2", "inf", math.nan, 0, 0.0, -1, -math.inf, [1]]


@pytest.mark.parametrize("value,expected", ACCEPTED)
def test_check_time_limit_accepts(value, expected):
    assert check_time_limit(value) == expected


@pytest.mark.parametrize("value", REFUSED)
def test_api_and_config_refuse_the_same_values(value):
    with pytest.raises(BadInputError, match="time_limit must be a positive number of seconds"):
        sh.solve(SMALL, solver="highs", time_limit=value)
    with pytest.raises(BadInputError, match="time_limit"):
        parse_config({"name": "t", "instances": [SMALL], "time_limit": value,
                      "solvers": {"h": {"kind": "highs"}}})


@pytest.mark.parametrize("value,expected", [(30, 30.0), (math.inf, math.inf)])
def test_config_accepts_numbers_and_inf(value, expected):
    cfg = parse_config({"name": "t", "instances": [SMALL], "time_limit": value,
                        "solvers": {"h": {"kind": "highs"}}})
    assert cfg.time_limit == expected


def test_config_toml_string_is_refused_with_its_location():
    text = f'name = "t"\ninstances = ["{SMALL}"]\ntime_limit = "2"\n[solvers.h]\nkind = "highs"\n'
    with pytest.raises(BadInputError, match=r"time_limit.*got '2'"):
        parse_config(text)


@pytest.mark.parametrize("text,ok", [("30", True), ("inf", True), ("1e10", True), ("abc", False),
                                     ("0", False), ("-5", False), ("nan", False)])
def test_cli_time_limit_same_rule(text, ok, capsys):
    rc = main(["solve", SMALL, "--solver", "highs", "--time-limit", text, "--json"])
    out = capsys.readouterr()
    if ok:
        assert rc == 0, out.err
        assert json.loads(out.out)["status"] == "optimal"
    else:
        assert rc == 2
        assert "time limit" in out.err and "Traceback" not in out.err


@pytest.mark.parametrize("limit", [1e10, math.inf])
@pytest.mark.parametrize("solver", ["balans", "highs", "ortools-scip"])
def test_huge_and_infinite_limits_solve_without_a_thread_traceback(solver, limit, recwarn):
    import threading

    seen: list[BaseException] = []
    old = threading.excepthook
    threading.excepthook = lambda args: seen.append(args.exc_value)
    try:
        res = sh.solve(SMALL, solver=solver, time_limit=limit)
    finally:
        threading.excepthook = old
    assert res.status == "optimal", res.error
    assert not seen, f"an exception in a thread: {seen!r}"


def test_set_malformed_json_says_so_and_where():
    with pytest.raises(BadInputError, match=r"--set destroy: the value is not valid JSON: "
                                            r"Expecting ',' delimiter at column 16"):
        parse_set_values(['destroy=["mutation_50" "rins_25"]'])
    with pytest.raises(BadInputError, match="not valid JSON"):
        parse_set_values(['policy_params={"tau": }'])


def test_set_values_still_parse_toml_json_and_bare_strings():
    got = parse_set_values(["a=3", "b=0.5", "c=true", 'd=["x", "y"]', "e=softmax",
                            'f={"tau": 2}', "g.h=1"])
    assert got == {"a": 3, "b": 0.5, "c": True, "d": ["x", "y"], "e": "softmax",
                   "f": {"tau": 2}, "g": {"h": 1}}


def test_cli_set_malformed_json_exit_2(capsys):
    rc = main(["solve", SMALL, "--solver", "balans", "--set", 'destroy=["mutation_50", "rins_25"'])
    err = capsys.readouterr().err
    assert rc == 2 and "not valid JSON" in err
