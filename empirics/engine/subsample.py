"""The first pass of the two-stage engine: exact moments, tails and a uniform token sample.

One pass over the stream merges, for every neuron, the count, mean and central moments up to
the fourth (Pébay's pairwise update, float64) and the smallest and largest activation, and
keeps a uniform sample of `size` tokens without replacement (reservoir sampling, Algorithm R,
seeded). After the pass the sample is z-scored with the *stream's* moments, so that

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
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from empirics.engine.moments import Moments, Source, checked_batches


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


@dataclass(frozen=True)
class Subsample:
    """What the first pass returns: each model's spread and z-scored token sample (s, n),
    the offsets k the sample was shifted by, and the stream's token count and batches."""

    spread_a: Spread
    spread_b: Spread
    z_a: torch.Tensor
    z_b: torch.Tensor
    shift_excess_a: torch.Tensor
    shift_excess_b: torch.Tensor
    n_batches: int

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
) -> Subsample:
    """Stream once: spreads of every neuron and a uniform sample of `size` tokens.

    Parameters
    ----------
    size : int
        Tokens to keep (all of them when the stream is shorter).
    seed : int
        Seed of the reservoir's draws (the certificate's probability is over them).
    device, dtype
        Where the moments are merged, and the sample's precision.
    cache_device : device, optional
        Where the sample is kept (default: `device`).
    cache_dir : path, optional
        Keep the sample in memory-mapped files there (`sample_a.bin`, `sample_b.bin`)
        instead.
    """
    if size < 1:
        raise ValueError(f"the subsample needs at least 1 token, got {size}")
    rng = np.random.default_rng(seed)
    spreads, caches, shifts, seen, batches = [None, None], [None, None], [None, None], 0, 0
    for _, a, b in checked_batches(source):
        batches += 1
        slots, rows = _reservoir_slots(seen, a.shape[0], size, rng)
        seen += a.shape[0]
        for side, x in enumerate((a, b)):
            x = x.to(device)
            piece = Spread.of(x)
            spreads[side] = piece if spreads[side] is None else spreads[side].merge(piece)
            if caches[side] is None:
                shifts[side] = piece.mean.to(torch.float32)
                caches[side] = _allocate(size, x.shape[1], dtype, cache_device or device,
                                         cache_dir, "ab"[side])
            if len(slots):
                rows_t = torch.as_tensor(rows, device=x.device)
                values = (x[rows_t].to(torch.float32) - shifts[side]).to(dtype)
                caches[side][torch.as_tensor(slots, device=caches[side].device)] = (
                    values.to(caches[side].device))
    kept = min(size, seen)
    excess = []
    for side in (0, 1):
        caches[side] = caches[side][:kept]
        excess.append(_standardize_(caches[side], spreads[side], shifts[side]))
    return Subsample(spreads[0], spreads[1], caches[0], caches[1], excess[0], excess[1],
                     batches)


def _reservoir_slots(seen: int, tokens: int, size: int, rng: np.random.Generator):
    """Algorithm R for a batch of `tokens` after `seen`: (slots, batch rows) to write, each
    slot once (a later token of the batch replaces an earlier one in the same slot)."""
    index = np.arange(seen, seen + tokens)
    slot = np.where(index < size, index, rng.integers(0, index + 1))
    write = np.flatnonzero(slot < size)
    slots, last = np.unique(slot[write][::-1], return_index=True)
    return slots, write[::-1][last]


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
