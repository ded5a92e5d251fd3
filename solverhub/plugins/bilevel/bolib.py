"""Test problems addressable as ``bolib:<NAME>``: the toys of the LV-HBA and BiC-GAFFA papers, a
quadratic problem with a closed-form solution, and a curated set of problems of the BOLIB library
(S. Zhou, A. B. Zemkoho, A. Tin, "BOLIB: Bilevel Optimization LIBrary of test problems", 2020),
transcribed from the published formulas (as listed in the BOLIB.jl collection, MIT licence) with
their published optimal values.

Transcription convention: BOLIB writes constraints as ``G(x, y) >= 0`` and ``g(x, y) >= 0`` with
1-based indices; the formulas below keep that form verbatim (``x[1]`` is the first upper-level
variable) and :func:`_bolib` negates them into this package's ``<= 0`` form. Bounds on a single
lower-level variable become the box Y, bounds on a single upper-level variable the box X (the
same feasible set; the projection is then exact instead of a multiplier's job).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, model_validator

from solverhub.core.errors import BadInputError
from solverhub.core.loading import LoaderParams

from .problem import BilevelProblem

__all__ = ["PROBLEMS", "TOYS", "bolib_names", "bolib_params", "load_bolib", "load_bolib_target"]

# ---------------------------------------------------------------------------- BOLIB set
# name: (n1, n2, F, G (>= 0), f, g (>= 0), start (x; y), (F*, f*), flag, solution or None, note)
# flag: "opt" (published optimum) or "best" (best known value)
PROBLEMS: dict[str, tuple] = {
    "AiyoshiShimizu1984Ex2": (2, 2, "2*x[1] + 2*x[2] - 3*y[1] - 3*y[2] - 60",
        "2*y[2] - x[2] - y[1] - x[1] + 40; 50 - x[1]; 50 - x[2]; x[1]; x[2]",
        "(y[1] - x[1] + 20)^2 + (y[2] - x[2] + 20)^2",
        "x[1] - 2*y[1] - 10; x[2] - 2*y[2] - 10; y[1] + 10; y[2] + 10; 20 - y[1]; 20 - y[2]",
        "10;10;20;20", (5, 0), "opt", None, ""),
    "AllendeStill2013": (2, 2, "(x[1] - 1)^2 + (x[2] - 1)^2 + y[1]^2 + y[2]^2",
        "x[1]; x[2]; 2 - x[1]; y[1]; y[2]",
        "y[1]^2 - 2*x[2]*y[2] - 2*x[1]*y[1] + y[2]^2",
        "1/4 - (y[1] - 1)^2; 1/4 - (y[2] - 1)^2", "0;0;0;0", (1, -0.5), "opt", None,
        "convex but nonlinear lower-level constraints"),
    "Bard1988Ex1": (1, 1, "(x[1] - 5)^2 + (2*y[1] + 1)^2", "x[1]",
        "(y[1] - 1)^2 - (3*x[1]*y[1])/2",
        "3*x[1] - y[1] - 3; y[1]/2 - x[1] + 4; 7 - y[1] - x[1]; y[1]", "4;0", (17, 1), "opt",
        (1.0, 0.0), ""),
    "Bard1988Ex2": (4, 4, "(y[2] + y[4])*(y[2] + y[4] - 160) + (y[1] + y[3])*(y[1] + y[3] - 200)",
        "40 - x[2] - x[3] - x[4] - x[1]; 10 - x[1]; 5 - x[2]; 15 - x[3]; 20 - x[4]; x[1]; x[2]; x[3]; x[4]",
        "(y[1] - 4)^2 + (y[4] - 2)^2 + (y[2] - 13)^2 + (y[3] - 35)^2",
        "x[1] - (2*y[1])/5 - (7*y[2])/10; x[2] - (3*y[1])/5 - (3*y[2])/10; x[3] - (2*y[3])/5 - (7*y[4])/10; "
        "x[4] - (3*y[3])/5 - (3*y[4])/10; 20 - y[1]; 20 - y[2]; 40 - y[3]; 40 - y[4]; y[1]; y[2]; y[3]; y[4]",
        "5;5;15;15;0;0;0;0", (-6600, 54), "opt", None, ""),
    "Bard1991Ex1": (1, 2, "x[1] + y[2]", "x[1] - 2; 4 - x[1]", "2*y[1] + x[1]*y[2]",
        "y[1] - x[1] + y[2] - 4; y[1]; y[2]", "1;1;1", (2, 12), "opt", None, "linear lower level"),
    "BardBook1998": (2, 2, "(y[1] - x[1] + 20)^2 + (y[2] - x[2] + 20)^2",
        "50 - x[1]; 50 - x[2]; x[1]; x[2]", "2*x[1] + 2*x[2] - 3*y[1] - 3*y[2] - 60",
        "2*y[2] - x[2] - y[1] - x[1] + 40; x[1] - 2*y[1] - 10; x[2] - 2*y[2] - 10; 20 - y[1]; 20 - y[2]; "
        "y[1] + 10; y[2] + 10", "1;1;1;1", (0, 5), "opt", None, "linear lower level"),
    "CalamaiVicente1994a": (1, 1, "(x[1] - 1)^2/2 + y[1]^2/2", "", "y[1]/2 - x[1]*y[1]",
        "y[1] - x[1] + 1; x[1] + y[1] - 1; 1 - y[1] - x[1]", "1;1", (0, 0), "opt", None, ""),
    "CalamaiVicente1994b": (4, 2, "(x[1] - 1)^2/2 + (x[2] - 1)^2/2 + (x[3] - 1)^2/2 + (x[4] - 1)^2/2 "
        "+ y[1]^2/2 + y[2]^2/2", "", "y[1]^2/2 - x[2]*y[2] - x[1]*y[1] + y[2]^2/2",
        "y[1] - x[1] + 1; y[2] - x[2] + 1; 3/2 - y[1] - x[1]; 3 - y[2] - x[2]; x[1] + y[1] - 1; "
        "x[2] + y[2] - 1", "1;1;1;1;1;1", (0.3125, -0.4063), "opt", None, ""),
    "ClarkWesterberg1990a": (1, 1, "(x[1] - 3)^2 + (y[1] - 2)^2", "8 - x[1]; x[1]", "(y[1] - 5)^2",
        "2*x[1] - y[1] + 1; 2*y[1] - x[1] - 2; 14 - 2*y[1] - x[1]", "1;1", (5, 4), "opt",
        (1.0, 3.0), "a local solution (3, 5) with F = 9"),
    "Colson2002BIPA2": (1, 1, "(x[1] - 5)^2 + (2*y[1] + 1)^2", "x[1]",
        "(y[1] - 1)^2 - (3*x[1]*y[1])/2 + x[1]^3",
        "3*x[1] - y[1] - 3; y[1]/2 - x[1] + 4; 7 - y[1] - x[1]; y[1]", "4;0", (17, 2), "best", None, ""),
    "DeSilva1978": (2, 2, "(x[1] - 1)^2 + (x[2] - 1)^2 + y[1]^2 + y[2]^2 - 2", "",
        "(x[1] - y[1])^2 + (x[2] - y[2])^2", "y[1] - 1/2; y[2] - 1/2; 3/2 - y[1]; 3/2 - y[2]",
        "0;0;1;1", (-1, 0), "opt", None, ""),
    "Dempe1992b": (1, 1, "(x[1] - 7/2)^2 + (y[1] + 4)^2", "", "(y[1] - 3)^2", "x[1] - y[1]^2",
        "-1;-1", (31.25, 4), "opt", None, "nonlinear lower-level constraint (C non-convex)"),
    "DempeDutta2012Ex24": (1, 1, "(x[1] - 1)^2 + y[1]^2", "", "x[1]^2*y[1]", "-y[1]^2", "1;1",
        (0, 0), "opt", None, "nonlinear lower-level constraint (C non-convex)"),
    "DempeEtal2012": (1, 1, "x[1]", "x[1] + 1; 1 - x[1]", "x[1]*y[1]", "y[1]; 1 - y[1]", "1;1",
        (-1, -1), "opt", None, "linear lower level"),
    "DempeFranke2011Ex41": (2, 2, "x[1] + y[1]^2 + y[2]^2", "x[1] + 1; 1 - x[1]; x[2] + 1; - x[2] - 1",
        "x[1]*y[1] + x[2]*y[2]", "2*y[1] - y[2]; 2 - y[1]; 2 - y[2]; y[2]", "1;1;1;1", (5, -2), "opt",
        None, "linear lower level; the start violates x[2] <= -1 (projected)"),
    "DempeFranke2011Ex42": (2, 2, "x[1] + (y[1] - 1)^2 + y[2]^2", "x[1] + 1; 1 - x[1]; x[2] + 1; - x[2] - 1",
        "x[1]*y[1] + x[2]*y[2]", "y[1] - y[2] + 1; 7/2 - y[2] - y[1]; 2 - y[2]", "1;1;1;1",
        (2.13, -3.5), "opt", None, "linear lower level"),
    "DempeFranke2014Ex38": (2, 2, "2*x[1] + x[2] + 2*y[1] - y[2]",
        "x[1] + 1; 1 - x[1]; x[2] + 1; - x[2] - 3/4", "x[1]*y[1] + x[2]*y[2]",
        "2*y[1] - y[2]; 2 - y[1]; 2 - y[2]; y[2]", "1;1;1;1", (-1, -4), "opt", None, "linear lower level"),
    "DempeLohse2011Ex31a": (2, 2, "(x[1] - 1/2)^2 - 3*y[2] - 3*y[1] + (x[2] - 1/2)^2", "",
        "x[1]*y[1] + x[2]*y[2]", "2 - y[2] - y[1]; y[1] - y[2]; y[1]; y[2]", "1;1;1;1", (-5.5, 0),
        "opt", None, "linear lower level"),
    "FalkLiu1995": (2, 2, "(x[1] - 3/2)^2 + (x[2] - 3/2)^2 + y[1]^2 + y[2]^2 - 9/2", "",
        "(x[1] - y[1])^2 + (x[2] - y[2])^2", "y[1] - 1/2; y[2] - 1/2; 3/2 - y[1]; 3/2 - y[2]",
        "0;0;1;1", (-2.1962, 0), "opt", None, ""),
    "FloudasEtal2013": (2, 2, "2*x[1] + 2*x[2] - 3*y[1] - 3*y[2] - 60", "50 - x[1]; 50 - x[2]; x[1]; x[2]",
        "(y[1] - x[1] + 20)^2 + (y[2] - x[2] + 20)^2",
        "x[1] - 2*y[1] - 10; x[2] - 2*y[2] - 10; 2*y[2] - x[2] - y[1] - x[1] + 40; y[1] + 10; y[2] + 10; "
        "20 - y[1]; 20 - y[2]", "10;10;20;20", (0, 200), "opt", None, ""),
    "GumusFloudas2001Ex4": (1, 1, "(x[1] - 3)^2 + (y[1] - 2)^2",
        "x[1]; 8 - x[1]; 2*x[1] - y[1] + 1; 2*y[1] - x[1] - 2; 14 - 2*y[1] - x[1]", "(y[1] - 5)^2",
        "y[1]; 10 - y[1]", "1;1", (9, 0), "opt", (3.0, 5.0), "ClarkWesterberg's constraints moved up"),
    "HendersonQuandt1958": (1, 1, "x[1]*(x[1]/2 + y[1]/2 - 95)", "200 - x[1]; x[1]",
        "y[1]*(x[1]/2 + y[1] - 100)", "y[1]", "0;0", (-3266.67, -711.11), "best", None, ""),
    "LamparielloSagratella2017Ex31": (1, 1, "x[1]^2 + y[1]^2", "x[1] - 1", "y[1]", "x[1] + y[1] - 1",
        "1;1", (1, 0), "opt", None, "linear lower level"),
    "LamparielloSagratella2017Ex32": (1, 1, "x[1]^2 + y[1]^2", "", "(x[1] + y[1] - 1)^2", "", "1;1",
        (0.5, 0), "opt", None, "lower-level solutions not unique"),
    "LamparielloSagratella2017Ex35": (1, 1, "x[1]^2 + y[1]^2", "x[1] + 1; 1 - x[1]", "-y[1]",
        "2 - y[1] - 2*x[1]; y[1]; 1 - y[1]", "1;1", (0.8, -0.4), "opt", None, "linear lower level"),
    "LucchettiEtal1987": (1, 1, "x[1]*y[1] - x[1]/2 + 1/2", "x[1]; 1 - x[1]", "y[1]*(x[1] - 1)",
        "y[1]; 1 - y[1]", "1;1", (0, 0), "opt", (1.0, 0.0), "linear lower level"),
    "MacalHurter1997": (1, 1, "(x[1] - 1)^2 + (y[1] - 1)^2", "", "500*y[1] - 50*x[1]*y[1] + y[1]^2/2",
        "", "1;1", (81.327, -0.333), "opt", None, "unconstrained"),
    "MorganPatrone2006a": (1, 1, "- x[1] - y[1]", "x[1] + 1/2; 1/2 - x[1]", "x[1]*y[1]",
        "y[1] + 1; 1 - y[1]", "1;1", (-1, 0), "opt", None, "linear lower level"),
    "SahinCiric1998Ex2": (1, 1, "(x[1] - 3)^2 + (y[1] - 2)^2", "x[1]; 8 - x[1]", "(y[1] - 5)^2",
        "2*x[1] - y[1] + 1; 2*y[1] - x[1] - 2; 14 - 2*y[1] - x[1]", "1;1", (5, 4), "opt", (1.0, 3.0), ""),
    "ShimizuAiyoshi1981Ex1": (1, 1, "(y[1] - 10)^2 + x[1]^2", "15 - x[1]; x[1] - y[1]; x[1]",
        "(x[1] + 2*y[1] - 30)^2", "20 - y[1] - x[1]; 20 - y[1]; y[1]", "1;1", (100, 0), "opt",
        (10.0, 10.0), ""),
    "ShimizuAiyoshi1981Ex2": (2, 2, "20*y[2] - 20*y[1] + (x[2] - 20)^2 + (x[1] - 30)^2",
        "x[1] + 2*x[2] - 30; 25 - x[2] - x[1]; 15 - x[2]", "(x[1] - y[1])^2 + (x[2] - y[2])^2",
        "10 - y[1]; 10 - y[2]; y[1]; y[2]", "1;1;1;1", (225, 100), "opt", None, ""),
    "ShimizuEtal1997b": (1, 1, "16*x[1]^2 + 9*y[1]^2", "x[1]; 4*x[1] - y[1]", "(x[1] + y[1] - 20)^4",
        "y[1]; 50 - y[1] - 4*x[1]", "1;1", (2250, 197.75), "opt", None, ""),
    "TuyEtal2007": (1, 1, "x[1]^2 + y[1]^2", "x[1]; y[1]", "-y[1]",
        "15 - y[1] - 3*x[1]; 7 - y[1] - x[1]; 15 - 3*y[1] - x[1]", "5;0", (22.5, -1.5), "opt", None,
        "linear lower level"),
    "Yezza1996Ex41": (1, 1, "(y[1] - x[1] + 2)^2/2 + (y[1] - 2)^2/2", "", "x[1] - y[1] + y[1]^2/2",
        "y[1]; x[1] - y[1]", "-1;-1", (0.5, 2.5), "opt", None, ""),
    "YeZhu2010Ex42": (1, 1, "(x[1] - 1)^2 + y[1]^2", "x[1] + 3; 2 - x[1]", "y[1]^3 - 3*y[1]",
        "y[1] - x[1]", "-1;-1", (1, -2), "opt", None, "nonconvex lower level"),
}


def _expr(text: str) -> str:
    return text.replace("^", "**").replace("exp(", "np.exp(")


def _compile(text: str, vector: bool) -> Any:
    """A function of (x, y) from a BOLIB formula with 1-based indices."""
    if not text.strip():
        return None
    parts = [p.strip() for p in text.split(";") if p.strip()]
    body = ", ".join(_expr(p) for p in parts)
    src = f"lambda x, y: np.array([{body}])" if vector else f"lambda x, y: {_expr(parts[0])}"
    fn = eval(src, {"np": np, "__builtins__": {}})

    def wrapped(x: Any, y: Any) -> Any:
        one = np.zeros(1, dtype=np.result_type(x, y, np.float64))
        return fn(np.concatenate([one, x]), np.concatenate([one, y]))
    return wrapped


def _bolib(name: str, params: dict[str, Any]) -> BilevelProblem:
    n1, n2, F, G, f, g, start, (Fs, fs), flag, sol, note = PROBLEMS[name]
    z0 = np.array([float(v) for v in start.split(";")])
    x0, y0 = z0[:n1], z0[n1:]
    if params.get("x0") is not None:
        x0 = np.array(params["x0"], dtype=float)
    if params.get("y0") is not None:
        y0 = np.array(params["y0"], dtype=float)
    Gf, gf = _compile(G, True), _compile(g, True)
    def neg(h: Any) -> Any:
        return lambda x, y: -h(x, y)

    # single-variable bounds become boxes (same feasible set, exact projection)
    xl, xu = np.full(n1, -np.inf), np.full(n1, np.inf)
    yl, yu = np.full(n2, -np.inf), np.full(n2, np.inf)
    keepG = _split_bounds(Gf, n1, n2, x0, y0, "x", xl, xu) if Gf else []
    keepg = _split_bounds(gf, n1, n2, x0, y0, "y", yl, yu) if gf else []
    Gk = _rows(Gf, keepG)
    gk = _rows(gf, keepg)
    ref_x = ref_y = None
    if sol is not None:
        ref_x, ref_y = np.array(sol[:n1], dtype=float), np.array(sol[n1:], dtype=float)
    return BilevelProblem(
        n1, n2, _compile(F, False), _compile(f, False),
        G=None if Gk is None else neg(Gk), g=None if gk is None else neg(gk),
        X=(xl, xu), Y=(yl, yu), x0=x0, y0=y0, reference_objective=Fs, reference_lower=fs,
        reference_x=ref_x, reference_y=ref_y, reference_kind=flag,
        multiplier_bound=float(params.get("multiplier_bound", 10.0)),
        name=name, source=f"bolib:{name}", notes=note)


def _rows(fn: Any, keep: list[int]) -> Any:
    if fn is None or not keep:
        return None
    idx = np.array(keep)
    return lambda x, y: fn(x, y)[idx]


def _split_bounds(fn: Any, n1: int, n2: int, x0: np.ndarray, y0: np.ndarray, var: str,
                  lo: np.ndarray, up: np.ndarray) -> list[int]:
    """Rows ``a * v_j + c >= 0`` of one variable of ``var`` go into (lo, up); the rest are kept."""
    base = np.asarray(fn(x0, y0), dtype=float)
    keep = []
    n = n1 + n2
    z0 = np.concatenate([x0, y0])
    J = np.empty((base.size, n))
    for i in range(n):
        zc = z0.astype(complex)
        zc[i] += 1e-30j
        J[:, i] = np.asarray(fn(zc[:n1], zc[n1:])).imag / 1e-30
    # an affine row gives the same value at another point through J
    z1 = z0 + 1.7
    v1 = np.asarray(fn(z1[:n1], z1[n1:]), dtype=float)
    for r in range(base.size):
        nz = np.flatnonzero(J[r] != 0)
        affine = abs(v1[r] - base[r] - J[r] @ (z1 - z0)) <= 1e-9 * max(1.0, abs(v1[r]))
        off = 0 if var == "x" else n1
        if affine and nz.size == 1 and off <= nz[0] < off + (n1 if var == "x" else n2):
            j = nz[0] - off
            a = J[r, nz[0]]
            c = base[r] - a * z0[nz[0]]
            bound = -c / a
            if a > 0:
                lo[j] = max(lo[j], bound)
            else:
                up[j] = min(up[j], bound)
        else:
            keep.append(r)
    return keep


# ---------------------------------------------------------------------------- toys
def _toy_lower_level(n: int) -> dict[str, Any]:
    """The lower level both toys share: f = 1/2 ||y1||^2 - x'y1 + 1'y2 for y = (y1, y2), with the
    coupled constraint 1'x + 1'y1 + 1'y2 = 0, started at zero."""

    def f(x: Any, y: Any) -> Any:
        y1, y2 = y[:n], y[n:]
        return 0.5 * np.sum(y1 * y1) - np.sum(x * y1) + np.sum(y2)

    def gf(x: Any, y: Any) -> Any:
        y1 = y[:n]
        return -y1, np.concatenate([y1 - x, np.ones(n)])

    ones = np.ones(n)
    return dict(f=f, grad_f=gf, g=lambda x, y: np.atleast_1d(np.sum(x) + np.sum(y)),
                jac_g=lambda x, y: (ones[None, :], np.ones((1, 2 * n))), lower_eq=[True],
                x0=np.zeros(n), y0=np.zeros(2 * n))


