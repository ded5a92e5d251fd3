"""Options of the bilevel solvers (pydantic models; defaults and their provenance in
docs/bilevel.md)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from solverhub.core.options import IterationLimitOptions, PresetOptions, RelGapOptions

__all__ = ["AutoOptions", "ImplicitOptions", "KKTOptions", "LVHBAOptions", "PenaltyOptions"]


#: option values each lv-hba preset sets (an option given explicitly wins over its preset)
LVHBA_PRESETS: dict[str, dict[str, Any]] = {
    # the default: Algorithm 1 with the stationarity-based stop and the local polish of the
    # value-function reformulation (docs/bilevel.md, "LV-HBA presets")
    "robust": {"polish": True, "max_step_cuts": 6},
    # Algorithm 1 with its fixed schedule and the step-based stop: the reproduction tables
    "paper": {"polish": False, "max_step_cuts": 0},
}


class LVHBAOptions(PresetOptions, IterationLimitOptions):
    """Options of ``lv-hba`` (the paper's symbols). ``preset`` fills the options not given:
    ``robust`` (default) or ``paper`` (Algorithm 1 as published, no polish)."""

    presets: ClassVar[dict[str, dict[str, Any]]] = LVHBA_PRESETS
    default_preset: ClassVar[str] = "robust"

    preset: Literal["robust", "paper"] = Field(
        "robust", description="robust: Algorithm 1 plus a polish of the value-function "
        "reformulation on the identified lower-level active set, tried at iterations "
        "polish_start, 2 polish_start, ... and at the end, stopping once two polishes agree; "
        "paper: Algorithm 1 with its fixed schedule only")
    polish: bool = Field(True, description="polish the iterate (see preset); set by the preset")
    max_step_cuts: int = Field(6, ge=0, description="a run that diverges starts again with "
                               "alpha, beta and eta divided by 4, at most this many times; set by "
                               "the preset (paper: 0)")
    polish_start: int = Field(200, ge=1, description="iteration of the first polish attempt "
                              "(then at doubling iteration counts)")
    polish_newton_max_size: int = Field(150, ge=1, description="where F and f are quadratic and "
                                        "g, G affine, the polish's Newton step alone (no SLSQP "
                                        "fallback) runs up to this size (see polish_max_size)")
    polish_max_size: int = Field(60, ge=1, description="no polish when x, y and the lower-level "
                                 "multipliers (a row of g or a finite bound of Y each) number more "
                                 "(one dense SLSQP solve in (x, y, mu) per candidate active set: "
                                 "40-120 s at 150 on the loaded test machine)")
    alpha: float = Field(5e-3, allow_inf_nan=False, gt=0,
                         description="step size of (x, y) (paper: alpha)")
    beta: float = Field(1e-2, allow_inf_nan=False, gt=0, description="step size of z (paper: beta)")
    eta: float = Field(0.1, allow_inf_nan=False, gt=0,
                       description="step size of (theta, lambda) (paper: eta)")
    gamma1: float = Field(10.0, allow_inf_nan=False, gt=0,
                          description="proximal parameter of theta (paper: gamma_1)")
    gamma2: float = Field(1.0, allow_inf_nan=False, gt=0,
                          description="proximal parameter of lambda (paper: gamma_2)")
    c0: float = Field(1.0, allow_inf_nan=False, gt=0,
                      description="penalty weight c_k = c0 (k+1)^p (paper: c_k = c (k+1)^p)")
    p: float = Field(0.3, allow_inf_nan=False, gt=0, lt=0.5,
                     description="growth exponent of c_k, in (0, 1/2)")
    z_bound: float | None = Field(None, allow_inf_nan=False, gt=0,
                                  description="r of the multiplier box Z = [0, r]^l "
                                  "(equality rows [-r, r]); None: the problem's multiplier_bound, "
                                  "else 10. Must contain the true multiplier")
    max_iterations: int = Field(20_000, ge=1, description="iteration limit")
    tolerance: float = Field(1e-9, allow_inf_nan=False, gt=0,
                             description="stop (optimal, local) when ||(x,y)+ - (x,y)|| "
                             "/ alpha and ||y - theta|| are below this")
    log_every: int = Field(10, ge=1, description="iterations between history rows")
    kernel: Literal["auto", "numpy"] = Field("auto", description="auto: the compiled loop for "
                                             "problems that have one (the LV-HBA and BiC-GAFFA toys); "
                                             "numpy: always the general NumPy path")



class PenaltyOptions(IterationLimitOptions):
    """Options of ``bilevel-penalty`` (Kwon, Kwon, Wright, Nowak, ICLR 2024; the paper has no
    experiments: the defaults are ours, see docs/bilevel.md)."""

    variant: Literal["double-loop", "single-loop"] = Field(
        "double-loop", description="double-loop: inner projected gradient to tolerance, then an "
        "outer step; single-loop: one inner step per outer step, momentum on the outer gradient")
    sigma: float = Field(1e-2, allow_inf_nan=False, gt=0,
                         description="penalty parameter sigma of h_sigma = sigma F + f "
                         "(the solution is O(sigma) from the bilevel one)")
    alpha: float = Field(5e-2, allow_inf_nan=False, gt=0, description="outer step size on x")
    inner_step: float = Field(0.2, allow_inf_nan=False, gt=0,
                              description="step size of the inner projected gradient "
                              "steps on y (min h_sigma) and z (min f)")
    inner_iterations: int = Field(100, ge=1,
                                  description="double-loop: most inner steps per outer step")
    inner_tolerance: float = Field(1e-10, allow_inf_nan=False, gt=0,
                                   description="double-loop: inner stop when a step "
                                   "moves less than this (relative to inner_step)")
    momentum: float = Field(0.9, allow_inf_nan=False, ge=0, lt=1,
                            description="single-loop: weight of the previous "
                            "direction in the momentum average of grad psi_sigma")
    max_iterations: int = Field(3_000, ge=1, description="outer iteration limit")
    tolerance: float = Field(1e-8, allow_inf_nan=False, gt=0,
                             description="stop (optimal, local) when ||x+ - x|| / "
                             "alpha is below this")
    log_every: int = Field(10, ge=1, description="outer iterations between history rows")


class KKTOptions(RelGapOptions):
    """Options of ``bilevel-kkt`` (the exact route: the lower level's KKT conditions)."""

    backend: str = Field("auto", min_length=1, description="auto: SCIP with SOS1 complementarity "
                         "when PySCIPOpt is installed (exact, quadratic F allowed), else HiGHS on "
                         "the big-M MIP; 'scip'; or the name of any MIP solver (highs, balans, "
                         "ortools-scip, ...), which gets the big-M MIP (linear F only)")
    multiplier_bound: float | None = Field(None, allow_inf_nan=False, gt=0,
                                           description="big-M bound on the lower-level multipliers "
                                           "(big-M route only); None: max(1e4, the problem's "
                                           "multiplier_bound). A multiplier ending at it is reported")
    rel_gap: float = Field(1e-9, allow_inf_nan=False, ge=0, le=1,
                           description="relative optimality gap at which SCIP stops")


class AutoOptions(IterationLimitOptions):
    """Options of ``bilevel-auto`` (the default route per problem class)."""

    kkt_backend: str = Field("auto", min_length=1, description="backend of the KKT route (see "
                             "bilevel-kkt's backend)")
    max_iterations: int = Field(20_000, ge=1, description="iteration limit of the lv-hba route")


class ImplicitOptions(IterationLimitOptions):
    """Options of ``bilevel-implicit`` (approximate implicit differentiation)."""

    step: float = Field(1.0, gt=0, allow_inf_nan=False,
                        description="first trial step of the projected hypergradient step on x")
    max_step: float = Field(1e4, gt=0, allow_inf_nan=False,
                            description="largest step (the step doubles after an accepted one)")
    tolerance: float = Field(1e-8, gt=0, allow_inf_nan=False,
                             description="stop (optimal, local) when ||x - P_X(x - grad phi)|| <= "
                             "tolerance max(1, ||x||)")
    inner_iterations: int = Field(50, ge=1, description="Newton steps per lower-level solve")
    inner_tolerance: float = Field(1e-10, gt=0, allow_inf_nan=False,
                                   description="lower-level stop: ||grad_y f|| <= this max(1, ||y||)")
    adjoint_tolerance: float = Field(1e-10, gt=0, allow_inf_nan=False,
                                     description="relative residual of the CG solve H_yy w = grad_y F")
    max_iterations: int = Field(1000, ge=1, description="outer iteration limit")
    log_every: int = Field(1, ge=1, description="outer iterations between history rows")
