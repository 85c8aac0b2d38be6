"""Benchmark: training the default toy sweep as one batched model against training its
instances (seed x width) one by one in a loop, in the same run.

    python benchmarks/bench_toy.py [--steps 300] [--threads 1] [--device cpu]

Both train exactly the same instances (tests/theory/test_toy_model.py holds a batched instance
equal to its lone twin); the time per step is flat, so --steps only shortens the run. Prints
both times and their ratio; the batched model must be at least 3x faster.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import torch
from timing import best_of  # benchmarks/timing.py (benchmarks run as scripts)

from theory.toy.config import ToyConfig
from theory.toy.training import train_toy_nets


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(prog="python benchmarks/bench_toy.py")
    parser.add_argument("--steps", type=int, default=ToyConfig.steps)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--smoke", action="store_true",
                        help="4 steps of a small sweep (seconds)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.steps = 4
    if args.threads:
        torch.set_num_threads(args.threads)
    config = replace(ToyConfig(), steps=args.steps, warmup=min(ToyConfig.warmup, args.steps // 10))
    if args.smoke:
        config = replace(config, n_features=64, exact_outputs=64, widths=(8, 16), seeds=(0, 1),
                         n_eval=512)
    instances = [(s, w) for s in config.seeds for w in config.widths]
    print(f"{'smoke' if args.smoke else 'default'} sweep: widths {list(config.widths)} x "
          f"seeds {list(config.seeds)} "
          f"({len(instances)} instances), n={config.n_features}, batch {config.batch}, "
          f"{config.steps} steps, {torch.get_num_threads()} threads, {args.device}")
    batched, _ = best_of(1, lambda: train_toy_nets(config, device=args.device))
    alone, _ = best_of(1, lambda: [train_toy_nets(replace(config, seeds=(s,), widths=(w,)),
                                          device=args.device) for s, w in instances])
    ratio = alone / batched
    print(f"batched {batched:8.2f} s   one by one {alone:8.2f} s   ratio {ratio:5.2f}x "
          f"({'meets' if ratio >= 3 else 'misses'} the 3x target)")
    return ratio


if __name__ == "__main__":
    main()
