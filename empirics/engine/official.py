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
3. pairs (`language/find_best_buddies.py`): every neuron's global top-k over all layers of
   the other model, mutual top-k, pairs kept at r >= --min_correlation (default 0.0). Dead
   (zero-variance) neurons are not excluded: their z is 0, so they meet every partner at
   r = 0 and can pair there.

`match_official` replays these over the same `Source` the exact engine reads. Ties go to the
lower index, as in the exact engine (the official `torch.topk` leaves them unspecified).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from empirics.engine.matching import (
    Matches,
    _check_options,
    _widths,
    available_memory,
    block_size_for,
    candidate_graph,
)
from empirics.engine.moments import Source, checked_batches
from empirics.engine.topk import TopK, merge_partners, sorted_topk
from empirics.records.chunks import mutual_on_graph
from runstore.progress import progress_bar

#: The official statistics' epsilon (`eps_val` in match_stats.py): std = sqrt(var + EPS).
EPS = 1e-4
#: The official compute dtype (match_cli.py's default --dtype).
OFFICIAL_DTYPE = torch.bfloat16
#: The official threshold (find_best_buddies.py's default --min_correlation).
OFFICIAL_MIN_CORRELATION = 0.0


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
    """r (n, cols) of one block of B's neurons: the bfloat16 accumulator over the stream,
    divided by the sample count in bfloat16 (returned as float32)."""
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
    return (acc.float() / stats_a.count).to(OFFICIAL_DTYPE).float()


def match_official(source: Source, *, k: int = 1, candidates: int | None = None,
                   min_correlation: float = OFFICIAL_MIN_CORRELATION,
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
        Best partners kept per neuron (>= k; default k), as the official neighbour files keep
        their top-T; mutual top-k is read off them exactly.
    min_correlation : float
        Keep only pairs with r >= this value (official default 0.0).
    block_cols, memory_bytes
        B's neurons per products pass; by default as many as fit in `memory_bytes` (default: a
        quarter of the device's free memory) at ~16 bytes per accumulator entry.
    device : where the arithmetic runs.

    Returns
    -------
    Matches with `rechecked` False, no chunk statistics, `dead_a`/`dead_b` the constant
    neurons (which take part in matching at r = 0) and `passes` = 1 + the column blocks.

    Notes
    -----
    docs/matching.md, "Replaying the official code", states each approximation, the official
    file it comes from and its measured effect. The replay is for comparison only: at the
    official 10^7 samples in batches of 8192 the bfloat16 accumulator reads planted r at
    0.2 to 0.4 of the truth.
    """
    keep = _check_options(k, candidates, groups=0)
    n, m = _widths(source)
    memory = memory_bytes if memory_bytes is not None else available_memory(device) / 4
    width = block_cols or block_size_for(n, memory, bytes_per_value=16)
    stats = official_stats(source, device)
    rows = cols = None
    starts = range(0, m, width)
    for start in progress_bar(starts, desc="official blocks", show=progress):
        block = slice(start, min(start + width, m))
        rows, new_cols = _reduce(official_block(source, stats, block, device), start, keep,
                                 rows)
        cols = new_cols if cols is None else TopK(torch.cat([cols.values, new_cols.values]),
                                                  torch.cat([cols.indices, new_cols.indices]))
    return _matches(stats, rows, cols, k=k, min_correlation=min_correlation,
                    passes=1 + len(starts))


def _reduce(r: torch.Tensor, start: int, keep: int, running: TopK | None
            ) -> tuple[TopK, TopK]:
    """Rows' best partners merged with those of earlier blocks (which hold lower indices and
    win ties), and the block's columns' best partners (every row is in every block)."""
    values, indices = sorted_topk(r, min(keep, r.shape[1]), dim=1)
    block_rows = _padded(TopK(values.cpu(), indices.cpu() + start), keep)
    rows = block_rows if running is None else merge_partners(running, block_rows, keep)
    col_values, col_rows = sorted_topk(r, min(keep, r.shape[0]), dim=0)
    return rows, _padded(TopK(col_values.T.cpu(), col_rows.T.cpu()), keep)


def _padded(best: TopK, keep: int) -> TopK:
    """`keep` partners per line, -inf (never matched) where the block holds fewer."""
    missing = keep - best.values.shape[1]
    if missing <= 0:
        return best
    lines = best.values.shape[0]
    return TopK(torch.cat([best.values, torch.full((lines, missing), -torch.inf)], dim=1),
                torch.cat([best.indices, torch.zeros((lines, missing), dtype=torch.long)], 1))


def _matches(stats, rows: TopK, cols: TopK, *, k, min_correlation, passes) -> Matches:
    edge_a, edge_b, r = candidate_graph(rows, cols)
    r = r.astype(np.float64)
    mutual = mutual_on_graph(edge_a, edge_b, r, k)[0] & (r >= min_correlation)
    order = np.lexsort((edge_b[mutual], edge_a[mutual]))
    stats_a, stats_b = stats
    return Matches(
        index_a=edge_a[mutual][order], index_b=edge_b[mutual][order],
        correlation=r[mutual][order], k=k, min_correlation=float(min_correlation),
        n_tokens=stats_a.count,
        row_partners=rows.indices.numpy(), row_r=rows.values.numpy(),
        col_partners=cols.indices.numpy(), col_r=cols.values.numpy(),
        dead_a=stats_a.dead.cpu().numpy(), dead_b=stats_b.dead.cpu().numpy(),
        rechecked=False, max_recheck_change=None, changed_pairs=0, chunks=None,
        block_rows=len(stats_a.mean), passes=passes, guarantee={"mode": "official"})
