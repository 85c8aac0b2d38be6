"""The sympy derivation: benefit curves, KKT root, frontiers, exponents and limits.

Independent references: theory.benefit's NumPy curves (typed in separately), the closed forms
printed in docs/theory.md (sections 2-4), scipy quadrature of s(u) built from the NumPy
curves, and a brute-force discrete Rosetta mean. Symbolic identities that need the model's
domain (K > 3, 0 < eta < 1, 0 < tau < 1) are checked after writing K = 3 + k,
eta = 1/(1 + e), tau = 1/(1 + t) with positive k, e, t, so sympy knows every base's sign.
"""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

from theory import symbolic as S
from theory.benefit import KurtosisBenefit, QuadraticBenefit

FAMILIES = {"kurtosis": (KurtosisBenefit, st.floats(3.05, 50.0)),
            "quadratic": (QuadraticBenefit, st.floats(0.01, 0.99))}
# The whole legal shape range, for the curves themselves.
SHAPE_RANGE = {"kurtosis": st.floats(3.0, 50.0, exclude_min=True),
               "quadratic": st.floats(0.0, 1.0, exclude_min=True, exclude_max=True)}
_k, _e, _t = sp.symbols("k e t", positive=True)
ON_DOMAIN = {"kurtosis": {S.K: 3 + _k}, "quadratic": {S.eta: 1 / (1 + _e)}}


def published_frontier(family, x):
    """r_x(N) as printed in docs/theory.md, section 2 (both families)."""
    n, w1, kappa, beta = S.N, S.w1, S.kappa, S.beta
    if family == "kurtosis":
        k = S.K
        return (2 * (k - 1) * w1 * n / (kappa * (2 + (k - 3) * x) ** 2)) ** (1 / beta)
    return ((1 - S.eta * x) * w1 * n / ((1 - S.eta / 2) * kappa)) ** (1 / beta)


def quadrature_limits(benefit, beta, tau):
    """m_inf and J_B by scipy quadrature of s(u) = clip((B')^-1(B'(tau) u^beta), 0, 1)."""
    def s(u):
        return float(np.clip(benefit.inverse_slope(benefit.slope(tau) * u**beta), 0.0, 1.0))

    u1 = (benefit.slope(1.0) / benefit.slope(tau)) ** (1 / beta)
    u0 = (benefit.slope(0.0) / benefit.slope(tau)) ** (1 / beta)
    tail = integrate.quad(s, 1.0, u0, epsabs=1e-14, epsrel=1e-13)[0]
    mean = u1 + integrate.quad(s, u1, 1.0, epsabs=1e-14, epsrel=1e-13)[0]
    return mean, mean + tail


@pytest.mark.parametrize("family", FAMILIES)
@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_sympy_benefit_equals_the_numpy_one(family, data):
    cls = FAMILIES[family][0]
    shape_value = data.draw(SHAPE_RANGE[family])
    x = data.draw(st.floats(0.0, 1.0))
    numeric = cls(shape_value)
    s, shape, benefit = S.benefit_expression(family)
    at = {s: x, shape: shape_value}
    for order, method in enumerate((numeric.value, numeric.slope, numeric.curvature)):
        expected = float(sp.diff(benefit, s, order).subs(at))
        assert method(x) == pytest.approx(expected, rel=1e-12, abs=1e-14)
    # The derived KKT root at w = 1 is the inverse of B'. Inverting a nearly constant B'
    # (K -> 3, eta -> 0) is ill-conditioned: roots agree to ~1e-16 / (K - 3) or / eta, while
    # the slope residual stays at rounding level.
    y = float(numeric.slope(x))
    root = float(S.derive_kkt(family).subs({S.w: 1, S.lam: y, shape: shape_value}))
    tolerance = 1e-9 + 1e-14 / (shape_value - 3 if family == "kurtosis" else shape_value)
    assert root == pytest.approx(x, abs=tolerance)
    assert numeric.inverse_slope(y) == pytest.approx(root, abs=tolerance)
    assert numeric.slope(numeric.inverse_slope(y)) == pytest.approx(y, rel=1e-12)


def test_kurtosis_benefit_follows_from_scherlis_loss():
    _, _, benefit = S.benefit_expression("kurtosis")
    assert sp.simplify(S.derive_kurtosis_benefit() - benefit) == 0


@pytest.mark.parametrize("family", FAMILIES)
def test_kkt_root_is_stationary_and_inside_the_unit_interval(family):
    s, shape, benefit = S.benefit_expression(family)
    root = S.derive_kkt(family)
    assert sp.simplify(S.w * sp.diff(benefit, s).subs(s, root) - S.lam) == 0
    # The chosen branch maps the prices w B'(1) .. w B'(0) onto [0, 1] (the other root of
    # the kurtosis family is negative there).
    value = {"kurtosis": sp.Integer(7), "quadratic": sp.Rational(3, 5)}[family]
    slope = sp.diff(benefit, s).subs(shape, value)
    for level in (0, sp.Rational(1, 3), 1):
        at = {S.w: 2, S.lam: 2 * slope.subs(s, level), shape: value}
        assert sp.simplify(root.subs(at) - level) == 0


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("level", [0, S.tau, 1])
def test_every_frontier_scales_as_n_to_one_over_beta(family, level):
    frontier = S.derive_frontier(family, level)
    assert sp.simplify(S.N * sp.diff(sp.log(frontier), S.N) - 1 / S.beta) == 0
    assert sp.simplify(frontier - published_frontier(family, level)) == 0


