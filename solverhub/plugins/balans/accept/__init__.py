"""Acceptance criteria: ``criterion(rng, best, current, candidate) -> bool`` (minimised objectives).
Criteria with a schedule also have ``step()``, which the loop calls on iterations without a
candidate so that schedules advance once per iteration."""

from __future__ import annotations

from solverhub.core.records import MetaComponent
from solverhub.plugins.balans.accept.always_accept import AlwaysAccept
from solverhub.plugins.balans.accept.great_deluge import GreatDeluge
from solverhub.plugins.balans.accept.hill_climbing import HillClimbing
from solverhub.plugins.balans.accept.late_acceptance import LateAcceptanceHillClimbing
from solverhub.plugins.balans.accept.record_to_record import RecordToRecordTravel
from solverhub.plugins.balans.accept.simulated_annealing import SimulatedAnnealing

__all__ = ["HillClimbing", "SimulatedAnnealing", "RecordToRecordTravel", "GreatDeluge",
           "LateAcceptanceHillClimbing", "AlwaysAccept", "components"]


def components() -> list[MetaComponent]:
    return [
        MetaComponent("hill_climbing", "acceptance", HillClimbing, {},
                      "accept candidates not worse than the current solution"),
        MetaComponent("simulated_annealing", "acceptance", SimulatedAnnealing,
                      {"start_temperature": 20.0, "end_temperature": 1.0, "step": 0.1, "method": "linear"},
                      "accept worse candidates with probability exp(-delta / T), T decays per iteration"),
        MetaComponent("record_to_record_travel", "acceptance", RecordToRecordTravel,
                      {"start_threshold": 0.02, "end_threshold": 0.0, "step": 0.001, "method": "linear",
                       "relative": True},
                      "accept candidates within a shrinking threshold of the best"),
        MetaComponent("great_deluge", "acceptance", GreatDeluge, {"alpha": 0.01, "beta": 0.05},
                      "accept candidates below a falling water level"),
        MetaComponent("late_acceptance_hill_climbing", "acceptance", LateAcceptanceHillClimbing,
                      {"history_length": 10},
                      "accept candidates not worse than the current solution of L iterations ago"),
        MetaComponent("always_accept", "acceptance", AlwaysAccept, {}, "accept every candidate"),
    ]
