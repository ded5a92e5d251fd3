"""``report.html``: written by ``solverhub run`` and ``solverhub report``, self-contained (no
network), holding the run's numbers (the per-instance tables carry summary.csv's very strings,
the solver tables solvers.csv's, the plots' data the profiles and gaps of the records), with a
filter by kind and solver; and the same page in a real headless browser (Playwright driving the
system Chromium): it loads without console errors, draws every plot, and shows the numbers."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from solverhub.core.cli import main
from solverhub.core.report import latest, load_run, profile_measures
from solverhub.core.report_html import REPORT_HTML, metric_profile_measures, report_html
from solverhub.core.result import primal_gap

MIP = "generate:set_cover?rows=40&cols=80&density=0.1&seed=3"
BILEVEL = "bolib:DeSilva1978"  # both bilevel solvers apply to it (docs/bilevel.md)

CONFIG = f"""
name = "html-report"
instances = ["{MIP}", "{BILEVEL}"]
seeds = [0, 1]
time_limit = 1
[solvers.highs]
kind = "highs"
[solvers.scip]
kind = "ortools-scip"
[solvers.lvhba]
kind = "lv-hba"
[solvers.penalty]
kind = "bilevel-penalty"
[executor]
kind = "local"
workers = 2
"""


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> Path:
    """A real run: HiGHS and SCIP on a generated MIP, two bilevel solvers on a BOLIB problem."""
    d = tmp_path_factory.mktemp("html")
    cfg = d / "run.toml"
    cfg.write_text(CONFIG)
    out = d / "run"
    # exit 1 where a solver refuses a pairing (the MIP solvers on a bilevel problem through the
    # converter, when its objective is not linear): those are error lines the report lists
    assert main(["run", str(cfg), "--out", str(out)]) in (0, 1)
    assert (out / "summary.csv").exists()
    return out


class Page(HTMLParser):
    """Tables (rows of cells with their data attributes), checkboxes, resources, JSON data."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[dict]] = {}
        self.checkboxes: list[dict] = []
        self.external: list[tuple] = []
        self.data = ""
        self._table: str | None = None
        self._row: dict | None = None
        self._cell: dict | None = None
        self._in_data = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "link", "img", "iframe") and (a.get("src") or a.get("href")):
            self.external.append((tag, a))
        if tag == "table":
            self._table = a.get("id")
            self.tables[self._table] = []
        elif tag == "tr" and self._table and "data-solver" in a:
            self._row = {"attrs": a, "cells": {}}
        elif tag == "td" and self._row is not None:
            self._cell = a
            self._row["cells"][a["data-field"]] = {"value": a["data-value"], "text": ""}
        elif tag == "input" and a.get("type") == "checkbox":
            self.checkboxes.append(a)
        elif tag == "script" and a.get("id") == "report-data":
            self._in_data = True

    def handle_endtag(self, tag):
        if tag == "tr" and self._row is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "td":
            self._cell = None
        elif tag == "script":
            self._in_data = False

    def handle_data(self, data):
        if self._in_data:
            self.data += data
        elif self._cell is not None and self._row is not None:
            self._row["cells"][self._cell["data-field"]]["text"] += data


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def csv_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


def test_run_writes_a_self_contained_report_html(run_folder):
    path = run_folder / REPORT_HTML
    text = path.read_text(encoding="utf-8")
    page = parse(path)
    assert page.external == []  # no script, style or image fetched from anywhere
    assert "Plotly" in text and text.count("plotly.js v") >= 1  # the library, inlined
    assert len(re.findall(r"<script>", text)) == 2  # plotly once, the page's own script once
    data = json.loads(page.data)
    kinds = {c["value"] for c in page.checkboxes if c["class"] == "f-kind"}
    solvers = {c["value"] for c in page.checkboxes if c["class"] == "f-solver"}
    assert kinds == {"mip", "bilevel"} and solvers == {"highs", "scip", "lvhba", "penalty"}
    assert set(data["solvers"]) == solvers and set(data["kinds"]) == kinds


def test_per_instance_tables_hold_summary_csv(run_folder):
    page = parse(run_folder / REPORT_HTML)
    rows = csv_rows(run_folder / "summary.csv")
    html_rows = {(r["attrs"]["data-instance"], r["attrs"]["data-solver"]): r
                 for t, rs in page.tables.items() if t.startswith("instances-") for r in rs}
    assert len(html_rows) == len(rows) >= 4  # 2 instances x 2 solvers each at least
    compared = 0
    for row in rows:
        cells = html_rows[(row["instance"], row["solver"])]["cells"]
        for field, cell in cells.items():
            assert cell["value"] == row[field], (row["instance"], row["solver"], field)
            compared += 1
        # and what a person reads is that number, rounded
        best = cells["objective_best"]
        if best["value"]:
            assert float(best["text"]) == pytest.approx(float(best["value"]), rel=1e-5)
    assert compared > 30
    # the gap kind's table shows the gap; the bilevel table the kind's metrics
    assert "gap_best" in html_rows[(MIP, "highs")]["cells"]
    assert "metric_F_error" in html_rows[(BILEVEL, "lvhba")]["cells"]