def test_isolation_equals_the_published_closed_forms():
    r0 = published_frontier("kurtosis", 0)
    kurtosis = (2 / (S.K - 3)) * ((r0 / S.r) ** (S.beta / 2) - 1)
    difference = (S.derive_isolation("kurtosis") - kurtosis).subs(ON_DOMAIN["kurtosis"])
    assert sp.simplify(difference) == 0
    quadratic = (1 - (S.r / published_frontier("quadratic", 0)) ** S.beta) / S.eta
    difference = (S.derive_isolation("quadratic") - quadratic).subs(ON_DOMAIN["quadratic"])
    assert sp.simplify(difference) == 0


@settings(max_examples=40, deadline=None)
@given(b=st.floats(1.01, 5.0), t=st.floats(0.01, 0.99), k=st.floats(3.1, 40.0),
       e=st.floats(0.01, 0.99), n=st.floats(1.0, 1e12), kap=st.floats(0.1, 10.0),
       rank=st.floats(1.0, 1e6))
def test_lambdified_forms_equal_the_published_closed_forms(b, t, k, e, n, kap, rank):
    kurt, quad = S.closed_forms("kurtosis"), S.closed_forms("quadratic")
    expected_kurt = {
        0.0: ((k - 1) * n / (2 * kap)) ** (1 / b),
        t: (2 * (k - 1) * n / (kap * (2 + (k - 3) * t) ** 2)) ** (1 / b),
        1.0: (2 * n / ((k - 1) * kap)) ** (1 / b),
    }
    for level, value in expected_kurt.items():
        assert kurt.frontier(level, n, b, kap, 1.0, k) == pytest.approx(value, rel=1e-12)
        quad_value = ((1 - e * level) * n / ((1 - e / 2) * kap)) ** (1 / b)
        assert quad.frontier(level, n, b, kap, 1.0, e) == pytest.approx(quad_value, rel=1e-12)
    assert kurt.rosetta_count(n, b, t, kap, 1.0, k) == math.floor(kurt.frontier(t, n, b, kap,
                                                                                1.0, k))
    r0k = expected_kurt[0.0]
    s_kurt = np.clip((2 / (k - 3)) * ((r0k / rank) ** (b / 2) - 1), 0, 1)
    assert kurt.isolation(rank, n, b, kap, 1.0, k) == pytest.approx(s_kurt, rel=1e-9, abs=1e-12)
    r0q = quad.frontier(0.0, n, b, kap, 1.0, e)
    s_quad = np.clip((1 - (rank / r0q) ** b) / e, 0, 1)
    assert quad.isolation(rank, n, b, kap, 1.0, e) == pytest.approx(s_quad, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(
    "closure, beta, slope",
    [("P1", 1.5, 2 / 3), ("P1", 3.0, 1 / 3), ("A", 1.5, 1.0), ("A", 3.0, 1.0),
     ("C", 1.5, 1.0), ("C", 2.0, 1.0), ("C", 3.0, 2 / 3), ("D", 1.5, 0.0), ("D", 3.0, 0.0),
     ("E", 1.5, 1.0), ("E", 3.0, 1.0)],
)
def test_exponents_of_the_closures(closure, beta, slope):
    assert S.exponent(closure, beta) == pytest.approx(slope, rel=1e-15)
    assert float(S.derive_exponent(closure).subs(S.beta, beta)) == pytest.approx(slope)


def test_exponent_expressions():
    assert sp.simplify(S.derive_exponent("P1") - 1 / S.beta) == 0
    assert S.derive_exponent("A") == 1 and S.derive_exponent("E") == 1
    assert S.derive_exponent("D") == 0
    expected = sp.Piecewise((2 / S.beta, S.beta > 2), (1, True))
    assert S.derive_exponent("C") == expected
    # P1 is the only closure whose slopes at beta = 1.5 and 3 are in ratio 2.
    ratios = {c: S.exponent(c, 1.5) / S.exponent(c, 3.0) for c in ("P1", "A", "C", "E")}
    assert ratios == pytest.approx({"P1": 2.0, "A": 1.0, "C": 1.5, "E": 1.0})


def test_reference_values_of_the_limits():
    kurt, quad = S.closed_forms("kurtosis"), S.closed_forms("quadratic")
    assert round(kurt.rosetta_mean_limit(1.5, 0.5, 10.0), 4) == 0.8569
    assert round(quad.rosetta_mean_limit(1.5, 0.5, 0.8), 4) == 0.8779
    assert round(kurt.budget_integral(1.5, 0.5, 10.0), 3) == 1.302
    assert round(float(kurt.frontier(0.5, 1.0, 1.5, 1.0, 1.0, 10.0)), 4) == 0.7075  # c_tau
    assert round(kurt.crossover_width(1.5, 0.5, 1.0, 1.0, 10.0, 1.0), 2) == 0.78
    # phi = 1/4 moves N_* by phi^(-beta/(beta-1)) = 4^3
    assert kurt.crossover_width(1.5, 0.5, 1.0, 1.0, 10.0, 0.25) == pytest.approx(
        64 * kurt.crossover_width(1.5, 0.5, 1.0, 1.0, 10.0, 1.0), rel=1e-12)
    assert kurt.rosetta_mean_limit(2.0, 1.0, 10.0) == pytest.approx(1.0)


def test_quadratic_mean_limit_equals_the_notes_formula():
    eta, beta, tau = S.eta, S.beta, S.tau
    u1 = ((1 - eta) / (1 - eta * tau)) ** (1 / beta)
    notes = u1 + (1 / eta) * (1 - u1 - ((1 - eta * tau) - (1 - eta) * u1) / (beta + 1))
    domain = {eta: 1 / (1 + _e), tau: 1 / (1 + _t)}
    assert sp.simplify((S.rosetta_mean_limit("quadratic") - notes).subs(domain)) == 0


@pytest.mark.parametrize("family", FAMILIES)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_closed_form_integrals_equal_quadrature(family, data):
    cls, shapes = FAMILIES[family]
    # beta = 2 is a removable singularity of the kurtosis closed forms: probe it and the
    # floats next to it, where the unbridged closed form cancels catastrophically.
    near_two = st.sampled_from([2.0, math.nextafter(2.0, 3.0), math.nextafter(2.0, 1.0),
                                2.0 - 3e-6, 2.0 + 1e-11, 2.0 + 1e-4])
    b = data.draw(st.one_of(st.floats(1.05, 5.0), near_two))
    t, shape_value = data.draw(st.floats(0.05, 0.95)), data.draw(shapes)
    forms = S.closed_forms(family)
    mean, budget = quadrature_limits(cls(shape_value), b, t)
    # The bridge across the kurtosis branch point beta = 2 is good to ~1e-10 (see _BRIDGE).
    assert forms.rosetta_mean_limit(b, t, shape_value) == pytest.approx(mean, rel=1e-8)
    assert forms.budget_integral(b, t, shape_value) == pytest.approx(budget, rel=1e-8)
    # The sympy expressions themselves (not only their lambdified bridge) are right.
    _, shape, _ = S.benefit_expression(family)
    at = {S.beta: b, S.tau: t, shape: shape_value}
    if abs(b - 2.0) > 1e-3 or b == 2.0:
        assert float(S.rosetta_mean_limit(family).subs(at).evalf(30)) == pytest.approx(mean)


@settings(max_examples=30, deadline=None)
@given(b=st.floats(1.05, 5.0), t=st.floats(0.05, 1.0), k=st.floats(3.1, 40.0),
       kap=st.floats(0.01, 10.0), w1=st.floats(0.1, 10.0), phi=st.floats(0.05, 20.0))
def test_crossover_width_balances_the_continuum_budget(b, t, k, kap, w1, phi):
    forms = S.closed_forms("kurtosis")
    width = forms.crossover_width(b, t, kap, w1, k, phi)
    total = forms.frontier(t, width, b, kap, w1, k) * forms.budget_integral(b, t, k)
    assert total == pytest.approx(phi * width, rel=1e-9)


@pytest.mark.parametrize("family, shape_value", [("kurtosis", 10.0), ("quadratic", 0.8)])
def test_discrete_rosetta_mean_converges_to_the_limit(family, shape_value):
    forms = S.closed_forms(family)
    n = 1e8
    count = int(forms.rosetta_count(n, 1.5, 0.5, 1.0, 1.0, shape_value))
    s = forms.isolation(np.arange(1, count + 1.0), n, 1.5, 1.0, 1.0, shape_value)
    assert count > 1e5
    assert np.all(s >= 0.5)
    assert abs(s.mean() - forms.rosetta_mean_limit(1.5, 0.5, shape_value)) < 1e-4


def test_unknown_names_are_rejected():
    with pytest.raises(ValueError, match="'cubic'"):
        S.benefit_expression("cubic")
    with pytest.raises(ValueError, match="'cubic'"):
        S.closed_forms("cubic")
    with pytest.raises(ValueError, match="'Z'"):
        S.derive_exponent("Z")
    with pytest.raises(ValueError, match="'Z'"):
        S.exponent("Z", 2.0)
    with pytest.raises(AttributeError):
        S.not_a_symbol  # noqa: B018


def test_importing_the_module_does_not_import_sympy():
    code = "import sys, theory.symbolic; assert 'sympy' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])
