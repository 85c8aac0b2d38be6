"""Exact copies of a neuron: ties that the rounding of different blocks must not break.

Two neurons with the same activations have the same r against every partner, so the lower
index must win (the engine's tie rule). Computed in different blocks (other offsets, other
product shapes) their r differ by rounding (~1e-7 in float32), which would hand the tie to
either copy. Neurons whose moments agree within `MOMENT_TOLERANCE` (their float64 moments
differ by the rounding of their positions in the sums) and whose best kept r agree within
`R_TOLERANCE` are told apart by a fingerprint of their values, each taken alone (one more
pass, only when there are such neurons: at paper scale chance coincidences of all three are
expected ~1e-3 times a run); on the
candidate graph every edge of a copy is extended to all copies of both its ends, and every
edge of such a class takes one r (that of its lowest computed edge), so the graph's tie rule
picks the lowest copy.
"""

from __future__ import annotations

import numpy as np
import torch

from empirics.engine.distributed import SINGLE, Ranks
from empirics.engine.moments import Moments, Source, checked_batches

#: Moments closer than this (mean in standard deviations, M2 relative) may be copies'.
MOMENT_TOLERANCE = 1e-6
#: Best kept r closer than this may be copies' (their rounding differs by ~1e-7).
R_TOLERANCE = 1e-5


def copy_candidates(moments: Moments, best: np.ndarray) -> np.ndarray:
    """Live neurons whose mean, M2 and best kept r (`best`, per neuron) agree with another's
    within the tolerances."""
    mean, m2 = moments.mean.cpu().numpy(), moments.m2.cpu().numpy()
    std = moments.std.cpu().numpy()
    live = np.flatnonzero(~moments.dead.cpu().numpy() & np.isfinite(best))
    found = []
    for run in _runs(live, mean[live] / std[live], MOMENT_TOLERANCE):
        for close in _runs(run, np.log(m2[run]), MOMENT_TOLERANCE):
            found.extend(_runs(close, best[close], R_TOLERANCE))
    return np.sort(np.concatenate(found)) if found else np.array([], dtype=np.int64)


def _runs(neurons: np.ndarray, key: np.ndarray, tolerance: float) -> list[np.ndarray]:
    """Groups (two or more) of `neurons` whose `key` values chain within `tolerance`."""
    order = np.argsort(key, kind="stable")
    split = np.flatnonzero(np.diff(key[order]) > tolerance) + 1
    return [g for g in np.split(neurons[order], split) if len(g) > 1]


def lowest_copies(source: Source, moments: tuple[Moments, Moments],
                  best: tuple[np.ndarray, np.ndarray], *,
                  ranks: Ranks = SINGLE) -> tuple[np.ndarray, np.ndarray, int]:
    """For every neuron of A and of B the index of its lowest exact copy (itself when it has
    none), and the passes this took (1 when some are candidates, else 0). `best` holds each
    neuron's best kept r (A's, B's).

    Notes
    -----
    The fingerprint of a candidate is the float64 dot product of its values with fixed
    random weights per token, computed column by column so that equal values give equal
    sums bit for bit; distinct columns share it with probability zero. For a data split the
    sums are added over the ranks.
    """
    candidates = [copy_candidates(m, r) for m, r in zip(moments, best)]
    lowest = [np.arange(len(m.mean)) for m in moments]
    if not any(len(c) for c in candidates):
        return lowest[0], lowest[1], 0
    prints = [torch.zeros(len(c), dtype=torch.float64) for c in candidates]
    generator = torch.Generator().manual_seed(0)
    for index, a, b in checked_batches(source, check=False):
        weights = torch.rand(a.shape[0], generator=generator.manual_seed(
            ranks.global_batch(index)), dtype=torch.float64)
        for x, side, total in zip((a, b), candidates, prints):
            columns = x[:, side].cpu().to(torch.float64).T.contiguous()
            for slot, column in enumerate(columns):
                total[slot] += torch.dot(column, weights)
    for side, total, result in zip(candidates, prints, lowest):
        values = ranks.sum_(total).numpy()
        _, first = np.unique(values, return_inverse=True)
        for group in np.unique(first.ravel()):
            members = side[first.ravel() == group]
            result[members[1:]] = members[0]
    return lowest[0], lowest[1], 1


def tie_copies(edge_a: np.ndarray, edge_b: np.ndarray, r: np.ndarray, lowest_a: np.ndarray,
               lowest_b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The graph with every edge extended to all copies of its ends, sorted by (a, b), and
    one r per class of copied edges (its lowest edge's). Without copies: the edges as given,
    sorted."""
    copies_a, copies_b = _members(lowest_a), _members(lowest_b)
    new_a, new_b = [edge_a], [edge_b]
    copied = (np.isin(lowest_a[edge_a], list(copies_a))
              | np.isin(lowest_b[edge_b], list(copies_b)))
    for a, b in zip(edge_a[copied].tolist(), edge_b[copied].tolist()):
        group_a = copies_a.get(lowest_a[a], [a])
        group_b = copies_b.get(lowest_b[b], [b])
        if len(group_a) > 1 or len(group_b) > 1:
            grid_a, grid_b = np.meshgrid(group_a, group_b, indexing="ij")
            new_a.append(grid_a.ravel())
            new_b.append(grid_b.ravel())
    all_a, all_b = np.concatenate(new_a), np.concatenate(new_b)
    known = np.concatenate([r, np.full(len(all_a) - len(r), np.nan)])
    width = len(lowest_b) + 1
    codes, first = np.unique(all_a.astype(np.int64) * width + all_b, return_index=True)
    a, b, value = all_a[first], all_b[first], known[first]  # computed r wherever it exists
    classes = lowest_a[a].astype(np.int64) * width + lowest_b[b]
    computed = ~np.isnan(value)
    order = np.lexsort((b[computed], a[computed], classes[computed]))
    names, start = np.unique(classes[computed][order], return_index=True)
    shared = value[computed][order][start]
    return a, b, shared[np.searchsorted(names, classes)]


def _members(lowest: np.ndarray) -> dict[int, list[int]]:
    """The copies of every neuron that has some, keyed by the lowest."""
    groups: dict[int, list[int]] = {}
    for neuron in np.flatnonzero(lowest != np.arange(len(lowest))):
        groups.setdefault(int(lowest[neuron]), [int(lowest[neuron])]).append(int(neuron))
    return groups
