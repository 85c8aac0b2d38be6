"""Benchmark: 10,000 case-bootstrap resamples of a 5-8 point power-law fit, vectorised
(`bridge.bootstrap.case_bootstrap`) against a plain Python loop of the same fits, in the same run.

    python benchmarks/bench_bootstrap.py

Prints, per number of sizes, both times (best of 5 and best of 1), their ratio and the largest
difference between the interval endpoints (both see the same resample indices), then the time
of the data-level parametric interval at the same number of resamples.
"""

from __future__ import annotations

import argparse

import numpy as np
from timing import best_of  # benchmarks/timing.py (benchmarks run as scripts)

from bridge.bootstrap import case_bootstrap, parametric_exponent_ci

N_RESAMPLES = 10_000
LEVEL = 0.95


def loop_percentile(n: np.ndarray, count: np.ndarray, seed: int,
                    resamples: int = N_RESAMPLES) -> tuple[float, float]:
    """The same percentile interval with one np.polyfit per resample."""
    x, y = np.log(n), np.log(count)
    index = np.random.default_rng(seed).integers(0, len(x), size=(resamples, len(x)))
    slopes = []
    for row in index:
        if len(np.unique(row)) > 1:
            slopes.append(np.polyfit(x[row], y[row], 1)[0])
    tail = (1.0 - LEVEL) / 2.0
    low, high = np.quantile(slopes, [tail, 1.0 - tail])
    return float(low), float(high)


def planted(k: int) -> tuple[np.ndarray, np.ndarray]:
    n = np.geomspace(1e7, 1e10, k)
    rng = np.random.default_rng(k)
    return n, 5.0 * n**0.6 * np.exp(0.1 * rng.standard_normal(k))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true",
                        help="200 resamples of 5 sizes, one repeat (seconds)")
    smoke = parser.parse_args(argv).smoke
    resamples, repeats = (200, 1) if smoke else (N_RESAMPLES, 5)
    print(f"{resamples} case-bootstrap resamples")
    print(f"{'sizes':>5} {'vectorised s':>13} {'BCa s':>8} {'loop s':>8} {'speed-up':>9} "
          f"{'max |diff|':>11}")
    for k in (5,) if smoke else (5, 6, 8):
        n, count = planted(k)
        fast, ci = best_of(repeats, lambda: case_bootstrap(
            n, count, rng=np.random.default_rng(0), method="percentile",
            n_resamples=resamples))
        bca, _ = best_of(repeats, lambda: case_bootstrap(
            n, count, rng=np.random.default_rng(0), n_resamples=resamples))
        slow, (low, high) = best_of(1, lambda: loop_percentile(n, count, 0, resamples))
        diff = max(abs(ci.low - low), abs(ci.high - high))
        print(f"{k:5d} {fast:13.4f} {bca:8.4f} {slow:8.3f} {slow / fast:9.0f} {diff:11.1e}")
    n, count = planted(8)
    elapsed, _ = best_of(repeats, lambda: parametric_exponent_ci(
        n, count, 0.05 * count, rng=np.random.default_rng(0), n_resamples=resamples))
    print(f"data-level parametric interval, 8 sizes, {resamples} resamples: {elapsed:.4f} s")


if __name__ == "__main__":
    main()
