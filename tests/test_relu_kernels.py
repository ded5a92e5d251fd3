"""Masked products of the convex ReLU program (solverhub.plugins.convex_relu.kernels): the NumPy
oracle against the definition, the compiled adjoint kernel and the NumPy paths against the oracle
(several row blocks, several outputs, empty and full patterns), the pure-Python switch and bad
shapes."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from solverhub.plugins.convex_relu import kernels as K

try:
    from solverhub.cython_ext import _relu as compiled
except ImportError:  # pragma: no cover - CI insists on it (tests/test_kernels.py, extension_status)
    compiled = None

needs_compiled = pytest.mark.skipif(compiled is None, reason="solverhub.cython_ext._relu not built")

# (n, d, P, m): one row block, n not a multiple of the block (>= 256 rows), several outputs,
# d > P and P > d
SHAPES = [(7, 3, 4, 1), (40, 5, 9, 3), (700, 6, 13, 2), (300, 31, 50, 1), (260, 20, 3, 4)]


def case(n: int, d: int, P: int, m: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    X[:, -1] = 1.0
    D = (X @ rng.standard_normal((d, P))) >= 0
    D[:, 0] = False          # an all-zero pattern and an all-one pattern: edge cases of the mask
    if P > 1:
        D[:, 1] = True
    return X, D, rng.standard_normal((m, P, d)), rng.standard_normal((m, n))


def definition_forward(X, D, U):
    """sum_i D_i X u_i, one pattern at a time."""
    out = np.zeros((U.shape[0], X.shape[0]))
    for j in range(U.shape[0]):
        for i in range(D.shape[1]):
            out[j] += D[:, i] * (X @ U[j, i])
    return out


def definition_adjoint(X, D, q):
    """X' (D_i q_j), one pattern at a time."""
    return np.stack([np.stack([X.T @ (D[:, i] * q[j]) for i in range(D.shape[1])])
                     for j in range(q.shape[0])])


def close(a, b):
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-11 * max(1.0, float(np.abs(b).max())))


@pytest.mark.parametrize("shape", SHAPES)
def test_oracle_is_the_definition(shape):
    X, D, U, q = case(*shape)
    close(K.masked_forward_ref(X, D, U), definition_forward(X, D, U))
    close(K.masked_adjoint_ref(X, D, q), definition_adjoint(X, D, q))


@pytest.mark.parametrize("shape", SHAPES)
def test_adjoint_pair(shape):
    """<forward(U), q> = <U, adjoint(q)>: the two products are each other's transpose."""
    X, D, U, q = case(*shape, seed=3)
    lhs = float(np.sum(K.masked_forward(X, D, U) * q))
    rhs = float(np.sum(U * K.masked_adjoint(X, D, q)))
    assert abs(lhs - rhs) <= 1e-10 * max(1.0, abs(lhs))


@needs_compiled
@pytest.mark.parametrize("shape", SHAPES)
def test_compiled_equals_oracle(shape):
    X, D, U, q = case(*shape, seed=1)
    a = np.full(U.shape, np.nan)                     # the kernel must overwrite every entry
    compiled.masked_adjoint(X, D.view(np.uint8), q, a)
    close(a, K.masked_adjoint_ref(X, D, q))


@pytest.mark.parametrize("use_compiled", [True, False])
@pytest.mark.parametrize("shape", SHAPES[:3])
def test_wrapper_equals_oracle(shape, use_compiled, monkeypatch):
    """Both dispatch paths (compiled when built, and the NumPy fallback), 1-D/2-D forms, and
    non-contiguous inputs."""
    monkeypatch.setitem(K.USE_COMPILED, "masked_adjoint", use_compiled)
    X, D, U, q = case(*shape, seed=2)
    close(K.masked_forward(X, D, U), K.masked_forward_ref(X, D, U))
    close(K.masked_adjoint(X, D, q), K.masked_adjoint_ref(X, D, q))
    close(K.masked_forward(X, D, U[0]), K.masked_forward_ref(X, D, U[:1])[0])
    close(K.masked_adjoint(X, D, q[0]), K.masked_adjoint_ref(X, D, q[:1])[0])
    Xf, Df = np.asfortranarray(X), np.asfortranarray(D)
    close(K.masked_forward(Xf, Df, U[:, :, :]), K.masked_forward_ref(X, D, U))
    close(K.masked_adjoint(Xf, Df, np.asfortranarray(q)), K.masked_adjoint_ref(X, D, q))
    close(K.masked_forward(X, D.astype(float), U), K.masked_forward_ref(X, D, U))
    close(K.masked_adjoint(X, D.astype(float), q), K.masked_adjoint_ref(X, D, q))


def test_bad_shapes_name_the_input():
    X, D, U, q = case(10, 3, 4, 2)
    with pytest.raises(ValueError, match="masked_forward: U must be"):
        K.masked_forward(X, D, U[:, :3])
    with pytest.raises(ValueError, match="masked_forward: X must be"):
        K.masked_forward(X, D[:9], U)
    with pytest.raises(ValueError, match="masked_adjoint: q must be"):
        K.masked_adjoint(X, D, q[:, :9])
    if compiled is not None:
        with pytest.raises(ValueError, match="masked_adjoint: X"):
            compiled.masked_adjoint(X, D.view(np.uint8), q, np.empty((2, 5, 3)))


def test_pure_python_switch():
    """SOLVERHUB_PURE_PYTHON=1 turns the compiled kernel off, visibly, and results agree."""
    code = ("from solverhub.plugins.convex_relu import kernels as K; import numpy as np; "
            "X = np.arange(12.).reshape(4, 3); D = np.eye(4, 2, dtype=bool); "
            "print(K.COMPILED, K.IMPORT_ERROR, K.masked_forward(X, D, np.ones((1, 2, 3))).tolist(),"
            " K.masked_adjoint(X, D, np.ones((1, 4))).tolist())")
    env = dict(os.environ, SOLVERHUB_PURE_PYTHON="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout
    assert out.startswith("False disabled by SOLVERHUB_PURE_PYTHON")
    assert "[[3.0, 12.0, 0.0, 0.0]] [[[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]]" in out
