"""Built-in plugin ``convex_relu``: global training of two-layer ReLU networks through their
convex reformulation (Pilanci and Ergen 2020; Bai, Gautam, Sojoudi 2023; Mishkin, Sahiner,
Pilanci 2022). See docs/convex_relu.md.

    solverhub solve "dataset:breast_cancer?P=50" --solver convex-relu-admm --json

Registers the kind ``relu-training``, the loader of ``dataset:`` addresses and the solvers
``convex-relu-auto`` (the default route: ADMM or CLARABEL, named in the result),
``convex-relu-admm``, ``convex-relu-cvxpy``, ``convex-relu-gated`` and ``relu-adam`` (the
nonconvex baseline). Cheap to import: NumPy and pydantic only. The solvers (and with them
SciPy's optimize and linalg, cvxpy, scikit-learn) are registered by dotted path and imported
when first used; ``from solverhub.plugins.convex_relu import ConvexReluAdmm`` still works.
"""

from __future__ import annotations

from solverhub.core.hookspecs import hookimpl
from solverhub.core.records import LoaderSpec, ProblemKind, SolverSpec

from .data import SCHEME, dataset_params, load_dataset, make_problem, names_file
from .kind import ReLUTrainingKind, make_synthetic
from .problem import KIND, ReLUTraining

__all__ = ["KIND", "ReLUTraining", "ReLUTrainingKind", "make_problem", "make_synthetic",
           "ConvexReluAdmm", "ConvexReluAuto", "ConvexReluCvxpy", "ConvexReluGated", "ReluAdam"]

_HERE = __name__
#: solver classes, imported on first use (attribute access or a solve)
_LAZY = {"ConvexReluAdmm": "admm", "AdmmOptions": "admm", "ConvexReluCvxpy": "cvx",
         "CvxpyOptions": "cvx", "ConvexReluGated": "gated", "GatedOptions": "gated",
         "ReluAdam": "adam", "AdamOptions": "adam", "ConvexReluAuto": "auto",
         "AutoOptions": "auto"}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{_HERE}.{module}"), name)
    globals()[name] = value
    return value


@hookimpl
def solverhub_problem_kinds() -> list[ProblemKind]:
    return [ProblemKind(KIND, ReLUTraining, "two-layer ReLU network training by its convex "
                                            "reformulation over sampled activation patterns",
                        protocol=ReLUTrainingKind())]


@hookimpl
def solverhub_loaders() -> list[LoaderSpec]:
    return [LoaderSpec("datasets", load_dataset, schemes=(SCHEME,), kind=KIND,
                       params=dataset_params, target_is_path=names_file,
                       examples=("dataset:iris?P=5&classes=0,1",),
                       description="dataset:<name or .csv/.npz>?P=..&loss=..&beta=..&seed=..&"
                                   "test_size=.. (scikit-learn bundled data sets)")]


@hookimpl
def solverhub_solvers() -> list[SolverSpec]:
    specs = [
        SolverSpec("convex-relu-auto", KIND, f"{_HERE}.auto:ConvexReluAuto", f"{_HERE}.auto:AutoOptions",
                   "the default route: convex-relu-admm where it wins (squared loss, low "
                   "effective dimension), CLARABEL through cvxpy elsewhere; the route and its "
                   "reason in result.route"),
        SolverSpec("convex-relu-admm", KIND, f"{_HERE}.admm:ConvexReluAdmm", f"{_HERE}.admm:AdmmOptions",
                   "ADMM for the sampled convex program (Bai et al. 2023) with a factor-once "
                   "Woodbury u-step, adaptive rho, residual stopping"),
        SolverSpec("convex-relu-cvxpy", KIND, f"{_HERE}.cvx:ConvexReluCvxpy", f"{_HERE}.cvx:CvxpyOptions",
                   "the sampled convex program through CVXPY (CLARABEL, SCS fallback): reference",
                   available=f"{_HERE}.cvx:cvxpy_unavailable"),
        SolverSpec("convex-relu-gated", KIND, f"{_HERE}.gated:ConvexReluGated",
                   f"{_HERE}.gated:GatedOptions",
                   "gated-ReLU relaxation by FISTA with restarts, cone decomposition back to a "
                   "ReLU network (squared and logistic losses)"),
        SolverSpec("relu-adam", KIND, f"{_HERE}.adam:ReluAdam", f"{_HERE}.adam:AdamOptions",
                   "full-batch Adam on the nonconvex two-layer ReLU network (baseline; local)"),
    ]
    return specs
