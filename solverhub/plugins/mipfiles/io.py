"""Reading and writing MIPs in MPS / LP files (gzipped too) through highspy."""

from __future__ import annotations

import gzip
import logging
import os
import re
import shutil
import tempfile
import threading
import zlib
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from solverhub.core.errors import BadInputError
from solverhub.core.mip import MAX, MIN, MIPProblem

from ._highs import LogCapture, new_highs
from .mpscheck import MpsSummary, check_mps

__all__ = ["read_mip", "write_mps", "write_lp", "instance_name", "claims", "reference_value",
           "MIP_SUFFIXES", "to_highs_lp"]

log = logging.getLogger(__name__)

#: suffixes this plugin claims (case-insensitive); ``.gz`` alone is taken to be a gzipped MPS/LP
MIP_SUFFIXES = (".mps", ".lp", ".mps.gz", ".lp.gz", ".gz")
_STRIP = (".mps.gz", ".lp.gz", ".mps", ".lp", ".gz")


def claims(source: object) -> bool:
    """True when ``source`` is a str/Path whose name ends in an MPS/LP suffix."""
    if not isinstance(source, (str, os.PathLike)):
        return False
    name = os.fspath(source).lower()
    return name.endswith(MIP_SUFFIXES)


def instance_name(path: str | os.PathLike) -> str:
    """File name without ``.mps.gz`` / ``.lp.gz`` / ``.mps`` / ``.lp`` / ``.gz``."""
    base = Path(path).name
    low = base.lower()
    for suf in _STRIP:
        if low.endswith(suf) and len(base) > len(suf):
            return base[: -len(suf)]
    return base


# ---------------------------------------------------------------------- solution files
_SOLU_CACHE: dict[tuple[str, float], dict[str, tuple[str, float | None]]] = {}
_SOLU_LOCK = threading.Lock()


def _parse_solu(path: Path) -> dict[str, tuple[str, float | None]]:
    key = (str(path), path.stat().st_mtime)
    with _SOLU_LOCK:
        if key in _SOLU_CACHE:
            return _SOLU_CACHE[key]
    table: dict[str, tuple[str, float | None]] = {}
    for line in path.read_text(errors="replace").splitlines():
        parts = line.split()
        if len(parts) < 2 or not parts[0].startswith("="):
            continue
        tag, name = parts[0].strip("="), parts[1]
        value = None
        if len(parts) >= 3:
            try:
                value = float(parts[2])
            except ValueError:
                value = None
        # =opt= beats =best= when both are listed
        if name in table and table[name][0] == "opt" and tag != "opt":
            continue
        table[name] = (tag, value)
    with _SOLU_LOCK:
        _SOLU_CACHE[key] = table
    return table


def reference_value(path: str | os.PathLike) -> tuple[str, float] | None:
    """(tag, value) of the instance from a ``*.solu`` file next to ``path`` (``miplib3.solu``
    first), for ``=opt=`` and ``=best=`` lines; None when no solution file lists it."""
    p = Path(path)
    folder = p.parent
    name = instance_name(p)
    try:
        solus = sorted(folder.glob("*.solu"), key=lambda q: (q.name != "miplib3.solu", q.name))
    except OSError:
        return None
    for solu in solus:
        try:
            entry = _parse_solu(solu).get(name)
        except OSError:
            continue
        if entry and entry[0] in ("opt", "best") and entry[1] is not None:
            return entry[0], entry[1]
    return None


# ---------------------------------------------------------------------- reading
_KIND_NAMES = {0: "continuous", 1: "integer", 2: "semi-continuous", 3: "semi-integer",
               4: "implicit integer"}


