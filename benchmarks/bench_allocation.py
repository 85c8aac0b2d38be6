"""Benchmark: the allocation solver's rank sums (exact head + Euler-Maclaurin tail) against
brute-force summation over every partially isolated feature, in the same run.

    python benchmarks/bench_allocation.py

Prints, per width, both times, their ratio and the relative difference of the totals, then the
time of the default `python -m theory.simulate --beta 1.5` sweep.
"""

from __future__ import annotations

import argparse

import numpy as np
from timing import best_of  # benchmarks/timing.py (benchmarks run as scripts)

from theory.kkt import isolation_at_price, price_sums, represented_count
from theory.params import AllocationParams
from theory.sweep import build_theory_run, width_grid


def brute_force_total(params: AllocationParams, price: float, n_positive: int) -> float:
    total, step = 0.0, 1 << 22
    for lo in range(1, n_positive + 1, step):
        ranks = np.arange(lo, min(lo + step, n_positive + 1), dtype=np.float64)
        total += float(np.sum(isolation_at_price(params, ranks, price)))
    return total


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true",
                        help="one small width and a short sweep (seconds)")
    smoke = parser.parse_args(argv).smoke
    params = AllocationParams(beta=1.5)
    print(f"{'N':>8} {'features s>0':>17} {'solver s':>10} {'brute s':>10} "
          f"{'speed-up':>9} {'rel. diff':>10}")
    for n in (1e4,) if smoke else (1e6, 1e8, 1e10):
        price, a = params.kappa / n, represented_count(params, n)
        fast, sums = best_of(3, lambda: price_sums(params, price, a))
        slow, brute = best_of(1, lambda: brute_force_total(params, price, sums.n_positive))
        diff = abs(sums.total_isolation - brute) / brute
        print(f"{n:8.0e} {sums.n_positive:17d} {fast:10.4f} {slow:10.4f} {slow / fast:9.1f} "
              f"{diff:10.1e}")
    top, count = (2**10, 3) if smoke else (2**24, 11)
    elapsed, _ = best_of(1, lambda: build_theory_run(params, width_grid(16, top, count), seed=0))
    print(f"theory.simulate sweep ({count} widths, 16 .. 2^{top.bit_length() - 1}"
          f"{'' if smoke else ', the default'}): {elapsed:.3f} s")


if __name__ == "__main__":
    main()
