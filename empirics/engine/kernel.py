"""The engine's shared kernel: what the block, two-stage and official engines all use.

`Matches` (the result every engine returns), the memory rules that size blocks and tiles
(`available_memory`, `block_size_for`, `block_budget`), the checks of a call's options and
of its stream's shape, and the candidate graph on which mutual pairs are read off. Imports
no engine, so each engine imports it and none imports another's private helpers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from empirics.engine.moments import Source, checked_batches
from empirics.engine.topk import TopK
from empirics.records.chunks import ChunkStats

#: Share of the free memory (less a batch's working set) that blocks take by default: the
#: rest covers the reductions' temporaries (at most 0.5 bytes per entry, 1/24 of the sums:
#: `blocks.SLICES`, `topk.REDO_SLICES`) and the allocator's slack.
MEMORY_SHARE = 0.9
#: Bytes per activation of a batch while it is multiplied: the input (up to 4), its shifted
#: float32 copy (4), the squares of the moments pass (4) and a reduced-precision copy (2),
#: rounded up.
BATCH_BYTES = 16


@dataclass(frozen=True)
class Matches:
    """Mutual top-k pairs between A's and B's neurons (global neuron indices).

    `row_partners`/`row_r` (n, keep) and `col_partners`/`col_r` (m, keep) are the candidates
    every neuron kept (r from the block passes, -inf where none); `dead_a`/`dead_b` the masks
    of zero-variance neurons, which never appear in a pair. When `rechecked`, `correlation`
    comes from the float32 candidate pass, `max_recheck_change` is its largest change against
    the block passes and `changed_pairs` the number of mutual pairs the re-check added or
    removed. Pairs below `min_correlation` (when given) are dropped. `chunks` holds the
    per-chunk statistics for the bootstrap (when requested).

    `guarantee` states how the pairs were found: {"mode": "block"} (every pair's r from the
    whole stream: exact), or the two-stage engine's sample size, candidates and certificate
    counts (`empirics.engine.two_stage`), whose `certified_a`/`certified_b` masks mark the
    neurons whose exact best partners are provably among their candidates. There the kept
    candidates' r (`row_r`, `col_r`) are the sample's estimates, against which
    `max_recheck_change` and `changed_pairs` compare the exact pass.
    """

    index_a: np.ndarray
    index_b: np.ndarray
    correlation: np.ndarray
    k: int
    min_correlation: float | None
    n_tokens: int
    row_partners: np.ndarray
    row_r: np.ndarray
    col_partners: np.ndarray
    col_r: np.ndarray
    dead_a: np.ndarray
    dead_b: np.ndarray
    rechecked: bool
    max_recheck_change: float | None
    changed_pairs: int
    chunks: ChunkStats | None
    block_rows: int
    passes: int
    guarantee: dict = field(default_factory=lambda: {"mode": "block"})
    certified_a: np.ndarray | None = None
    certified_b: np.ndarray | None = None


def available_memory(device: torch.device | str) -> float:
    """Free bytes on `device`: CUDA's free memory (`torch.cuda.mem_get_info`), or the host's
    available memory (MemAvailable of /proc/meminfo: free pages and reclaimable caches;
    where that file is missing, the free pages alone)."""
    device = torch.device(device)
    if device.type == "cuda":
        return float(torch.cuda.mem_get_info(device)[0])
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return float(line.split()[1]) * 1024
    except OSError:
        pass
    return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def block_size_for(n_cols: int, memory_bytes: float, bytes_per_value: int = 32) -> int:
    """Rows per block so that `bytes_per_value` per entry of a rows x n_cols block fit in
    `memory_bytes` (the block engine's sums take `BYTES_PER_ENTRY`)."""
    return max(1, int(memory_bytes // (bytes_per_value * max(n_cols, 1))))


def block_budget(device: torch.device | str, batch_values: int) -> float:
    """The bytes a block may take by default: `MEMORY_SHARE` of the memory free on `device`
    once a batch's working set (`BATCH_BYTES` per activation of a batch) is set aside.

    Notes
    -----
    The batch is the stream's first; the models' own buffers are already allocated when the
    engine starts, so the free memory excludes them (docs/matching.md, "Memory").
    """
    return max(0.0, MEMORY_SHARE * (available_memory(device) - BATCH_BYTES * batch_values))


def check_options(k, candidates, groups) -> int:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if candidates is not None and candidates < k:
        raise ValueError(f"candidates ({candidates}) must be at least k ({k})")
    if groups < 0:
        raise ValueError(f"groups must be 0 (no bootstrap) or positive, got {groups}")
    return max(k, candidates or k)


def widths(source: Source) -> tuple[int, int]:
    """n and m of the stream (see `stream_shape`)."""
    return stream_shape(source)[:2]


def stream_shape(source) -> tuple[int, int, int]:
    """n, m and the tokens of the stream's first batch (the batch is read once more later);
    a source that is not a callable returning a fresh iterator on every call is refused,
    since the engine reads the stream several times."""
    if not callable(source):
        raise TypeError(f"source must be a callable returning a fresh iterator of (a, b) "
                        f"batches, got {type(source).__name__} (wrap a list of batches as "
                        "`lambda: iter(batches)`)")
    first, second = source(), source()
    if first is second and iter(first) is first:
        raise ValueError("source() returned the same iterator twice: it must return a fresh "
                         "iterator on every call (the engine reads the stream several "
                         "times; a one-shot iterator would lose its first batches)")
    for _, a, b in checked_batches(lambda: first, check=False):
        return a.shape[1], b.shape[1], a.shape[0]


def candidate_graph(rows: TopK, cols: TopK) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique edges (a, b, r) of the kept partners of every row (n, keep) and every column
    (m, keep, as rows of A), without the -inf entries of dead or missing partners."""
    n, keep = rows.indices.shape
    a = np.concatenate([np.repeat(np.arange(n), keep), cols.indices.numpy().ravel()])
    b = np.concatenate([rows.indices.numpy().ravel(),
                        np.repeat(np.arange(cols.indices.shape[0]), cols.indices.shape[1])])
    r = np.concatenate([rows.values.numpy().ravel(), cols.values.numpy().ravel()])
    finite = np.isfinite(r)
    a, b, r = a[finite], b[finite], r[finite]
    m = int(b.max()) + 1 if len(b) else 1
    _, first = np.unique(a.astype(np.int64) * m + b, return_index=True)
    return a[first], b[first], r[first]
