"""Power-law checks: curvature test size and power, AICc picks the planted form, extrapolation."""

import numpy as np
import pytest

from bridge.diagnostics import check_curvature, compare_aicc, predict_largest

N8 = np.geomspace(1e7, 1e10, 8)


def power(n, alpha=0.6):
    return 3.0 * n**alpha


def offset(n):
    return 3.0 * n**0.6 + 3.0 * 1e10**0.6


def bend(n):
    return 3.0 * n**0.6 / (1.0 + n / 1e8)


def noisy(curve, n, sigma, seed):
    return curve(n) * np.exp(sigma * np.random.default_rng(seed).standard_normal(len(n)))


def test_curvature_test_holds_its_size_under_a_power_law():
    rejections = [check_curvature(N8, noisy(power, N8, 0.1, s)).p_value < 0.05
                  for s in range(1000)]
    # Binomial(1000, 0.05): sd 0.007; the test is exact under Gaussian log scatter.
    assert np.mean(rejections) == pytest.approx(0.05, abs=0.022)


def test_curvature_test_detects_a_strong_bend():
    result = check_curvature(N8, noisy(bend, N8, 0.02, 0))
    assert result.quadratic < 0 and result.p_value < 1e-4


@pytest.mark.parametrize(("curve", "name"), [(power, "power"), (offset, "offset"),
                                             (bend, "bend")])
def test_aicc_prefers_the_planted_form(curve, name):
    wins = [compare_aicc(N8, noisy(curve, N8, 0.02, s)).preferred == name for s in range(20)]
    assert np.mean(wins) >= 0.8


def test_rivals_contain_the_power_law_so_never_fit_worse():
    for seed in range(10):
        result = compare_aicc(N8, noisy(power, N8, 0.1, seed))
        assert result.rss["offset"] <= result.rss["power"] * (1 + 1e-9)
        assert result.rss["bend"] <= result.rss["power"] * (1 + 1e-9)


def test_aicc_cannot_score_three_parameter_forms_on_five_sizes():
    n = np.geomspace(1e7, 1e10, 5)
    result = compare_aicc(n, noisy(bend, n, 0.01, 0))
    assert result.aicc["offset"] == result.aicc["bend"] == np.inf
    assert result.preferred == "power"


def test_prediction_band_covers_the_largest_size_at_its_level():
    inside = [predict_largest(N8, noisy(power, N8, 0.1, s), level=0.9).inside
              for s in range(1000)]
    assert np.mean(inside) == pytest.approx(0.9, abs=0.03)


def test_exact_law_is_predicted_exactly_and_a_bend_is_not():
    exact = predict_largest(N8, power(N8))
    assert exact.log_error == pytest.approx(0.0, abs=1e-10) and exact.inside
    # A bend near the largest size: the smaller seven look straight, the largest falls short.
    late = noisy(lambda n: 3.0 * n**0.6 / (1.0 + n / 3e9), N8, 0.01, 0)
    bent = predict_largest(N8, late)
    assert bent.log_error < -0.2 and not bent.inside


def test_order_of_sizes_does_not_change_the_prediction(rng):
    count = noisy(power, N8, 0.1, 4)
    order = rng.permutation(8)
    assert predict_largest(N8[order], count[order]) == predict_largest(N8, count)


@pytest.mark.parametrize("check", [check_curvature, predict_largest])
def test_checks_need_four_sizes(check):
    n = np.geomspace(1e7, 1e9, 3)
    with pytest.raises(ValueError, match="at least 4 sizes"):
        check(n, power(n))
