"""Benchmark: the block, lean block and two-stage engines against float64 on synthetic
heavy-tailed streams and on a stream of real forward passes, and the cost model of the paper's
largest pair, in one run.

    python benchmarks/bench_two_stage.py [--model-dir /path/to/models] [--corpus DIR]
        [--pair gpt2-w64-s0 gpt2-w64-s1] [--docs 1024] [--blocks 8] [--subsample 16384]
        [--synthetic-tokens 262144] [--synthetic-neurons 512] [--smoke]

The synthetic stream: Student-t (3 degrees of freedom) pre-activations through GELU, half of
B's neurons planted partners of A's at r from 0.2 to 0.9 (`heavy_tailed_arrays`). On it, for
the block engine sized by the rule it had before (32 bytes per entry in a quarter of the
budget), the lean block engine (`BYTES_PER_ENTRY` in `MEMORY_SHARE` of it) and the two-stage
engine: passes over the stream (counted by wrapping the source), peak resident bytes per
entry of the largest block (the growth of VmHWM, batch buffers included: at small sizes they
dominate; tests/empirics/engine/test_lean_blocks.py measures the bytes per added block
entry), the certified share
of live neurons, the pairs against mutual nearest neighbours of the float64 correlation
matrix and the largest |r - r_float64| of the shared pairs.

With models trained by this package (`python -m empirics.train`) in --model-dir, two of them
run over the held-out split of a built corpus on every pass (nothing is cached: the stream
is `text_pair_source`'s); the block engine gets block rows of ceil(n / --blocks), so it makes
--blocks passes plus its candidate pass, and the two-stage engine's sample products and
rechecks get the same rows. Prints for each engine the passes, the wall time, and for the
two-stage engine the pairs' equality with the block engine's, recall and precision, and the
certificate's counts; then the FLOP rates measured here and the cost model of Pythia-12B x
OPT-13B (docs/matching.md, "Two-stage mode"). --smoke runs everything at a tiny size (the
synthetic stream only) in seconds.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch

from empirics.engine.blocks import BYTES_PER_ENTRY
from empirics.engine.entry import EngineOptions, match
from empirics.engine.kernel import BATCH_BYTES, MEMORY_SHARE, block_size_for
from empirics.engine.screening import sample_traffic, screen_tiles

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


def matmul_rate(dtype, size: int = 2048, repeats: int = 3) -> float:
    """FLOP/s of a size^3 matrix product in `dtype` on this CPU (best of `repeats`)."""
    x = torch.randn(size, size).to(dtype)
    best = min(timed(lambda: x @ x)[0] for _ in range(repeats))
    return 2 * size**3 / best


def run(args) -> None:
    torch.manual_seed(0)
    compare_on_synthetic(args)
    rates = {"float32": matmul_rate(torch.float32, args.matmul_size),
             "bfloat16": matmul_rate(torch.bfloat16, args.matmul_size)}
    if args.smoke:
        print("\n--smoke: no trained models (the synthetic stream only)")
    elif not (args.model_dir / args.pair[0]).is_dir():
        print(f"\nno model {args.pair[0]} in {args.model_dir}: the trained pair is skipped "
              "(train the family with python -m empirics.train, or pass --model-dir)")
    else:
        rates["forward"] = compare_on_models(args)
    print("measured here: " + ", ".join(f"{k} {v / 1e9:.1f} GFLOP/s" for k, v in rates.items()))
    cost_model(rates, args.candidates)
    screen_traffic_model()


def heavy_tailed_arrays(tokens: int, n: int, m: int, seed: int = 0):
    """float32 A (tokens, n) and B (tokens, m): GELU of Student-t (3 dof) pre-activations;
    B's first min(n, m) // 2 neurons take A's first ones' pre-activations at weights from
    0.2 to 0.9 (the rest of their pre-activation independent noise of the same law)."""
    rng = np.random.default_rng(seed)
    pre_a = rng.standard_t(3, size=(tokens, n))
    pre_b = rng.standard_t(3, size=(tokens, m))
    planted = min(n, m) // 2
    weights = np.linspace(0.2, 0.9, planted)
    pre_b[:, :planted] = weights * pre_a[:, :planted] + np.sqrt(1 - weights**2) * pre_b[
        :, :planted]
    gelu = torch.nn.functional.gelu
    return (gelu(torch.from_numpy(pre_a)).numpy().astype(np.float32),
            gelu(torch.from_numpy(pre_b)).numpy().astype(np.float32))


def float64_pairs(a: np.ndarray, b: np.ndarray) -> tuple[set, np.ndarray]:
    """Mutual nearest neighbours of the float64 correlation matrix (lower index among ties),
    and the matrix."""
    r = np.corrcoef(a.astype(np.float64), b.astype(np.float64), rowvar=False)
    r = r[: a.shape[1], a.shape[1]:]
    rows, cols = r.argmax(axis=1), r.argmax(axis=0)
    return {(i, int(j)) for i, j in enumerate(rows) if cols[j] == i}, r


def peak_status() -> int:
    """This process's resident high-water mark (VmHWM) in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1]) * 1024
    return 0


