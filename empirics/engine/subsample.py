"""The first pass of the two-stage engine: exact moments, tails and a uniform token sample.

One pass over the stream merges, for every neuron, the count, mean and central moments up to
the fourth (Pébay's pairwise update, float64) and the smallest and largest activation, and
keeps a uniform sample of `size` tokens without replacement: the `size` tokens of smallest
key, keys drawn from (seed, the batch's index in the stream) alone (`empirics.engine.sampling`).
After the pass the sample is z-scored with the *stream's* moments, so that

    r~_ij = (1 / s) sum_{t in sample} z_ti z_tj

is an unbiased estimate of the stream's Pearson r_ij (docs/matching.md, "Two-stage mode").

Notes
-----
The sample keeps x - k in the cache dtype (k: the first batch's means), so a reduced-precision
cache rounds the spread, not the mean: the error of a cached z is at most u (2 |z| + c) with u
the dtype's unit roundoff and c = |mean - k| / std, which the certificate's rounding term
carries (`empirics.engine.screening`). The cache lives on `cache_device` (the device, or the
host when it does not fit there), or in a file per model under `cache_dir` (a memory map,
token-major, read in blocks of neurons).

Several processes (a data split, `empirics.engine.distributed`): each rank streams its own
batches and keeps the bottom `size` keys of its tokens; merged, they are the very tokens one
process would keep (`empirics.engine.sampling`). The spreads merge by Pébay's update in rank
order; each rank z-scores its own tokens (its own shift k, the merged spread) and the c terms
take the largest over the ranks. The screen then splits A's rows over the ranks: every rank
receives B's whole sample and the columns of A's sample of its own share of rows
(`first_row`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from empirics.engine.distributed import SINGLE, Ranks
from empirics.engine.moments import Moments, Source, checked_batches
from empirics.engine.sampling import bottom_slots, picked_slots, token_keys

#: Bytes of the sample a rank sends to the others at once (tokens x (n + m) values).
SHARE_BYTES = 2**28


@dataclass(frozen=True)
class Spread:
    """Per-neuron count, mean, central moment sums m2..m4 and range (float64)."""

    count: int
    mean: torch.Tensor
    m2: torch.Tensor
    m3: torch.Tensor
    m4: torch.Tensor
    low: torch.Tensor
    high: torch.Tensor

    @classmethod
    def of(cls, x: torch.Tensor) -> Spread:
        """The spread of one batch (tokens x neurons)."""
        low, high = x.aminmax(dim=0)
        d = x.to(torch.float64, copy=True)
        mean = d.mean(dim=0)
        d -= mean
        d2 = d * d
        m2, m4 = d2.sum(0), (d2 * d2).sum(0)
        return cls(x.shape[0], mean, m2, d.mul_(d2).sum(0), m4, low.to(torch.float64),
                   high.to(torch.float64))

    def merge(self, other: Spread) -> Spread:
        """Pébay's (2008) update: the spread of the union of two disjoint batches."""
        na, nb = self.count, other.count
        n = na + nb
        delta = other.mean - self.mean
        m2 = self.m2 + other.m2 + delta**2 * (na * nb / n)
        m3 = (self.m3 + other.m3 + delta**3 * (na * nb * (na - nb) / n**2)
              + 3 * delta * (na * other.m2 - nb * self.m2) / n)
        m4 = (self.m4 + other.m4 + delta**4 * (na * nb * (na * na - na * nb + nb * nb) / n**3)
              + 6 * delta**2 * (na * na * other.m2 + nb * nb * self.m2) / n**2
              + 4 * delta * (na * other.m3 - nb * self.m3) / n)
        return Spread(n, self.mean + delta * (nb / n), m2, m3, m4,
                      torch.minimum(self.low, other.low), torch.maximum(self.high, other.high))

    @property
    def moments(self) -> Moments:
        return Moments(self.count, self.mean, torch.clamp(self.m2, min=0.0))

    def z_range(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(smallest z <= 0, largest z >= 0) over the stream; 0 for dead neurons."""
        moments = self.moments
        std = torch.where(moments.dead, torch.ones_like(self.m2), moments.std)
        low = torch.clamp((self.low - self.mean) / std, max=0.0)
        high = torch.clamp((self.high - self.mean) / std, min=0.0)
        dead = moments.dead
        return torch.where(dead, 0.0, low), torch.where(dead, 0.0, high)

    def kurtosis(self) -> torch.Tensor:
        """mean(z^4) over the stream (>= 1 for live neurons; 0 for dead ones)."""
        dead = self.moments.dead
        m2 = torch.where(dead, torch.ones_like(self.m2), self.m2)
        return torch.where(dead, 0.0, torch.clamp(self.m4, min=0.0) * self.count / m2**2)

    def rows(self, part: slice) -> Spread:
        """The spread of the neurons in `part` only."""
        return Spread(self.count, *(getattr(self, name)[part]
                                    for name in ("mean", "m2", "m3", "m4", "low", "high")))

    def to(self, device) -> Spread:
        return Spread(self.count, *(getattr(self, name).to(device)
                                    for name in ("mean", "m2", "m3", "m4", "low", "high")))


@dataclass(frozen=True)
class Subsample:
    """What the first pass returns: each model's spread and z-scored token sample (s, n),
    the excess c of the offsets k the sample was shifted by, and the stream's token count and
    batches. `z_a` holds A's neurons from `first_row` on (all of them in one process; a
    rank's share of rows in a data split), the spreads and excesses all neurons."""

    spread_a: Spread
    spread_b: Spread
    z_a: torch.Tensor
    z_b: torch.Tensor
    shift_excess_a: torch.Tensor
    shift_excess_b: torch.Tensor
    n_batches: int
    first_row: int = 0

    @property
    def rows_a(self) -> slice:
        """A's neurons whose sample `z_a` holds."""
        return slice(self.first_row, self.first_row + self.z_a.shape[1])

    @property
    def size(self) -> int:
        return self.z_a.shape[0]

    @property
    def n_tokens(self) -> int:
        return self.spread_a.count


def sample_pass(
    source: Source,
    size: int,
    *,
    seed: int = 0,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    cache_device: torch.device | str | None = None,
    cache_dir: str | Path | None = None,
    ranks: Ranks = SINGLE,
) -> Subsample:
    """Stream once: spreads of every neuron and a uniform sample of `size` tokens.

    Parameters
    ----------
    size : int
        Tokens to keep (all of them when the stream is shorter).
    seed : int
        Seed of the tokens' keys (the certificate's probability is over them).
    device, dtype
        Where the moments are merged, and the sample's precision.
    cache_device : device, optional
        Where the sample is kept (default: `device`).
    cache_dir : path, optional
        Keep the sample in memory-mapped files there (`sample_a.bin`, `sample_b.bin`)
        instead.
    ranks : empirics.engine.distributed.Ranks
        A data split: `source` is this rank's share of the batches; the samples merge into
        the whole stream's (module notes) and `z_a` holds this rank's share of A's rows.
    """
    if size < 1:
        raise ValueError(f"the subsample needs at least 1 token, got {size}")
    local = _bottom_sample(source, size, seed=seed, device=device, dtype=dtype,
                           cache_device=cache_device or device, cache_dir=cache_dir,
                           ranks=ranks)
    if ranks.shards_data:
        return _merge_ranks(local, ranks, cache_dir=cache_dir)
    kept = int(np.isfinite(local.keys).sum())  # the filled slots come first
    caches = [cache[:kept] for cache in local.caches]
    excess = [_standardize_(cache, spread, shift)
              for cache, spread, shift in zip(caches, local.spreads, local.shifts)]
    return Subsample(*local.spreads, *caches, *excess, local.batches)


@dataclass(frozen=True)
class _Local:
    """One process's pass: spreads, the cached x - k of its bottom keys (slot order), the
    offsets k, the keys of the slots (+inf: empty) and the batches read."""

    spreads: list
    caches: list
    shifts: list
    keys: np.ndarray
    batches: int


def _bottom_sample(source, size, *, seed, device, dtype, cache_device, cache_dir,
                   ranks) -> _Local:
    """Spreads and the bottom `size` keys of this process's batches (see `sample_pass`)."""
    keys = np.full(size, np.inf)
    spreads, caches, shifts, batches = [None, None], [None, None], [None, None], 0
    for index, a, b in checked_batches(source):
        batches += 1
        slots, rows = bottom_slots(keys, token_keys(seed, ranks.global_batch(index),
                                                    a.shape[0]))
        for side, x in enumerate((a, b)):
            x = x.to(device)
            piece = Spread.of(x)
            spreads[side] = piece if spreads[side] is None else spreads[side].merge(piece)
            if caches[side] is None:
                shifts[side] = piece.mean.to(torch.float32)
                caches[side] = _allocate(size, x.shape[1], dtype, cache_device, cache_dir,
                                         "ab"[side])
            if len(slots):
                rows_t = torch.as_tensor(rows, device=x.device)
                values = (x[rows_t].to(torch.float32) - shifts[side]).to(dtype)
                caches[side][torch.as_tensor(slots, device=caches[side].device)] = (
                    values.to(caches[side].device))
    return _Local(spreads, caches, shifts, keys, batches)


def _merge_ranks(local: _Local, ranks: Ranks, *, cache_dir) -> Subsample:
    """The whole stream's sample from every rank's bottom keys (module notes): this rank
    keeps B's whole sample and the columns of A's for its share of rows."""
    device = local.spreads[0].mean.device
    parts = ranks.gather_objects((local.keys, [x.to("cpu") for x in local.spreads],
                                  local.batches))
    spreads = [_merge_in_order([part[1][side] for part in parts]).to(device) for side in (0, 1)]
    picked = picked_slots([part[0] for part in parts])
    own = int(np.isfinite(local.keys).sum())
    excess = [_standardize_(cache[:own], spread, shift)
              for cache, spread, shift in zip(local.caches, spreads, local.shifts)]
    excess = [torch.stack([x.to(device) for x in ranks.gather_objects(c.cpu())]).amax(dim=0)
              for c in excess]
    share = ranks.row_share(spreads[0].mean.numel())
    total = sum(len(p) for p in picked)
    cache_a, cache_b = local.caches
    z_a = _allocate(total, share.stop - share.start, cache_a.dtype, cache_a.device, cache_dir,
                    "share_a")
    z_b = _allocate(total, cache_b.shape[1], cache_b.dtype, cache_b.device, cache_dir,
                    "share_b")
    chunk = max(1, SHARE_BYTES // (cache_a.element_size() * (cache_a.shape[1]
                                                                + cache_b.shape[1])))
    at = 0
    for sender, slots in enumerate(picked):
        for start in range(0, len(slots), chunk):
            part = torch.as_tensor(slots[start:start + chunk], device=cache_a.device)
            rows = slice(at, at + len(part))
            z_a[rows] = _sent(cache_a, part, sender, ranks)[:, share]
            z_b[rows] = _sent(cache_b, part, sender, ranks)
            at += len(part)
    _release(local.caches, cache_dir)
    return Subsample(*spreads, z_a, z_b, *excess,
                     sum(part[2] for part in parts), first_row=share.start)


