"""The filter line search of ``exact-al``'s barrier subproblems (a departure from Hong et al.
2023, whose line search is Armijo on the exact augmented Lagrangian; docs/exact_al.md, "Filter
line search").

IPOPT's filter (Waechter and Biegler 2006, section 2.3, Algorithm A steps A-5.1 to A-5.10) on
``theta = ||c||`` and ``phi`` = the barrier objective, along the exact-AL Newton direction ``d``:

- a trial is acceptable to the filter when ``theta <= theta_max`` and no entry ``(theta_j,
  phi_j)`` of the filter has ``theta >= theta_j`` and ``phi >= phi_j`` (eq. 17; the entries carry
  the margins of eq. 21);
- switching condition (eq. 19): ``grad phi'd < 0`` and ``alpha (-grad phi'd)^s_phi > delta
  theta^s_theta``; when it holds and ``theta <= theta_min``, the trial needs the Armijo decrease
  of ``phi`` (eq. 20, an "f-type" step), else sufficient decrease of ``theta`` or ``phi`` against
  the current point (eq. 18) -- and then the current point enters the filter;
- a second-order correction (A-5.5 to A-5.10) when the first trial is rejected with ``theta``
  not decreased: the Newton matrix solved again with ``c_soc = alpha c(x) + c(x + alpha d)`` in
  place of ``c``, up to ``p_max`` times while ``theta`` falls by ``kappa_soc``;
- backtracking by halves down to ``alpha_min`` (eq. 23); below it the search fails and the
  caller falls back to the augmented-Lagrangian merit (the paper's rule) instead of IPOPT's
  restoration phase.

The constants are IPOPT's defaults.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Filter", "FilterOutcome"]

# IPOPT's defaults (Waechter and Biegler 2006, section 3.1 / the options reference)
GAMMA_THETA = 1e-5
GAMMA_PHI = 1e-8
DELTA = 1.0
S_THETA = 1.1
S_PHI = 2.3
ETA_PHI = 1e-8
GAMMA_ALPHA = 0.05
KAPPA_SOC = 0.99
P_MAX = 4
#: theta_max = THETA_MAX_FACTOR max(1, theta at the subproblem's first point) (IPOPT: 1e4)
THETA_MAX_FACTOR = 1e4


@dataclass
class FilterOutcome:
    """The accepted trial (``None``: the search failed), its step and what accepted it."""

    point: dict[str, Any] | None
    alpha: float
    kind: str = ""            # "f-type", "h-type" or "soc"
    trials: int = 0


@dataclass
class Filter:
    """The filter of one barrier subproblem (IPOPT resets it when ``mu`` changes): its entries and
    the bounds ``theta_max``, ``theta_min`` fixed at the subproblem's first point."""

    entries: list[tuple[float, float]] = field(default_factory=list)
    theta_max: float = math.nan
    theta_min: float = math.nan
    augmented: int = 0
    soc_accepted: int = 0
    resets: int = 0

    def start(self, theta0: float) -> None:
        if math.isnan(self.theta_max):
            self.theta_max = THETA_MAX_FACTOR * max(1.0, theta0)
            self.theta_min = 1e-4 * max(1.0, theta0)

    def reset(self) -> None:
        """Empty the filter (its bounds stay)."""
        self.entries = []
        self.resets += 1

    def acceptable(self, theta: float, phi: float) -> bool:
        """Eq. 17: not dominated by an entry, and theta below theta_max."""
        if not (math.isfinite(theta) and math.isfinite(phi)) or theta > self.theta_max:
            return False
        return not any(theta >= tj and phi >= pj for tj, pj in self.entries)

    def add(self, theta: float, phi: float) -> None:
        """Eq. 21: the point enters with margins; entries it dominates leave."""
        t, p = (1 - GAMMA_THETA) * theta, phi - GAMMA_PHI * theta
        self.entries = [(tj, pj) for tj, pj in self.entries if not (tj >= t and pj >= p)]
        self.entries.append((t, p))
        self.augmented += 1

    def alpha_min(self, theta0: float, gd: float) -> float:
        """Eq. 23: below this step the filter search gives up."""
        if gd < 0:
            a = min(GAMMA_THETA, GAMMA_PHI * theta0 / -gd,
                    DELTA * theta0 ** S_THETA / (-gd) ** S_PHI)
            return GAMMA_ALPHA * a
        return GAMMA_ALPHA * GAMMA_THETA

    def judge(self, theta0: float, phi0: float, gd: float, alpha: float, theta: float,
              phi: float) -> str:
        """``"f-type"``, ``"h-type"`` or ``""`` (rejected) for a trial at step ``alpha``."""
        if not self.acceptable(theta, phi):
            return ""
        switching = gd < 0 and alpha * (-gd) ** S_PHI > DELTA * theta0 ** S_THETA
        if switching and theta0 <= self.theta_min:
            return "f-type" if phi <= phi0 + ETA_PHI * alpha * gd else ""
        if theta <= (1 - GAMMA_THETA) * theta0 or phi <= phi0 - GAMMA_PHI * theta0:
            return "h-type"
        return ""

    def search(self, pt: dict[str, Any], dx: np.ndarray, dl: np.ndarray, alpha_max: float,
               trial: Callable[[np.ndarray, np.ndarray], dict[str, Any] | None],
               resolve: Callable[[np.ndarray], np.ndarray | None] | None,
               max_step: Callable[[np.ndarray, np.ndarray], float],
               max_trials: int, check_stop: Callable[[], None]) -> FilterOutcome:
        """Backtracking from ``alpha_max`` along ``(dx, dl)`` from ``pt`` (its ``f``: the
        barrier objective ``phi``, ``c`` the constraints, ``g`` the gradient of ``phi``).
        ``trial(x, lam)``: the trial's ``f`` and ``c`` (None when it cannot be evaluated);
        ``resolve(c_soc)``: the Newton system solved again with ``c_soc`` in place of ``c``
        (None: no second-order correction); ``check_stop``: raises on a limit or Ctrl-C."""
        x, lam = pt["x"], pt["lam"]
        theta0 = float(np.linalg.norm(pt["c"]))
        phi0 = float(pt["f"])
        gd = float(pt["g"] @ dx)
        self.start(theta0)
        amin = self.alpha_min(theta0, gd)
        alpha = alpha_max
        trials = 0
        for it in range(max_trials):
            check_stop()
            tr = trial(x + alpha * dx, lam + alpha * dl)
            trials += 1
            if tr is not None:
                theta = float(np.linalg.norm(tr["c"]))
                kind = self.judge(theta0, phi0, gd, alpha, theta, float(tr["f"]))
                if kind:
                    if kind == "h-type":
                        self.add(theta0, phi0)
                    return FilterOutcome(tr, alpha, kind, trials)
                if it == 0 and resolve is not None and theta >= theta0:
                    out = self._soc(pt, tr, alpha, theta0, phi0, gd, trial, resolve, max_step,
                                    check_stop)
                    trials += out.trials
                    if out.point is not None:
                        out.trials = trials
                        return out
            alpha *= 0.5
            if alpha < amin:
                break
        return FilterOutcome(None, alpha, "", trials)

    def _soc(self, pt: dict[str, Any], tr: dict[str, Any], alpha: float, theta0: float,
             phi0: float, gd: float, trial: Callable[[np.ndarray, np.ndarray], dict[str, Any] | None],
             resolve: Callable[[np.ndarray], np.ndarray | None],
             max_step: Callable[[np.ndarray, np.ndarray], float],
             check_stop: Callable[[], None]) -> FilterOutcome:
        """A-5.5 to A-5.10: second-order corrections of the rejected first trial ``tr``."""
        x, lam = pt["x"], pt["lam"]
        n = x.size
        c_soc = alpha * pt["c"] + tr["c"]
        theta_old = float(np.linalg.norm(tr["c"]))
        trials = 0
        for _ in range(P_MAX):
            check_stop()
            z = resolve(c_soc)
            if z is None or not np.all(np.isfinite(z)):
                break
            a_soc = min(1.0, max_step(x, z[:n]))
            ts = trial(x + a_soc * z[:n], lam + a_soc * z[n:])
            trials += 1
            if ts is None:
                break
            theta = float(np.linalg.norm(ts["c"]))
            # the switching condition and Armijo with the original alpha
            kind = self.judge(theta0, phi0, gd, alpha, theta, float(ts["f"]))
            if kind:
                if kind == "h-type":
                    self.add(theta0, phi0)
                self.soc_accepted += 1
                return FilterOutcome(ts, a_soc, "soc", trials)
            if theta > KAPPA_SOC * theta_old:
                break
            theta_old = theta
            c_soc = a_soc * c_soc + ts["c"]
        return FilterOutcome(None, alpha, "", trials)
