"""The allocation solver: KKT optimality, regimes, counts, and agreement with a direct solve."""

import math

import numpy as np
import pytest
from scipy import optimize

from theory.allocation import solve_allocation
from theory.benefit import KurtosisBenefit, QuadraticBenefit
from theory.closures import utility
from theory.params import AllocationParams

P1 = AllocationParams(beta=1.5, tau=0.5, kappa=1.0, w1=1.0, benefit=KurtosisBenefit(10.0), rho=4.0)


# Reference rows computed by an independent scratch solver (exact discrete sums): N, R,
# floor(r_0), floor(r_1), mean s Rosetta, non-Rosetta; the means are compared to half a unit
# of their last printed digit.
REFERENCE = [
    (16, 4, 17, 2, 0.837, 0.0332),
    (256, 28, 109, 14, 0.855, 0.0128),
    (1024, 71, 276, 37, 0.858, 0.0080),
    (65536, 1149, 4430, 596, 0.857, 0.0020),
]


@pytest.mark.parametrize("n, count, r0, r1, mean_r, mean_nr", REFERENCE)
def test_matches_reference_table(n, count, r0, r1, mean_r, mean_nr):
    sol = solve_allocation(P1, n)
    assert sol.rosetta_count == count
    assert math.floor(sol.frontier_zero) == r0
    assert math.floor(sol.frontier_one) == r1
    assert sol.mean_isolation_rosetta == pytest.approx(mean_r, abs=5e-4)
    assert sol.mean_isolation_nonrosetta == pytest.approx(mean_nr, abs=5e-5)


@pytest.mark.parametrize("benefit", [KurtosisBenefit(10.0), QuadraticBenefit(0.8)])
def test_polarization_on_the_reference_grid(benefit):
    params = AllocationParams(beta=1.5, benefit=benefit)
    sols = [solve_allocation(params, 4.0**k) for k in range(5, 21)]
    nonrosetta = np.array([s.mean_isolation_nonrosetta for s in sols])
    gap = np.array([s.mean_isolation_rosetta for s in sols]) - nonrosetta
    assert np.all(np.diff(nonrosetta) < 0)
    assert gap[-1] > gap[0] and np.all(np.diff(gap[4:]) > 0)


@pytest.mark.parametrize("closure", ["P1", "A", "C", "D", "E"])
@pytest.mark.parametrize("n", [10, 3e3, 1e7, 1e12])
def test_kkt_residual_is_at_rounding_level(closure, n):
    params = AllocationParams(beta=1.5, closure=closure, kappa=1e-3 if closure == "D" else 1.0)
    sol = solve_allocation(params, n)
    # C and E price through N - S, which loses digits by cancellation when S is close to N.
    cancellation = max(1.0, n / (n - sol.total_isolation))
    assert sol.kkt_residual < 64 * np.finfo(float).eps * cancellation


def _direct_optimum(params, n):
    """Maximise the closure's utility over all a(N) variables with SLSQP (no KKT structure)."""
    a = int(min(params.n_features, math.floor(params.rho * n)))
    constraints = [{"type": "ineq", "fun": lambda s: params.budget * n - np.sum(s)}]
    if params.closure in ("C", "E"):
        constraints = [{"type": "ineq", "fun": lambda s: n - np.sum(s) - 1e-9}]
    start = np.full(a, 0.5 * min(1.0, n / a))
    result = optimize.minimize(
        lambda s: -utility(params, n, s), start, method="SLSQP", bounds=[(0.0, 1.0)] * a,
        constraints=constraints, options={"ftol": 1e-14, "maxiter": 2000},
    )
    assert result.success, result.message
    return result.x


DIRECT_CASES = [
    AllocationParams(beta=1.5),
    AllocationParams(beta=2.5, benefit=QuadraticBenefit(0.6), tau=0.3),
    AllocationParams(beta=1.5, kappa=1e-3),  # the hard budget binds (mu > 0)
    AllocationParams(beta=1.5, closure="A"),
    AllocationParams(beta=3.0, closure="C"),
    AllocationParams(beta=1.5, closure="D", kappa=1e-2),
    AllocationParams(beta=2.0, closure="E"),
]