def measured_peak(fn):
    """fn's value and the growth of the resident high-water mark during it (None where
    /proc/self/clear_refs cannot restart the mark)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            before = int(line.split()[1]) * 1024
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return fn(), None
    value = fn()
    return value, peak_status() - before


def compare_on_synthetic(args) -> None:
    """The three engines on the heavy-tailed stream, against float64 (a Markdown table)."""
    tokens, n = args.synthetic_tokens, args.synthetic_neurons
    a, b = heavy_tailed_arrays(tokens, n, n)
    truth, r64 = float64_pairs(a, b)
    batch = args.synthetic_batch

    def stream():
        return ((torch.from_numpy(a[lo:lo + batch]), torch.from_numpy(b[lo:lo + batch]))
                for lo in range(0, tokens, batch))

    budget = args.budget_mb * 2**20  # the memory the engines may take for blocks
    rule_rows = block_size_for(n, budget / 4, 32)
    lean_rows = block_size_for(n, MEMORY_SHARE * budget, BYTES_PER_ENTRY)
    runs = {
        f"block, 32 B rule ({rule_rows} rows)": (rule_rows, lambda src: match(
            src, EngineOptions(candidates=args.candidates, block_rows=rule_rows))),
        f"lean block ({min(lean_rows, n)} rows)": (lean_rows, lambda src: match(
            src, EngineOptions(candidates=args.candidates, block_rows=lean_rows))),
        f"two-stage (s = {args.subsample}, no cover)": (lean_rows, lambda src: match(
            src, EngineOptions("two-stage", candidates=args.candidates,
                               subsample=args.subsample, block_rows=lean_rows, cover=0))),
        f"two-stage (s = {args.subsample}, default cover)": (lean_rows, lambda src: match(
            src, EngineOptions("two-stage", candidates=args.candidates,
                               subsample=args.subsample, block_rows=lean_rows))),
    }
    print(f"heavy-tailed synthetic stream: T = {tokens}, n = m = {n}, {len(truth)} float64 "
          f"pairs; block budget {args.budget_mb} MiB")
    print("| engine | passes | peak B / block entry (batch buffers included) | certified "
          "| pairs | = float64 | Jaccard | max abs(r - r64) |")
    print("|---|---|---|---|---|---|---|---|")
    for label, (rows, engine) in runs.items():
        source = CountedSource(stream)
        found, peak = measured_peak(lambda: engine(source))
        pairs = set(zip(found.index_a.tolist(), found.index_b.tolist()))
        shared = [(i, j, r) for i, j, r in zip(found.index_a, found.index_b, found.correlation)
                  if (i, j) in truth]
        error = max((abs(r - r64[i, j]) for i, j, r in shared), default=float("nan"))
        per_entry = "-" if peak is None else f"{peak / (min(rows, n) * n):.1f}"
        print(f"| {label} | {source.passes} | {per_entry} | {certified_share(found)} | "
              f"{len(pairs)} | {pairs == truth} | "
              f"{len(pairs & truth) / max(len(pairs | truth), 1):.3f} | {error:.1e} |")


def certified_share(found) -> str:
    """The share of live neurons whose best partners are proven among their candidates
    (every neuron for the block engines: their r is the whole stream's)."""
    g = found.guarantee
    if g.get("mode") != "two-stage":
        return "1 (exact)"
    live = g["live_a"] + g["live_b"]
    return f"{1 - (g['uncertified_a'] + g['uncertified_b']) / max(live, 1):.3f}"


def compare_on_models(args) -> float:
    """The block and two-stage engines on the trained pair; returns the forward passes'
    FLOP rate."""
    from empirics.capture.offline import load_corpus
    from empirics.capture.pair import text_pair_source
    from empirics.models.detect import resolve_spec
    from empirics.models.load import load_model

    models = [load_model(resolve_spec(name, args.model_dir / name), path=args.model_dir / name)
              for name in args.pair]
    documents = load_corpus(args.corpus).documents("heldout")[: args.docs]
    pair = text_pair_source(*models, documents, docs_per_batch=args.batch,
                            max_tokens=args.tokens)
    source = CountedSource(pair.source)
    n, m = sum(pair.layer_sizes_a), sum(pair.layer_sizes_b)
    forward_s, tokens = timed(lambda: sum(a.shape[0] for a, _ in pair.source()))
    params = sum(x.n_params for x in models)
    print(f"\npair {args.pair[0]} x {args.pair[1]}: n = {n}, m = {m}, {tokens} tokens, "
          f"{params:.3g} parameters; one pass of forward passes {forward_s:.1f} s")
    if not args.cost_only:
        compare_engines(source, n, forward_s, args)
    return 2 * params * tokens / forward_s


def compare_engines(source: CountedSource, n: int, forward_s: float, args) -> None:
    """The block engine held to `args.blocks` blocks, then the two-stage engine (and with
    `args.recheck` also with the recheck of uncertified neurons), on the same counted source;
    each with the share of its time that its passes' forward passes take."""
    rows = -(-n // args.blocks)
    block_s, block = timed(lambda: match(source, EngineOptions(
        candidates=args.candidates, groups=args.groups, block_rows=rows)))
    block_passes, source.passes = source.passes, 0
    exact = set(zip(block.index_a.tolist(), block.index_b.tolist()))
    print(f"block engine: {block_passes} passes (blocks of {rows} rows), {block_s:.1f} s "
          f"(forward passes ~{block_passes * forward_s:.0f} s), {len(exact)} pairs")
    for recheck, cover in ((False, 0), (False, None), (True, 0))[: 2 + args.recheck]:
        seconds, found = timed(lambda recheck=recheck, cover=cover: match(
            source, EngineOptions("two-stage", candidates=args.candidates, groups=args.groups,
                                  subsample=args.subsample, recheck_uncertified=recheck,
                                  block_rows=rows, cover=cover)))
        passes, source.passes = source.passes, 0
        pairs = set(zip(found.index_a.tolist(), found.index_b.tolist()))
        g = found.guarantee
        label = " + recheck" if recheck else (" (no cover)" if cover == 0 else
                                              " (default cover)")
        print(f"two-stage{label}: {passes} passes, {seconds:.1f} s "
              f"(forward passes ~{passes * forward_s:.0f} s; {block_s / seconds:.2f}x faster "
              f"than the block engine), pairs identical: {pairs == exact}, "
              f"recall {len(pairs & exact) / max(len(exact), 1):.4f}, precision "
              f"{len(pairs & exact) / max(len(pairs), 1):.4f}; sample {g['subsample']} tokens, "
              f"c = {g['candidates']}, uncertified A {g['uncertified_a']} / {g['live_a']}, "
              f"B {g['uncertified_b']} / {g['live_b']}, pairs with an uncertified neuron "
              f"{g['uncertain_pairs']}, covered lines {g.get('covered_a', 0)} + "
              f"{g.get('covered_b', 0)}, certified share {certified_share(found)}, floor "
              f"{g['certified_down_to']:.3f}")


def rule_rows(free: float, m: int) -> int:
    """Block rows by the block engine's rule before the lean blocks: a quarter of the free
    memory at 32 bytes per entry."""
    return block_size_for(m, free / 4, 32)


def lean_rows(free: float, n: int, m: int, batch_tokens: int) -> int:
    """Block rows of the lean engine (`match_neurons`' default): `MEMORY_SHARE` of the free
    memory less a batch's working set, at `BYTES_PER_ENTRY` per entry."""
    budget = MEMORY_SHARE * (free - BATCH_BYTES * batch_tokens * (n + m))
    return block_size_for(m, budget, BYTES_PER_ENTRY)


def block_passes(n: int, rows: int, ranks: int = 1) -> int:
    """Passes of the block engine: each rank's share of the blocks (A's row blocks split
    over `ranks`), the first also learning the moments, plus the candidate pass."""
    return math.ceil(math.ceil(n / rows) / ranks) + 1


def cost_model(rates: dict, candidates: int, batch_tokens=(256, 512, 1024)) -> None:
    """Passes and FLOP of the engines for the paper's largest pair (see docs/matching.md).

    Free memory: the H200's 141 GB less both models' weights in bfloat16. Block rows by the
    old rule (`rule_rows`) and by the lean engine's (`lean_rows`, for batches of
    `batch_tokens` tokens). Wall times assume forward passes and products both at half the
    H200's vendor bfloat16 peak (no GPU was measured); 8 GPUs share the work evenly (A's
    blocks split over the ranks for the block engines; a projection for the two-stage
    engine). The sample's transfer assumes it in host memory, read in the screen's tiles
    (`screen_traffic`).
    """
    n, m, params, tokens = (LARGEST[k] for k in ("n", "m", "params", "tokens"))
    forward = 2 * params * tokens
    free = H200["memory"] - 2 * params
    block_products = 2 * tokens * n * m
    efficiency = 0.5
    rate = H200["bf16"] * efficiency
    print(f"\ncost model, Pythia-12B x OPT-13B (n = {n}, m = {m}, T = {tokens:.0e}); "
          f"{free / 1e9:.1f} GB free beside the weights; wall times at {efficiency:.0%} of the "
          f"H200's {H200['bf16'] / 1e12:.0f} TFLOP/s bf16 peak")
    print("| engine | rows | block GB | passes, 1 GPU | passes per rank, 8 GPUs | forward h, "
          "1 / 8 GPUs | products h, 1 / 8 GPUs |")
    print("|---|---|---|---|---|---|---|")
    layouts = [("block, 32 B rule", rule_rows(free, m), 32)]
    layouts += [(f"lean block, {BYTES_PER_ENTRY} B, batches of {t} tokens",
                 lean_rows(free, n, m, t), BYTES_PER_ENTRY) for t in batch_tokens]
    for label, rows, per_entry in layouts:
        one, eight = block_passes(n, rows), block_passes(n, rows, 8)
        print(f"| {label} | {rows} | {rows * m * per_entry / 1e9:.1f} | {one} | {eight} | "
              f"{one * forward / rate / 3600:.1f} / {eight * forward / rate / 3600:.1f} | "
              f"{block_products / rate / 3600:.2f} / {block_products / rate / 8 / 3600:.2f} |")
    for size in (2**15, 2**17):
        screen = 2 * size * n * m
        gather = 2 * tokens * (n + m) * candidates
        cache = size * (n + m) * 2
        traffic = screen_traffic(size, 1)  # the screen tiled both ways (`screen_tiles`)
        rows, transfer = traffic["tile"][0], traffic["both ways"] / H200["pcie"]
        print(f"| two-stage (s = 2^{int(math.log2(size))}, sample {cache / 1e9:.0f} GB, "
              f"transfer {transfer / 3600:.2f} h) | {rows} | - | 2 | 2 | "
              f"{2 * forward / rate / 3600:.1f} / {2 * forward / rate / 8 / 3600:.1f} | "
              f"{(screen + gather) / rate / 3600:.2f} / "
              f"{(screen + gather) / rate / 8 / 3600:.2f} |")
    if "forward" in rates:
        print(f"this CPU runs products {rates['float32'] / rates['forward']:.1f}x faster per "
              "FLOP than forward passes")


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
    permutation null (B's tokens shuffled), each by the two-stage engine at every cover of
    `args.covers`, against float64."""
    tokens, width, s = args.stream_tokens, args.stream_width, args.subsample
    print(f"Student-t GELU streams: {tokens} tokens, n = m = {width} (half planted), "
          f"s = {s}, c = {args.candidates}, k = 1")
    certificate_header("dof")
    for dof in args.dofs:
        certificate_rows(f"{dof:g}", *student_t_gelu(tokens, width, dof), args)


def certificate_on_models(args) -> None:
    """The same table on trained pairs (`args.cert_pairs`): each pair's MLP activations on
    the held-out documents are captured once, then matched as arrays with their
    permutation null."""
    from empirics.capture.offline import load_corpus
    from empirics.capture.pair import text_pair_source
    from empirics.engine.nulls import permute_tokens
    from empirics.models.detect import resolve_spec
    from empirics.models.load import load_model

    documents = load_corpus(args.corpus).documents("heldout")[: args.docs]
    print(f"trained pairs: {len(documents)} held-out documents at <= {args.tokens} tokens "
          f"in batches of {args.batch}; null: B's tokens shuffled in each batch (`--null "
          f"permuted`); s = {args.subsample}, c = {args.candidates}, k = 1")
    certificate_header("pair")
    for first, second in zip(args.cert_pairs[::2], args.cert_pairs[1::2]):
        models = [load_model(resolve_spec(name, args.model_dir / name),
                             path=args.model_dir / name) for name in (first, second)]
        pair = text_pair_source(*models, documents, docs_per_batch=args.batch,
                                max_tokens=args.tokens)
        batches = [(x.float(), y.float()) for x, y in pair.source()]
        a, b = (np.concatenate([x[side].numpy() for x in batches]) for side in (0, 1))

        def stream(batches=batches):
            return iter(batches)

        certificate_rows(f"{first} x {second} (n {a.shape[1]}, m {b.shape[1]}, "
                         f"T {a.shape[0]})", a, b, args,
                         streams=(stream, permute_tokens(stream, seed=0)))


def certificate_header(what: str) -> None:
    print(f"| {what} | cover (pairs) | passes | certified share A, B | certified floor | "
          "null floor | threshold (null q0.99) | calibrated count (float64) | calibrated "
          "exact | pairs = float64 above floor | max abs(r - r64) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")


def certificate_rows(label: str, a: np.ndarray, b: np.ndarray, args, *,
                     streams=None) -> None:
    """One row per cover: the pair and its permutation null by the two-stage engine, the
    calibrated count (the pair's mutual pairs at or above the null's 0.99 quantile) and
    whether its record certifies it, against float64. `streams`: the pair's and the null's
    sources (default: the arrays, and B's tokens shuffled over the whole stream)."""
    from empirics.records.guarantee import exact_from, is_exact

    r = float64_r(a, b)
    truth = mutual_pairs(r)
    if streams is None:
        order = np.random.default_rng(1).permutation(a.shape[0])
        streams = (array_source(a, b), array_source(a, b, order=order))
    for cover in args.covers:
        budget = None if cover == "default" else int(cover)
        runs = []
        for stream in streams:
            source = CountedSource(stream)
            runs.append((match(source, EngineOptions("two-stage", candidates=args.candidates,
                                                     subsample=args.subsample, cover=budget)),
                         source.passes))
        (found, passes), (null, null_passes) = runs
        g, gn = found.guarantee, null.guarantee
        threshold = float(np.quantile(null.correlation, 0.99))
        pairs = set(zip(found.index_a.tolist(), found.index_b.tolist()))
        floor = g["certified_down_to"]
        above = ({p for p in pairs if r[p] >= floor} == {p for p in truth if r[p] >= floor})
        calibrated = int((found.correlation >= threshold).sum())
        exact_count = sum(r[p] >= threshold for p in truth)
        exact = bool(exact_from(g, threshold)) and is_exact(gn)
        error = max((abs(x - r[i, j]) for i, j, x in zip(found.index_a, found.index_b,
                                                          found.correlation)), default=0.0)
        covered = f"{cover} ({g['covered_a']} + {g['covered_b']} lines)"
        print(f"| {label} | {covered} | {passes} + {null_passes} | "
              f"{1 - g['uncertified_a'] / g['live_a']:.3f}, "
              f"{1 - g['uncertified_b'] / g['live_b']:.3f} | {floor:.3f} | "
              f"{gn['certified_down_to']:.3f} | {threshold:.3f} | {calibrated} "
              f"({exact_count}) | {exact} | {above} | {error:.1e} |", flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=Path("models/local"))
    parser.add_argument("--corpus", type=Path, default=Path("corpora/local"))
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
    parser.add_argument("--synthetic-tokens", type=int, default=2**18)
    parser.add_argument("--synthetic-neurons", type=int, default=512)
    parser.add_argument("--synthetic-batch", type=int, default=4096)
    parser.add_argument("--budget-mb", type=float, default=4.0,
                        help="memory for the synthetic stream's blocks (MiB)")
    parser.add_argument("--matmul-size", type=int, default=2048)
    parser.add_argument("--smoke", action="store_true",
                        help="a tiny synthetic stream and the cost model only (seconds)")
    parser.add_argument("--certificate", action="store_true",
                        help="only the certificate on Student-t GELU streams (no models)")
    parser.add_argument("--stream-tokens", type=int, default=2**18)
    parser.add_argument("--stream-width", type=int, default=128)
    parser.add_argument("--dofs", type=float, nargs="+", default=[3.0, 5.0, 10.0])
    parser.add_argument("--covers", nargs="+", default=["0", "default"],
                        help="the two-stage engine's covers for --certificate: pairs the "
                        "exact pass sums in whole lines (0: the sample's bound alone; "
                        "default: the engine's, by memory)")
    parser.add_argument("--certificate-models", action="store_true",
                        help="the --certificate table on the trained pairs --cert-pairs")
    parser.add_argument("--cert-pairs", nargs="+",
                        default=["gpt2-w64-s0", "gpt2-w64-s1", "gpt2-w64-s0", "qwen2-w64-s0"],
                        help="pairs of model names, two by two")
    args = parser.parse_args(argv)
    if len(args.cert_pairs) % 2:
        parser.error(f"--cert-pairs takes model names two by two, got {args.cert_pairs}")
    if args.certificate or args.certificate_models:
        if args.smoke:
            args.stream_tokens, args.stream_width, args.dofs = 8192, 16, [5.0]
            args.subsample = 2048
            args.covers = ["0", "64", "default"]
        (certificate_on_models if args.certificate_models else certificate_on_streams)(args)
        return
    if args.smoke:
        args.synthetic_tokens, args.synthetic_neurons, args.synthetic_batch = 4096, 48, 1024
        args.subsample, args.budget_mb, args.matmul_size = 1024, 0.02, 256
    run(args)
    if args.smoke:  # the certificate's table too, at a tiny size
        args.stream_tokens, args.stream_width, args.dofs = 8192, 16, [5.0]
        args.subsample, args.covers = 2048, ["0", "64", "default"]
        print()
        certificate_on_streams(args)


if __name__ == "__main__":
    main()
