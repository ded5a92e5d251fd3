"""Pyomo's own solver-interface suite for solverhub's solvers beside Pyomo's ``highs``: a table.

Runs ``tests/test_pyomo_suite.py`` (Pyomo's unmodified test functions from
``pyomo.contrib.solver.tests.solvers.test_solvers``, for every test a linear MIP solver gets) with
pytest, then prints, per solver, how many tests passed, failed and were skipped, and every test
that passes for Pyomo's ``highs`` but not for a solverhub solver (exit status 1 if there is one).

    python benchmarks/pyomo_suite.py            # the table (a few seconds)
    python benchmarks/pyomo_suite.py -v         # also one line per test and solver
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

import pytest

SUITE = Path(__file__).resolve().parents[1] / "tests" / "test_pyomo_suite.py"
REFERENCE = "highs"


class _Outcomes:
    """pytest plugin: (test, solver) -> passed / failed / skipped, from the generated names
    ``<Class>::<test>__<solver>`` (the solver's Pyomo name with ``_`` for ``-``, which is
    registered too)."""

    def __init__(self) -> None:
        self.outcome: dict[tuple[str, str], str] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        cls_test = report.nodeid.split("::", 1)[-1]
        if "__" not in cls_test:
            return
        test, solver = cls_test.rsplit("__", 1)
        key = (test, solver)
        if report.when == "call" or report.outcome != "passed":
            # a failure in setup/teardown or a skip counts; a passed setup does not decide
            if self.outcome.get(key) not in ("failed",):
                self.outcome[key] = report.outcome


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-v", "--verbose", action="store_true", help="one line per test and solver")
    args = ap.parse_args(argv)

    plugin = _Outcomes()
    pytest.main([str(SUITE), "-q", "-m", "", "-p", "no:cacheprovider", "--no-header",
                 "-o", "addopts="], plugins=[plugin])
    by_solver: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for (_, solver), outcome in plugin.outcome.items():
        by_solver[solver][outcome] += 1
    solvers = sorted(by_solver, key=lambda s: (s != REFERENCE, s))

    print()
    print("| solver | passed | failed | skipped |")
    print("|---|---|---|---|")
    for s in solvers:
        c = by_solver[s]
        print(f"| {s} | {c['passed']} | {c['failed']} | {c['skipped']} |")

    tests = sorted({t for t, _ in plugin.outcome})
    if args.verbose:
        print()
        for t in tests:
            print(t + ": " + ", ".join(f"{s} {plugin.outcome.get((t, s), '-')}" for s in solvers))
    regressions = [(t, s) for t in tests for s in solvers if s != REFERENCE
                   and plugin.outcome.get((t, REFERENCE)) == "passed"
                   and plugin.outcome.get((t, s)) != "passed"]
    print()
    if regressions:
        print("passes for highs, not for:")
        for t, s in regressions:
            print(f"  {t}: {s} {plugin.outcome.get((t, s), 'missing')}")
        return 1
    print(f"every test that passes for {REFERENCE} passes for every solverhub solver")
    return 0


if __name__ == "__main__":
    sys.exit(main())
