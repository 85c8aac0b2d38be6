"""A replay of the paper's official matching arithmetic, for comparison with the exact engine.

The official code (github.com/avdravid/rosetta-neuron-scaling, language path) matches neurons
in two kinds of passes over the aligned samples (docs/matching.md, "Replaying the official
code"):

1. statistics (`language/find_pairs/match_stats.py`, `compute_stats_token_level_averaged`):
   per batch the float32 mean and M2 of the bfloat16 activations, merged with a weighted
   Welford update in float32; then std = sqrt(var + 1e-4) clamped at >= 1e-4, and mean and
   std cast to bfloat16;
2. products (`language/find_pairs/match_corr.py`, `compute_corr_token_level_averaged`): one
   pass per block of B's layers; z = (x - mean) * (1 / std) in bfloat16 and a bfloat16
   accumulator updated per batch by `addmm_` (the batch product summed in float32, as cuBLAS
   does, then rounded into the accumulator); r = acc / T in bfloat16
   (`language/find_pairs/match_save.py`);
3. neighbours (`language/find_pairs/match_save.py`, `save_neighbors_block_from_prod_concat`):
   per layer pair, `torch.topk` (top `TOP_T`, sorted) of the accumulator along B's neurons
   and along A's, the values then divided by the count;
4. pairs (`language/find_best_buddies.py`): every neuron's global top-k, merged over the
   other model's layers in increasing order by `torch.topk` of the running list and the
   layer's first k (scores below --min_correlation, default 0.0, masked to -inf first); a pair
   is an A-side edge with a finite score >= the threshold that is also a B-side edge.

`match_official` replays these over the same `Source` the exact engine reads, with the same
`torch.topk` calls on the same shapes, so ties go where the official code sends them (its
order among equal values, not the lower index). Dead (zero-variance) neurons are not
excluded: their z is 0, so they meet every partner at r = 0, and which partners they list
is `torch.topk`'s order among those equal values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from empirics.engine.kernel import (
    Matches,
    available_memory,
    block_size_for,
    check_options,
    widths,
)
from empirics.engine.moments import Source, checked_batches
from runstore.progress import progress_bar

#: The official statistics' epsilon (`eps_val` in match_stats.py): std = sqrt(var + EPS).
EPS = 1e-4
#: The official compute dtype (match_cli.py's default --dtype).
OFFICIAL_DTYPE = torch.bfloat16
#: The official threshold (find_best_buddies.py's default --min_correlation).
OFFICIAL_MIN_CORRELATION = 0.0
#: Neighbours the official files keep per neuron and layer pair (match_save.py's top_k).
TOP_T = 100


@dataclass(frozen=True)
class OfficialStats:
    """One model's statistics as the official code keeps them: bfloat16 mean and std, the
    sample count, and the mask of neurons constant over the stream (reported, not excluded)."""

    count: int
    mean: torch.Tensor
    std: torch.Tensor
    dead: torch.Tensor

    @property
    def inverse_std(self) -> torch.Tensor:
        """1 / std in bfloat16, as the official code divides (`invstd = 1.0 / s`)."""
        return 1.0 / self.std


class _Welford:
    """The official weighted Welford accumulator of one model, in float32 (unit weights)."""

    def __init__(self, width: int, device):
        zeros = torch.zeros(width, dtype=torch.float32, device=device)
        self.sum_w = torch.zeros(1, dtype=torch.float32, device=device)
        self.mean, self.m2 = zeros, zeros.clone()
        self.low = torch.full_like(zeros, torch.inf)
        self.high = torch.full_like(zeros, -torch.inf)
        self.count = 0

    def add(self, x: torch.Tensor) -> None:
        """One batch (samples, width) of bfloat16 activations."""
        x = x.float()
        weights = torch.ones(x.shape[0], dtype=torch.float32, device=x.device)
        batch_w = weights.sum()
        batch_mean = ((weights / batch_w)[:, None] * x).sum(dim=0)
        batch_m2 = (weights[:, None] * (x - batch_mean) ** 2).sum(dim=0)
        total = self.sum_w + batch_w
        safe = total.clamp(min=1e-8)
        delta = batch_mean - self.mean
        self.mean = self.mean + delta * batch_w / safe
        self.m2 = self.m2 + batch_m2 + delta * delta * self.sum_w * batch_w / safe
        self.sum_w = total
        self.low = torch.minimum(self.low, x.min(dim=0).values)
        self.high = torch.maximum(self.high, x.max(dim=0).values)
        self.count += x.shape[0]

    def result(self) -> OfficialStats:
        eps = torch.tensor(EPS, dtype=torch.float32, device=self.mean.device)
        var = torch.clamp(self.m2 / self.sum_w.clamp(min=1e-8), min=0.0)
        std = torch.clamp(torch.sqrt(var + eps), min=eps)
        return OfficialStats(self.count, self.mean.to(OFFICIAL_DTYPE), std.to(OFFICIAL_DTYPE),
                             self.high <= self.low)


def official_stats(source: Source, device: torch.device | str = "cpu"
                   ) -> tuple[OfficialStats, OfficialStats]:
    """The official statistics pass over the stream (activations rounded to bfloat16)."""
    sides = None
    for _, a, b in checked_batches(source):
        if sides is None:
            sides = (_Welford(a.shape[1], device), _Welford(b.shape[1], device))
        for side, x in zip(sides, (a, b)):
            side.add(x.to(device=device, dtype=OFFICIAL_DTYPE))
    return sides[0].result(), sides[1].result()


def official_z(x: torch.Tensor, stats: OfficialStats) -> torch.Tensor:
    """bfloat16 z-scores as the official code forms them: (x - mean) * (1 / std), each step
    rounded to bfloat16 (out of place: a bfloat16 batch of the stream is left as it is)."""
    return (x.to(OFFICIAL_DTYPE) - stats.mean) * stats.inverse_std


def official_block(source: Source, stats: tuple[OfficialStats, OfficialStats], cols: slice,
                   device: torch.device | str = "cpu") -> torch.Tensor:
    """The bfloat16 accumulator (n, cols) of one block of B's neurons over the stream (the
    sum of z_a z_b; r = acc / count, `official_r`)."""
    stats_a, stats_b = stats
    block_b = OfficialStats(stats_b.count, stats_b.mean[cols], stats_b.std[cols],
                            stats_b.dead[cols])
    acc = product = None
    for _, a, b in checked_batches(source, check=False):
        za = official_z(a.to(device), stats_a).float()
        zb = official_z(b[:, cols].to(device), block_b).float()
        if acc is None:
            acc = torch.zeros(za.shape[1], zb.shape[1], dtype=OFFICIAL_DTYPE, device=device)
            product = torch.empty(acc.shape, dtype=torch.float32, device=device)
        # addmm_ into a bfloat16 accumulator: the batch's product in float32 plus the
        # accumulator, rounded once to bfloat16 (increments under half an ulp are lost)
        torch.mm(za.T, zb, out=product)
        acc.copy_(product.add_(acc))
    return acc


def official_r(values: torch.Tensor, count: int) -> torch.Tensor:
    """Accumulator values divided by the count as match_save.py does (bfloat16 / count,
    non-finite -> 0), returned as float32 (find_best_buddies.py's `.to(torch.float32)`)."""
    return torch.nan_to_num(values / count, nan=0.0, posinf=0.0, neginf=0.0).float()


def match_official(source: Source, *, k: int = 1, candidates: int | None = None,
                   min_correlation: float = OFFICIAL_MIN_CORRELATION,
                   layers_a: Sequence[int] | None = None,
                   layers_b: Sequence[int] | None = None,
                   block_cols: int | None = None, memory_bytes: float | None = None,
                   device: torch.device | str = "cpu", progress: bool = False) -> Matches:
    """Match neurons with the official code's arithmetic (see the module notes).

    Parameters
    ----------
    source : callable
        Returns a fresh iterator of aligned (a, b) batches, shapes (tokens, n) and (tokens, m);
        activations are rounded to bfloat16 (what a bfloat16 model gives).
    k : int
        Mutual top-k, global over all layers (k = 1: mutual nearest neighbours).
    candidates : int, optional
        Partners kept per neuron in the returned lists (>= k; default k), merged as the
        official lists are; the pairs come from the official lists of k.
    min_correlation : float
        The official threshold (default 0.0).
    layers_a, layers_b : sequences of int, optional
        Each model's layer widths (default: one layer); the neighbour files are per layer
        pair, so they set where `torch.topk` runs.
    block_cols, memory_bytes
        B's neurons per products pass, in whole layers of B (a wider layer takes a pass of
        its own); by default as many as fit in `memory_bytes` (default: a quarter of the
        device's free memory) at ~16 bytes per accumulator entry.
    device : where the arithmetic runs.

    Returns
    -------
    Matches with `rechecked` False, no chunk statistics, `dead_a`/`dead_b` the constant
    neurons (which take part in matching at r = 0) and `passes` = 1 + the products passes.

    Notes
    -----
    docs/matching.md, "Replaying the official code", states each approximation, the official
    file it comes from and its measured effect. The replay is for comparison only: at the
    official 10^7 samples in batches of 8192 the bfloat16 accumulator reads planted r at
    0.2 to 0.4 of the truth.
    """
    keep = check_options(k, candidates, groups=0)
    n, m = widths(source)
    spans_a, spans_b = _layer_spans(layers_a, n, "A"), _layer_spans(layers_b, m, "B")
    memory = memory_bytes if memory_bytes is not None else available_memory(device) / 4
    passes = _passes(spans_b, block_cols or block_size_for(n, memory, bytes_per_value=16))
    stats = official_stats(source, device)
    lists = {size: (_Lists(n, size), _Lists(m, size)) for size in {k, keep}}
    for group in progress_bar(passes, desc="official blocks", show=progress):
        cols = slice(group[0].start, group[-1].stop)
        acc = official_block(source, stats, cols, device)
        for span_b in group:  # B's layers in increasing order, as the A-side merge reads them
            for span_a in spans_a:
                block = acc[span_a, span_b.start - cols.start:span_b.stop - cols.start]
                _merge_files(block, stats[0].count, span_a, span_b, lists, min_correlation)
    return _matches(stats, lists[k], lists[keep], min_correlation=min_correlation, k=k,
                    passes=1 + len(passes))


def _layer_spans(sizes: Sequence[int] | None, width: int, name: str) -> list[slice]:
    """Each layer's neurons as a slice of the model's; a ValueError naming the model when
    the widths do not add up to the stream's."""
    sizes = [width] if sizes is None else [int(x) for x in sizes]
    if sum(sizes) != width or min(sizes) < 1:
        raise ValueError(f"model {name}: layer widths {sizes} do not add up to the stream's "
                         f"{width} neurons")
    edges = np.concatenate([[0], np.cumsum(sizes)]).tolist()
    return [slice(lo, hi) for lo, hi in zip(edges, edges[1:])]


def _passes(spans: list[slice], width: int) -> list[list[slice]]:
    """B's layers grouped into products passes of at most `width` neurons (whole layers)."""
    groups = [[spans[0]]]
    for span in spans[1:]:
        if span.stop - groups[-1][0].start <= width:
            groups[-1].append(span)
        else:
            groups.append([span])
    return groups


class _Lists:
    """One model's global top-K lists as find_best_buddies.py keeps them: scores (float32,
    -inf where empty) and the partners' global indices (-1 where empty)."""

    def __init__(self, lines: int, size: int):
        self.size = size
        self.scores = torch.full((lines, size), -torch.inf)
        self.ids = torch.full((lines, size), -1, dtype=torch.int64)

    def merge(self, lines: slice, scores: torch.Tensor, ids: torch.Tensor,
              min_correlation: float) -> None:
        """Merge one neighbour file (sorted, best first) into the lists of `lines`."""
        use = min(self.size, scores.shape[1])
        scores, ids = scores[:, :use].float(), ids[:, :use]
        if min_correlation > -np.inf:
            scores = scores.masked_fill(scores < min_correlation, -torch.inf)
        both = torch.cat([self.scores[lines], scores], dim=1)
        best, order = torch.topk(both, self.size, dim=1, largest=True, sorted=True)
        self.scores[lines] = best
        self.ids[lines] = torch.cat([self.ids[lines], ids], dim=1).gather(1, order)


def _merge_files(block: torch.Tensor, count: int, span_a: slice, span_b: slice,
                 lists: dict, min_correlation: float) -> None:
    """The two neighbour files of one layer pair (top `TOP_T` of the accumulator along each
    side, as match_save.py takes them), merged into every list size."""
    values_a, index_a = torch.topk(block, min(TOP_T, block.shape[1]), dim=1, sorted=True)
    values_b, index_b = torch.topk(block, min(TOP_T, block.shape[0]), dim=0, sorted=True)
    files_a = official_r(values_a, count).cpu(), index_a.cpu() + span_b.start
    files_b = official_r(values_b, count).T.cpu(), index_b.T.cpu() + span_a.start
    for side_a, side_b in lists.values():
        side_a.merge(span_a, *files_a, min_correlation)
        side_b.merge(span_b, *files_b, min_correlation)


def _matches(stats, pairs: tuple[_Lists, _Lists], kept: tuple[_Lists, _Lists], *,
             min_correlation, k, passes) -> Matches:
    """Pairs as find_best_buddies.py intersects the lists: an A-side edge with a finite score
    at or above the threshold that is also a B-side edge (any listed partner)."""
    side_a, side_b = pairs
    n, m = side_a.ids.shape[0], side_b.ids.shape[0]
    a_edges = np.repeat(np.arange(n), side_a.size)
    b_of_a, score = side_a.ids.numpy().ravel(), side_a.scores.numpy().ravel()
    usable = (b_of_a >= 0) & np.isfinite(score) & (score >= min_correlation)
    codes_a = a_edges[usable] * m + b_of_a[usable]
    a_of_b = side_b.ids.numpy().ravel()
    codes_b = a_of_b[a_of_b >= 0] * m + np.repeat(np.arange(m), side_b.size)[a_of_b >= 0]
    shared, first, _ = np.intersect1d(codes_a, codes_b, return_indices=True)
    stats_a, stats_b = stats
    rows, cols = kept
    return Matches(
        index_a=shared // m, index_b=shared % m,
        correlation=score[usable][first].astype(np.float64), k=k,
        min_correlation=float(min_correlation), n_tokens=stats_a.count,
        row_partners=rows.ids.clamp(min=0).numpy(), row_r=rows.scores.numpy(),
        col_partners=cols.ids.clamp(min=0).numpy(), col_r=cols.scores.numpy(),
        dead_a=stats_a.dead.cpu().numpy(), dead_b=stats_b.dead.cpu().numpy(),
        rechecked=False, max_recheck_change=None, changed_pairs=0, chunks=None,
        block_rows=len(stats_a.mean), passes=passes, guarantee={"mode": "official"})
