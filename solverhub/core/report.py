"""Summaries of a run folder: ``summary.csv``, plots, and a rich table (``solverhub report DIR``).

Per instance x solver label (over seeds): runs, status counts, objective mean and best (in the
problem's own sense), the reference value and the primal gap of the best objective to it, the mean
primal integral and the mean runtime. Where no reference is known the gap and the primal integral
are measured against the best objective found by any task of the run on that instance (marked
``best-found``). When a task appears more than once in ``results.jsonl`` (a resumed run) its last
line counts.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

from solverhub.core.config import instance_label
from solverhub.core.result import finite_or_none, primal_gap, primal_integral
from solverhub.core.runfolder import SUMMARY, load_run
from solverhub.core.serialize import atomic_write_text

__all__ = ["load_run", "latest", "summarize", "summary_csv", "write_outputs", "summary_table",
           "summary_tables", "metrics_table", "SUMMARY_FIELDS", "METRIC_PREFIX", "history_columns"]

SUMMARY_FIELDS = [
    "instance", "instance_name", "solver", "kind", "runs", "errors", "statuses",
    "objective_mean", "objective_best", "objective_worst", "reference", "reference_kind",
    "gap_best", "primal_integral_mean", "runtime_mean", "iterations_mean", "first_error",
    "problem_kind",
]
#: summary columns of the kinds' own metrics are named ``metric_<name>``
METRIC_PREFIX = "metric_"
#: a kind that declares this metric gets the primal-gap columns and plots (references, best-found)
GAP_METRIC = "primal_gap"


def metric_specs(kind: str | None) -> tuple[Any, ...]:
    """The :class:`~solverhub.core.kinds.MetricSpec` declared by problem kind ``kind`` (empty when
    the kind is unknown here, e.g. its plugin is not installed where the report runs)."""
    if not kind:
        return ()
    try:
        from solverhub.core.manager import get_plugin_manager

        rec = get_plugin_manager().problem_kinds().get(kind)
    except Exception:  # a report must not fail on a plugin problem
        return ()
    return tuple(getattr(getattr(rec, "protocol", None), "metrics", ()) or ())


def uses_primal_gap(kind: str | None) -> bool:
    """Records without a problem kind predate it and are MIP results."""
    return not kind or any(m.name == GAP_METRIC for m in metric_specs(kind))


def _aggregate(values: list[float], how: str) -> float | None:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return None
    if how == "geomean":
        pos = [max(v, 1e-300) for v in vals]
        return math.exp(statistics.fmean(math.log(v) for v in pos)) if min(vals) >= 0 else \
            statistics.fmean(vals)
    if how == "median":
        return statistics.median(vals)
    return statistics.fmean(vals)


def latest(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per (instance, solver, seed): the last one written."""
    by_key: dict[tuple, dict[str, Any]] = {}
    for r in records:
        by_key[(r.get("instance"), r.get("solver"), r.get("seed"))] = r
    return list(by_key.values())



def _sense(recs: list[dict[str, Any]]) -> int:
    for r in recs:
        if r.get("sense") in (1, -1):
            return int(r["sense"])
    return 1


