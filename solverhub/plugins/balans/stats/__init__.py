"""Statistics and plots of a Balans run (one function per module)."""

from __future__ import annotations

from solverhub.plugins.balans.stats.arm_pulls import plot_arm_pulls

__all__ = ["plot_arm_pulls"]
