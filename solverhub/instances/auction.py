"""Combinatorial auction (winner determination) instances, after Leyton-Brown, Pearson and Shoham's
"arbitrary relationships" distribution (CATS, 2000), in a compact form.

    max  sum_b price_b x_b
    s.t. sum_{b : i in bundle_b} x_b <= 1     for every item i that some bid asks for
         sum_{b of bidder k}     x_b <= 1     for every bidder k with several (XOR) bids
         x_b in {0, 1}

Generation (seeded, ``numpy.random.default_rng(seed)``):

* every item has a common value drawn from ``U[min_value, max_value]``; items are related through a
  random symmetric compatibility matrix (uniform weights, zero diagonal);
* each bidder has private values ``common * (1 + value_deviation * U[-1, 1])`` (kept positive);
* the bidder's main bundle starts from an item drawn in proportion to its private values; while a
  coin with probability ``add_item_prob`` comes up heads, one more item joins, drawn in proportion to
  (total compatibility with the bundle) x (private value);
* the price of a bundle S is ``sum_{i in S} private_i + |S| ** (1 + additivity)`` (the CATS
  super-additivity term);
* the bidder then makes up to ``max_sub_bids`` substitutable bids, each grown the same way from a
  different item of the main bundle, priced the same way, kept when it is a new bundle whose price
  is at least ``(1 - value_deviation)`` times the main bid's; the bids of one bidder are exclusive
  (XOR), which the formulation states with one row per bidder (CATS uses "dummy items" instead:
  the same constraint);
* bidders are added until there are exactly ``n_bids`` bids.

Simplifications with respect to CATS: no budget and resale-value filters beyond the price ratio
above, no removal of dominated bids, compatibility weights uniform rather than the CATS
distribution; items that no bid asks for give no row.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from pydantic import Field, model_validator

from solverhub.core.mip import MAX, MIPProblem
from solverhub.instances._common import GeneratorParams, SeedField, instance_address, instance_name, validate_params

__all__ = ["AuctionParams", "combinatorial_auction"]


class AuctionParams(GeneratorParams):
    family = "combinatorial_auction"
    name_codes = {"n_items": "i", "n_bids": "b", "min_value": "vmin", "max_value": "vmax",
                  "value_deviation": "dev", "add_item_prob": "add", "additivity": "alpha",
                  "max_sub_bids": "sub"}
    primary = ("n_items", "n_bids")

    n_items: int = Field(100, ge=1, le=100_000, description="number of items for sale")
    n_bids: int = Field(500, ge=1, le=1_000_000, description="number of bids (binary variables)")
    min_value: float = Field(1.0, ge=0.0, description="lowest common value of an item")
    max_value: float = Field(100.0, gt=0.0, description="highest common value of an item")
    value_deviation: float = Field(0.5, ge=0.0, lt=1.0, description="relative spread of private values")
    add_item_prob: float = Field(0.65, ge=0.0, lt=1.0, description="probability of adding one more item")
    additivity: float = Field(0.2, ge=-1.0, le=1.0, description="super-additivity exponent of prices")
    max_sub_bids: int = Field(5, ge=0, le=100, description="most substitutable (XOR) bids per bidder")
    seed: int = SeedField

    @model_validator(mode="after")
    def _values(self) -> "AuctionParams":
        if self.min_value > self.max_value:
            raise ValueError(f"min_value={self.min_value} is larger than max_value={self.max_value}")
        return self


def _grow_bundle(rng: np.random.Generator, first: int, private: np.ndarray, compat: np.ndarray,
                 add_prob: float) -> list[int]:
    bundle = [first]
    affinity = compat[first].copy()
    n = private.size
    while len(bundle) < n and rng.random() < add_prob:
        weight = affinity * private
        weight[bundle] = 0.0
        total = weight.sum()
        if total <= 0.0:
            break
        nxt = int(rng.choice(n, p=weight / total))
        bundle.append(nxt)
        affinity += compat[nxt]
    return sorted(bundle)


def combinatorial_auction(*, n_items: int = 100, n_bids: int = 500, min_value: float = 1.0,
                          max_value: float = 100.0, value_deviation: float = 0.5,
                          add_item_prob: float = 0.65, additivity: float = 0.2,
                          max_sub_bids: int = 5, seed: int = 0) -> MIPProblem:
    """A combinatorial auction instance (maximisation, one binary variable per bid)."""
    p = validate_params(AuctionParams, dict(
        n_items=n_items, n_bids=n_bids, min_value=min_value, max_value=max_value,
        value_deviation=value_deviation, add_item_prob=add_item_prob, additivity=additivity,
        max_sub_bids=max_sub_bids, seed=seed))
    rng = np.random.default_rng(p.seed)
    m = p.n_items
    common = rng.uniform(p.min_value, p.max_value, size=m)
    compat = rng.uniform(0.0, 1.0, size=(m, m))
    compat = np.triu(compat, 1)
    compat = compat + compat.T
    if m == 1:
        compat = np.ones((1, 1))

    def price(bundle: list[int], private: np.ndarray) -> float:
        return float(private[bundle].sum() + len(bundle) ** (1.0 + p.additivity))

    bundles: list[list[int]] = []
    prices: list[float] = []
    bidder_of: list[int] = []
    bidder = 0
    while len(bundles) < p.n_bids:
        private = common * (1.0 + p.value_deviation * rng.uniform(-1.0, 1.0, size=m))
        private = np.maximum(private, 1e-6)
        first = int(rng.choice(m, p=private / private.sum()))
        main = _grow_bundle(rng, first, private, compat, p.add_item_prob)
        main_price = price(main, private)
        mine = [main]
        mine_prices = [main_price]
        starts: np.ndarray | list[int] = rng.permutation(main)[: p.max_sub_bids] if len(main) > 1 else []
        for start in starts:
            if start == first:
                continue
            sub = _grow_bundle(rng, int(start), private, compat, p.add_item_prob)
            sub_price = price(sub, private)
            if sub not in mine and sub_price >= (1.0 - p.value_deviation) * main_price:
                mine.append(sub)
                mine_prices.append(sub_price)
        room = p.n_bids - len(bundles)
        for b, pr in zip(mine[:room], mine_prices[:room]):
            bundles.append(b)
            prices.append(pr)
            bidder_of.append(bidder)
        bidder += 1

    nb = len(bundles)
    rows_i, cols_i = [], []
    for j, b in enumerate(bundles):
        rows_i.extend(b)
        cols_i.extend([j] * len(b))
    A_items = sp.csr_matrix((np.ones(len(rows_i)), (rows_i, cols_i)), shape=(m, nb))
    A_items = A_items[np.flatnonzero(A_items.getnnz(axis=1) > 0)]
    owners = np.asarray(bidder_of)
    counts = np.bincount(owners)
    multi = np.flatnonzero(counts > 1)
    if multi.size:
        row_of = -np.ones(counts.size, dtype=np.int64)
        row_of[multi] = np.arange(multi.size)
        cols = np.flatnonzero(row_of[owners] >= 0)
        A_xor = sp.csr_matrix((np.ones(cols.size), (row_of[owners[cols]], cols)), shape=(multi.size, nb))
        A = sp.vstack([A_items, A_xor], format="csr")
    else:
        A = A_items
    return MIPProblem(
        c=np.round(np.asarray(prices), 6), A=A,
        row_lower=np.full(A.shape[0], -np.inf), row_upper=np.ones(A.shape[0]),
        col_lower=np.zeros(nb), col_upper=np.ones(nb),
        integrality=np.ones(nb, dtype=bool), sense=MAX,
        name=instance_name(p), source=instance_address(p),
    )
