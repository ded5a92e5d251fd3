"""Ctrl-C during one solve: the first SIGINT stops the solver cooperatively and the best incumbent
comes back with status ``interrupted`` (exit 130 from the CLI); a second raises KeyboardInterrupt in
the solver, which ``sh.solve`` turns into an ``interrupted`` result too.

The instance is ``generate:independent_set?n_nodes=1500&seed=1``: every built-in solver finds an
incumbent within a second or two and none finishes within the 60 s limit used here, so a result
well before 60 s can only come from the interrupt."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from pydantic import BaseModel, ConfigDict

import solverhub as sh
from solverhub.core import interrupt
from solverhub.core.records import SolverSpec
from solverhub.core.result import Result, Status

from conftest import make_small_mip

HARD = "generate:independent_set?n_nodes=1500&seed=1"
LIMIT = 60.0


@pytest.fixture(scope="module")
def hard():
    return sh.load_problem(HARD)


@pytest.fixture(autouse=True)
def _no_stale_flag():
    interrupt.clear_stop()
    yield
    interrupt.clear_stop()


def _sigint_self() -> None:
    os.kill(os.getpid(), signal.SIGINT)


class _SigintAtFirstIncumbent:
    """An observer that sends SIGINT to this process once the solver has an incumbent (it runs
    inside the solve, so the solve's own handler receives the signal)."""

    def __init__(self) -> None:
        self.sent = False

    def on_incumbent(self, solver, time, objective, bound=None):
        if not self.sent:
            self.sent = True
            _sigint_self()


def _assert_interrupted_with_incumbent(res: Result, problem) -> None:
    assert res.status == Status.INTERRUPTED, (res.status, res.error)
    assert res.objective is not None and res.x is not None and res.trajectory
    assert res.info.get("verified") is True and problem.check(res.x).feasible
    assert res.objective == pytest.approx(problem.evaluate(res.x))
    assert res.runtime < LIMIT / 2  # stopped by the signal, not by the limit


# --------------------------------------------------------------------- the flag and the handler
def test_handle_sigint_first_stops_second_raises_then_restores():
    before = signal.getsignal(signal.SIGINT)
    with interrupt.handle_sigint():
        assert not interrupt.stop_requested()
        _sigint_self()
        time.sleep(0.01)  # the handler runs between bytecodes of the main thread
        assert interrupt.stop_requested()
        with pytest.raises(KeyboardInterrupt):
            _sigint_self()
            time.sleep(0.5)
    assert signal.getsignal(signal.SIGINT) is before
    assert not interrupt.stop_requested()  # cleared on exit


def test_handle_sigint_nested_keeps_the_request_for_the_outer_user():
    with interrupt.handle_sigint():
        with interrupt.handle_sigint():
            interrupt.request_stop()
        assert interrupt.stop_requested()  # the inner exit neither clears nor restores
    assert not interrupt.stop_requested()


def test_handle_sigint_outside_the_main_thread_does_nothing():
    seen = []

    def work():
        with interrupt.handle_sigint():
            seen.append(signal.getsignal(signal.SIGINT))

    before = signal.getsignal(signal.SIGINT)
    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert seen == [before]


def test_ignored_sigint_stays_ignored():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with interrupt.handle_sigint():
            _sigint_self()
            time.sleep(0.05)
            assert not interrupt.stop_requested()
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


# --------------------------------------------------------------------- sh.solve, built-in solvers
@pytest.mark.parametrize("solver", ["highs", "balans"])
def test_solve_sigint_keeps_the_incumbent(solver, hard):
    obs = _SigintAtFirstIncumbent()
    res = sh.solve(hard, solver, time_limit=LIMIT, observers=[obs])
    assert obs.sent
    _assert_interrupted_with_incumbent(res, hard)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert not interrupt.stop_requested()


@pytest.mark.parametrize("solver", ["ortools-scip", "ortools-sat"])
def test_solve_sigint_stops_ortools(solver, hard):
    # no incumbent callback here: the signal comes from a timer, after the first solution exists.
    # The main thread sits in native code that never returns to Python until the solve ends, so
    # this also tests the wakeup-fd listener of interrupt.handle_sigint
    timer = threading.Timer(3.0, _sigint_self)
    timer.start()
    try:
        res = sh.solve(hard, solver, time_limit=LIMIT)
    finally:
        timer.cancel()
    _assert_interrupted_with_incumbent(res, hard)
    assert res.info.get("stopped_by_user") is True


def test_request_stop_from_another_thread(hard):
    timer = threading.Timer(2.0, interrupt.request_stop)
    timer.start()
    res = sh.solve(hard, "highs", time_limit=LIMIT)
    timer.join()
    _assert_interrupted_with_incumbent(res, hard)
    assert not interrupt.stop_requested()  # sh.solve clears the request when it returns


def test_backend_interrupt_by_the_caller_stays_feasible(hard):
    """Only the user's stop request makes ``interrupted``: Balans's own interrupts of a sub-MIP
    (deadline, stall watchdog) still give ``feasible``."""
    from solverhub.plugins.highs.backend import HighsBackend

    b = HighsBackend(hard)
    try:
        r = b.solve(LIMIT, on_incumbent=lambda t, obj, x: True)  # stop at the first incumbent
    finally:
        b.close()
    assert r.status == Status.FEASIBLE and r.info.get("interrupted")


# --------------------------------------------------------------------- a solver that ignores the flag
class _SleepyOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer: str = "feasible"


class _Sleepy:
    """A third-party solver that knows nothing of the stop flag: it sleeps until its time limit,
    then returns (2, 0, 1), the optimum of the small MIP, as ``answer`` says."""

    def __init__(self, answer: str = "feasible") -> None:
        self.answer = answer

    def solve(self, problem, *, time_limit=None, seed=0, notifier=None):
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < (time_limit or 1.0):
            time.sleep(0.01)
        x = np.array([2.0, 0.0, 1.0])
        return Result(Status(self.answer), objective=13.0, bound=13.0, x=x,
                      trajectory=[(0.1, 13.0)])


class _SleepyPlugin:
    @sh.hookimpl
    def solverhub_solvers(self):
        return [SolverSpec("sleepy-test", "mip", _Sleepy, _SleepyOptions)]


@pytest.fixture
def sleepy():
    pm = sh.get_plugin_manager()
    pm.register_plugin(_SleepyPlugin(), name="sleepy-test-plugin")
    yield "sleepy-test"
    pm.unregister_plugin("sleepy-test-plugin")


def test_flag_ignoring_solver_result_is_interrupted(sleepy):
    threading.Timer(0.2, _sigint_self).start()
    res = sh.solve(make_small_mip(), sleepy, time_limit=1.5)
    assert res.status == Status.INTERRUPTED  # ran to its limit, but the user asked it to stop
    assert res.objective == pytest.approx(13.0) and res.info.get("verified") is True


def test_flag_ignoring_solver_proof_is_kept(sleepy):
    threading.Timer(0.2, _sigint_self).start()
    res = sh.solve(make_small_mip(), sleepy, time_limit=1.0, answer="optimal")
    assert res.status == Status.OPTIMAL and res.objective == pytest.approx(13.0)
    assert res.info.get("interrupted")


def test_second_sigint_ends_a_flag_ignoring_solver(sleepy):
    threading.Timer(0.2, _sigint_self).start()
    threading.Timer(0.5, _sigint_self).start()
    t0 = time.perf_counter()
    res = sh.solve(make_small_mip(), sleepy, time_limit=LIMIT)  # returned, not raised
    assert time.perf_counter() - t0 < LIMIT / 2
    assert res.status == Status.INTERRUPTED and res.x is None and res.objective is None
    assert res.info.get("interrupted") == "KeyboardInterrupt"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# --------------------------------------------------------------------- the CLI
def _cli_interrupted(args: list[str], wait: float = 7.0) -> tuple[int, str, str, float]:
    """Start ``solverhub solve ...``, send SIGINT after ``wait`` seconds (interpreter start-up,
    generating the instance and a first incumbent fit well within it), return its outcome."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "solverhub.core.cli", "solve", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(wait)
        assert proc.poll() is None, "the solve ended before it was interrupted"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=LIMIT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, out, err, time.perf_counter() - t0


@pytest.mark.parametrize("solver", ["highs", "balans", "ortools-scip"])
def test_cli_sigint_reports_the_incumbent_and_exits_130(solver, tmp_path):
    sol = tmp_path / "best.sol"
    rc, out, err, wall = _cli_interrupted([HARD, "--solver", solver, "--time-limit", str(LIMIT),
                                           "--json", "--solution", str(sol)])
    assert rc == 130, err
    d = json.loads(out)
    assert d["status"] == "interrupted" and d["objective"] is not None and "error" not in d
    assert d["trajectory"] and d["runtime"] < LIMIT / 2 and wall < LIMIT / 2
    assert "Traceback" not in err and "interrupted" in err
    lines = sol.read_text().splitlines()
    assert lines[0] == "# status interrupted" and float(lines[1].split()[-1]) == d["objective"]


def test_cli_sigint_table_output(tmp_path):
    rc, out, err, _ = _cli_interrupted([HARD, "--solver", "highs", "--time-limit", str(LIMIT)])
    assert rc == 130, err
    assert "interrupted" in out and "objective" in out
    assert "error" not in err and "Traceback" not in err


def test_cli_sigint_while_loading_still_prints_the_json_object(tmp_path):
    # a problem whose loading takes long: a py: callable that sleeps (consent: --allow-code)
    (tmp_path / "slow_problem.py").write_text(
        "import pathlib, time\n"
        "def make():\n"
        "    pathlib.Path('loading').write_text('')\n"
        "    time.sleep(120)\n")
    proc = subprocess.Popen([sys.executable, "-m", "solverhub.core.cli", "solve", "py:slow_problem:make",
                             "--solver", "highs", "--json", "--allow-code"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "loading").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert proc.poll() is None and (tmp_path / "loading").exists(), proc.communicate()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    d = json.loads(out)
    assert d["status"] == "interrupted" and d["objective"] is None
    assert d["instance"] == "py:slow_problem:make" and d["solver"] == "highs"
    assert "while loading" in err and "Traceback" not in err


def _wait_for(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def test_the_wakeup_listener_stops_a_solve_and_a_late_byte_stops_none_after():
    """The listener thread sets the flag from the wakeup fd alone (as when the main thread is
    inside a native solve), serves every handle_sigint of the process, and ignores a SIGINT
    byte written before the marker of the last exit (one the C handler wrote before the wakeup
    fd was unset, read only after the next handle_sigint armed the listener again)."""
    with interrupt.handle_sigint():
        listener = interrupt._WakeupListener._instance
        assert listener is not None and listener._armed
        listener._writer.send(bytes([signal.SIGINT]))  # what the C handler writes
        assert _wait_for(interrupt.stop_requested)
    assert not interrupt.stop_requested() and not listener._armed
    with interrupt.handle_sigint():
        assert interrupt._WakeupListener._instance is listener  # one thread, reused
        time.sleep(0.2)
        assert not interrupt.stop_requested()
    # a byte written before the last disarm's marker is read is stale, even while armed again
    with interrupt.handle_sigint():
        listener._disarms += 1  # a disarm whose marker the listener has not read yet
        listener._writer.send(bytes([signal.SIGINT]))
        time.sleep(0.2)
        assert not interrupt.stop_requested()
        listener._writer.send(bytes([interrupt._MARKER, signal.SIGINT]))
        assert _wait_for(interrupt.stop_requested)


def test_a_forked_child_starts_with_its_own_stop_flag_and_no_listener():
    """The listener thread does not survive a fork: the child gets a fresh flag and starts a
    listener of its own on its first handle_sigint (and the pool may fork beside the thread)."""
    with interrupt.handle_sigint():
        pass
    assert interrupt.listener_threads() == 1
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running pytest's exit handlers
        ok = interrupt.listener_threads() == 0 and not interrupt.stop_requested()
        with interrupt.handle_sigint():
            ok = ok and interrupt.listener_threads() == 1
        os.write(write, b"1" if ok else b"0")
        os._exit(0)
    os.close(write)
    try:
        assert os.read(read, 1) == b"1"
    finally:
        os.close(read)
        os.waitpid(pid, 0)
