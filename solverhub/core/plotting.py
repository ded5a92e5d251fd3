"""Plots: one result's trajectory (:meth:`Result.plot`) and a run folder's figures.

Run-folder figures are drawn on ``matplotlib.figure.Figure`` objects (no pyplot, no global backend
state) and saved atomically:

* ``primal_gap.png``: per instance, the primal gap over time of each solver (geometric mean over
  seeds, on a log scale), to the reference value where one is known, else to the best objective any
  task of the run found;
* ``performance_profile.png``: Dolan-More performance profiles over solvers (time to the optimal
  value, primal integral);
* ``objective.png``: per instance, every task's incumbent objective over time;
* ``history_<kind>_<column>.png``: for kinds without a primal gap, a column of the iteration
  history (objective, residuals ...) over iterations, one line per task.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from solverhub.core.result import primal_gap

__all__ = ["plot_trajectory", "gap_curve", "plot_primal_gap", "plot_objectives", "plot_history",
           "save_figure", "performance_profile", "plot_performance_profiles", "GAP_FLOOR_PERCENT"]

#: primal-gap plots use a log scale; a gap of 0 (the optimal value) is drawn at this many percent
GAP_FLOOR_PERCENT = 1e-4


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def plot_trajectory(result: Any, ax: Any = None, reference: float | None = None, *,
                    label: str | None = None, **line_kw: Any) -> Any:
    """Plot a result's incumbent objective over time as a step line (and its dual bound where the
    solver tracked one in ``info["bound_trajectory"]``); ``reference`` adds a dashed line at a
    known optimum. ``result`` is a :class:`~solverhub.core.result.Result` or a result record
    (dict). Returns the matplotlib axes."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 4))
    traj = [(float(t), float(v)) for t, v in (_get(result, "trajectory") or [])
            if v is not None and math.isfinite(float(v))]
    runtime = float(_get(result, "runtime") or 0.0)
    name = label or _get(result, "solver") or "incumbent"
    if traj:
        ts = [t for t, _ in traj] + [max(runtime, traj[-1][0])]
        vs = [v for _, v in traj] + [traj[-1][1]]
        ax.step(ts, vs, where="post", label=str(name), **line_kw)
    else:
        ax.plot([], [], label=f"{name} (no incumbent)", **line_kw)
    info = _get(result, "info") or {}
    btraj = info.get("bound_trajectory") if isinstance(info, Mapping) else None
    if btraj:
        bt = [(float(t), float(b)) for t, b in btraj if b is not None and math.isfinite(float(b))]
        if bt:
            ax.step([t for t, _ in bt] + [max(runtime, bt[-1][0])], [b for _, b in bt] + [bt[-1][1]],
                    where="post", linestyle=":", label=f"{name} bound")
    if reference is None:
        ref = info.get("reference_objective") if isinstance(info, Mapping) else None
        reference = ref if isinstance(ref, (int, float)) else None
    if reference is not None and math.isfinite(reference):
        ax.axhline(reference, color="grey", linestyle="--", linewidth=1, label="reference")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("objective")
    title = _get(result, "instance")
    if title:
        ax.set_title(_short(str(title)), fontsize=9)
    ax.legend(fontsize=8)
    return ax


def gap_curve(trajectory: Sequence[Sequence[float]], reference: float,
              grid: np.ndarray) -> np.ndarray:
    """Primal gap (0..1) at each time of ``grid`` for a (time, incumbent) trajectory."""
    out = np.ones_like(grid, dtype=float)
    for t, v in sorted((float(a), b) for a, b in trajectory if b is not None):
        out[grid >= t] = primal_gap(float(v), reference)
    return out


def with_final(rec: Mapping[str, Any]) -> list[Any]:
    """A record's trajectory, ending with its final objective at its runtime when the solver
    reported no incumbent times (or not the last one), so that the answer shows in the plot."""
    traj = [list(p) for p in (rec.get("trajectory") or [])]
    obj = rec.get("objective")
    if isinstance(obj, (int, float)) and math.isfinite(obj) and (not traj or traj[-1][1] != obj):
        traj.append([float(rec.get("runtime") or (traj[-1][0] if traj else 0.0)), float(obj)])
    return traj


def _short(s: str, n: int = 48) -> str:
    name = os.path.basename(s) if os.sep in s and ":" not in s.split(os.sep)[0] else s
    return name if len(name) <= n else name[: n - 1] + "\u2026"


