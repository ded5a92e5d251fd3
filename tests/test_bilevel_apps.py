"""The data hyper-cleaning application (examples/bilevel_hypercleaning.py): both bilevel solvers
find sample weights that beat training on the corrupted labels (40 % flipped)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import solverhub as sh

sys.path.insert(0, str(Path(__file__).parents[1]))
from examples.bilevel_hypercleaning import _sig, accuracy, make_problem


@pytest.mark.parametrize("solver,opts", [
    ("lv-hba", {"alpha": 0.1, "max_iterations": 1500}),
    ("bilevel-penalty", {"variant": "single-loop", "alpha": 0.1, "inner_step": 0.1, "sigma": 0.05,
                         "max_iterations": 1500}),
])
def test_hypercleaning_beats_no_cleaning(solver, opts):
    P = make_problem(seed=0)
    Zte, yte = P.test_set
    start = sh.solve(P, solver=solver, **{**opts, "max_iterations": 1})   # ~ uniform weights
    res = sh.solve(P, solver=solver, **opts)
    assert res.status != "error", res.error
    w = res.x[P.nx:]
    acc = accuracy(w, Zte, yte)
    dropped = np.flatnonzero(_sig(P.kappa * res.x[:P.nx]) < 0.5)
    caught = len(set(dropped.tolist()) & set(P.flipped.tolist()))
    assert caught >= 0.6 * len(P.flipped) and len(dropped) - caught <= 0.1 * len(P.flipped)
    assert acc >= 0.9 and acc >= accuracy(start.x[P.nx:], Zte, yte)
    assert res.metrics["constraint_violation"] == 0.0
