"""Strict model reading: a damaged MPS/LP file (gzipped or not) is a bad-input error naming the
file and the line or name, never a smaller or different model that gets solved."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import solverhub as sh
from solverhub.core.cli import main
from solverhub.core.errors import BadInputError
from solverhub.core.mip import MAX, MIN
from solverhub.plugins.mipfiles import io as mipio
from solverhub.plugins.mipfiles.mpscheck import MpsSummary, check_mps

from conftest import MIPLIB_DIR, miplib

# min x + 2y  s.t.  c1: x + y <= 4,  c2: 1 <= x (+ range 3),  x integer in [0, 3]; optimum 1
GOOD_MPS = """\
* a small valid model
NAME          TINY
ROWS
 N  obj
 L  c1
 G  c2
COLUMNS
    MARKER                 'MARKER'                 'INTORG'
    x         obj       1.0          c1        1.0
    x         c2        1.0
    MARKER                 'MARKER'                 'INTEND'
    y         obj       2.0          c1        1.0
RHS
    RHS       c1        4.0          c2        1.0
RANGES
    RNG       c2        3.0
BOUNDS
 UP BND       x         3.0
ENDATA
"""


def edit(old: str, new: str) -> str:
    assert old in GOOD_MPS, old
    return GOOD_MPS.replace(old, new, 1)


X_LINE = "    x         obj       1.0          c1        1.0"
Y_LINE = "    y         obj       2.0          c1        1.0"

# (id, file text, words the message must contain: the line as 'file:N' and the culprit)
DAMAGED_MPS = [
    ("non-numeric", edit(X_LINE, "    x         obj       abc          c1        1.0"),
     [":9:", "'abc'", "'x'"]),
    ("nan", edit("    x         c2        1.0", "    x         c2        nan"), [":10:", "'nan'"]),
    ("infinite-coefficient", edit("    x         c2        1.0", "    x         c2        1e400"),
     [":10:", "'1e400'", "finite"]),
    ("python-only-number", edit("    x         c2        1.0", "    x         c2        1_0"),
     [":10:", "'1_0'"]),
    ("undeclared-row-columns", edit(Y_LINE, "    y         obj       2.0          c9        1.0"),
     [":12:", "'c9'", "not declared"]),
    ("undeclared-row-rhs", edit("    RHS       c1        4.0", "    RHS       c7        4.0"),
     [":14:", "'c7'", "not declared"]),
    ("undeclared-row-ranges", edit("    RNG       c2        3.0", "    RNG       c8        3.0"),
     [":16:", "'c8'", "not declared"]),
    ("range-on-objective", edit("    RNG       c2        3.0", "    RNG       obj       3.0"),
     [":16:", "'obj'"]),
    ("duplicate-column", edit(Y_LINE + "\n", Y_LINE + "\n    x         c1        5.0\n"),
     [":13:", "'x'", "duplicate column", "line 9"]),
    ("bound-on-unknown-column", edit(" UP BND       x         3.0", " UP BND       z         3.0"),
     [":18:", "'z'", "not in COLUMNS"]),
    ("duplicate-row", edit(" G  c2\n", " G  c2\n L  c1\n"), [":7:", "'c1'", "twice", "line 5"]),
    ("unknown-row-type", edit(" G  c2", " Q  c2"), [":6:", "'Q'", "'c2'"]),
    ("unknown-bound-type", edit(" UP BND", " XX BND"), [":18:", "'XX'"]),
    ("unknown-section", edit("BOUNDS\n", "BOUNDZ\n"), [":17:", "'BOUNDZ'", "unknown section"]),
    ("columns-field-count", edit("    x         c2        1.0", "    x         c2        1.0  c1"),
     [":10:", "3 or 5 fields", "got 4"]),
    ("rows-field-count", edit(" G  c2", " G  c2 extra"), [":6:", "2 fields"]),
    ("missing-endata", GOOD_MPS.replace("ENDATA\n", ""), [":18:", "ENDATA"]),
    ("cut-in-columns", GOOD_MPS[: GOOD_MPS.index(Y_LINE)], [":11:", "ENDATA"]),
    ("unquoted-marker", edit("'MARKER'                 'INTORG'", "MARKER  INTORG"),
     [":8:", "quotes"]),
    ("intend-without-intorg", edit("    MARKER                 'MARKER'                 'INTORG'\n",
                                   ""), [":10:", "INTEND"]),
    ("objsense-word-highs-ignores", edit("ROWS\n", "OBJSENSE MAXIMIZE\nROWS\n"),
     [":3:", "OBJSENSE MAXIMIZE"]),
    ("quadratic-section", edit("ENDATA", "QUADOBJ\n    x  x  1.0\nENDATA"),
     [":19:", "QUADOBJ", "not supported"]),
    ("second-rhs-set", edit("    RHS       c1        4.0          c2        1.0",
                            "    RHS       c1        4.0\n    RHS2      c2        1.0"),
     [":15:", "'RHS2'"]),
    # left to HiGHS's reader, whose warning becomes the error
    ("duplicate-entry", edit("    x         c2        1.0", "    x         c2        1.0  c2  2.0"),
     ["warning", "\"x\"", "\"c2\""]),
]


def cli(*args: object) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("SOLVERHUB_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "solverhub.core.cli", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=300)


def assert_cli_bad_input(path: Path, words: list[str], capsys) -> str:
    """``solverhub solve PATH --solver highs --json`` (in-process): exit 2, nothing on stdout,
    one line ``solverhub: error: ...`` naming the file and ``words``."""
    code = main(["solve", str(path), "--solver", "highs", "--json"])
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert out.strip() == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("solverhub: error: "), err
    assert path.name in lines[0], lines[0]
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


def test_good_file_reads_and_solves(tmp_path, capsys):
    f = tmp_path / "good.mps"
    f.write_text(GOOD_MPS)
    p = sh.load_problem(f)
    assert (p.m, p.n, p.A.nnz, int(p.integrality.sum())) == (2, 2, 3, 1)
    assert list(p.row_lower) == [-float("inf"), 1.0] and list(p.row_upper) == [4.0, 4.0]
    assert main(["solve", str(f), "--solver", "highs", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["status"] == "optimal" and res["objective"] == pytest.approx(1.0)


@pytest.mark.parametrize("text,words", [pytest.param(t, w, id=i) for i, t, w in DAMAGED_MPS])
def test_damaged_mps_is_bad_input(tmp_path, capsys, text, words):
    f = tmp_path / "damaged.mps"
    f.write_text(text)
    with pytest.raises(BadInputError) as exc:
        sh.load_problem(f)
    msg = str(exc.value)
    assert "damaged.mps" in msg and all(w in msg for w in words), msg
    line = assert_cli_bad_input(f, words, capsys)
    assert msg in line
    # gzipped the same: same message (the file name aside)
    g = tmp_path / "damaged.mps.gz"
    g.write_bytes(gzip.compress(text.encode()))
    with pytest.raises(BadInputError) as exc:
        sh.load_problem(g)
    assert str(exc.value) == msg.replace("damaged.mps", "damaged.mps.gz")


def test_damaged_mps_through_the_installed_cli(tmp_path):
    """The real command in a fresh process: exit 2, one line, no traceback."""
    f = tmp_path / "nonnum.mps"
    f.write_text(DAMAGED_MPS[0][1])
    r = cli("solve", f, "--solver", "highs", "--json")
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stdout == "" and "Traceback" not in r.stderr
    assert r.stderr.strip().startswith("solverhub: error: ") and "nonnum.mps:9:" in r.stderr


@pytest.mark.parametrize("solver", ["highs", "balans"])
def test_solve_api_refuses_a_damaged_file(tmp_path, solver):
    f = tmp_path / "undeclared.mps"
    f.write_text(DAMAGED_MPS[4][1])
    with pytest.raises(BadInputError, match=r"undeclared\.mps:12: .*'c9'"):
        sh.solve(f, solver=solver, time_limit=5)


@pytest.mark.parametrize("objsense,sense", [("OBJSENSE\n    MAX\n", MAX),
                                            ("OBJSENSE\n    MAXIMIZE\n", MAX),
                                            ("OBJSENSE MAX\n", MAX),
                                            ("OBJSENSE\n    MINIMIZE\n", MIN)])
def test_accepted_forms(tmp_path, objsense, sense):
    """Valid variants read as the file says: both OBJSENSE forms, an objective constant in RHS,
    bound types, set names left out, tabs, comments and text after ENDATA."""
    text = edit("ROWS\n", objsense + "ROWS\n")
    text = text.replace("    RHS       c1        4.0          c2        1.0",
                        "    RHS       c1        4.0          c2        1.0\n"
                        "    RHS       obj       -2.5")
    text = text.replace(" UP BND       x         3.0",
                        " UP BND       x         3.0\n* comment\n MI BND y\n UP\tBND\ty\t7")
    text = text.replace("ENDATA\n", "ENDATA\nanything after ENDATA is ignored\n")
    f = tmp_path / "forms.mps"
    f.write_text(text)
    p = sh.load_problem(f)
    assert p.sense == sense and p.offset == pytest.approx(2.5)
    assert p.col_lower[1] == -float("inf") and p.col_upper[1] == 7.0


FIXED_MPS = """\
NAME          FIXED
ROWS
 N  COST
 L  LIM 1
 G  LIM 2
