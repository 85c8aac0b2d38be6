"""Coverage study: which interval for the exponent alpha of R = a N^alpha holds its 95% level?

    python benchmarks/coverage_headline.py [--seeds 1000] [--seed 0] [--resamples 1000]

Plants R(N) = mu_0 (N / 1e7)^alpha at 5 or 8 sizes N from 1e7 to 1e10 (alpha 0.5 or 0.8, so
R from mu_0 to mu_0 * 1000^alpha), draws counts under each noise model, and prints, as a
Markdown table, the share of seeds whose interval covers the planted alpha for each candidate:

- ols-t: OLS of log R on log N, constant-variance Student-t interval (`fit_power_law`).
- quasi-poisson-t: quasi-Poisson GLM, Pearson dispersion, t (`fit_power_law_quasi_poisson`).
- union: the union of those two intervals.
- case-pct: case bootstrap over the sizes, percentile (`case_bootstrap`, --resamples each).
- wls-kh: WLS of log R with weights 1 / (1 / mu_i + tau^2), tau^2 by DerSimonian-Laird,
  Knapp-Hartung scale and t (a reweighted design meant to hold under both noise models).
- ols-het: OLS with the counting + scatter variance (`fit_power_law_het`, the headline).

Every candidate runs vectorised over the seeds of a cell. ols-het calls the library's own
vectorised core (`bridge.variance.het_slopes`); ols-t and quasi-poisson-t are re-implemented
here and checked against the library fits on the first seeds of every cell before counting.
Seeds with a zero count (possible only at small counts) are dropped: no log-log fit takes them.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import stats

from bridge.powerlaw import fit_power_law, fit_power_law_quasi_poisson
from bridge.variance import het_slopes

LEVEL = 0.95
SIZES, ALPHAS = (5, 8), (0.5, 0.8)
BAND = (0.93, 0.97)
#: (label, kind, log-normal sd, mu_0 = expected count at N = 1e7, draws averaged).
NOISES = (
    ("Poisson", "poisson", 0.0, 20.0, 1),
    ("Poisson, small counts", "poisson", 0.0, 5.0, 1),
    ("mean of 4 Poisson", "poisson", 0.0, 20.0, 4),
    ("log-normal 10%", "lognormal", 0.1, 20.0, 1),
    ("log-normal 20%", "lognormal", 0.2, 20.0, 1),
    ("Poisson x log-normal 10%", "poisson-lognormal", 0.1, 20.0, 1),
    ("Poisson x log-normal 20%", "poisson-lognormal", 0.2, 20.0, 1),
    ("log-normal 10%, large counts", "lognormal", 0.1, 2e4, 1),
)
CANDIDATES = ("ols-t", "quasi-poisson-t", "union", "case-pct", "wls-kh", "ols-het")
HEADLINE = "ols-het"


def simulate(noise, k: int, alpha: float, seeds: int, rng: np.random.Generator):
    """Log sizes (k,), the counts (kept seeds, k) with no zero, and the number dropped."""
    _, kind, sigma, mu0, draws = noise
    n = np.geomspace(1e7, 1e10, k)
    mu = np.broadcast_to(mu0 * (n / n[0]) ** alpha, (seeds, k))
    if kind != "poisson":
        mu = mu * np.exp(sigma * rng.standard_normal(mu.shape))
    counts = mu if kind == "lognormal" else rng.poisson(draws * mu) / draws
    keep = np.all(counts > 0, axis=-1)
    return np.log(n), counts[keep], int(np.sum(~keep))


def t_interval(estimate, se, k: int):
    half = stats.t.ppf(0.5 + LEVEL / 2.0, k - 2) * se
    return estimate - half, estimate + half


def weighted_line(x, y, w):
    """Weighted least-squares intercept, slope and sum w (x - xbar_w)^2, per row."""
    xbar = np.sum(w * x, -1) / np.sum(w, -1)
    ybar = np.sum(w * y, -1) / np.sum(w, -1)
    xc = x - xbar[:, None]
    sxx = np.sum(w * xc * xc, -1)
    slope = np.sum(w * xc * (y - ybar[:, None]), -1) / sxx
    return ybar - slope * xbar, slope, sxx


def ols_t(x, counts):
    y = np.log(counts)
    intercept, slope, sxx = weighted_line(x, y, np.ones_like(y))
    rss = np.sum((y - intercept[:, None] - slope[:, None] * x) ** 2, -1)
    return t_interval(slope, np.sqrt(rss / (len(x) - 2) / sxx), len(x))


def quasi_poisson_t(x, counts, iterations: int = 40):
    """Poisson IRLS (log link) from the OLS start, then the Pearson-scaled t interval."""
    xc = x - x.mean()
    unit = np.exp(np.mean(np.log(counts), -1, keepdims=True))
    y = counts / unit
    intercept, slope, _ = weighted_line(xc, np.log(y), np.ones_like(y))
    for _ in range(iterations):
        eta = intercept[:, None] + slope[:, None] * xc
        mu = np.exp(eta)
        intercept, slope, _ = weighted_line(xc, eta + (y - mu) / mu, mu)
    mu = np.exp(intercept[:, None] + slope[:, None] * xc)
    _, _, sxx = weighted_line(xc, np.log(mu), mu)
    dispersion = np.sum((y - mu) ** 2 / mu, -1) / (len(x) - 2)
    return t_interval(slope, np.sqrt(dispersion / sxx), len(x))


def wls_kh(x, counts):
    """Log-WLS, var = 1 / mu + tau^2 (DerSimonian-Laird), Knapp-Hartung scale, t."""
    k, y = len(x), np.log(counts)
    intercept, slope, _ = weighted_line(x, y, np.ones_like(y))
    within = np.exp(-(intercept[:, None] + slope[:, None] * x))
    w = 1.0 / within
    intercept, slope, sxx = weighted_line(x, y, w)
    q_fixed = np.sum(w * (y - intercept[:, None] - slope[:, None] * x) ** 2, -1)
    xbar = np.sum(w * x, -1) / np.sum(w, -1)
    trace = np.sum(w, -1) - np.sum(w**2, -1) / np.sum(w, -1) - np.sum(
        w**2 * (x - xbar[:, None]) ** 2, -1) / sxx
    tau2 = np.maximum(0.0, (q_fixed - (k - 2)) / trace)
    w = 1.0 / (within + tau2[:, None])
    intercept, slope, sxx = weighted_line(x, y, w)
    q = np.sum(w * (y - intercept[:, None] - slope[:, None] * x) ** 2, -1) / (k - 2)
    return t_interval(slope, np.sqrt(q / sxx), k)


def case_percentile(x, counts, rng, resamples: int, chunk: int = 250):
    """Percentile case bootstrap per row; resamples repeating one size are dropped."""
    k, tail = len(x), (1.0 - LEVEL) / 2.0
    out = []
    for start in range(0, len(counts), chunk):
        y = np.log(counts[start:start + chunk])
        index = rng.integers(0, k, size=(len(y), resamples, k))
        xs, ys = x[index], np.take_along_axis(y[:, None, :], index, axis=-1)
        xc = xs - xs.mean(-1, keepdims=True)
        sxx = np.sum(xc * xc, -1)
        ok = sxx > 1e-12
        slopes = np.where(ok, np.sum(xc * ys, -1) / np.where(ok, sxx, 1.0), np.inf)
        out.append(_row_quantiles(np.sort(slopes, -1), np.sum(ok, -1), (tail, 1.0 - tail)))
    return tuple(np.concatenate(part) for part in zip(*out))


def _row_quantiles(ordered, n_finite, probabilities):
    """np.quantile's linear rule over the first n_finite sorted entries of each row."""
    result = []
    for p in probabilities:
        position = p * (n_finite - 1)
        below = np.floor(position).astype(int)
        above = np.minimum(below + 1, n_finite - 1)
        low = np.take_along_axis(ordered, below[:, None], -1)[:, 0]
        high = np.take_along_axis(ordered, above[:, None], -1)[:, 0]
        result.append(low + (position - below) * (high - low))
    return result


