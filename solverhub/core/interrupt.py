"""Cooperative Ctrl-C: one process-wide stop flag that solvers poll.

The first Ctrl-C (SIGINT) during :func:`handle_sigint` only *asks* the running solver to stop, so
that it can return its best incumbent (status ``interrupted``), as Gurobi's Python API does; a second
Ctrl-C raises :class:`KeyboardInterrupt` at once (the escape hatch for a solver that does not stop).

Solvers and backends call :func:`stop_requested` from their loops and native callbacks. The flag is
process-wide: a request stops every solve running in the process (any thread).

Python runs signal handlers only in the main thread and only between bytecodes, so a native solve
without callbacks (SCIP through OR-Tools) would not see the first Ctrl-C until it ended. A small
thread therefore also listens on the signal wakeup fd and sets the flag as soon as SIGINT arrives.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
from typing import Any, Iterator

__all__ = ["stop_requested", "request_stop", "clear_stop", "handle_sigint", "reset_after_fork",
           "listener_threads"]

_STOP = threading.Event()
_LOCK = threading.Lock()
_depth = 0  # nesting depth of handle_sigint in the main thread


def stop_requested() -> bool:
    """True once a stop was requested (first Ctrl-C or :func:`request_stop`) and not cleared."""
    return _STOP.is_set()


def request_stop() -> None:
    """Ask running solves to stop and return what they have; safe from any thread."""
    _STOP.set()


def clear_stop() -> None:
    """Forget a stop request (the outermost :func:`handle_sigint` does this on exit)."""
    _STOP.clear()


def reset_after_fork() -> None:
    """In a process forked from one inside :func:`handle_sigint`: drop the inherited Ctrl-C state
    (nesting depth, stop flag, the parent's signal wakeup fd) so this process starts clean."""
    global _depth
    with contextlib.suppress(ValueError, OSError):
        signal.set_wakeup_fd(-1)
    _depth = 0
    _STOP.clear()


@contextlib.contextmanager
def handle_sigint() -> Iterator[None]:
    """For the duration: first SIGINT -> :func:`request_stop`, second -> ``KeyboardInterrupt``.

    Only in the main thread (the only one Python delivers signals to); elsewhere it does nothing.
    Nested uses are no-ops, so that an outer user (the runner's loop) still sees the request after an
    inner ``solve`` returns. The outermost one restores the previous handler and clears the flag on
    exit. A SIGINT that was ignored (``SIG_IGN``, e.g. in background jobs) stays ignored.
    """
    global _depth
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    with _LOCK:
        outer = _depth == 0
        _depth += 1
    previous: Any = None
    installed = False
    listener: _WakeupListener | None = None
    try:
        if outer:
            previous = signal.getsignal(signal.SIGINT)
            if previous is not signal.SIG_IGN:
                count = 0

                def _on_sigint(signum: int, frame: Any) -> None:
                    nonlocal count
                    count += 1
                    if count > 1:
                        raise KeyboardInterrupt
                    request_stop()

                signal.signal(signal.SIGINT, _on_sigint)
                installed = True
                listener = _WakeupListener.start()
        yield
    finally:
        with _LOCK:
            _depth -= 1
        if outer:
            if listener is not None:
                listener.stop()
            if installed:
                signal.signal(signal.SIGINT, previous if previous is not None
                              else signal.default_int_handler)
            clear_stop()


_MARKER = 0  # no signal has number 0


class _WakeupListener:
    """Sets the stop flag from a thread when SIGINT arrives, via ``signal.set_wakeup_fd`` (the C-level
    handler writes the signal number there at once, whatever the main thread is doing).

    One listener thread serves the whole process and outlives each :func:`handle_sigint`: starting
    and joining a thread per solve cost 5-10 ms per call, and up to 0.1 s on a loaded machine,
    which a small problem's whole solve can take. Between uses the wakeup fd is unset and the
    listener is disarmed; each disarm also writes a marker byte, and a SIGINT byte read before the
    marker of the last disarm is stale, so a late byte cannot stop the next solve.
    """

    _instance: "_WakeupListener | None" = None

    def __init__(self, reader: socket.socket, writer: socket.socket) -> None:
        self._reader, self._writer = reader, writer
        self._armed = False
        self._disarms = 0  # markers written (main thread) ...
        self._markers_read = 0  # ... and read (listener thread)
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._listen, name="solverhub-sigint", daemon=True)

    @classmethod
    def start(cls) -> "_WakeupListener | None":
        """Arm the process's listener (created on first use, and again in a forked child, which
        inherits no threads) as the signal wakeup fd; None when another owner (an asyncio loop)
        holds the wakeup fd or the platform has none."""
        listener = cls._instance
        if listener is None or listener._pid != os.getpid() or not listener._thread.is_alive():
            reader, writer = socket.socketpair()
            writer.setblocking(False)
            listener = cls(reader, writer)
            listener._thread.start()
            cls._instance = listener
        try:
            old = signal.set_wakeup_fd(listener._writer.fileno(), warn_on_full_buffer=False)
        except (ValueError, OSError):  # pragma: no cover - no wakeup fd on this platform
            return None
        if old != -1:  # someone else (an asyncio loop) owns the wakeup fd: leave it to them
            signal.set_wakeup_fd(old)
            return None
        listener._armed = True
        return listener

    def _listen(self) -> None:
        while True:
            try:
                data = self._reader.recv(64)
            except OSError:
                return
            if not data:
                return
            for byte in data:
                if byte == _MARKER:
                    self._markers_read += 1
                elif (byte == signal.SIGINT and self._armed
                      and self._markers_read == self._disarms):
                    request_stop()

    def stop(self) -> None:
        """Disarm: unset the wakeup fd; the thread stays, blocked on the socket, for the next use."""
        self._armed = False
        signal.set_wakeup_fd(-1)
        self._disarms += 1
        try:
            self._writer.send(bytes([_MARKER]))
        except OSError:  # the buffer is full (nothing drains it): the next use starts a new listener
            type(self)._instance = None


def listener_threads() -> int:
    """Threads of this module alive in this process (0 or 1: the Ctrl-C listener), which a fork
    may ignore: it holds no lock while it waits, and a forked child starts its own state
    (:func:`_after_fork_in_child`)."""
    listener = _WakeupListener._instance
    return int(listener is not None and listener._pid == os.getpid() and listener._thread.is_alive())


def _after_fork_in_child() -> None:
    """A forked child inherits neither the listener thread nor a consistent stop flag (the
    listener may have held the flag's lock at the fork): give it fresh ones."""
    global _STOP
    _STOP = threading.Event()
    _WakeupListener._instance = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