def test_solver_tables_hold_solvers_csv(run_folder):
    page = parse(run_folder / REPORT_HTML)
    # a solver may have a row per problem kind (the MIP solvers reach a bilevel problem too)
    ranked = {(r["solver"], r["problem_kind"]): r for r in csv_rows(run_folder / "solvers.csv")}
    shown = page.tables["solvers-gap"] + page.tables["solvers-bilevel"]
    assert {(r["attrs"]["data-solver"], r["attrs"]["data-kind"]) for r in shown} == set(ranked)
    for r in shown:
        key = (r["attrs"]["data-solver"], r["attrs"]["data-kind"])
        for field, cell in r["cells"].items():
            assert cell["value"] == ranked[key][field], field


def test_plot_data_hold_the_profiles_and_the_gaps(run_folder):
    page = parse(run_folder / REPORT_HTML)
    data = json.loads(page.data)
    records = latest(load_run(run_folder))
    expected = {**profile_measures(records), **metric_profile_measures(records)}
    profiles = {f["title"]: f["values"] for f in data["figures"] if f["type"] == "profile"}
    assert set(profiles) == {"time to the optimal value", "primal integral", "bilevel: F_error"}
    for title, values in profiles.items():
        assert values == {s: [None if math.isinf(v) else v for v in vs]
                          for s, vs in expected[title].items()}
    gap = next(f for f in data["figures"] if f["type"] == "gap")
    ref = min(r["objective"] for r in records if r["instance"] == MIP)  # best found
    (inst,) = gap["instances"]
    assert inst["reference"] == ref and inst["reference_kind"] == "best-found"
    for task in inst["tasks"]:
        r = next(r for r in records if r["solver"] == task["solver"] and r["seed"] == task["seed"]
                 and r["instance"] == MIP)
        # a solver without incumbent times (ortools-scip) has no line, only its final answer
        final = task["end"][1] if task.get("unknown") else task["gap"][-1]
        assert final == pytest.approx(primal_gap(r["objective"], ref), abs=1e-6)
    histories = [f for f in data["figures"] if f["type"] == "history"]
    assert histories and all(f["instances"][0]["instance"] == BILEVEL for f in histories)


