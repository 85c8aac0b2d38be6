"""The candidate pass: per-chunk-group sums of z-scores over the candidate graph.

One more pass over the stream after the blocks. For every edge (i, j) of the candidate graph
(each neuron's best partners) and every group of batches it sums z_a[i] z_b[j]; for every
neuron the sums of z and z^2. These give the edges' Pearson r in float32-per-batch /
float64-overall precision (the re-check of reduced-precision products) and, through
`empirics.resample`, the Rosetta count under resampling of the input chunks.

Notes
-----
Batches are the resampling units (a batch should hold whole documents or images); batch i
adds to group i mod `groups`, so any number of batches folds into a fixed memory of
G x (2n + 2m + E) float64. Coarser clusters of independent units keep the bootstrap valid.
"""

from __future__ import annotations

import numpy as np
import torch

from empirics.blocks import working_dtype
from empirics.moments import Moments, Source, checked_batches
from empirics.resample import ChunkStats


def candidate_pass(
    source: Source,
    moments_a: Moments,
    moments_b: Moments,
    edge_a: np.ndarray,
    edge_b: np.ndarray,
    *,
    groups: int = 1,
    device: torch.device | str = "cpu",
    memory_bytes: float = 2**28,
) -> ChunkStats:
    """Stream once and return the per-group sums over the edges (see module notes).

    Parameters
    ----------
    edge_a, edge_b : (E,) int arrays
        The candidate graph's edges as (A neuron, B neuron) indices.
    groups : int
        Number of chunk groups G (>= 1).
    memory_bytes : float
        Bound on the gathered (edges x tokens) temporaries.
    """
    if groups < 1:
        raise ValueError(f"groups must be at least 1, got {groups}")
    n, m, e = moments_a.mean.numel(), moments_b.mean.numel(), len(edge_a)
    ea = torch.as_tensor(edge_a, dtype=torch.long, device=device)
    eb = torch.as_tensor(edge_b, dtype=torch.long, device=device)
    out = {name: torch.zeros(groups, size, dtype=torch.float64, device=device)
           for name, size in (("sum_a", n), ("sumsq_a", n), ("sum_b", m), ("sumsq_b", m),
                              ("cross", e))}
    tokens = torch.zeros(groups, dtype=torch.float64)
    ma, mb = moments_a.to(device), moments_b.to(device)
    for index, a, b in checked_batches(source):
        g = index % groups
        tokens[g] += a.shape[0]
        za = _zscores(a.to(device), ma)
        zb = _zscores(b.to(device), mb)
        for side, z in (("a", za), ("b", zb)):
            out[f"sum_{side}"][g] += z.sum(dim=0)
            out[f"sumsq_{side}"][g] += z.square().sum(dim=0)
        _edge_products(za.T.contiguous(), zb.T.contiguous(), ea, eb, out["cross"][g],
                       memory_bytes)
    arrays = {name: value.cpu().numpy() for name, value in out.items()}
    return ChunkStats(tokens=tokens.numpy(), edge_a=np.asarray(edge_a, dtype=np.int64),
                      edge_b=np.asarray(edge_b, dtype=np.int64), **arrays)


def _zscores(x: torch.Tensor, moments: Moments) -> torch.Tensor:
    """(x - mean) / std in the working dtype, offset by the mean rounded to it; dead -> 0."""
    work = working_dtype(x)
    inv = torch.where(moments.dead, torch.zeros_like(moments.m2), 1.0 / moments.std)
    return (x.to(work) - moments.mean.to(work)) * inv.to(work)


def _edge_products(za_t, zb_t, ea, eb, out, memory_bytes) -> None:
    """out[e] += sum over tokens of za_t[ea[e]] * zb_t[eb[e]], in edge chunks."""
    tokens = za_t.shape[1]
    chunk = max(1, int(memory_bytes // (3 * za_t.element_size() * max(tokens, 1))))
    for lo in range(0, len(ea), chunk):
        part = slice(lo, lo + chunk)
        out[part] += (za_t[ea[part]] * zb_t[eb[part]]).sum(dim=1)
