"""Shared test helpers: the ../shared data folder, MIPLIB 3 instances, small in-memory MIPs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

#: ../shared relative to the repository root (read-only project material, not in the repo)
SHARED_DIR = Path(__file__).resolve().parents[1].parent / "shared"
MIPLIB_DIR = SHARED_DIR / "data" / "miplib3"


def shared_path(*parts: str) -> Path:
    """A path under ../shared; the test is skipped with a clear message when it is absent."""
    p = SHARED_DIR.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"shared data {p} is not present (expected ../shared next to the repository)")
    return p


def miplib(name: str) -> Path:
    """Path of MIPLIB 3 instance ``name`` (``.mps.gz``); skips the test when it is absent."""
    return shared_path("data", "miplib3", f"{name}.mps.gz")


def miplib_solu() -> dict[str, float]:
    """name -> optimal / best known value from miplib3.solu."""
    table: dict[str, float] = {}
    for line in shared_path("data", "miplib3", "miplib3.solu").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] in ("=opt=", "=best="):
            table[parts[1]] = float(parts[2])
    return table


def miplib_set(which: str) -> list[str]:
    """Instance names of the ``easy`` or ``hard`` set listed in the miplib3 README."""
    text = shared_path("data", "miplib3", "README.md").read_text()
    marker = f"**{which}**"
    start = text.index(marker)
    body = text[start:].split(":", 1)[1]
    for stop in ("\n- ", "\n\n"):
        end = body.find(stop)
        body = body if end < 0 else body[:end]
    return [w for w in body.split() if (MIPLIB_DIR / f"{w}.mps.gz").exists()]


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED_DIR.exists():
        pytest.skip(f"shared data folder {SHARED_DIR} is not present")
    return SHARED_DIR


def make_small_mip():
    """max 5a + 4b + 3c  s.t.  2a + 3b + c <= 5,  4a + b + 2c <= 11,  3a + 4b + 2c <= 8,
    a, b integer in [0, 10], c continuous >= 0.  Optimum 13 at (2, 0, 1)."""
    from solverhub.core.mip import MAX, MIPProblem

    A = sp.csr_matrix(np.array([[2.0, 3.0, 1.0], [4.0, 1.0, 2.0], [3.0, 4.0, 2.0]]))
    return MIPProblem(c=np.array([5.0, 4.0, 3.0]), A=A, row_lower=np.full(3, -np.inf),
                      row_upper=np.array([5.0, 11.0, 8.0]), col_lower=np.zeros(3),
                      col_upper=np.array([10.0, 10.0, np.inf]),
                      integrality=np.array([True, True, False]), sense=MAX, name="small",
                      col_names=["a", "b", "c"], row_names=["r1", "r2", "r3"])


@pytest.fixture
def small_mip():
    return make_small_mip()


@pytest.fixture(autouse=True)
def _interrupt_state_left_by_a_test(request):
    """Each test starts with a clean Ctrl-C state: no stop request, no open ``handle_sigint``, the
    SIGINT handler and signal wakeup fd it found. What a test leaves behind (a stop request not
    cleared or set late by a thread it started, a handler or wakeup fd not restored, a solver
    thread still running) is repaired where it can be and named in a warning, so that it cannot
    break the next test (full runs had unexplained failures around SIGINT)."""
    import signal
    import threading
    import warnings

    from solverhub.core import interrupt

    interrupt.clear_stop()
    handler = signal.getsignal(signal.SIGINT)
    threads = set(threading.enumerate())
    yield
    left = []
    if interrupt.stop_requested():
        interrupt.clear_stop()
        left.append("a stop request set (cleared)")
    if interrupt._depth != 0:
        left.append(f"handle_sigint open (depth {interrupt._depth}; reset)")
        interrupt._depth = 0
    if signal.getsignal(signal.SIGINT) is not handler:
        left.append(f"SIGINT handler {signal.getsignal(signal.SIGINT)!r} (restored)")
        signal.signal(signal.SIGINT, handler)
    wakeup = signal.set_wakeup_fd(-1)
    if wakeup != -1:
        left.append(f"signal wakeup fd {wakeup} (unset)")
    own = ("Dask", "Thread-", "solverhub-sigint")  # pools' and the process's Ctrl-C listener
    running = [t.name for t in threading.enumerate()
               if t not in threads and t.is_alive() and not t.name.startswith(own)]
    if running:
        left.append(f"threads still running: {', '.join(sorted(running))}")
    if left:
        warnings.warn(f"{request.node.nodeid} left {'; '.join(left)}", stacklevel=1)


def isotropic_relu_problem(n: int, d: int, seed: int = 0):
    """A squared-loss ReLU training problem on isotropic d-dimensional data (effective dimension
    about d): the convex ReLU route and polish tests' high-dimension case."""
    from solverhub.plugins.convex_relu.problem import ReLUTraining, sample_patterns

    rng = np.random.default_rng(seed)
    X = np.hstack([rng.standard_normal((n, d - 1)), np.ones((n, 1))])
    y = np.maximum(X @ rng.standard_normal((d, 3)), 0.0) @ np.array([1.0, -1.0, 0.5])
    y -= y.mean()
    gates, D = sample_patterns(X, 8, 0)
    return ReLUTraining(X, y, beta=1e-2, gates=gates, patterns=D, name="isotropic")
