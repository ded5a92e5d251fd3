"""The run folder's PNG figures as a person reads them: a solver that reports only its final answer
is drawn, each figure takes one scale rule for all its panels, legends sit below the panels, the
primal-gap axis fits the gaps; and the one gap formula of the live progress line, the MIP kind's
``gap`` metric (summary.csv) and ``Result.gap``."""

from __future__ import annotations

import io
import math
from types import SimpleNamespace

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from solverhub.core.plotting import (
    MAX_PANELS,
    gap_axis,
    history_figure,
    log_ticks,
    objectives_figure,
    pick_panels,
    primal_gap_figure,
    profiles_figure,
    wants_log,
)
from solverhub.core.result import Result, Status, bound_gap, primal_gap


def rec(inst, solver, seed, traj, *, objective=None, runtime=10.0, kind="mip", status="feasible",
        history=None):
    if objective is None and traj:
        objective = traj[-1][1]
    return {"instance": inst, "solver": solver, "seed": seed, "time_limit": 10.0,
            "status": status, "objective": objective, "runtime": runtime, "trajectory": traj,
            "problem_kind": kind, "history": history or {}}


def groups_of(recs):
    out = {}
    for r in recs:
        out.setdefault(r["instance"], {}).setdefault(r["solver"], []).append(r)
    return out


def drawn(fig):
    FigureCanvasAgg(fig).draw()
    return fig


def visible_axes(fig):
    return [ax for ax in fig.axes if ax.get_visible()]


def assert_legend_below_the_panels(fig):
    drawn(fig)
    assert all(ax.get_legend() is None for ax in fig.axes), "a legend inside a panel"
    assert len(fig.legends) == 1
    top = fig.legends[0].get_window_extent().y1
    lowest = min(ax.get_tightbbox().y0 for ax in visible_axes(fig))  # tick labels included
    assert top <= lowest + 1e-6, (top, lowest)


def test_a_solver_with_only_its_final_answer_is_drawn_in_objective_png():
    # "final-only" reports no incumbent times (like OR-Tools' SCIP): one point at its runtime
    recs = [rec("a", "steps", 0, [[1.0, 120.0], [4.0, 100.0]]),
            rec("a", "final-only", 0, [], objective=105.0, runtime=7.5)]
    fig = drawn(objectives_figure(groups_of(recs)))
    ax = visible_axes(fig)[0]
    points = [(tuple(line.get_xdata()), tuple(line.get_ydata())) for line in ax.get_lines()
              if line.get_marker() not in (None, "", "None")]
    assert ((7.5,), (105.0,)) in points  # a visible marker at (runtime, objective)
    assert ((4.0,), (100.0,)) in points  # and the end of every other line is marked too
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "final-only" in labels and "steps" in labels


def test_continuous_kind_panels_show_their_final_points_and_plain_numbers():
    recs = [rec("mip-a", "highs", 0, [[0.1, 5.0], [1.0, 4.0]]),
            rec("nlp-b", "exact-al", 0, [], objective=1234567.891, runtime=0.4, kind="nlp-eq"),
            rec("nlp-b", "ipopt", 0, [], objective=1234567.8915, runtime=0.2, kind="nlp-eq")]
    fig = drawn(objectives_figure(groups_of(recs)))
    ax = visible_axes(fig)[1]
    assert len([line for line in ax.get_lines() if line.get_marker() == "o"]) == 2
    assert ax.yaxis.get_offset_text().get_text() == ""  # no "1e6" multiplier to decode
    # the two answers differ in the 10th digit: the axis counts from a round value it names
    assert ax.get_ylabel() == "objective \u2212 1234567.891"
    assert sorted(line.get_ydata()[0] for line in ax.get_lines() if line.get_marker() == "o") \
        == pytest.approx([0.0, 5e-4], abs=1e-6)


def test_legends_are_below_the_panels_in_every_figure():
    recs = [rec(f"i{k}", s, 0, [[0.5 + k, 100.0 + 10 * j], [3.0, 100.0]])
            for k in range(4) for j, s in enumerate(("a", "b", "c"))]
    g = groups_of(recs)
    assert_legend_below_the_panels(objectives_figure(g))
    assert_legend_below_the_panels(primal_gap_figure(g, {i: 100.0 for i in g}))
    assert_legend_below_the_panels(profiles_figure({"m": {"a": [1.0, 2.0], "b": [2.0, 1.0]}}))
    hist = [rec(f"i{k}", s, 0, [], objective=1.0, kind="nlp-eq",
                history={"iteration": [0, 1, 2], "kkt_residual": [1.0, 0.1, 0.01]})
            for k in range(2) for s in ("a", "b")]
    assert_legend_below_the_panels(history_figure(groups_of(hist), "kkt_residual"))


