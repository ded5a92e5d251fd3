"""The solver contract: :class:`Solver` (what the host calls) and :class:`SolverBase` (the base
most solvers derive from), after Pyomo's ``contrib.solver.SolverBase`` and scikit-learn's
estimators.

The host (``solverhub.solve``, the runner, the Pyomo bridge) does the work every solver would
otherwise repeat, once, before the solver sees anything:

- validates the options with the solver's options model (a :class:`BadInputError` naming the
  solver and the key) and hands the factory the validated object;
- loads the problem, converts it to the solver's kind and checks it is of that kind's type and
  valid (``problem.validate()`` when the object was given by the caller; a freshly loaded or
  converted problem was validated when it was built);
- counts the time limit from the call, installs the Ctrl-C handler, re-checks the solution by the
  kind's protocol and computes the kind's metrics.

So a solver's ``solve`` starts with the work itself.
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar, Generic, Protocol, TypeVar, cast, runtime_checkable

from pydantic import BaseModel

from solverhub.core.observers import NULL_NOTIFIER, Notifier
from solverhub.core.records import NoOptions
from solverhub.core.result import Result

__all__ = ["Solver", "SolverBase", "takes_options_object"]

OptionsT = TypeVar("OptionsT", bound=BaseModel)


@runtime_checkable
class Solver(Protocol):
    """What a :class:`~solverhub.core.records.SolverSpec` factory returns.

    ``solve`` gets a valid problem of the solver's kind, ``time_limit`` in seconds counted from
    this call (``None``: none), the ``seed`` and a notifier to report incumbents and iterations to;
    it returns a :class:`~solverhub.core.result.Result` and honours the limit and Ctrl-C
    (:mod:`solverhub.core.timing`, :mod:`solverhub.core.interrupt`) within about a second.
    """

    def solve(self, problem: Any, *, time_limit: float | None = None, seed: int = 0,
              notifier: Notifier = NULL_NOTIFIER) -> Result: ...


class SolverBase(Generic[OptionsT]):
    """Base of a solver that holds one validated options object.

    ``Options`` is the solver's pydantic options model. The host builds the solver as
    ``MySolver(options)`` with an already-validated instance; in Python (tests, notebooks) it can
    be built from keywords, validated here, as scikit-learn estimators are:
    ``MySolver(max_iterations=100)``. The options are ``self.options``, and each option also reads
    as an attribute (``self.max_iterations``), so the options model holds every default once::

        class MyOptions(SolverOptions):
            max_iterations: int = Field(1000, ge=1)

        class MySolver(SolverBase[MyOptions]):
            Options = MyOptions

            def solve(self, problem, *, time_limit=None, seed=0, notifier=NULL_NOTIFIER):
                for k in range(self.max_iterations): ...
    """

    Options: ClassVar[type[BaseModel]] = NoOptions

    def __init__(self, options: OptionsT | None = None, /, **kwargs: Any) -> None:
        if options is None:
            from solverhub.core.api import validate_options_model

            options = cast(OptionsT, validate_options_model(self.Options, kwargs,
                                                             who=type(self).__name__))
        elif kwargs:
            raise TypeError(f"{type(self).__name__}: give an options object or keywords, not both")
        elif not isinstance(options, self.Options):
            raise TypeError(f"{type(self).__name__}: options must be a {self.Options.__name__}, "
                            f"got {type(options).__name__}")
        self.options: OptionsT = options

    def __getattr__(self, name: str) -> Any:
        # called only when normal lookup fails: an option read as an attribute
        options = self.__dict__.get("options")
        if options is not None and name in type(options).model_fields:
            return getattr(options, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __repr__(self) -> str:
        changed = {k: getattr(self.options, k) for k in self.options.model_fields_set}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in changed.items())})"

    def solve(self, problem: Any, *, time_limit: float | None = None, seed: int = 0,
              notifier: Notifier = NULL_NOTIFIER) -> Result:
        raise NotImplementedError


def takes_options_object(factory: Any) -> bool:
    """True when ``factory`` follows the contract ``factory(options)``: a :class:`SolverBase`
    subclass, or a callable whose one required parameter is named ``options``. False for the
    older ``factory(**options)``."""
    if isinstance(factory, type):
        if issubclass(factory, SolverBase):
            return True
        factory = factory.__init__
        skip_self = True
    else:
        skip_self = False
    try:
        params = list(inspect.signature(factory).parameters.values())
    except (TypeError, ValueError):
        return False
    if skip_self and params:
        params = params[1:]
    required = [p for p in params if p.default is inspect.Parameter.empty
                and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(required) == 1 and required[0].name == "options"
