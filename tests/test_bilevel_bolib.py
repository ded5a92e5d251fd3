"""What lv-hba and bilevel-penalty reach on each curated BOLIB problem (the table of
docs/bilevel.md, produced by `python benchmarks/bench_bilevel.py --table`), and the kernels
against their NumPy references."""

from __future__ import annotations

import importlib.util
import math
import pathlib

import numpy as np
import pytest

import solverhub as sh
from solverhub.plugins.bilevel.bolib import PROBLEMS, load_bolib
from solverhub.plugins.bilevel.lvhba import LVHBA
from solverhub.plugins.bilevel.sets import _kernel, dykstra_polyhedron, project_simplex

_spec = importlib.util.spec_from_file_location(
    "bench_bilevel", pathlib.Path(__file__).parents[1] / "benchmarks" / "bench_bilevel.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

NA = "not applicable"
#: name -> (lv-hba with its defaults (the robust preset), lv-hba preset="paper" (the issue-11
#: table), bilevel-penalty with its defaults); see bench.classify
EXPECTED = {
    "AiyoshiShimizu1984Ex2": ("solved", "inexact", NA),
    "AllendeStill2013": (NA, NA, NA),
    "Bard1988Ex1": ("solved", "solved", "inexact"),
    "Bard1988Ex2": ("solved", "solved", "local"),
    "Bard1991Ex1": ("solved", "solved", "solved"),
    "BardBook1998": ("local", "local", "solved"),
    "CalamaiVicente1994a": ("solved", "solved", "solved"),
    "CalamaiVicente1994b": ("solved", "local", "diverged"),
    "ClarkWesterberg1990a": ("solved", "solved", "solved"),
    "Colson2002BIPA2": ("solved", "solved", "inexact"),
    "DeSilva1978": ("solved", "inexact", "solved"),
    "Dempe1992b": (NA, NA, NA),
    "DempeDutta2012Ex24": (NA, NA, NA),
    "DempeEtal2012": ("solved", "local", "solved"),
    "DempeFranke2011Ex41": ("solved", "solved", "local"),
    "DempeFranke2011Ex42": ("local", "inexact", "local"),
    "DempeFranke2014Ex38": ("solved", "inexact", "solved"),
    "DempeLohse2011Ex31a": ("solved", "inexact", "local"),
    "FalkLiu1995": ("below published", "inexact", "inexact"),
    "FloudasEtal2013": ("local", "local", "local"),
    "GumusFloudas2001Ex4": ("solved", "inexact", NA),
    "HendersonQuandt1958": ("solved", "inexact", "solved"),
    "LamparielloSagratella2017Ex31": ("solved", "solved", "solved"),
    "LamparielloSagratella2017Ex32": ("solved", "inexact", "solved"),
    "LamparielloSagratella2017Ex35": ("local", "local", "solved"),
    "LucchettiEtal1987": ("solved", "solved", "solved"),
    "MacalHurter1997": ("solved", "solved", "diverged"),
    "MorganPatrone2006a": ("solved", "inexact", "local"),
    "SahinCiric1998Ex2": ("solved", "solved", "solved"),
    "ShimizuAiyoshi1981Ex1": ("solved", "inexact", NA),
    "ShimizuAiyoshi1981Ex2": ("solved", "inexact", "solved"),
    "ShimizuEtal1997b": ("solved", "local", NA),
    "TuyEtal2007": ("solved", "solved", NA),
    "YeZhu2010Ex42": ("solved", "inexact", "solved"),
    "Yezza1996Ex41": ("solved", "inexact", "solved"),
}
#: quick ones run by default, the rest with -m slow
FAST = {"Bard1988Ex1", "Bard1991Ex1", "ClarkWesterberg1990a", "LucchettiEtal1987", "TuyEtal2007",
        "Dempe1992b", "AllendeStill2013", "DempeFranke2014Ex38", "LamparielloSagratella2017Ex31",
        "MacalHurter1997"}


def test_curated_set_size_and_references():
    assert len(PROBLEMS) >= 25 and set(EXPECTED) == set(PROBLEMS)
    for name in PROBLEMS:
        p = load_bolib(f"bolib:{name}", {})
        assert p.reference_objective is not None and math.isfinite(p.reference_objective)
        assert p.source == f"bolib:{name}"
        if p.reference_solution is not None:       # a published solution has the published F*
            x, y = p.split(p.reference_solution)
            assert abs(p.F(x, y) - p.reference_objective) <= 1e-6 * max(1, abs(p.reference_objective))
            assert p.constraint_violation(x, y) <= 1e-9


def _outcome(name: str, solver: str, **options) -> str:
    try:
        res = sh.solve(f"bolib:{name}", solver=solver, **options)
    except sh.BadInputError:
        return NA
    return bench.classify(res, None)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_lvhba_default_outcomes(name):
    # the robust preset: each run stops within a second
    assert _outcome(name, "lv-hba") == EXPECTED[name][0]


@pytest.mark.parametrize("name", [pytest.param(n, marks=() if n in FAST else pytest.mark.slow)
                                  for n in sorted(EXPECTED)])
def test_bolib_outcomes(name):
    got = (_outcome(name, "lv-hba", preset="paper"), _outcome(name, "bilevel-penalty"))
    assert got == EXPECTED[name][1:]


# ------------------------------------------------------------------ kernels against references
def test_bilevel_kernel_is_compiled_when_the_others_are():
    import solverhub.cython_ext as ce

    if not ce.COMPILED:
        pytest.skip(f"compiled kernels not in use: {ce.IMPORT_ERROR}")
    assert _kernel() is not None, "solverhub.cython_ext._bilevel did not build (pip install -e .)"


def test_dykstra_kernel_matches_reference():
    kern = _kernel()
    if kern is None:
        pytest.skip("compiled kernel not built")
    rng = np.random.default_rng(3)
    for m, n in ((3, 2), (15, 6)):
        A = rng.standard_normal((m, n))
        b = rng.random(m)
        eq = np.zeros(m, dtype=bool)
        eq[0] = True
        lo, up = -np.ones(n), 2 * np.ones(n)
        for _ in range(5):
            p = 3 * rng.standard_normal(n)
            zr, sr = dykstra_polyhedron(p, A, b, eq, lo, up)
            zk, sk = kern.dykstra_polyhedron(p, A, b, eq.astype(np.uint8), lo, up, 20000, 1e-13)
            assert np.allclose(zr, zk, atol=1e-10) and sr == sk
            # the result is in the set and optimal: <p - z, w - z> <= 0 for set points w
            assert np.all(A[1:] @ zr <= b[1:] + 1e-7) and abs(A[0] @ zr - b[0]) <= 1e-7


def test_projections_onto_simple_sets():
    p = np.array([0.9, 0.5, -0.2])
    s = project_simplex(p)
    assert abs(s.sum() - 1) <= 1e-12 and np.all(s >= 0)
    assert np.allclose(s, [0.7, 0.3, 0.0])
    from solverhub.plugins.bilevel import Ball

    assert np.allclose(Ball(np.zeros(2), 1.0).project(np.array([3.0, 4.0])), [0.6, 0.8])


@pytest.mark.parametrize("addr", ["bolib:LVHBAToy?n=7", "bolib:BiCGAFFAToy?n=3",
                                  "bolib:ClarkWesterberg1990a", "bolib:Bard1988Ex2"])
def test_compiled_loops_match_numpy_path(addr):
    if _kernel() is None:
        pytest.skip("compiled kernel not built")
    P = load_bolib(addr, {})
    # the paper preset: the iterations themselves (the polish may pick another point of a
    # non-unique optimal face, Bard1988Ex2)
    a = LVHBA(max_iterations=3000, preset="paper").solve(P)
    b = LVHBA(max_iterations=3000, preset="paper", kernel="numpy").solve(P)
    assert a.info["kernel"].startswith("compiled") and b.info["kernel"] == "numpy"
    assert a.iterations == b.iterations and a.status == b.status
    assert np.allclose(a.x, b.x, rtol=0, atol=1e-9)
