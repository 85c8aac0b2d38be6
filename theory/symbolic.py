"""Sympy derivation of the allocation model's closed forms (docs/theory.md, sections 2-5).

Only the benefit curves and Scherlis et al.'s loss are typed in. The KKT isolation, the
frontiers r_x(N), the exponent of R(N) under each closure, the Rosetta mean limit m_inf, the
budget integral J_B and the crossover width N_* are derived by sympy, then lambdified into
NumPy callables (`closed_forms`). sympy is imported lazily and every derivation is cached, so
importing this module is cheap and deriving costs a few seconds once per process.

Symbols (module attributes, e.g. ``symbolic.N``; all positive except s and x): s isolation,
K or eta the benefit shape, w importance, lam price, N width, r rank, beta importance
exponent, kappa rent, w1 top importance, tau Rosetta threshold, x a frontier level and
u = r / r_tau the rank in units of the Rosetta frontier.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING

import numpy as np

from theory.params import CLOSURES
from theory.validation import check_real

if TYPE_CHECKING:
    import sympy

_SHAPES = {"kurtosis": "K", "quadratic": "eta"}
# A legal shape per family, used only to tell the KKT roots apart.
_PROBE_SHAPE = {"kurtosis": 10, "quadratic": 0.5}
# Half-width of the beta interval bridged linearly across a removable singularity (the
# kurtosis integrals at beta = 2): the closed form cancels to ~1e-16 / width next to it and
# the interpolation errs by ~width^2, so 1e-5 keeps both near 1e-10.
_BRIDGE = 1e-5
_POSITIVE = ("K", "eta", "w", "lam", "N", "r", "beta", "kappa", "w1", "tau", "u", "y", "y0",
             "y1", "ell", "gamma", "phi", "J", "sigma", "delta", "lo", "hi")


@functools.cache
def _symbols() -> SimpleNamespace:
    import sympy as sp
    table = {name: sp.Symbol(name, positive=True) for name in _POSITIVE}
    return SimpleNamespace(**table, s=sp.Symbol("s", real=True), x=sp.Symbol("x", nonnegative=True))


def __getattr__(name: str):
    # Symbols are created on first access so that importing the module does not import sympy.
    if name in _POSITIVE or name in ("s", "x"):
        return getattr(_symbols(), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def benefit_expression(family: str) -> tuple[sympy.Symbol, sympy.Symbol, sympy.Expr]:
    """The benefit curve B(s) of `family` ("kurtosis" or "quadratic"), typed in as in
    theory.benefit.

    Returns
    -------
    s, shape, B : sympy.Symbol, sympy.Symbol, sympy.Expr
        The isolation symbol, the shape symbol (K or eta) and B(s). An unknown family raises
        ValueError naming it.
    """
    if family not in _SHAPES:
        raise ValueError(f"benefit family must be one of {sorted(_SHAPES)}, got {family!r}")
    sym = _symbols()
    s, shape = sym.s, getattr(sym, _SHAPES[family])
    if family == "kurtosis":
        return s, shape, (shape - 1) * s / (2 + (shape - 3) * s)
    return s, shape, (s - shape * s**2 / 2) / (1 - shape / 2)


def derive_kurtosis_benefit() -> sympy.Expr:
    """B = 1 - l(s)/l(0) for Scherlis et al.'s loss l(C) = 2(K-1)v^2(1-C)/(2+(K-3)C)."""
    import sympy as sp
    s, k, _ = benefit_expression("kurtosis")
    v = sp.Symbol("v", positive=True)

    def loss(c):
        return 2 * (k - 1) * v**2 * (1 - c) / (2 + (k - 3) * c)

    return sp.factor(sp.simplify(1 - loss(s) / loss(0)))


def _slope_at(family: str, x) -> sympy.Expr:
    """B'(x), factored so that lambdified forms stay short."""
    import sympy as sp
    s, _, b = benefit_expression(family)
    return sp.factor(sp.diff(b, s).subs(s, x))


