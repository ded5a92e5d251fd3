"""The ``solverhub`` command (DESIGN.md section 5).

    solverhub plugins [--json]
    solverhub solvers [--json]
    solverhub solve PATH --solver NAME [--time-limit S] [--seed N] [--set KEY=VALUE ...] [--json]
                    [--solution FILE] [--allow-code]
    solverhub run [CONFIG.toml] [--out DIR] [--executor local|dask] [--address ADDR] [--workers N]
                  [--resume [--retry-errors [all]]] [--check] [--allow-code]
    solverhub report DIR

Exit codes: 0 when a result was produced (any status but ``error``), 2 for bad input (one line
``solverhub: error: ...`` on stderr; a run config's problems one line each), 1 otherwise, 130
when interrupted. ``--allow-code`` is the user's consent to run code that ``py:`` addresses name
(:mod:`solverhub.core.trust`). Tracebacks only with
``SOLVERHUB_DEBUG=1``. With ``--json`` stdout carries exactly one JSON object: anything a native
library prints on stdout during the solve is sent to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import sys
import time
import tomllib
import traceback
import warnings
from pathlib import Path
from typing import Any, Iterator, Sequence

from solverhub.core.errors import BadInputError, SolverhubError

__all__ = ["main", "build_parser", "parse_set_values"]

PROG = "solverhub"
EXIT_OK, EXIT_FAIL, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


def _debug() -> bool:
    return os.environ.get("SOLVERHUB_DEBUG", "").strip() not in ("", "0", "false", "no")


def _err(message: str) -> None:
    text = " ".join(str(message).split("\n")).strip() or "unknown error"
    if text.startswith(f"{PROG}: "):
        text = text[len(PROG) + 2:]
    print(f"{PROG}: error: {text}", file=sys.stderr, flush=True)


def _warn_line(message: Any, category: Any, filename: str, lineno: int, file: Any = None,
               line: Any = None) -> None:
    text = " ".join(str(message).split())
    if text.startswith(f"{PROG}: "):
        text = text[len(PROG) + 2:]
    try:
        print(f"{PROG}: warning: {text}", file=sys.stderr, flush=True)
    except Exception:  # pragma: no cover - stderr closed
        pass


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (exit 2) instead of usage + message."""

    def error(self, message: str) -> None:  # type: ignore[override]
        _err(f"{message} (see '{self.prog} --help')")
        raise SystemExit(EXIT_BAD_INPUT)


# ---------------------------------------------------------------------- helpers
def parse_set_values(items: Sequence[str] | None) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; values are TOML literals (``3``, ``0.5``, ``true``, ``[1, 2]``,
    ``"x"``), then JSON, else kept as strings. Dotted keys make nested tables."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise BadInputError(f"--set {item!r}: expected KEY=VALUE")
        value = _literal(raw.strip(), key)
        parts = key.split(".")
        node = out
        for p in parts[:-1]:
            nxt = node.setdefault(p, {})
            if not isinstance(nxt, dict):
                raise BadInputError(f"--set {item!r}: {p!r} is already set to a value")
            node = nxt
        node[parts[-1]] = value
    return out


def _literal(raw: str, key: str = "VALUE") -> Any:
    if raw == "":
        return ""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        pass
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        if raw[0] in "[{\"":
            # meant as a list, table or quoted string: a bare-string fallback would only hide
            # the typo until the option's type check
            raise BadInputError(f"--set {key}: the value is not valid JSON: {exc.msg} at column "
                                f"{exc.colno} of {raw!r} (near {raw[max(exc.pos - 8, 0):exc.pos + 8]!r})"
                                ) from None
        return raw


@contextlib.contextmanager
def _stdout_to_stderr(active: bool) -> Iterator[None]:
    """Route fd 1 (and sys.stdout) to stderr, so native libraries cannot pollute --json output."""
    if not active:
        yield
        return
    sys.stdout.flush()
    saved_fd = None
    try:
        saved_fd = os.dup(1)
        os.dup2(2, 1)
    except OSError:  # pragma: no cover - no real fds (embedded interpreters)
        saved_fd = None
    saved_obj = sys.stdout
    sys.stdout = sys.stderr
    try:
        yield
    finally:
        try:
            sys.stderr.flush()
        except Exception:  # pragma: no cover
            pass
        sys.stdout = saved_obj
        if saved_fd is not None:
            os.dup2(saved_fd, 1)
            os.close(saved_fd)


def _console(stderr: bool = False):
    from rich.console import Console

    con = Console(stderr=stderr, highlight=False, soft_wrap=False)
    if not con.is_terminal and "COLUMNS" not in os.environ:
        con = Console(stderr=stderr, highlight=False, soft_wrap=False, width=160)
    return con


