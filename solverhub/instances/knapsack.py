"""Multiple knapsack instances (Martello and Toth's classes, as used by Fukunaga and Korf and in the
learning-to-branch literature).

Item weights are integers ``w_i ~ U{min_weight..max_weight}``; profits depend on ``correlation``
(R = max_weight):

* ``uncorrelated``: ``p_i ~ U{min_weight..max_weight}``;
* ``weak`` (default): ``p_i = w_i + U{-R/10..R/10}``, at least 1;
* ``strong``: ``p_i = w_i + R/10``.

Knapsack k gets capacity ``floor(capacity_fraction * sum(w) * r_k / sum(r))`` with
``r_k ~ U[0.4, 0.6]`` ("similar" capacities), so that together the knapsacks hold about
``capacity_fraction`` of the total weight.

    max  sum_i sum_k p_i x_ik
    s.t. sum_k x_ik <= 1              for every item i       (each item in at most one knapsack)
         sum_i w_i x_ik <= c_k        for every knapsack k   (capacity)
         x_ik in {0, 1}

Column ``i * n_knapsacks + k`` is ``x_ik``; rows: the item rows first, then the capacity rows.

The knapsacks look alike, so proving optimality is slow: the default (30 items, 3 knapsacks) is
solved by HiGHS in about 2 s, but 40 x 4 and beyond leave a small gap after a minute.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field, model_validator

from solverhub.core.mip import MAX, MIPProblem
from solverhub.instances._common import GeneratorParams, SeedField, instance_address, instance_name, validate_params

__all__ = ["MultipleKnapsackParams", "multiple_knapsack"]


class MultipleKnapsackParams(GeneratorParams):
    family = "multiple_knapsack"
    name_codes = {"n_items": "i", "n_knapsacks": "k", "correlation": "", "min_weight": "wmin",
                  "max_weight": "wmax", "capacity_fraction": "cf"}
    primary = ("n_items", "n_knapsacks")

    n_items: int = Field(30, ge=1, le=1_000_000, description="number of items")
    n_knapsacks: int = Field(3, ge=1, le=10_000, description="number of knapsacks")
    correlation: Literal["uncorrelated", "weak", "strong"] = Field("weak", description="profit/weight relation")
    min_weight: int = Field(10, ge=1, description="smallest item weight")
    max_weight: int = Field(1000, ge=1, le=10**9, description="largest item weight")
    capacity_fraction: float = Field(0.5, gt=0.0, le=1.0, description="total capacity / total weight")
    seed: int = SeedField

    @model_validator(mode="after")
    def _weights(self) -> "MultipleKnapsackParams":
        if self.min_weight > self.max_weight:
            raise ValueError(f"min_weight={self.min_weight} is larger than max_weight={self.max_weight}")
        if self.n_items * self.n_knapsacks > 20_000_000:
            raise ValueError("n_items*n_knapsacks is too large (limit 2e7 variables)")
        return self


def multiple_knapsack(*, n_items: int = 30, n_knapsacks: int = 3, correlation: str = "weak",
                      min_weight: int = 10, max_weight: int = 1000, capacity_fraction: float = 0.5,
                      seed: int = 0) -> MIPProblem:
    """A multiple knapsack instance (maximisation, ``n_items * n_knapsacks`` binaries)."""
    p = validate_params(MultipleKnapsackParams, dict(
        n_items=n_items, n_knapsacks=n_knapsacks, correlation=correlation, min_weight=min_weight,
        max_weight=max_weight, capacity_fraction=capacity_fraction, seed=seed))
    rng = np.random.default_rng(p.seed)
    n, K = p.n_items, p.n_knapsacks
    w = rng.integers(p.min_weight, p.max_weight + 1, size=n)
    spread = max(p.max_weight // 10, 1)
    if p.correlation == "uncorrelated":
        profit = rng.integers(p.min_weight, p.max_weight + 1, size=n)
    elif p.correlation == "weak":
        profit = np.maximum(w + rng.integers(-spread, spread + 1, size=n), 1)
    else:
        profit = w + spread
    r = rng.uniform(0.4, 0.6, size=K)
    cap = np.floor(p.capacity_fraction * w.sum() * r / r.sum())

    nv = n * K
    col = np.arange(nv)
    item_rows = sp.csr_matrix((np.ones(nv), (col // K, col)), shape=(n, nv))
    cap_rows = sp.csr_matrix((np.repeat(w, K).astype(np.float64), (col % K, col)), shape=(K, nv))
    A = sp.vstack([item_rows, cap_rows], format="csr")
    return MIPProblem(
        c=np.repeat(profit, K).astype(np.float64), A=A,
        row_lower=np.full(n + K, -np.inf), row_upper=np.concatenate([np.ones(n), cap]),
        col_lower=np.zeros(nv), col_upper=np.ones(nv),
        integrality=np.ones(nv, dtype=bool), sense=MAX,
        name=instance_name(p), source=instance_address(p),
    )