def group(records: Iterable[dict[str, Any]]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """``groups[instance][solver label]`` -> records, in first-seen order."""
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for r in latest(records):
        out.setdefault(str(r.get("instance")), {}).setdefault(str(r.get("solver")), []).append(r)
    for inst in out:
        for lab in out[inst]:
            out[inst][lab].sort(key=lambda r: (r.get("seed") is None, r.get("seed")))
    return out


def references(groups: dict[str, dict[str, list[dict[str, Any]]]]) -> tuple[dict[str, float],
                                                                               dict[str, str]]:
    """The value each instance's gap is measured to, and where it comes from ("reference" or
    "best-found")."""
    refs: dict[str, float] = {}
    kinds: dict[str, str] = {}
    for inst, by_solver in groups.items():
        recs = [r for rs in by_solver.values() for r in rs]
        known = [finite_or_none(r.get("reference")) for r in recs]
        known = [v for v in known if v is not None]
        if known:
            refs[inst], kinds[inst] = known[-1], "reference"
            continue
        sense = _sense(recs)
        objs = [finite_or_none(r.get("objective")) for r in recs if r.get("status") != "error"]
        objs = [v for v in objs if v is not None]
        if objs:
            refs[inst] = min(objs) if sense == 1 else max(objs)
            kinds[inst] = "best-found"
    return refs, kinds


def summarize(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    groups = group(records)
    refs, ref_kinds = references(groups)
    rows = []
    for inst, by_solver in groups.items():
        sense = _sense([r for rs in by_solver.values() for r in rs])
        ref = refs.get(inst)
        for lab, recs in by_solver.items():
            ok = [r for r in recs if r.get("status") != "error"]
            objs = [v for v in (finite_or_none(r.get("objective")) for r in ok) if v is not None]
            best = (min(objs) if sense == 1 else max(objs)) if objs else None
            worst = (max(objs) if sense == 1 else min(objs)) if objs else None
            pis = []
            for r in ok:
                horizon = finite_or_none(r.get("time_limit")) or finite_or_none(r.get("runtime")) or 0.0
                if ref is None or horizon <= 0:
                    continue
                traj = [(float(t), float(v)) for t, v in (r.get("trajectory") or []) if v is not None]
                pis.append(primal_integral(traj, ref, horizon))
            errors = [r for r in recs if r.get("status") == "error"]
            problem_kind = str(recs[0].get("problem_kind") or "")
            if not uses_primal_gap(problem_kind):
                pis = []  # Berthold's gap means nothing for this kind (e.g. a zero reference)
            metrics = _metric_columns(ok, problem_kind)
            runtimes = [v for v in (finite_or_none(r.get("runtime")) for r in recs) if v is not None]
            iters = [v for v in (finite_or_none(r.get("iterations")) for r in ok) if v is not None]
            rows.append({
                "instance": inst,
                "instance_name": recs[0].get("instance_name") or instance_label(inst),
                "solver": lab,
                "kind": recs[0].get("kind", ""),
                "problem_kind": problem_kind,
                "runs": len(recs),
                "errors": len(errors),
                "statuses": ", ".join(f"{s} x{n}" if n > 1 else str(s) for s, n in
                                      Counter(str(r.get("status")) for r in recs).items()),
                "objective_mean": statistics.fmean(objs) if objs else None,
                "objective_best": best,
                "objective_worst": worst,
                "reference": ref,
                "reference_kind": ref_kinds.get(inst, ""),
                "gap_best": primal_gap(best, ref) if ref is not None and best is not None
                and uses_primal_gap(problem_kind) else None,
                "primal_integral_mean": statistics.fmean(pis) if pis else None,
                "runtime_mean": statistics.fmean(runtimes) if runtimes else None,
                "iterations_mean": statistics.fmean(iters) if iters else None,
                "first_error": (errors[0].get("error") or "") if errors else "",
                **metrics,
            })
    return rows


def _metric_columns(records: list[dict[str, Any]], problem_kind: str) -> dict[str, float | None]:
    """``metric_<name>``: each metric of the records, aggregated as its kind declares (mean by
    default), in the kind's declared order, then any others the records carry."""
    declared = {m.name: m for m in metric_specs(problem_kind)}
    names = list(declared)
    for r in records:
        for k in (r.get("metrics") or {}):
            if k not in names:
                names.append(k)
    out: dict[str, float | None] = {}
    for name in names:
        vals = [finite_or_none((r.get("metrics") or {}).get(name)) for r in records]
        how = declared[name].aggregate if name in declared else "mean"
        out[METRIC_PREFIX + name] = _aggregate([v for v in vals if v is not None], how)
    return out


def summary_csv(rows: list[dict[str, Any]]) -> str:
    extra: list[str] = []
    for row in rows:
        extra += [k for k in row if k.startswith(METRIC_PREFIX) and k not in extra]
    fields = SUMMARY_FIELDS + extra
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow({k: ("" if row.get(k) is None else (f"{row[k]:.10g}" if isinstance(row[k], float)
                                                      else row[k])) for k in fields})
    return buf.getvalue()


def write_outputs(run_dir: str | Path, records: list[dict[str, Any]], *, plots: bool = True) -> list[Path]:
    """(Re)write summary.csv and the plots of a run folder; returns the files written."""

    d = Path(run_dir)
    rows = summarize(records)
    atomic_write_text(d / SUMMARY, summary_csv(rows))
    written = [d / SUMMARY]
    if plots and records:
        from solverhub.core.plotting import plot_history, plot_objectives, plot_primal_gap

        groups = group(records)
        refs, kinds = references(groups)
        gap_insts = {i for i, by in groups.items()
                     if uses_primal_gap(str(next(iter(by.values()))[0].get("problem_kind") or ""))}
        known = {i: v for i, v in refs.items() if kinds.get(i) == "reference"}
        p = plot_primal_gap({i: g for i, g in groups.items() if i in gap_insts},
                            {i: v for i, v in refs.items() if i in gap_insts}, d / "primal_gap.png",
                            reference_kind=kinds)
        if p:
            written.append(p)
        p = plot_objectives(groups, d / "objective.png", references=known)
        if p:
            written.append(p)
        for pk, columns in history_columns(records).items():
            for column in columns:
                sub = {i: g for i, g in groups.items() if i not in gap_insts and any(
                    r.get("problem_kind") == pk for rs in g.values() for r in rs)}
                p = plot_history(sub, column, d / f"history_{_safe(pk)}_{_safe(column)}.png")
                if p:
                    written.append(p)
    return written


def history_columns(records: Iterable[dict[str, Any]]) -> dict[str, list[str]]:
    """Per problem kind without primal-gap plots: the history columns worth a figure (the
    objective, then the kind's declared metrics that solvers logged)."""
    out: dict[str, list[str]] = {}
    for r in records:
        pk = str(r.get("problem_kind") or "")
        hist = r.get("history") or {}
        if not pk or uses_primal_gap(pk) or not hist:
            continue
        wanted = ["objective"] + [m.name for m in metric_specs(pk)]
        cols = out.setdefault(pk, [])
        cols += [c for c in wanted if c in hist and c not in cols]
    return out


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name)


def _fmt(v: Any, digits: int = 6) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def summary_tables(rows: list[dict[str, Any]], title: str | None = None) -> list[Any]:
    """One rich Table per problem kind: the primal-gap columns for kinds that declare the primal
    gap (MIP), the kind's own metrics for the others."""
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_kind.setdefault(str(r.get("problem_kind") or ""), []).append(r)
    several = len(by_kind) > 1
    tables = []
    for pk, krows in by_kind.items():
        t_title = f"{title} [{pk}]" if several and title and pk else title
        tables.append(summary_table(krows, t_title) if uses_primal_gap(pk)
                      else metrics_table(krows, pk, t_title))
    return tables


def metrics_table(rows: list[dict[str, Any]], problem_kind: str, title: str | None = None):
    """A rich Table of rows of a kind without primal gap: its declared metrics as columns."""
    from rich.table import Table

    names: list[str] = []
    for r in rows:
        names += [k for k in r if k.startswith(METRIC_PREFIX) and k not in names]
    t = Table(title=title, show_lines=False, header_style="bold")
    for col in ("instance", "solver", "runs", "status", "objective mean", "best"):
        t.add_column(col, justify="right" if col in ("runs", "objective mean", "best") else "left")
    for n in names:
        t.add_column(n[len(METRIC_PREFIX):].replace("_", " "), justify="right")
    t.add_column("runtime (s)", justify="right")
    for r in rows:
        status = f"[red]{r['statuses']}[/red]" if r["errors"] else r["statuses"]
        t.add_row(r["instance_name"], r["solver"], str(r["runs"]), status, _fmt(r["objective_mean"]),
                  _fmt(r["objective_best"]), *(_fmt(r.get(n), 4) for n in names),
                  _fmt(r["runtime_mean"], 3))
    return t


def summary_table(rows: list[dict[str, Any]], title: str | None = None):
    """A rich Table of :func:`summarize` rows (the primal-gap view)."""
    from rich.table import Table

    t = Table(title=title, show_lines=False, header_style="bold")
    for col, kw in (("instance", {}), ("solver", {}), ("runs", {"justify": "right"}),
                    ("status", {}), ("objective mean", {"justify": "right"}),
                    ("best", {"justify": "right"}), ("reference", {"justify": "right"}),
                    ("gap", {"justify": "right"}), ("primal integral", {"justify": "right"}),
                    ("runtime (s)", {"justify": "right"})):
        t.add_column(col, **kw)
    marked = False
    for r in rows:
        star = "*" if r["reference_kind"] == "best-found" else ""
        marked = marked or bool(star)
        status = r["statuses"]
        if r["errors"]:
            status = f"[red]{status}[/red]"
        t.add_row(
            r["instance_name"], r["solver"], str(r["runs"]), status,
            _fmt(r["objective_mean"]), _fmt(r["objective_best"]),
            _fmt(r["reference"]) + star,
            "-" if r["gap_best"] is None else f"{100 * r['gap_best']:.2f}%",
            "-" if r["primal_integral_mean"] is None else f"{r['primal_integral_mean']:.4f}",
            _fmt(r["runtime_mean"], 3),
        )
    if marked:
        t.caption = "* no known reference: gap and primal integral to the best objective of the run"
    return t
