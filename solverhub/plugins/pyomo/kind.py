"""The ``pyomo`` kind's protocol: a Pyomo model is checked as the problem a converter compiled it
into (a MIP, an ``nlp-eq`` problem), with that kind's checks and metrics, and its objective in the
model's own sense. Imports no Pyomo."""

from __future__ import annotations

import copy
from typing import Any

from solverhub.core.kinds import KindProtocol, Reference, Verification

__all__ = ["PyomoKind", "invert_same_columns"]


def _compiled(problem: Any) -> tuple[Any, KindProtocol] | None:
    from solverhub.core.api import kind_protocol

    compiled = getattr(problem, "compiled", None)
    kind = getattr(compiled, "kind", None)
    if compiled is None or not isinstance(kind, str) or kind == "pyomo":
        return None
    return compiled, kind_protocol(kind)


def _sign(compiled: Any) -> float:
    """+1 when the compiled problem's objective is the model's, -1 when it is negated (a
    maximisation given to a kind that minimises)."""
    return float(getattr(compiled, "objective_sign", 1.0))


class PyomoKind(KindProtocol):
    """Delegates to the protocol of the model's compiled form."""

    def verify(self, problem: Any, x: Any) -> Verification | None:
        found = _compiled(problem)
        if found is None:
            return None
        compiled, protocol = found
        v = protocol.verify(compiled, x)
        if v is not None and v.objective is not None:
            v.objective = _sign(compiled) * float(v.objective)
        return v

    def reference(self, problem: Any) -> Reference | None:
        found = _compiled(problem)
        if found is None:
            return None
        compiled, protocol = found
        ref = protocol.reference(compiled)
        if ref is not None and ref.objective is not None:
            ref = Reference(_sign(compiled) * ref.objective, ref.solution, ref.label)
        return ref

    def compute_metrics(self, problem: Any, result: Any, reference: Reference | None,
                        horizon: float) -> dict[str, float]:
        found = _compiled(problem)
        if found is None:
            return super().compute_metrics(problem, result, reference, horizon)
        compiled, protocol = found
        sign = _sign(compiled)
        if sign == 1.0:
            return protocol.compute_metrics(compiled, result, reference, horizon)
        # the compiled kind's metrics are defined in its own sense
        mirrored = copy.copy(result)
        mirrored.objective = None if result.objective is None else sign * result.objective
        mirrored.bound = None if result.bound is None else sign * result.bound
        mirrored.trajectory = [(t, sign * v) for t, v in result.trajectory]
        ref = None if reference is None else Reference(
            None if reference.objective is None else sign * reference.objective,
            reference.solution, reference.label)
        return protocol.compute_metrics(compiled, mirrored, ref, horizon)


def invert_same_columns(source: Any, target: Any, result: Any) -> Any:
    """The ``invert`` of a Pyomo converter whose compiled problem's columns are the model's
    variables: ``x`` stays as it is; an objective the compiled form negated (``objective_sign``
    -1) is turned back into the model's sense, with the bound and the trajectory. The model's
    variables get the values when the host accepts the result."""
    sign = _sign(target)
    if getattr(source, "compiled", None) is not target:
        source.compiled = target
    if sign != 1.0:
        if result.objective is not None:
            result.objective = sign * float(result.objective)
        if result.bound is not None:
            result.bound = sign * float(result.bound)
        result.trajectory = [(t, sign * v) for t, v in result.trajectory]
    return result
