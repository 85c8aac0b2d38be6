"""A uniform token sample that processes reading different batches draw alike: bottom keys.

Every token of the stream gets a key, uniform on [0, 1) and drawn from (seed, the index of its
batch in the stream) alone (`token_keys`); the sample of size s is the s tokens of smallest
key. The keys are i.i.d., so every s-subset of the stream is equally likely: a uniform sample
without replacement. A process keeps the bottom s keys of the batches it reads
(`bottom_slots`, one batch at a time, in s slots); the bottom s of the whole stream are among
the processes' bottom s (a token with fewer than s smaller keys in the stream has fewer than s
in its own process), so merging them (`picked_slots`) gives exactly the tokens one process
reading every batch keeps.
"""

from __future__ import annotations

import numpy as np


def token_keys(seed: int, batch: int, tokens: int) -> np.ndarray:
    """The sampling keys of the `tokens` tokens of the stream's batch `batch`: i.i.d. uniform
    on [0, 1), a function of (seed, batch) only, so whichever rank reads the batch."""
    return np.random.default_rng([seed, batch]).random(tokens)


def bottom_slots(keys: np.ndarray, fresh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Update `keys` (the slots' keys, +inf: empty) in place so that the slots hold the
    smallest of the keys seen and `fresh`; returns (slots, rows of `fresh`) to write.

    Empty slots fill in order, so the filled slots are always a prefix.
    """
    size = len(keys)
    empty = np.flatnonzero(np.isinf(keys))
    if len(empty) >= len(fresh):
        slots, rows = empty[:len(fresh)], np.arange(len(fresh))
    else:  # more finite keys than slots: no +inf survives the cut
        chosen = np.argpartition(np.concatenate([keys, fresh]), size - 1)[:size]
        rows = np.sort(chosen[chosen >= size]) - size
        stays = np.zeros(size, dtype=bool)
        stays[chosen[chosen < size]] = True
        slots = np.flatnonzero(~stays)
    keys[slots] = fresh[rows]
    return slots, rows


def picked_slots(keys: list) -> list:
    """Each rank's slots (increasing) whose keys are among the smallest `size` of all
    ranks' (`size`: the length of every rank's `keys`; ties to the lower rank and slot)."""
    size = len(keys[0])
    combined = np.concatenate(keys)
    total = min(size, int(np.isfinite(combined).sum()))
    chosen = np.sort(np.argsort(combined, kind="stable")[:total])
    return [chosen[(chosen >= q * size) & (chosen < (q + 1) * size)] - q * size
            for q in range(len(keys))]
