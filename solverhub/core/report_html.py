"""``report.html``: a run folder's report as one self-contained page (no network: plotly's
JavaScript is inlined once, the data are embedded as JSON).

What it holds, per problem kind:

* the solvers' table (kinds with a primal gap: ranked as in ``solvers.csv``; other kinds: their
  metrics aggregated as declared);
* Dolan-More performance profiles: kinds with a primal gap on the time to the optimal value and
  the primal integral (:func:`~solverhub.core.report.profile_measures`), other kinds on their
  primary metric (:func:`primary_metric`, :func:`metric_profile_measures`); the page recomputes
  them for the solvers the filter keeps (a profile is relative to the best solver compared);
* the per-instance table: the rows of ``summary.csv``, each cell carrying the CSV's own string in
  ``data-value`` (the page shows fewer digits);
* convergence histories: primal gap over time (kinds with a primal gap), the iteration history
  columns (other kinds), one instance at a time, on log axes where the figure's values span
  decades (the PNGs' rule, :func:`~solverhub.core.plotting.wants_log`).

A filter by problem kind and by solver hides table rows, sections and plot lines. Records are
read through :func:`_field`, so that typed records work as dicts do.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Mapping

from solverhub.core.config import instance_label
from solverhub.core.plotting import gap_axis, gap_time_range, history_points, snap_gaps, wants_log, with_final
from solverhub.core.result import finite_or_none, primal_gap
from solverhub.core.serialize import atomic_write_text

__all__ = ["REPORT_HTML", "report_html", "write_report_html", "primary_metric",
           "metric_profile_measures", "METRIC_FLOOR"]

REPORT_HTML = "report.html"
#: performance profiles on a kind's metric count values below this as this (a residual that small
#: is solved; the ratio of two such values says nothing)
METRIC_FLOOR = 1e-10


def _field(rec: Any, name: str, default: Any = None) -> Any:
    """A field of a result record (a dict from results.jsonl or a typed record)."""
    if isinstance(rec, Mapping):
        return rec.get(name, default)
    return getattr(rec, name, default)


def primary_metric(kind: str) -> str | None:
    """The metric a kind's solvers are profiled on: its first declared metric where lower is
    better (e.g. ``kkt_residual`` for nlp-eq, ``F_error`` for bilevel)."""
    from solverhub.core.report import metric_specs

    return next((m.name for m in metric_specs(kind) if m.better == "lower"), None)


def metric_profile_measures(records: Iterable[Any]) -> dict[str, dict[str, list[float]]]:
    """Performance-profile measures of the kinds without a primal gap: per kind, its primary
    metric per solver over the problems (instance x seed) every solver of the kind ran; ``inf``
    where the task failed or did not report the metric, values floored at :data:`METRIC_FLOOR`.
    Keys read ``"<kind>: <metric>"``."""
    from solverhub.core.report import kind_of, latest, uses_primal_gap

    recs = latest(records)
    by_inst: dict[str, list[Any]] = {}
    for r in recs:
        by_inst.setdefault(str(_field(r, "instance")), []).append(r)
    out: dict[str, dict[str, list[float]]] = {}
    for kind in dict.fromkeys(kind_of(rs) for rs in by_inst.values()):
        if uses_primal_gap(kind):
            continue
        metric = primary_metric(kind)
        if metric is None:
            continue
        mine = {(str(_field(r, "solver")), inst, _field(r, "seed")): r
                for inst, rs in by_inst.items() if kind_of(rs) == kind for r in rs}
        solvers = list(dict.fromkeys(s for s, _, _ in mine))
        problems = list(dict.fromkeys((i, sd) for _, i, sd in mine))
        problems = [p for p in problems if all((s, *p) in mine for s in solvers)]
        if len(solvers) < 2 or not problems:
            continue
        values: dict[str, list[float]] = {}
        for s in solvers:
            vals: list[float] = []
            for p in problems:
                r = mine[(s, *p)]
                v = finite_or_none((_field(r, "metrics") or {}).get(metric))
                failed = _field(r, "status") == "error"
                vals.append(math.inf if failed or v is None else max(v, METRIC_FLOOR))
            values[s] = vals
        out[f"{kind}: {metric}"] = values
    return out


# ---------------------------------------------------------------------- formatting
def _esc(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _human(v: Any, digits: int = 6) -> str:
    """A number as a person reads it (the exact value stays in the cell's data-value)."""
    if v is None or v == "":
        return "-"
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        try:
            v = float(v)
        except (TypeError, ValueError):
            return str(v)
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if isinstance(v, int) or float(v).is_integer() and abs(v) < 1e15:
        return f"{int(v)}"
    return f"{v:.{digits}g}"


def _percent(v: Any) -> str:
    if v in (None, ""):
        return "-"
    f = float(v)
    return "0%" if f < 1e-6 else f"{100 * f:.4g}%"  # rounding noise is no gap


def _csv_cell(v: Any) -> str:
    """A value as the report's CSV files write it."""
    if v is None:
        return ""
    return f"{v:.10g}" if isinstance(v, float) else str(v)


def _table(table_id: str, columns: list[tuple[str, str, str]], rows: list[dict[str, Any]],
           *, kind_of_row: Any = None) -> str:
    """A sortable table. ``columns``: (field, header, how) with how ``text``, ``num``, ``pct``;
    ``rows``: the CSV strings by field (``data-value``), shown formatted."""
    head = "".join(f'<th data-field="{_esc(f)}" class="{how}">{_esc(h)}</th>'
                   for f, h, how in columns)
    body = []
    for row in rows:
        cells = []
        for f, _, how in columns:
            raw = row.get(f, "")
            raw = "" if raw is None else str(raw)
            shown = (_percent(raw) if how == "pct" else _human(raw) if how == "num"
                     else (raw or "-"))
            if raw == "" and f == "primal_integral_mean" and row.get("primal_integral_unknown"):
                shown = "unknown"  # no incumbent times (ortools-scip), not a missing value
            cells.append(f'<td data-field="{_esc(f)}" data-value="{_esc(raw)}" class="{how}">'
                         f'{_esc(shown)}</td>')
        kind = kind_of_row(row) if kind_of_row else row.get("problem_kind", "")
        body.append(f'<tr data-solver="{_esc(row.get("solver", ""))}" data-kind="{_esc(kind)}"'
                    f' data-instance="{_esc(row.get("instance", ""))}">{"".join(cells)}</tr>')
    return (f'<table id="{_esc(table_id)}" class="data"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# ---------------------------------------------------------------------- page data
def _gap_convergence(groups: Mapping[str, Mapping[str, list]], refs: Mapping[str, float],
                     ref_kinds: Mapping[str, str], insts: list[str]) -> dict[str, Any] | None:
    """Primal gap over time per instance and task, with the figure's one scale rule."""
    out: list[dict[str, Any]] = []
    for inst in insts:
        if inst not in refs:
            continue
        ref = refs[inst]
        recs = [r for rs in groups[inst].values() for r in rs]
        t0, horizon = gap_time_range(recs)
        tasks = []
        for lab, rs in groups[inst].items():
            for r in rs:
                if _field(r, "status") == "error":
                    continue
                pts = sorted((float(t), primal_gap(float(v), ref)) for t, v in with_final(r)
                             if v is not None)
                pts = [(t, float(g)) for (t, _), g in zip(pts, snap_gaps([g for _, g in pts]))]
                if _field(r, "incumbents_unknown"):
                    # no incumbent times (ortools-scip): only the answer at the end is known; no
                    # line, which would read as a 100 % gap until then
                    tasks.append({"solver": lab, "seed": _field(r, "seed"), "t": [], "gap": [],
                                  "status": _field(r, "status"), "unknown": True,
                                  "end": [pts[-1][0], pts[-1][1]] if pts else None})
                    continue
                # no incumbent before the first: gap 1 from the axis start; the last gap holds
                t = [t0] + [min(max(p[0], t0), horizon) for p in pts] + [horizon]
                g = [1.0] + [p[1] for p in pts] + [pts[-1][1] if pts else 1.0]
                tasks.append({"solver": lab, "seed": _field(r, "seed"), "t": t, "gap": g,
                              "status": _field(r, "status"),
                              "end": [pts[-1][0], pts[-1][1]] if pts else None})
        out.append({"instance": inst, "name": _name(groups[inst]), "reference": ref,
                    "reference_kind": ref_kinds.get(inst, ""), "t0": t0, "horizon": horizon,
                    "tasks": tasks})
    if not out:
        return None
    gaxis = gap_axis(g for i in out for task in i["tasks"] for g in task["gap"])
    return {"type": "gap", "ylog": gaxis.log, "floor": gaxis.floor, "top": gaxis.top,
            "ylabel": gaxis.label(), "xlog": wants_log([i["t0"], i["horizon"]] for i in out),
            "instances": out}


def _history(groups: Mapping[str, Mapping[str, list]], insts: list[str],
             column: str) -> dict[str, Any] | None:
    out: list[dict[str, Any]] = []
    for inst in insts:
        tasks = []
        for lab, rs in groups[inst].items():
            for r in rs:
                ks, vs = history_points(r, column)
                if ks:
                    tasks.append({"solver": lab, "seed": _field(r, "seed"), "x": ks, "y": vs,
                                  "status": _field(r, "status")})
        if tasks:
            out.append({"instance": inst, "name": _name(groups[inst]), "tasks": tasks})
    if not out:
        return None
    ylog = wants_log([v for task in i["tasks"] for v in task["y"]] for i in out)
    return {"type": "history", "column": column, "ylog": ylog, "xlog": False,
            "ylabel": column.replace("_", " ") + (" (log)" if ylog else ""), "instances": out}


def _history_columns(recs: list[Any], kind: str, first: list[str]) -> list[str]:
    """The history columns shown for a kind: those of its PNGs (the objective and the kind's
    declared metrics), then the other numeric columns every solver of the kind logged."""
    from solverhub.core.report import kind_of

    by_inst: dict[str, list[Any]] = {}
    for r in recs:
        by_inst.setdefault(str(_field(r, "instance")), []).append(r)
    per_solver: dict[str, set[str]] = {}
    for rs in by_inst.values():
        if kind_of(rs) != kind:
            continue
        for r in rs:
            hist = _field(r, "history") or {}
            cols = {c for c, v in hist.items() if c not in ("iteration", "time")
                    and isinstance(v, list) and any(isinstance(x, (int, float))
                                                    and not isinstance(x, bool) for x in v)}
            if cols:
                per_solver.setdefault(str(_field(r, "solver")), set()).update(cols)
    shared = set.intersection(*per_solver.values()) if per_solver else set()
    return list(first) + sorted(shared - set(first))


def _name(by_solver: Mapping[str, list]) -> str:
    r = next(r for rs in by_solver.values() for r in rs)
    return str(_field(r, "instance_name") or instance_label(str(_field(r, "instance"))))


def _jsonable_measures(values: Mapping[str, list[float]]) -> dict[str, list[float | None]]:
    # JSON has no infinity: a failure is null
    return {s: [v if math.isfinite(v) else None for v in vs] for s, vs in values.items()}


# ---------------------------------------------------------------------- the page
SOLVER_COLUMNS = [
    ("rank", "rank", "num"), ("solver", "solver", "text"), ("tasks", "tasks", "num"),
    ("failures", "failures", "num"), ("solved", "solved", "num"),
    ("reached", "reached opt. value", "num"), ("wins", "wins", "num"),
    ("primal_integral_mean", "mean primal integral", "num"),
    ("gap_sgm_percent", "final gap sgm (%)", "num"),
    ("time_to_opt_sgm", "time to opt. sgm (s)", "num"), ("runtime_mean", "mean runtime (s)", "num"),
]
GAP_INSTANCE_COLUMNS = [
    ("instance_name", "instance", "text"), ("solver", "solver", "text"), ("runs", "runs", "num"),
    ("statuses", "status", "text"), ("objective_mean", "objective mean", "num"),
    ("objective_best", "best", "num"), ("objective_worst", "worst", "num"),
    ("reference", "reference", "num"), ("reference_kind", "reference is", "text"),
    ("gap_best", "gap of best", "pct"), ("primal_integral_mean", "primal integral", "num"),
    ("runtime_mean", "runtime (s)", "num"), ("iterations_mean", "iterations", "num"),
    ("first_error", "first error", "text"),
]


def _metric_columns(fields: Iterable[str]) -> list[tuple[str, str, str]]:
    from solverhub.core.report import METRIC_PREFIX

    return [(f, f[len(METRIC_PREFIX):].replace("_", " "), "num") for f in fields
            if f.startswith(METRIC_PREFIX)]


def report_html(records: list[Any], *, sources: list[str] | None = None,
                environments: dict[str, dict] | None = None, title: str | None = None) -> str:
    """The page (a string) for ``records`` (the lines of one or more run folders)."""
    from matplotlib.colors import to_hex

    from solverhub.core.plotting import _colors  # one colour per solver, as in the PNGs
    from solverhub.core.report import (
        group,
        history_columns,
        kind_of,
        kind_solver_summary,
        latest,
        profile_measures,
        references,
        solver_summary,
        summarize,
        summary_csv,
        uses_primal_gap,
    )

    recs = latest(records)
    groups = group(recs)
    refs, ref_kinds = references(groups)
    inst_kind = {i: kind_of([r for rs in by.values() for r in rs]) for i, by in groups.items()}
    rows = summarize(recs)
    csv_rows = _csv_rows(summary_csv(rows))  # the very strings of summary.csv
    for shown_row, row in zip(csv_rows, rows):
        shown_row["primal_integral_unknown"] = "1" if row.get("primal_integral_unknown") else ""
    solvers = list(dict.fromkeys(str(_field(r, "solver")) for r in recs))
    colors = {s: to_hex(c) for s, c in _colors(sorted(solvers)).items()}  # the PNGs' colours
    kinds = list(dict.fromkeys(inst_kind.values()))
    gap_kinds = [k for k in kinds if uses_primal_gap(k)]
    other_kinds = [k for k in kinds if not uses_primal_gap(k)]

    sections: list[str] = []
    figures: list[dict[str, Any]] = []

    def figure(fig: dict[str, Any]) -> str:
        fig["id"] = f"fig{len(figures)}"
        figures.append(fig)
        return f'<div class="figure" id="{fig["id"]}"></div>'

    if gap_kinds:
        kattr = " ".join(gap_kinds)
        parts = [f'<section class="kind" data-kind="{_esc(kattr)}">',
                 f"<h2>Problem kind{'s' if len(gap_kinds) > 1 else ''} "
                 f"{_esc(', '.join(k or 'unknown' for k in gap_kinds))} (primal gap)</h2>"]
        ranked = solver_summary(recs)
        if ranked:
            ranked_csv = _csv_rows(_csv_from(ranked, [c[0] for c in SOLVER_COLUMNS]))
            for shown_row, row in zip(ranked_csv, ranked):
                shown_row["primal_integral_unknown"] = "1" if row.get("primal_integral_unknown") else ""
            parts += ["<h3>Solvers, ranked</h3>",
                      "<p class=note>By the shifted geometric mean of the final primal gap, then "
                      "the mean primal integral, then the time to the optimal value (as "
                      "solvers.csv; see report.md).</p>",
                      _table("solvers-gap", SOLVER_COLUMNS, ranked_csv, kind_of_row=lambda _: kattr)]
        measures = {k: _jsonable_measures(v) for k, v in profile_measures(recs).items()
                    if len(v) >= 2 and any(v.values())}
        if measures:
            parts.append("<h3>Performance profiles</h3><div class=row>")
            for name, values in measures.items():
                parts.append(figure({"type": "profile", "title": name, "values": values}))
            parts.append("</div>")
        insts = [i for i in groups if uses_primal_gap(inst_kind[i])]
        conv = _gap_convergence(groups, refs, ref_kinds, insts)
        if conv:
            parts += ["<h3>Convergence: primal gap over time</h3>",
                      "<p class=note>To the reference value where one is known, else to the best "
                      "objective any task found; one line per task, a marker at its last "
                      "improvement.</p>", figure(conv)]
        gap_rows = [r for r in csv_rows if uses_primal_gap(r["problem_kind"])]
        parts += ["<h3>Per instance (summary.csv)</h3>",
                  _table("instances-gap", GAP_INSTANCE_COLUMNS, gap_rows), "</section>"]
        sections.append("\n".join(parts))

    ksummary = kind_solver_summary(recs)
    for pk in other_kinds:
        parts = [f'<section class="kind" data-kind="{_esc(pk)}">',
                 f"<h2>Problem kind {_esc(pk or 'unknown')}</h2>"]
        krows = ksummary.get(pk, [])
        metric_fields: list[str] = []
        for r in krows:
            metric_fields += [k for k in r if k.startswith("metric_") and k not in metric_fields]
        if krows:
            cols = [("solver", "solver", "text"), ("tasks", "tasks", "num"),
                    ("failures", "failures", "num"), *_metric_columns(metric_fields),
                    ("runtime_mean", "mean runtime (s)", "num")]
            parts += ["<h3>Solvers</h3>",
                      "<p class=note>The kind's metrics, aggregated over tasks as the kind "
                      "declares (as solvers.csv).</p>",
                      _table(f"solvers-{pk}", cols, _csv_rows(_csv_from(krows, [c[0] for c in cols])))]
        prof = {k: v for k, v in metric_profile_measures(recs).items() if k.startswith(f"{pk}: ")}
        if prof:
            parts.append("<h3>Performance profile</h3><div class=row>")
            for name, kvalues in prof.items():
                parts.append(figure({"type": "profile", "title": name,
                                     "values": _jsonable_measures(kvalues)}))
            parts.append("</div>")
        insts = [i for i in groups if inst_kind[i] == pk]
        for column in _history_columns(recs, pk, history_columns(recs).get(pk, [])):
            hist = _history(groups, insts, column)
            if hist:
                parts += [f"<h3>Convergence: {_esc(column.replace('_', ' '))} over iterations</h3>",
                          figure(hist)]
        mine = [r for r in csv_rows if r["problem_kind"] == pk]
        fields: list[str] = []
        for r in mine:
            fields += [k for k, v in r.items() if k.startswith("metric_") and v != ""
                       and k not in fields]
        cols = [("instance_name", "instance", "text"), ("solver", "solver", "text"),
                ("runs", "runs", "num"), ("statuses", "status", "text"),
                *([("routes", "route", "text")] if any(r.get("routes") for r in mine) else []),
                ("objective_mean", "objective mean", "num"), ("objective_best", "best", "num"),
                *_metric_columns(fields), ("runtime_mean", "runtime (s)", "num"),
                ("iterations_mean", "iterations", "num"), ("first_error", "first error", "text")]
        parts += ["<h3>Per instance (summary.csv)</h3>", _table(f"instances-{pk}", cols, mine),
                  "</section>"]
        sections.append("\n".join(parts))

    failed = [r for r in recs if _field(r, "status") == "error"]
    if failed:
        items = "".join(
            f'<li data-solver="{_esc(_field(r, "solver"))}" data-kind="'
            f'{_esc(inst_kind.get(str(_field(r, "instance")), ""))}">'
            f'{_esc(instance_label(str(_field(r, "instance"))))} / {_esc(_field(r, "solver"))} / '
            f'seed {_esc(_field(r, "seed"))}: '
            f'{_esc(" ".join(str(_field(r, "error") or "").split())[:300])}</li>' for r in failed)
        sections.append(f'<section><h2>Failures</h2><ul class="failures">{items}</ul></section>')
    sections.append(_provenance(recs, environments))

    n_failed = len(failed)
    data = {"solvers": solvers, "colors": colors, "kinds": kinds, "figures": figures}
    head = [f"<h1>{_esc(title or 'solverhub report')}</h1>"]
    if sources:
        head.append("<p>Run folder" + ("s" if len(sources) > 1 else "") + ": "
                    + ", ".join(f"<code>{_esc(s)}</code>" for s in sources) + "</p>")
    head.append(f'<p id="counts">{len(recs)} tasks, {n_failed} failed, {len(groups)} instances, '
                f'{len(solvers)} solvers.</p>')
    filt = ['<div id="filter"><fieldset><legend>Problem kind</legend>']
    filt += [f'<label><input type="checkbox" class="f-kind" value="{_esc(k)}" checked> '
             f'{_esc(k or "unknown")}</label>' for k in kinds]
    filt += ['</fieldset><fieldset><legend>Solver</legend>']
    filt += [f'<label><input type="checkbox" class="f-solver" value="{_esc(s)}" checked> '
             f'<span class="swatch" style="background:{colors[s]}"></span>{_esc(s)}</label>'
             for s in solvers]
    filt += ['<button type="button" id="f-all">all</button>'
             '<button type="button" id="f-none">none</button></fieldset></div>']
    return _PAGE.format(
        title=_esc(title or "solverhub report"), css=_CSS, header="\n".join(head),
        filter="\n".join(filt), sections="\n".join(sections), plotly=_plotly_js(),
        data=_script_json(data), script=_SCRIPT)


def _csv_from(rows: list[dict[str, Any]], fields: list[str]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(dict.fromkeys(fields + ["problem_kind"])),
                       extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow({k: _csv_cell(row.get(k)) for k in w.fieldnames})
    return buf.getvalue()


def _provenance(recs: list[Any], environments: dict[str, dict] | None) -> str:
    items = []
    hosts = Counter((str(_field(r, "host") or "?"), str(_field(r, "cpu") or "?")) for r in recs)
    items += [f"<li>{n} task(s) on <code>{_esc(h)}</code> ({_esc(c)})</li>"
              for (h, c), n in hosts.items()]
    versions = Counter(json.dumps(_field(r, "versions"), sort_keys=True) for r in recs
                       if _field(r, "versions"))
    items += [f"<li>{n} task(s) with "
              f"{_esc(', '.join(f'{k} {x}' for k, x in json.loads(v).items()))}</li>"
              for v, n in versions.items()]
    for src, env in (environments or {}).items():
        items.append(f"<li><code>{_esc(src)}</code>: runner on <code>{_esc(env.get('host', '?'))}"
                     f"</code>, Python {_esc(env.get('python', '?'))}, "
                     f"{_esc(env.get('platform', '?'))}</li>")
    return f"<section><h2>Where the results came from</h2><ul>{''.join(items)}</ul></section>"


def _script_json(data: Any) -> str:
    # inside <script>: no "</" (a closing tag) and no "<!--"
    return json.dumps(data, allow_nan=False).replace("</", "<\\/").replace("<!--", "<\\!--")


_PLOTLY: str | None = None


def _plotly_js() -> str:
    global _PLOTLY
    if _PLOTLY is None:
        from plotly.offline import get_plotlyjs

        _PLOTLY = get_plotlyjs()
    return _PLOTLY


def write_report_html(run_dir: str | Path, records: list[Any], **kw: Any) -> Path:
    """Write ``report.html`` into ``run_dir`` atomically; returns its path."""
    path = Path(run_dir) / REPORT_HTML
    atomic_write_text(path, report_html(records, **kw))
    return path


_CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 2em 3em;color:#222}
h1{font-size:1.5em;margin:.8em 0 .2em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ddd}
h3{font-size:1.05em;margin:1.2em 0 .4em}.note{color:#555;margin:.2em 0 .6em;max-width:60em}
#filter{position:sticky;top:0;background:#fff;z-index:10;padding:.4em 0;border-bottom:1px solid #ddd}
#filter fieldset{display:inline-block;border:1px solid #ccc;margin:0 1em 0 0;padding:.2em .6em}
#filter label{margin-right:.8em;white-space:nowrap}#filter button{margin-left:.3em}
.swatch{display:inline-block;width:.8em;height:.8em;margin-right:.3em;border-radius:2px}
table.data{border-collapse:collapse;font-size:13px;margin:.3em 0 1em}
table.data th{cursor:pointer;background:#f4f4f4;position:sticky;top:3.2em}
table.data th,table.data td{border:1px solid #ddd;padding:2px 6px}
table.data td.num,table.data td.pct{text-align:right;font-variant-numeric:tabular-nums}
table.data tr:nth-child(even){background:#fafafa}
.row{display:flex;flex-wrap:wrap;gap:1em}.row .figure{flex:1 1 480px;min-width:420px}
.figure{height:440px}.controls{margin:.3em 0}.hidden{display:none}
"""

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><style>{css}</style>
<script>{plotly}</script>
</head><body>
{header}
{filter}
{sections}
<script type="application/json" id="report-data">{data}</script>
<script>{script}</script>
</body></html>
"""

# The page's behaviour: draw the figures from the embedded data, redraw them (and hide rows) when
# the filter changes, sort a table by a click on its header.
_SCRIPT = r"""
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("report-data").textContent);
  var CONFIG = {displaylogo: false, responsive: true};
  function checked(cls) {
    var out = {};
    document.querySelectorAll("input." + cls).forEach(function (b) { if (b.checked) out[b.value] = true; });
    return out;
  }
  function legendBelow(layout) {
    layout.legend = {orientation: "h", x: 0, y: -0.22, yanchor: "top"};
    layout.margin = {l: 70, r: 20, t: 40, b: 110};
    return layout;
  }
  // Dolan-More profile of the solvers kept: ratio to the best of them, per problem
  function drawProfile(fig, keep) {
    var names = Object.keys(fig.values).filter(function (s) { return keep[s]; });
    var n = names.length ? fig.values[names[0]].length : 0, best = [], p, traces = [], top = 2;
    for (p = 0; p < n; p++) {
      best[p] = Infinity;
      names.forEach(function (s) { var v = fig.values[s][p]; if (v !== null && v < best[p]) best[p] = v; });
    }
    var ratios = {};
    names.forEach(function (s) {
      ratios[s] = [];
      for (p = 0; p < n; p++) {
        var v = fig.values[s][p];
        if (v !== null && isFinite(best[p])) { ratios[s].push(v / best[p]); top = Math.max(top, 1.5 * v / best[p]); }
      }
      ratios[s].sort(function (a, b) { return a - b; });
    });
    names.forEach(function (s) {
      var xs = [1], ys = [0], k;
      for (k = 0; k < ratios[s].length; k++) { xs.push(ratios[s][k]); ys.push((k + 1) / n); }
      xs.push(top); ys.push(ratios[s].length / n);
      // at tau = 1: the problems on which this solver is the best
      var at1 = ratios[s].filter(function (r) { return r <= 1; }).length / n;
      ys[0] = at1;
      traces.push({x: xs, y: ys, name: s, mode: "lines", line: {shape: "hv", color: DATA.colors[s]},
                   meta: {solver: s}, hovertemplate: s + ": %{y:.0%} within tau = %{x:.3g}<extra></extra>"});
    });
    Plotly.react(fig.id, traces, legendBelow({
      title: {text: fig.title + " (" + n + (n === 1 ? " problem)" : " problems)"), font: {size: 14}},
      xaxis: {title: {text: "tau (ratio to the best solver, log)"}, type: "log", range: [0, Math.log10(top)]},
      yaxis: {title: {text: "fraction of problems within tau"}, range: [-0.02, 1.02]}}), CONFIG);
  }
  function seriesOf(fig, task) {
    if (fig.type === "gap") {
      var y = task.gap.map(function (g) { return fig.ylog ? Math.max(g, fig.floor) : g; });
      return {x: task.t, y: y, real: task.gap};
    }
    return {x: task.x, y: task.y, real: task.y};
  }
  function drawConvergence(fig, keep) {
    var sel = document.getElementById(fig.id + "-instance");
    var inst = fig.instances[sel ? +sel.value : 0], shown = {}, traces = [];
    inst.tasks.forEach(function (task) {
      if (!keep[task.solver]) return;
      var s = seriesOf(fig, task), last = s.x.length - 1;
      var end = fig.type === "gap" ? task.end : [s.x[last], s.y[last]];
      var sizes = s.x.map(function () { return 0; });
      if (!task.unknown) traces.push({x: s.x, y: s.y, customdata: s.real, name: task.solver, legendgroup: task.solver,
                   showlegend: !shown[task.solver], mode: "lines",
                   line: {shape: fig.type === "gap" ? "hv" : "linear", color: DATA.colors[task.solver], width: 1.5},
                   meta: {solver: task.solver, seed: task.seed},
                   hovertemplate: task.solver + " seed " + task.seed +
                     ": %{customdata:.6g} at %{x:.4g}<extra></extra>"});
      if (end) {
        var ey = fig.type === "gap" && fig.ylog ? Math.max(end[1], fig.floor) : end[1];
        traces.push({x: [end[0]], y: [ey], customdata: [end[1]], legendgroup: task.solver,
                     showlegend: !!task.unknown && !shown[task.solver],
                     mode: "markers", marker: {color: DATA.colors[task.solver], size: 7,
                                               symbol: task.unknown ? "x" : "circle"},
                     name: task.solver, meta: {solver: task.solver, seed: task.seed, end: true},
                     hovertemplate: task.solver + " seed " + task.seed +
                       " ends: %{customdata:.6g} at %{x:.4g}" +
                       (task.unknown ? " (gap unknown before: no incumbent times)" : "") +
                       "<extra></extra>"});
      }
      shown[task.solver] = true;
    });
    var title = inst.name + (fig.type === "gap" ? " (gap to " + (inst.reference_kind || "reference") + " " +
                inst.reference.toPrecision(6) + ")" : "");
    var x = {title: {text: fig.type === "gap" ? (fig.xlog ? "time (s, log)" : "time (s)") : "iteration"},
             type: fig.xlog ? "log" : "linear"};
    if (fig.type === "gap") x.range = fig.xlog ? [Math.log10(inst.t0), Math.log10(inst.horizon)] : [0, inst.horizon];
    var y = {title: {text: fig.ylabel}, type: fig.ylog ? "log" : "linear"};
    if (fig.type === "gap") {
      y.range = fig.ylog ? [Math.log10(fig.floor / 1.6), Math.log10(fig.top * 1.6)]
                         : [-0.02 * fig.top, 1.04 * fig.top];
    }
    Plotly.react(fig.id, traces, legendBelow({title: {text: title, font: {size: 14}}, xaxis: x, yaxis: y}), CONFIG);
  }
  function draw(fig, keep) { if (fig.type === "profile") drawProfile(fig, keep); else drawConvergence(fig, keep); }
  function apply() {
    var kinds = checked("f-kind"), solvers = checked("f-solver");
    document.querySelectorAll("section.kind").forEach(function (s) {
      var on = s.dataset.kind.split(" ").some(function (k) { return kinds[k]; });
      s.classList.toggle("hidden", !on);
    });
    document.querySelectorAll("tr[data-solver], li[data-solver]").forEach(function (r) {
      r.classList.toggle("hidden", !solvers[r.dataset.solver]);
    });
    DATA.figures.forEach(function (fig) { draw(fig, solvers); });
  }
  DATA.figures.forEach(function (fig) {
    if (fig.type === "profile" || fig.instances.length < 2) return;
    var div = document.getElementById(fig.id), box = document.createElement("div");
    var sel = document.createElement("select");
    box.className = "controls"; box.textContent = "instance: "; sel.id = fig.id + "-instance";
    fig.instances.forEach(function (inst, k) {
      var o = document.createElement("option"); o.value = k; o.textContent = inst.name; sel.appendChild(o);
    });
    sel.addEventListener("change", function () { draw(fig, checked("f-solver")); });
    box.appendChild(sel); div.parentNode.insertBefore(box, div);
  });
  document.querySelectorAll("#filter input").forEach(function (b) { b.addEventListener("change", apply); });
  document.getElementById("f-all").addEventListener("click", function () {
    document.querySelectorAll("input.f-solver").forEach(function (b) { b.checked = true; }); apply(); });
  document.getElementById("f-none").addEventListener("click", function () {
    document.querySelectorAll("input.f-solver").forEach(function (b) { b.checked = false; }); apply(); });
  document.querySelectorAll("table.data th").forEach(function (th, col) {
    th.addEventListener("click", function () {
      var body = th.closest("table").tBodies[0];
      var idx = Array.prototype.indexOf.call(th.parentNode.children, th);
      var asc = th.dataset.sort !== "asc"; th.dataset.sort = asc ? "asc" : "desc";
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[idx].dataset.value, y = b.cells[idx].dataset.value, nx = parseFloat(x), ny = parseFloat(y);
        var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : (x < y ? -1 : x > y ? 1 : 0);
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
  apply();
  window.solverhubReport = DATA;  // for tests and the curious
})();
"""
