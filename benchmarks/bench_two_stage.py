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

import numpy as np
import torch

from empirics.capture.offline import load_corpus
from empirics.capture.pair import text_pair_source
from empirics.engine.matching import match_neurons
from empirics.engine.two_stage import match_two_stage
from empirics.models.detect import resolve_spec
from empirics.models.load import load_model

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
    evenly (the two-stage engine runs in one process today: its 8-GPU row is a projection).
    The sample's transfer assumes it in host memory and blocks of the block engine's rows.
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
        # the sample sits in host memory; every block of A's rows reads B's sample once
        transfer = math.ceil(n / rows) * size * m * 2 / H200["pcie"]
        for gpus in (1, 8):
            print(f"| two-stage (s = 2^{int(math.log2(size))}, sample {cache / 1e9:.0f} GB) | "
                  f"{gpus} | 2 | {2 * forward:.2e} | {screen + gather:.2e} | "
                  f"{2 * forward / rate / gpus / 3600:.1f} | "
                  f"{(screen + gather) / rate / gpus / 3600:.2f} | "
                  f"{transfer / gpus / 3600:.2f} |")
    print(f"forward FLOP, block / two-stage: {block_passes / 2:.0f}x; this CPU runs products "
          f"{rates['float32'] / rates['forward']:.1f}x faster per FLOP than forward passes")


def student_t_gelu(tokens: int, width: int, dof: float, *, seed: int = 0):
    """A heavy-tailed synthetic pair: GELU of Student-t pre-activations (`dof` degrees of
    freedom), n = m = `width`; B's first half mixes A's pre-activation i into its neuron i
    with weight c_i ~ U(0.3, 0.95) (planted pairs of many strengths), the rest independent.
    float32 arrays (tokens, width)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_t(dof, (tokens, width)).astype(np.float32)
    y = rng.standard_t(dof, (tokens, width)).astype(np.float32)
    half = width // 2
    c = rng.uniform(0.3, 0.95, half).astype(np.float32)
    y[:, :half] = c * x[:, :half] + np.sqrt(1 - c**2) * y[:, :half]
    return gelu(x), gelu(y)


def gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + np.tanh(0.7978845608 * (x + 0.044715 * x**3)))


def array_source(a: np.ndarray, b: np.ndarray, *, batch: int = 8192, order=None):
    """Batches of the arrays, B's tokens taken in `order` (a permutation: the null)."""
    def source():
        for lo in range(0, a.shape[0], batch):
            rows = b[lo:lo + batch] if order is None else b[order[lo:lo + batch]]
            yield torch.from_numpy(a[lo:lo + batch]), torch.from_numpy(rows)
    return source


def float64_r(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r of every pair in float64, accumulated over token chunks."""
    means = [x.mean(0, dtype=np.float64) for x in (a, b)]
    cross, squares = 0.0, [0.0, 0.0]
    for lo in range(0, a.shape[0], 16384):
        za, zb = (x[lo:lo + 16384].astype(np.float64) - mu for x, mu in zip((a, b), means))
        cross = cross + za.T @ zb
        squares = [q + (z * z).sum(0) for q, z in zip(squares, (za, zb))]
    return cross / np.sqrt(np.outer(*squares))


def mutual_pairs(r: np.ndarray, k: int = 1) -> set:
    rows = np.argsort(-r, axis=1, kind="stable")[:, :k]
    cols = np.argsort(-r, axis=0, kind="stable")[:k, :]
    return {(i, int(j)) for i in range(r.shape[0]) for j in rows[i] if i in cols[:, j]}


def certificate_on_streams(args) -> None:
    """Share of certified neurons, the certified floor and the calibrated count's exactness
    on Student-t GELU streams (docs/matching.md, "Certified count"): the pair and its
    permutation null (B's tokens shuffled), each by the two-stage engine, against float64."""
    from empirics.records.guarantee import exact_from, is_exact

    tokens, width, s = args.stream_tokens, args.stream_width, args.subsample
    print(f"Student-t GELU streams: {tokens} tokens, n = m = {width} (half planted), "
          f"s = {s}, c = {args.candidates}, k = 1")
    print("| dof | certified A, B | certified floor | null floor | threshold (null q0.99) "
          "| calibrated count (float64) | calibrated exact | pairs = float64 above floor |")
    print("|---|---|---|---|---|---|---|---|")
    for dof in args.dofs:
        a, b = student_t_gelu(tokens, width, dof)
        order = np.random.default_rng(1).permutation(tokens)
        runs = [match_two_stage(array_source(a, b, order=o), candidates=args.candidates,
                                subsample=s) for o in (None, order)]
        found, null = runs
        g, gn = found.guarantee, null.guarantee
        threshold = float(np.quantile(null.correlation, 0.99))
        r = float64_r(a, b)
        truth = mutual_pairs(r)
        pairs = set(zip(found.index_a.tolist(), found.index_b.tolist()))
        floor = g["certified_down_to"]
        above = ({p for p in pairs if r[p] >= floor} == {p for p in truth if r[p] >= floor})
        calibrated = int((found.correlation >= threshold).sum())
        exact_count = sum(r[p] >= threshold for p in truth)
        exact = bool(exact_from(g, threshold)) and is_exact(gn)
        print(f"| {dof:g} | {1 - g['uncertified_a'] / g['live_a']:.3f}, "
              f"{1 - g['uncertified_b'] / g['live_b']:.3f} | {floor:.3f} | "
              f"{gn['certified_down_to']:.3f} | {threshold:.3f} | {calibrated} "
              f"({exact_count}) | {exact} | {above} |")


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
    parser.add_argument("--certificate", action="store_true",
                        help="only the certificate on Student-t GELU streams (no models)")
    parser.add_argument("--stream-tokens", type=int, default=2**18)
    parser.add_argument("--stream-width", type=int, default=128)
    parser.add_argument("--dofs", type=float, nargs="+", default=[3.0, 5.0, 10.0])
    args = parser.parse_args(argv)
    if args.certificate:
        certificate_on_streams(args)
        return
    run(args)


if __name__ == "__main__":
    main()
