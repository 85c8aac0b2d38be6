"""Benchmark: the matching engine end to end (moments + correlation + mutual top-1) on random
data with planted pairs, against this machine's float32 matmul rate and numpy.corrcoef, in
one run.

    python benchmarks/bench_matching.py [--neurons 4096] [--tokens 65536] [--batch 4096]

Prints (a) the engine's GFLOP/s counting 2*T*n*m as a fraction of a plain float32 matmul of
the same shapes, (b) the speed-up over numpy.corrcoef on the same data (on a token subset if
the full one would not fit), (c) the peak resident memory against the size of the inputs.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch

from empirics.matching import match_neurons


def planted_data(tokens: int, neurons: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((tokens, neurons), dtype=np.float32)
    b = rng.standard_normal((tokens, neurons), dtype=np.float32)
    where = rng.permutation(neurons)[: neurons // 2]
    b[:, where] = a[:, : neurons // 2] + 0.5 * rng.standard_normal((tokens, neurons // 2),
                                                                    dtype=np.float32)
    return a, b, where


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--neurons", type=int, default=4096)
    parser.add_argument("--tokens", type=int, default=65536)
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--corrcoef-tokens", type=int, default=8192)
    args = parser.parse_args(argv)
    n, t = args.neurons, args.tokens
    a, b, where = planted_data(t, n)
    inputs = a.nbytes + b.nbytes
    before = peak_rss_bytes()

    def source():
        for lo in range(0, t, args.batch):
            yield torch.from_numpy(a[lo:lo + args.batch]), torch.from_numpy(b[lo:lo + args.batch])

    start = time.perf_counter()
    found = match_neurons(source)
    engine = time.perf_counter() - start
    engine_peak = peak_rss_bytes()
    recovered = np.mean(found.index_b[: n // 2] == where) if len(found.index_b) >= n // 2 else 0

    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    start = time.perf_counter()
    _ = ta.T @ tb
    matmul = time.perf_counter() - start
    flop = 2.0 * t * n * n

    sub = min(args.corrcoef_tokens, t)
    start = time.perf_counter()
    np.corrcoef(a[:sub], b[:sub], rowvar=False)
    corrcoef = time.perf_counter() - start
    start = time.perf_counter()
    match_neurons(lambda: iter([(ta[:sub], tb[:sub])]))
    engine_sub = time.perf_counter() - start

    print(f"n = m = {n}, T = {t}, batch {args.batch}, torch threads {torch.get_num_threads()}")
    print(f"engine end to end: {engine:.2f} s, {flop / engine / 1e9:.1f} GFLOP/s; "
          f"float32 matmul of the same shapes: {flop / matmul / 1e9:.1f} GFLOP/s; "
          f"ratio {matmul / engine:.2f}")
    print(f"planted pairs recovered: {recovered:.4f} ({len(found.index_a)} mutual pairs)")
    print(f"numpy.corrcoef on T = {sub}: {corrcoef:.2f} s; engine on the same: "
          f"{engine_sub:.2f} s; speed-up {corrcoef / engine_sub:.1f}x")
    print(f"peak resident memory during the engine {engine_peak / 2**30:.2f} GiB "
          f"(before it {before / 2**30:.2f} GiB); inputs {inputs / 2**30:.2f} GiB; "
          f"ratio {engine_peak / inputs:.2f}")


if __name__ == "__main__":
    main()