def test_report_command_rewrites_report_html_and_escapes_names(run_folder, tmp_path):
    recs = [dict(r) for r in load_run(run_folder)]
    for r in recs:
        r["solver"] = r["solver"] + "<b>&'\""  # a label is text, never markup
    d = tmp_path / "copy"
    d.mkdir()
    (d / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    assert main(["report", str(d)]) == 0
    text = (d / REPORT_HTML).read_text()
    before, rest = text.split('<script type="application/json" id="report-data">', 1)
    data, after = rest.split("</script>", 1)  # the data end where they should
    assert "highs<b>" not in before + after and "highs&lt;b&gt;&amp;&#x27;&quot;" in before
    assert "highs<b>&'\"" in json.loads(data)["solvers"]


def test_an_empty_run_still_has_a_page():
    text = report_html([])
    assert "0 tasks" in text and "<html" in text


# ---------------------------------------------------------------------- in a real browser
def _chromium() -> str | None:
    for path in (os.environ.get("SOLVERHUB_CHROMIUM"), "/usr/bin/chromium",
                 shutil.which("chromium"), shutil.which("chromium-browser")):
        if path and os.path.exists(path):
            return path
    return None


def test_report_html_in_a_headless_browser(run_folder):
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="the browser test needs the playwright package "
                                          "(pip install -e .[test])")
    exe = _chromium()
    if exe is None:
        pytest.skip("no Chromium installed (apt-get install chromium): the browser test of "
                    "report.html is skipped")
    rows = csv_rows(run_folder / "summary.csv")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            problems: list[str] = []
            page.on("console", lambda m: problems.append(f"{m.type}: {m.text}")
                    if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("request", lambda r: problems.append(f"request: {r.url}")
                    if not r.url.startswith(("file:", "data:", "blob:", "about:")) else None)
            page.goto((run_folder / REPORT_HTML).as_uri())
            page.wait_for_function("window.solverhubReport !== undefined", timeout=30_000)
            assert problems == []
            n_figures = page.evaluate("window.solverhubReport.figures.length")
            assert n_figures >= 5
            # every figure drawn by plotly, with lines in it
            drawn = page.evaluate("""() => window.solverhubReport.figures.map(f => {
                const div = document.getElementById(f.id);
                return [f.type, div.classList.contains('js-plotly-plot'), (div.data || []).length,
                        div.querySelectorAll('path.js-line').length]; })""")
            assert all(ok and n > 0 and lines > 0 for _, ok, n, lines in drawn), drawn
            # the tables as shown: every summary.csv row, its numbers as the page prints them
            shown = page.evaluate("""() => Array.from(document.querySelectorAll(
                'table[id^=instances-] tbody tr')).map(tr => ({
                    instance: tr.dataset.instance, solver: tr.dataset.solver,
                    visible: tr.offsetParent !== null,
                    best: tr.querySelector('td[data-field=objective_best]').innerText,
                    runtime: tr.querySelector('td[data-field=runtime_mean]').innerText}))""")
            by = {(r["instance"], r["solver"]): r for r in shown}
            assert len(by) == len(rows)
            for row in rows:
                cell = by[(row["instance"], row["solver"])]
                assert cell["visible"]
                assert float(cell["runtime"]) == pytest.approx(float(row["runtime_mean"]), rel=1e-5)
                if row["objective_best"]:
                    assert float(cell["best"]) == pytest.approx(float(row["objective_best"]),
                                                                rel=1e-5)
            # the profile plotted is Dolan-More's: each curve ends at the share of problems
            # the solver managed
            records = latest(load_run(run_folder))
            measures = profile_measures(records)["primal integral"]
            ends = page.evaluate("""() => {
                const f = window.solverhubReport.figures.find(f => f.title === 'primal integral');
                const out = {};
                document.getElementById(f.id).data.forEach(t => { out[t.name] = t.y[t.y.length - 1]; });
                return out; }""")
            assert ends == {s: pytest.approx(sum(math.isfinite(v) for v in vs) / len(vs))
                            for s, vs in measures.items()}
            # the convergence plot: the last gap of each line is the task's final gap; a solver
            # without incumbent times (ortools-scip here) has no line, only its end marker
            finals = page.evaluate("""() => {
                const f = window.solverhubReport.figures.find(f => f.type === 'gap');
                const d = document.getElementById(f.id).data;
                const lined = new Set(d.filter(t => !t.meta.end).map(t => t.name));
                return d.filter(t => lined.has(t.name) ? !t.meta.end : t.meta.end)
                    .map(t => [t.name, t.meta.seed, t.customdata[t.customdata.length - 1]]); }""")
            ref = min(r["objective"] for r in records if r["instance"] == MIP)
            assert len(finals) == 4
            for solver, seed, gap in finals:
                r = next(r for r in records if r["instance"] == MIP and r["solver"] == solver
                         and r["seed"] == seed)
                assert gap == pytest.approx(primal_gap(r["objective"], ref), abs=1e-6)
            # the filter: without scip, its rows hide and its lines leave every plot
            page.uncheck("input.f-solver[value=scip]")
            hidden = page.evaluate("""() => Array.from(document.querySelectorAll(
                'tr[data-solver=scip]')).every(tr => tr.offsetParent === null)""")
            assert hidden
            names = page.evaluate("""() => window.solverhubReport.figures.flatMap(
                f => document.getElementById(f.id).data.map(t => t.name))""")
            assert "scip" not in names and "highs" in names
            # a kind unchecked hides its section
            page.uncheck("input.f-kind[value=bilevel]")
            assert page.evaluate("""() => document.querySelector(
                'section[data-kind=bilevel]').offsetParent === null""")
            assert problems == []
        finally:
            browser.close()


def test_incumbents_unknown_shows_unknown_not_a_gap(run_folder, tmp_path):
    """A solver without incumbent times (ortools-scip): "unknown" primal integral in the tables of
    report.html and report.md, and no gap line (which would read as a 100 % gap until the end),
    only its final answer, in the convergence plot and primal_gap.png."""
    recs = [dict(r) for r in load_run(run_folder)]
    for r in recs:
        if r["solver"] == "scip":
            r["incumbents_unknown"] = True
    d = tmp_path / "unknown"
    d.mkdir()
    (d / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    assert main(["report", str(d)]) == 0
    page = parse(d / REPORT_HTML)
    for table in ("instances-gap", "solvers-gap"):
        scip_rows = [r for r in page.tables[table] if r["attrs"]["data-solver"] == "scip"]
        assert scip_rows and all(r["cells"]["primal_integral_mean"]["text"] == "unknown"
                                 for r in scip_rows)
    gap = next(f for f in json.loads(page.data)["figures"] if f["type"] == "gap")
    tasks = [t for i in gap["instances"] for t in i["tasks"] if t["solver"] == "scip"]
    assert tasks and all(t["unknown"] and t["t"] == [] and t["end"] is not None for t in tasks)
    assert "unknown" in (d / "report.md").read_text()
    assert (d / "primal_gap.png").stat().st_size > 0
