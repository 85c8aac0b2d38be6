"""The allocation model over a grid of widths, the exponent fitted on it, and the TheoryRun
record that holds both."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from runstore import Record
from runstore.progress import progress_bar
from runstore.tables import frame
from theory import symbolic
from theory.allocation import solve_allocation
from theory.params import AllocationParams
from theory.slopes import log_log_slope

#: Per-width quantities stored in a TheoryRun (attributes of `Allocation`).
SWEEP_FIELDS = (
    "n_neurons",
    "price",
    "budget_multiplier",
    "n_represented",
    "frontier_one",
    "frontier_tau",
    "frontier_zero",
    "rosetta_count",
    "rosetta_fraction",
    "n_saturated",
    "n_partial",
    "n_superposed",
    "n_unrepresented",
    "total_isolation",
    "mean_isolation_rosetta",
    "mean_isolation_nonrosetta",
    "kkt_residual",
)

#: Counts below this are dropped from the exponent fit: floor(r_tau) makes a staircase whose
#: relative steps (up to 1/R) would bias the slope (`staircase_bound` bounds what is left).
MIN_FIT_COUNT = 10


def width_grid(n_min: float, n_max: float, points: int) -> np.ndarray:
    """`points` integer widths spaced evenly in log between n_min and n_max (duplicates merged)."""
    if points < 2 or n_max <= n_min:
        raise ValueError(f"need points >= 2 and n_max > n_min, got {points}, {n_min}, {n_max}")
    return np.unique(np.round(np.geomspace(n_min, n_max, points)))


def sweep_allocation(
    params: AllocationParams, widths, *, progress: bool = False
) -> dict[str, np.ndarray]:
    """Solve the model at every width; return `SWEEP_FIELDS` as arrays over widths."""
    solutions = [solve_allocation(params, n)
                 for n in progress_bar(widths, desc="allocation widths", show=progress)]
    return {
        name: np.array([getattr(s, name) for s in solutions], dtype=np.float64)
        for name in SWEEP_FIELDS
    }


def staircase_bound(widths, counts) -> float:
    """Largest OLS slope error that rounding counts down to integers can cause.

    Notes
    -----
    With e_i = log r_i - log floor(r_i) in [0, log(1 + 1/R_i)), the OLS slope moves by
    sum (x_i - xbar) e_i / sum (x_i - xbar)^2, at most max_i e_i * sum|x_i - xbar| / Sxx.
    """
    x = np.log(np.asarray(widths, dtype=np.float64))
    dx = x - x.mean()
    step = np.log1p(1.0 / np.asarray(counts, dtype=np.float64)).max()
    return float(step * np.abs(dx).sum() / np.sum(dx**2))


def fit_exponent(
    widths, counts, multipliers, min_count: int = MIN_FIT_COUNT
) -> tuple[float, float, int]:
    """The slope of log R vs log N, its staircase bound and the number of points used.

    Only widths with R >= min_count and a slack budget (multiplier 0) enter: the derived
    exponent describes the slack regime, and where the budget binds (only below N_*, not
    everywhere below it: docs/theory.md, section 3) R grows about linearly. NaNs when fewer
    than two widths qualify.
    """
    widths, counts = np.asarray(widths), np.asarray(counts)
    keep = (counts >= min_count) & (np.asarray(multipliers) == 0)
    if keep.sum() < 2:
        return float("nan"), float("nan"), int(keep.sum())
    slope = log_log_slope(widths[keep], counts[keep])
    return slope, staircase_bound(widths[keep], counts[keep]), int(keep.sum())


def build_theory_run(
    params: AllocationParams, widths, *, seed: int, progress: bool = False
) -> TheoryRun:
    """Solve the sweep and bundle it with the derived and fitted exponents as a TheoryRun."""
    widths = np.asarray(widths, dtype=np.float64)
    sweep = sweep_allocation(params, widths, progress=progress)
    slope, bound, n_points = fit_exponent(
        widths, sweep["rosetta_count"], sweep["budget_multiplier"]
    )
    forms = symbolic.closed_forms(params.benefit.family)
    shape = params.benefit.shape
    return TheoryRun(
        config={"params": params.to_config(), "widths": widths.tolist(), "seed": int(seed)},
        sweep=sweep,
        derived_exponent=symbolic.exponent(params.closure, params.beta),
        derived_exponent_expr=str(symbolic.derive_exponent(params.closure)),
        fitted_exponent=slope,
        fitted_exponent_bound=bound,
        n_fit_points=n_points,
        min_fit_count=MIN_FIT_COUNT,
        rosetta_mean_limit=float(forms.rosetta_mean_limit(params.beta, params.tau, shape)),
        budget_crossover=_budget_crossover(params, forms),
        crossover_with_budget=True,
    )


def _budget_crossover(params: AllocationParams, forms) -> float:
    """N_* exists for the neuron rent of P1 only (NaN for the other closures)."""
    if params.closure != "P1":
        return float("nan")
    shape = params.benefit.shape
    return float(forms.crossover_width(params.beta, params.tau, params.kappa, params.w1, shape,
                                       params.budget))


@dataclasses.dataclass(frozen=True)
class TheoryRun(Record):
    """The allocation model solved over a grid of widths (written by `theory.simulate`).

    `config` holds {"params": AllocationParams.to_config(), "widths": [...], "seed": int}.
    Arrays are indexed by width; `SWEEP_FIELDS` in theory.sweep lists them.
    """

    kind: ClassVar[str] = "theory_run"
    version: ClassVar[int] = 1

    sweep: dict  # name -> np.ndarray over widths (saved as safetensors arrays)
    derived_exponent: float  # slope of log R vs log N from theory.symbolic
    derived_exponent_expr: str  # the same as a sympy expression in beta
    fitted_exponent: float  # OLS slope of log R vs log N (R >= min_fit_count, budget slack)
    fitted_exponent_bound: float  # largest slope error the floor staircase can cause
    n_fit_points: int
    min_fit_count: int
    rosetta_mean_limit: float  # m_inf: the Rosetta mean isolation as r_tau -> inf
    budget_crossover: float  # N_*: width above which the hard budget is slack (P1; else NaN)
    #: whether N_* holds the budget phi; a record saved before it did has N_* at phi = 1
    crossover_with_budget: bool = False

    def to_frame(self):
        """One row per width N: every `SWEEP_FIELDS` array (regimes, counts, frontiers,
        isolation means, the KKT residual)."""
        names = [n for n in SWEEP_FIELDS if n in self.sweep]
        names += sorted(set(self.sweep) - set(names))
        return frame({name: np.asarray(self.sweep[name]) for name in names})