def ols_het(x, counts):
    rows = het_slopes(x, np.log(counts))
    return t_interval(rows.alpha, rows.se, len(x))


def check_against_library(x, counts, n_check: int = 5) -> None:
    """The re-implemented ols-t and quasi-poisson-t equal the library's on the first rows."""
    mine = {"ols": ols_t(x, counts[:n_check]), "qp": quasi_poisson_t(x, counts[:n_check])}
    for i in range(min(n_check, len(counts))):
        for name, fitter in (("ols", fit_power_law), ("qp", fit_power_law_quasi_poisson)):
            fit = fitter(np.exp(x), counts[i])
            got = (mine[name][0][i], mine[name][1][i])
            if not np.allclose(got, (fit.low, fit.high), rtol=1e-6, atol=1e-9):
                raise AssertionError(f"{name} interval {got} != library {(fit.low, fit.high)}")


def cell_coverage(noise, k, alpha, seeds, rng, resamples) -> tuple[dict, int]:
    x, counts, dropped = simulate(noise, k, alpha, seeds, rng)
    check_against_library(x, counts)
    intervals = {"ols-t": ols_t(x, counts), "quasi-poisson-t": quasi_poisson_t(x, counts),
                 "case-pct": case_percentile(x, counts, rng, resamples),
                 "wls-kh": wls_kh(x, counts), "ols-het": ols_het(x, counts)}
    (a_low, a_high), (b_low, b_high) = intervals["ols-t"], intervals["quasi-poisson-t"]
    intervals["union"] = (np.minimum(a_low, b_low), np.maximum(a_high, b_high))
    rates = {name: float(np.mean((low <= alpha) & (alpha <= high)))
             for name, (low, high) in intervals.items()}
    return rates, dropped


