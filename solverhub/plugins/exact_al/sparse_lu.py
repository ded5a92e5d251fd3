"""Sparse LU that never hands SuperLU a structurally singular matrix.

SciPy's ``splu`` (SuperLU ``dgstrf``) does not stop at a zero pivot: it records it and goes on
factoring, and when the matrix is *structurally* singular (no perfect matching between rows and
columns, e.g. a KKT matrix ``[[H, G'], [G, 0]]`` whose Hessian has empty rows for variables that
only the constraints touch, as ORTHREGB at its start) the supernode bookkeeping that follows calls
BLAS ``dtrsv``/``dgemv`` with an illegal leading dimension / size. OpenBLAS then prints
"On entry to DTRSV parameter number 6 had an illegal value" on fd 2 for every such call before
SciPy raises "Factor is exactly singular" (SuperLU issue xiaoyeli/superlu#46, SciPy gh-3312).
The structural rank (a maximum bipartite matching, ``O(nnz sqrt(N))``) detects that case before
the factorization; numerically singular but structurally regular matrices take SuperLU's normal
path (it reports them as exactly singular, without the illegal calls).
"""

from __future__ import annotations

import hashlib
from typing import Any

import scipy.sparse as sp

__all__ = ["SingularMatrixError", "sparse_lu"]


class SingularMatrixError(RuntimeError):
    """The matrix is singular (structurally, or SuperLU met an exactly zero pivot); the message
    says which. A :class:`RuntimeError`, like SciPy's own report from ``splu``."""


#: structural ranks of the last patterns seen (a Newton solve factors the same pattern with
#: several shifts, and the next iteration's KKT matrix has it again)
_RANKS: dict[bytes, int] = {}


def _structural_rank(pattern: Any, structural_rank: Any) -> int:
    """The structural rank of the CSC ``pattern``: N at once when every diagonal entry is stored
    (the identity is a perfect matching; the shifted or regularized KKT matrices), else the
    maximum matching (O(nnz sqrt(N)), 0.3 s at N = 4000 on the loaded machine), cached by the
    pattern's digest."""
    N = pattern.shape[0]
    diag = pattern.diagonal()
    if diag.size == N and diag.all():
        return N
    key = hashlib.blake2b(pattern.indptr.tobytes() + pattern.indices.tobytes() + bytes(str(N), "ascii"),
                          digest_size=16).digest()
    rank = _RANKS.get(key)
    if rank is None:
        if len(_RANKS) >= 64:
            _RANKS.clear()
        rank = _RANKS[key] = int(structural_rank(pattern))
    return rank


def sparse_lu(A: Any, what: str = "matrix") -> Any:
    """SuperLU factorization of the square sparse ``A`` (``scipy.sparse.linalg.SuperLU``).
    Raises :class:`SingularMatrixError` naming ``what`` when ``A`` is structurally singular
    (checked first, so that SuperLU is never run on it) or exactly singular."""
    from scipy.sparse.csgraph import structural_rank
    from scipy.sparse.linalg import splu

    A = sp.csc_matrix(A)
    N = A.shape[0]
    if A.shape != (N, N):
        raise ValueError(f"sparse_lu: {what} must be square, got shape {A.shape}")
    if N == 0:
        raise SingularMatrixError(f"{what} is empty (0 x 0)")
    pattern = A
    if A.nnz and not A.data.all():  # explicit zeros are no entries (the matrix itself is kept)
        pattern = A.copy()
        pattern.eliminate_zeros()
    srank = _structural_rank(pattern, structural_rank)
    if srank < N:
        raise SingularMatrixError(f"{what} is structurally singular (structural rank {srank} < {N})")
    try:
        return splu(A)
    except RuntimeError as exc:  # SuperLU: "Factor is exactly singular"
        raise SingularMatrixError(f"{what}: {exc}") from None
