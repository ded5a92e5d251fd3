"""Pyomo model -> :class:`~solverhub.core.mip.MIPProblem`, through Pyomo's own standard-form compiler.

The compiler (``pyomo.repn.plugins.standard_form.LinearStandardFormCompiler`` with
``mixed_form=True, set_sense=None``) walks every active constraint and the objective once and
gives the coefficient matrix as a SciPy CSC array, the right-hand sides, one ``(constraint, sense)``
entry per row (``0`` for ``==``, ``1`` for ``<=``, ``-1`` for ``>=``; a range gives two consecutive
rows) and the list of variables that appear (fixed variables are already moved into the
right-hand sides and the objective constant). Everything after the compiler is vectorised NumPy:
range pairs are merged back into one two-sided row, the matrix is turned into CSR, and column
bounds and integrality come from each variable's ``bounds`` and its domain's interval
(``Binary``, ``Integers``, ``NonNegativeIntegers``, ``Reals``, ``NonNegativeReals`` ...), the
domain interval cached per domain object.

``pyomo.kernel`` blocks, which that compiler does not walk, go through ``generate_standard_repn``
per active constraint and objective instead (as Pyomo's kernel-capable writers do).

Errors are :class:`~solverhub.core.errors.BadInputError` with one line naming the component,
e.g. ``constraint c[3]: nonlinear expression not supported``.
"""

from __future__ import annotations

import math
import re
import sys
import time
from typing import Any, Sequence

import numpy as np
import scipy.sparse as sp

from solverhub.core.errors import BadInputError
from solverhub.core.mip import MAX, MIN, MIPProblem

__all__ = ["PyomoMIPProblem", "PyomoModel", "InfeasibleModelError", "pyomo_to_mip", "is_pyomo_model",
           "is_kernel_model"]

#: integral columns within this distance of an integer are rounded when loaded into a model
_ROUND_TOL = 1e-5


class InfeasibleModelError(BadInputError):
    """The model contains a constraint without variables that cannot hold (e.g. all its variables
    are fixed to values that violate it): Pyomo's compiler rejects it before any solver runs."""


class PyomoModel:
    """A Pyomo model as a problem of kind ``"pyomo"`` (for the converter registry).

    ``sh.solve(model)`` takes a bare Pyomo model directly; this wrapper gives the converters
    (``pyomo -> mip``, ``pyomo -> nlp-eq``) a typed source kind. ``compiled`` is the problem a
    converter last compiled the model into: a solution of the model is a vector over that
    problem's columns (the model's variables in its order), checked by that problem's kind
    (:class:`solverhub.plugins.pyomo.kind.PyomoKind`) and loaded into the model's variables.
    """

    kind = "pyomo"

    def __init__(self, model: Any, *, names: bool = True) -> None:
        if not is_pyomo_model(model):
            raise BadInputError(f"PyomoModel needs a Pyomo block or model, got {type(model).__name__}")
        self.model = model
        self.names = bool(names)
        self.name = getattr(model, "name", "pyomo")
        #: the problem a converter last compiled the model into (None before any)
        self.compiled: Any = None

    def to_mip(self) -> "PyomoMIPProblem":
        self.compiled = pyomo_to_mip(self.model, names=self.names)
        return self.compiled

    def accept_result(self, result: Any) -> None:
        accept = getattr(self.compiled, "accept_result", None)
        if callable(accept):
            accept(result)

    def __repr__(self) -> str:
        return f"PyomoModel({self.name!r})"