def _atomic_write(path: Path, text: str) -> None:
    from solverhub.core.serialize import atomic_write_text

    if path.parent and not path.parent.exists():
        raise BadInputError(f"--solution {path}: folder {path.parent} does not exist")
    if path.is_dir():
        raise BadInputError(f"--solution {path}: is a folder")
    try:
        atomic_write_text(path, text)
    except OSError as exc:
        raise BadInputError(f"--solution {path}: cannot write: {exc.strerror or exc}") from None


def _jsonable(v: Any) -> Any:
    from solverhub.core.serialize import jsonable

    return jsonable(v)


def _type_name(ann: Any) -> str:
    if ann is None:
        return "None"
    if isinstance(ann, type):
        return ann.__name__
    return str(ann).replace("typing.", "").replace("NoneType", "None")


# ---------------------------------------------------------------------- plugins
def _kernels() -> dict[str, Any]:
    try:
        import solverhub.cython_ext as k

        status = k.extension_status()
        return {"compiled": bool(k.COMPILED), "error": k.IMPORT_ERROR,
                "extensions": {name: err is None for name, err in status.items()},
                # why each extension that is not in use is not (the NumPy reference runs instead)
                "extension_errors": {name: err for name, err in status.items() if err is not None}}
    except Exception as exc:  # pragma: no cover - the package itself is damaged
        return {"compiled": False, "error": f"{type(exc).__name__}: {exc}"}


def _devices(pm: Any) -> list[dict[str, Any]]:
    """Array devices for solvers' ``device`` option: the host's ``cpu`` and each plugin's."""
    out: list[dict[str, Any]] = [{"name": "cpu", "provider": "solverhub", "description": "NumPy on the host",
                                  "available": True, "unavailable_reason": None}]
    for name, spec in sorted(pm.array_backends().items()):
        reason = spec.unavailable_reason()
        out.append({"name": name, "provider": spec.provider, "description": spec.description,
                    "available": reason is None, "unavailable_reason": reason})
    return out


def cmd_plugins(args: argparse.Namespace) -> int:
    from solverhub.core.manager import get_plugin_manager

    pm = get_plugin_manager()
    infos = [i.to_dict() for i in pm.plugin_infos()]
    kernels = _kernels()
    devices = _devices(pm)
    if args.json:
        print(json.dumps({"plugins": infos, "kernels": kernels, "devices": devices}, default=str))
        return EXIT_OK
    from rich.table import Table

    t = Table(title="solverhub plugins", header_style="bold")
    for col in ("name", "version", "builtin", "state", "hooks", "registers"):
        t.add_column(col, overflow="fold")
    for i in infos:
        state = ("[red]broken[/red]: " + (i["error"] or "") if i["broken"] else
                 "[yellow]disabled[/yellow]" if i["disabled"] else "[green]ok[/green]")
        for c in i["conflicts"]:
            state += (f"\n[yellow]conflict[/yellow]: {c['registry']} {c['name']!r} refused, "
                      f"taken by {c['kept_from']!r}")
        regs = "; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(i["registers"].items()))
        t.add_row(i["name"], i["version"], "yes" if i["builtin"] else "no", state,
                  str(len(i["hooks"])), regs or "-")
    con = _console()
    con.print(t)
    from rich.markup import escape

    missing = kernels.get("extension_errors") or {}
    if kernels["compiled"] and not missing:
        mods = ", ".join(kernels["extensions"])
        con.print(f"kernels: [green]compiled[/green] (Cython extensions: {mods})")
    else:
        built = [n for n, ok in (kernels.get("extensions") or {}).items() if ok]
        con.print("kernels: [yellow]NumPy reference fallback[/yellow] for "
                  + "; ".join(f"{n} ({escape(str(why))})" for n, why in missing.items())
                  + (f"; compiled: {', '.join(built)}" if built else ""))

    for d in devices:  # escape: "solverhub[cuda]" is no markup tag
        state = ("[green]available[/green]" if d["available"] else
                 f"[yellow]unavailable[/yellow]: {escape(str(d['unavailable_reason']))}")
        con.print(f"device {d['name']} ({escape(d['description'])}; from {d['provider']}): {state}")
    return EXIT_OK


# ---------------------------------------------------------------------- solvers
def _options_of(spec: Any) -> dict[str, Any]:
    out = {}
    for name, f in spec.options_model.model_fields.items():
        try:
            default = f.get_default(call_default_factory=True)
        except Exception:  # pragma: no cover - a factory needing validated data
            default = None
        out[name] = {"type": _type_name(f.annotation), "default": _jsonable(default),
                     "description": f.description or ""}
    return out


