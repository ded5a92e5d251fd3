"""Pyomo models for ``exact-al`` beyond the hand-coded problems (tests, the validation set of
``benchmarks/bench_exact_al.py``): smooth; equality-constrained and unbounded except
:func:`chain_on_floor`.

* :func:`hanging_chain` -- a chain of ``n_links`` rigid links of equal length between two fixed
  points, at rest (least potential energy): the classic COPS hanging-chain set-up (endpoints
  (0, 1) and (1, 3), length 4) discretised by the link positions. The link constraints have
  gradients of size about 2 L / n: small and badly scaled for large ``n``, which an absolute LICQ
  threshold takes for rank deficiency.
* :func:`equilibrium` -- a chemical-equilibrium style problem: minimise the Gibbs-like energy
  ``sum_i x_i^2 / 2 + sum_i exp(x_i) a_i`` of ``n`` species (log-concentrations) subject to
  ``m`` linear element balances and one nonlinear closure ``sum exp(x_i) = total``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["hanging_chain", "equilibrium", "chain_on_floor"]


def hanging_chain(n_links: int = 200, length: float = 4.0, a: float = 1.0, b: float = 3.0) -> Any:
    """The hanging chain: points ``(x_i, y_i)``, ``i = 0..n_links``, the end points fixed at
    ``(0, a)`` and ``(1, b)`` (fixed Pyomo variables), every link of length ``length / n_links``,
    objective the potential energy ``sum_i h (y_{i-1} + y_i) / 2`` (h the link length). Start:
    the straight segment between the end points, pulled down by a parabola."""
    return _chain(n_links, length, a, b, floor=None)


def equilibrium(n: int = 30, m: int = 5, seed: int = 0) -> Any:
    """``min sum_i (x_i^2 / 2 + a_i exp(x_i))`` s.t. ``A exp(x) = A exp(x*)`` (``m`` element
    balances of a random nonnegative ``A``; ``x*`` random, so the set is non-empty) and
    ``sum_i exp(x_i) = sum_i exp(x*_i)``; start x = 0."""
    import pyomo.environ as pe

    rng = np.random.default_rng(seed)
    A = rng.integers(0, 3, size=(m, n)).astype(float)
    a = rng.uniform(0.5, 2.0, size=n)
    xs = rng.uniform(-1.0, 1.0, size=n)
    rhs = A @ np.exp(xs)
    mod = pe.ConcreteModel(name=f"equilibrium_{n}_{m}")
    mod.x = pe.Var(range(n), initialize=0.0)
    mod.o = pe.Objective(expr=sum(mod.x[i] ** 2 / 2 + float(a[i]) * pe.exp(mod.x[i])
                                  for i in range(n)))
    mod.bal = pe.Constraint(range(m), rule=lambda mm, k: sum(float(A[k, i]) * pe.exp(mm.x[i])
                                                             for i in range(n) if A[k, i])
                            == float(rhs[k]))
    mod.total = pe.Constraint(expr=sum(pe.exp(mod.x[i]) for i in range(n))
                              == float(np.exp(xs).sum()))
    return mod


def chain_on_floor(n_links: int = 60, floor: float = 0.5, length: float = 4.0, a: float = 1.0,
                   b: float = 3.0) -> Any:
    """:func:`hanging_chain` with bounds and inequalities: every point at or above ``floor``
    (variable bounds ``y_i >= floor``; the free chain sags below it) and each link at most
    ``length / n_links`` long (``<=`` inequalities, active at the optimum since a longer chain
    hangs lower)."""
    return _chain(n_links, length, a, b, floor=float(floor))


def _chain(n_links: int, length: float, a: float, b: float, floor: float | None) -> Any:
    """The chain of :func:`hanging_chain` (``floor`` None: links of exactly the length) or of
    :func:`chain_on_floor` (points at or above ``floor``, links at most the length)."""
    import pyomo.environ as pe

    N = int(n_links)
    h = float(length) / N
    m = pe.ConcreteModel(name=f"hanging_chain_{N}" if floor is None else f"chain_on_floor_{N}")
    t = np.linspace(0.0, 1.0, N + 1)
    y0 = a + (b - a) * t - 1.5 * t * (1 - t)
    if floor is not None:
        y0 = np.maximum(y0, floor + 0.1)
    m.x = pe.Var(range(N + 1), initialize=dict(enumerate(t)))
    m.y = pe.Var(range(N + 1), initialize=dict(enumerate(y0)),
                 bounds=(None, None) if floor is None else (floor, None))
    m.x[0].fix(0.0)
    m.y[0].fix(a)
    m.x[N].fix(1.0)
    m.y[N].fix(b)
    m.energy = pe.Objective(expr=sum(h * (m.y[i - 1] + m.y[i]) / 2 for i in range(1, N + 1)))

    def link(mm: Any, i: int) -> Any:
        squared = (mm.x[i] - mm.x[i - 1]) ** 2 + (mm.y[i] - mm.y[i - 1]) ** 2
        return squared == h ** 2 if floor is None else squared <= h ** 2

    m.link = pe.Constraint(range(1, N + 1), rule=link)
    return m