class PyomoMIPProblem(MIPProblem):
    """A :class:`MIPProblem` compiled from a Pyomo model that remembers the model's variables.

    ``pyomo_vars[j]`` is the Pyomo variable of column ``j``; ``pyomo_rows[i]`` the constraint of
    row ``i``. :meth:`accept_result` (called by :func:`solverhub.solve`) loads a solution into the
    model when the result has one; :meth:`load_solution` does it for any vector ``x``.
    Transforms (``copy``, ``as_minimization``) return plain :class:`MIPProblem` objects.
    """

    pyomo_model: Any = None
    pyomo_vars: list = []
    pyomo_rows: list = []
    #: ``accept_result`` loads solutions into the model (the Pyomo solver interface turns it off and
    #: loads according to its own ``load_solutions`` setting)
    load_on_accept: bool = True
    #: seconds spent in Pyomo's compiler ("compile") and in our post-processing ("post")
    conversion_times: dict = {}
    #: False for a model without an active objective (solved as a feasibility problem, c = 0)
    has_objective: bool = True
    #: the model's active objective (None without one)
    pyomo_objective: Any = None

    # -------------------------------------------------------------- solutions
    def values(self, x: np.ndarray, *, round_integers: bool = True) -> np.ndarray:
        """``x`` as loaded into the model: integer columns rounded when within 1e-5."""
        x = np.asarray(x, dtype=np.float64).ravel()
        if x.size != self.n:
            raise BadInputError(f"{self.name}: solution has {x.size} entries, expected {self.n}")
        if round_integers and self.integrality.any():
            x = x.copy()
            xi = x[self.integrality]
            r = np.round(xi)
            close = np.abs(xi - r) <= _ROUND_TOL
            xi[close] = r[close] + 0.0  # no -0.0 in the model
            x[self.integrality] = xi
        return x

    def load_solution(self, x: np.ndarray, vars_to_load: Sequence[Any] | None = None) -> None:
        """Set the model's variable values from ``x`` (all columns, or only ``vars_to_load``)."""
        from pyomo.core.staleflag import StaleFlagManager

        vals = self.values(x)
        if vars_to_load is None:
            for v, val in zip(self.pyomo_vars, vals.tolist()):
                v.set_value(val, skip_validation=True)
        else:
            for v, val in self.solution_map(vals, vars_to_load).items():
                v.set_value(val, skip_validation=True)
        StaleFlagManager.mark_all_as_stale(delayed=True)

    def solution_map(self, x: np.ndarray, vars_to_load: Sequence[Any] | None = None) -> Any:
        """A Pyomo ``ComponentMap`` variable -> value (fixed variables report their fixed value)."""
        from pyomo.common.collections import ComponentMap

        vals = self.values(x).tolist()
        if vars_to_load is None:
            return ComponentMap(zip(self.pyomo_vars, vals))
        index = self._column_index()
        out = ComponentMap()
        for v in vars_to_load:
            j = index.get(id(v))
            if j is not None:
                out[v] = vals[j]
            elif v.fixed:
                out[v] = v.value
            else:
                raise BadInputError(f"variable {v.name} does not appear in the solved model "
                                    f"(no active constraint or objective uses it)")
        return out

    def _column_index(self) -> dict[int, int]:
        idx = getattr(self, "_col_index", None)
        if idx is None:
            idx = {id(v): j for j, v in enumerate(self.pyomo_vars)}
            self._col_index = idx
        return idx

    def accept_result(self, result: Any) -> None:
        """Load ``result.x`` into the Pyomo model when the result carries a verified solution."""
        if not self.load_on_accept or result.x is None or result.error is not None:
            return
        if not result.has_solution:
            return
        self.load_solution(result.x)
        result.info["pyomo_solution_loaded"] = True


# ------------------------------------------------------------------ detection
def is_pyomo_model(obj: Any) -> bool:
    """True for a Pyomo block (``ConcreteModel``, a ``Block`` element, a ``pyomo.kernel`` block);
    never imports Pyomo."""
    if sys.modules.get("pyomo.core") is None:
        return False
    from pyomo.core.base.block import BlockData

    return isinstance(obj, BlockData) or is_kernel_model(obj)


def is_kernel_model(obj: Any) -> bool:
    """True for a ``pyomo.kernel`` block; never imports Pyomo."""
    if sys.modules.get("pyomo.core.kernel.block") is None:
        return False
    from pyomo.core.kernel.block import IBlock

    return isinstance(obj, IBlock)