def cmd_solvers(args: argparse.Namespace) -> int:
    from solverhub.core.manager import get_plugin_manager

    pm = get_plugin_manager()
    solvers: list[dict[str, Any]] = []
    for name in sorted(pm.solvers()):
        spec = pm.solvers()[name]
        reason = spec.unavailable_reason()
        solvers.append({"name": spec.name, "problem_kind": spec.problem_kind,
                        "provider": spec.provider, "description": spec.description,
                        "available": reason is None, "unavailable_reason": reason,
                        "deterministic": spec.deterministic, "options": _options_of(spec)})
    if args.json:
        print(json.dumps({"solvers": solvers}, default=str))
        return EXIT_OK
    from rich.table import Table

    t = Table(title="solverhub solvers", header_style="bold", show_lines=True)
    t.add_column("name", style="bold")
    t.add_column("kind")
    t.add_column("provider")
    t.add_column("state", overflow="fold")
    t.add_column("options (default)", overflow="fold")
    for s in solvers:
        opts = ", ".join(f"{k}={json.dumps(v['default'])}" for k, v in s["options"].items())
        state = ("[green]available[/green]" if s["available"] else
                 f"[yellow]unavailable[/yellow]: {s['unavailable_reason']}")
        t.add_row(s["name"], s["problem_kind"], s["provider"], state, opts or "-")
    _console().print(t)
    return EXIT_OK


# ---------------------------------------------------------------------- solve
class _IncumbentPrinter:
    def __init__(self, console: Any) -> None:
        self.console = console

    def on_incumbent(self, solver: str, time: float, objective: float, bound: Any = None) -> None:
        b = "" if bound is None else f"  bound {bound:.10g}"
        self.console.print(f"  [dim]{time:8.2f}s[/dim]  incumbent {objective:.10g}{b}")


def _write_solution(path: Path, problem: Any, result: Any) -> None:
    import numpy as np

    x = np.asarray(result.x, dtype=float).ravel()
    names = [(problem.column_name(j) if hasattr(problem, "column_name") else f"x{j}")
             for j in range(x.size)]
    if path.suffix.lower() == ".json":
        text = json.dumps({"status": result.status.value, "objective": result.to_dict()["objective"],
                           "solver": result.solver, "instance": result.instance,
                           "values": {n: float(v) for n, v in zip(names, x)}}, indent=1) + "\n"
    else:
        lines = [f"# status {result.status.value}", f"# objective {result.objective!r}"]
        lines += [f"{n} {float(v) + 0.0:.17g}" for n, v in zip(names, x)]
        text = "\n".join(lines) + "\n"
    _atomic_write(path, text)


class _RunStartCapture:
    """Keeps the problem the solver is given (the one load, made inside ``solve``) and prints
    its summary as the solve starts."""

    def __init__(self, console: Any, solver: str) -> None:
        self.console, self.solver, self.problem = console, solver, None

    def on_run_start(self, solver: str, problem: Any, options: dict) -> None:
        self.problem = problem
        if self.console is not None:
            summary = problem.summary() if hasattr(problem, "summary") else repr(problem)
            self.console.print(f"[bold]{self.solver}[/bold] on {summary}")


