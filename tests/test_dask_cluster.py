"""Dask as on a cluster: a ``dask scheduler`` and two ``dask worker`` processes started separately
on 127.0.0.1, the runner pointed at the scheduler's address. A portfolio runs through them with
exactly one result per task; a worker killed mid-task loses only that task, which runs once more
on another worker; the runner killed with SIGKILL and resumed loses and duplicates nothing; Ctrl-C
records the running tasks as interrupted and resume finishes the run; an unreachable scheduler is
one error line (exit 2); a LocalCluster listens on 127.0.0.1 only."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")

from test_runner_resume import GEN, keys, kill_runner_then_resume, make_nap_dist, nap_config

from solverhub.core.config import parse_config
from solverhub.core.manager import reset_plugin_manager
from solverhub.core.runner import RESULTS, run_config
from solverhub.core.runfolder import read_results

GEN2 = "generate:set_cover?rows=30&cols=60&density=0.1&seed=2"


def _stop(procs: list[subprocess.Popen]) -> None:
    """Terminate each process group (a worker's nanny and its worker), then kill what is left."""
    for p in procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    end = time.monotonic() + 10
    for p in procs:
        try:
            p.wait(timeout=max(0.1, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(p.pid, signal.SIGKILL)  # the group: no orphaned worker either
        except ProcessLookupError:
            pass
        p.wait(timeout=10)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """(address, notes folder, env): a scheduler and two single-threaded workers with nannies,
    as separate processes bound to 127.0.0.1; a dying worker's task is retried once
    (allowed-failures = 1, as docs/cluster.md advises)."""
    base = tmp_path_factory.mktemp("cluster")
    root = make_nap_dist(base / "plug")
    notes = base / "notes"
    notes.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root),
                                                                     os.environ.get("PYTHONPATH")])),
           "NAP_DIR": str(notes), "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1"}
    env.pop("SOLVERHUB_DISABLE_PLUGINS", None)
    sched_file = base / "scheduler.json"
    procs: list[subprocess.Popen] = []

    def start(*cmd: str) -> None:
        procs.append(subprocess.Popen([sys.executable, "-m", *cmd], env=env, cwd=base,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      start_new_session=True))

    try:
        start("distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
              "--dashboard-address", "127.0.0.1:0", "--scheduler-file", str(sched_file))
        end = time.monotonic() + 60
        while not sched_file.exists():
            assert procs[0].poll() is None, "dask scheduler exited"
            assert time.monotonic() < end, "dask scheduler did not start"
            time.sleep(0.1)
        for _ in range(2):
            start("distributed.cli.dask_worker", "--scheduler-file", str(sched_file),
                  "--nworkers", "1", "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard")
        import json

        from distributed import Client

        address = json.loads(sched_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        with Client(address, timeout="30s") as c:
            c.wait_for_workers(2, timeout=60)
        sys.path.insert(0, str(root))  # the runner (this process) sees the nap solver too
        reset_plugin_manager()
        yield address, notes, env
    finally:
        _stop(procs)
        if str(root) in sys.path:
            sys.path.remove(str(root))
        sys.modules.pop("napplug", None)
        reset_plugin_manager()


def _worker_pids(address: str) -> set[int]:
    from distributed import Client

    with Client(address, timeout="30s") as c:
        return set(c.run(os.getpid).values())


def _nap_cfg(address: str, seeds: list[int], sleep: float, instances=(GEN,), time_limit=60):
    return parse_config({"name": "nap", "instances": list(instances), "seeds": seeds,
                         "time_limit": time_limit,
                         "solvers": {"nap": {"kind": "nap", "options": {"sleep": sleep}},
                                     "highs": {"kind": "highs"}},
                         "executor": {"kind": "dask", "address": address}})


def test_a_portfolio_through_a_real_cluster(tmp_path, cluster):
    address, _, _ = cluster
    cfg = _nap_cfg(address, [0, 1, 2], 0.05, instances=(GEN, GEN2))
    out = run_config(cfg, tmp_path / "dask", plots=False).out_dir
    recs = read_results(out / RESULTS)
    got = keys(out)
    assert len(got) == len(set(got)) == 12  # 2 instances x 2 solvers x 3 seeds, once each
    assert {r["status"] for r in recs} <= {"optimal", "feasible"}
    workers = _worker_pids(address)
    assert {r["pid"] for r in recs} <= workers and len({r["pid"] for r in recs}) == 2
    assert os.getpid() not in {r["pid"] for r in recs}
    # the same tasks through the local pool: the same answers (up to timing)
    local = run_config(cfg.model_copy(update={"executor": cfg.executor.model_copy(
        update={"kind": "local", "address": None, "workers": 2})}), tmp_path / "local",
        plots=False).out_dir

    def answers(d: Path) -> dict:
        return {(r["instance"], r["solver"], r["seed"]): (r["status"], r["objective"])
                for r in read_results(d / RESULTS)}

    assert answers(out) == answers(local)


def test_a_worker_killed_mid_task_loses_only_that_task(tmp_path, cluster):
    address, notes, _ = cluster
    seeds = [100, 101, 102, 103]
    cfg = _nap_cfg(address, seeds, 1.5)
    victim: dict[str, int] = {}

    def kill_first_nap() -> None:
        end = time.monotonic() + 60
        while time.monotonic() < end:
            started = sorted(notes.glob("10[0-3]-1.5"))
            if started:
                pid = int(started[0].read_text().split()[0])
                victim.update(pid=pid, seed=int(started[0].name.split("-")[0]))
                time.sleep(0.3)  # well inside its 1.5 s nap
                os.kill(pid, signal.SIGKILL)
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_first_nap, daemon=True)
    killer.start()
    summary = run_config(cfg, tmp_path / "run", plots=False)
    killer.join(timeout=60)
    assert victim, "no nap task started"
    got = keys(summary.out_dir)
    assert sorted(got) == sorted((GEN, s, seed) for s in ("nap", "highs") for seed in seeds)
    recs = {(r["solver"], r["seed"]): r for r in read_results(summary.out_dir / RESULTS)}
    assert all(r["status"] in ("optimal", "feasible") for r in recs.values()), recs
    hit = recs[("nap", victim["seed"])]
    assert hit["objective"] == 10.0 + victim["seed"] and hit["pid"] != victim["pid"]
    attempts = [int(p) for p in (notes / f"{victim['seed']}-1.5").read_text().split()]
    assert len(attempts) == 2 and attempts[0] == victim["pid"]  # retried once, elsewhere
    for seed in seeds:  # the others ran once
        if seed != victim["seed"]:
            assert len((notes / f"{seed}-1.5").read_text().split()) == 1
    # the nanny brought the killed worker back
    from distributed import Client

    with Client(address, timeout="30s") as c:
        c.wait_for_workers(2, timeout=60)