def lvhba_toy(n: int = 100) -> BilevelProblem:
    """Toy of the LV-HBA paper: x in R^n, y = (y1, y2) in R^2n,
    F = 1/2 ||x - y2||^2 + 1/2 ||y1 - 1||^2, f = 1/2 ||y1||^2 - x'y1 + 1'y2,
    lower-level constraint 1'x + 1'y1 + 1'y2 = 0 (coupled, non-unique lower-level solutions).
    Solution x* = -0.3, y1* = 0.7, y2* = -0.4 (all entries), multiplier -1, F* = 0.05 n."""
    n = int(n)

    def F(x: Any, y: Any) -> Any:
        y1, y2 = y[:n], y[n:]
        return 0.5 * np.sum((x - y2) ** 2) + 0.5 * np.sum((y1 - 1) ** 2)

    def gF(x: Any, y: Any) -> Any:
        y1, y2 = y[:n], y[n:]
        return x - y2, np.concatenate([y1 - 1, y2 - x])

    P = BilevelProblem(
        n, 2 * n, F, grad_F=gF, **_toy_lower_level(n), reference_objective=0.05 * n,
        reference_x=np.full(n, -0.3), reference_y=np.concatenate([np.full(n, 0.7), np.full(n, -0.4)]),
        multiplier_bound=1.0, name=f"LVHBAToy(n={n})", source=f"bolib:LVHBAToy?n={n}")
    #: lv-hba runs these updates in a compiled loop (kernel="auto")
    P.structure = ("lvhba_toy", n)
    return P


