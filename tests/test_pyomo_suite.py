"""Pyomo's own solver-interface suite (``pyomo.contrib.solver.tests.solvers.test_solvers``) run
for solverhub's solvers beside Pyomo's ``highs``.

Pyomo's module parameterizes each test function over a module-level solver list (``all_solvers``,
``mip_solvers``, ``dual_solvers``, ``qp_solvers``, ...) when its classes are defined, so the lists
cannot be patched before collection. Instead, each generated test keeps the original function
(``place_as``) and its parameters (closure ``p``): for every test function whose solver set is
exactly ``all_solvers`` or ``mip_solvers`` (the lists a linear MIP solver belongs to), this module
builds one test for Pyomo's ``highs`` (the reference) and one per solverhub solver, each calling
Pyomo's unmodified function with the arguments of the ``highs`` case and only the solver name
and class replaced. Tests over other lists (duals, reduced costs, QP/QCP/NLP, SOS, HiGHS's node
limit) do not apply to solverhub's MIP solvers and are not generated.

The legacy tests build ``pyo.SolverFactory(name + "_v2")`` (Pyomo's legacy name of a
new-interface solver); ``highs_v2`` and ``solverhub_<name>_v2`` aliases of the legacy wrappers
are registered here for them (test-only; without them they would skip for every solver).

The whole set runs in a few seconds (Balans proves optimality on these small models, so no time
limit is needed) and is part of the default suite. ``python benchmarks/pyomo_suite.py`` runs it
and prints the per-solver pass/fail/skip table of docs/pyomo.md.
"""

from __future__ import annotations

import collections
import warnings
from typing import Any, Callable

import pytest

pytest.importorskip("parameterized", reason="Pyomo's solver suite needs `parameterized`")
pyo = pytest.importorskip("pyomo.environ")

import pyomo.common.unittest as pyomo_unittest  # noqa: E402
from pyomo.contrib.solver.common.factory import SolverFactory  # noqa: E402
from pyomo.opt.base.solvers import LegacySolverFactory  # noqa: E402

import solverhub  # noqa: E402,F401  (registers the solverhub_* solvers)

with warnings.catch_warnings():
    # Pyomo's module marks each generated test `solver(<name>)`, a marker its own conftest
    # registers; solverhub does not use it
    warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)
    suite = pytest.importorskip("pyomo.contrib.solver.tests.solvers.test_solvers")

#: the reference: Pyomo's own new-interface HiGHS solver
REFERENCE = "highs"
#: solverhub solvers run through the suite (Pyomo names)
SOLVERHUB = ("solverhub_highs", "solverhub_ortools-scip", "solverhub_balans")
#: Pyomo's lists that a linear MIP solver belongs to
LISTS = ("all_solvers", "mip_solvers")


def _legacy_aliases() -> None:
    """``<name>_v2`` in the legacy factory, as Pyomo's legacy tests expect for new-interface
    solvers (Pyomo registers e.g. ``ipopt_v2``, but its ``highs`` only as ``highs``): the same
    legacy wrapper class as the plain name, for the reference and for solverhub's solvers."""
    for name in (REFERENCE, *SOLVERHUB):
        if name + "_v2" not in LegacySolverFactory:
            LegacySolverFactory.register(name + "_v2")(LegacySolverFactory.get_class(name))


def _cases(cls: type) -> dict[str, list[tuple[str, Any, tuple]]]:
    """Original test function name -> [(generated name, original function, args)] of ``cls``."""
    out: dict[str, list] = collections.defaultdict(list)
    for attr, fn in vars(cls).items():
        if not (attr.startswith("test") and callable(fn) and hasattr(fn, "place_as")):
            continue
        cells = dict(zip(fn.__code__.co_freevars, (c.cell_contents for c in fn.__closure__)))
        out[fn.place_as.__name__].append((attr, fn.place_as, tuple(cells["p"].args)))
    return out


def _list_names(list_name: str) -> list[frozenset[str]]:
    solvers = getattr(suite, list_name)
    return [frozenset(n for n, _ in solvers),
            frozenset(t[0] for t in suite._load_tests(solvers))]


def _runner(original: Callable, args: tuple) -> Callable:
    def test(self: Any) -> None:
        original(self, *args)

    return test


def _build(cls_name: str) -> type:
    """A TestCase with, per applicable test function, the reference case and the solverhub ones."""
    applicable = [s for ln in LISTS for s in _list_names(ln)]
    body: dict[str, Any] = {"__module__": __name__, "__doc__": f"Pyomo's {cls_name} (subset)"}
    for fn_name, cases in sorted(_cases(getattr(suite, cls_name)).items()):
        if frozenset(a[0] for _, _, a in cases) not in applicable:
            continue
        ref = [(orig, a) for _, orig, a in cases if a[0] == REFERENCE]
        if not ref:
            continue
        orig, args = ref[0]
        for solver in (REFERENCE, *SOLVERHUB):
            solver_cls = SolverFactory.get_class(solver)
            test = _runner(orig, (solver, solver_cls, *args[2:]))
            test.__name__ = f"{fn_name}__{solver.replace('-', '_')}"
            test.__doc__ = f"Pyomo's {cls_name}.{fn_name} for {solver}"
            body[test.__name__] = test
    return type(cls_name, (pyomo_unittest.TestCase,), body)


_legacy_aliases()
TestSolvers = _build("TestSolvers")
TestLegacySolverInterface = _build("TestLegacySolverInterface")


def test_every_solverhub_solver_gets_the_reference_tests() -> None:
    """The generator found Pyomo's tests (a Pyomo upgrade that renames things fails here)."""
    names = [n for cls in (TestSolvers, TestLegacySolverInterface) for n in vars(cls)
             if n.startswith("test")]
    ref = {n.rsplit("__", 1)[0] for n in names if n.endswith("__" + REFERENCE)}
    assert len(ref) >= 30 and {"test_no_objective", "test_load_solutions"} <= ref
    for solver in SOLVERHUB:
        mine = {n.rsplit("__", 1)[0] for n in names if n.endswith("__" + solver.replace("-", "_"))}
        assert mine == ref, solver
