"""Sequences of linear systems after Khodak et al. (ICLR 2024): a 2D heat equation over time
steps and Poisson systems with a varying diagonal shift. Each instance is built from its own
parameters (``step``, ``seed``), so an instance sequence is a list of addresses
``linsys:heat?n=64&step=0`` ... and any instance can be rebuilt alone (resume after a kill).

* ``heat``: backward Euler for u_t = nu(t) Laplace(u) + f on the unit square, zero boundary,
  n x n interior grid: (I + nu(t) dt / h^2 L) u_k = u_{k-1} + dt f, L the 5-point Laplacian
  (diagonal 4). u_{k-1} is the manufactured field of the previous step (a decaying mode plus a
  source circling the square), also the warm start x0. The diffusion nu(t) = nu (1 + amplitude
  sin(2 pi t / period)) varies along the sequence (amplitude 0: a fixed matrix, only b changes).
  Context: ``courant`` = nu(t) dt / h^2 (what moves the best omega).
* ``shifted_poisson``: A = L + c I, c the diagonal shift (given, or drawn with ``seed``: uniform on
  [shift_low, shift_high], or ``shift_dist=beta``: shift_low + (shift_high - shift_low) Beta(a, b)),
  b ~ N(0, I) from ``seed`` (``rhs=truncated``: redrawn until ||b|| <= sqrt(n^2), a radially
  truncated Gaussian), x0 = 0. Context: ``shift``. A negative shift is allowed while A stays
  positive definite (c > -lambda_min(L) = -(4 - 4 cos(pi / (n + 1)))).

* ``heat_cn``: the heat simulation of the authors' later experiments (their public script
  h2d.m): Crank-Nicolson for u_t = c(t) Laplace(u) + f on the unit square, (nx - 1)^2 interior
  points, c(t) = max(0.1 sin 2 pi t, -10 sin 2 pi t), f = 32 bump(x; centre circling (0.5, 0.5)
  at radius 1/4 eight times per time unit, radius 1/8), u_0 = bump(x; (0.5, 0.5), 1/4),
  dt = stoptime / steps (5 / 5000). Step k's system is (I - c dt/2 L) u_{k+1} = (I + c dt/2 L)
  u_k + dt f at t_k + dt/2; u_k (also the warm start) comes from direct solves of the earlier
  steps (theirs from the tuned solver's own solutions, equal to 1e-8). Context: ``diffusion`` =
  c(t_k), the authors' ChebCB context.

The paper's SOR experiments (Khodak et al. 2024, from the authors' public experiment scripts): n = 10
(100 unknowns), c = -0.15 + 0.6 Beta(0.5, 1.5) ("high variance") or Beta(2, 6) ("low variance"),
truncated Gaussian b, tolerance 1e-8: ``linsys:shifted_poisson?n=10&shift_dist=beta&beta_a=0.5&
beta_b=1.5&shift_low=-0.15&shift_high=0.45&rhs=truncated&seed=S``.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, Field

from solverhub.core.errors import BadInputError
from solverhub.core.loading import LoaderParams

from .problem import LinearSystemProblem

__all__ = ["FAMILIES", "SCHEME", "heat", "shifted_poisson", "laplacian_2d", "linsys_params",
           "load_linsys"]

SCHEME = "linsys"


@lru_cache(maxsize=8)
def laplacian_2d(n: int) -> sp.csr_matrix:
    """The 5-point Laplacian (diagonal 4, neighbours -1) on an n x n grid, zero boundary."""
    T = sp.diags([-np.ones(n - 1), 2 * np.ones(n), -np.ones(n - 1)], [-1, 0, 1], format="csr")
    I = sp.identity(n, format="csr")
    out = (sp.kron(I, T) + sp.kron(T, I)).tocsr()
    out.sort_indices()
    return out


class HeatParams(LoaderParams):
    n: int = Field(32, ge=2, le=2000, description="interior grid points per side (n^2 unknowns)")
    step: int = Field(0, ge=0, description="time step index k")
    dt: float = Field(1e-3, gt=0, allow_inf_nan=False, description="time step")
    nu: float = Field(1.0, gt=0, allow_inf_nan=False, description="mean diffusion coefficient")
    amplitude: float = Field(0.5, ge=0, lt=1, description="relative variation of nu over time")
    period: int = Field(50, ge=1, description="steps per period of nu")
    tolerance: float = Field(1e-8, gt=0, lt=1, description="relative residual to reach")


class ShiftedPoissonParams(LoaderParams):
    n: int = Field(32, ge=2, le=2000, description="grid points per side (n^2 unknowns)")
    shift: float | None = Field(None, allow_inf_nan=False,
                                description="diagonal shift c (None: drawn from the seed)")
    shift_low: float = Field(0.0, allow_inf_nan=False)
    shift_high: float = Field(1.0, allow_inf_nan=False)
    shift_dist: Literal["uniform", "beta"] = Field(
        "uniform", description="law of a drawn shift on [shift_low, shift_high]")
    beta_a: float = Field(1.0, gt=0, allow_inf_nan=False, description="shift_dist=beta: a")
    beta_b: float = Field(1.0, gt=0, allow_inf_nan=False, description="shift_dist=beta: b")
    rhs: Literal["normal", "truncated"] = Field(
        "normal", description="b ~ N(0, I), or truncated to ||b|| <= sqrt(unknowns) (paper)")
    seed: int = Field(0, ge=0)
    tolerance: float = Field(1e-8, gt=0, lt=1, description="relative residual to reach")


def _field(n: int, t: float) -> np.ndarray:
    x = np.arange(1, n + 1) / (n + 1)
    X, Y = np.meshgrid(x, x, indexing="ij")
    cx, cy = 0.5 + 0.25 * math.cos(2 * math.pi * t), 0.5 + 0.25 * math.sin(2 * math.pi * t)
    u = math.exp(-t) * np.sin(math.pi * X) * np.sin(math.pi * Y)
    u += np.exp(-((X - cx) ** 2 + (Y - cy) ** 2) / 0.02)
    return u.ravel()


def heat(n: int = 32, step: int = 0, dt: float = 1e-3, nu: float = 1.0, amplitude: float = 0.5,
         period: int = 50, tolerance: float = 1e-8) -> LinearSystemProblem:
    """Time step ``step`` of the heat sequence (see the module docstring)."""
    h = 1.0 / (n + 1)
    nu_t = nu * (1 + amplitude * math.sin(2 * math.pi * step / period))
    courant = nu_t * dt / h**2
    A = (sp.identity(n * n, format="csr") + courant * laplacian_2d(n)).tocsr()
    t_prev = step * dt * 20  # the manufactured field moves visibly over a few dozen steps
    u_prev = _field(n, t_prev)
    b = u_prev + dt * _field(n, t_prev + 0.5)
    return LinearSystemProblem(A, b, tolerance=tolerance, x0=u_prev.copy(),
                               context={"courant": courant, "n": float(n)}, symmetric=True,
                               name=f"heat-n{n}-step{step}")


def shifted_poisson(n: int = 32, shift: float | None = None, shift_low: float = 0.0,
                    shift_high: float = 1.0, seed: int = 0, tolerance: float = 1e-8,
                    shift_dist: str = "uniform", beta_a: float = 1.0, beta_b: float = 1.0,
                    rhs: str = "normal") -> LinearSystemProblem:
    """A = L + c I with b ~ N(0, I) (see the module docstring)."""
    if shift_high < shift_low:
        raise BadInputError(f"shifted_poisson: shift_high {shift_high} < shift_low {shift_low}")
    lam_min = 4.0 - 4.0 * math.cos(math.pi / (n + 1))  # smallest eigenvalue of L
    lowest = shift if shift is not None else shift_low
    if lowest <= -lam_min:
        raise BadInputError(f"shifted_poisson: shift {lowest} makes A indefinite (it must be "
                            f"above -{lam_min:.6g}, minus the smallest eigenvalue of the n={n} "
                            "Laplacian)")
    rng = np.random.default_rng(seed)
    if shift is not None:
        c = float(shift)
    elif shift_dist == "beta":
        c = shift_low + (shift_high - shift_low) * float(rng.beta(beta_a, beta_b))
    else:
        c = float(rng.uniform(shift_low, shift_high))
    b = rng.standard_normal(n * n)
    while rhs == "truncated" and float(b @ b) > n * n:  # rejection: radially truncated Gaussian
        b = rng.standard_normal(n * n)
    A = (laplacian_2d(n) + c * sp.identity(n * n, format="csr")).tocsr()
    return LinearSystemProblem(A, b, tolerance=tolerance, context={"shift": c, "n": float(n)},
                               symmetric=True, name=f"shifted_poisson-n{n}-c{c:.4g}-seed{seed}")


class HeatCNParams(LoaderParams):
    nx: int = Field(25, ge=3, le=200, description="grid cells per side ((nx - 1)^2 unknowns)")
    step: int = Field(0, ge=0, description="time step index k (< steps)")
    steps: int = Field(5000, ge=1, le=100_000, description="steps of the whole simulation")
    stoptime: float = Field(5.0, gt=0, allow_inf_nan=False, description="dt = stoptime / steps")
    tolerance: float = Field(1e-8, gt=0, lt=1, description="relative residual to reach")


def _bump(points: np.ndarray, center: tuple[float, float], radius: float) -> np.ndarray:
    """exp(1 - 1 / (1 - min(1, |x - c|^2 / r^2))): 1 at the centre, 0 outside the radius."""
    d2 = np.minimum(1.0, ((points - np.asarray(center)) ** 2).sum(axis=1) / radius**2)
    with np.errstate(divide="ignore"):
        return np.exp(1.0 - 1.0 / (1.0 - d2))


def _diffusion(t: float) -> float:
    """The authors' time-varying coefficient max(0.1 sin 2 pi t, -10 sin 2 pi t)."""
    return max(0.1 * math.sin(2 * math.pi * t), -10.0 * math.sin(2 * math.pi * t))