def bicgaffa_toy(n: int = 10) -> BilevelProblem:
    """Toy of the BiC-GAFFA paper: F = (y1 - 2)'(x - 1) + ||y2 + 3||^2, f as in the LV-HBA toy,
    lower-level constraint 1'x + 1'y1 + 1'y2 = 0; solution x* = 1, y* = (2, -3), F* = 0."""
    n = int(n)

    def F(x: Any, y: Any) -> Any:
        y1, y2 = y[:n], y[n:]
        return np.sum((y1 - 2) * (x - 1)) + np.sum((y2 + 3) ** 2)

    def gF(x: Any, y: Any) -> Any:
        y1, y2 = y[:n], y[n:]
        return y1 - 2, np.concatenate([x - 1, 2 * (y2 + 3)])

    P = BilevelProblem(
        n, 2 * n, F, grad_F=gF, **_toy_lower_level(n), reference_objective=0.0,
        reference_x=np.ones(n), reference_y=np.concatenate([np.full(n, 2.0), np.full(n, -3.0)]),
        multiplier_bound=1.0, name=f"BiCGAFFAToy(n={n})", source=f"bolib:BiCGAFFAToy?n={n}")
    P.structure = ("bicgaffa_toy", n)
    return P


def quadratic_closed_form(n: int = 5, m: int | None = None, rho: float = 0.1,
                          seed: int = 0) -> BilevelProblem:
    """f = 1/2 ||y - A x||^2 (unconstrained lower level, y* = A x), F = 1/2 ||y - b||^2 +
    rho/2 ||x||^2: x* = (A'A + rho I)^-1 A'b, y* = A x*. A is m x n, N(0, 1/m), b ~ N(0, 1)."""
    n = int(n)
    m = n if m is None else int(m)
    rho = float(rho)
    rng = np.random.default_rng(int(seed))
    A = rng.standard_normal((m, n)) / math.sqrt(m)
    b = rng.standard_normal(m)
    xs = np.linalg.solve(A.T @ A + rho * np.eye(n), A.T @ b)
    ys = A @ xs
    Fs = 0.5 * float((ys - b) @ (ys - b)) + 0.5 * rho * float(xs @ xs)
    return BilevelProblem(
        n, m, lambda x, y: 0.5 * np.sum((y - b) ** 2) + 0.5 * rho * np.sum(x * x),
        lambda x, y: 0.5 * np.sum((y - A @ x) ** 2),
        grad_F=lambda x, y: (rho * x, y - b), grad_f=lambda x, y: (-A.T @ (y - A @ x), y - A @ x),
        x0=np.zeros(n), y0=np.zeros(m), reference_objective=Fs, reference_x=xs, reference_y=ys,
        reference_lower=0.0, name=f"QuadraticClosedForm(n={n},m={m},rho={rho:g},seed={seed})",
        source=f"bolib:QuadraticClosedForm?n={n}&m={m}&rho={rho:g}&seed={seed}")