COLUMNS
    MARKER    'MARKER'                 'INTORG'
    X ONE     COST         1.0         LIM 1        1.0
    X ONE     LIM 2        1.0
    MARKER    'MARKER'                 'INTEND'
    Y TWO     COST         2.0         LIM 1        1.0
RHS
    RHS       LIM 1        4.0         LIM 2        1.0
BOUNDS
 UP BND       X ONE        3.0
ENDATA
"""


def test_fixed_mps_with_spaces_in_names(tmp_path):
    f = tmp_path / "fixed.mps"
    f.write_text(FIXED_MPS)
    p = sh.load_problem(f)
    assert p.col_names == ["X ONE", "Y TWO"] and p.row_names == ["LIM 1", "LIM 2"]
    assert list(p.integrality) == [True, False] and p.col_upper[0] == 3.0


def test_fixed_mps_that_highs_reads_differently(tmp_path):
    """Markers outside fixed MPS's columns: HiGHS's fixed reader takes them for columns named
    MARKER; the counts differ, so the file is refused."""
    f = tmp_path / "fixed.mps"
    moved = FIXED_MPS.replace("    MARKER    'MARKER'   ", "    MARKER               'MARKER'")
    assert moved != FIXED_MPS
    f.write_text(moved)
    with pytest.raises(BadInputError, match=r"fixed\.mps: HiGHS read a different model.*columns 4"):
        sh.load_problem(f)


def test_disagreement_with_highs_is_an_error(tmp_path, monkeypatch):
    """Should the strict pass and HiGHS ever count differently, the file is refused."""
    f = tmp_path / "good.mps"
    f.write_text(GOOD_MPS)
    real = mipio.check_mps

    def off_by_one(text: str, source: str) -> MpsSummary:
        s = real(text, source)
        return MpsSummary(rows=s.rows, cols=s.cols + 1, nonzeros=s.nonzeros, integers=s.integers,
                          semi=s.semi, maximize=s.maximize)

    monkeypatch.setattr(mipio, "check_mps", off_by_one)
    with pytest.raises(BadInputError, match=r"good\.mps: HiGHS read a different model.*columns 2 "
                                            r"\(file: 3\)"):
        sh.load_problem(f)


def test_check_mps_counts():
    s = check_mps(GOOD_MPS, "x.mps")
    assert s == MpsSummary(rows=2, cols=2, nonzeros=3, integers=1, semi=0, maximize=False)


# ---------------------------------------------------------------------- gzip
def test_truncated_gzip(tmp_path, capsys):
    data = gzip.compress(GOOD_MPS.encode())
    for name in ("cut.mps.gz", "cut.gz"):
        f = tmp_path / name
        f.write_bytes(data[: len(data) // 2])
        with pytest.raises(BadInputError, match=rf"{name}: truncated or corrupt gzip data"):
            sh.load_problem(f)
        assert_cli_bad_input(f, ["truncated or corrupt gzip data"], capsys)


def test_corrupt_gzip_crc(tmp_path):
    data = bytearray(gzip.compress(GOOD_MPS.encode()))
    data[-6] ^= 0xFF                       # inside the CRC-32 of the trailer
    f = tmp_path / "crc.mps.gz"
    f.write_bytes(bytes(data))
    with pytest.raises(BadInputError, match=r"crc\.mps\.gz: truncated or corrupt gzip data"):
        sh.load_problem(f)


def test_gz_name_without_gzip_data(tmp_path, capsys):
    f = tmp_path / "plain.gz"
    f.write_text(GOOD_MPS)
    with pytest.raises(BadInputError, match=r"plain\.gz: not gzip data"):
        sh.load_problem(f)
    assert_cli_bad_input(f, ["not gzip data"], capsys)


def test_bare_gz_holding_lp_and_mps(tmp_path):
    (tmp_path / "m.gz").write_bytes(gzip.compress(GOOD_MPS.encode()))
    assert sh.load_problem(tmp_path / "m.gz").n == 2
    (tmp_path / "l.gz").write_bytes(gzip.compress(b"Minimize\n obj: x + y\nSubject To\n"
                                                  b" c: x + y >= 1\nEnd\n"))
    assert sh.load_problem(tmp_path / "l.gz").n == 2


def test_p0201_truncated(tmp_path, capsys):
    src = miplib("p0201")
    f = tmp_path / "p0201.mps.gz"
    f.write_bytes(src.read_bytes()[:3000])
    with pytest.raises(BadInputError, match="truncated or corrupt gzip data"):
        sh.load_problem(f)
    assert_cli_bad_input(f, ["truncated or corrupt gzip data"], capsys)
    # the same text cut short and stored uncompressed: no ENDATA
    g = tmp_path / "p0201.mps"
    g.write_bytes(gzip.decompress(src.read_bytes())[:20000])
    with pytest.raises(BadInputError, match=r"p0201\.mps:\d+: .*without ENDATA"):
        sh.load_problem(g)


# ---------------------------------------------------------------------- LP files
GOOD_LP = """\\ small
Maximize
 obj: 5 a + 4 b + 3 c