def read_mip(path: str | os.PathLike, *, reference: bool = True) -> MIPProblem:
    """Read an MPS or LP file (``.gz`` too) into a :class:`MIPProblem`.

    A damaged file is never read as some other model: gzip data is decompressed in full first
    (truncated or corrupt data is an error), MPS text goes through the strict pass of
    :mod:`.mpscheck`, any warning of HiGHS's reader is an error, and HiGHS's model must have the
    rows, columns, nonzeros and integers the strict pass counted. Each failure raises
    :class:`BadInputError` naming the file (and the line where known); so do semi-continuous
    variables and a quadratic objective. With ``reference`` the optimal or best known value from
    a ``*.solu`` file in the same folder is set as ``reference_objective``.
    """
    p = Path(path)
    if not p.exists():
        raise BadInputError(f"{path}: file not found")
    if p.is_dir():
        raise BadInputError(f"{path}: is a directory, expected an MPS or LP file")
    data, gzipped = _read_data(p, str(path))
    kind = _model_kind(p, data)
    summary = check_mps(data.decode("utf-8", "surrogateescape"), str(path)) if kind == ".mps" \
        else None
    h = new_highs()
    try:
        tmp = None
        read_path = str(p)
        if gzipped or p.suffix != kind:
            # HiGHS picks the format from the suffix and reads gzip without noticing truncation:
            # hand it the checked, decompressed text under the right suffix
            fd, tmp = tempfile.mkstemp(suffix=kind, prefix="solverhub-")
            with os.fdopen(fd, "wb") as fout:
                fout.write(data)
            read_path = tmp
        try:
            with LogCapture(h) as cap:
                status = h.readModel(read_path)
        finally:
            if tmp:
                os.unlink(tmp)
        status_name = getattr(status, "name", "")
        lines = cap.lines
        fixed = summary is not None and summary.fixed
        if fixed:
            # names with spaces: HiGHS warns that it switches to its fixed-MPS reader, as the
            # strict pass did; the cross-check below still compares the two readings
            lines = [ln for ln in lines if not _FIXED_SWITCH.search(ln)]
        said = _reader_message(lines, read_path, p.name)
        if status_name == "kError":
            raise BadInputError(f"{path}: malformed model file: "
                                f"{said or 'HiGHS could not parse it'}")
        if said or (status_name == "kWarning" and not fixed):
            # HiGHS warns and carries on (drops an entry, adds a column): never solve that model
            raise BadInputError(f"{path}: HiGHS read the file with a warning: "
                                f"{said or 'no message given'}")
        lp = h.getLp()
        if int(h.getModel().hessian_.dim_) > 0:
            raise BadInputError(f"{path}: the objective is quadratic; solverhub reads linear MIPs")
        if summary is not None:
            _cross_check(lp, summary, str(path))
        else:
            _unique_names(lp, str(path))
        problem = _from_highs_lp(lp, instance_name(p), str(path))
    finally:
        h.clear()
    if reference:
        ref = reference_value(p)
        if ref is not None:
            problem.reference_objective = float(ref[1])  # type: ignore[attr-defined]
            problem.reference_kind = ref[0]  # type: ignore[attr-defined]
    return problem


_GZIP_MAGIC = b"\x1f\x8b"
_FIXED_SWITCH = re.compile(r"switching to fixed format|so assume fixed format", re.I)