TOYS = {"LVHBAToy": (lvhba_toy, ("n",)), "BiCGAFFAToy": (bicgaffa_toy, ("n",)),
        "QuadraticClosedForm": (quadratic_closed_form, ("n", "m", "rho", "seed"))}


def bolib_names() -> list[str]:
    return sorted(PROBLEMS)


class _ToyParams(LoaderParams):
    n: int = Field(100, ge=1)


class _ToyParams10(LoaderParams):
    n: int = Field(10, ge=1)


class _QuadraticParams(LoaderParams):
    n: int = Field(5, ge=1)
    m: int | None = Field(None, ge=1)
    rho: float = Field(0.1, gt=0)
    seed: int = Field(0, ge=0)


_TOY_PARAMS: dict[str, type[LoaderParams]] = {"LVHBAToy": _ToyParams, "BiCGAFFAToy": _ToyParams10,
               "QuadraticClosedForm": _QuadraticParams}


@lru_cache(maxsize=None)
def bolib_params(target: str) -> type[LoaderParams]:
    """The parameter model of ``bolib:<target>``: a toy's own parameters; for a BOLIB problem
    the starting point (``x0``, ``y0``: comma lists of its n1 / n2 numbers) and
    ``multiplier_bound``. An unknown name is bad input."""
    name = target.strip()
    if name in TOYS:
        return _TOY_PARAMS[name]
    if name not in PROBLEMS:
        known = ", ".join(sorted(TOYS) + bolib_names())
        raise BadInputError(f"unknown bilevel test problem {name!r} (known: {known})")
    n1, n2 = PROBLEMS[name][:2]
    return type(f"Bolib_{name}", (_BolibParams,), {"sizes": (n1, n2), "__module__": __name__})


