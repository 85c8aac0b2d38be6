"""Reduced-precision products made exact: the error bound of their r, the neurons whose best
partners it proves among their candidates, and a float32 redo of the others.

A float16/bfloat16 block pass reads r with an error of at most `error_bound`. After the
float32 re-check of the candidate graph, a neuron whose k-th best exact r among its own
candidates exceeds the estimate of its last kept candidate plus that bound has its exact
top k among its candidates (no other partner's estimate, hence no other exact r, can reach
it). The other neurons' lines are recomputed in float32 from the stream (block passes over
just those lines), so the pairs are the float32 engine's whatever the near-ties.
"""

from __future__ import annotations

import numpy as np
import torch

from empirics.engine.blocks import FOLD_TOKENS, block_correlation, block_pass
from empirics.engine.distributed import SINGLE, Ranks
from empirics.engine.moments import Moments, Source, checked_batches
from empirics.engine.topk import TopK, sorted_topk

#: Unit roundoff of the reduced product dtypes.
UNIT_ROUNDOFF = {torch.bfloat16: 2.0**-8, torch.float16: 2.0**-11}


def error_bound(dtype: torch.dtype, moments: tuple[Moments, Moments]) -> float:
    """Largest |r_block - r| of reduced-precision block products.

    Notes
    -----
    z-scores rounded to the dtype (relative u each, 2u + u^2 per product), a batch's product
    rounded to it once more on CPU (u), float32 sums of up to FOLD_TOKENS tokens (FOLD_TOKENS
    2^-24): each relative to sum |z_a z_b| <= T sqrt((1 + c_a^2)(1 + c_b^2)) by
    Cauchy-Schwarz, with c = |mean - offset| / std and offsets at the means rounded to float32.
    """
    u = UNIT_ROUNDOFF[dtype]
    c = max(_offset_excess(m) for m in moments)
    return (3 * u + u * u + FOLD_TOKENS * 2.0**-24) * (1 + c * c)


def _offset_excess(moments: Moments) -> float:
    live = ~moments.dead
    if not live.any():
        return 0.0
    gap = (moments.mean - moments.mean.to(torch.float32).to(torch.float64)).abs()
    return float((gap[live] / moments.std[live]).max())


def unproven(lines: TopK, codes: np.ndarray, exact: np.ndarray, k: int, bound: float,
             *, columns: bool, width: int) -> np.ndarray:
    """Lines (rows of A, or columns of B with `columns`) whose exact top k the bound does not
    prove among their kept candidates.

    `codes` are the graph's edges as a * width + b, sorted, and `exact` their re-checked r.
    """
    partners, estimates = lines.indices.numpy(), lines.values.numpy()
    last = estimates[:, -1]
    if len(codes) == 0:
        return np.isfinite(last)
    own = np.arange(len(partners))[:, None]
    query = (partners * width + own) if columns else (own * width + partners)
    slot = np.minimum(np.searchsorted(codes, query), len(codes) - 1)
    listed = np.isfinite(estimates) & (codes[slot] == query)
    kth = -np.sort(-np.where(listed, exact[slot], -np.inf), axis=1)[:, k - 1]
    return np.isfinite(last) & ~(kth > last + bound)


def redo_lines(source: Source, moments: tuple[Moments, Moments], lines: np.ndarray, keep: int,
               *, columns: bool, block_rows: int, device, ranks: Ranks = SINGLE
               ) -> tuple[TopK, int]:
    """The exact (float32 products) best `keep` partners of A's rows `lines` (of B's columns
    with `columns`), and the passes this took (blocks of `block_rows` lines)."""
    own, other = (moments[1], moments[0]) if columns else moments
    values, indices, passes = [], [], 0
    for chunk in np.array_split(lines, -(-len(lines) // block_rows)):
        index = torch.from_numpy(chunk)
        sub = Moments(own.count, own.mean[index.to(own.mean.device)],
                      own.m2[index.to(own.m2.device)])

        def stream(chunk=index):
            for _, a, b in checked_batches(source, check=False):
                yield (b[:, chunk], a) if columns else (a[:, chunk], b)

        sums = block_pass(stream, slice(None), (sub, other), device=device,
                          dtype=torch.float32, ranks=ranks)
        r = block_correlation(sums, sub, other, slice(None))
        r.masked_fill_(other.dead.to(r.device)[None, :], -torch.inf)
        best, order = sorted_topk(r, keep, dim=1)
        values.append(best.cpu())
        indices.append(order.cpu())
        passes += 1
        del sums, r  # before the next chunk's sums are allocated
    return TopK(torch.cat(values), torch.cat(indices)), passes


def redo_unproven(source: Source, moments: tuple[Moments, Moments], rows: TopK, cols: TopK,
                  graph, *, k: int, dtype: torch.dtype, block_rows: int, device,
                  ranks: Ranks = SINGLE) -> int:
    """Replace, in place, the kept partners of every row and column whose exact top k the
    bound of `dtype` products does not prove among them by their float32 lines; returns the
    passes this took.

    `graph` is the candidate graph (edge_a, edge_b sorted by (a, b); re-checked r).
    """
    edge_a, edge_b, r = graph
    width = len(moments[1].mean) + 1
    codes, bound, passes = edge_a.astype(np.int64) * width + edge_b, error_bound(dtype, moments), 0
    for lines, columns in ((rows, False), (cols, True)):
        redo = np.flatnonzero(unproven(lines, codes, r, k, bound, columns=columns, width=width))
        if len(redo):
            exact, used = redo_lines(source, moments, redo, lines.values.shape[1],
                                     columns=columns, block_rows=block_rows, device=device,
                                     ranks=ranks)
            lines.values[redo], lines.indices[redo] = exact.values, exact.indices
            passes += used
    return passes
