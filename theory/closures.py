"""The price of isolation under each closure of the allocation model.

Each closure is an objective over s in [0, 1]^a; every one has the KKT form
s_r = clip((B')^-1(lambda / w_r), 0, 1), so solving it reduces to a one-dimensional,
monotone equation for the price lambda, solved here with scipy's brentq in log(lambda).

| closure | objective U(s)                           | constraint    | price lambda      |
|---------|------------------------------------------|---------------|-------------------|
| P1      | sum w B(s) - (kappa/N) S                 | S <= budget N | kappa/N + mu      |
| A       | sum w B(s)                               | S <= budget N | mu                |
| C       | sum w B(s) - kappa / (N - S)             | S < N         | kappa / (N - S)^2 |
| D       | sum w B(s) - kappa S                     | S <= budget N | kappa + mu        |
| E       | -kappa W / (N - S), W = sum w (1 - B(s)) | S < N         | W / (N - S)       |

S = sum_r s_r over the represented features r <= a(N); mu >= 0 is the budget multiplier
(docs/theory.md, section 5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from theory.kkt import importance, price_sums, unexplained_importance
from theory.params import AllocationParams
from theory.ranksums import power_sum

_XTOL = 1e-15


@dataclass(frozen=True)
class Price:
    """The solved price: lambda, the budget multiplier mu (0 when slack or not applicable) and
    the relative residual of the closure's own price equation at lambda."""

    value: float
    budget_multiplier: float
    residual: float


def solve_price(params: AllocationParams, n_neurons: float, n_represented: float) -> Price:
    """Solve the closure's price equation at width `n_neurons`."""
    solver = {"P1": _rent_price, "D": _rent_price, "A": _budget_only_price,
              "C": _bulk_price, "E": _interference_price}[params.closure]
    return solver(params, n_neurons, n_represented)


def base_price(params: AllocationParams, n_neurons: float) -> float:
    """The exogenous price before the budget binds: kappa/N in P1, kappa in D."""
    return params.kappa / n_neurons if params.closure == "P1" else params.kappa


def utility(params: AllocationParams, n_neurons: float, s: np.ndarray) -> float:
    """The closure's objective U(s) for an explicit allocation over ranks 1..len(s)."""
    ranks = np.arange(1, len(s) + 1)
    w = importance(params, ranks)
    served = float(np.sum(w * params.benefit.value(s)))
    total = float(np.sum(s))
    if params.closure == "P1":
        return served - params.kappa / n_neurons * total
    if params.closure == "D":
        return served - params.kappa * total
    if params.closure == "A":
        return served
    if total >= n_neurons:
        return -math.inf
    if params.closure == "C":
        return served - params.kappa / (n_neurons - total)
    return -params.kappa * float(np.sum(w) - served) / (n_neurons - total)


def _rent_price(params, n_neurons, a) -> Price:
    lam = base_price(params, n_neurons)
    capacity = params.budget * n_neurons
    if price_sums(params, lam, a).total_isolation <= capacity:
        return Price(lam, 0.0, 0.0)
    binding = _budget_price(params, capacity, a, lo=lam)
    return Price(binding.value, binding.value - lam, binding.residual)


def _budget_only_price(params, n_neurons, a) -> Price:
    capacity = params.budget * n_neurons
    if a <= capacity:
        return Price(0.0, 0.0, 0.0)
    lo = _full_isolation_price(params, a)
    price = _budget_price(params, capacity, a, lo=lo)
    return Price(price.value, price.value, price.residual)


def _budget_price(params, capacity, a, lo) -> Price:
    """The price at which S(lambda) = capacity, for a lower bracket `lo` where S > capacity."""
    def gap(log_lam):
        return price_sums(params, math.exp(log_lam), a).total_isolation / capacity - 1.0

    if gap(math.log(lo)) <= 0.0:
        # S(lo) exceeds the capacity by rounding only (exp(log(lo)) may differ from lo in the
        # last bit and flip the sign): the budget just binds and lo is its price.
        return Price(lo, lo, abs(gap(math.log(lo))))
    hi = 2.0 * params.w1 * params.benefit.slope(0.0)  # every s_r = 0 above this price
    lam = math.exp(optimize.brentq(gap, math.log(lo), math.log(hi), xtol=_XTOL, rtol=1e-15))
    return Price(lam, lam, abs(gap(math.log(lam))))


def _bulk_price(params, n_neurons, a) -> Price:
    """lambda (N - S)^2 = kappa, increasing in lambda; S >= N counts as the bottom of the range."""
    def gap(log_lam):
        room = n_neurons - price_sums(params, math.exp(log_lam), a).total_isolation
        return log_lam + 2.0 * math.log(max(room, 1e-300)) - math.log(params.kappa)

    lo = min(_full_isolation_price(params, a), 1e-3 * params.kappa / n_neurons**2)
    hi = max(2.0 * params.w1 * params.benefit.slope(0.0), 2.0 * params.kappa / n_neurons**2)
    lam = math.exp(optimize.brentq(gap, math.log(lo), math.log(hi), xtol=_XTOL, rtol=1e-15))
    return Price(lam, 0.0, abs(math.expm1(gap(math.log(lam)))))


def _interference_price(params, n_neurons, a) -> Price:
    """W(lambda) = lambda (N - S(lambda)); the gap is non-increasing in lambda."""
    if a <= n_neurons:
        return Price(0.0, 0.0, 0.0)  # every represented feature gets a neuron: W = 0

    def gap(log_lam):
        lam = math.exp(log_lam)
        sums = price_sums(params, lam, a)
        unexplained = unexplained_importance(params, sums)
        held = lam * (n_neurons - sums.total_isolation)
        return (unexplained - held) / (unexplained + abs(held))

    total_importance = params.w1 * power_sum(params.beta, 1, a)
    lo = _full_isolation_price(params, a)
    hi = max(2.0 * params.w1 * params.benefit.slope(0.0), 2.0 * total_importance / n_neurons)
    lam = math.exp(optimize.brentq(gap, math.log(lo), math.log(hi), xtol=_XTOL, rtol=1e-15))
    return Price(lam, 0.0, abs(gap(math.log(lam))))


def _full_isolation_price(params, a) -> float:
    """A price low enough that every represented feature is fully isolated (s_r = 1, r <= a)."""
    return 0.5 * params.w1 * a ** -params.beta * params.benefit.slope(1.0)