def test_a_task_whose_worker_dies_twice_is_an_infrastructure_error_and_retried(tmp_path, cluster):
    """The documented line, not ``dask: tuple: (<class 'KilledWorker'>, ...)``; then
    ``--resume --retry-errors`` runs it again."""
    address, notes, _ = cluster
    seed = 300
    cfg = parse_config({"name": "nap", "instances": [GEN], "seeds": [seed], "time_limit": 60,
                        "solvers": {"nap": {"kind": "nap", "options": {"sleep": 1.7}}},
                        "executor": {"kind": "dask", "address": address}})
    note = notes / f"{seed}-1.7"
    killed: list[int] = []

    def kill_each_attempt() -> None:
        end = time.monotonic() + 90
        while len(killed) < 2 and time.monotonic() < end:
            pids = [int(p) for p in note.read_text().split()] if note.exists() else []
            fresh = [p for p in pids if p not in killed]
            if fresh:
                time.sleep(0.2)
                os.kill(fresh[0], signal.SIGKILL)
                killed.append(fresh[0])
            time.sleep(0.02)

    killer = threading.Thread(target=kill_each_attempt, daemon=True)
    killer.start()
    summary = run_config(cfg, tmp_path / "run", plots=False)
    killer.join(timeout=90)
    assert len(killed) == 2
    (line,) = read_results(summary.out_dir / RESULTS)
    assert line["status"] == "error" and line["error_origin"] == "infrastructure"
    assert line["error"].startswith("the dask worker died while solving this task, 2 times")
    assert summary.infrastructure_errors == 1
    from distributed import Client

    with Client(address, timeout="30s") as c:  # the nannies bring both workers back
        c.wait_for_workers(2, timeout=60)
    again = run_config(cfg, summary.out_dir, resume=True, retry_errors="infrastructure",
                       plots=False)
    assert again.finished == 1 and again.records[-1].status == "feasible"


def test_dask_failures_are_unpacked_into_their_lines():
    from distributed.scheduler import KilledWorker

    from solverhub.core.runner.dask_cluster import dask_failure

    from types import SimpleNamespace

    # as_completed(raise_errors=False) gives exc_info tuples; 2 failures allowed: 3 attempts
    exc = KilledWorker("solverhub-1-0", SimpleNamespace(address="tcp://127.0.0.1:1"), 2)
    assert dask_failure((KilledWorker, exc, None)).startswith(
        "the dask worker died while solving this task, 3 times")
    assert dask_failure((ValueError, ValueError("bad\n thing"), None)) == "dask: ValueError: bad thing"
    from asyncio import CancelledError

    assert "cancelled" in dask_failure(CancelledError())