def print_table(rows, seeds: int) -> None:
    heads = ["noise", "R(1e7)-R(1e10)", "sizes", "alpha", "dropped", *CANDIDATES]
    print("| " + " | ".join(heads) + " |")
    print("|" + "|".join("---" for _ in heads) + "|")
    for noise, k, alpha, rates, dropped in rows:
        span = "-".join(_count(noise[3] * 1000**e) for e in (0.0, alpha))
        cells = [f"**{rates[c]:.3f}**" if c == HEADLINE else f"{rates[c]:.3f}"
                 for c in CANDIDATES]
        print(f"| {noise[0]} | {span} | {k} | {alpha} | {dropped} | " + " | ".join(cells) + " |")
    sd = np.sqrt(LEVEL * (1 - LEVEL) / seeds)
    print(f"\n{seeds} seeds a cell (less the dropped); binomial sd at 0.95: {sd:.4f}")
    for name in CANDIDATES:
        values = [rates[name] for *_, rates, _ in rows]
        outside = sum(not BAND[0] <= v <= BAND[1] for v in values)
        print(f"{name:>16}: {min(values):.3f}-{max(values):.3f}, "
              f"{outside} of {len(values)} cells outside {BAND[0]}-{BAND[1]}")


def _count(value: float) -> str:
    return f"{value:.0f}" if value < 1e4 else f"{value:.1e}".replace("e+0", "e")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1000, help="seeds per cell")
    parser.add_argument("--seed", type=int, default=0, help="base seed of the generators")
    parser.add_argument("--resamples", type=int, default=1000, help="case-bootstrap resamples")
    parser.add_argument("--smoke", action="store_true",
                        help="20 seeds per cell, 50 resamples (seconds; no coverage claim)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.seeds, args.resamples = 20, 50
    start, rows = time.perf_counter(), []
    for index, noise in enumerate(NOISES):
        for k in SIZES:
            for alpha in ALPHAS:
                rng = np.random.default_rng([args.seed, index, k, round(10 * alpha)])
                rates, dropped = cell_coverage(noise, k, alpha, args.seeds, rng, args.resamples)
                rows.append((noise, k, alpha, rates, dropped))
    print_table(rows, args.seeds)
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
