"""Shared helpers of the destroy operators.

Conventions (docs/balans.md):
* neighbourhoods free or fix *integer* columns only; continuous columns always keep their original
  bounds, so the sub-MIP can re-balance them around any integer assignment (fixing them too, as the
  reference does, makes neighbourhoods of mixed problems far too tight: defect 5);
* samples are drawn without replacement from the operator's candidate set;
* a fixed column is fixed to the incumbent value rounded to the nearest integer and clipped into its
  original bounds, so the incumbent (the current solution) always lies in the neighbourhood and is a
  valid warm start.
"""

from __future__ import annotations

import numpy as np

from solverhub.core.metasearch import Neighbourhood, SearchState

__all__ = ["integer_columns", "binary_columns", "sample_fraction", "fix_except", "rounded_incumbent"]


def integer_columns(state: SearchState) -> np.ndarray:
    return np.flatnonzero(state.problem.integrality)


def binary_columns(state: SearchState) -> np.ndarray:
    return np.flatnonzero(state.problem.binary_mask)


def sample_fraction(rng: np.random.Generator, idx: np.ndarray, fraction: float) -> np.ndarray:
    """``round(fraction * len(idx))`` members of ``idx`` (at least one when ``idx`` is not empty
    and ``fraction > 0``), drawn without replacement."""
    n = idx.size
    if n == 0 or fraction <= 0:
        return idx[:0]
    k = min(n, max(1, int(np.floor(fraction * n + 0.5))))
    return np.sort(rng.choice(idx, size=k, replace=False))


def rounded_incumbent(state: SearchState, idx: np.ndarray) -> np.ndarray:
    p = state.problem
    v = np.round(np.asarray(state.incumbent, dtype=np.float64)[idx])
    return np.clip(v, p.col_lower[idx], p.col_upper[idx])


def fix_except(state: SearchState, free: np.ndarray, name: str, *,
               extra_idx: np.ndarray | None = None, extra_lower: np.ndarray | None = None,
               extra_upper: np.ndarray | None = None, **info) -> Neighbourhood:
    """Fix every integer column not in ``free`` (nor in ``extra_idx``) to the incumbent; columns in
    ``extra_idx`` get the bounds ``extra_lower/extra_upper`` instead."""
    ints = integer_columns(state)
    keep = np.zeros(state.problem.n, dtype=bool)
    keep[free] = True
    if extra_idx is not None:
        keep[extra_idx] = True
    fixed = ints[~keep[ints]]
    vals = rounded_incumbent(state, fixed)
    bidx, lo, up = fixed, vals, vals
    if extra_idx is not None and extra_idx.size:
        bidx = np.concatenate([fixed, extra_idx])
        lo = np.concatenate([vals, extra_lower])
        up = np.concatenate([vals, extra_upper])
    n_free = int(ints.size - fixed.size)
    return Neighbourhood(name=name, bound_idx=bidx.astype(np.int64), lower=lo.astype(np.float64),
                         upper=up.astype(np.float64), n_free=n_free,
                         info={"n_fixed": int(fixed.size), **info})
