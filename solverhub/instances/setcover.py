"""Set cover instances in the style of Balas and Ho (1980).

    min  sum_j c_j x_j
    s.t. sum_j a_ij x_j >= 1     for every row i
         x_j in {0, 1}

``A`` is a random 0/1 matrix with ``round(rows * cols * density)`` non-zeros (a few more when that
is needed so that every row is covered by at least one column and every column covers at least one
row: one random column is first drawn for each row, one random row for each column still empty);
costs are integers drawn uniformly from ``1..max_coef``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from pydantic import Field, model_validator

from solverhub.core.mip import MIN, MIPProblem
from solverhub.instances._common import GeneratorParams, SeedField, instance_address, instance_name, validate_params

__all__ = ["SetCoverParams", "set_cover"]


class SetCoverParams(GeneratorParams):
    family = "set_cover"
    name_codes = {"rows": "r", "cols": "c", "density": "d", "max_coef": "mc"}
    primary = ("rows", "cols", "density")

    rows: int = Field(500, ge=1, le=1_000_000, description="number of elements to cover (constraints)")
    cols: int = Field(1000, ge=1, le=1_000_000, description="number of sets (binary variables)")
    density: float = Field(0.05, gt=0.0, le=1.0, description="fraction of non-zero entries of A")
    max_coef: int = Field(100, ge=1, description="costs are drawn uniformly from 1..max_coef")
    seed: int = SeedField

    @model_validator(mode="after")
    def _enough_nonzeros(self) -> "SetCoverParams":
        nnz = round(self.rows * self.cols * self.density)
        if nnz < max(self.rows, self.cols):
            raise ValueError(
                f"density={self.density} gives {nnz} non-zeros, fewer than max(rows, cols)="
                f"{max(self.rows, self.cols)} needed to cover every row and use every column")
        if nnz > 20_000_000:
            raise ValueError(f"rows*cols*density = {nnz} non-zeros is too large (limit 2e7)")
        return self


def _sample_cells(rng: np.random.Generator, rows: int, cols: int, nnz: int) -> np.ndarray:
    """Linear indices (row * cols + col) of ``nnz`` distinct cells with full row/column coverage."""
    total = rows * cols
    # one random column for every row, then one random row for every column left empty
    forced = np.arange(rows, dtype=np.int64) * cols + rng.integers(0, cols, size=rows)
    used_cols = np.zeros(cols, dtype=bool)
    used_cols[forced % cols] = True
    empty = np.flatnonzero(~used_cols)
    forced = np.concatenate([forced, rng.integers(0, rows, size=empty.size) * cols + empty])
    forced = np.unique(forced)
    if nnz > total // 4:
        # dense: pick the extra cells among all the others directly
        free = np.ones(total, dtype=bool)
        free[forced] = False
        extra = rng.choice(np.flatnonzero(free), size=max(0, nnz - forced.size), replace=False)
        return np.sort(np.concatenate([forced, extra]))
    # sparse: draw random cells, keep first occurrences (forced ones first) until there are enough
    pool = forced
    while pool.size < nnz:
        draw = rng.integers(0, total, size=int((nnz - pool.size) * 1.1) + 16)
        both = np.concatenate([pool, draw])
        _, first = np.unique(both, return_index=True)
        pool = both[np.sort(first)]
    return np.sort(pool[:max(nnz, forced.size)])  # the forced cells are never dropped


def set_cover(*, rows: int = 500, cols: int = 1000, density: float = 0.05, max_coef: int = 100,
              seed: int = 0) -> MIPProblem:
    """A Balas-Ho set cover instance (minimisation, all variables binary)."""
    p = validate_params(SetCoverParams, dict(rows=rows, cols=cols, density=density, max_coef=max_coef,
                                             seed=seed))
    rng = np.random.default_rng(p.seed)
    nnz = round(p.rows * p.cols * p.density)
    cells = _sample_cells(rng, p.rows, p.cols, nnz)
    r, c = np.divmod(cells, p.cols)
    A = sp.csr_matrix((np.ones(cells.size), (r, c)), shape=(p.rows, p.cols))
    cost = rng.integers(1, p.max_coef + 1, size=p.cols).astype(np.float64)
    return MIPProblem(
        c=cost, A=A,
        row_lower=np.ones(p.rows), row_upper=np.full(p.rows, np.inf),
        col_lower=np.zeros(p.cols), col_upper=np.ones(p.cols),
        integrality=np.ones(p.cols, dtype=bool), sense=MIN,
        name=instance_name(p), source=instance_address(p),
    )
