"""solve_allocation: the optimal isolation of every feature at width N, its regimes,
frontiers, Rosetta count and polarization statistics (docs/theory.md, section 1).

For P1, A, C and D the program is concave with a unique maximiser, and KKT is necessary and
sufficient, so the solution is s_r = clip((B')^-1(lambda / w_r), 0, 1) at the closure's price
lambda (theory.closures). Closure E's objective is not concave: there the same form gives a
KKT point (KKT is necessary under linear constraints), not a proved global maximiser
(docs/theory.md, section 5). Counts come from the allocation itself (integer bisection on s_r),
not from the closed-form frontiers, so that tests can hold the two against each other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from theory.closures import solve_price
from theory.kkt import (
    frontier,
    isolation_at_price,
    kkt_residual,
    price_sums,
    probe_ranks,
    represented_count,
    rosetta_isolation_sum,
)
from theory.params import AllocationParams, check_n_neurons
from theory.ranksums import last_true_rank


@dataclass(frozen=True)
class Allocation:
    """The optimal allocation at one width.

    Attributes
    ----------
    n_neurons : float
        Width N.
    price, budget_multiplier : float
        lambda and mu >= 0 (mu > 0 only where the hard budget binds).
    n_represented : float
        a(N); features beyond it are unrepresented.
    frontier_one, frontier_tau, frontier_zero : float
        Real ranks r_1 <= r_tau <= r_0 where s_r crosses 1, tau and 0.
    rosetta_count : int
        R(N) = #{r <= a : s_r >= tau}.
    n_saturated, n_partial, n_superposed : int
        Features with s_r = 1 (inside the Rosetta set), 0 < s_r < tau, s_r = 0 but represented.
    n_unrepresented : float
        F - a(N) (inf for an infinite feature set).
    total_isolation : float
        S = sum_r s_r (the capacity used, at most budget * N where the budget applies).
    mean_isolation_rosetta, mean_isolation_nonrosetta : float
        Mean s_r over the Rosetta features and over the represented non-Rosetta features
        (NaN for an empty set).
    kkt_residual : float
        Largest relative violation of stationarity, complementarity, the budget and the
        closure's price equation.
    """

    params: AllocationParams
    n_neurons: float
    price: float
    budget_multiplier: float
    n_represented: float
    frontier_one: float
    frontier_tau: float
    frontier_zero: float
    rosetta_count: int
    n_saturated: int
    n_partial: int
    n_superposed: int
    n_unrepresented: float
    total_isolation: float
    mean_isolation_rosetta: float
    mean_isolation_nonrosetta: float
    kkt_residual: float

    @property
    def rosetta_fraction(self) -> float:
        """R(N) / N."""
        return self.rosetta_count / self.n_neurons

    def isolation(self, ranks) -> np.ndarray:
        """s_r at the given ranks (0 beyond the represented set)."""
        ranks = np.asarray(ranks, dtype=np.float64)
        s = isolation_at_price(self.params, ranks, self.price)
        return np.where(ranks <= self.n_represented, s, 0.0)


def solve_allocation(params: AllocationParams, n_neurons: float) -> Allocation:
    """Solve the allocation program of `params` at width `n_neurons` (N >= 1, up to ~1e13).

    Raises
    ------
    TypeError, ValueError
        If `n_neurons` is not a real number >= 1 (the message names the parameter).
    """
    n = check_n_neurons(n_neurons)
    a = represented_count(params, n)
    price = solve_price(params, n, a)
    sums = price_sums(params, price.value, a)
    tau = params.tau
    n_rosetta = last_true_rank(lambda r: isolation_at_price(params, r, price.value) >= tau, int(a))
    rosetta_sum = rosetta_isolation_sum(params, sums, n_rosetta)
    n_nonrosetta = a - n_rosetta
    residual = max(
        kkt_residual(params, price.value, probe_ranks(sums, n_rosetta)),
        price.residual,
        _budget_residual(params, n, sums.total_isolation, price.budget_multiplier),
    )
    return Allocation(
        params=params,
        n_neurons=n,
        price=price.value,
        budget_multiplier=price.budget_multiplier,
        n_represented=a,
        frontier_one=frontier(params, price.value, 1.0),
        frontier_tau=frontier(params, price.value, tau),
        frontier_zero=frontier(params, price.value, 0.0),
        rosetta_count=n_rosetta,
        n_saturated=sums.n_saturated,
        n_partial=sums.n_positive - n_rosetta,  # s >= tau > 0 implies s > 0
        n_superposed=int(a) - sums.n_positive,
        n_unrepresented=params.n_features - a,
        total_isolation=sums.total_isolation,
        mean_isolation_rosetta=rosetta_sum / n_rosetta if n_rosetta else math.nan,
        mean_isolation_nonrosetta=(
            (sums.total_isolation - rosetta_sum) / n_nonrosetta if n_nonrosetta else math.nan
        ),
        kkt_residual=residual,
    )


def _budget_residual(params, n, total, multiplier) -> float:
    """Primal feasibility (S <= budget N) and complementarity (mu (budget N - S) = 0)."""
    if params.closure in ("C", "E"):
        return max(0.0, total / n - 1.0)
    capacity = params.budget * n
    infeasible = max(0.0, total / capacity - 1.0)
    slack = (capacity - total) / capacity if multiplier > 0.0 else 0.0
    return max(infeasible, abs(slack))
