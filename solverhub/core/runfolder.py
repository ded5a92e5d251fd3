"""The run-folder format, in one place (DESIGN.md section 5): the file names, reading and appending
``results.jsonl``, and loading a run folder. The runner writes run folders and the report reads
them; both import this module, and neither imports the other at module level.

    <run folder>/config.toml     the resolved config
                 results.jsonl   one JSON object per finished task, appended, flushed, fsync'd
                 summary.csv     one row per instance x solver label
                 environment.json  the runner's environment, written once (see core/provenance.py)
                 *.png           plots
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

from solverhub.core.errors import BadInputError

if TYPE_CHECKING:
    from solverhub.core.taskrecord import TaskRecord

__all__ = ["RESULTS", "CONFIG", "SUMMARY", "INFLIGHT", "ENVIRONMENT", "read_results", "read_task_records",
           "ResultWriter", "load_run"]

log = logging.getLogger(__name__)

RESULTS = "results.jsonl"
CONFIG = "config.toml"
SUMMARY = "summary.csv"
ENVIRONMENT = "environment.json"
#: the sequential runner's note of the task in flight (attempt count), see runner.py
INFLIGHT = ".inflight.json"


def read_task_records(path: str | Path, *, repair: bool = False,
                      problems: list[str] | None = None) -> list["TaskRecord"]:
    """The lines of a ``results.jsonl`` as :class:`~solverhub.core.taskrecord.TaskRecord` (lines
    written before it, with the solver name under ``kind``, included). A line that is JSON but not
    a task record (``{}``, a missing seed ...) is left out and named (file and line) in
    ``problems`` when given, else in a logged warning; see :func:`read_results` for the rest."""
    from solverhub.core.taskrecord import MalformedRecordError, TaskRecord

    out: list[TaskRecord] = []
    for n, d in _numbered_results(path, repair=repair):
        try:
            out.append(TaskRecord.from_dict(d, where=f"{path} line {n}"))
        except MalformedRecordError as exc:
            if problems is not None:  # the caller reports it
                problems.append(f"{exc}; skipped")
            else:
                log.warning("%s; skipped", exc)
    return out


def read_results(path: str | Path, *, repair: bool = False) -> list[dict[str, Any]]:
    """The JSON objects of a ``results.jsonl``, as written (see :func:`read_task_records` for the
    typed form)."""
    return [d for _, d in _numbered_results(path, repair=repair)]


def _numbered_results(path: str | Path, *, repair: bool = False) -> list[tuple[int, dict[str, Any]]]:
    """The records of a ``results.jsonl``. A truncated last line (a killed run) is skipped and,
    with ``repair``, cut from the file so that appending stays valid; a corrupt line elsewhere is
    skipped with a warning."""
    p = Path(path)
    if not p.exists():
        return []
    raw = p.read_bytes()
    complete_len = raw.rfind(b"\n") + 1  # bytes up to and including the last newline
    records: list[tuple[int, dict[str, Any]]] = []

    def parse(chunk: bytes) -> dict[str, Any] | None:
        try:
            rec = json.loads(chunk)
        except (ValueError, UnicodeDecodeError):
            return None
        return rec if isinstance(rec, dict) else None

    lines = raw[:complete_len].split(b"\n")[:-1]
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        rec = parse(line)
        if rec is None:
            log.warning("%s: line %d is not a JSON object; skipped", p, n)
            continue
        records.append((n, rec))
    tail = raw[complete_len:]
    if tail.strip():
        rec = parse(tail)
        if rec is not None:
            records.append((len(lines) + 1, rec))
            if repair:
                with open(p, "ab") as fh:
                    fh.write(b"\n")
                    fh.flush()
                    os.fsync(fh.fileno())
        else:
            log.warning("%s: ignoring a truncated last line", p)
            if repair:
                with open(p, "r+b") as rw:
                    rw.truncate(complete_len)
                    rw.flush()
                    os.fsync(rw.fileno())
    return records


class ResultWriter:
    """Appends one JSON line per finished task: written and fsync'd at once.

    Unbuffered (one ``os.write`` per line on an ``O_APPEND`` descriptor): nothing waits in a
    buffer, so a process forked from the runner (a pool worker) can never write a line twice, and
    a forked process closes its copy of the descriptor at once (see :func:`_forget_in_child`), so
    that only the runner holds the folder's lock."""

    def __init__(self, path: Path, *, exclusive: bool = False) -> None:
        self.path = path
        # exclusive: FileExistsError when the file exists (the folder holds a run already)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | (os.O_EXCL if exclusive else 0)
        self._fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0), 0o666)
        _OPEN_WRITERS.add(self)

    def lock(self) -> bool:
        """Take an exclusive lock on the file for as long as it is open (released by the OS even
        when the process is killed); False when another process holds it."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no lock
            return True
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def write(self, record: dict[str, Any]) -> None:
        if self._fd < 0:
            raise ValueError(f"{self.path}: the result writer is closed")
        data = memoryview((json.dumps(record, default=str, allow_nan=False) + "\n").encode("utf-8"))
        while data:  # a regular file takes it in one write; loop in case it does not
            data = data[os.write(self._fd, data):]
        os.fsync(self._fd)

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        _OPEN_WRITERS.discard(self)
        if fd >= 0:
            os.close(fd)

    def _forget_in_child(self) -> None:
        # the child's copy only: the runner's descriptor and lock stay as they are
        fd, self._fd = self._fd, -1
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> "ResultWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:  # as a file object would: no descriptor outlives its writer
        with contextlib.suppress(Exception):
            self.close()


#: the writers open in this process; a forked child drops its copies of their descriptors
_OPEN_WRITERS: weakref.WeakSet[ResultWriter] = weakref.WeakSet()


def _forget_writers_in_child() -> None:
    for writer in list(_OPEN_WRITERS):
        writer._forget_in_child()
    _OPEN_WRITERS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_writers_in_child)


def load_run(run_dir: str | Path, problems: list[str] | None = None) -> list["TaskRecord"]:
    """The records of a run folder's results.jsonl (BadInputError if there is none); lines that
    are not task records are left out and named in ``problems`` (see :func:`read_task_records`)."""
    d = Path(run_dir)
    if not d.exists():
        raise BadInputError(f"{run_dir}: no such folder")
    if not d.is_dir():
        raise BadInputError(f"{run_dir}: not a folder (expected a run folder with {RESULTS})")
    if not (d / RESULTS).exists():
        raise BadInputError(f"{run_dir}: no {RESULTS} here; is this a run folder?")
    return read_task_records(d / RESULTS, problems=problems)