def cmd_solve(args: argparse.Namespace) -> int:
    from solverhub.core.api import solve

    if args.allow_code:
        _allow_code()
    options = parse_set_values(args.set)
    if args.solution is not None:
        sol = Path(args.solution)
        if sol.is_dir():
            raise BadInputError(f"--solution {sol}: is a folder")
        if not sol.parent.exists():
            raise BadInputError(f"--solution {sol}: folder {sol.parent} does not exist")
    con = None if args.json else _console()
    with _stdout_to_stderr(args.json):
        # solve() validates the options (before loading), loads and checks the problem: once each
        capture = _RunStartCapture(con, args.solver)
        observers: list[Any] = [capture]
        if con is not None and con.is_terminal:
            observers.append(_IncumbentPrinter(con))
        # the time limit covers the command from its call: reading the problem and verifying the
        # solution included
        try:
            result = solve(args.path, args.solver, time_limit=args.time_limit, seed=args.seed,
                           options=options, observers=observers,
                           started_at=getattr(args, "started_at", None))
        except KeyboardInterrupt:
            if capture.problem is not None:  # pragma: no cover - solve() handles Ctrl-C itself
                raise
            result = None  # Ctrl-C while loading: under --json still one JSON object
        problem = capture.problem
    if result is None:
        return _interrupted_while_loading(args)
    result.instance = args.path
    d = result.to_dict(include_x=True)  # the solution travels with the JSON (x in the kind's order)
    tb = (d.get("info") or {}).pop("traceback", None)
    if tb and _debug():
        print(tb, file=sys.stderr)
    if args.solution is not None:
        if result.x is not None and result.status.value != "error":
            _write_solution(Path(args.solution), problem, result)
        else:
            warnings.warn(f"no solution to write to {args.solution} (status {result.status.value})", stacklevel=2)
    if args.json:
        print(json.dumps(d, default=str, allow_nan=False))
    else:
        _print_result(con, d, result)
    if result.status.value == "error":
        if not args.json:
            _err(d.get("error") or "the solver failed")
        return EXIT_FAIL
    if result.status.value == "interrupted":  # Ctrl-C: the incumbent was reported, exit 130
        print(f"{PROG}: interrupted: " + ("the best solution found is reported" if result.x is not None
                                          else "no solution was found"), file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    return EXIT_OK


def _interrupted_while_loading(args: argparse.Namespace) -> int:
    from solverhub.core.result import Result, Status

    result = Result(Status.INTERRUPTED, info={"interrupted": "Ctrl-C while loading the problem"})
    result.solver, result.instance = args.solver, args.path
    if args.json:
        print(json.dumps(result.to_dict(), default=str, allow_nan=False), flush=True)
    print(f"{PROG}: interrupted while loading {args.path}: no solution", file=sys.stderr,
          flush=True)
    return EXIT_INTERRUPTED


def _print_result(con: Any, d: dict[str, Any], result: Any) -> None:
    from rich.table import Table

    colour = {"optimal": "green", "feasible": "cyan", "time_limit": "yellow",
              "iteration_limit": "yellow", "infeasible": "magenta", "unbounded": "magenta",
              "interrupted": "yellow", "error": "red"}.get(d["status"], "white")
    t = Table(show_header=False, box=None, pad_edge=False)
    t.add_column(style="bold")
    t.add_column()
    t.add_row("status", f"[{colour}]{d['status']}[/{colour}]  "
                        f"[dim](termination {d['termination']}, solution {d['solution_status']})[/dim]")

    def num(v: Any) -> str:
        return "-" if v is None else f"{v:.10g}"

    t.add_row("objective", num(d["objective"]))
    t.add_row("bound", num(d["bound"]))
    gap = result.gap
    if gap is not None and math.isfinite(gap):
        t.add_row("gap", f"{100 * gap:.4g}%")
    if d.get("info", {}).get("verification"):
        # the kind's own check of the reported point (e.g. a continuous kind's constraint
        # violation): an objective is only meaningful beside its feasibility
        t.add_row("check", str(d["info"]["verification"]))
    t.add_row("runtime", f"{d['runtime']:.3f} s")
    t.add_row("iterations", str(d["iterations"]))
    if d.get("primal_integral") is not None:
        t.add_row("primal integral", f"{d['primal_integral']:.4f}")
    t.add_row("incumbents", str(len(d["trajectory"])))
    t.add_row("solver", d["solver"])
    t.add_row("instance", d["instance"])
    if d.get("conversion"):
        conv = d["conversion"]
        t.add_row("solved as", f"{conv['target_kind']} (converter {conv['converter']}, result "
                               f"mapped back to {conv['source_kind']})")
    if d.get("route"):
        route = d["route"]
        t.add_row("route", f"{route['name']} ({route['solver']}): {route['reason']}")
    for c in d.get("corrections") or []:
        t.add_row("corrected", f"{c['field']}: reported {c['reported']}, recomputed "
                               f"{c['recomputed']} ({c['reason']})")
    # the kind's residuals and errors: what says whether the answer can be trusted
    for name, value in sorted((d.get("metrics") or {}).items()):
        if isinstance(value, (int, float)):
            t.add_row(name.replace("_", " "), f"{value:.4g}")
    warning = (d.get("info") or {}).get("warning")
    if warning:
        t.add_row("warning", f"[yellow]{warning}[/yellow]")
    if d.get("error"):
        t.add_row("error", f"[red]{d['error']}[/red]")
    con.print(t)


# ---------------------------------------------------------------------- run
def _RichProgress(console: Any) -> Any:
    """The run's progress display (core/progress.py): live on a terminal, plain lines otherwise."""
    from solverhub.core.progress import RunProgress

    return RunProgress(console)


def _allow_code() -> None:
    """--allow-code: the user consents to code named by addresses, here and in worker processes."""
    from solverhub.core.trust import ENV_ALLOW, allow_code

    allow_code(True)
    os.environ[ENV_ALLOW] = "1"


def cmd_run(args: argparse.Namespace) -> int:
    import shlex

    from solverhub.core.config import load_config, quickstart_config
    from solverhub.core.report import solver_summary, solver_table, summarize, summary_tables
    from solverhub.core.runner import CONFIG, RunInterrupted, run_config

    if args.workers is not None and args.workers < 1:
        raise BadInputError(f"--workers must be at least 1, got {args.workers}")
    if args.address and args.executor not in (None, "dask"):
        raise BadInputError("--address needs --executor dask")
    executor = "dask" if args.address and args.executor is None else args.executor
    if args.allow_code:
        _allow_code()
    check = {"load_instances": bool(args.check)}
    if args.config is not None:
        cfg = load_config(args.config, **check)
        cfg_name: str | None = args.config
    elif args.resume:
        # resuming a folder: its own config.toml, never the quickstart
        if args.out is None:
            raise BadInputError("--resume needs --out DIR (the run folder to continue) or a CONFIG")
        folder = Path(args.out)
        if not folder.is_dir():
            raise BadInputError(f"{folder}: nothing to resume (no such folder)")
        if not (folder / CONFIG).is_file():
            raise BadInputError(f"{folder}: nothing to resume (no {CONFIG} in it)")
        # a run folder someone hands over cannot grant consent to run code: only the user can
        cfg = load_config(folder / CONFIG, grant_code=False, **check)
        cfg_name = None
    else:
        cfg = quickstart_config(**check)
        cfg_name = None
    if args.allow_code:
        cfg = cfg.model_copy(update={"allow_code": True})
    if args.retry_errors and not args.resume:
        raise BadInputError("--retry-errors needs --resume (it runs a run folder's failed tasks "
                            "again)")
    if args.resume and args.out is None and not cfg.output.dir:
        raise BadInputError("--resume needs --out DIR (the run folder to continue)")
    if args.check:
        return _print_task_table(cfg)
    con = _console()
    con.print(f"[bold]{cfg.name}[/bold]: {len(cfg.instances)} instance(s) x {len(cfg.solvers)} "
              f"solver(s) x {len(cfg.seeds)} seed(s), time limit "
              f"{'none' if cfg.time_limit is None else f'{cfg.time_limit:g} s'} per task")
    progress = _RichProgress(con)
    try:
        # no --out: run_config creates a new folder ([output] dir, or runs/<name>-<timestamp>)
        summary = run_config(cfg, args.out, resume=args.resume, executor=executor,
                             address=args.address, workers=args.workers, progress=progress,
                             retry_errors=args.retry_errors)
    except RunInterrupted as exc:
        again = " ".join(["solverhub", "run"] + ([shlex.quote(cfg_name)] if cfg_name else [])
                         + ["--out", shlex.quote(str(exc.out_dir)), "--resume"])
        _err(f"interrupted; finished tasks are in {exc.out_dir}; continue with: {again}")
        return EXIT_INTERRUPTED
    rows = summarize(summary.records)
    for table in summary_tables(rows, title=f"{cfg.name}: {summary.out_dir}"):
        con.print(table)
    ranked = solver_summary(summary.records)
    if len(ranked) > 1:
        con.print(solver_table(ranked, title="solvers, ranked"))
    con.print(f"run folder: {summary.out_dir}  (results.jsonl, summary.csv, config.toml, plots)")
    if summary.errors:
        _err(f"{summary.errors} of {summary.finished} task(s) ended with an error; see "
             f"{summary.out_dir / 'results.jsonl'}")
        if summary.infrastructure_errors:
            again = " ".join(["solverhub", "run"] + ([shlex.quote(cfg_name)] if cfg_name else [])
                             + ["--out", shlex.quote(str(summary.out_dir)), "--resume",
                                "--retry-errors"])
            _err(f"{summary.infrastructure_errors} of them lost to a worker or the cluster, not "
                 f"to the solver; run them again with: {again}")
        return EXIT_FAIL
    return EXIT_OK


def _print_task_table(cfg: Any) -> int:
    """``run --check``: the config is valid and every instance loaded; print the tasks."""
    from rich.table import Table

    from solverhub.core.runner import make_tasks
    from solverhub.core.trust import code_allowed

    with code_allowed(cfg.allow_code):
        tasks = make_tasks(cfg)
    t = Table(title=f"{cfg.name}: {len(tasks)} task(s); every instance loaded", show_lines=False)
    for col in ("instance", "solver", "solver name", "seed", "time limit", "options"):
        t.add_column(col)
    for task in tasks:
        t.add_row(task.instance, task.solver, task.solver_name, str(task.seed),
                  "none" if task.time_limit is None else f"{task.time_limit:g} s",
                  json.dumps(task.options, default=str) if task.options else "")
    _console().print(t)
    return EXIT_OK


# ---------------------------------------------------------------------- tune
class TuneProgress:
    """Progress of ``solverhub tune``: on a terminal a rich live bar per phase (the held-back
    prefix, the tuned sequence, the hindsight brute force) with the elapsed and remaining time,
    the running total cost and the last choice, the tuned steps printed above it; otherwise one
    plain line per tuned step (about 20 per brute-force phase), for logs and ``tail -f``."""

    def __init__(self, console: Any, parameter: str, cost: str) -> None:
        self.console, self.parameter, self.cost = console, parameter, cost
        self.live = bool(console.is_terminal)
        self.bar: Any = None
        self.tasks: dict[str, Any] = {}
        self.total_cost = 0.0

    def __enter__(self) -> "TuneProgress":
        if self.live:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(TextColumn("{task.description:<10}"), BarColumn(),
                                MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                                TextColumn("{task.fields[note]}"), console=self.console,
                                transient=False)
            self.bar.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.stop()

    def __call__(self, phase: str, k: int, total: int, rec: dict) -> None:
        from rich.markup import escape

        value = rec["value"]
        setting = rec.get("setting") or {}
        shown = "default" if value is None else f"{value:.4g}"
        if len(setting) > 1:  # a product space: the arm's option values
            shown += " (" + ", ".join(f"{k}={v:.4g}" for k, v in setting.items()) + ")"
        line = (f"{phase} {k}/{total}  {self.parameter}={shown}  {self.cost}={rec['cost']:.6g}  "
                f"[{rec['status']}]  {escape(str(rec['instance']))}")
        if phase == "tune":
            self.total_cost += float(rec["cost"])
        if self.bar is None:
            if phase == "tune" or not k % max(1, total // 20) or k == total:
                self.console.print(line)  # a brute-force phase prints about 20 lines
            return
        note = (f"total {self.cost} {self.total_cost:.6g}, last {self.parameter}={shown}"
                if phase == "tune" else f"last {self.parameter}={shown}: {rec['cost']:.4g}")
        if phase not in self.tasks:
            self.tasks[phase] = self.bar.add_task(phase, total=total, completed=0, note="")
        self.bar.update(self.tasks[phase], completed=k, note=escape(note))
        if phase == "tune":
            self.bar.console.print(line)


def cmd_tune(args: argparse.Namespace) -> int:
    """``solverhub tune CONFIG.toml [--out DIR] [--resume]``: online tuning across a sequence."""
    import shlex

    from solverhub.core.tuning import TUNE_CONFIG, TuneInterrupted, parse_tune_config, plot_tune_report, run_tune

    path = Path(args.config)
    if not path.is_file():
        raise BadInputError(f"{path}: file not found")
    text = path.read_text(encoding="utf-8")
    cfg = parse_tune_config(text, source=str(path))
    if args.resume and not args.out:
        raise BadInputError("--resume needs --out DIR (the tune folder to continue)")
    out = Path(args.out) if args.out else Path("runs") / f"{cfg.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    if args.resume and (out / TUNE_CONFIG).is_file() and \
            (out / TUNE_CONFIG).read_text(encoding="utf-8") != text:
        raise BadInputError(f"{out}: was started with another config ({out / TUNE_CONFIG}); "
                            "resume with that one or start a new folder")
    con = _console()
    t = cfg.tune
    con.print(f"[bold]{cfg.name}[/bold]: tuning {t.solver}'s {t.parameter.name} with {t.tuner} "
              f"over {len(t.sequence.addresses())} instance(s), cost {t.cost}")

    progress = TuneProgress(con, t.parameter.name, t.cost)
    try:
        with progress:
            report = run_tune(cfg, out, config_text=text, resume=args.resume, progress=progress)
    except TuneInterrupted:
        again = " ".join(["solverhub", "tune", shlex.quote(str(path)), "--out",
                          shlex.quote(str(out)), "--resume"])
        _err(f"interrupted; finished steps are in {out}; continue with: {again}")
        return EXIT_INTERRUPTED
    plot_tune_report(report, out / "regret.png")
    if "selection" in report:
        sel = report["selection"]
        con.print(f"chosen on the {sel['prefix_steps']} held-back instance(s): {report['tuner']} "
                  f"{json.dumps(report['tuner_params'])}; best fixed there {t.parameter.name}="
                  f"{sel['prefix_best_fixed_value']:.4g}")
    con.print(f"total {t.cost}: {report['tuner']} {report['tuner_total']:.6g}")
    if "best_fixed_total" in report:
        if t.parameter.kind == "product":
            con.print(f"  best fixed combination: {t.parameter.settings(report['best_fixed_value'])}")
        if len(report["compare_steps"]) < report["steps"]:
            con.print(f"compared on {len(report['compare_steps'])} of {report['steps']} instances "
                      f"(every {t.hindsight_every}): {t.tuner} {report['tuner_compare_total']:.6g}")
        dv = report["default_value"]
        con.print(f"  default {t.parameter.name}={'unset' if dv is None else f'{dv:.4g}'}: "
                  f"{report['default_total']:.6g} (tuner/default {report['ratio_to_default']:.3f})")
        con.print(f"  best fixed in hindsight {t.parameter.name}={report['best_fixed_value']:.4g}: "
                  f"{report['best_fixed_total']:.6g} (tuner/best fixed "
                  f"{report['ratio_to_best_fixed']:.3f})")
        con.print(f"  instance-optimal: {report['instance_optimal_total']:.6g} (tuner/instance-"
                  f"optimal {report['ratio_to_instance_optimal']:.3f})")
        if "replay_total" in report:
            con.print(f"  the same tuner replayed over the brute-force costs: "
                      f"{report['replay_total']:.6g} (replay/best fixed "
                      f"{report['replay_ratio_to_best_fixed']:.3f}; the comparison at equal "
                      "conditions for timed costs)")
        if "prefix_fixed_total" in report:
            con.print(f"  best fixed on the prefix {t.parameter.name}="
                      f"{report['prefix_fixed_value']:.4g} (offline tuning): "
                      f"{report['prefix_fixed_total']:.6g} (tuner/prefix-fixed "
                      f"{report['ratio_to_prefix_fixed']:.3f})")
    con.print(f"tuner overhead per decision: {report['tuner_seconds_per_decision'] * 1e3:.3f} ms "
              f"(mean solve {report['solve_seconds_per_step'] * 1e3:.3f} ms)")
    con.print(f"tune folder: {out}  (tune.jsonl, hindsight.jsonl, report.json, regret.png)")
    return EXIT_OK


# ---------------------------------------------------------------------- report
def cmd_report(args: argparse.Namespace) -> int:
    from solverhub.core.report import (
        load_runs,
        record_warnings,
        solver_summary,
        solver_table,
        summarize,
        summary_tables,
        write_outputs,
    )

    dirs = list(args.dirs)
    if len(set(dirs)) != len(dirs):
        raise BadInputError("a run folder is given twice")
    problems: list[str] = []
    # BadInputError naming a folder that is not a run folder; lines that are no task records named
    records, envs = load_runs(dirs, problems)
    for w in problems + record_warnings(records):
        _warn_line(w, UserWarning, "", 0)
    if args.out is not None:
        out = Path(args.out)
    elif len(dirs) == 1:
        out = Path(dirs[0])
    else:
        raise BadInputError("several run folders: say where the combined report goes with --out DIR")
    if out.exists() and not out.is_dir():
        raise BadInputError(f"{out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    written = write_outputs(out, records, sources=dirs, environments=envs, warnings=problems)
    con = _console()
    if not records:
        con.print(f"{', '.join(dirs)}: no finished tasks yet")
        return EXIT_OK
    title = ", ".join(dirs)
    for table in summary_tables(summarize(records), title=title):
        con.print(table)
    ranked = solver_summary(records)
    if ranked:
        con.print(solver_table(ranked, title="solvers, ranked"))
    con.print("wrote " + ", ".join(str(p) for p in written))
    return EXIT_OK


# ---------------------------------------------------------------------- parser / main
def _positive_float(s: str) -> float:
    from solverhub.core.timing import parse_time_limit

    try:
        return parse_time_limit(s, "time limit")
    except BadInputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    from solverhub import __version__

    p = _Parser(prog=PROG, description="Optimization methods from recent research as plugins "
                                        "on one host.")
    p.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    sp = sub.add_parser("plugins", help="list plugins, what they register, broken ones")
    sp.add_argument("--json", action="store_true", help="machine-readable output")
    sp.set_defaults(func=cmd_plugins)

    sp = sub.add_parser("solvers", help="list solvers with their options and defaults")
    sp.add_argument("--json", action="store_true", help="machine-readable output")
    sp.set_defaults(func=cmd_solvers)

    sp = sub.add_parser("solve", help="solve one problem")
    sp.add_argument("path", metavar="PATH", help="MPS/LP file (gzipped too) or an address "
                                                 "like generate:set_cover?rows=200&seed=1")
    sp.add_argument("--solver", required=True, metavar="NAME", help="a name from 'solverhub solvers'")
    sp.add_argument("--time-limit", type=_positive_float, default=None, metavar="S")
    sp.add_argument("--seed", type=int, default=0, metavar="N")
    sp.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a solver option; VALUE is a TOML/JSON literal or a string (repeatable)")
    sp.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    sp.add_argument("--solution", metavar="FILE", default=None,
                    help="write the solution (name value lines, or JSON for *.json)")
    sp.add_argument("--allow-code", action="store_true",
                    help="consent to run the Python code a py: address names")
    sp.set_defaults(func=cmd_solve)

    sp = sub.add_parser("run", help="run a TOML config (default: the packaged quickstart)")
    sp.add_argument("config", nargs="?", metavar="CONFIG.toml", default=None)
    sp.add_argument("--out", metavar="DIR", default=None,
                    help="run folder (default runs/<name>-<YYYYmmdd-HHMMSS>)")
    sp.add_argument("--executor", choices=("local", "dask"), default=None)
    sp.add_argument("--address", metavar="ADDR", default=None, help="dask scheduler address")
    sp.add_argument("--workers", type=int, metavar="N", default=None)
    sp.add_argument("--resume", action="store_true",
                    help="skip the tasks already in DIR/results.jsonl")
    sp.add_argument("--check", action="store_true",
                    help="dry run: check the config, load every instance once, print the tasks")
    sp.add_argument("--allow-code", action="store_true",
                    help="consent to run the Python code that py: instances name")
    sp.add_argument("--retry-errors", nargs="?", const="infrastructure", default=None,
                    choices=("infrastructure", "all"), metavar="WHICH",
                    help="with --resume: run again the tasks that failed for want of a worker "
                         "(died, hung, lost by the cluster: the default), or 'all' failed tasks")
    sp.set_defaults(func=cmd_run)

    sp = sub.add_parser("tune", help="tune a solver option online across an instance sequence")
    sp.add_argument("config", metavar="CONFIG.toml", help="a config with a [tune] section")
    sp.add_argument("--out", metavar="DIR", default=None,
                    help="tune folder (default runs/<name>-<YYYYmmdd-HHMMSS>)")
    sp.add_argument("--resume", action="store_true",
                    help="replay DIR/tune.jsonl into the tuner and continue")
    sp.set_defaults(func=cmd_tune)

    sp = sub.add_parser("report", help="tables, report.md, report.html, CSV and plots from run folders")
    sp.add_argument("dirs", metavar="DIR", nargs="+", help="run folder(s); several are combined")
    sp.add_argument("--out", metavar="OUT", default=None,
                    help="where the report goes (default: DIR itself; required for several DIRs)")
    sp.set_defaults(func=cmd_report)
    return p


def _setup_diagnostics() -> None:
    if not _debug():
        warnings.showwarning = _warn_line
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    from solverhub.core.options import OptionRenamedWarning

    # an option given by its old name: the user should see the new one
    warnings.filterwarnings("default", category=OptionRenamedWarning)
    root = logging.getLogger()
    if not root.handlers:
        h = logging.StreamHandler(sys.stderr)
        h.setFormatter(logging.Formatter(f"{PROG}: %(levelname)s: %(message)s"))
        root.addHandler(h)
        root.setLevel(logging.DEBUG if _debug() else logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``solverhub`` script; returns the exit code. A ``--time-limit`` counts
    from this call (not from the process's start: a long-running process may call it late)."""
    started_at = time.perf_counter()
    with warnings.catch_warnings():
        return _main(argv, started_at)


def _main(argv: Sequence[str] | None, started_at: float | None = None) -> int:
    try:
        _setup_diagnostics()
        parser = build_parser()
        try:
            args = parser.parse_args(list(argv) if argv is not None else None)
        except SystemExit as exc:  # --help, --version, usage errors
            return int(exc.code or 0) if not isinstance(exc.code, str) else EXIT_BAD_INPUT
        if getattr(args, "func", None) is None:
            parser.print_help()
            return EXIT_BAD_INPUT
        args.started_at = time.perf_counter() if started_at is None else started_at
        try:
            return args.func(args)
        except BadInputError as exc:
            for line in getattr(exc, "problems", None) or [str(exc)]:  # one line per problem
                _err(line)
            return EXIT_BAD_INPUT
        except KeyboardInterrupt:
            _err("interrupted")
            return EXIT_INTERRUPTED
        except BrokenPipeError:  # e.g. `solverhub solvers | head`
            with contextlib.suppress(Exception):
                sys.stdout = open(os.devnull, "w")
            return EXIT_FAIL
        except SolverhubError as exc:
            if _debug():
                traceback.print_exc()
            _err(str(exc))
            return EXIT_FAIL
        except Exception as exc:
            if _debug():
                traceback.print_exc()
            _err(f"internal error: {type(exc).__name__}: {exc} (set SOLVERHUB_DEBUG=1 for a "
                 f"traceback)")
            return EXIT_FAIL
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED


def _script() -> None:  # pragma: no cover - console entry when run as a module
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    _script()
