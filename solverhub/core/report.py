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
import statistics
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Iterable

from solverhub.core.config import instance_label
from solverhub.core.errors import BadInputError
from solverhub.core.result import finite_or_none, primal_gap, primal_integral

__all__ = ["load_run", "latest", "summarize", "summary_csv", "write_outputs", "summary_table",
           "SUMMARY_FIELDS"]

SUMMARY_FIELDS = [
    "instance", "instance_name", "solver", "kind", "runs", "errors", "statuses",
    "objective_mean", "objective_best", "objective_worst", "reference", "reference_kind",
    "gap_best", "primal_integral_mean", "runtime_mean", "iterations_mean", "first_error",
]


def load_run(run_dir: str | Path) -> list[dict[str, Any]]:
    """The records of a run folder's results.jsonl (BadInputError if there is none)."""
    from solverhub.core.runner import RESULTS, read_results

    d = Path(run_dir)
    if not d.exists():
        raise BadInputError(f"{run_dir}: no such folder")
    if not d.is_dir():
        raise BadInputError(f"{run_dir}: not a folder (expected a run folder with {RESULTS})")
    if not (d / RESULTS).exists():
        raise BadInputError(f"{run_dir}: no {RESULTS} here; is this a run folder?")
    return read_results(d / RESULTS)


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
            runtimes = [v for v in (finite_or_none(r.get("runtime")) for r in recs) if v is not None]
            iters = [v for v in (finite_or_none(r.get("iterations")) for r in ok) if v is not None]
            rows.append({
                "instance": inst,
                "instance_name": recs[0].get("instance_name") or instance_label(inst),
                "solver": lab,
                "kind": recs[0].get("kind", ""),
                "runs": len(recs),
                "errors": len(errors),
                "statuses": ", ".join(f"{s} x{n}" if n > 1 else str(s) for s, n in
                                      Counter(str(r.get("status")) for r in recs).items()),
                "objective_mean": statistics.fmean(objs) if objs else None,
                "objective_best": best,
                "objective_worst": worst,
                "reference": ref,
                "reference_kind": ref_kinds.get(inst, ""),
                "gap_best": primal_gap(best, ref) if ref is not None and best is not None else None,
                "primal_integral_mean": statistics.fmean(pis) if pis else None,
                "runtime_mean": statistics.fmean(runtimes) if runtimes else None,
                "iterations_mean": statistics.fmean(iters) if iters else None,
                "first_error": (errors[0].get("error") or "") if errors else "",
            })
    return rows


def summary_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=SUMMARY_FIELDS, lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow({k: ("" if row.get(k) is None else (f"{row[k]:.10g}" if isinstance(row[k], float)
                                                      else row[k])) for k in SUMMARY_FIELDS})
    return buf.getvalue()


def write_outputs(run_dir: str | Path, records: list[dict[str, Any]], *, plots: bool = True) -> list[Path]:
    """(Re)write summary.csv and the plots of a run folder; returns the files written."""
    from solverhub.core.runner import SUMMARY, atomic_write_text

    d = Path(run_dir)
    rows = summarize(records)
    atomic_write_text(d / SUMMARY, summary_csv(rows))
    written = [d / SUMMARY]
    if plots and records:
        from solverhub.core.plotting import plot_objectives, plot_primal_gap

        groups = group(records)
        refs, kinds = references(groups)
        known = {i: v for i, v in refs.items() if kinds.get(i) == "reference"}
        p = plot_primal_gap(groups, refs, d / "primal_gap.png", reference_kind=kinds)
        if p:
            written.append(p)
        p = plot_objectives(groups, d / "objective.png", references=known)
        if p:
            written.append(p)
    return written


def _fmt(v: Any, digits: int = 6) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def summary_table(rows: list[dict[str, Any]], title: str | None = None):
    """A rich Table of :func:`summarize` rows."""
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
