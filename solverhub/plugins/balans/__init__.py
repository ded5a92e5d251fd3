"""Balans (Cai, Kadioglu, Dilkina, IJCAI 2025): bandit-based adaptive large-neighbourhood search for
MIP over any registered MIP backend (docs/balans.md).

This module is the plugin object: its hook implementations register the ``balans`` solver and every
meta-search component (destroy and repair operators, bandit policies, acceptance criteria, stopping
rules) as :class:`~solverhub.core.records.MetaComponent` records. The solver builds its arms only by
looking names up in those registries, so components of other plugins are usable by name.
"""

from __future__ import annotations

from solverhub.core.hookspecs import hookimpl
from solverhub.core.records import SolverSpec


@hookimpl
def solverhub_solvers():
    return [SolverSpec("balans", "mip", "solverhub.plugins.balans.solver:BalansSolver",
                       "solverhub.plugins.balans.options:BalansOptions",
                       "Balans: multi-armed-bandit adaptive large-neighbourhood search over a MIP "
                       "backend (IJCAI 2025)")]


@hookimpl
def solverhub_destroy_operators():
    from solverhub.plugins.balans.destroy import components

    return components()


@hookimpl
def solverhub_repair_operators():
    from solverhub.plugins.balans.repair import components

    return components()


@hookimpl
def solverhub_bandit_policies():
    from solverhub.plugins.balans.select import components

    return components()


@hookimpl
def solverhub_acceptance_criteria():
    from solverhub.plugins.balans.accept import components

    return components()


@hookimpl
def solverhub_stopping_rules():
    from solverhub.plugins.balans.stop import components

    return components()
