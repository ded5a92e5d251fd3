"""Built-in plugin ``convex_relu``: global training of two-layer ReLU networks through their
convex reformulation (Pilanci and Ergen 2020; Bai, Gautam, Sojoudi 2023; Mishkin, Sahiner,
Pilanci 2022). See docs/convex_relu.md.

    solverhub solve "dataset:breast_cancer?P=50" --solver convex-relu-admm --json

Registers the kind ``relu-training``, the loader of ``dataset:`` addresses and the solvers
``convex-relu-admm``, ``convex-relu-cvxpy``, ``convex-relu-gated`` and ``relu-adam`` (the
nonconvex baseline). Cheap to import: NumPy and pydantic only; cvxpy and scikit-learn are
imported when used.
"""

from __future__ import annotations

from solverhub.core.hookspecs import hookimpl
from solverhub.core.records import LoaderSpec, ProblemKind, SolverSpec

from .admm import AdmmOptions, ConvexReluAdmm
from .cvx import ConvexReluCvxpy, CvxpyOptions, cvxpy_unavailable
from .adam import AdamOptions, ReluAdam
from .data import SCHEME, load_dataset, make_problem
from .gated import ConvexReluGated, GatedOptions
from .kind import ReLUTrainingKind, make_synthetic
from .problem import KIND, ReLUTraining

__all__ = ["KIND", "ReLUTraining", "ReLUTrainingKind", "make_problem", "make_synthetic",
           "ConvexReluAdmm", "ConvexReluCvxpy", "ConvexReluGated", "ReluAdam"]


@hookimpl
def solverhub_problem_kinds() -> list[ProblemKind]:
    return [ProblemKind(KIND, ReLUTraining, "two-layer ReLU network training by its convex "
                                            "reformulation over sampled activation patterns",
                        protocol=ReLUTrainingKind())]


@hookimpl
def solverhub_loaders() -> list[LoaderSpec]:
    return [LoaderSpec("datasets", load_dataset, schemes=(SCHEME,), kind=KIND,
                       description="dataset:<name or .csv/.npz>?P=..&loss=..&beta=..&seed=..&"
                                   "test_size=.. (scikit-learn bundled data sets)")]


@hookimpl
def solverhub_solvers() -> list[SolverSpec]:
    specs = [
        SolverSpec("convex-relu-admm", KIND, ConvexReluAdmm, AdmmOptions,
                   "ADMM for the sampled convex program (Bai et al. 2023) with a factor-once "
                   "Woodbury u-step, adaptive rho, residual stopping"),
        SolverSpec("convex-relu-cvxpy", KIND, ConvexReluCvxpy, CvxpyOptions,
                   "the sampled convex program through CVXPY (CLARABEL, SCS fallback): reference",
                   available=cvxpy_unavailable),
        SolverSpec("convex-relu-gated", KIND, ConvexReluGated, GatedOptions,
                   "gated-ReLU relaxation by FISTA with restarts, cone decomposition back to a "
                   "ReLU network (squared and logistic losses)"),
        SolverSpec("relu-adam", KIND, ReluAdam, AdamOptions,
                   "full-batch Adam on the nonconvex two-layer ReLU network (baseline; local)"),
    ]
    return specs
