"""Reports of run folders: ``summary.csv``, ``solvers.csv``, ``report.md``, plots, and rich
tables (``solverhub report DIR [DIR...]``).

Per instance x solver label (over seeds, :func:`summarize`): runs, status counts, objective mean
and best (in the problem's own sense), the reference value and the primal gap of the best
objective to it, the mean primal integral and the mean runtime, and the kind's own metrics. Per
solver label (:func:`solver_summary`, for kinds that declare the primal gap): mean primal
integral, shifted geometric means of the final gap and of the time to the optimal value, wins,
failures, a rank, and a rank within its grid; other kinds get their declared metrics per solver
(:func:`kind_solver_summary`). Where no reference is known the gap and the primal integral are
measured against the best objective found by any task on that instance (marked ``best-found``).
When a task appears more than once (a resumed run, several folders) its last line counts.
"""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from collections import Counter
from dataclasses import replace as dc_replace
from pathlib import Path
from typing import Any, Iterable

from solverhub.core.config import instance_label
from solverhub.core.result import finite_or_none, primal_gap, primal_integral
from solverhub.core.runfolder import ENVIRONMENT, SUMMARY, load_run
from solverhub.core.serialize import atomic_write_text
from solverhub.core.taskrecord import MalformedRecordError, TaskRecord

#: per solver, ranked (see solver_summary)
SOLVERS = "solvers.csv"
REPORT_MD = "report.md"

__all__ = ["load_run", "load_runs", "solver_summary", "kind_solver_summary", "solvers_csv",
           "report_markdown", "task_measures", "profile_measures", "shifted_geomean", "SOLVERS",
           "REPORT_MD", "latest", "summarize", "summary_csv", "write_outputs", "summary_table",
           "summary_tables", "metrics_table", "SUMMARY_FIELDS", "METRIC_PREFIX", "history_columns",
           "as_records", "record_warnings", "primary_metric", "distinct_labels", "kind_of"]