#: the states of the last Crank-Nicolson simulation asked for, grown as later steps are asked for
_HEAT_CN_STATES: dict[tuple[int, int, float], list[np.ndarray]] = {}


def _heat_cn_system(nx: int, steps: int, stoptime: float, k: int, u: np.ndarray) -> tuple[
        sp.csr_matrix, np.ndarray, float]:
    dt, dx = stoptime / steps, 1.0 / nx
    t_half = k * dt + 0.5 * dt
    half = 0.5 * _diffusion(t_half) * dt / dx**2  # (c dt / 2) times minus the scaled Laplacian
    lap = laplacian_2d(nx - 1)
    eye = sp.identity((nx - 1) ** 2, format="csr")
    idx = np.arange(1, nx) * dx
    points = np.stack(np.meshgrid(idx, idx, indexing="ij"), axis=-1).reshape(-1, 2)
    center = (0.5 + math.cos(16 * math.pi * t_half) / 4, 0.5 + math.sin(16 * math.pi * t_half) / 4)
    b = (eye - half * lap) @ u + dt * 32.0 * _bump(points, center, 0.125)
    return (eye + half * lap).tocsr(), b, _diffusion(k * dt)


def heat_cn(nx: int = 25, step: int = 0, steps: int = 5000, stoptime: float = 5.0,
            tolerance: float = 1e-8) -> LinearSystemProblem:
    """Step ``step`` of the paper's heat simulation (module docstring); the states before it
    come from direct solves of the earlier steps (cached for the last simulation asked for)."""
    import scipy.sparse.linalg as spla

    if step >= steps:
        raise BadInputError(f"heat_cn: step {step} is past the simulation's {steps} steps")
    key = (nx, steps, float(stoptime))
    if key not in _HEAT_CN_STATES:
        _HEAT_CN_STATES.clear()
        idx = np.arange(1, nx) * (1.0 / nx)
        points = np.stack(np.meshgrid(idx, idx, indexing="ij"), axis=-1).reshape(-1, 2)
        _HEAT_CN_STATES[key] = [_bump(points, (0.5, 0.5), 0.25)]
    states = _HEAT_CN_STATES[key]
    while len(states) <= step:
        A, b, _ = _heat_cn_system(nx, steps, stoptime, len(states) - 1, states[-1])
        states.append(spla.spsolve(A.tocsc(), b))
    u = states[step]
    A, b, coefficient = _heat_cn_system(nx, steps, stoptime, step, u)
    return LinearSystemProblem(A, b, tolerance=tolerance, x0=u.copy(),
                               context={"diffusion": coefficient, "n": float(nx - 1)},
                               symmetric=True, name=f"heat_cn-nx{nx}-step{step}")


FAMILIES: dict[str, tuple[type[BaseModel], Any]] = {
    "heat": (HeatParams, heat),
    "shifted_poisson": (ShiftedPoissonParams, shifted_poisson),
    "heat_cn": (HeatCNParams, heat_cn),
}


def linsys_params(target: str) -> type[BaseModel]:
    """The parameter model of ``linsys:<target>`` (an unknown family is bad input)."""
    family = target.strip()
    if family not in FAMILIES:
        raise BadInputError(f"unknown linear-system family {family!r}, expected "
                            f"linsys:<family>?param=value (known: {', '.join(FAMILIES)})")
    return FAMILIES[family][0]


def load_linsys(target: str, params: BaseModel) -> LinearSystemProblem:
    """``linsys:<family>?param=value``; the host validated ``params`` with the family's model."""
    family = target.strip()
    problem = FAMILIES[family][1](**params.model_dump())
    query = "&".join(f"{k}={v}" for k, v in params.model_dump(exclude_unset=True).items())
    problem.source = f"{SCHEME}:{family}" + (f"?{query}" if query else "")
    problem.validate()
    return problem
