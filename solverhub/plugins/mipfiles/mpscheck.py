"""A strict, one-pass check of MPS text before HiGHS reads it.

HiGHS's MPS reader is lenient: it reads a file cut short as a smaller model, turns a non-numeric
value into 0, drops entries for undeclared rows, makes a second column out of a column whose
entries come in two separate blocks and a new column out of a bound on an unknown one. This pass
turns each such defect into a :class:`BadInputError` naming ``file:line``, and returns the counts
the model must have, so that the reader can cross-check what HiGHS built.

It reads free MPS and fixed MPS whose names hold no spaces (fields separated by white space), the
sections NAME, OBJSENSE, ROWS, COLUMNS (with INTORG/INTEND markers), RHS, RANGES, BOUNDS and ENDATA,
and comment lines starting with ``*``. Anything after ENDATA is ignored, as HiGHS does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from solverhub.core.errors import BadInputError

__all__ = ["MpsSummary", "check_mps"]

#: sections HiGHS knows that describe something other than a linear MIP: refused rather than
#: dropped (HiGHS's ``getLp`` would silently leave out a Hessian, for instance)
_UNSUPPORTED = frozenset({"QSECTION", "QMATRIX", "QUADOBJ", "QCMATRIX", "CSECTION", "DELAYEDROWS",
                          "MODELCUTS", "USERCUTS", "INDICATORS", "SETS", "SOS", "GENCONS", "PWLOBJ",
                          "PWLNAM", "PWLCON"})
_SECTIONS = ("NAME", "OBJSENSE", "ROWS", "COLUMNS", "RHS", "RANGES", "BOUNDS", "ENDATA")
_MAX_WORDS = frozenset({"MAX", "MAXIMIZE", "MAXIMISE"})
_MIN_WORDS = frozenset({"MIN", "MINIMIZE", "MINIMISE"})
_ROW_TYPES = frozenset({"N", "L", "G", "E"})
#: bound types without a value (a value after them is tolerated, as HiGHS does for BV)
_NO_VALUE_BOUNDS = frozenset({"FR", "MI", "PL", "BV"})
_VALUE_BOUNDS = frozenset({"UP", "LO", "FX", "LI", "UI", "SC", "SI"})
_INT_BOUNDS = frozenset({"BV", "LI", "UI", "SI"})
_SEMI_BOUNDS = frozenset({"SC", "SI"})


@dataclass(frozen=True)
class MpsSummary:
    """What a correct reading of the file must give."""

    rows: int            #: constraint rows (the objective and any further N rows excluded)
    cols: int
    nonzeros: int        #: nonzero coefficients in constraint rows
    integers: int        #: integer columns (INTORG markers, BV, LI, UI, SI bounds)
    semi: int            #: columns with an SC or SI bound
    maximize: bool       #: OBJSENSE says MAX
    fixed: bool = False  #: read as fixed MPS (names with spaces)


def _number(tok: str, where: str, what: str, finite: bool) -> float:
    """``tok`` as a float; BadInputError for text, NaN, ``1_0`` (Python-only syntax) and, when
    ``finite``, infinite values."""
    try:
        v = float(tok)
    except ValueError:
        raise BadInputError(f"{where}: {what} is {tok!r}, not a number") from None
    if v != v or "_" in tok or (finite and (v == math.inf or v == -math.inf)):
        raise BadInputError(f"{where}: {what} is {tok!r}, not a finite number" if finite
                            else f"{where}: {what} is {tok!r}, not a number")
    return v


def check_mps(text: str, source: str) -> MpsSummary:
    """Validate MPS ``text`` (read from ``source``, used in messages) in one pass over its lines.

    Fields are taken as separated by white space (free MPS); when that fails, the text is tried
    once more as fixed MPS, fields by column position, whose names may hold spaces (HiGHS makes
    the same switch). The first failure is the one reported.

    Raises :class:`BadInputError` ``"<source>:<line>: <what>"`` for: no ENDATA (a file cut short),
    an unknown or unsupported section, sections out of order, a wrong number of fields, a
    non-numeric or non-finite value, an unknown row or bound type, a row declared twice, an entry
    for an undeclared row (COLUMNS, RHS, RANGES), a column whose entries are split into separate
    blocks, a bound on an undeclared column, a second RHS/RANGES/BOUNDS set. (A column's second
    entry for the same row is left to HiGHS, which warns about it, to keep the hot loop short.)
    """
    try:
        return _check(text, source, fixed=False)
    except BadInputError as free_error:
        try:
            return _check(text, source, fixed=True)
        except BadInputError:
            raise free_error from None


def _fixed_fields(line: str, section: str) -> list[str]:
    """The non-empty fields of a fixed-MPS data line, cut at columns 2-3, 5-12, 15-22, 25-36,
    40-47, 50-61 (a number may run on, as HiGHS's fixed reader allows)."""
    if section == "OBJSENSE" or "'MARKER'" in line:
        return line.split()
    if section == "ROWS":
        fields = [line[1:3], line[4:]]
    elif section == "BOUNDS":
        fields = [line[1:3], line[4:12], line[14:22], line[24:]]
    elif line[1:3].strip():
        return line.split()     # field 1 must be blank here: not laid out in columns
    else:
        fields = [line[4:12], line[14:22], line[24:39], line[39:47], line[49:]]
    return [f.strip() for f in fields if f.strip()]


def _check(text: str, source: str, fixed: bool) -> MpsSummary:
    rows: dict[str, str] = {}            # name -> type (N, L, G, E)
    row_line: dict[str, int] = {}
    obj: str | None = None               # the first N row is the objective, as in HiGHS
    col_line: dict[str, int] = {}        # column -> line of its block
    negative_up: dict[str, tuple[int, float]] = {}  # column -> (line, value) of an UP/UI < 0
    lower_given: set[str] = set()        # columns whose lower bound a BOUNDS line sets
    int_cols: set[str] = set()
    semi_cols: set[str] = set()
    nonzeros = 0
    maximize = False
    section = ""
    seen: set[str] = set()
    cur_col = ""
    in_int = False
    int_line = 0
    set_names: dict[str, str] = {}       # RHS / RANGES / BOUNDS -> its (one) set name
    rhs_done: set[str] = set()
    rng_done: set[str] = set()
    lineno = 0
    ended = False
    rget = rows.get

    def fail(msg: str) -> BadInputError:
        return BadInputError(f"{source}:{lineno}: malformed MPS file: {msg}")

    def one_set(sec: str, name: str) -> None:
        # several RHS/RANGES/BOUNDS vectors are legal MPS but readers differ on which counts
        first = set_names.setdefault(sec, name)
        if first != name:
            raise fail(f"second {sec} set {name!r} (the file already uses {first!r}); "
                       f"only one {sec} set is supported")

    for lineno, line in enumerate(text.split("\n"), 1):
        if not line or line[0] == "*":
            continue
        if line[0] not in " \t":                              # a section line
            words = line.split()
            if not words:
                continue
            key = words[0]
            if key in _UNSUPPORTED:
                raise fail(f"section {key} is not supported (solverhub reads linear MIPs: no "
                           f"quadratic, cone, SOS, indicator or general constraints)")
            if key not in _SECTIONS:
                raise fail(f"unknown section {key!r} (sections: {', '.join(_SECTIONS)}; data lines "
                           f"start with a space)")
            if key in seen:
                raise fail(f"section {key} appears twice")
            if in_int:
                raise fail(f"INTORG marker at line {int_line} has no INTEND")
            need = {"COLUMNS": "ROWS", "RHS": "COLUMNS", "RANGES": "COLUMNS",
                    "BOUNDS": "COLUMNS"}.get(key)
            if need and need not in seen:
                raise fail(f"section {key} before {need}")
            if key in ("NAME", "OBJSENSE") and "ROWS" in seen:
                raise fail(f"section {key} after ROWS")
            seen.add(key)
            section = key
            if key == "ENDATA":
                ended = True
                break
            if key == "OBJSENSE" and len(words) > 1:
                # HiGHS reads exactly MAX or MIN here and silently ignores any other word
                if len(words) > 2 or words[1] not in ("MAX", "MIN"):
                    raise fail(f"OBJSENSE line: expected 'OBJSENSE MAX' or 'OBJSENSE MIN', "
                               f"got {line.strip()!r}")
                maximize = words[1] == "MAX"
            continue

        toks = _fixed_fields(line, section) if fixed else line.split()
        if not toks:
            continue
        n = len(toks)
        if section == "COLUMNS":
            col = toks[0]
            if n == 3 and toks[1].strip("'") == "MARKER":
                if toks[1] != "'MARKER'":
                    # HiGHS would read an unquoted marker as a column named MARKER
                    raise fail("marker needs quotes: 'MARKER' 'INTORG' or 'MARKER' 'INTEND'")
                marker = toks[2]
                if marker == "'INTORG'":
                    if in_int:
                        raise fail(f"INTORG marker inside the INTORG block opened at line "
                                   f"{int_line}")
                    in_int, int_line = True, lineno
                elif marker == "'INTEND'":
                    if not in_int:
                        raise fail("INTEND marker without INTORG")
                    in_int = False
                else:
                    raise fail(f"unknown marker {toks[2]!r} (expected 'INTORG' or 'INTEND')")
                continue
            if n != 3 and n != 5:
                raise fail(f"COLUMNS entry needs 3 or 5 fields (column row value [row value]), "
                           f"got {n}")
            if col != cur_col:
                first = col_line.get(col)
                if first is not None:
                    raise fail(f"column {col!r} continues here after other columns (its block "
                               f"starts at line {first}): duplicate column")
                col_line[col] = lineno
                cur_col = col
                if in_int:
                    int_cols.add(col)
            # hot loop: plain lookups and float(); messages are built only on failure
            for k in (1, 3) if n == 5 else (1,):
                rtype = rget(toks[k])
                tok = toks[k + 1]
                try:
                    v = float(tok)
                except ValueError:
                    v = math.nan
                if rtype is None or v - v != 0.0 or "_" in tok:
                    row = toks[k]
                    if rtype is None:
                        raise fail(f"column {col!r}: row {row!r} is not declared in ROWS")
                    _number(tok, f"{source}:{lineno}: malformed MPS file",
                            f"coefficient of column {col!r} in row {row!r}", True)
                if v != 0.0 and rtype != "N":
                    nonzeros += 1
        elif section == "ROWS":
            if n != 2:
                raise fail(f"ROWS entry needs 2 fields (type name), got {n}")
            rtype, row = toks
            if rtype not in _ROW_TYPES:
                raise fail(f"ROWS: unknown type {rtype!r} of row {row!r} (expected N, L, G or E)")
            if row in rows:
                raise fail(f"row {row!r} is declared twice (first at line {row_line[row]})")
            rows[row] = rtype
            row_line[row] = lineno
            if rtype == "N" and obj is None:
                obj = row
        elif section == "RHS" or section == "RANGES":
            # 'set row value [row value]', or without the set name
            if n not in (2, 3, 4, 5):
                raise fail(f"{section} entry needs 3 or 5 fields (set row value [row value]), "
                           f"got {n}")
            start = n % 2
            if start:
                one_set(section, toks[0])
            done = rhs_done if section == "RHS" else rng_done
            for k in range(start, n, 2):
                row = toks[k]
                rtype = rows.get(row)
                if rtype is None:
                    raise fail(f"{section}: row {row!r} is not declared in ROWS")
                if section == "RANGES" and rtype == "N":
                    raise fail(f"RANGES: row {row!r} is an objective (N) row")
                if section == "RHS" and rtype == "N" and row != obj:
                    raise fail(f"RHS: row {row!r} is a free (N) row that is not the objective")
                if row in done:
                    raise fail(f"{section}: second value for row {row!r}")
                done.add(row)
                _number(toks[k + 1], f"{source}:{lineno}: malformed MPS file",
                        f"{section} value of row {row!r}", True)
        elif section == "BOUNDS":
            btype = toks[0]
            if btype in _NO_VALUE_BOUNDS:
                if n not in (2, 3, 4):
                    raise fail(f"{btype} bound needs 3 fields (type set column), got {n}")
                if n == 2:
                    col = toks[1]
                else:
                    one_set("BOUNDS", toks[1])
                    col = toks[2]
                if n == 4:
                    _number(toks[3], f"{source}:{lineno}: malformed MPS file",
                            f"{btype} bound of column {col!r}", False)
            elif btype in _VALUE_BOUNDS:
                if n not in (3, 4):
                    raise fail(f"{btype} bound needs 4 fields (type set column value), got {n}")
                if n == 4:
                    one_set("BOUNDS", toks[1])
                col = toks[n - 2]
                value = _number(toks[n - 1], f"{source}:{lineno}: malformed MPS file",
                                f"{btype} bound of column {col!r}", False)
                if btype in ("UP", "UI") and value < 0:
                    negative_up[col] = (lineno, value)
            else:
                raise fail(f"unknown bound type {btype!r} (expected one of UP LO FX FR MI PL BV "
                           f"LI UI SC SI)")
            if col not in col_line:
                raise fail(f"{btype} bound on column {col!r}, which is not in COLUMNS")
            if btype in ("LO", "LI", "FX", "FR", "MI", "BV"):
                lower_given.add(col)
            if btype in _INT_BOUNDS:
                int_cols.add(col)
            if btype in _SEMI_BOUNDS:
                semi_cols.add(col)
        elif section == "OBJSENSE":
            word = toks[0].upper()
            if n != 1 or (word not in _MAX_WORDS and word not in _MIN_WORDS):
                raise fail(f"OBJSENSE: expected MAX or MIN, got {line.strip()!r}")
            maximize = word in _MAX_WORDS
        elif section == "NAME":
            raise fail(f"data line before ROWS: {line.strip()[:40]!r}")
        else:
            raise fail(f"data line outside any section: {line.strip()[:40]!r}")

    if not ended:
        lineno = text.rstrip().count("\n") + 1        # the last line with content
        raise fail("the file ends without ENDATA (cut short?)")
    for col, (lineno, value) in negative_up.items():  # noqa: B007 (fail() reads lineno)
        if col not in lower_given:
            # readers disagree here (CPLEX: lower bound -inf; HiGHS: lower 0, so an empty range):
            # either reading would solve a model the author may not have meant
            raise fail(f"UP bound {value:g} < 0 on column {col!r} with no lower bound: MPS readers "
                       f"disagree on its lower bound (CPLEX takes -inf, HiGHS keeps 0, an empty "
                       f"range); state it with an LO or MI bound")
    return MpsSummary(rows=sum(1 for t in rows.values() if t != "N"), cols=len(col_line),
                      nonzeros=nonzeros, integers=len(int_cols), semi=len(semi_cols),
                      maximize=maximize, fixed=fixed)
