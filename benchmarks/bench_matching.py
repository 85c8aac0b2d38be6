"""Benchmark: the matching engine end to end (correlation + mutual top-1) on random data with
planted pairs, against this machine's float32 matmul rate and numpy.corrcoef, in one run.

    python benchmarks/bench_matching.py [--neurons 4096] [--tokens 65536] [--batch 4096]
                                        [--device cpu|cuda]

Prints (a) the engine's GFLOP/s counting 2*T*n*m as a fraction of a plain float32 matmul of
the same shapes, (b) the speed-up over numpy.corrcoef on the same data (on a token subset if
the full one would not fit), (c) the peak resident memory of the engine against the size of
the inputs plus one block's sums (`BYTES_PER_ENTRY` per entry), and, for the same data,
(d) the cost of keeping the per-chunk bootstrap statistics and (e) bfloat16 products: their
speed (also as a share of a bfloat16 matmul of the same shapes) and how many mutual pairs the
float32 re-check changed.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import torch
from timing import best_of  # benchmarks/timing.py (benchmarks run as scripts)

from empirics.engine.blocks import BYTES_PER_ENTRY
from empirics.engine.entry import EngineOptions, match


def planted_data(tokens: int, neurons: int, seed: int = 0):
    """float32 A and B; half of B's neurons are noisy copies of A's first half at `where`."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((tokens, neurons), dtype=np.float32)
    b = rng.standard_normal((tokens, neurons), dtype=np.float32)
    where = rng.permutation(neurons)[: neurons // 2]
    for lo in range(0, tokens, 4096):
        rows = slice(lo, lo + 4096)
        b[rows, where] = a[rows, : neurons // 2] + 0.5 * b[rows, where]
    return a, b, where


def memory_status() -> dict[str, int]:
    """Current (VmRSS) and peak (VmHWM) resident memory of this process, in bytes."""
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) * 1024
    return values


def reset_peak_memory() -> bool:
    """Restart VmHWM from the current RSS (Linux: write 5 to /proc/self/clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def corrcoef_tokens(tokens: int, variables: int) -> int:
    """The most tokens (halving from all) whose numpy.corrcoef fits in half the free RAM:
    a float64 copy of the data with its centred temporaries (~1.5x) and the output."""
    free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    while tokens > 1024 and 1.5 * tokens * variables * 8 + variables**2 * 8 > free / 2:
        tokens //= 2
    return tokens


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=4096)
    parser.add_argument("--tokens", type=int, default=65536)
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--corrcoef-tokens", type=int, default=0,
                        help="tokens for numpy.corrcoef (default: all that fit in half the "
                             "available memory)")
    parser.add_argument("--groups", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--smoke", action="store_true", help="a tiny run (seconds)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.neurons, args.tokens, args.batch, args.groups = 128, 4096, 1024, 4
        args.corrcoef_tokens = 1024
    n, t, device = args.neurons, args.tokens, torch.device(args.device)
    before_inputs = memory_status()["VmRSS"]
    a, b, where = planted_data(t, n)
    ta, tb = torch.from_numpy(a).to(device), torch.from_numpy(b).to(device)
    inputs = a.nbytes + b.nbytes

    def source(x=ta, y=tb):
        return ((x[lo:lo + args.batch], y[lo:lo + args.batch])
                for lo in range(0, x.shape[0], args.batch))

    measured = reset_peak_memory()
    engine, found = best_of(1, lambda: match(source, device=device))
    peak = memory_status()["VmHWM"] - before_inputs
    block = min(found.block_rows, n) * n * BYTES_PER_ENTRY
    recovered = np.mean(found.index_b[: n // 2] == where) if len(found.index_b) >= n // 2 else 0

    flop = 2.0 * t * n * n
    _sync(device)
    matmul, _ = best_of(1, lambda: (ta.T @ tb, _sync(device)))
    print(f"n = m = {n}, T = {t}, batch {args.batch}, device {device}, "
          f"torch threads {torch.get_num_threads()}")
    print(f"(a) engine end to end: {engine:.2f} s, {flop / engine / 1e9:.1f} GFLOP/s; "
          f"float32 matmul of the same shapes: {matmul:.2f} s, {flop / matmul / 1e9:.1f} "
          f"GFLOP/s; ratio {matmul / engine:.2f} (target >= 0.7)")
    print(f"    planted pairs recovered: {recovered:.4f} ({len(found.index_a)} mutual pairs, "
          f"{found.passes} passes over the stream)")

    sub = args.corrcoef_tokens or corrcoef_tokens(t, 2 * n)
    corrcoef, _ = best_of(1, lambda: np.corrcoef(a[:sub], b[:sub], rowvar=False))
    engine_sub, _ = best_of(1, lambda: match(
        lambda: source(ta[:sub], tb[:sub]), device=device))
    print(f"(b) numpy.corrcoef on T = {sub}: {corrcoef:.2f} s; engine on the same: "
          f"{engine_sub:.2f} s; speed-up {corrcoef / engine_sub:.1f}x (target >= 5x)")
    if measured:
        print(f"(c) peak resident memory of the engine above the process before the inputs: "
              f"{peak / 2**30:.2f} GiB; inputs {inputs / 2**30:.2f} GiB; one block's sums "
              f"({min(found.block_rows, n)} x {n} at {BYTES_PER_ENTRY} B) "
              f"{block / 2**30:.2f} GiB; "
              f"peak / (1.5 inputs + block) = {peak / (1.5 * inputs + block):.2f} "
              "(target <= 1)")
    else:
        print("(c) peak memory not measured: /proc/self/clear_refs is not writable here")

    chunked, stats = best_of(1, lambda: match(
        source, EngineOptions(candidates=3, groups=args.groups), device=device))
    print(f"(d) with {args.groups} bootstrap groups and 3 candidates: {chunked:.2f} s "
          f"({chunked / engine:.2f}x the plain run); {len(stats.chunks.edge_a)} candidate edges")
    fast_time, fast = best_of(1, lambda: match(
        source, EngineOptions(dtype=torch.bfloat16, candidates=3), device=device))
    same = set(zip(fast.index_a, fast.index_b)) == set(zip(found.index_a, found.index_b))
    print(f"(e) bfloat16 products + float32 re-check: {fast_time:.2f} s ({engine / fast_time:.2f}x "
          f"the float32 speed); re-check changed {fast.changed_pairs} of {len(fast.index_a)} "
          f"mutual pairs ({fast.changed_pairs / max(len(fast.index_a), 1):.2%}); largest "
          f"|r change| {fast.max_recheck_change:.1e}; final pairs equal the float32 run's: {same}")
    half_a, half_b = ta.to(torch.bfloat16), tb.to(torch.bfloat16)
    _sync(device)
    matmul16, _ = best_of(1, lambda: (half_a.T @ half_b, _sync(device)))
    print(f"    bfloat16 matmul of the same shapes: {flop / matmul16 / 1e9:.1f} GFLOP/s; engine "
          f"(bfloat16) / matmul (bfloat16) rate ratio {matmul16 / fast_time:.2f}")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


if __name__ == "__main__":
    main()
