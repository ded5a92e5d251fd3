"""``plot_arm_pulls(result)``: stacked bars of each arm's pulls by outcome (best, better, accept,
reject) from ``result.info["arms"]``; returns the matplotlib axes."""

from __future__ import annotations

from typing import Any

from solverhub.core.metasearch import Outcome

COLOURS = {"best": "#2ca02c", "better": "#98df8a", "accept": "#1f77b4", "reject": "#d3d3d3"}


def plot_arm_pulls(result: Any, ax: Any = None):
    import matplotlib

    if ax is None:
        matplotlib.use(matplotlib.get_backend())
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(8, 4))
    arms = list(result.info.get("arms", []))
    names = [a["name"] for a in arms]
    bottom = [0] * len(arms)
    for outcome in Outcome.NAMES:
        vals = [a.get(outcome, 0) for a in arms]
        ax.bar(names, vals, bottom=bottom, label=outcome, color=COLOURS[outcome])
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax.set_ylabel("pulls")
    ax.set_title(f"Balans arms ({getattr(result, 'instance', '') or 'run'}, "
                 f"{result.info.get('iterations', 0)} iterations)")
    ax.tick_params(axis="x", labelrotation=60)
    ax.legend()
    return ax