Subject To
 r1: 2 a + 3 b + c <= 5
 r2: 4 a + b + 2 c <= 11
Bounds
 a <= 10
General
 a
End
"""


@pytest.mark.parametrize("text,words", [
    pytest.param(GOOD_LP.replace("End\n", ""), ["line 10", "end"], id="no-end"),
    pytest.param(GOOD_LP[: GOOD_LP.index("r2") + 9], ["line 6"], id="cut-in-constraint"),
    pytest.param(GOOD_LP.replace("3 b + c", "3 b + abc c"), ["line 5"], id="bad-term"),
    pytest.param(GOOD_LP.replace(" r2:", " r1:"), ["'r1'", "twice"], id="duplicate-name"),
    pytest.param(GOOD_LP.replace("3 c\n", "3 c + [ a ^ 2 ] / 2\n"), ["quadratic"],
                 id="quadratic"),
])
def test_damaged_lp_is_bad_input(tmp_path, capsys, text, words):
    f = tmp_path / "damaged.lp"
    f.write_text(text)
    with pytest.raises(BadInputError) as exc:
        sh.load_problem(f)
    assert all(w in str(exc.value) for w in words), str(exc.value)
    assert_cli_bad_input(f, words, capsys)


def test_lp_gz_truncated_and_good(tmp_path):
    data = gzip.compress(GOOD_LP.encode())
    (tmp_path / "ok.lp.gz").write_bytes(data)
    assert sh.load_problem(tmp_path / "ok.lp.gz").n == 3
    (tmp_path / "cut.lp.gz").write_bytes(data[:-10])
    with pytest.raises(BadInputError, match=r"cut\.lp\.gz: truncated or corrupt gzip data"):
        sh.load_problem(tmp_path / "cut.lp.gz")


# ---------------------------------------------------------------------- MIPLIB 3
@pytest.mark.slow
def test_all_miplib3_files_read_as_highs_reads_them():
    """Every MIPLIB 3 file passes the strict reading with the dimensions HiGHS gives alone."""
    from solverhub.plugins.mipfiles._highs import new_highs

    files = sorted(MIPLIB_DIR.glob("*.mps.gz"))
    if not files:
        pytest.skip(f"MIPLIB 3 data not present in {MIPLIB_DIR}")
    for f in files:
        p = mipio.read_mip(f, reference=False)
        h = new_highs()
        h.readModel(str(f))
        lp = h.getLp()
        n_int = sum(1 for v in lp.integrality_ if int(v) == 1) if lp.integrality_ else 0
        assert (p.m, p.n, p.A.nnz, int(p.integrality.sum()), p.offset) == \
            (lp.num_row_, lp.num_col_, len(lp.a_matrix_.value_), n_int, lp.offset_), f.name
        h.clear()
