"""Benchmark: the matching engine on 2 gloo processes against 1 process, on the same CPU work.

    python benchmarks/bench_distributed.py [--neurons 1536] [--tokens 32768] [--batch 2048]

Runs, on random data with planted pairs (every process builds the same data from a seed):
one process with one thread, one process with two threads, and two processes with one thread
each joined by gloo, splitting the batches (data) or A's row blocks (neurons). Prints the
wall time of `match_neurons` (the slowest rank; process start and data building excluded),
its ratio to the one-process runs, and the exactness: whether the mutual pairs are identical
and the largest difference of any kept partner's r. On a machine with two cores the honest
speed-up is at most ~1: the point is the overhead of the reductions and that they are exact.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from timing import best_of  # benchmarks/timing.py (benchmarks run as scripts)

from empirics.engine.distributed import SINGLE, Ranks, run_local_ranks, shard_source
from empirics.engine.entry import EngineOptions, match

REPEATS = 2
ROUNDS = 3
#: --smoke: a tiny stream, one round of one call (seconds).
SMOKE = {"neurons": 64, "tokens": 2048, "batch": 512, "block_rows": 16, "repeats": 1,
         "rounds": 1}


def planted_source(tokens: int, neurons: int, batch: int, seed: int = 0):
    """Batches of float32 A and B; half of B's neurons are noisy copies of A's first half."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((tokens, neurons), dtype=np.float32)
    b = rng.standard_normal((tokens, neurons), dtype=np.float32)
    where = rng.permutation(neurons)[: neurons // 2]
    b[:, where] = a[:, : neurons // 2] + 0.5 * b[:, where]
    at, bt = torch.from_numpy(a), torch.from_numpy(b)

    def source():
        for lo in range(0, tokens, batch):
            yield at[lo:lo + batch], bt[lo:lo + batch]

    return source


def timed_match(ranks: Ranks, settings: dict, out: str | None = None) -> tuple[float, object]:
    """Best wall time of `match_neurons` on this rank's stream (after a barrier)."""
    source = shard_source(planted_source(settings["tokens"], settings["neurons"],
                                         settings["batch"]), ranks)

    def run():
        ranks.barrier()
        return match(source, EngineOptions(candidates=2, block_rows=settings["block_rows"]),
                     ranks=ranks)

    seconds, found = best_of(settings["repeats"], run)
    if out is not None:
        np.savez(Path(out) / f"rank-{ranks.rank}.npz", seconds=seconds, index_a=found.index_a,
                 index_b=found.index_b, row_r=found.row_r, col_r=found.col_r)
    return seconds, found


def rank_main(ranks: Ranks, split: str, settings: dict, out: str) -> None:
    timed_match(dataclasses.replace(ranks, split=split), settings, out)


def two_processes(split: str, settings: dict) -> tuple[float, dict]:
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        codes = run_local_ranks(rank_main, 2, split, settings, out, timeout_s=1800)
        total = time.perf_counter() - start
        if codes != [0, 0]:
            raise SystemExit(f"a rank failed: exit codes {codes}")
        results = [dict(np.load(Path(out) / f"rank-{r}.npz")) for r in range(2)]
    seconds = max(float(r["seconds"]) for r in results)
    return seconds, results[0] | {"end_to_end": total}


def _keep_best(timings: dict, name: str, seconds: float) -> None:
    timings[name] = min(seconds, timings.get(name, float("inf")))


def exactness(found, other: dict) -> dict:
    same = (np.array_equal(found.index_a, other["index_a"])
            and np.array_equal(found.index_b, other["index_b"]))
    finite = np.isfinite(found.row_r)
    gap = max(np.abs(found.row_r[finite] - other["row_r"][finite]).max(),
              np.abs(found.col_r[np.isfinite(found.col_r)]
                     - other["col_r"][np.isfinite(found.col_r)]).max())
    return {"pairs identical": bool(same), "max |dr| of kept partners": float(gap),
            "pairs": int(len(found.index_a))}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=1536)
    parser.add_argument("--tokens", type=int, default=32768)
    parser.add_argument("--batch", type=int, default=2048)
    parser.add_argument("--block-rows", type=int, default=384)
    parser.add_argument("--smoke", action="store_true", help="a tiny run (seconds)")
    settings = vars(parser.parse_args(argv)) | {"repeats": REPEATS, "rounds": ROUNDS}
    if settings.pop("smoke"):
        settings |= SMOKE
    flops = 2.0 * settings["tokens"] * settings["neurons"] ** 2
    print(f"n = m = {settings['neurons']}, T = {settings['tokens']}, batches of "
          f"{settings['batch']}, blocks of {settings['block_rows']} rows "
          f"({flops / 1e9:.0f} GFLOP of products per pass set)")
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    timings, report = {}, {}
    # configurations interleaved, so a change of load hits them all
    for _ in range(settings["rounds"]):
        for threads in (1, 2):
            torch.set_num_threads(threads)
            seconds, single = timed_match(SINGLE, settings)
            _keep_best(timings, f"1 process, {threads} thread(s)", seconds)
        for split in ("data", "neurons"):
            seconds, result = two_processes(split, settings)
            _keep_best(timings, f"2 gloo processes x 1 thread, {split} split", seconds)
            report[split] = exactness(single, result) | {
                "end to end incl. process start (s)": round(result["end_to_end"], 2)}
    print(f"load average after: {os.getloadavg()[0]:.1f}; best of {settings['rounds']} "
          f"rounds x {settings['repeats']} calls")
    one, two = timings["1 process, 1 thread(s)"], timings["1 process, 2 thread(s)"]
    for name, seconds in timings.items():
        print(f"{name:45s} {seconds:7.2f} s   speed-up over 1 process: "
              f"{one / seconds:5.2f} (1 thread), {two / seconds:5.2f} (2 threads)")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