class _BolibParams(LoaderParams):
    """Parameters of a BOLIB problem: its start and the multiplier box; ``sizes`` = (n1, n2)."""

    sizes: ClassVar[tuple[int, int]] = (0, 0)
    x0: list[float] | None = Field(None, description="starting x: n1 comma-separated numbers")
    y0: list[float] | None = Field(None, description="starting y: n2 comma-separated numbers")
    multiplier_bound: float = Field(10.0, gt=0)

    @model_validator(mode="after")
    def _start_sizes(self) -> "_BolibParams":
        for key, size in zip(("x0", "y0"), self.sizes):
            v = getattr(self, key)
            if v is not None and len(v) != size:
                level = "upper" if key == "x0" else "lower"
                text = ",".join(f"{t:g}" for t in v)
                raise ValueError(f"{key}={text!r} has {len(v)} entries, the "
                                 f"problem has {size} {level}-level variable{'s' if size > 1 else ''}")
        return self


def load_bolib_target(target: str, params: LoaderParams) -> BilevelProblem:
    """The ``bolib:`` loader (the host has parsed and validated the parameters)."""
    name = target.strip()
    given = params.model_dump()
    if name in TOYS:
        return TOYS[name][0](**given)
    try:
        return _bolib(name, {k: v for k, v in given.items() if v is not None})
    except ValueError as exc:
        raise BadInputError(f"bolib:{name}: {exc}") from None


def load_bolib(source: Any, params: dict[str, Any] | None = None) -> BilevelProblem:
    """``bolib:<NAME>?k=v`` as a problem (the same as ``solverhub.load_problem(source, **params)``)."""
    from solverhub.core.api import load_problem

    return load_problem(str(source), **(params or {}))