def test_dask_runner_sigkill_then_resume_is_complete(tmp_path, cluster):
    address, _, env = cluster
    cfg = nap_config(tmp_path / "c.toml", seeds=10, sleep=0.6, executor="dask", address=address)
    out = tmp_path / "run"
    kill_runner_then_resume(cfg, out, 10, env={"PYTHONPATH": env["PYTHONPATH"],
                                               "NAP_DIR": env["NAP_DIR"]})
    got = keys(out)
    assert sorted(got) == sorted((GEN, "nap", s) for s in range(10))
    assert len(got) == len(set(got))


def test_ctrl_c_of_a_dask_run_records_the_running_tasks_and_resume_finishes(tmp_path, cluster):
    """A first Ctrl-C (the stop request it makes) while two tasks run on the cluster's two workers
    and two wait: the running ones return their incumbents, recorded as interrupted; the waiting
    ones never start and get no line. The workers forget the stop: a resume on the same cluster
    runs exactly the four tasks without a final line, once each."""
    from solverhub.core.interrupt import request_stop

    address, notes, _ = cluster
    seeds = [200, 201, 202, 203]
    cfg = parse_config({"name": "nap", "instances": [GEN], "seeds": seeds, "time_limit": 120,
                        "solvers": {"nap": {"kind": "nap", "options": {"sleep": 60.5}}},
                        "executor": {"kind": "dask", "address": address}})

    def running() -> list:
        return sorted(notes.glob("20[0-3]-60.5"))

    def stop_when_two_run() -> None:
        end = time.monotonic() + 60
        while len(running()) < 2 and time.monotonic() < end:
            time.sleep(0.02)
        request_stop()  # what the runner's first SIGINT does (the CLI tests send the signal)

    stopper = threading.Thread(target=stop_when_two_run, daemon=True)
    stopper.start()
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_config(cfg, tmp_path / "run", plots=False)
    stopper.join(timeout=5)
    assert time.monotonic() - t0 < 50  # stopped, not waited out
    ran = sorted(int(p.name.split("-")[0]) for p in running())
    assert len(ran) == 2
    recs = read_results(tmp_path / "run" / RESULTS)
    assert sorted((r["seed"], r["status"], r["objective"]) for r in recs) == [
        (seed, "interrupted", 10.0 + seed) for seed in ran]

    quick = cfg.model_copy(update={"solvers": {"nap": cfg.solvers["nap"].model_copy(
        update={"options": {"sleep": 0.05}})}})
    summary = run_config(quick, tmp_path / "run", resume=True, plots=False)
    assert summary.finished == 4 and summary.skipped == 0
    last = {r["seed"]: r["status"] for r in read_results(tmp_path / "run" / RESULTS)}
    assert last == {seed: "feasible" for seed in seeds}
    assert len(read_results(tmp_path / "run" / RESULTS)) == 6
    for seed in ran:  # the stopped ones ran once; none of them was run twice by the stopped run
        assert len((notes / f"{seed}-60.5").read_text().split()) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_scheduler_is_one_error_line(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'instances = ["{GEN}"]\n[solvers.h]\nkind = "highs"\n'
                   f'[executor]\nkind = "dask"\nconnect_timeout = 1\n')
    addr = f"tcp://127.0.0.1:{_free_port()}"
    r = subprocess.run([sys.executable, "-m", "solverhub.core.cli", "run", str(cfg), "--address",
                        addr, "--out", str(tmp_path / "run")], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2
    err = r.stderr.strip().splitlines()
    assert len(err) == 1, r.stderr
    assert err[0].startswith(f"solverhub: error: cannot reach the dask scheduler at {addr} "
                             f"within 1 s")


def test_local_cluster_listens_on_localhost_only():
    from solverhub.core.runner.dask_cluster import _dask_client

    client, cluster = _dask_client(None, 1)
    try:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        assert "127.0.0.1" in cluster.dashboard_link
        for w in client.scheduler_info()["workers"]:
            assert w.startswith("tcp://127.0.0.1:")
        # a worker that dies takes its task down after one retry, not three
        assert client.run_on_scheduler(
            lambda dask_scheduler: dask_scheduler.allowed_failures) == 1
    finally:
        client.close()
        cluster.close()
