"""Pyomo model -> ``nlp-eq``: one objective, continuous variables (with or without bounds),
equality, inequality and ranged constraints (``cl <= c(x) <= cu`` rows, ``lb <= x <= ub``).
Derivatives come from Pyomo's symbolic differentiation
(``pyomo.core.expr.calculus.derivatives.differentiate``, reverse symbolic mode): the gradient,
the Jacobian entries and the second derivatives of the objective and of each constraint are
differentiated once, printed as Python expressions in ``x[i]`` and compiled once into NumPy
functions (one ``exec`` per function; no per-evaluation tree walking)::

    import pyomo.environ as pe, solverhub as sh
    m = pe.ConcreteModel(); m.x = pe.Var([1, 2], initialize=[-1.2, 1.0])
    m.o = pe.Objective(expr=(1 - m.x[1]) ** 2); m.c = pe.Constraint(expr=10 * (m.x[2] - m.x[1] ** 2) == 0)
    res = sh.solve(m, solver="exact-al")

A maximisation objective is negated (the nlp-eq kind minimises); ``sh.solve(model, ...)``
reports the result in the model's own sense (the converter's ``invert``). Fixed variables are
constants. Values are written back to the model's variables when the result is accepted
(``accept_result``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse as sp

from solverhub.core.errors import BadInputError
from solverhub.plugins.exact_al.problem import NLPEqProblem

__all__ = ["pyomo_to_nlp_eq"]

_NS = {name: getattr(np, name) for name in ("exp", "log", "log10", "sin", "cos", "tan", "sqrt",
                                               "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
                                               "arcsinh", "arccosh", "arctanh", "abs")}
_NS.update({"_sum": sum, "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan, "asinh": np.arcsinh,
            "acosh": np.arccosh, "atanh": np.arctanh, "np": np, "inf": math.inf})


class _Labeler:
    """Variables in ``index`` print as ``x[i]``; anything else (fixed variables, parameters)
    as ``_p[k]``, one entry per object in ``consts`` holding its value at conversion time --
    a unique name per object, since Pyomo's SymbolMap refuses two objects with one label (two
    variables fixed at 0.0 both printed as ``0.0`` raised ``Duplicate symbol '0.0'``)."""

    def __init__(self, index: dict[int, int], consts: list[float]) -> None:
        self.index = index
        self.consts = consts
        self.const_ids: dict[int, int] = {}

    def __call__(self, obj: Any) -> str:
        i = self.index.get(id(obj))
        if i is not None:
            return f"x[{i}]"
        k = self.const_ids.get(id(obj))
        if k is None:
            k = self.const_ids[id(obj)] = len(self.consts)
            self.consts.append(_value(obj))
        return f"_p[{k}]"


def _sum_handler(visitor: Any, node: Any, values: list[str]) -> str:
    # a sum as one call over a flat tuple: Python's compiler recurses once per binary '+', so
    # 'a + b + ...' with 3,000 terms raised RecursionError in compile()
    return "_sum((" + ", ".join(values) + ",))"


def _printer(index: dict[int, int], consts: list[float]):
    from pyomo.core.expr import numeric_expr as ne
    from pyomo.core.expr.symbol_map import SymbolMap
    from pyomo.core.expr.visitor import _ToStringVisitor

    sm = SymbolMap()
    sm.default_labeler = _Labeler(index, consts)
    sum_types = [getattr(ne, name) for name in ("SumExpression", "LinearExpression",
                                                 "NPV_SumExpression") if hasattr(ne, name)]

    class _Visitor(_ToStringVisitor):
        _expression_handlers = {t: _sum_handler for t in sum_types}

    def to_src(expr: Any) -> str:
        if isinstance(expr, (int, float)):
            return repr(float(expr))
        if not hasattr(expr, "is_expression_type") or not expr.is_expression_type():
            # a variable, parameter or numeric constant
            return sm.default_labeler(expr) if id(expr) in index else repr(float(_value(expr)))
        return "(" + _Visitor(False, sm).dfs_postorder_stack(expr) + ")"
    return to_src


def _value(e: Any) -> float:
    from pyomo.environ import value

    return float(value(e))


def _compile(src: str, name: str, consts: list[float] | None = None) -> Any:
    ns = dict(_NS)
    ns["_p"] = consts if consts is not None else []
    exec(compile(src, f"<pyomo-nlp-eq {name}>", "exec"), ns)
    return ns[name]


def pyomo_to_nlp_eq(model: Any) -> NLPEqProblem:
    from pyomo.core.expr.calculus.derivatives import Modes, differentiate
    from pyomo.core.expr.visitor import identify_variables
    from pyomo.environ import Constraint, Objective, Var, maximize

    # the pyomo plugin's loader wraps models (PyomoModel, kind "pyomo"); its public .model is it
    if not hasattr(model, "component_data_objects"):
        model = getattr(model, "model", model)
    objs = list(model.component_data_objects(Objective, active=True))
    if len(objs) != 1:
        raise BadInputError(f"Pyomo model {model.name!r}: nlp-eq needs exactly one active "
                            f"objective, found {len(objs)}")
    obj = objs[0]
    cons = list(model.component_data_objects(Constraint, active=True))
    xs = [v for v in model.component_data_objects(Var, active=True, descend_into=True) if not v.fixed]
    index = {id(v): i for i, v in enumerate(xs)}
    for v in xs:
        if not v.is_continuous():
            raise BadInputError(f"Pyomo model {model.name!r}: variable {v.name!r} is not "
                                f"continuous")
    n, m = len(xs), len(cons)
    lb = np.array([-math.inf if v.lb is None else float(v.lb) for v in xs])
    ub = np.array([math.inf if v.ub is None else float(v.ub) for v in xs])
    # rows: an equality is body - upper = 0 (cl = cu = 0, as before); an inequality or a range
    # is lower <= body <= upper
    cl, cu = np.zeros(m), np.zeros(m)
    for r, c in enumerate(cons):
        if not c.equality:
            cl[r] = -math.inf if c.lower is None else _value(c.lower)
            cu[r] = math.inf if c.upper is None else _value(c.upper)
    if n == 0:
        raise BadInputError(f"Pyomo model {model.name!r}: no free variables")
    consts: list[float] = []  # values of fixed variables and parameters (_p[k] in the sources)
    to_src = _printer(index, consts)
    sign = -1.0 if obj.sense == maximize else 1.0
    fexpr = obj.expr
    cexprs = [c.body - c.upper if c.equality else c.body for c in cons]

    def local_vars(e):
        return [v for v in identify_variables(e, include_fixed=False) if id(v) in index]

    def grads(e, where):
        vs = local_vars(e)
        if not vs:
            return [], []
        try:
            ds = differentiate(e, wrt_list=vs, mode=Modes.reverse_symbolic)
        except Exception as exc:  # pyomo's DifferentiationException (Expr_if, ...) and others
            raise BadInputError(
                f"Pyomo model {model.name!r}: {where} cannot be differentiated symbolically "
                f"({type(exc).__name__}: {exc}); nlp-eq needs smooth expressions -- Expr_if and "
                f"other piecewise expressions are not supported (reformulate them, e.g. with "
                f"a smooth approximation)") from exc
        return [index[id(v)] for v in vs], ds

    # objective and gradient
    gi, gd = grads(fexpr, f"objective {obj.name!r}")
    f_fn = _compile(f"def f(x):\n    return {sign!r} * float({to_src(fexpr)})\n", "f", consts)
    g_src = ", ".join(to_src(d) for d in gd) or ""
    g_fn = _compile(f"def g(x):\n    out = np.zeros({n})\n    out[{gi!r}] = [{g_src}]\n"
                    f"    return {sign!r} * out\n" if gi else f"def g(x):\n    return np.zeros({n})\n", "g", consts)
    # constraints and Jacobian (COO pattern fixed, values compiled)
    c_fn = _compile("def c(x):\n    return np.array([" + ", ".join(f"float({to_src(e)})" for e in cexprs)
                    + "], dtype=float)\n", "c", consts)
    rows, cols, jsrc, hess_terms = [], [], [], []
    for r, e in enumerate(cexprs):
        ci, cd = grads(e, f"constraint {cons[r].name!r}")
        rows += [r] * len(ci)
        cols += ci
        jsrc += [to_src(d) for d in cd]
        for j, d in zip(ci, cd):
            hj, hd = grads(d, f"constraint {cons[r].name!r}")
            hess_terms += [(r, j, k, to_src(dd)) for k, dd in zip(hj, hd)]
    j_fn = _compile(f"def jv(x):\n    return np.array([{', '.join(jsrc)}], dtype=float)\n", "jv", consts)
    rows_a, cols_a = np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64)
    obj_terms = []
    for j, d in zip(gi, gd):
        hj, hd = grads(d, f"objective {obj.name!r}")
        obj_terms += [(j, k, to_src(dd)) for k, dd in zip(hj, hd)]
    h_rows = np.array([t[0] for t in obj_terms] + [t[1] for t in hess_terms], dtype=np.int64)
    h_cols = np.array([t[1] for t in obj_terms] + [t[2] for t in hess_terms], dtype=np.int64)
    parts = [f"{sign!r} * ({t[2]})" for t in obj_terms] + [f"lam[{t[0]}] * ({t[3]})" for t in hess_terms]
    h_fn = _compile(f"def hv(x, lam):\n    return np.array([{', '.join(parts)}], dtype=float)\n", "hv", consts)
    ho_fn = _compile("def hov(x):\n    return np.array([" + ", ".join(f"{sign!r} * ({t[2]})" for t in obj_terms)
                     + "], dtype=float)\n", "hov", consts)
    n_obj = len(obj_terms)

    def jac(x):
        return sp.csr_matrix((j_fn(x), (rows_a, cols_a)), shape=(m, n))

    def hess(x, lam):
        vals = h_fn(x, np.asarray(lam, dtype=float)) if len(h_rows) else np.zeros(0)
        return sp.csr_matrix((vals, (h_rows, h_cols)), shape=(n, n))

    def obj_hess(x):
        vals = ho_fn(x) if n_obj else np.zeros(0)
        return sp.csr_matrix((vals, (h_rows[:n_obj], h_cols[:n_obj])), shape=(n, n))

    x0 = np.array([0.0 if v.value is None else float(v.value) for v in xs])
    bounded = bool(np.any(np.isfinite(lb)) or np.any(np.isfinite(ub)) or np.any(cl != cu))
    prob = NLPEqProblem(f_fn, g_fn, c_fn, jac, x0, hess=hess, obj_hess=obj_hess,
                        name=f"pyomo:{model.name}", metadata={"pyomo_vars": [v.name for v in xs],
                                                              "pyomo_cons": [c.name for c in cons],
                                                              "sign": sign},
                        lb=lb if bounded else None, ub=ub if bounded else None,
                        cl=cl if bounded else None, cu=cu if bounded else None)

    def accept_result(result: Any) -> None:
        # the Pyomo solver interface loads through its solution loader (load_on_accept False)
        if result.x is not None and getattr(prob, "load_on_accept", True):
            for v, val in zip(xs, np.asarray(result.x, dtype=float)):
                v.set_value(float(val), skip_validation=True)
    prob.accept_result = accept_result  # type: ignore[attr-defined]
    # -1: the objective is the model's negated (a maximisation); converters map results back
    prob.objective_sign = float(sign)  # type: ignore[attr-defined]
    return prob