def _merge_in_order(spreads: list) -> Spread:
    merged = spreads[0]
    for spread in spreads[1:]:
        merged = merged.merge(spread)
    return merged


def _sent(cache: torch.Tensor, slots: torch.Tensor, sender: int, ranks: Ranks) -> torch.Tensor:
    """Rows `slots` of the `sender` rank's cache, on every rank."""
    buffer = torch.empty(len(slots), cache.shape[1], dtype=cache.dtype, device=cache.device)
    if ranks.rank == sender:
        buffer.copy_(cache[slots])
    return ranks.share_from_(buffer, sender)


def _release(caches: list, cache_dir) -> None:
    """Drop the local sample (its files too) once the merged one is built."""
    caches.clear()
    if cache_dir is not None:
        for name in "ab":
            (Path(cache_dir) / f"sample_{name}.bin").unlink(missing_ok=True)


def _allocate(size, width, dtype, device, cache_dir, name) -> torch.Tensor:
    if cache_dir is None:
        return torch.zeros(size, width, dtype=dtype, device=device)
    path = Path(cache_dir) / f"sample_{name}.bin"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    flat = torch.from_file(str(path), shared=True, size=size * width, dtype=dtype)
    return flat.view(size, width)


def _standardize_(cache: torch.Tensor, spread: Spread, shift: torch.Tensor,
                  chunk: int = 4096) -> torch.Tensor:
    """z = (x - k - (mean - k)) / std in place, in chunks of tokens (dead neurons: 0); returns
    c = |mean - k| / std per neuron (0 for dead ones)."""
    moments = spread.moments
    dead = moments.dead
    std = torch.where(dead, torch.ones_like(moments.m2), moments.std)
    gap = moments.mean - shift.to(torch.float64)
    offset = gap.to(cache.device, torch.float32)
    scale = torch.where(dead, 0.0, 1.0 / std).to(cache.device, torch.float32)
    for start in range(0, cache.shape[0], chunk):
        part = cache[start:start + chunk]
        part.copy_(((part.to(torch.float32) - offset) * scale).to(cache.dtype))
    return torch.where(dead, 0.0, gap.abs() / std)