@functools.cache
def derive_kkt(family: str) -> sympy.Expr:
    """Interior KKT isolation s*(w, lam): the root of w B'(s) = lam that inverts B' on [0, 1].

    B'_K is a reciprocal square, so w B'_K(s) = lam has two roots; the other one is negative
    for every price. The right root is picked by a probe: at a legal shape it must map the
    price lam = w B'(1/2) back to s = 1/2.
    """
    import sympy as sp
    sym = _symbols()
    s, shape, _ = benefit_expression(family)
    roots = sp.solve(sp.Eq(sym.w * _slope_at(family, s), sym.lam), s)
    half = sp.Rational(1, 2)
    probe = {shape: _PROBE_SHAPE[family], sym.w: 1}
    probe[sym.lam] = _slope_at(family, half).subs(probe)
    (root,) = [x for x in roots if sp.simplify(x.subs(probe) - half) == 0]
    return sp.simplify(root)


@functools.cache
def _frontier_rank() -> sympy.Expr:
    """The rank r where w1 r^-beta y = lam, for a positive marginal benefit y = B'(x)."""
    import sympy as sp
    sym = _symbols()
    (rank,) = sp.solve(sp.Eq(sym.w1 * sym.r**-sym.beta * sym.y, sym.lam), sym.r)
    return rank


def derive_frontier(family: str, x) -> sympy.Expr:
    """r_x(N) = (w1 N B'(x) / kappa)^(1/beta), where s_r crosses level x at P1's price kappa/N.

    B' is decreasing, so s_r >= x exactly when w_r B'(x) >= lam: the frontier solves
    w1 r^-beta B'(x) = kappa / N. `x` is a number (0, 1) or an expression (the symbol tau).
    """
    sym = _symbols()
    return _frontier_rank().subs({sym.y: _slope_at(family, x), sym.lam: sym.kappa / sym.N})


@functools.cache
def derive_isolation(family: str) -> sympy.Expr:
    """Unclipped s_r(N) under P1: the KKT isolation at w = w1 r^-beta and lam = kappa / N."""
    import sympy as sp
    sym = _symbols()
    prices = {sym.w: sym.w1 * sym.r**-sym.beta, sym.lam: sym.kappa / sym.N}
    return sp.simplify(sp.expand(derive_kkt(family).subs(prices)))


def _log_slope(expr) -> sympy.Expr:
    """d log(expr) / d log N: the exponent of N in a power law."""
    import sympy as sp
    sym = _symbols()
    return sp.simplify(sym.N * sp.diff(sp.log(expr), sym.N))


@functools.cache
def _price_exponents() -> dict[str, sympy.Expr]:
    """gamma in lam ~ N^-gamma for each closure, from its own balance (see derive_exponent)."""
    import sympy as sp
    sym = _symbols()
    budget = sp.Eq((sym.w1 / sym.lam) ** (1 / sym.beta) * sym.J, sym.phi * sym.N)
    (budget_price,) = sp.solve(budget, sym.lam)
    # C: S ~ N^(gamma/beta) = N^(1 - delta), i.e. S = o(N) when delta > 0.
    bulk = sym.kappa / (sym.N - sym.sigma * sym.N ** (1 - sym.delta)) ** 2
    # E: after r = N u, W ~ int w1 (N u)^-beta (1 - B(s(u))) N du; and N - S = (1 - sigma) N.
    unserved = _log_slope(sym.N * sym.w1 * (sym.N * sym.u) ** -sym.beta)
    free = _log_slope(sym.N - sym.sigma * sym.N)
    (interference,) = sp.solve(sp.Eq(-sym.gamma + free, unserved), sym.gamma)
    return {"P1": -_log_slope(sym.kappa / sym.N), "A": -_log_slope(budget_price),
            "C": -sp.limit(_log_slope(bulk), sym.N, sp.oo), "D": -_log_slope(sym.kappa),
            "E": interference}


