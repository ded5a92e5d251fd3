"""Repair operators: the reference has one, ``sub_mip`` (solve the restricted sub-MIP)."""

from __future__ import annotations

from solverhub.core.records import MetaComponent
from solverhub.plugins.balans.repair.sub_mip import SubMIP

__all__ = ["SubMIP", "components"]


def components() -> list[MetaComponent]:
    return [MetaComponent("sub_mip", "repair", lambda **kw: SubMIP(**kw),
                          {"warm_start": True, "cutoff": True},
                          "solve the neighbourhood's sub-MIP with the backend, warm-started from the "
                          "current solution")]