def test_one_scale_rule_for_every_panel_of_a_history_figure():
    wide = {"iteration": [0, 1, 2, 3], "kkt_residual": [10.0, 1e-2, 1e-5, 1e-8]}
    narrow = {"iteration": [0, 1, 2], "kkt_residual": [2.0, 1.5, 1.2]}
    recs = [rec("wide", "s", 0, [], objective=0.0, kind="nlp-eq", history=wide),
            rec("narrow", "s", 0, [], objective=0.0, kind="nlp-eq", history=narrow)]
    fig = history_figure(groups_of(recs), "kkt_residual")
    assert [ax.get_yscale() for ax in visible_axes(fig)] == ["log", "log"]
    # a value <= 0 anywhere: linear everywhere
    zero = {"iteration": [0, 1], "kkt_residual": [1.0, 0.0]}
    recs.append(rec("zero", "s", 0, [], objective=0.0, kind="nlp-eq", history=zero))
    fig = history_figure(groups_of(recs), "kkt_residual")
    assert [ax.get_yscale() for ax in visible_axes(fig)] == ["linear"] * 3
    assert wants_log([[1.0, 2.0], [1.0, 1e3]]) and not wants_log([[1.0, 2.0], [3.0, 50.0]])


def test_quickstart_like_primal_gap_axis_fits_the_gaps():
    # best-found reference: balans reaches it (gap 0), highs ends 4 % away; the old figure drew
    # this on a log axis from 1e-4 % to 100 %
    recs = [rec("mis", "balans", 0, [[0.5, 550.0], [3.0, 600.0]]),
            rec("mis", "highs", 0, [[0.4, 500.0], [2.0, 575.0]])]
    fig = drawn(primal_gap_figure(groups_of(recs), {"mis": 600.0}))
    ax = visible_axes(fig)[0]
    assert ax.get_yscale() == "linear"
    lo, hi = ax.get_ylim()
    assert -0.05 <= lo <= 0 and 1.0 <= hi <= 1.1
    # the markers: where each solver's gap ends
    ends = {(round(line.get_ydata()[0], 6)) for line in ax.get_lines() if line.get_marker() == "o"}
    assert ends == {0.0, round(primal_gap(575.0, 600.0), 6)}


def test_primal_gap_axis_goes_log_only_when_the_gaps_span_decades():
    axis = gap_axis([1.0, 0.5, 1e-4, 0.0])
    assert axis.log and axis.floor == pytest.approx(1e-4 / 3)
    lo, hi = axis.limits()
    assert 0 < lo < axis.floor and hi <= 1.6
    assert not gap_axis([1.0, 0.3, 0.04, 0.0]).log
    assert not gap_axis([1.0, 1e-12, 0.0]).log  # rounding noise is 0, not a gap of 1e-12
    assert gap_axis([]).top == 1.0


def test_figures_draw_at_most_max_panels_taking_kinds_in_turn():
    recs = [rec(f"m{k}", "s", 0, [[1.0, 1.0]]) for k in range(MAX_PANELS + 3)]
    recs += [rec("n0", "t", 0, [], objective=1.0, kind="nlp-eq")]
    g = groups_of(recs)
    picked = pick_panels(g)
    assert len(picked) == MAX_PANELS and "n0" in picked
    fig = objectives_figure(g)
    assert len(visible_axes(fig)) == MAX_PANELS
    assert f"{MAX_PANELS} of {MAX_PANELS + 4} instances" in fig._suptitle.get_text()


def test_log_ticks_are_few_and_inside():
    for lo, hi in ((1e-9, 1.0), (0.01, 60.0), (2800.0, 5200.0), (11.0, 120.0)):
        ticks = log_ticks(lo, hi)
        assert 2 <= len(ticks) <= 8, (lo, hi, ticks)
        assert all(lo / 10 <= t <= hi * 10 for t in ticks)


def test_saved_figures_are_pngs(tmp_path):
    fig = objectives_figure(groups_of([rec("a", "s", 0, [[1.0, 2.0]])]))
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    assert buf.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------- one gap formula
def test_one_gap_formula_for_the_progress_line_the_summary_and_results():
    # a maximisation: incumbent 600, bound 625.7. |obj - bound| / |obj| would say 4.28 %;
    # Berthold's formula (the primal gap's) says 4.11 %, and every place now says it
    obj, bound = 600.0, 625.7
    expected = primal_gap(obj, bound)
    assert expected == pytest.approx(25.7 / 625.7)
    assert bound_gap(obj, bound) == expected
    assert Result(Status.FEASIBLE, objective=obj, bound=bound).gap == expected
    assert bound_gap(None, bound) is None and bound_gap(obj, math.inf) is None

    from solverhub.plugins.mipfiles.kind import MIPKind

    res = Result(Status.FEASIBLE, objective=obj, bound=bound)
    metrics = MIPKind().compute_metrics(None, res, None, 10.0)
    assert metrics["gap"] == expected  # summary.csv's metric_gap

    from rich.console import Console

    from solverhub.core.progress import RunProgress

    out = io.StringIO()
    prog = RunProgress(Console(file=out, width=300, force_terminal=False), live=False)
    prog.start(1, 0, "local")
    task = SimpleNamespace(instance="generate:x", solver="balans", seed=0, key=("k",),
                           reference=None)
    prog.task_started(task)
    prog.task_done(task, {"status": "feasible", "objective": obj, "bound": bound, "runtime": 1.0})
    assert f"best gap {100 * expected:.3g}%" in out.getvalue()  # 4.11 %
    assert "4.28" not in out.getvalue()


def test_primal_gap_is_bertholds():
    assert primal_gap(110.0, 100.0) == pytest.approx(10 / 110)
    assert primal_gap(-5.0, 5.0) == 1.0 and primal_gap(None, 3.0) == 1.0
    assert primal_gap(0.0, 0.0) == 0.0
    assert np.isclose(primal_gap(100.0, 110.0), primal_gap(110.0, 100.0))
