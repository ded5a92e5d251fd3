"""The mipfiles plugin: reading MPS/LP files (gzipped too), errors, writing, .solu references."""

from __future__ import annotations

import gzip
import subprocess
import sys

import numpy as np
import pytest

import solverhub as sh
from solverhub.core.errors import BadInputError
from solverhub.core.mip import MAX, MIN
from solverhub.plugins.mipfiles import read_mip, write_lp, write_mps
from solverhub.plugins.mipfiles.io import claims, instance_name

from conftest import make_small_mip, miplib

LP_TEXT = """\\ a small maximisation
Maximize
 obj: 5 a + 4 b + 3 c + 2
Subject To
 r1: 2 a + 3 b + c <= 5
 r2: 4 a + b + 2 c <= 11
 r3: 3 a + 4 b + 2 c <= 8
Bounds
 0 <= a <= 10
 0 <= b <= 10
General
 a b
End
"""


def test_read_p0033():
    p = sh.load_problem(miplib("p0033"))
    assert (p.n, p.m) == (33, 16)
    assert p.name == "p0033"
    assert p.sense == MIN
    assert p.integrality.all()
    assert p.col_names[0] and len(p.col_names) == 33 and len(p.row_names) == 16
    assert p.reference_objective == pytest.approx(3089.0)


def test_read_p0201_matrix_form():
    p = read_mip(miplib("p0201"))
    assert (p.n, p.m, p.A.nnz) == (201, 133, 1923)
    assert p.A.format == "csr" and p.A.has_sorted_indices
    assert p.reference_objective == pytest.approx(7615.0)
    assert str(p.source).endswith("p0201.mps.gz")


def test_claims_and_names():
    assert claims("x.MPS") and claims("x.lp") and claims("x.mps.GZ") and claims("x.gz")
    assert not claims("generate:set_cover?rows=3") and not claims(3) and not claims("x.txt")
    assert instance_name("/a/b/p0201.mps.gz") == "p0201"
    assert instance_name("m.LP") == "m" and instance_name("m.gz") == "m"


def test_loader_claims_mps_and_lp_suffixes_only():
    pm = sh.get_plugin_manager()
    assert [ld.name for ld in pm.loaders_for_file("x.MPS.gz")] == ["mps-lp-files"]
    assert pm.loaders_for_file("model.txt") == [] and pm.loaders_for_object(object()) == []
    with pytest.raises(sh.BadInputError, match="no loader plugin understands this file type"):
        sh.load_problem(__file__)


def test_lp_file_max_sense_offset(tmp_path):
    f = tmp_path / "small.lp"
    f.write_text(LP_TEXT)
    p = sh.load_problem(str(f))
    assert p.sense == MAX and p.name == "small"
    assert p.offset == pytest.approx(2.0)
    assert list(p.integrality) == [True, True, False]
    assert p.col_names == ["a", "b", "c"]
    assert not hasattr(p, "reference_objective")
    gz = tmp_path / "small.lp.gz"
    gz.write_bytes(gzip.compress(LP_TEXT.encode()))
    q = sh.load_problem(gz)
    assert (q.A != p.A).nnz == 0 and q.sense == MAX


def test_missing_file():
    with pytest.raises(BadInputError, match="nope.mps: file not found"):
        sh.load_problem("/definitely/not/here/nope.mps")


def test_malformed_file(tmp_path):
    f = tmp_path / "broken.mps"
    f.write_text("NAME broken\nROWS\n X what\nCOLUMNS\n")
    with pytest.raises(BadInputError) as exc:
        sh.load_problem(f)
    msg = str(exc.value)
    assert "broken.mps" in msg and "malformed" in msg and "ROWS" in msg


def test_write_read_roundtrip(tmp_path):
    p = make_small_mip()
    for name in ("small.mps", "small.mps.gz", "small.lp"):
        out = write_mps(p, tmp_path / name) if "mps" in name else write_lp(p, tmp_path / name)
        q = read_mip(out)
        assert q.sense == p.sense
        assert np.allclose(q.c, p.c) and abs((q.A - p.A)).max() == 0
        assert np.allclose(q.row_upper, p.row_upper) and np.all(np.isinf(q.row_lower))
        assert np.array_equal(q.integrality, p.integrality)
        assert q.col_names == p.col_names


def test_miplib_roundtrip(tmp_path):
    p = read_mip(miplib("p0201"))
    q = read_mip(write_mps(p, tmp_path / "p.mps"))
    assert abs(q.A - p.A).max() == 0 and np.allclose(q.c, p.c)
    assert np.array_equal(q.col_lower, p.col_lower) and np.array_equal(q.col_upper, p.col_upper)


def test_solu_next_to_copy(tmp_path):
    src = miplib("p0033")
    (tmp_path / "p0033.mps.gz").write_bytes(src.read_bytes())
    (tmp_path / "mine.solu").write_text("=best= p0033 3100\n=inf= other\n")
    assert read_mip(tmp_path / "p0033.mps.gz").reference_objective == 3100.0


def test_no_banner_on_stdout():
    code = ("import solverhub as sh; p = sh.load_problem(%r); "
            "from solverhub.plugins.mipfiles import write_mps" % str(miplib("p0033")))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == ""
