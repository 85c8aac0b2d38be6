"""Where the hard budget stops binding, against the crossover N_* of docs/theory.md, section 3.

    PYTHONPATH=. python benchmarks/budget_binding.py

For each setting of a grid (beta, tau, benefit family, kappa, phi) it finds, by bisection in
log N with the package's solver (`theory.allocation.solve_allocation`), the largest width at
which the budget multiplier mu is positive, and prints it as a fraction of N_*
(`theory.symbolic`, `crossover_width`). Settings with N_* above 10^13 (beyond the solver's
range) are left out. The integral bound proves only that the fraction is at most 1.
"""

from __future__ import annotations

import itertools

from theory.allocation import solve_allocation
from theory.benefit import KurtosisBenefit, QuadraticBenefit
from theory.params import AllocationParams
from theory.symbolic import closed_forms

GRID = dict(beta=(1.25, 1.5, 2.0, 3.0), tau=(0.3, 0.5, 0.8),
            benefit=(KurtosisBenefit(10.0), QuadraticBenefit(0.8)), kappa=(1e-5, 1e-3),
            budget=(0.5, 1.0, 2.0))


def binds(params: AllocationParams, n: float) -> bool:
    return solve_allocation(params, n).budget_multiplier > 0


def last_binding_fraction(params: AllocationParams, n_star: float, steps: int = 60) -> float:
    """The largest width with mu > 0 below N_*, over N_* (0: slack from N = 1 on)."""
    low, high = 1.0, n_star
    if not binds(params, low):
        return 0.0
    for _ in range(steps):
        middle = (low * high) ** 0.5
        low, high = (middle, high) if binds(params, middle) else (low, middle)
    return low / n_star


def main() -> None:
    fractions = []
    for values in itertools.product(*GRID.values()):
        params = AllocationParams(**dict(zip(GRID, values)))
        benefit = params.benefit
        n_star = float(closed_forms(benefit.family).crossover_width(
            params.beta, params.tau, params.kappa, params.w1, benefit.shape, params.budget))
        if n_star > 1e13:
            continue
        assert not binds(params, n_star), params  # the integral bound
        fraction = last_binding_fraction(params, n_star)
        fractions.append(fraction)
        print(f"beta {params.beta:4.2f} tau {params.tau:.1f} {benefit.family:9s} kappa "
              f"{params.kappa:g} phi {params.budget:g}: N_* {n_star:.4g}, the budget binds "
              f"up to {fraction:.4f} N_*")
    print(f"{len(fractions)} settings: the budget binds up to between {min(fractions):.4f} "
          f"and {max(fractions):.4f} N_*")


if __name__ == "__main__":
    main()