# ------------------------------------------------------------------ conversion
_CON_RE = re.compile(r"constraint \((.*)\) contains nonlinear")
_OBJ_RE = re.compile(r"objective \((.*)\) contains nonlinear")
_INF_RE = re.compile(r"trivially infeasible constraint, '(.*)'")


def pyomo_to_mip(model: Any, *, names: bool = True,
                 allow_no_objective: bool = False) -> PyomoMIPProblem:
    """Compile ``model`` (a Pyomo ``ConcreteModel`` or block, or a ``pyomo.kernel`` block) into a
    :class:`PyomoMIPProblem`.

    Only active components count. Exactly one active objective is required, or at most one with
    ``allow_no_objective=True`` (none: a feasibility problem with a zero objective and
    ``has_objective`` False). ``names=False`` skips the column/row names (a few milliseconds per
    10,000 components).
    """
    if not is_pyomo_model(model):
        raise BadInputError(f"expected a Pyomo model or block, got {type(model).__name__}")
    if is_kernel_model(model):
        return _kernel_to_mip(model, names=names, allow_no_objective=allow_no_objective)
    from pyomo.common.errors import (
        InfeasibleConstraintException,
        InvalidConstraintError,
        InvalidExpressionError,
        PyomoException,
    )
    from pyomo.core.base.objective import Objective
    from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

    label = f"Pyomo model {model.name!r}"
    objective = _one_objective(
        list(model.component_data_objects(Objective, active=True, descend_into=True)),
        label, allow_no_objective)

    t0 = time.perf_counter()
    try:
        info = LinearStandardFormCompiler().write(model, mixed_form=True, set_sense=None)
    except InvalidConstraintError as exc:
        raise BadInputError(_nonlinear_message(exc, _CON_RE, "constraint", label)) from None
    except InvalidExpressionError as exc:
        raise BadInputError(_nonlinear_message(exc, _OBJ_RE, "objective", label)) from None
    except InfeasibleConstraintException as exc:
        found = _INF_RE.search(str(exc))
        who = f"constraint {found.group(1)}" if found else label
        raise InfeasibleModelError(f"{who}: has no free variables and cannot be satisfied "
                                   f"(the model is infeasible)") from None
    except (PyomoException, ValueError, TypeError) as exc:
        raise BadInputError(f"{label}: cannot be compiled to a linear model: "
                            f"{_one_line(exc)}") from None

    t1 = time.perf_counter()
    try:
        rhs = np.asarray(info.rhs, dtype=np.float64).ravel()
        offset = 0.0 if objective is None \
            else float(np.asarray(info.c_offset, dtype=np.float64).ravel()[0])
    except (PyomoException, ValueError, TypeError) as exc:
        raise BadInputError(f"{label}: {_one_line(exc)} (a fixed variable without a value?)") from None

    columns = info.columns
    n = len(columns)
    if objective is None or not n:
        c = np.zeros(n)
    else:
        c = np.asarray(info.c.toarray(), dtype=np.float64).reshape(-1, n)[0]
    col_lower, col_upper, integrality = _column_data(columns)

    # rows: senses, bounds, merge range pairs (<= row followed by >= row of the same constraint)
    rows = info.rows
    m = len(rows)
    sense = np.fromiter((r[1] for r in rows), dtype=np.int8, count=m)
    row_lower = np.where(sense == 1, -np.inf, rhs)
    row_upper = np.where(sense == -1, np.inf, rhs)
    A = info.A.tocsr()
    keep = None
    if m > 1:
        cand = np.flatnonzero((sense[:-1] == 1) & (sense[1:] == -1))
        pairs = [i for i in cand.tolist() if rows[i][0] is rows[i + 1][0]]
        if pairs:
            first = np.asarray(pairs, dtype=np.int64)
            row_lower[first] = rhs[first + 1]
            keep = np.ones(m, dtype=bool)
            keep[first + 1] = False
    if keep is not None:
        A = A[np.flatnonzero(keep)]
        row_lower, row_upper = row_lower[keep], row_upper[keep]
        constraints = [r[0] for r, k in zip(rows, keep.tolist()) if k]
    else:
        constraints = [r[0] for r in rows]

    prob = PyomoMIPProblem(
        c=c, A=sp.csr_matrix(A, dtype=np.float64), row_lower=row_lower, row_upper=row_upper,
        col_lower=col_lower, col_upper=col_upper, integrality=integrality, offset=offset,
        sense=MAX if objective is not None and int(objective.sense) == -1 else MIN,
        name=str(model.name),
        col_names=[v.name for v in columns] if names else None,
        row_names=[con.name for con in constraints] if names else None,
    )
    prob.pyomo_model = model
    prob.pyomo_vars = list(columns)
    prob.pyomo_rows = constraints
    prob.pyomo_objective = objective
    prob.has_objective = objective is not None
    prob.conversion_times = {"compile": t1 - t0, "post": time.perf_counter() - t1}
    return prob


