"""Plots: one result's trajectory (:meth:`Result.plot`) and a run folder's figures.

Run-folder figures are drawn on ``matplotlib.figure.Figure`` objects (no pyplot, no global backend
state) and saved atomically:

* ``primal_gap.png``: per instance, the primal gap over time of each solver (mean over seeds,
  min-max band), to the reference value where one is known, else to the best objective any task of
  the run found;
* ``performance_profile.png``: Dolan-More performance profiles over solvers (kinds with a primal
  gap: time to the optimal value and primal integral; other kinds: their primary metric);
* ``objective.png``: per instance, every task's incumbent objective over time (a solver that
  reports only its final answer is a marker at its runtime);
* ``history_<kind>_<column>.png``: for kinds without a primal gap, a column of the iteration
  history (objective, residuals ...) over iterations, one line per task.

Each figure takes one scale rule for all its panels (:func:`wants_log`, :func:`gap_axis`), puts
one legend below the panels (never over a curve), marks where each line ends, and draws at most
:data:`MAX_PANELS` instances (report.html has them all): matplotlib's cost grows with the panels,
and a figure of more is not read anyway.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from solverhub.core.result import primal_gap

__all__ = ["plot_trajectory", "gap_curve", "with_final", "plot_primal_gap", "plot_objectives",
           "plot_history", "save_figure", "performance_profile", "plot_performance_profiles",
           "primal_gap_figure", "objectives_figure", "history_figure", "profiles_figure",
           "wants_log", "gap_axis", "GapAxis", "pick_panels", "snap_gaps", "gap_time_range", "history_points",
           "profile_ratios", "log_ticks", "value_shift", "MAX_PANELS", "LOG_DECADES"]

#: a figure's axis is logarithmic when its values are positive and one panel's span more decades
LOG_DECADES = 2.0
#: instances drawn per figure at most (in run order, problem kinds taking turns); report.html has all
MAX_PANELS = 9


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict) or isinstance(obj, Mapping):
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
    pts = sorted((float(a), b) for a, b in trajectory if b is not None)
    if not pts:
        return np.ones_like(grid, dtype=float)
    times = np.array([t for t, _ in pts])
    gaps = np.array([primal_gap(float(v), reference) for _, v in pts] + [1.0])
    # the last incumbent at or before each time; before the first, no incumbent: gap 1
    return gaps[np.searchsorted(times, np.asarray(grid, dtype=float), side="right") - 1]


def with_final(rec: Any) -> list[Any]:
    """A record's trajectory, ending with its final objective at its runtime when the solver
    reported no incumbent times (or not the last one), so that the answer shows in the plot."""
    traj = [list(p) for p in (_get(rec, "trajectory") or [])]
    obj = _get(rec, "objective")
    if isinstance(obj, (int, float)) and math.isfinite(obj) and (not traj or traj[-1][1] != obj):
        traj.append([float(_get(rec, "runtime") or (traj[-1][0] if traj else 0.0)), float(obj)])
    return traj


def _short(s: str, n: int = 48) -> str:
    name = os.path.basename(s) if os.sep in s and ":" not in s.split(os.sep)[0] else s
    return name if len(name) <= n else name[: n - 1] + "\u2026"


def _finite(values: Iterable[Any]) -> list[float]:
    out = []
    for v in values:
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(f):
            out.append(f)
    return out


def wants_log(panels: Iterable[Iterable[float]]) -> bool:
    """The one scale rule of a figure's value axis: logarithmic when every value of every panel is
    positive and the values of at least one panel span more than :data:`LOG_DECADES` decades;
    linear otherwise (the same for all panels, so that the instances read alike)."""
    spans = False
    for panel in panels:
        vals = _finite(panel)
        if not vals:
            continue
        if min(vals) <= 0:
            return False
        spans = spans or max(vals) / min(vals) > 10.0 ** LOG_DECADES
    return spans


@dataclass(frozen=True)
class GapAxis:
    """The value axis of a primal-gap figure. Gaps are in [0, 1]; on a log axis a gap of 0 (the
    optimal value) is drawn at ``floor``, below every positive gap of the figure."""

    log: bool
    floor: float
    top: float

    def limits(self) -> tuple[float, float]:
        if self.log:
            return self.floor / 1.6, self.top * 1.6
        return -0.02 * self.top, 1.04 * self.top

    def show(self, gaps: np.ndarray) -> np.ndarray:
        """Gaps as drawn (0 moved to the floor on a log axis)."""
        return np.maximum(gaps, self.floor) if self.log else gaps

    def label(self) -> str:
        if self.log:
            return f"primal gap (log; 0 drawn at {self.floor:.1g})"
        return "primal gap"


def gap_axis(gaps: Iterable[float]) -> GapAxis:
    """One rule for a primal-gap figure (every panel alike): a log axis when the positive gaps of
    the whole figure span more than :data:`LOG_DECADES` decades, from a third of the least
    positive gap (where 0 is drawn) to the largest; else linear from 0 to the largest gap. Gaps
    below ``OPTIMAL_GAP`` are rounding noise: they count as 0 (:func:`snap_gaps`)."""
    vals = snap_gaps(np.asarray(_finite(gaps), dtype=float))
    pos = vals[vals > 0]
    if pos.size == 0:
        return GapAxis(False, 0.0, 1.0)
    lo, hi = float(pos.min()), float(min(pos.max(), 1.0))
    if hi / lo > 10.0 ** LOG_DECADES:
        return GapAxis(True, lo / 3.0, hi)
    return GapAxis(False, 0.0, hi)


def snap_gaps(gaps: Any) -> np.ndarray:
    """Gaps with those below ``OPTIMAL_GAP`` (the optimal value, up to rounding) set to 0."""
    from solverhub.core.report import OPTIMAL_GAP

    gaps = np.asarray(gaps, dtype=float)
    return np.where(gaps < OPTIMAL_GAP, 0.0, gaps)


def _rec_kind(recs: Iterable[Any]) -> str:
    return next((str(_get(r, "problem_kind")) for r in recs if _get(r, "problem_kind")), "")


def pick_panels(groups: Mapping[str, Mapping[str, list]], limit: int = MAX_PANELS) -> list[str]:
    """At most ``limit`` instances of ``groups`` for one figure: in run order, each problem kind
    taking its turn, so that every kind of a mixed run shows."""
    by_kind: dict[str, list[str]] = {}
    for inst, by_solver in groups.items():
        by_kind.setdefault(_rec_kind(r for rs in by_solver.values() for r in rs), []).append(inst)
    queues = [list(v) for v in by_kind.values()]
    picked: list[str] = []
    while len(picked) < limit and any(queues):
        for q in queues:
            if q and len(picked) < limit:
                picked.append(q.pop(0))
    order = {inst: n for n, inst in enumerate(groups)}
    return sorted(picked, key=order.__getitem__)


def _grid(n: int) -> tuple[int, int]:
    cols = min(3, max(1, n))
    rows = math.ceil(n / cols)
    return rows, cols


class _Layout:
    """A figure of panels on a fixed grid, margins in inches (constrained layout costs as much as
    the drawing), with room for the title above and one legend below."""

    PANEL_W, PANEL_H = 4.6, 3.1
    LEFT, RIGHT, HGAP = 0.95, 0.25, 0.95
    TITLE, XLABEL, LEGEND_ROW = 0.5, 0.55, 0.24

    def __init__(self, n_panels: int, n_legend: int, *, panel_title_lines: int = 1) -> None:
        from matplotlib.figure import Figure

        rows, cols = _grid(n_panels)
        self.legend_cols = max(1, min(n_legend, 2 * cols + 1))
        legend_rows = math.ceil(n_legend / self.legend_cols) if n_legend else 0
        vgap = self.XLABEL + 0.2 + 0.16 * panel_title_lines
        top = self.TITLE + 0.16 * panel_title_lines
        bottom = self.XLABEL + 0.1 + self.LEGEND_ROW * legend_rows
        w = self.LEFT + cols * self.PANEL_W + (cols - 1) * self.HGAP + self.RIGHT
        h = top + rows * self.PANEL_H + (rows - 1) * vgap + bottom
        self.fig = Figure(figsize=(w, h))
        self.fig.subplots_adjust(left=self.LEFT / w, right=1 - self.RIGHT / w, top=1 - top / h,
                                 bottom=bottom / h, wspace=self.HGAP / self.PANEL_W,
                                 hspace=vgap / self.PANEL_H)
        axes = self.fig.subplots(rows, cols, squeeze=False).ravel()
        for ax in axes[n_panels:]:
            ax.set_visible(False)
        self.axes = list(axes[:n_panels])
        self._h = h
        self._x = (self.LEFT / w + 1 - self.RIGHT / w) / 2  # the middle of the panels

    def title(self, text: str) -> None:
        self.fig.suptitle(text, fontsize=10, x=self._x, y=1 - 0.12 / self._h, va="top")

    def legend(self, handles: list[Any]) -> None:
        """One legend for the figure, below the panels: it never covers a curve."""
        if handles:
            self.fig.legend(handles=handles, loc="lower center", ncols=self.legend_cols,
                            bbox_to_anchor=(self._x, 0.06 / self._h), fontsize=8, frameon=False)


def log_ticks(lo: float, hi: float, most: int = 6) -> list[float]:
    """At most ``most`` ticks for a log axis over [lo, hi]: decades (every k-th when there are
    many), and 2 and 5 times them when the axis spans less than two decades."""
    a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    if b - a >= 2:
        stride = max(1, math.ceil((b - a + 1) / most))
        return [10.0 ** k for k in range(a, b + 1, stride)]
    for subs in ((1, 2, 5), (1, 2, 3, 4, 5, 6, 7, 8, 9)):
        ticks = [m * 10.0 ** k for k in range(a, b + 1) for m in subs if lo <= m * 10.0 ** k <= hi]
        if len(ticks) >= 2:
            return ticks[:: max(1, math.ceil(len(ticks) / most))]
    return [lo, hi]


def _ticks(ax: Any, *, xlog: tuple[float, float] | None = None,
           ylog: tuple[float, float] | None = None) -> None:
    """Few ticks and no minor ones (Tick objects are most of matplotlib's drawing time), plain
    numbers, no offset notation. ``xlog``/``ylog``: the (low, high) limits of a log axis."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullLocator, ScalarFormatter

    for axis, log, set_lim in ((ax.xaxis, xlog, ax.set_xlim), (ax.yaxis, ylog, ax.set_ylim)):
        axis.set_minor_locator(NullLocator())
        if log:
            set_lim(*log)
            axis.set_major_locator(FixedLocator(log_ticks(*log)))
            axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        else:
            axis.set_major_locator(MaxNLocator(5))
            fmt = ScalarFormatter(useOffset=False)
            fmt.set_powerlimits((-5, 9))  # plain digits: 1234567.9 and 0.0005, no "x 1e6" to decode
            axis.set_major_formatter(fmt)


def value_shift(values: Iterable[float]) -> float:
    """What a linear panel subtracts from its values so that its tick labels stay short: 0, or,
    when the values differ only past the 4th significant digit (a continuous solver's objectives
    near one optimum), a round number just below them, named in the axis label."""
    vals = _finite(values)
    if not vals:
        return 0.0
    lo, hi = min(vals), max(vals)
    big = max(abs(lo), abs(hi))
    if hi == lo or big == 0 or (hi - lo) / big > 1e-4:
        return 0.0
    k = math.floor(math.log10(hi - lo))
    return round(math.floor(lo / 10.0 ** k) * 10.0 ** k, max(0, -k))


def _shift_label(label: str, shift: float) -> str:
    if not shift:
        return label
    text = repr(abs(shift)).removesuffix(".0")  # the shortest exact digits
    return f"{label} \u2212 {text}" if shift > 0 else f"{label} + {text}"


def _log_range(values: Iterable[float]) -> tuple[float, float]:
    vals = [v for v in _finite(values) if v > 0] or [1.0]
    lo, hi = min(vals), max(vals)
    if hi / lo < 1.5:  # a flat line: some room around it
        lo, hi = lo / 1.5, hi * 1.5
    return lo / 1.25, hi * 1.25


def _handles(colors: Mapping[str, Any], used: Iterable[str], *, reference: bool = False,
             band: bool = False) -> list[Any]:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    out: list[Any] = [Line2D([], [], color=colors[lab], marker="o", markersize=4, label=lab)
                      for lab in colors if lab in set(used)]
    if reference:
        out.append(Line2D([], [], color="grey", linestyle="--", linewidth=1, label="reference"))
    if band:
        out.append(Patch(color="grey", alpha=0.2, label="min-max over seeds"))
    return out


def _truncated(title: str, shown: int, total: int) -> str:
    if shown < total:
        return f"{title}; {shown} of {total} instances (report.html has all)"
    return title


def _title(ax: Any, text: str) -> None:
    # an explicit position: matplotlib otherwise measures every tick label to place a title
    ax.set_title(text, fontsize=9, y=1.0, pad=5)


def _draw_lines(ax: Any, lines: Mapping[str, list[tuple[Any, Any, Any]]],
                colors: Mapping[str, Any], *, step: bool) -> None:
    """Many lines as one collection per solver and their markers as one set per solver (an
    artist per task would be most of the figure's drawing time). ``lines[label]`` = (xs, ys,
    marker point or None for the line's last point); a step line holds each value until the next
    x (``where="post"``); a line of one point is its marker alone."""
    from matplotlib.collections import LineCollection

    for lab, items in lines.items():
        segs, marks = [], []
        for xs, ys, mark in items:
            xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
            if xs.size == 0:
                continue
            marks.append(mark if mark is not None else (xs[-1], ys[-1]))
            if step and xs.size > 1:  # x0 x1 x1 x2 x2 ...; y0 y0 y1 y1 ...
                xs, ys = np.repeat(xs, 2)[1:], np.repeat(ys, 2)[:-1]
            segs.append(np.column_stack([xs, ys]))
        if segs:
            ax.add_collection(LineCollection(segs, colors=[colors[lab]], linewidths=1.2,
                                             alpha=0.85))
            ax.plot([m[0] for m in marks], [m[1] for m in marks], marker="o", markersize=4.5,
                    color=colors[lab], linestyle="none", clip_on=False, zorder=3)
    ax.autoscale_view()


def _end_marker(ax: Any, t: float, v: float, color: Any) -> None:
    # the marker shows a line's end, and alone a solver that reported only its final answer
    ax.plot([t], [v], marker="o", markersize=4.5, color=color, linestyle="none", clip_on=False,
            zorder=3)


def _gap_steps(recs: list[Any], ref: float, t0: float, horizon: float) -> tuple[np.ndarray,
                                                                              np.ndarray]:
    """The exact step functions of the tasks' primal gaps: event times in [t0, horizon] (every
    incumbent of any of the tasks) and one row of gaps per task."""
    trajs = [[(float(t), v) for t, v in with_final(r) if v is not None] for r in recs]
    times = sorted({min(max(t, t0), horizon) for tr in trajs for t, _ in tr} | {t0, horizon})
    grid = np.asarray(times, dtype=float)
    return grid, snap_gaps(np.asarray([gap_curve(tr, ref, grid) for tr in trajs], dtype=float))


def gap_time_range(recs: list[Any]) -> tuple[float, float]:
    """The time axis of an instance's primal gap: from just before its earliest incumbent (the
    first incumbents come in milliseconds, the improvements that decide a comparison late) to the
    longest time limit or runtime."""
    horizon = max([float(_get(r, "time_limit") or 0) for r in recs]
                  + [float(_get(r, "runtime") or 0) for r in recs] + [1e-3])
    firsts = [t for r in recs for t, v in with_final(r)[:1] if v is not None]
    t0 = min(max(min([float(t) for t in firsts if float(t) > 0], default=horizon / 1e3) / 2, 1e-4),
             horizon / 10)
    return t0, horizon


def primal_gap_figure(groups: Mapping[str, Mapping[str, list]], references: Mapping[str, float],
                      *, reference_kind: Mapping[str, str] | None = None) -> Any:
    """The figure of :func:`plot_primal_gap` (None without an instance that has a reference)."""
    all_insts = [i for i in groups if i in references]
    if not all_insts:
        return None
    insts = pick_panels({i: groups[i] for i in all_insts})
    labels = sorted({s for i in insts for s in groups[i]})
    colors = _colors(labels)
    # every curve first: the figure's one scale rule (time and gap axes) sees all of them
    panels = []
    unknown: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for inst in insts:
        t0, horizon = gap_time_range([r for s in groups[inst] for r in groups[inst][s]])
        curves = {}
        for lab in groups[inst]:
            ok = [r for r in groups[inst][lab] if _get(r, "status") != "error"
                  and not _get(r, "incumbents_unknown")]
            if ok:
                curves[lab] = _gap_steps(ok, references[inst], t0, horizon)
        # no incumbent times (ortools-scip): only the answer at the end, a cross, no curve (a
        # curve would read as a 100 % gap until the end)
        ends = {lab: [(min(float(t), horizon), float(primal_gap(float(v), references[inst])))
                      for r in rs if _get(r, "status") != "error" and _get(r, "incumbents_unknown")
                      for t, v in with_final(r)[-1:] if v is not None]
                for lab, rs in groups[inst].items()}
        unknown[inst] = {lab: pts for lab, pts in ends.items() if pts}
        panels.append((inst, t0, horizon, curves))
    gaxis = gap_axis([g for _, _, _, cs in panels for _, gs in cs.values() for g in gs.ravel()]
                     + [g for pts in unknown.values() for ps in pts.values() for _, g in ps])
    time_log = wants_log([t0, horizon] for _, t0, horizon, _ in panels)
    lay = _Layout(len(insts), len(labels) + 1, panel_title_lines=2)
    for ax, (inst, t0, horizon, curves) in zip(lay.axes, panels):
        for lab, (grid, gaps) in curves.items():
            shown = gaxis.show(gaps)
            # mean over seeds: geometric on a log axis (where a ratio is what one reads)
            mean = (np.exp(np.mean(np.log(shown), axis=0)) if gaxis.log else shown.mean(axis=0))
            ax.step(grid, mean, where="post", color=colors[lab], linewidth=1.4)
            if len(gaps) > 1:
                ax.fill_between(grid, shown.min(axis=0), shown.max(axis=0), step="post",
                                color=colors[lab], alpha=0.15, linewidth=0)
            changed = np.flatnonzero(np.diff(mean) != 0)
            t_end = grid[changed[-1] + 1] if changed.size else grid[0]
            _end_marker(ax, float(t_end), float(mean[-1]), colors[lab])
        for lab, pts in unknown[inst].items():
            shown_end = gaxis.show(np.asarray([g for _, g in pts], dtype=float))
            ax.plot([t for t, _ in pts], shown_end, marker="x", markersize=6, linestyle="none",
                    color=colors[lab], clip_on=False, zorder=3)
        what = (reference_kind or {}).get(inst, "reference")
        _title(ax, f"{_short(inst)}\n(gap to {what} {references[inst]:.6g})")
        if time_log:
            ax.set_xscale("log")
        else:
            ax.set_xlim(0.0, horizon)
        ax.set_xlabel("time (s, log)" if time_log else "time (s)")
        if gaxis.log:
            ax.set_yscale("log")
        else:
            ax.set_ylim(*gaxis.limits())
        ax.set_ylabel(gaxis.label(), fontsize=8)
        _ticks(ax, xlog=(t0, horizon) if time_log else None,
               ylog=gaxis.limits() if gaxis.log else None)
        ax.grid(alpha=0.3)
    several = any(len(gaps) > 1 for _, _, _, cs in panels for _, gaps in cs.values())
    lay.legend(_handles(colors, labels, band=several))
    lay.title(_truncated("Primal gap over time ("
                         + (("geometric " if gaxis.log else "") + "mean over seeds; " if several
                            else "") + "marker: last improvement"
                         + ("; x: final answer, gap unknown before (no incumbent times)"
                            if any(unknown.values()) else "") + ")",
                         len(insts), len(all_insts)))
    return lay.fig


def plot_primal_gap(groups: Mapping[str, Mapping[str, list[Any]]], references: Mapping[str, float],
                    path: str | Path, *, reference_kind: Mapping[str, str] | None = None) -> Path | None:
    """``groups[instance][solver label]`` = records; ``references[instance]`` = the value the gap is
    measured to. Draws the mean primal gap over seeds per solver; returns the path written."""
    fig = primal_gap_figure(groups, references, reference_kind=reference_kind)
    if fig is None:
        return None
    save_figure(fig, path)
    return Path(path)


def objectives_figure(groups: Mapping[str, Mapping[str, list]],
                      references: Mapping[str, float] | None = None) -> Any:
    """The figure of :func:`plot_objectives` (None without instances)."""
    all_insts = list(groups)
    if not all_insts:
        return None
    insts = pick_panels(groups)
    labels = sorted({s for i in insts for s in groups[i]})
    colors = _colors(labels)
    lines: list[tuple[str, list[tuple[str, list[float], list[float]]]]] = []
    for inst in insts:
        mine = []
        for lab in groups[inst]:
            for r in groups[inst][lab]:
                traj = [(float(t), float(v)) for t, v in with_final(r)
                        if v is not None and math.isfinite(float(v))]
                if traj:
                    end = max(float(_get(r, "runtime") or 0.0), traj[-1][0])
                    mine.append((lab, [t for t, _ in traj] + [end], [v for _, v in traj]))
        lines.append((inst, mine))
    ylog = wants_log([v for _, _, vs in mine for v in vs] for _, mine in lines)
    refs = references or {}
    lay = _Layout(len(insts), len(labels) + 1)
    for ax, (inst, mine) in zip(lay.axes, lines):
        ref = refs.get(inst)
        shift = 0.0 if ylog else value_shift([v for _, _, vs in mine for v in vs]
                                             + ([ref] if ref is not None else []))
        by_label: dict[str, list] = {}
        for lab, ts, vs in mine:
            # the line runs on to the task's end; the marker sits at its final answer
            vs = [v - shift for v in vs]
            by_label.setdefault(lab, []).append((ts, vs + [vs[-1]], (ts[-2], vs[-1])))
        _draw_lines(ax, by_label, colors, step=True)
        if ref is not None and (ref > 0 or not ylog):
            ax.axhline(ref - shift, color="grey", linestyle="--", linewidth=1)
        if not mine:
            ax.text(0.5, 0.5, "no objective (every task failed)", transform=ax.transAxes,
                    ha="center", va="center", fontsize=8, color="grey")
        _title(ax, _short(inst))
        ax.set_xlabel("time (s)")
        ax.set_ylabel("objective (log)" if ylog else _shift_label("objective", shift), fontsize=8)
        if ylog:
            ax.set_yscale("log")
        _ticks(ax, ylog=_log_range([v for _, _, vs in mine for v in vs]
                                   + ([ref] if ref is not None else [])) if ylog else None)
        ax.grid(alpha=0.3)
    lay.legend(_handles(colors, labels, reference=bool(refs)))
    lay.title(_truncated("Objective over time (one line per task; marker: its final answer)",
                         len(insts), len(all_insts)))
    return lay.fig


def plot_objectives(groups: Mapping[str, Mapping[str, list[Any]]], path: str | Path,
                    references: Mapping[str, float] | None = None) -> Path | None:
    """Every task's incumbent objective over time, one panel per instance, one colour per solver;
    a task without incumbent times shows as a marker at its runtime and final objective."""
    fig = objectives_figure(groups, references)
    if fig is None:
        return None
    save_figure(fig, path)
    return Path(path)


def history_points(rec: Any, column: str) -> tuple[list[float], list[float]]:
    """(iterations, values) of ``history[column]`` of a record, finite values only."""
    hist = _get(rec, "history") or {}
    ks, vs = [], []
    for k, v in zip(hist.get("iteration") or [], hist.get(column) or []):
        if v is None or k is None:
            continue
        try:
            fk, fv = float(k), float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(fv) and math.isfinite(fk):
            ks.append(fk)
            vs.append(fv)
    return ks, vs


def history_figure(groups: Mapping[str, Mapping[str, list]], column: str) -> Any:
    """The figure of :func:`plot_history` (None when no task logged ``column``)."""
    all_insts = [i for i in groups if any((_get(r, "history") or {}).get(column)
                                          for rs in groups[i].values() for r in rs)]
    if not all_insts:
        return None
    insts = pick_panels({i: groups[i] for i in all_insts})
    labels = sorted({s for i in insts for s in groups[i]})
    colors = _colors(labels)
    lines = [(inst, [(lab, *history_points(r, column)) for lab in groups[inst]
                     for r in groups[inst][lab]]) for inst in insts]
    ylog = wants_log([v for _, _, vs in mine for v in vs] for _, mine in lines)
    lay = _Layout(len(insts), len(labels))
    for ax, (inst, mine) in zip(lay.axes, lines):
        shift = 0.0 if ylog else value_shift([v for _, _, vs in mine for v in vs])
        by_label: dict[str, list] = {}
        for lab, ks, vs in mine:
            by_label.setdefault(lab, []).append((ks, [v - shift for v in vs], None))
        _draw_lines(ax, by_label, colors, step=False)
        if ylog:
            ax.set_yscale("log")
        _title(ax, _short(inst))
        ax.set_xlabel("iteration")
        ax.set_ylabel(column.replace("_", " ") + " (log)" if ylog
                      else _shift_label(column.replace("_", " "), shift), fontsize=8)
        _ticks(ax, ylog=_log_range([v for _, _, vs in mine for v in vs]) if ylog else None)
        ax.grid(alpha=0.3)
    lay.legend(_handles(colors, labels))
    lay.title(_truncated(f"{column.replace('_', ' ')} over iterations (one line per task)",
                         len(insts), len(all_insts)))
    return lay.fig


def plot_history(groups: Mapping[str, Mapping[str, list[Any]]], column: str,
                 path: str | Path) -> Path | None:
    """Per instance, ``history[column]`` over iterations for every task (one colour per solver),
    on a log scale for every panel when the values are positive and one instance's span more than
    :data:`LOG_DECADES` decades (:func:`wants_log`)."""
    fig = history_figure(groups, column)
    if fig is None:
        return None
    save_figure(fig, path)
    return Path(path)


def save_figure(fig: Any, path: str | Path, dpi: int = 100) -> None:
    """Save as PNG atomically (temporary file + os.replace)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    fig.savefig(tmp, format="png", dpi=dpi)
    os.replace(tmp, path)


def _colors(labels: Iterable[str]) -> dict[str, Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return {lab: cmap(i % 10) for i, lab in enumerate(labels)}


def performance_profile(values: Mapping[str, Sequence[float]], taus: np.ndarray) -> dict[str, np.ndarray]:
    """Dolan and More's profile: ``values[solver][p]`` is the measure (lower is better, ``inf``
    for a failure) on problem ``p`` (the same problems, in the same order, for every solver);
    returns for each solver the fraction of problems whose ratio to the best solver's measure is
    at most each ``tau``. A problem no solver managed counts against every solver."""
    ratios = profile_ratios(values)
    return {s: np.array([(r <= t).sum() / r.size if r.size else 0.0 for t in taus])
            for s, r in ratios.items()}


def profile_ratios(values: Mapping[str, Sequence[float]]) -> dict[str, np.ndarray]:
    """Each solver's ratio to the best solver's measure, problem by problem (``inf`` where it
    failed, or where no solver managed the problem)."""
    solvers = list(values)
    m = np.array([[float(v) for v in values[s]] for s in solvers], dtype=float)
    if m.size == 0:
        return {s: np.array([]) for s in solvers}
    best = m.min(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):  # inf / inf: nobody managed it
        ratios = np.where(np.isfinite(m) & np.isfinite(best), m / best, np.inf)
    return {s: ratios[i] for i, s in enumerate(solvers)}


def profiles_figure(measures: Mapping[str, Mapping[str, Sequence[float]]]) -> Any:
    """The figure of :func:`plot_performance_profiles` (None with no measure of two solvers)."""
    from matplotlib.ticker import NullLocator

    panels = {k: v for k, v in measures.items() if len(v) >= 2 and any(len(x) for x in v.values())}
    if not panels:
        return None
    labels = sorted({s for v in panels.values() for s in v})
    colors = _colors(labels)
    lay = _Layout(len(panels), len(labels))
    for ax, (title, values) in zip(lay.axes, panels.items()):
        ratios = profile_ratios(values)
        finite = np.concatenate([r[np.isfinite(r)] for r in ratios.values()] + [np.array([1.0])])
        top = max(2.0, float(finite.max()) * 1.5)
        taus = np.geomspace(1.0, top, 300)
        prof = performance_profile(values, taus)
        for s in values:
            ax.step(taus, prof[s], where="post", color=colors[s])
            _end_marker(ax, taus[-1], float(prof[s][-1]), colors[s])
        ax.set_xscale("log", base=2)
        ax.set_xlim(1.0, top)
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("tau (ratio to the best solver, log)")
        ax.set_ylabel("fraction of problems within tau", fontsize=8)
        n = len(next(iter(values.values())))
        _title(ax, f"{title} ({n} problem{'s' if n != 1 else ''})")
        ax.grid(alpha=0.3)
    lay.legend(_handles(colors, labels))
    lay.title("Performance profiles (Dolan-More): higher and further left is better")
    return lay.fig


def plot_performance_profiles(measures: Mapping[str, Mapping[str, Sequence[float]]],
                              path: str | Path) -> Path | None:
    """One panel per measure (``measures[title][solver]`` = values over the same problems):
    the fraction of problems each solver handles within a factor tau of the best, tau on a log2
    axis. Returns the path written, or None with fewer than two solvers."""
    fig = profiles_figure(measures)
    if fig is None:
        return None
    save_figure(fig, path)
    return Path(path)