def _read_data(p: Path, shown: str) -> tuple[bytes, bool]:
    """The file's bytes, gunzipped in full when it is gzip data: (data, was_gzip).

    Decompressing everything here is what catches a truncated or corrupt ``.gz`` (HiGHS's own
    gzip stream stops quietly at the break and reads what came before as the whole model)."""
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise BadInputError(f"{shown}: cannot read the file: {e.strerror or e}") from None
    is_gz_name = p.name.lower().endswith(".gz")
    if not raw.startswith(_GZIP_MAGIC):
        if is_gz_name:
            raise BadInputError(f"{shown}: not gzip data, although the name ends in .gz")
        return raw, False
    try:
        return gzip.decompress(raw), True
    except (EOFError, OSError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
        raise BadInputError(f"{shown}: truncated or corrupt gzip data ({e})") from None


def _model_kind(p: Path, data: bytes) -> str:
    """``.mps`` or ``.lp``: from the name, else (a bare ``.gz``) from the first lines."""
    low = p.name.lower()
    for suf in (".mps", ".lp"):
        if low.endswith(suf) or low.endswith(suf + ".gz"):
            return suf
    head = data[:4096]
    is_lp = re.search(rb"(?im)^\s*(minimi[sz]e|maximi[sz]e|min|max)\b", head) and \
        not re.search(rb"(?m)^ROWS", head)
    return ".lp" if is_lp else ".mps"


def _reader_message(lines: list[str], read_path: str, shown: str) -> str:
    """HiGHS's warnings and errors from reading, one line each (the LP reader's multi-line
    messages shortened to their first line and location), temporary names replaced."""
    out: list[str] = []
    for msg in lines:
        head = msg.splitlines()[0] if msg else ""
        up = head.upper()
        if not (up.startswith("ERROR") or up.startswith("WARNING")):
            continue
        if "Parser error reading" in head and out:
            continue  # the generic closing line after a specific message
        text = head.split(":", 1)[1].strip() if ":" in head[:9] else head
        loc = re.search(r"-->\s*(\S+?):(\d+):(\d+)", msg)
        if loc:
            text += f" (line {loc.group(2)}, column {loc.group(3)})"
        out.append(text)
    said = "; ".join(out)
    for name in (read_path, os.path.basename(read_path)):
        said = said.replace(name, shown)
    return " ".join(said.split())


def _cross_check(lp, summary: MpsSummary, shown: str) -> None:
    """HiGHS's model must have what the strict pass counted; a difference means one of the two
    read the file differently, and which model is meant is then unknown."""
    kinds = [int(v) for v in lp.integrality_] if lp.integrality_ else []
    got = {"rows": int(lp.num_row_), "columns": int(lp.num_col_),
           "nonzeros": len(lp.a_matrix_.value_),
           "maximize": getattr(lp.sense_, "name", "") == "kMaximize"}
    want = {"rows": summary.rows, "columns": summary.cols, "nonzeros": summary.nonzeros,
            "maximize": summary.maximize}
    if not summary.semi:  # SC/SI columns are refused later with their own message
        got["integers"] = sum(1 for k in kinds if k in (1, 3))
        want["integers"] = summary.integers
    diff = [f"{k} {got[k]} (file: {want[k]})" for k in want if got[k] != want[k]]
    if diff:
        raise BadInputError(f"{shown}: HiGHS read a different model than the file describes: "
                            f"{', '.join(diff)}")


def _unique_names(lp, shown: str) -> None:
    """LP files: a constraint name used twice makes two rows that HiGHS keeps silently."""
    for what, names in (("constraint", lp.row_names_), ("variable", lp.col_names_)):
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise BadInputError(f"{shown}: {what} name {name!r} is used twice")
            seen.add(name)


def _from_highs_lp(lp, name: str, source: str | None) -> MIPProblem:
    n, m = int(lp.num_col_), int(lp.num_row_)
    a = lp.a_matrix_
    start = np.asarray(a.start_, dtype=np.int64)
    index = np.asarray(a.index_, dtype=np.int64)
    value = np.asarray(a.value_, dtype=np.float64)
    if getattr(a.format_, "name", "") == "kRowwise":
        A = sp.csr_matrix((value, index, start), shape=(m, n))
    else:
        if start.size == 0:
            start = np.zeros(n + 1, dtype=np.int64)
        A = sp.csc_matrix((value, index, start), shape=(m, n)).tocsr()
    if lp.integrality_:
        kinds = np.fromiter((int(v) for v in lp.integrality_), dtype=np.int64, count=n)
    else:
        kinds = np.zeros(n, dtype=np.int64)
    bad = np.flatnonzero((kinds == 2) | (kinds == 3))
    if bad.size:
        j = int(bad[0])
        cname = lp.col_names_[j] if len(lp.col_names_) > j else f"x{j}"
        raise BadInputError(f"{source or name}: column {cname!r} is {_KIND_NAMES[int(kinds[j])]}; "
                            f"semi-continuous/semi-integer variables are not supported")
    integrality = (kinds == 1) | (kinds == 4)
    sense = MAX if getattr(lp.sense_, "name", "") == "kMaximize" else MIN
    col_names = list(lp.col_names_) if len(lp.col_names_) == n else None
    row_names = list(lp.row_names_) if len(lp.row_names_) == m else None
    return MIPProblem(
        c=np.array(lp.col_cost_, dtype=np.float64), A=A,
        row_lower=np.array(lp.row_lower_, dtype=np.float64),
        row_upper=np.array(lp.row_upper_, dtype=np.float64),
        col_lower=np.array(lp.col_lower_, dtype=np.float64),
        col_upper=np.array(lp.col_upper_, dtype=np.float64),
        integrality=integrality, offset=float(lp.offset_), sense=sense, name=name,
        col_names=col_names, row_names=row_names, source=source)


# ---------------------------------------------------------------------- writing
def to_highs_lp(problem: MIPProblem):
    """A ``highspy.HighsLp`` holding ``problem`` (column-wise matrix, names, integrality)."""
    import highspy

    lp = highspy.HighsLp()
    n, m = problem.n, problem.m
    lp.num_col_ = n
    lp.num_row_ = m
    lp.col_cost_ = problem.c
    lp.col_lower_ = problem.col_lower
    lp.col_upper_ = problem.col_upper
    lp.row_lower_ = problem.row_lower
    lp.row_upper_ = problem.row_upper
    lp.offset_ = float(problem.offset)
    lp.sense_ = highspy.ObjSense.kMaximize if problem.sense == MAX else highspy.ObjSense.kMinimize
    csc = problem.A.tocsc()
    csc.sort_indices()
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.num_col_ = n
    lp.a_matrix_.num_row_ = m
    lp.a_matrix_.start_ = csc.indptr.astype(np.int32)
    lp.a_matrix_.index_ = csc.indices.astype(np.int32)
    lp.a_matrix_.value_ = csc.data.astype(np.float64)
    if problem.integrality.any():
        lp.integrality_ = [highspy.HighsVarType.kInteger if b else highspy.HighsVarType.kContinuous
                           for b in problem.integrality]
    if problem.col_names is not None:
        lp.col_names_ = [str(s) for s in problem.col_names]
    if problem.row_names is not None:
        lp.row_names_ = [str(s) for s in problem.row_names]
    lp.model_name_ = problem.name
    return lp


def _write(problem: MIPProblem, path: str | os.PathLike, fmt: str) -> Path:
    """Write through HiGHS, which picks the format from the file suffix: write ``fmt`` to a
    temporary file, then copy (gzip for a ``.gz`` name) to ``path``."""
    out = Path(path)
    if not out.parent.exists():
        raise BadInputError(f"{path}: folder {out.parent} does not exist")
    h = new_highs()
    try:
        with LogCapture(h) as cap:
            st = h.passModel(to_highs_lp(problem))
            if getattr(st, "name", "") == "kError":
                raise BadInputError(f"{problem.name}: HiGHS rejected the model: {cap.errors()}")
            fd, tmp = tempfile.mkstemp(suffix=fmt, prefix="solverhub-")
            os.close(fd)
            try:
                st = h.writeModel(tmp)
                if getattr(st, "name", "") == "kError":
                    raise BadInputError(f"{path}: HiGHS could not write the model: {cap.errors()}")
                if out.name.lower().endswith(".gz"):
                    with open(tmp, "rb") as fin, gzip.open(out, "wb") as fout:
                        shutil.copyfileobj(fin, fout)
                else:
                    shutil.copyfile(tmp, out)
            finally:
                os.unlink(tmp)
    finally:
        h.clear()
    return out


def write_mps(problem: MIPProblem, path: str | os.PathLike) -> Path:
    """Write ``problem`` as (free) MPS; a ``.gz`` name is gzipped. Returns the path."""
    return _write(problem, path, ".mps")


def write_lp(problem: MIPProblem, path: str | os.PathLike) -> Path:
    """Write ``problem`` in CPLEX LP format; a ``.gz`` name is gzipped. Returns the path."""
    return _write(problem, path, ".lp")