def _one_objective(objectives: list, label: str, allow_none: bool) -> Any:
    """The model's only active objective (``None`` for none where allowed)."""
    if not objectives:
        if allow_none:
            return None
        raise BadInputError(f"{label}: no active objective (exactly one is required)")
    if len(objectives) > 1:
        shown = ", ".join(o.name for o in objectives[:5]) + (", ..." if len(objectives) > 5 else "")
        raise BadInputError(f"{label}: {len(objectives)} active objectives ({shown}); exactly one "
                            f"is required (deactivate the others)")
    return objectives[0]


def _kernel_to_mip(block: Any, *, names: bool, allow_no_objective: bool) -> PyomoMIPProblem:
    """A ``pyomo.kernel`` block as a :class:`PyomoMIPProblem`.

    Pyomo's standard-form compiler only walks ``pyomo.environ`` models, so kernel models take
    the route of Pyomo's own kernel-capable writers: one ``generate_standard_repn`` per active
    constraint and for the objective (fixed variables become constants).
    """
    from pyomo.core.expr import value
    from pyomo.core.kernel.constraint import IConstraint
    from pyomo.core.kernel.objective import IObjective
    from pyomo.core.kernel.sos import ISOS
    from pyomo.repn import generate_standard_repn

    label = f"Pyomo kernel block {block.name or 'model'!r}"
    objective = _one_objective(
        list(block.components(ctype=IObjective, active=True, descend_into=True)),
        label, allow_no_objective)
    sos = [c.name for c in block.components(ctype=ISOS, active=True, descend_into=True)]
    if sos:
        raise BadInputError(f"{label}: SOS constraints not supported ({', '.join(sos[:5])})")

    t0 = time.perf_counter()
    col: dict[int, int] = {}
    columns: list = []

    def linear(expr: Any, what: str) -> tuple[list[int], list[float], float]:
        repn = generate_standard_repn(expr, compute_values=True)
        if not repn.is_linear():
            raise BadInputError(f"{what}: nonlinear expression not supported (solverhub solves MILPs)")
        idx = []
        for v in repn.linear_vars:
            j = col.get(id(v))
            if j is None:
                j = col[id(v)] = len(columns)
                columns.append(v)
            idx.append(j)
        return idx, [float(a) for a in repn.linear_coefs], float(value(repn.constant))

    rows_i: list[int] = []
    rows_j: list[int] = []
    vals: list[float] = []
    lower: list[float] = []
    upper: list[float] = []
    constraints: list = []
    try:
        for con in block.components(ctype=IConstraint, active=True, descend_into=True):
            idx, coef, const = linear(con.body, f"constraint {con.name}")
            lo = _bound(con.lb, -math.inf) - const
            up = _bound(con.ub, math.inf) - const
            if not idx:  # no free variable: it holds or the model is infeasible
                if lo > 1e-9 or up < -1e-9:
                    raise InfeasibleModelError(f"constraint {con.name}: has no free variables and "
                                               f"cannot be satisfied (the model is infeasible)")
                continue
            rows_i.extend([len(constraints)] * len(idx))
            rows_j.extend(idx)
            vals.extend(coef)
            lower.append(lo)
            upper.append(up)
            constraints.append(con)
        c_idx, c_coef, offset = ([], [], 0.0) if objective is None \
            else linear(objective.expr, f"objective {objective.name}")
    except BadInputError:
        raise
    except (ValueError, TypeError) as exc:  # e.g. a fixed variable without a value
        raise BadInputError(f"{label}: {_one_line(exc)} (a fixed variable without a value?)") from None

    n, m = len(columns), len(constraints)
    c = np.zeros(n)
    np.add.at(c, np.asarray(c_idx, dtype=np.int64), np.asarray(c_coef, dtype=np.float64))
    A = sp.csr_matrix((np.asarray(vals, dtype=np.float64), (np.asarray(rows_i, dtype=np.int64),
                                                           np.asarray(rows_j, dtype=np.int64))),
                      shape=(m, n))
    col_lower = np.array([_bound(v.lb, -math.inf) for v in columns], dtype=np.float64)
    col_upper = np.array([_bound(v.ub, math.inf) for v in columns], dtype=np.float64)
    integrality = np.zeros(n, dtype=bool)
    for j, v in enumerate(columns):
        if v.is_integer():
            integrality[j] = True
        elif not v.is_continuous():
            raise BadInputError(f"variable {v.name}: domain {v.domain_type.__name__} is not "
                                f"supported (a continuous or integer domain is needed)")
    prob = PyomoMIPProblem(
        c=c, A=A, row_lower=np.asarray(lower, dtype=np.float64),
        row_upper=np.asarray(upper, dtype=np.float64), col_lower=col_lower, col_upper=col_upper,
        integrality=integrality, offset=offset,
        sense=MAX if objective is not None and int(objective.sense) == -1 else MIN,
        name=str(block.name or "model"),
        col_names=[v.name for v in columns] if names else None,
        row_names=[con.name for con in constraints] if names else None,
    )
    prob.pyomo_model = block
    prob.pyomo_vars = columns
    prob.pyomo_rows = constraints
    prob.pyomo_objective = objective
    prob.has_objective = objective is not None
    prob.conversion_times = {"compile": time.perf_counter() - t0, "post": 0.0}
    return prob


