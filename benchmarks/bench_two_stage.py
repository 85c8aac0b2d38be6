"""Benchmark: the two-stage engine against the exact block engine on a stream of real forward
passes, and the cost model of the paper's largest pair, in one run.

    python benchmarks/bench_two_stage.py [--model-dir /path/to/models] [--corpus DIR]
        [--pair gpt2-w64-s0 gpt2-w64-s1] [--docs 1024] [--blocks 8] [--subsample 16384]

Two models trained by this package (`python -m empirics.train`) run over the held-out split
of a built corpus on every pass (nothing is cached: the stream is `text_pair_source`'s).
The block engine gets block rows of ceil(n / --blocks), so it makes --blocks passes plus its
candidate pass; the two-stage engine's sample products and rechecks get the same rows.
Prints for each engine the passes over the stream (counted by wrapping the source), the wall
time, and for the two-stage engine the pairs' equality with the block engine's, recall and
precision, and the certificate's counts; then the FLOP rates measured here and the cost model
of Pythia-12B x OPT-13B (docs/matching.md, "Two-stage mode").
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch

from empirics.capture.offline import load_corpus
from empirics.capture.pair import text_pair_source
from empirics.engine.matching import match_neurons
from empirics.engine.screening import sample_traffic, screen_tiles
from empirics.engine.two_stage import match_two_stage
from empirics.models.load import load_model
from empirics.models.local import resolve_spec

#: The paper's largest pair: MLP neurons (layers x d_mlp) and parameters.
LARGEST = {"n": 36 * 20480, "m": 40 * 20480, "params": 11.85e9 + 12.85e9, "tokens": 1e7}
#: H200 vendor figures (dense bfloat16 tensor-core FLOP/s, memory bytes, host link bytes/s).
H200 = {"bf16": 989e12, "memory": 141e9, "pcie": 50e9}


class CountedSource:
    """A source that counts the passes that read it to the end."""

    def __init__(self, source):
        self.source, self.passes = source, 0

    def __call__(self):
        yield from self.source()
        self.passes += 1


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def matmul_rate(dtype, size=2048, repeats=3) -> float:
    """FLOP/s of a size^3 matrix product in `dtype` on this CPU (best of `repeats`)."""
    x = torch.randn(size, size).to(dtype)
    best = min(timed(lambda: x @ x)[0] for _ in range(repeats))
    return 2 * size**3 / best


def run(args) -> None:
    torch.manual_seed(0)
    models = [load_model(resolve_spec(name, args.model_dir / name), path=args.model_dir / name)
              for name in args.pair]
    documents = load_corpus(args.corpus).documents("heldout")[: args.docs]
    pair = text_pair_source(*models, documents, docs_per_batch=args.batch,
                            max_tokens=args.tokens)
    source = CountedSource(pair.source)
    n, m = sum(pair.layer_sizes_a), sum(pair.layer_sizes_b)
    forward_s, tokens = timed(lambda: sum(a.shape[0] for a, _ in pair.source()))
    params = sum(x.n_params for x in models)
    print(f"pair {args.pair[0]} x {args.pair[1]}: n = {n}, m = {m}, {tokens} tokens, "
          f"{params:.3g} parameters; one pass of forward passes {forward_s:.1f} s")
    if not args.cost_only:
        compare_engines(source, n, forward_s, args)
    rates = {"float32": matmul_rate(torch.float32), "bfloat16": matmul_rate(torch.bfloat16),
             "forward": 2 * params * tokens / forward_s}
    print("measured here: " + ", ".join(f"{k} {v / 1e9:.1f} GFLOP/s" for k, v in rates.items()))
    cost_model(rates, args.candidates)
    screen_traffic_model()


def compare_engines(source: CountedSource, n: int, forward_s: float, args) -> None:
    """The block engine held to `args.blocks` blocks, then the two-stage engine (and with
    `args.recheck` also with the recheck of uncertified neurons), on the same counted source;
    each with the share of its time that its passes' forward passes take."""
    rows = -(-n // args.blocks)
    block_s, block = timed(lambda: match_neurons(source, candidates=args.candidates,
                                                 groups=args.groups, block_rows=rows))
    block_passes, source.passes = source.passes, 0
    exact = set(zip(block.index_a.tolist(), block.index_b.tolist()))
    print(f"block engine: {block_passes} passes (blocks of {rows} rows), {block_s:.1f} s "
          f"(forward passes ~{block_passes * forward_s:.0f} s), {len(exact)} pairs")
    for recheck in (False, True)[: 1 + args.recheck]:
        seconds, found = timed(lambda: match_two_stage(
            source, candidates=args.candidates, groups=args.groups, subsample=args.subsample,
            recheck_uncertified=recheck, block_rows=rows))
        passes, source.passes = source.passes, 0
        pairs = set(zip(found.index_a.tolist(), found.index_b.tolist()))
        g = found.guarantee
        print(f"two-stage{' + recheck' if recheck else ''}: {passes} passes, {seconds:.1f} s "
              f"(forward passes ~{passes * forward_s:.0f} s; {block_s / seconds:.2f}x faster "
              f"than the block engine), pairs identical: {pairs == exact}, "
              f"recall {len(pairs & exact) / max(len(exact), 1):.4f}, precision "
              f"{len(pairs & exact) / max(len(pairs), 1):.4f}; sample {g['subsample']} tokens, "
              f"c = {g['candidates']}, uncertified A {g['uncertified_a']} / {g['live_a']}, "
              f"B {g['uncertified_b']} / {g['live_b']}, pairs with an uncertified neuron "
              f"{g['uncertain_pairs']}")


def cost_model(rates: dict, candidates: int) -> None:
    """Passes and FLOP of both engines for the paper's largest pair (see docs/matching.md).

    Block rows: a quarter of the GPU memory left by both models in bfloat16, at 32 bytes per
    entry of a block (the engine's rule). Wall times assume forward passes and products both
    at half the H200's vendor bfloat16 peak (no GPU was measured); 8 GPUs share the work
    evenly (a projection: no GPU was measured). The sample's transfer assumes it in host
    memory, read in the screen's tiles (`screen_traffic`).
    """
    n, m, params, tokens = (LARGEST[k] for k in ("n", "m", "params", "tokens"))
    forward = 2 * params * tokens
    free = H200["memory"] - 2 * params
    rows = int(free / 4 // (32 * m))
    block_passes = math.ceil(n / rows) + 1
    block_products = 2 * tokens * n * m
    efficiency = 0.5
    print(f"\ncost model, Pythia-12B x OPT-13B (n = {n}, m = {m}, T = {tokens:.0e}); wall times "
          f"at {efficiency:.0%} of the H200's {H200['bf16'] / 1e12:.0f} TFLOP/s bf16 peak")
    print("| engine | GPUs | passes | forward FLOP | product FLOP | forward h | products h "
          "| sample transfer h |")
    print("|---|---|---|---|---|---|---|---|")
    rate = H200["bf16"] * efficiency
    for gpus in (1, 8):
        print(f"| block ({rows} rows) | {gpus} | {block_passes} | "
              f"{block_passes * forward:.2e} | {block_products:.2e} | "
              f"{block_passes * forward / rate / gpus / 3600:.1f} | "
              f"{block_products / rate / gpus / 3600:.2f} | - |")
    for size in (2**15, 2**17):
        screen = 2 * size * n * m
        gather = 2 * tokens * (n + m) * candidates
        cache = size * (n + m) * 2
        for gpus in (1, 8):
            print(f"| two-stage (s = 2^{int(math.log2(size))}, sample {cache / 1e9:.0f} GB) | "
                  f"{gpus} | 2 | {2 * forward:.2e} | {screen + gather:.2e} | "
                  f"{2 * forward / rate / gpus / 3600:.1f} | "
                  f"{(screen + gather) / rate / gpus / 3600:.2f} | "
                  f"{screen_traffic(size, gpus)['both ways'] / H200['pcie'] / 3600:.2f} |")
    print(f"forward FLOP, block / two-stage: {block_passes / 2:.0f}x; this CPU runs products "
          f"{rates['float32'] / rates['forward']:.1f}x faster per FLOP than forward passes")


def screen_traffic(size: int, gpus: int) -> dict:
    """Bytes of sample one rank's screen reads for Pythia-12B x OPT-13B on H200s, in bfloat16
    (the sample's dtype on CUDA): tiled by rows only (a block of rows against all of B, 32
    bytes per entry) and both ways (`screen_tiles`), in the engine's memory budget (a quarter
    of what the models leave). With `gpus` ranks each screens n / gpus of A's rows."""
    n, m, params = LARGEST["n"], LARGEST["m"], LARGEST["params"]
    budget = (H200["memory"] - 2 * params) / 4
    share = math.ceil(n / gpus)
    rows_only = max(1, int(budget // (32 * m)))
    rows, cols = screen_tiles(share, m, size, 2, budget)
    return {"budget": budget, "rows only": sample_traffic(share, m, size, 2, rows_only),
            "both ways": sample_traffic(share, m, size, 2, rows), "tile": (rows, cols),
            "rows only tile": rows_only, "received": size * (n + m) * 2 if gpus > 1 else 0}


def screen_traffic_model() -> None:
    """The screen's sample traffic (host memory to GPU at the link rate) against the two
    passes' forward time, for the paper's largest pair (docs/matching.md, "Benchmark and
    cost model")."""
    efficiency = 0.5
    forward_s = 2 * 2 * LARGEST["params"] * LARGEST["tokens"] / (H200["bf16"] * efficiency)
    print(f"\nscreen sample traffic, Pythia-12B x OPT-13B, bfloat16 sample, host link "
          f"{H200['pcie'] / 1e9:.0f} GB/s; two passes of forward passes at {efficiency:.0%} "
          f"of peak: {forward_s / 3600:.2f} h on one GPU")
    print("| s | GPUs | sample GB | tile (rows x cols) | rows only TB | rows only h "
          "| both ways TB | both ways h | merge received GB | forward h |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for size in (2**15, 2**17):
        for gpus in (1, 8):
            t = screen_traffic(size, gpus)
            rows, cols = t["tile"]
            link = H200["pcie"]
            print(f"| 2^{int(math.log2(size))} | {gpus} | "
                  f"{size * (LARGEST['n'] + LARGEST['m']) * 2 / 1e9:.0f} | {rows} x {cols} | "
                  f"{t['rows only'] / 1e12:.1f} | {t['rows only'] / link / 3600:.2f} | "
                  f"{t['both ways'] / 1e12:.2f} | {t['both ways'] / link / 3600:.3f} | "
                  f"{t['received'] / 1e9:.0f} | {forward_s / gpus / 3600:.2f} |")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=Path("/work/main/models/local"))
    parser.add_argument("--corpus", type=Path, default=Path("/work/main/corpora/local"))
    parser.add_argument("--pair", nargs=2, default=["gpt2-w64-s0", "gpt2-w64-s1"])
    parser.add_argument("--docs", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=16, help="documents per batch")
    parser.add_argument("--tokens", type=int, default=128, help="max tokens per document")
    parser.add_argument("--blocks", type=int, default=8, help="block passes of the block engine")
    parser.add_argument("--subsample", type=int, default=2**14)
    parser.add_argument("--candidates", type=int, default=3)
    parser.add_argument("--groups", type=int, default=16)
    parser.add_argument("--recheck", action="store_true",
                        help="also run the two-stage engine with --recheck-uncertified")
    parser.add_argument("--cost-only", action="store_true",
                        help="measure the rates and print the cost model, without the engines")
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