@functools.cache
def derive_exponent(closure: str) -> sympy.Expr:
    """Slope of log R(N) against log N under a closure, as an expression in beta.

    A price law lam = ell N^-gamma moves the Rosetta frontier r_tau = (w1 B'(tau)/lam)^(1/beta)
    with log-slope gamma / beta (derived). Each closure supplies gamma:

    - P1: lam = kappa / N, gamma = 1: slope 1/beta.
    - A: no rent. The continuum budget (w1/lam)^(1/beta) J = phi N (r = (w1/lam)^(1/beta) v
      in sum_r s_r) solved for lam gives gamma = beta: slope 1.
    - C: lam = kappa / (N - S)^2. If S ~ N^(1 - delta), delta > 0, the limit gives gamma = 2;
      S = o(N) needs gamma / beta < 1, i.e. beta > 2. Otherwise the budget S < N binds and
      sets the price as in A: slope 1.
    - D: constant price, gamma = 0: slope 0 (R plateaus).
    - E: lam = W / (N - S). Under lam ~ N^-beta, w_r / lam depends on r / N only (scale
      covariance, docs/theory.md section 5), so W ~ N^(1 - beta) and N - S ~ N; the balance
      -gamma + 1 = 1 - beta gives gamma = beta (the ansatz is consistent): slope 1.

    Raises
    ------
    ValueError
        If `closure` is not one of theory.params.CLOSURES.
    """
    import sympy as sp
    if closure not in CLOSURES:
        raise ValueError(f"closure must be one of {sorted(CLOSURES)}, got {closure!r}")
    sym = _symbols()
    rate = _log_slope(_frontier_rank().subs(sym.lam, sym.ell * sym.N**-sym.gamma))
    gammas = _price_exponents()
    if closure != "C":
        return sp.simplify(rate.subs(sym.gamma, gammas[closure]))
    slack = rate.subs(sym.gamma, gammas["C"])
    return sp.Piecewise((slack, sym.beta > gammas["C"]), (rate.subs(sym.gamma, gammas["A"]), True))


@functools.cache
def _exponent_function(closure: str) -> Callable[[float], float]:
    import sympy as sp
    return sp.lambdify([_symbols().beta], derive_exponent(closure), modules="math")


def exponent(closure: str, beta: float) -> float:
    """`derive_exponent(closure)` evaluated at a real `beta` > 1."""
    beta = check_real("beta", beta, low=1.0, low_open=True)
    return float(_exponent_function(closure)(beta))


@functools.cache
def _profile(family: str) -> sympy.Expr:
    """s(u), u = r / r_tau, in the partial regime, with y standing for B'(tau).

    r = u r_tau(N) removes N, w1 and kappa from s_r(N): with positive factors,
    (u (w1 N y / kappa)^(1/beta))^-beta = u^-beta kappa / (w1 N y). Keeping y a positive
    placeholder lets sympy simplify the square roots of the kurtosis family.
    """
    import sympy as sp
    sym = _symbols()
    r_tau = _frontier_rank().subs(sym.lam, sym.kappa / sym.N)
    return sp.simplify(derive_isolation(family).subs(sym.r, sym.u * r_tau))


def _integral_from_core(family: str, upper_level: int) -> sympy.Expr:
    """u_1 + integral_{u_1}^{u_x} s(u) du (s = 1 on the saturated core u <= u_1), where
    u_x = r_x / r_tau = (B'(x) / B'(tau))^(1/beta): x = 1 gives m_inf, x = 0 gives J_B."""
    import sympy as sp
    sym = _symbols()
    # Integrate between positive placeholder limits and slopes, then substitute: sympy then
    # never has to decide the signs of the long limit expressions.
    area = sp.simplify(sp.integrate(_profile(family), (sym.u, sym.lo, sym.hi)))
    core = (sym.y1 / sym.y) ** (1 / sym.beta)
    upper = 1 if upper_level == 1 else (sym.y0 / sym.y) ** (1 / sym.beta)
    total = core + area.subs({sym.lo: core, sym.hi: upper})
    slopes = {sym.y0: _slope_at(family, 0), sym.y1: _slope_at(family, 1)}
    return total.subs(slopes).subs(sym.y, _slope_at(family, sym.tau))


@functools.cache
def rosetta_mean_limit(family: str) -> sympy.Expr:
    """m_inf = integral_0^1 s(u) du, the large-N mean isolation of the Rosetta set.

    A closed form in (beta, tau, shape) for both families; the kurtosis one is a Piecewise
    whose beta = 2 branch (a logarithm) is the limit of the general branch.
    """
    return _integral_from_core(family, 1)


@functools.cache
def budget_integral(family: str) -> sympy.Expr:
    """J_B = integral_0^{u_0} s(u) du: sum_r s_r ~ r_tau(N) J_B in the continuum."""
    return _integral_from_core(family, 0)


@functools.cache
def _log_crossover_width() -> sympy.Expr:
    """log N_*, N_* solving r_tau(N) J = phi N (y = B'(tau), phi the budget per neuron); the
    budget is slack above N_* (docs/theory.md, section 3).

    As a log, N_* = (c_tau J / phi)^(beta/(beta-1)) stays one power: sympy's solved form
    splits off kappa^(-1/(beta-1)), which gives 0 * inf as beta -> 1.
    """
    import sympy as sp
    sym = _symbols()
    rosetta_total = _frontier_rank().subs(sym.lam, sym.kappa / sym.N) * sym.J
    (width,) = sp.solve(sp.Eq(rosetta_total, sym.phi * sym.N), sym.N)
    # force is safe: every base is positive and every exponent real for beta > 1.
    return sp.together(sp.expand(sp.expand_log(sp.log(width), force=True)))


