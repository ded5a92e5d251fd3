"""solverhub-knapsack: an example third-party solverhub plugin.

The module itself is the plugin object (entry point ``knapsack = "solverhub_knapsack"`` in group
``solverhub``); it implements one or more hooks of each of the three families:

* modeling:    problem kind ``knapsack`` (with its protocol: exact check, metrics ``dantzig_gap``
               and ``capacity_used``), a ``LoaderSpec`` for ``knapsack:PATH``, converter knapsack -> mip
               with its inverse (MIP results come back as knapsack results);
* solving:     solver ``knapsack-dp`` (exact dynamic programming);
* meta-search: destroy operator ``knapsack_ratio_destroy`` that Balans (or any LNS) can pick.

Solvers and operators are registered by dotted path (``"package.module:attr"``): their modules
are imported when first used, so loading the plugin stays cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import solverhub as sh

from solverhub_knapsack.problem import KnapsackProblem, from_mip, read_knapsack, to_mip

__all__ = ["KnapsackProblem", "read_knapsack", "to_mip", "from_mip", "SCHEME"]
__version__ = "0.1.0"

SCHEME = "knapsack"


# ---------------------------------------------------------------- modeling
@sh.hookimpl
def solverhub_problem_kinds() -> list:
    from solverhub_knapsack.kind import KnapsackKind

    return [sh.ProblemKind("knapsack", KnapsackProblem,
                           "0/1 knapsack: values, integer-or-real weights, one capacity (maximise)",
                           protocol=KnapsackKind())]


def _load(path: str, params: sh.NoParams) -> KnapsackProblem:
    """``knapsack:PATH``: the host has parsed the address, refused parameters (there are none)
    and made PATH absolute where it came from a run config."""
    if not path:
        raise sh.BadInputError("knapsack:: expected knapsack:PATH")
    return read_knapsack(Path(path))


_SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample.txt"


@sh.hookimpl
def solverhub_loaders() -> list:
    return [sh.LoaderSpec("knapsack-files", _load, schemes=(SCHEME,), kind="knapsack",
                          params=sh.NoParams, target_is_path=True,
                          examples=(f"{SCHEME}:{_SAMPLE}",) if _SAMPLE.exists() else (),
                          description="knapsack:PATH, a text file (n capacity, then value weight "
                                      "lines)")]


@sh.hookimpl
def solverhub_converters() -> list:
    # invert: a MIP solver's result comes back as a knapsack result (one entry per item), checked
    # and measured by the knapsack kind
    return [sh.Converter("knapsack-to-mip", "knapsack", "mip", to_mip, invert=from_mip)]


# ---------------------------------------------------------------- solving
@sh.hookimpl
def solverhub_solvers() -> list:
    # by dotted path: the solver module is imported when the solver is first used
    return [sh.SolverSpec("knapsack-dp", "knapsack", "solverhub_knapsack.dp:KnapsackDP",
                          "solverhub_knapsack.dp:KnapsackDPOptions",
                          "exact dynamic programming over the capacity (integer weights)")]


# ---------------------------------------------------------------- meta-search
@sh.hookimpl
def solverhub_destroy_operators() -> list:
    return [sh.MetaComponent("knapsack_ratio_destroy", "destroy",
                             "solverhub_knapsack.destroy:RatioDestroy",
                             {"rate": 0.2, "random_share": 0.5},
                             "free the integer columns whose value disagrees most with their "
                             "objective-per-row-usage ratio, plus random ones")]