@pytest.mark.parametrize("params", DIRECT_CASES, ids=lambda p: f"{p.closure}-b{p.beta}-k{p.kappa}")
def test_agrees_with_direct_convex_solve(params):
    n = 12
    sol = solve_allocation(params, n)
    ranks = np.arange(1, int(sol.n_represented) + 1)
    s_kkt = sol.isolation(ranks)
    s_direct = _direct_optimum(params, n)
    assert utility(params, n, s_kkt) >= utility(params, n, s_direct) - 1e-10
    np.testing.assert_allclose(s_kkt, s_direct, atol=2e-4)


def test_budget_binds_with_small_rent_and_then_holds_with_equality():
    params = AllocationParams(beta=1.5, kappa=1e-3)
    sol = solve_allocation(params, 64)
    assert sol.budget_multiplier > 0
    assert sol.total_isolation == pytest.approx(params.budget * 64, rel=1e-12)
    slack = solve_allocation(AllocationParams(beta=1.5), 64)
    assert slack.budget_multiplier == 0 and slack.total_isolation < 64


def test_a_budget_that_binds_by_rounding_only_is_solved():
    # At this width S(kappa/N) exceeds N by 4e-15, and exp(log(kappa/N)) does not: the
    # bracket of the budget's price had one sign and brentq raised.
    params = AllocationParams(beta=3.0, tau=0.3, kappa=1e-3)
    sol = solve_allocation(params, 27.205829297763845)
    assert sol.price == pytest.approx(params.kappa / 27.205829297763845, rel=1e-12)
    assert sol.total_isolation == pytest.approx(27.205829297763845, rel=1e-12)
    assert sol.kkt_residual < 1e-9


def test_constant_price_gives_a_plateau():
    params = AllocationParams(beta=2.0, closure="D", kappa=1e-3)
    counts = {solve_allocation(params, n).rosetta_count for n in (1e3, 1e6, 1e9)}
    expected = math.floor((params.benefit.slope(params.tau) / params.kappa) ** (1 / params.beta))
    assert counts == {expected}


def test_finite_feature_set_caps_the_represented_set():
    params = AllocationParams(beta=1.2, n_features=500.0)
    sol = solve_allocation(params, 1e6)
    assert sol.n_represented == 500 and sol.n_unrepresented == 0
    assert sol.rosetta_count <= 500


@pytest.mark.parametrize(
    "kwargs, name",
    [({"beta": 1.0}, "beta"), ({"beta": 0.5}, "beta"), ({"beta": 1.5, "tau": 0.0}, "tau"),
     ({"beta": 1.5, "tau": 1.5}, "tau"), ({"beta": 1.5, "kappa": -1.0}, "kappa"),
     ({"beta": float("nan")}, "beta"), ({"beta": 1.5, "closure": "Z"}, "closure")],
)
def test_bad_parameters_name_themselves(kwargs, name):
    with pytest.raises(ValueError, match=name):
        AllocationParams(**kwargs)


def test_non_numeric_parameters_are_type_errors():
    with pytest.raises(TypeError, match="beta"):
        AllocationParams(beta="1.5")
    with pytest.raises(ValueError, match="kurtosis"):
        KurtosisBenefit(3.0)
    with pytest.raises(ValueError, match="eta"):
        QuadraticBenefit(1.0)


@pytest.mark.parametrize("n", [0.5, 0, -3])
def test_width_below_one_is_rejected(n):
    with pytest.raises(ValueError, match="n_neurons"):
        solve_allocation(P1, n)
    with pytest.raises(TypeError, match="n_neurons"):
        solve_allocation(P1, "1024")


def test_params_round_trip_through_config():
    params = AllocationParams(beta=2.0, benefit=QuadraticBenefit(0.3), n_features=1e5)
    assert AllocationParams.from_config(params.to_config()) == params
    assert AllocationParams.from_config(P1.to_config()) == P1


def test_closure_e_objective_is_not_concave_where_p1_is():
    """docs/theory.md, section 5: KKT sufficiency rests on concavity, which E lacks. Along
    s = x e_1 (nearly linear benefit, N = 4), E's objective at the midpoint falls below the
    chord; P1's, on the same line, does not."""
    n = 4.0
    ends = np.zeros((2, 16))
    ends[1, 0] = 1.0
    for closure, concave in (("E", False), ("P1", True)):
        params = AllocationParams(beta=2.0, closure=closure, benefit=QuadraticBenefit(0.05))
        chord = (utility(params, n, ends[0]) + utility(params, n, ends[1])) / 2
        assert (utility(params, n, ends.mean(axis=0)) >= chord) == concave