SUMMARY_FIELDS = [
    "instance", "instance_name", "solver", "solver_name", "runs", "errors", "statuses",
    "objective_mean", "objective_best", "objective_worst", "reference", "reference_kind",
    "gap_best", "primal_integral_mean", "runtime_mean", "iterations_mean", "first_error",
    "problem_kind", "routes",
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


def _kind_protocol_attr(kind: str | None, name: str) -> Any:
    if not kind:
        return None
    try:
        from solverhub.core.manager import get_plugin_manager

        rec = get_plugin_manager().problem_kinds().get(kind)
    except Exception:  # a report must not fail on a plugin problem
        return None
    return getattr(getattr(rec, "protocol", None), name, None)


def kind_of(records: Iterable[TaskRecord]) -> str:
    """The problem kind of records of one instance: the kind most of its records name (an error
    record written before the problem was loaded names none; ties go to the first name in
    alphabetical order, so that the order of the lines does not matter); failing that, the kind
    the instance's loader declares (e.g. every task of an instance failed)."""
    records = list(records)
    named = Counter(r.problem_kind for r in records if r.problem_kind)
    if named:
        return min(named, key=lambda k: (-named[k], k))
    if not records:
        return ""
    try:
        from solverhub.core.api import source_kind

        return source_kind(records[0].instance) or ""
    except Exception:  # a report must not fail on a loader problem
        return ""


def uses_primal_gap(kind: str | None) -> bool:
    """Records without a problem kind predate it and are MIP results."""
    return not kind or any(m.name == GAP_METRIC for m in metric_specs(kind))


#: the floor of a geometric mean of an error metric: smaller values (zeros included) count as it
GEOMEAN_FLOOR = 1e-12


def _aggregate(values: list[float], how: str) -> float | None:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return None
    if how == "geomean":
        if min(vals) < 0:  # not defined: fall back on the mean
            return statistics.fmean(vals)
        # a zero (an exact answer) would make the mean 0 whatever the other values are: errors
        # below GEOMEAN_FLOOR count as rounding, at the floor (docs/cli.md)
        return math.exp(statistics.fmean(math.log(max(v, GEOMEAN_FLOOR)) for v in vals))
    if how == "median":
        return statistics.median(vals)
    return statistics.fmean(vals)


def as_records(records: Iterable[TaskRecord | dict[str, Any]],
               problems: list[str] | None = None) -> list[TaskRecord]:
    """``records`` as :class:`TaskRecord` (parsed lines as dicts are converted). One that is not a
    task record, such as ``{}``, is never counted: with ``problems`` it is left out and named
    there, without it :class:`MalformedRecordError` names it."""
    out: list[TaskRecord] = []
    for n, r in enumerate(records, start=1):
        if isinstance(r, TaskRecord):
            out.append(r)
            continue
        try:
            out.append(TaskRecord.from_dict(r, where=f"record {n}"))
        except MalformedRecordError as exc:
            if problems is None:
                raise
            problems.append(f"{exc}; left out")
    return out


def latest(records: Iterable[TaskRecord | dict[str, Any]]) -> list[TaskRecord]:
    """One record per task identity (instance, solver label, options, time limit, seed, code
    version: :attr:`TaskRecord.identity`): the last one written. A label that ran with different
    settings (two folders, a changed config) keeps one entry per setting, each named apart (see
    :func:`distinct_labels`)."""
    recs = as_records(records)
    canon = _canonical_settings(recs)
    by_key: dict[tuple, TaskRecord] = {}
    for r in recs:
        key = (r.instance, r.solver, canon[(r.solver, _setting(r))], r.seed)
        by_key[key] = r
    return distinct_labels(list(by_key.values()), canon)


Setting = tuple[str, "float | None", str]


def _setting(r: TaskRecord) -> Setting:
    return (r.options_key, r.time_limit, r.code_version)


def _covers(w: Setting, v: Setting) -> bool:
    """Setting ``w`` says all that ``v`` says and more: a line the runner wrote itself before
    lines carried resolved options and versions (a worker that died) is the same task as a solved
    line of that label whose options include its options."""
    if w == v or w[1] != v[1] or (v[2] and v[2] != w[2]):
        return False
    wo, vo = json.loads(w[0]), json.loads(v[0])
    return all(k in wo and wo[k] == x for k, x in vo.items())


def _canonical_settings(records: list[TaskRecord]) -> dict[tuple[str, Setting], Setting]:
    """Per (label, setting): the fullest setting of that label that covers it (itself if none)."""
    variants: dict[str, dict[Setting, None]] = {}
    for r in records:
        variants.setdefault(r.solver, {})[_setting(r)] = None
    out: dict[tuple[str, Setting], Setting] = {}
    for label, vs in variants.items():
        for v in vs:
            over = [w for w in vs if _covers(w, v)]
            out[(label, v)] = max(over, key=lambda w: (bool(w[2]), len(w[0]))) if over else v
    return out


def distinct_labels(records: list[TaskRecord],
                    canon: dict[tuple[str, Setting], Setting] | None = None) -> list[TaskRecord]:
    """Records whose solver label ran with more than one setting (options, time limit, code
    version) get the setting in their label, e.g. ``highs [time limit 5 s]``, so that different
    tasks are never merged or compared as one solver; the others are returned as they are."""
    canon = canon if canon is not None else _canonical_settings(records)
    settings: dict[str, dict[Setting, None]] = {}
    for r in records:
        settings.setdefault(r.solver, {})[canon[(r.solver, _setting(r))]] = None
    if all(len(v) == 1 for v in settings.values()):
        return records
    names: dict[tuple[str, Setting], str] = {}
    for label, variants in settings.items():
        if len(variants) > 1:
            for v in variants:
                names[(label, v)] = f"{label} [{_describe_setting(v, list(variants))}]"
    out = []
    for r in records:
        name = names.get((r.solver, canon[(r.solver, _setting(r))]))
        out.append(dc_replace(r, solver=name) if name else r)
    return out


def _describe_setting(v: tuple[str, float | None, str], all_: list[tuple]) -> str:
    """What sets setting ``v`` apart from the others of its label."""
    parts = []
    if len({a[1] for a in all_}) > 1:
        parts.append("no time limit" if v[1] is None else f"time limit {v[1]:g} s")
    if len({a[0] for a in all_}) > 1:
        opts = json.loads(v[0])
        others = [json.loads(a[0]) for a in all_ if a[0] != v[0]]
        diff = {k: x for k, x in opts.items() if any(o.get(k) != x for o in others)}
        parts.append(", ".join(f"{k}={json.dumps(x)}" for k, x in sorted(diff.items()))
                     or "default options")
    if len({a[2] for a in all_}) > 1:
        parts.append(v[2] or "unknown version")
    return "; ".join(parts)


def record_warnings(records: Iterable[TaskRecord | dict[str, Any]]) -> list[str]:
    """What makes a comparison of these records doubtful, one line each: a label that ran with
    different settings (shown apart), solvers ranked together under different time limits, tasks
    solved by different code versions."""
    recs = as_records(records)
    canon = _canonical_settings(recs)
    out: list[str] = []
    settings: dict[str, dict[Setting, None]] = {}
    for r in recs:
        settings.setdefault(r.solver, {})[canon[(r.solver, _setting(r))]] = None
    for label, variants in settings.items():
        if len(variants) > 1:
            vs = list(variants)
            out.append(f"solver {label!r} ran with {len(vs)} different settings ("
                       + " / ".join(_describe_setting(v, vs) for v in vs)
                       + "): each is shown as its own solver")
    limits = sorted({r.time_limit for r in recs if r.time_limit is not None})
    if len(limits) > 1:
        out.append("the tasks have different time limits (" + ", ".join(f"{t:g} s" for t in limits)
                   + "): solvers ranked together did not get the same time")
    versions = sorted({r.code_version for r in recs if r.code_version})
    if len(versions) > 1:
        out.append("the tasks were solved by different code versions (" + "; ".join(versions) + ")")
    return out


def _sense(recs: list[TaskRecord]) -> int:
    for r in recs:
        if r.sense in (1, -1):
            return int(r.sense)
    return 1


def group(records: Iterable[TaskRecord | dict[str, Any]]) -> dict[str, dict[str, list[TaskRecord]]]:
    """``groups[instance][solver label]`` -> records, in first-seen order."""
    out: dict[str, dict[str, list[TaskRecord]]] = {}
    for r in latest(records):
        out.setdefault(r.instance, {}).setdefault(r.solver, []).append(r)
    for inst in out:
        for lab in out[inst]:
            out[inst][lab].sort(key=lambda r: r.seed)
    return out


def references(groups: dict[str, dict[str, list[TaskRecord]]]) -> tuple[dict[str, float],
                                                                               dict[str, str]]:
    """The value each instance's gap is measured to, and where it comes from ("reference" or
    "best-found")."""
    refs: dict[str, float] = {}
    kinds: dict[str, str] = {}
    for inst, by_solver in groups.items():
        recs = [r for rs in by_solver.values() for r in rs]
        known = [v for v in (finite_or_none(r.reference) for r in recs) if v is not None]
        if known:
            refs[inst], kinds[inst] = known[-1], "reference"
            continue
        sense = _sense(recs)
        objs = [v for v in (finite_or_none(r.objective) for r in recs if r.status != "error")
                if v is not None]
        if objs:
            refs[inst] = min(objs) if sense == 1 else max(objs)
            kinds[inst] = "best-found"
    return refs, kinds


def _counted(values: Iterable[str]) -> str:
    """``"optimal x2, time_limit"``: each distinct value once, with its count when above 1."""
    return ", ".join(f"{v} x{n}" if n > 1 else v for v, n in Counter(values).items())


def summarize(records: Iterable[TaskRecord | dict[str, Any]]) -> list[dict[str, Any]]:
    groups = group(records)
    refs, ref_kinds = references(groups)
    rows = []
    for inst, by_solver in groups.items():
        sense = _sense([r for rs in by_solver.values() for r in rs])
        ref = refs.get(inst)
        instance_kind = kind_of(r for rs in by_solver.values() for r in rs)
        for lab, recs in by_solver.items():
            ok = [r for r in recs if r.status != "error"]
            objs = [v for v in (finite_or_none(r.objective) for r in ok) if v is not None]
            best = (min(objs) if sense == 1 else max(objs)) if objs else None
            worst = (max(objs) if sense == 1 else min(objs)) if objs else None
            pis = []
            pi_unknown = False
            for r in ok:
                horizon = finite_or_none(r.time_limit) or finite_or_none(r.runtime) or 0.0
                if ref is None or horizon <= 0:
                    continue
                if r.incumbents_unknown:  # no incumbent times: unknown, not a 100 % gap
                    pi_unknown = True
                    continue
                from solverhub.core.plotting import with_final  # the answer counts from the end

                traj = [(float(t), float(v)) for t, v in with_final(r) if v is not None]
                pis.append(primal_integral(traj, ref, horizon))
            errors = [r for r in recs if r.status == "error"]
            problem_kind = instance_kind
            if not uses_primal_gap(problem_kind):
                pis = []  # Berthold's gap means nothing for this kind (e.g. a zero reference)
            metrics = _metric_columns(ok, problem_kind)
            runtimes = [v for v in (finite_or_none(r.runtime) for r in recs) if v is not None]
            iters = [v for v in (finite_or_none(r.iterations) for r in ok) if v is not None]
            rows.append({
                "instance": inst,
                "instance_name": recs[0].instance_name or instance_label(inst),
                "solver": lab,
                "solver_name": recs[0].solver_name,
                "problem_kind": problem_kind,
                "runs": len(recs),
                "errors": len(errors),
                "statuses": _counted(str(r.status) for r in recs),
                # an automatic solver's routes (bilevel-auto, convex-relu-auto): "" for the others
                "routes": _counted(str(r.route.get("name", "?")) for r in recs
                                   if isinstance(r.route, dict)),
                "objective_mean": statistics.fmean(objs) if objs else None,
                "objective_best": best,
                "objective_worst": worst,
                "reference": ref,
                "reference_kind": ref_kinds.get(inst, ""),
                "gap_best": primal_gap(best, ref) if ref is not None and best is not None
                and uses_primal_gap(problem_kind) else None,
                "primal_integral_mean": statistics.fmean(pis) if pis else None,
                "primal_integral_unknown": pi_unknown and not pis,
                "runtime_mean": statistics.fmean(runtimes) if runtimes else None,
                "iterations_mean": statistics.fmean(iters) if iters else None,
                "first_error": (errors[0].error or "") if errors else "",
                **metrics,
            })
    return rows


def _metric_columns(records: list[TaskRecord], problem_kind: str) -> dict[str, float | None]:
    """``metric_<name>``: each metric of the records, aggregated as its kind declares (mean by
    default), in the kind's declared order, then any others the records carry."""
    declared = {m.name: m for m in metric_specs(problem_kind)}
    names = list(declared)
    for r in records:
        for k in (r.metrics or {}):
            if k not in names:
                names.append(k)
    out: dict[str, float | None] = {}
    for name in names:
        vals = [finite_or_none((r.metrics or {}).get(name)) for r in records]
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


def profile_measures(records: Iterable[TaskRecord | dict[str, Any]]) -> dict[str, dict[str, list[float]]]:
    """The measures of the performance profiles: per measure, per solver, one value per problem
    (an instance x seed every solver ran); ``inf`` where the solver failed or never reached the
    optimal value. Tiny values are floored (1 ms, 1e-6) so that ratios stay finite."""
    ms = task_measures(records)
    by = {(m["solver"], m["instance"], m["seed"]): m for m in ms}
    solvers = list(dict.fromkeys(m["solver"] for m in ms))
    problems = list(dict.fromkeys((m["instance"], m["seed"]) for m in ms))
    problems = [p for p in problems if all((s, *p) in by for s in solvers)]
    time_to_opt: dict[str, list[float]] = {}
    integral: dict[str, list[float]] = {}
    for s in solvers:
        mm = [by[(s, *p)] for p in problems]
        time_to_opt[s] = [max(m["t_opt"], 1e-3) if m["reached"] and not m["failed"] else math.inf
                          for m in mm]
        integral[s] = [max(m["pi"], 1e-6) if m["pi"] is not None and not m["failed"] else math.inf
                       for m in mm]
    return {"time to the optimal value": time_to_opt, "primal integral": integral}


def write_outputs(run_dir: str | Path, records: Iterable[TaskRecord | dict[str, Any]], *,
                  plots: bool = True, sources: list[str] | None = None,
                  environments: dict[str, dict] | None = None,
                  warnings: Iterable[str] = ()) -> list[Path]:
    """(Re)write a folder's summary.csv (per instance x solver), solvers.csv (per solver, ranked),
    the plots (``plots``: the PNG figures), report.md and report.html (with ``warnings``, and any
    record that is not a task record named); returns the files written."""

    d = Path(run_dir)
    warnings = list(warnings)
    records = as_records(records, warnings)
    rows = summarize(records)
    atomic_write_text(d / SUMMARY, summary_csv(rows))
    atomic_write_text(d / SOLVERS, solvers_csv(records))
    written = [d / SUMMARY, d / SOLVERS]
    figures: list[Path] = []
    if plots and records:
        from solverhub.core.plotting import plot_history, plot_objectives, plot_performance_profiles, plot_primal_gap

        groups = group(records)
        refs, kinds = references(groups)
        gap_insts = {i for i, by in groups.items()
                     if uses_primal_gap(kind_of([r for rs in by.values() for r in rs]))}
        known = {i: v for i, v in refs.items() if kinds.get(i) == "reference"}
        p = plot_primal_gap({i: g for i, g in groups.items() if i in gap_insts},
                            {i: v for i, v in refs.items() if i in gap_insts}, d / "primal_gap.png",
                            reference_kind=kinds)
        if p:
            figures.append(p)
        from solverhub.core.report_html import metric_profile_measures

        p = plot_performance_profiles({**profile_measures(records),
                                       **metric_profile_measures(records)},
                                      d / "performance_profile.png")
        if p:
            figures.append(p)
        p = plot_objectives(groups, d / "objective.png", references=known)
        if p:
            figures.append(p)
        for pk, columns in history_columns(records).items():
            for column in columns:
                sub = {i: g for i, g in groups.items() if i not in gap_insts and any(
                    r.problem_kind == pk for rs in g.values() for r in rs)}
                p = plot_history(sub, column, d / f"history_{_safe(pk)}_{_safe(column)}.png")
                if p:
                    figures.append(p)
    atomic_write_text(d / REPORT_MD, report_markdown(records, sources=sources, plots=figures,
                                                     warnings=warnings,
                                                     environments=environments))
    from solverhub.core.report_html import write_report_html

    page = write_report_html(d, records, sources=sources, environments=environments)
    return written + figures + [d / REPORT_MD, page]


def load_runs(dirs: Iterable[str | Path], problems: list[str] | None = None
              ) -> tuple[list[TaskRecord], dict[str, dict]]:
    """The records of several run folders, in order (the same task found in two folders: the
    later folder's line counts), and each folder's environment.json (where it has one). Lines
    that are not task records are left out and named in ``problems``."""
    records: list[TaskRecord] = []
    envs: dict[str, dict] = {}
    for d in dirs:
        records += load_run(d, problems)
        env = Path(d) / ENVIRONMENT
        if env.is_file():
            try:
                envs[str(d)] = json.loads(env.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                pass
    return records, envs


def history_columns(records: Iterable[TaskRecord | dict[str, Any]]) -> dict[str, list[str]]:
    """Per problem kind without primal-gap plots: the history columns worth a figure (the
    objective, then the kind's declared metrics that solvers logged)."""
    out: dict[str, list[str]] = {}
    for r in as_records(records):
        pk = str(r.problem_kind or "")
        hist = r.history or {}
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
    from rich.markup import escape
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
        t.add_row(escape(r["instance_name"]), escape(r["solver"]), str(r["runs"]), status,
                  _fmt(r["objective_mean"]),
                  _fmt(r["objective_best"]), *(_fmt(r.get(n), 4) for n in names),
                  _fmt(r["runtime_mean"], 3))
    return t


def summary_table(rows: list[dict[str, Any]], title: str | None = None):
    """A rich Table of :func:`summarize` rows (the primal-gap view)."""
    from rich.markup import escape
    from rich.table import Table

    t = Table(title=title, show_lines=False, header_style="bold")
    for col in ("instance", "solver", "runs", "status", "objective mean", "best", "reference",
                "gap", "primal integral", "runtime (s)"):
        t.add_column(col, justify="left" if col in ("instance", "solver", "status") else "right")
    marked = False
    for r in rows:
        star = "*" if r["reference_kind"] == "best-found" else ""
        marked = marked or bool(star)
        status = r["statuses"]
        if r["errors"]:
            status = f"[red]{status}[/red]"
        t.add_row(
            escape(r["instance_name"]), escape(r["solver"]), str(r["runs"]), status,
            _fmt(r["objective_mean"]), _fmt(r["objective_best"]),
            _fmt(r["reference"]) + star,
            "-" if r["gap_best"] is None else f"{100 * r['gap_best']:.2f}%",
            ("unknown" if r.get("primal_integral_unknown") else "-")
            if r["primal_integral_mean"] is None else f"{r['primal_integral_mean']:.4f}",
            _fmt(r["runtime_mean"], 3),
        )
    if marked:
        t.caption = "* no known reference: gap and primal integral to the best objective of the run"
    return t


# ---------------------------------------------------------------------- solver comparison
#: shifts of the shifted geometric means (documented in docs/cli.md): the final primal gap in
#: percent with 1 percentage point, the time to the optimal value with 10 s (as MIP benchmarks do),
#: so that the many near-zero values do not dominate the mean
GAP_SHIFT_PERCENT = 1.0
TIME_SHIFT_SECONDS = 10.0
#: an incumbent within this primal gap of the reference counts as the optimal value
OPTIMAL_GAP = 1e-6
#: two mean final gaps closer than this tie for a win
WIN_TOL = 1e-9

SOLVER_FIELDS = [
    "rank", "solver", "group", "rank_in_group", "solver_name", "problem_kind", "instances", "tasks",
    "other_tasks", "failures", "solved", "reached", "wins", "primal_integral_mean",
    "gap_sgm_percent", "time_to_opt_sgm", "runtime_mean", "primary_metric",
]


def shifted_geomean(values: Iterable[float], shift: float) -> float | None:
    """``exp(mean(log(v + shift))) - shift``; None for no values."""
    vals = [float(v) for v in values]
    if not vals:
        return None
    return math.exp(statistics.fmean(math.log(max(v + shift, 1e-300)) for v in vals)) - shift


def _time_to_value(rec: TaskRecord, ref: float) -> float | None:
    """When the task's incumbent first came within OPTIMAL_GAP of ``ref`` (None: never)."""
    for t, v in sorted((float(t), v) for t, v in (rec.trajectory or []) if v is not None):
        if primal_gap(float(v), ref) <= OPTIMAL_GAP:
            return t
    obj = finite_or_none(rec.objective)
    if obj is not None and primal_gap(obj, ref) <= OPTIMAL_GAP:
        return finite_or_none(rec.runtime) or 0.0
    return None


def task_measures(records: Iterable[TaskRecord | dict[str, Any]]) -> list[dict[str, Any]]:
    """Per task (last line of each), for kinds with a primal gap: ``gap`` (final primal gap, 1 for
    a failure or no incumbent), ``pi`` (primal integral normalised by the time limit),
    ``t_opt`` (time to the optimal value; the time limit, or the longest runtime, when never
    reached: ``reached`` False) and ``failed``."""
    groups = group(records)
    refs, _ = references(groups)
    out = []
    for inst, by_solver in groups.items():
        recs_all = [r for rs in by_solver.values() for r in rs]
        pk = kind_of(recs_all)
        if not uses_primal_gap(pk):
            continue
        ref = refs.get(inst)
        cap = max([finite_or_none(r.time_limit) or 0.0 for r in recs_all]
                  + [finite_or_none(r.runtime) or 0.0 for r in recs_all] + [1e-3])
        for lab, recs in by_solver.items():
            for r in recs:
                failed = r.status == "error"
                m = {"instance": inst, "solver": lab, "seed": r.seed, "record": r, "problem_kind": pk,
                     "failed": failed, "gap": 1.0, "pi": None, "t_opt": cap, "reached": False}
                if ref is not None and not failed:
                    m["gap"] = primal_gap(finite_or_none(r.objective), ref)
                    horizon = finite_or_none(r.time_limit) or finite_or_none(r.runtime)
                    if horizon and r.incumbents_unknown:
                        pass  # no incumbent times at all: the integral is unknown (None)
                    elif horizon:
                        # a solver that reports no incumbent times: its answer counts from the end
                        from solverhub.core.plotting import with_final

                        traj = [(float(t), float(v)) for t, v in with_final(r) if v is not None]
                        m["pi"] = primal_integral(traj, ref, horizon)
                    t = _time_to_value(r, ref)
                    if t is not None:
                        m["t_opt"], m["reached"] = t, True
                elif ref is not None:
                    m["pi"] = 1.0  # a failure had no incumbent at any time
                out.append(m)
    return out


def solver_summary(records: Iterable[TaskRecord | dict[str, Any]]) -> list[dict[str, Any]]:
    """Per problem kind with a primal gap, one row per solver label, ranked among the labels of
    that kind over the instances every one of them ran (``instances``; their tasks elsewhere are
    counted apart in ``other_tasks``, not ranked): mean primal integral, shifted geometric means
    of the final gap (percent, shift GAP_SHIFT_PERCENT) and of the time to the optimal value
    (seconds, shift TIME_SHIFT_SECONDS; a value never reached counts as the time limit), wins
    (instances where its mean final gap over seeds is the least, ties broken by the mean primal
    integral; tied solvers each win), failures (error results), solved (proved optimal). Ranked by
    final gap, then primal integral, then time (``rank`` None when no instance was run by every
    label); ``rank_in_group`` ranks the labels expanded from one grid section among themselves."""
    ms = task_measures(records)
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for m in ms:
        by_kind.setdefault(m["problem_kind"], []).append(m)
    rows: list[dict[str, Any]] = []
    for pk, kms in by_kind.items():
        rows += _rank_gap_kind(pk, kms)
    return rows


def common_instances(labels_by_instance: dict[str, set[str]], labels: Iterable[str]) -> list[str]:
    """The instances every label in ``labels`` ran (in first-seen order)."""
    want = set(labels)
    return [i for i, labs in labels_by_instance.items() if want <= labs]


def _rank_gap_kind(pk: str, ms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_solver: dict[str, list[dict[str, Any]]] = {}
    ran: dict[str, set[str]] = {}
    for m in ms:
        by_solver.setdefault(m["solver"], []).append(m)
        ran.setdefault(m["instance"], set()).add(m["solver"])
    common = set(common_instances(ran, by_solver))
    wins: Counter = Counter()
    for inst in (i for i in ran if i in common):
        per: dict[str, tuple[float, float]] = {}
        for lab, lm in by_solver.items():
            mine = [m for m in lm if m["instance"] == inst]
            pis = [m["pi"] for m in mine if m["pi"] is not None]
            per[lab] = (statistics.fmean(m["gap"] for m in mine),
                        statistics.fmean(pis) if pis else math.inf)
        best_gap = min(g for g, _ in per.values())
        tied = {lab: pi for lab, (g, pi) in per.items() if g <= best_gap + WIN_TOL}
        best_pi = min(tied.values())
        for lab, pi in tied.items():
            if pi <= best_pi + WIN_TOL or math.isinf(best_pi):
                wins[lab] += 1
    rows = []
    for lab, all_lm in by_solver.items():
        lm = [m for m in all_lm if m["instance"] in common]
        recs = [m["record"] for m in lm]
        first = all_lm[0]["record"]
        pis = [m["pi"] for m in lm if m["pi"] is not None]
        runtimes = [v for v in (finite_or_none(r.runtime) for r in recs) if v is not None]
        rows.append({
            "solver": lab, "group": first.group or lab, "grid": first.group,
            "solver_name": first.solver_name, "problem_kind": pk,
            "instances": len(common), "tasks": len(lm), "other_tasks": len(all_lm) - len(lm),
            "failures": sum(m["failed"] for m in lm),
            "solved": sum(r.status == "optimal" for r in recs),
            "reached": sum(m["reached"] for m in lm), "wins": wins.get(lab, 0),
            "primal_integral_mean": statistics.fmean(pis) if pis else None,
            # every integral unknown (no incumbent times, ortools-scip): "unknown", not "-"
            "primal_integral_unknown": not pis and any(
                getattr(m["record"], "incumbents_unknown", False) for m in lm),
            "gap_sgm_percent": shifted_geomean((100.0 * m["gap"] for m in lm), GAP_SHIFT_PERCENT),
            "time_to_opt_sgm": shifted_geomean((m["t_opt"] for m in lm), TIME_SHIFT_SECONDS),
            "runtime_mean": statistics.fmean(runtimes) if runtimes else None,
        })

    def order(row: dict[str, Any]) -> tuple:
        inf = math.inf
        return (row["gap_sgm_percent"] if row["gap_sgm_percent"] is not None else inf,
                row["primal_integral_mean"] if row["primal_integral_mean"] is not None else inf,
                row["time_to_opt_sgm"] if row["time_to_opt_sgm"] is not None else inf,
                row["failures"], row["solver"])

    rows.sort(key=order)
    _number(rows, ranked=bool(common))
    return rows


def _number(rows: list[dict[str, Any]], *, ranked: bool) -> None:
    """``rank`` (None when not ranked) and ``rank_in_group``: within the labels expanded from one
    grid section (a plain label is a group of its own, even when named like another's grid)."""
    in_group: Counter = Counter()
    for n, row in enumerate(rows, start=1):
        row["rank"] = n if ranked else None
        key = ("grid", row["grid"]) if row.get("grid") else ("label", row["solver"])
        in_group[key] += 1
        row["rank_in_group"] = in_group[key] if ranked else None


def primary_metric(kind: str | None) -> Any:
    """The :class:`~solverhub.core.kinds.MetricSpec` that ranks the solvers of ``kind``: the one
    its protocol names as ``primary_metric``, else the first it declares (None: no metric)."""
    specs = metric_specs(kind)
    if not specs:
        return None
    name = _kind_protocol_attr(kind, "primary_metric")
    return next((m for m in specs if m.name == name), specs[0])


def kind_solver_summary(records: Iterable[TaskRecord | dict[str, Any]]
                        ) -> dict[str, list[dict[str, Any]]]:
    """For kinds without a primal gap: per problem kind, one row per solver label with its tasks,
    failures, mean runtime and the kind's metrics aggregated as declared (``metric_<name>``),
    ranked by the kind's primary metric (:func:`primary_metric`, aggregated as declared) over the
    instances every label of the kind ran (``other_tasks``: the rest, not ranked)."""
    out: dict[str, dict[str, list[TaskRecord]]] = {}
    recs_all = latest(records)
    by_inst: dict[str, list[TaskRecord]] = {}
    for r in recs_all:
        by_inst.setdefault(r.instance, []).append(r)
    inst_kind = {i: kind_of(rs) for i, rs in by_inst.items()}
    for r in recs_all:
        pk = inst_kind[r.instance]  # an error record may not name its kind
        if uses_primal_gap(pk):
            continue
        out.setdefault(pk, {}).setdefault(r.solver, []).append(r)
    tables: dict[str, list[dict[str, Any]]] = {}
    for pk, by_solver in out.items():
        ran: dict[str, set[str]] = {}
        for lab, recs in by_solver.items():
            for r in recs:
                ran.setdefault(r.instance, set()).add(lab)
        common = set(common_instances(ran, by_solver))
        primary = primary_metric(pk)
        rows = []
        for lab, all_recs in by_solver.items():
            recs = [r for r in all_recs if r.instance in common]
            ok = [r for r in recs if not r.failed]
            runtimes = [v for v in (finite_or_none(r.runtime) for r in recs) if v is not None]
            rows.append({"solver": lab, "group": all_recs[0].group or lab, "grid": all_recs[0].group,
                         "solver_name": all_recs[0].solver_name, "problem_kind": pk,
                         "instances": len(common), "tasks": len(recs),
                         "other_tasks": len(all_recs) - len(recs),
                         "failures": len(recs) - len(ok),
                         "primary_metric": primary.name if primary else None,
                         "runtime_mean": statistics.fmean(runtimes) if runtimes else None,
                         **_metric_columns(ok, pk)})

        def order(row: dict[str, Any]) -> tuple:
            v = row.get(METRIC_PREFIX + primary.name) if primary else None
            key = math.inf if v is None else (v if primary.better == "lower" else -v)
            return (key, row["failures"], row["runtime_mean"] or math.inf, row["solver"])

        rows.sort(key=order)
        _number(rows, ranked=bool(common) and primary is not None)
        tables[pk] = rows
    return tables


def _csv(rows: list[dict[str, Any]], fields: list[str]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    for row in rows:
        w.writerow({k: ("" if row.get(k) is None else (f"{row[k]:.10g}" if isinstance(row[k], float)
                                                      else row[k])) for k in fields})
    return buf.getvalue()


def solvers_csv(records: Iterable[TaskRecord | dict[str, Any]]) -> str:
    """``solvers.csv``: the ranked primal-gap rows, then the other kinds' rows (their metrics as
    ``metric_<name>`` columns)."""
    records = list(records)
    rows = solver_summary(records)
    for krows in kind_solver_summary(records).values():
        rows += krows
    fields = list(SOLVER_FIELDS)
    for row in rows:
        fields += [k for k in row if k.startswith(METRIC_PREFIX) and k not in fields]
    return _csv(rows, fields)


def _pi_unknown(r: dict[str, Any]) -> bool:
    """A row without a mean primal integral because its solver reports no incumbent times
    (shown "unknown", not as a missing value)."""
    return r.get("primal_integral_mean") is None and bool(r.get("primal_integral_unknown"))


def _md_pi(r: dict[str, Any]) -> str:
    """A row's mean primal integral; "unknown" where the solver reports no incumbent times."""
    return "unknown" if _pi_unknown(r) else _md_num(r.get("primal_integral_mean"))


def _md_num(v: Any, digits: int = 4) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def _md_gap(gap: float | None) -> str:
    if gap is None:
        return "-"
    return "0%" if gap < OPTIMAL_GAP else f"{100 * gap:.4g}%"  # rounding noise is no gap


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    esc = [[c.replace("|", "\\|") for c in row] for row in rows]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in esc]
    return "\n".join(lines)


def _outside_common(rows: list[dict[str, Any]]) -> list[str]:
    """Markdown lines on the tasks left out of a ranking (instances not every solver ran)."""
    apart = [r for r in rows if r.get("other_tasks")]
    unranked = any(r.get("rank") is None for r in rows)
    if not apart and not unranked:
        return []
    out = []
    if unranked:
        out.append("No instance was run by every solver of a kind: those solvers are not ranked.")
    if apart:
        out.append("Ranked over the instances every solver of the kind ran; tasks on other "
                   "instances, not ranked: " + ", ".join(f"{r['solver']} {r['other_tasks']}"
                                                         for r in apart) + ".")
    return out + [""]


def report_markdown(records: Iterable[TaskRecord | dict[str, Any]], *,
                    sources: list[str] | None = None, plots: Iterable[Path] = (),
                    environments: dict[str, dict] | None = None,
                    warnings: Iterable[str] = ()) -> str:
    """``report.md``: warnings (malformed lines, folders that disagree), the solver comparison
    (ranked), grids grouped, the per-instance detail, the other kinds' metrics, the plots, and
    where the results came from. ``warnings``: lines found while reading (see :func:`load_runs`)."""
    problems = list(warnings)
    typed = as_records(records, problems)
    recs = latest(typed)
    problems += record_warnings(typed)
    parts = ["# solverhub report", ""]
    if sources:
        parts += ["Run folders: " + ", ".join(f"`{s}`" for s in sources), ""]
    parts += [f"{len(recs)} tasks, {sum(r.failed for r in recs)} failed.", ""]
    if problems:
        parts += ["## Warnings", ""] + [f"- {w}" for w in problems] + [""]
    rows = solver_summary(recs)
    if rows:
        parts += ["## Solvers (problem kinds with a primal gap)", "",
                  f"Ranked by the shifted geometric mean of the final primal gap (percent, shift "
                  f"{GAP_SHIFT_PERCENT:g}), then the mean primal integral (normalised by the time "
                  f"limit), then the shifted geometric mean of the time to the optimal value "
                  f"(seconds, shift {TIME_SHIFT_SECONDS:g}; the time limit when never reached). "
                  f"The gap is measured to the known reference where there is one, else to the best "
                  f"objective any task found. A win: the least mean final gap over seeds on an "
                  f"instance (ties: the least primal integral).", ""]
        parts.append(_md_table(
            ["rank", "solver", "tasks", "failures", "solved", "reached opt. value", "wins",
             "mean primal integral", "final gap sgm (%)", "time to opt. sgm (s)", "mean runtime (s)"],
            [[_md_num(r["rank"]), r["solver"], str(r["tasks"]), str(r["failures"]), str(r["solved"]),
              str(r["reached"]), str(r["wins"]), _md_pi(r),
              _md_num(r["gap_sgm_percent"]), _md_num(r["time_to_opt_sgm"]),
              _md_num(r["runtime_mean"], 3)] for r in rows]))
        parts.append("")
        parts += _outside_common(rows)
        grids: dict[str, list[dict[str, Any]]] = {}
        for r in rows:  # labels expanded from a grid section only (a plain label is no grid)
            if r.get("grid"):
                grids.setdefault(f"{r['grid']}` ({r['problem_kind']})" if len(
                    {x["problem_kind"] for x in rows}) > 1 else f"{r['grid']}`", []).append(r)
        for g, rs in grids.items():
            parts += [f"### Grid `{g}", ""]
            parts.append(_md_table(
                ["rank in grid", "configuration", "wins", "mean primal integral", "final gap sgm (%)",
                 "time to opt. sgm (s)", "failures"],
                [[_md_num(r["rank_in_group"]), r["solver"], str(r["wins"]), _md_pi(r),
                  _md_num(r["gap_sgm_percent"]), _md_num(r["time_to_opt_sgm"]), str(r["failures"])]
                 for r in rs]))
            parts.append("")
    detail = summarize(recs)
    gap_rows = [r for r in detail if uses_primal_gap(r["problem_kind"])]
    if gap_rows:
        parts += ["## Per instance", ""]
        parts.append(_md_table(
            ["instance", "solver", "runs", "status", "best", "reference", "gap", "primal integral",
             "runtime (s)"],
            [[r["instance_name"], r["solver"], str(r["runs"]), r["statuses"],
              _md_num(r["objective_best"], 10),
              _md_num(r["reference"], 10) + (" (best found)" if r["reference_kind"] == "best-found"
                                             else ""),
              _md_gap(r["gap_best"]), _md_pi(r),
              _md_num(r["runtime_mean"], 3)]
             for r in gap_rows]))
        parts.append("")
    for pk, krows in kind_solver_summary(recs).items():
        names = []
        for r in krows:
            names += [k for k in r if k.startswith(METRIC_PREFIX) and k not in names]
        parts += [f"## Problem kind `{pk or 'unknown'}`", ""]
        if krows and krows[0].get("primary_metric"):
            parts += [f"Ranked by `{krows[0]['primary_metric']}`, the kind's primary metric.", ""]
        parts.append(_md_table(
            ["rank", "solver", "tasks", "failures", *(n[len(METRIC_PREFIX):] for n in names),
             "mean runtime (s)"],
            [[_md_num(r["rank"]), r["solver"], str(r["tasks"]), str(r["failures"]),
              *(_md_num(r.get(n)) for n in names), _md_num(r["runtime_mean"], 3)] for r in krows]))
        parts.append("")
        parts += _outside_common(krows)
        kdetail = [r for r in detail if r["problem_kind"] == pk]
        routed = any(r["routes"] for r in kdetail)
        parts.append(_md_table(
            ["instance", "solver", "runs", "status", *(["route"] if routed else []),
             "objective mean", *(n[len(METRIC_PREFIX):] for n in names)],
            [[r["instance_name"], r["solver"], str(r["runs"]), r["statuses"],
              *([r["routes"] or "-"] if routed else []),
              _md_num(r["objective_mean"], 8), *(_md_num(r.get(n)) for n in names)]
             for r in kdetail]))
        parts.append("")
    failed = [r for r in recs if r.status == "error"]
    if failed:
        parts += ["## Failures", ""]
        parts += [f"- {instance_label(str(r.instance))} / {r.solver} / seed "
                  f"{r.seed}: {' '.join(str(r.error or '').split())[:300]}"
                  for r in failed]
        parts.append("")
    plots = list(plots)
    if plots:
        parts += ["## Plots", ""] + [f"![{p.stem}]({p.name})" for p in plots] + [""]
    hosts = Counter((str(r.host or "?"), str(r.cpu or "?")) for r in recs)
    if hosts or environments:
        parts += ["## Where the results came from", ""]
        for (h, c), n in hosts.items():
            parts.append(f"- {n} task(s) on `{h}` ({c})")
        versions = Counter(json.dumps(r.versions, sort_keys=True) for r in recs
                           if r.versions)
        for v, n in versions.items():
            parts.append(f"- {n} task(s) with {', '.join(f'{k} {x}' for k, x in json.loads(v).items())}")
        for src, env in (environments or {}).items():
            parts.append(f"- `{src}`: runner on `{env.get('host', '?')}`, Python "
                         f"{env.get('python', '?')}, {env.get('platform', '?')} (environment.json)")
        parts.append("")
    return "\n".join(parts)


def solver_table(rows: list[dict[str, Any]], title: str | None = None):
    """A rich Table of :func:`solver_summary` rows."""
    from rich.markup import escape
    from rich.table import Table

    t = Table(title=title, header_style="bold")
    for col in ("rank", "solver", "tasks", "failures", "solved", "wins", "primal integral",
                "gap sgm (%)", "time to opt. sgm (s)"):
        t.add_column(col, justify="left" if col == "solver" else "right")
    for r in rows:
        t.add_row(_fmt(r["rank"]), escape(r["solver"]), str(r["tasks"]),
                  f"[red]{r['failures']}[/red]" if r["failures"] else "0", str(r["solved"]),
                  str(r["wins"]),
                  "unknown" if _pi_unknown(r) else _fmt(r["primal_integral_mean"], 4),
                  _fmt(r["gap_sgm_percent"], 4),
                  _fmt(r["time_to_opt_sgm"], 4))
    t.caption = (f"shifted geometric means: gap shift {GAP_SHIFT_PERCENT:g} %, time shift "
                 f"{TIME_SHIFT_SECONDS:g} s; see report.md")
    return t