def _bound(b: Any, default: float) -> float:
    """A bound as a float (``None`` -> ``default``); bounds may be parameters or expressions."""
    from pyomo.core.expr import value

    b = value(b) if b is not None else None
    return default if b is None else float(b)


def _column_data(columns: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bounds (domain and variable bounds together) and integrality of each column."""
    n = len(columns)
    intervals: dict[int, tuple] = {}
    step = np.zeros(n, dtype=np.float64)
    bounds: list[Any] = [None] * n  # (lower, upper) of each variable
    for j, v in enumerate(columns):
        dom = v.domain
        key = id(dom)
        iv = intervals.get(key)
        if iv is None:
            iv = intervals[key] = dom.get_interval()
        st = iv[2]
        if st is None or st not in (0, 1):
            raise BadInputError(f"variable {v.name}: domain {dom} is not supported (a continuous "
                                f"or integer interval such as Reals, Integers or Binary is needed)")
        step[j] = st
        bounds[j] = v.bounds
    lo = np.fromiter((-math.inf if b[0] is None else b[0] for b in bounds), dtype=np.float64, count=n)
    up = np.fromiter((math.inf if b[1] is None else b[1] for b in bounds), dtype=np.float64, count=n)
    return lo, up, step == 1


def _nonlinear_message(exc: Exception, pattern: re.Pattern, what: str, label: str) -> str:
    found = pattern.search(str(exc))
    if found:
        return f"{what} {found.group(1)}: nonlinear expression not supported (solverhub solves MILPs)"
    return f"{label}: nonlinear expression not supported: {_one_line(exc)}"


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())
