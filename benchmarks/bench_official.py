"""Benchmark: the replay of the official code's arithmetic against the exact engine, on a long
planted stream (the official budget of 10M samples in batches of 8 x 1024), in one run.

    python benchmarks/bench_official.py [--samples 10000000] [--neurons 256] [--batch 8192]

The stream is generated batch by batch from a generator seeded by the batch index, so every
pass sees the same data and nothing of size samples x neurons is held. Model B holds planted
partners of A's first neurons at known r (a quarter of them with a small spread, where the
official eps matters), dead (constant) neurons on both sides and independent noise neurons.
Prints, for the exact engine (float32) and the replay (`match_official`): pairs found, planted
pairs recovered, the Jaccard index of the pair set against mutual nearest neighbours of the
float64 correlation matrix, the ratio of each planted pair's r to the exact engine's (median,
min, max; normal and small-spread partners apart) and the wall time of each, with the time
one pass spends generating the stream (timed on its first 100 batches). At 10M samples the
whole run takes ~17 minutes on a 2-core CPU; --samples shortens it.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from timing import best_of  # benchmarks/timing.py (benchmarks run as scripts)

from empirics.engine.entry import EngineOptions, match

#: Spreads of the small-spread planted partners (std; the official eps adds 1e-4 to var).
SMALL_STD = (0.003, 0.01, 0.03)


class PlantedStream:
    """A deterministic stream: batch i comes from a generator seeded with (seed, i).

    A's neurons `planted_a` have partners in B at `where` (contiguous slices, so that a batch
    is built without gathers); every 4th partner has a small spread; the first 8 neurons of
    each side are dead (A's at 0, B's at their mean: the official code's lower-index-first
    worst case, where a dead pair forms at r = 0); the rest are independent noise.
    """

    def __init__(self, samples: int, neurons: int, batch: int, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.samples, self.n, self.batch, self.seed = samples, neurons, batch, seed
        self.planted = neurons // 4
        self.offset = 3 * neurons // 8
        self.planted_a = np.arange(8, 8 + self.planted)
        self.where = np.arange(self.offset, self.offset + self.planted)
        self.r = np.linspace(0.3, 0.95, self.planted)
        self.small = np.zeros(neurons, bool)
        self.small[self.where[::4]] = True
        self.mean_a, self.std_a = rng.uniform(-1, 1, neurons), rng.uniform(0.5, 2.0, neurons)
        self.mean_b, self.std_b = rng.uniform(-1, 1, neurons), rng.uniform(0.5, 2.0, neurons)
        self.std_b[self.small] = np.resize(SMALL_STD, self.small.sum())
        self.dead_a = self.dead_b = np.arange(8)
        self.mean_a[self.dead_a] = 0.0
        self.std_a[self.dead_a] = self.std_b[self.dead_b] = 0.0  # dead B: constant mean
        tensor = lambda x: torch.as_tensor(x, dtype=torch.float32)  # noqa: E731
        self._r, self._rest = tensor(self.r), tensor(np.sqrt(1 - self.r**2))
        self._std_a, self._mean_a = tensor(self.std_a), tensor(self.mean_a)
        self._std_b, self._mean_b = tensor(self.std_b), tensor(self.mean_b)

    def __call__(self):
        for index, start in enumerate(range(0, self.samples, self.batch)):
            yield self.batch_at(index, min(self.batch, self.samples - start))

    def batch_at(self, index: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        z = torch.randn(size, self.n, generator=generator)
        noise = torch.randn(size, self.n, generator=generator)
        partners = noise[:, self.offset:self.offset + self.planted]
        partners.mul_(self._rest).add_(z[:, 8:8 + self.planted] * self._r)
        return (torch.addcmul(self._mean_a, z, self._std_a),
                torch.addcmul(self._mean_b, noise, self._std_b))


def float64_truth(stream: PlantedStream) -> np.ndarray:
    """The n x m Pearson matrix in float64 (sums shifted by the planted means; NaN for dead)."""
    n = stream.n
    shift_a, shift_b = (torch.tensor(m, dtype=torch.float64) for m in (stream.mean_a,
                                                                        stream.mean_b))
    sa, sb, qa, qb = (torch.zeros(n, dtype=torch.float64) for _ in range(4))
    cross, count = torch.zeros(n, n, dtype=torch.float64), 0
    for a, b in stream():
        a, b = a.double() - shift_a, b.double() - shift_b
        sa += a.sum(0)
        sb += b.sum(0)
        qa += (a * a).sum(0)
        qb += (b * b).sum(0)
        cross += a.T @ b
        count += a.shape[0]
    mean_a, mean_b = sa / count, sb / count
    cov = cross / count - mean_a[:, None] * mean_b[None, :]
    var_a, var_b = qa / count - mean_a**2, qb / count - mean_b**2
    r = (cov / torch.sqrt(var_a[:, None] * var_b[None, :])).numpy()
    r[stream.dead_a], r[:, stream.dead_b] = np.nan, np.nan  # zero variance: no r
    return r


def mutual_nearest(r: np.ndarray) -> set:
    """Mutual nearest neighbours of a full matrix (NaN rows and columns never match)."""
    r = np.where(np.isnan(r), -np.inf, r)
    rows, cols = r.argmax(axis=1), r.argmax(axis=0)
    return {(i, int(j)) for i, j in enumerate(rows) if cols[j] == i and np.isfinite(r[i, j])}


def summary(found, truth: set, stream: PlantedStream) -> dict:
    pairs = dict(zip(zip(found.index_a.tolist(), found.index_b.tolist()),
                     found.correlation.tolist()))
    planted = set(zip(stream.planted_a.tolist(), stream.where.tolist()))
    return {"pairs": pairs, "n": len(pairs), "planted": len(planted & set(pairs)),
            "jaccard": len(truth & set(pairs)) / len(truth | set(pairs)),
            "at_zero": sum(1 for r in pairs.values() if r == 0.0)}


def ratios(replay: dict, exact: dict, stream: PlantedStream, small: bool) -> str:
    values = [replay[i, j] / exact[i, j] for i, j in zip(stream.planted_a.tolist(),
                                                          stream.where.tolist())
              if stream.small[j] == small and (i, j) in replay and (i, j) in exact]
    if not values:
        return "none found by both"
    return (f"median {np.median(values):.3f}, min {np.min(values):.3f}, max "
            f"{np.max(values):.3f} ({len(values)} pairs)")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10_000_000)
    parser.add_argument("--neurons", type=int, default=256)
    parser.add_argument("--batch", type=int, default=8192)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--smoke", action="store_true", help="a tiny run (seconds)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.samples, args.neurons, args.batch = 16384, 32, 2048
    stream = PlantedStream(args.samples, args.neurons, args.batch)
    device = torch.device(args.device)
    sample = min(100, -(-args.samples // args.batch))  # batches timed for the generation
    generate, _ = best_of(1, lambda: [stream.batch_at(i, args.batch) for i in range(sample)])
    generate *= args.samples / (sample * args.batch)
    truth_time, truth_r = best_of(1, lambda: float64_truth(stream))
    truth = mutual_nearest(truth_r)
    exact_time, exact = best_of(1, lambda: match(stream, device=device))
    replay_time, replay = best_of(1, lambda: match(stream, EngineOptions("official"),
                                                   device=device))
    rows = {"exact engine (float32)": (exact_time, summary(exact, truth, stream)),
            "official replay": (replay_time, summary(replay, truth, stream))}
    print(f"n = m = {args.neurons}, {args.samples:,} samples in batches of {args.batch}, "
          f"{stream.planted} planted pairs (r 0.30-0.95; {stream.small.sum()} with B's std in "
          f"{SMALL_STD}), {len(stream.dead_a)} + {len(stream.dead_b)} dead neurons, "
          f"torch threads {torch.get_num_threads()}")
    print(f"generating the stream once (timed on {sample} batches): {generate:.1f} s; float64 "
          f"truth (one pass): {truth_time:.1f} s, "
          f"{len(truth)} mutual pairs")
    print(f"{'':24} {'wall s':>8} {'passes':>6} {'pairs':>6} {'planted':>8} {'Jaccard':>8} "
          f"{'at r=0':>7}")
    for name, (seconds, row) in rows.items():
        found = exact if name.startswith("exact") else replay
        print(f"{name:24} {seconds:8.1f} {found.passes:6d} {row['n']:6d} "
              f"{row['planted']:4d}/{stream.planted:<3d} {row['jaccard']:8.3f} "
              f"{row['at_zero']:7d}")
    print(f"replay / exact wall time: {replay_time / exact_time:.2f}")
    exact_pairs, replay_pairs = rows["exact engine (float32)"][1]["pairs"], rows[
        "official replay"][1]["pairs"]
    print("replayed r / exact r, planted pairs with B's std 0.5-2: "
          + ratios(replay_pairs, exact_pairs, stream, small=False))
    print("replayed r / exact r, planted pairs with B's std in "
          f"{SMALL_STD}: " + ratios(replay_pairs, exact_pairs, stream, small=True))
    exact_vs_truth = [exact_pairs[p] - truth_r[p] for p in exact_pairs if p in truth]
    print(f"exact engine against float64: max |r - r64| = "
          f"{np.max(np.abs(exact_vs_truth)):.1e} over its pairs in the truth")


if __name__ == "__main__":
    main()
