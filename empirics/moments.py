"""Streaming sufficient statistics of activations, and blocked Pearson correlation.

Activations arrive as a re-iterable stream of aligned batches: `source()` returns an iterator
of (a, b) pairs, a of shape (tokens, n) for model A and b of shape (tokens, m) for model B, the
same tokens in the same order. Nothing of size n x m or tokens x (n + m) is ever held.

Notes
-----
Pass 1 merges per-batch centred moments with Chan et al.'s update (count, mean, M2 in float64),
which stays exact when a neuron's mean is large against its spread; a one-pass raw-sum
accumulation loses ~(mean/std)^2 eps relative accuracy. Pass 2 standardises each batch with
the pass-1 moments, multiplies z-scores in `dtype` (float32 by default) and adds each batch's
product into a float64 accumulator, so rounding does not grow with the number of batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import torch

Source = Callable[[], Iterator[tuple[torch.Tensor, torch.Tensor]]]

#: Neurons whose population std is at most this (relative to max(1, |mean|)) count as dead.
DEAD_TOLERANCE = 1e-12


@dataclass(frozen=True)
class Moments:
    """Per-neuron count, mean and sum of squared deviations (M2), in float64."""

    count: int
    mean: torch.Tensor
    m2: torch.Tensor

    @property
    def std(self) -> torch.Tensor:
        """Population standard deviation sqrt(M2 / count)."""
        return torch.sqrt(self.m2 / self.count)

    @property
    def dead(self) -> torch.Tensor:
        """Mask of zero-variance neurons (excluded from matching and counted)."""
        return self.std <= DEAD_TOLERANCE * torch.clamp(self.mean.abs(), min=1.0)


def batch_moments(x: torch.Tensor) -> Moments:
    """Moments of one batch (tokens x neurons), computed in float64."""
    x = x.to(torch.float64)
    mean = x.mean(dim=0)
    return Moments(x.shape[0], mean, ((x - mean) ** 2).sum(dim=0))


def merge_moments(left: Moments, right: Moments) -> Moments:
    """Chan et al.'s pairwise update: the moments of the union of two disjoint batches."""
    if left.count == 0:
        return right
    total = left.count + right.count
    delta = right.mean - left.mean
    mean = left.mean + delta * (right.count / total)
    m2 = left.m2 + right.m2 + delta**2 * (left.count * right.count / total)
    return Moments(total, mean, m2)


def check_batch(a: torch.Tensor, b: torch.Tensor, index: int, widths=None) -> None:
    """Raise a ValueError naming the batch and the side for malformed input."""
    for name, x in (("A", a), ("B", b)):
        if x.ndim != 2:
            raise ValueError(f"batch {index}, model {name}: expected (tokens, neurons), "
                             f"got shape {tuple(x.shape)}")
        if not torch.isfinite(x).all():
            bad = torch.nonzero(~torch.isfinite(x))[0].tolist()
            raise ValueError(f"batch {index}, model {name}: non-finite activation at "
                             f"(token {bad[0]}, neuron {bad[1]})")
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"batch {index}: model A has {a.shape[0]} tokens, model B "
                         f"{b.shape[0]}; the inputs must be aligned token by token")
    if widths is not None and (a.shape[1], b.shape[1]) != widths:
        raise ValueError(f"batch {index}: widths {(a.shape[1], b.shape[1])} differ from the "
                         f"first batch's {widths}")


def stream_moments(source: Source) -> tuple[Moments, Moments]:
    """Pass 1: the moments of every neuron of A and B over the whole stream."""
    moments_a = moments_b = None
    widths = None
    for index, (a, b) in enumerate(source()):
        check_batch(a, b, index, widths)
        widths = (a.shape[1], b.shape[1])
        if a.shape[0] == 0:
            continue
        moments_a = _absorb(moments_a, a)
        moments_b = _absorb(moments_b, b)
    if moments_a is None:
        raise ValueError("the activation stream is empty: no tokens to correlate")
    return moments_a, moments_b


def _absorb(moments: Moments | None, x: torch.Tensor) -> Moments:
    return batch_moments(x) if moments is None else merge_moments(moments, batch_moments(x))


def standardise(x: torch.Tensor, moments: Moments, columns=slice(None), *, dtype) -> torch.Tensor:
    """z-scores of `x[:, columns]` with pass-1 moments; dead neurons map to 0.

    Notes
    -----
    For products in float32 or lower the arithmetic stays in float32 with the float64 mean
    split into hi + lo float32 parts: x - hi is exact (Sterbenz) for the values near a large
    mean, so a mean of 5e4 with unit spread costs no digits, where rounding the mean to
    float32 would shift every z by ~3e-3.
    """
    std = moments.std[columns]
    scale = torch.where(moments.dead[columns], torch.zeros_like(std), 1.0 / std)
    mean = moments.mean[columns]
    if dtype == torch.float64 or x.dtype == torch.float64:
        return ((x[:, columns].to(torch.float64) - mean) * scale).to(dtype)
    hi = mean.to(torch.float32)
    lo = (mean - hi.to(torch.float64)).to(torch.float32)
    z = ((x[:, columns].to(torch.float32) - hi) - lo) * scale.to(torch.float32)
    return z.to(dtype)


def correlation_rows(
    source: Source,
    moments_a: Moments,
    moments_b: Moments,
    rows: slice,
    *,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Pass 2 for one block of A's neurons: Pearson r of rows x all of B, in float64.

    Dead neurons get r = 0 against everything.
    """
    ma, mb = _to(moments_a, device), _to(moments_b, device)
    acc = None
    for a, b in source():
        if a.shape[0] == 0:
            continue
        za = standardise(a.to(device), ma, rows, dtype=dtype)
        zb = standardise(b.to(device), mb, dtype=dtype)
        product = (za.T @ zb).to(torch.float64)
        acc = product if acc is None else acc.add_(product)
    return acc / moments_a.count


def _to(moments: Moments, device) -> Moments:
    return Moments(moments.count, moments.mean.to(device), moments.m2.to(device))


def pair_correlations(
    source: Source,
    moments_a: Moments,
    moments_b: Moments,
    index_a: torch.Tensor,
    index_b: torch.Tensor,
) -> torch.Tensor:
    """Pearson r of the given (A neuron, B neuron) pairs, entirely in float64 (one pass).

    Used to re-check pairs found with reduced-precision products.
    """
    acc = torch.zeros(len(index_a), dtype=torch.float64)
    for a, b in source():
        if a.shape[0] == 0:
            continue
        za = standardise(a, moments_a, index_a, dtype=torch.float64)
        zb = standardise(b, moments_b, index_b, dtype=torch.float64)
        acc += (za * zb).sum(dim=0).cpu()
    return acc / moments_a.count