def _grid(n: int) -> tuple[int, int]:
    cols = min(3, max(1, n))
    rows = math.ceil(n / cols)
    return rows, cols


def _new_figure(n_panels: int):
    from matplotlib.figure import Figure

    rows, cols = _grid(n_panels)
    fig = Figure(figsize=(5.2 * cols, 3.6 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.ravel()[n_panels:]:
        ax.set_visible(False)
    return fig, axes.ravel()


def save_figure(fig: Any, path: str | Path, dpi: int = 110) -> None:
    """Save as PNG atomically (temporary file + os.replace)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    fig.savefig(tmp, format="png", dpi=dpi)
    os.replace(tmp, path)


def _colors(labels: Iterable[str]) -> dict[str, Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return {lab: cmap(i % 10) for i, lab in enumerate(labels)}


def plot_primal_gap(groups: Mapping[str, Mapping[str, list[dict]]], references: Mapping[str, float],
                    path: str | Path, *, reference_kind: Mapping[str, str] | None = None) -> Path | None:
    """``groups[instance][solver label]`` = records; ``references[instance]`` = the value the gap is
    measured to. Draws the mean primal gap over seeds per solver; returns the path written."""
    insts = [i for i in groups if i in references]
    if not insts:
        return None
    labels = sorted({s for i in insts for s in groups[i]})
    colors = _colors(labels)
    fig, axes = _new_figure(len(insts))
    for ax, inst in zip(axes, insts):
        ref = references[inst]
        recs_all = [r for s in groups[inst] for r in groups[inst][s]]
        horizon = max([float(r.get("time_limit") or 0) for r in recs_all]
                      + [float(r.get("runtime") or 0) for r in recs_all] + [1e-3])
        # log time too: the first incumbents come in milliseconds, the improvements that decide
        # a comparison late; the axis starts just before the earliest incumbent
        firsts = [float(r["trajectory"][0][0]) for r in recs_all if r.get("trajectory")]
        t_min = min(max(min([t for t in firsts if t > 0], default=horizon / 1e3) / 2, 1e-4),
                    horizon / 10)
        grid = np.geomspace(t_min, horizon, 400)
        for lab in groups[inst]:
            curves = [gap_curve(with_final(r), ref, grid) for r in groups[inst][lab]
                      if r.get("status") != "error"]
            if not curves:
                continue
            # log scale: small late differences stay visible and the first incumbent's large gap
            # does not squash the rest; a gap of 0 is drawn at the floor
            pct = np.clip(100.0 * np.asarray(curves), GAP_FLOOR_PERCENT, None)
            ax.step(grid, np.exp(np.mean(np.log(pct), axis=0)), where="post", color=colors[lab],
                    label=f"{lab} ({len(curves)} seed{'s' if len(curves) != 1 else ''})")
            if len(curves) > 1:
                ax.fill_between(grid, pct.min(axis=0), pct.max(axis=0), step="post",
                                color=colors[lab], alpha=0.15, linewidth=0)
        what = (reference_kind or {}).get(inst, "reference")
        ax.set_title(f"{_short(inst)}\n(gap to {what} {ref:.6g})", fontsize=9)
        ax.set_xscale("log")
        ax.set_xlim(t_min, horizon)
        ax.set_xlabel("time (s, log)")
        ax.set_ylabel(f"primal gap (%, log; {GAP_FLOOR_PERCENT:g} = optimal)")
        ax.set_yscale("log")
        ax.set_ylim(GAP_FLOOR_PERCENT / 2, 200)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.suptitle("Primal gap over time (geometric mean over seeds, band: min-max)", fontsize=10)
    save_figure(fig, path)
    return Path(path)


def plot_objectives(groups: Mapping[str, Mapping[str, list[dict]]], path: str | Path,
                    references: Mapping[str, float] | None = None) -> Path | None:
    """Every task's incumbent objective over time, one panel per instance, one colour per solver."""
    insts = list(groups)
    if not insts:
        return None
    labels = sorted({s for i in insts for s in groups[i]})
    colors = _colors(labels)
    fig, axes = _new_figure(len(insts))
    for ax, inst in zip(axes, insts):
        for lab in groups[inst]:
            first = True
            for r in groups[inst][lab]:
                traj = [(float(t), float(v)) for t, v in (r.get("trajectory") or []) if v is not None]
                if not traj:
                    continue
                end = max(float(r.get("runtime") or 0.0), traj[-1][0])
                ax.step([t for t, _ in traj] + [end], [v for _, v in traj] + [traj[-1][1]],
                        where="post", color=colors[lab], alpha=0.85,
                        label=lab if first else None)
                first = False
        ref = (references or {}).get(inst)
        if ref is not None:
            ax.axhline(ref, color="grey", linestyle="--", linewidth=1, label="reference")
        ax.set_title(_short(inst), fontsize=9)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("incumbent objective")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.suptitle("Incumbent objective over time (one line per seed)", fontsize=10)
    save_figure(fig, path)
    return Path(path)


def plot_history(groups: Mapping[str, Mapping[str, list[dict]]], column: str,
                 path: str | Path) -> Path | None:
    """Per instance, ``history[column]`` over iterations for every task (one colour per solver),
    on a log scale when the values are positive and span more than two decades."""
    insts = [i for i in groups if any((r.get("history") or {}).get(column)
                                      for rs in groups[i].values() for r in rs)]
    if not insts:
        return None
    labels = sorted({s for i in insts for s in groups[i]})
    colors = _colors(labels)
    fig, axes = _new_figure(len(insts))
    for ax, inst in zip(axes, insts):
        values: list[float] = []
        for lab in groups[inst]:
            first = True
            for r in groups[inst][lab]:
                hist = r.get("history") or {}
                pts = [(float(k), float(v)) for k, v in zip(hist.get("iteration") or [],
                                                            hist.get(column) or [])
                       if v is not None and math.isfinite(float(v))]
                if not pts:
                    continue
                values += [v for _, v in pts]
                ax.plot([k for k, _ in pts], [v for _, v in pts], color=colors[lab], alpha=0.85,
                        linewidth=1.2, label=lab if first else None)
                first = False
        if values and min(values) > 0 and max(values) / min(values) > 100:
            ax.set_yscale("log")
        ax.set_title(_short(inst), fontsize=9)
        ax.set_xlabel("iteration")
        ax.set_ylabel(column.replace("_", " "))
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.suptitle(f"{column.replace('_', ' ')} over iterations (one line per task)", fontsize=10)
    save_figure(fig, path)
    return Path(path)


def performance_profile(values: Mapping[str, Sequence[float]], taus: np.ndarray) -> dict[str, np.ndarray]:
    """Dolan and More's profile: ``values[solver][p]`` is the measure (lower is better, ``inf``
    for a failure) on problem ``p`` (the same problems, in the same order, for every solver);
    returns for each solver the fraction of problems whose ratio to the best solver's measure is
    at most each ``tau``. A problem no solver managed counts against every solver."""
    solvers = list(values)
    m = np.array([[float(v) for v in values[s]] for s in solvers], dtype=float)
    best = m.min(axis=0) if m.size else np.array([])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(np.isfinite(m), m / best, np.inf)
    n = m.shape[1] if m.ndim == 2 else 0
    return {s: np.array([(ratios[i] <= t).sum() / n if n else 0.0 for t in taus])
            for i, s in enumerate(solvers)}


def plot_performance_profiles(measures: Mapping[str, Mapping[str, Sequence[float]]],
                              path: str | Path) -> Path | None:
    """One panel per measure (``measures[title][solver]`` = values over the same problems):
    the fraction of problems each solver handles within a factor tau of the best, tau on a log2
    axis. Returns the path written, or None with fewer than two solvers."""
    panels = {k: v for k, v in measures.items() if len(v) >= 2 and any(len(x) for x in v.values())}
    if not panels:
        return None
    labels = sorted({s for v in panels.values() for s in v})
    colors = _colors(labels)
    fig, axes = _new_figure(len(panels))
    for ax, (title, values) in zip(axes, panels.items()):
        m = np.array([[float(x) for x in values[s]] for s in values], dtype=float)
        best = m.min(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):  # inf / inf: nobody managed it
            ratio = m / best
        finite = ratio[np.isfinite(ratio)] if np.isfinite(ratio).any() else np.array([1.0])
        top = max(2.0, float(finite.max()) * 1.5 if finite.size else 2.0)
        taus = np.geomspace(1.0, top, 300)
        prof = performance_profile(values, taus)
        for s in values:
            ax.step(taus, prof[s], where="post", color=colors[s], label=s)
        ax.set_xscale("log", base=2)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("tau (ratio to the best solver)")
        ax.set_ylabel("fraction of problems")
        ax.set_title(f"{title} ({m.shape[1]} problems)", fontsize=9)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8, loc="best")
    fig.suptitle("Performance profiles (Dolan-More): higher and further left is better", fontsize=10)
    save_figure(fig, path)
    return Path(path)