@dataclass(frozen=True)
class ClosedForms:
    """Vectorised NumPy callables for one benefit family (arguments in the order shown).

    frontier(x, n, beta, kappa, w1, shape); isolation(r, n, beta, kappa, w1, shape), clipped
    to [0, 1]; rosetta_count(n, beta, tau, kappa, w1, shape) = floor(r_tau);
    rosetta_mean_limit(beta, tau, shape); budget_integral(beta, tau, shape);
    crossover_width(beta, tau, kappa, w1, shape, budget) = N_* (budget: phi).
    """

    family: str
    frontier: Callable[..., np.ndarray]
    isolation: Callable[..., np.ndarray]
    rosetta_count: Callable[..., np.ndarray]
    rosetta_mean_limit: Callable[..., np.ndarray]
    budget_integral: Callable[..., np.ndarray]
    crossover_width: Callable[..., np.ndarray]


def _lambdify_in_beta(args, expr) -> Callable[..., np.ndarray]:
    """Lambdify `expr` in (beta, *args), bridging each point where a Piecewise in beta
    switches branch linearly over |beta - p| < _BRIDGE (the general branch cancels there)."""
    import sympy as sp
    beta = _symbols().beta
    func = sp.lambdify([beta, *args], expr, modules="numpy")
    relations = {rel for piece in expr.atoms(sp.Piecewise) for _, cond in piece.args
                 for rel in cond.atoms(sp.core.relational.Relational)}
    points = {float(p) for rel in relations for p in sp.solve(sp.Eq(rel.lhs, rel.rhs), beta)}

    def evaluate(b, *rest):
        b = np.asarray(b, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):  # np.select computes all branches
            value = np.asarray(func(b, *rest), dtype=np.float64)
            for p in points:
                near = np.abs(b - p) < _BRIDGE
                if np.any(near):
                    lo, hi = func(p - _BRIDGE, *rest), func(p + _BRIDGE, *rest)
                    bridge = lo + (hi - lo) * (b - p + _BRIDGE) / (2 * _BRIDGE)
                    value = np.where(near, bridge, value)
        return value[()]

    return evaluate


@functools.cache
def closed_forms(family: str) -> ClosedForms:
    """Lambdify the derivations for `family` (see `ClosedForms`); cached per family."""
    import sympy as sp
    sym = _symbols()
    _, shape, _ = benefit_expression(family)
    frontier = sp.lambdify([sym.x, sym.N, sym.beta, sym.kappa, sym.w1, shape],
                           derive_frontier(family, sym.x), modules="numpy")
    raw_isolation = sp.lambdify([sym.r, sym.N, sym.beta, sym.kappa, sym.w1, shape],
                                derive_isolation(family), modules="numpy")
    mean_limit = _lambdify_in_beta([sym.tau, shape], rosetta_mean_limit(family))
    integral = _lambdify_in_beta([sym.tau, shape], budget_integral(family))
    log_crossover = sp.lambdify([sym.J, sym.y, sym.beta, sym.kappa, sym.w1, sym.phi],
                                _log_crossover_width(), modules="numpy")
    slope = sp.lambdify([sym.tau, shape], _slope_at(family, sym.tau), modules="numpy")

    def isolation(r, n, beta, kappa, w1, shape_value):
        return np.clip(raw_isolation(r, n, beta, kappa, w1, shape_value), 0.0, 1.0)

    def rosetta_count(n, beta, tau, kappa, w1, shape_value):
        return np.floor(frontier(tau, n, beta, kappa, w1, shape_value))

    def crossover_width(beta, tau, kappa, w1, shape_value, budget):
        j_b = integral(beta, tau, shape_value)
        with np.errstate(over="ignore"):  # beta -> 1 sends N_* to 0 or inf, as it should
            return np.exp(log_crossover(j_b, slope(tau, shape_value), beta, kappa, w1, budget))

    return ClosedForms(family, frontier, isolation, rosetta_count, mean_limit, integral,
                       crossover_width)
