"""Conformance checks for plugin authors, in the spirit of scikit-learn's estimator checks.

    from solverhub.testing import check_plugin, check_solver, solver_checks, plugin_checks

    check_plugin("my_package.solverhub_plugin")          # raises AssertionError listing failures
    check_solver("my-solver")                            # every solver check, on the instances
                                                         # its problem kind's protocol provides

    @pytest.mark.parametrize("check", solver_checks("my-solver"), ids=str)
    def test_my_solver(check):
        check()

Checks are named (``"highs:time_limit"``), run lazily (safe at collection time) and skip
themselves under pytest when they do not apply (e.g. the kind's protocol provides no infeasible
instance). See docs/testing.md.
"""

from solverhub.testing.checks import (
    PLUGIN_CHECKS,
    SOLVER_CHECKS,
    Check,
    CheckSkipped,
    RecordingNotifier,
    check_options_model,
    check_plugin,
    check_result,
    check_solver,
    machine_slowdown,
    plugin_checks,
    solver_checks,
)
from solverhub.testing.instances import brute_force_optimum, hard_mip, infeasible_mip, tiny_mip_instances

__all__ = [
    "Check", "CheckSkipped", "RecordingNotifier", "SOLVER_CHECKS", "PLUGIN_CHECKS",
    "solver_checks", "plugin_checks", "check_solver", "check_plugin", "check_options_model",
    "check_result", "machine_slowdown", "tiny_mip_instances", "infeasible_mip", "hard_mip", "brute_force_optimum",
]
