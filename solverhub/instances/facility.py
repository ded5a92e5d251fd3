"""Capacitated facility location instances after Cornuejols, Sridharan and Thizy (1991).

Customers and facilities lie uniformly in the unit square. Customer j has demand
``d_j ~ U{5..35}``; facility i has capacity ``s_i ~ U{10..160}`` and fixed opening cost
``f_i = U{0..90} + U{100..110} * sqrt(s_i)`` (drawn before the capacities are rescaled); serving all
of customer j from facility i costs ``t_ij = 10 * distance(i, j) * d_j``. Capacities are then
rescaled so that the total capacity is ``ratio`` times the total demand.

    min  sum_ij t_ij x_ij + sum_i f_i y_i
    s.t. sum_i x_ij = 1                        for every customer j   (demand met)
         sum_j d_j x_ij - s_i y_i <= 0          for every facility i   (capacity)
         sum_i s_i y_i >= sum_j d_j                                    (total capacity, redundant)
         x_ij - y_i <= 0                        for every pair         (strong linking; tightening)
         y_i in {0, 1},  0 <= x_ij <= 1

``x_ij`` is the fraction of customer j's demand served by facility i: continuous by default (the
classic CFL); ``binary_assignment=true`` makes it binary (single sourcing, a harder problem that may
be infeasible when ``ratio`` is close to 1). ``strong=false`` drops the ``x_ij <= y_i`` rows (the
weak formulation: far fewer rows, a weaker LP bound).

Columns: ``y_0..y_{F-1}`` first, then ``x`` in customer-major order (``x_ij`` at ``F + j * F + i``).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from solverhub.core.mip import MIN, MIPProblem
from solverhub.instances._common import GeneratorParams, SeedField, instance_address, instance_name, validate_params

__all__ = ["FacilityLocationParams", "facility_location"]


class FacilityLocationParams(GeneratorParams):
    family = "facility_location"
    name_codes = {"n_customers": "c", "n_facilities": "f", "ratio": "r", "binary_assignment": "bin",
                  "strong": "strong"}
    primary = ("n_customers", "n_facilities", "ratio")

    n_customers: int = Field(100, ge=1, le=20_000, description="number of customers")
    n_facilities: int = Field(100, ge=1, le=20_000, description="number of candidate facilities")
    ratio: float = Field(5.0, ge=1.0, le=1000.0, description="total capacity / total demand")
    binary_assignment: bool = Field(False, description="single sourcing: binary x_ij")
    strong: bool = Field(True, description="add the x_ij <= y_i rows")
    seed: int = SeedField


def facility_location(*, n_customers: int = 100, n_facilities: int = 100, ratio: float = 5.0,
                      binary_assignment: bool = False, strong: bool = True, seed: int = 0) -> MIPProblem:
    """A capacitated facility location instance (minimisation; ``n_facilities`` binaries plus
    ``n_customers * n_facilities`` assignment variables)."""
    p = validate_params(FacilityLocationParams, dict(
        n_customers=n_customers, n_facilities=n_facilities, ratio=ratio,
        binary_assignment=binary_assignment, strong=strong, seed=seed))
    if p.n_customers * p.n_facilities > 25_000_000:
        from solverhub.core.errors import BadInputError

        raise BadInputError(f"generate:facility_location: n_customers*n_facilities = "
                            f"{p.n_customers * p.n_facilities} assignment variables is too many (limit 2.5e7)")
    rng = np.random.default_rng(p.seed)
    C, F = p.n_customers, p.n_facilities
    cust = rng.uniform(0.0, 1.0, size=(C, 2))
    fac = rng.uniform(0.0, 1.0, size=(F, 2))
    demand = rng.integers(5, 36, size=C).astype(np.float64)
    capacity = rng.integers(10, 161, size=F).astype(np.float64)
    fixed = rng.integers(0, 91, size=F) + rng.integers(100, 111, size=F) * np.sqrt(capacity)
    capacity = capacity * p.ratio * demand.sum() / capacity.sum()
    dist = np.sqrt(((cust[:, None, :] - fac[None, :, :]) ** 2).sum(axis=2))  # C x F
    transport = 10.0 * dist * demand[:, None]

    nx = C * F
    n = F + nx
    c = np.concatenate([fixed, transport.ravel()])
    xcol = F + np.arange(nx).reshape(C, F)           # xcol[j, i]
    blocks = []
    lo, up = [], []
    # demand rows: sum_i x_ij = 1
    blocks.append(sp.csr_matrix((np.ones(nx), (np.repeat(np.arange(C), F), xcol.ravel())), shape=(C, n)))
    lo.append(np.ones(C))
    up.append(np.ones(C))
    # capacity rows: sum_j d_j x_ij - s_i y_i <= 0
    r = np.concatenate([np.tile(np.arange(F), C), np.arange(F)])
    k = np.concatenate([xcol.ravel(), np.arange(F)])
    v = np.concatenate([np.repeat(demand, F), -capacity])
    blocks.append(sp.csr_matrix((v, (r, k)), shape=(F, n)))
    lo.append(np.full(F, -np.inf))
    up.append(np.zeros(F))
    # total capacity: sum_i s_i y_i >= sum_j d_j
    blocks.append(sp.csr_matrix((capacity, (np.zeros(F, dtype=np.int64), np.arange(F))), shape=(1, n)))
    lo.append(np.array([demand.sum()]))
    up.append(np.array([np.inf]))
    if p.strong:
        # x_ij - y_i <= 0, one row per pair, in the column order of x
        rr = np.repeat(np.arange(nx), 2)
        kk = np.column_stack([xcol.ravel(), np.tile(np.arange(F), C)]).ravel()
        vv = np.tile([1.0, -1.0], nx)
        blocks.append(sp.csr_matrix((vv, (rr, kk)), shape=(nx, n)))
        lo.append(np.full(nx, -np.inf))
        up.append(np.zeros(nx))
    A = sp.vstack(blocks, format="csr")
    integrality = np.zeros(n, dtype=bool)
    integrality[:F] = True
    if p.binary_assignment:
        integrality[F:] = True
    return MIPProblem(
        c=np.round(c, 6), A=A, row_lower=np.concatenate(lo), row_upper=np.concatenate(up),
        col_lower=np.zeros(n), col_upper=np.ones(n), integrality=integrality, sense=MIN,
        name=instance_name(p), source=instance_address(p),
    )
