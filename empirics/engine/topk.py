"""Best-k partners with deterministic ties, and their merge across blocks."""

from __future__ import annotations

from dataclasses import dataclass

import torch

#: The tied lines of a block are sorted in at least this many groups (see `sorted_topk`).
REDO_SLICES = 64


@dataclass(frozen=True)
class TopK:
    """Best partners: `values[i, :]` and `indices[i, :]` sorted best first."""

    values: torch.Tensor
    indices: torch.Tensor


def sorted_topk(values: torch.Tensor, k: int, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k of a 2-d tensor along `dim`, best first, lower position first among ties.

    Notes
    -----
    torch.topk is ~30x faster than a full sort but breaks ties arbitrarily. It is taken with
    one extra candidate; only the lines with equal neighbours among those k + 1 values (ties
    that could change the selection or its order) are redone with a stable full sort, at
    most 1/`REDO_SLICES` of the lines at a time: a sort's copies take 24 bytes per entry, so
    a block whose every line ties (dead neurons) adds at most 24 / REDO_SLICES per entry.
    """
    if dim == 0:
        best, order = sorted_topk(values.T, k, dim=1)
        return best.T, order.T
    if k >= values.shape[1]:
        ordered, order = torch.sort(values, dim=1, descending=True, stable=True)
        return ordered[:, :k], order[:, :k]
    best, order = torch.topk(values, k + 1, dim=1)
    tied = (best[:, :-1] == best[:, 1:]).any(dim=1)
    best, order = best[:, :k].clone(), order[:, :k].clone()
    lines = torch.nonzero(tied).flatten()
    for chunk in lines.split(-(-values.shape[0] // REDO_SLICES)):
        redo, redo_order = torch.sort(values[chunk], dim=1, descending=True, stable=True)
        best[chunk], order[chunk] = redo[:, :k], redo_order[:, :k]
    return best, order


def merge_partners(running: TopK, new: TopK, k: int) -> TopK:
    """Best k of two candidate sets per line (n, k each); `running` holds the lower indices,
    so it wins ties."""
    values = torch.cat([running.values, new.values], dim=1)
    indices = torch.cat([running.indices, new.indices], dim=1)
    best, order = sorted_topk(values, k, dim=1)
    return TopK(best, torch.gather(indices, 1, order))
