"""Per-neuron moments of activation streams, merged exactly across batches.

Activations arrive as a re-iterable stream of aligned batches: `source()` returns an iterator
of (a, b) pairs, a of shape (tokens, n) for model A and b of shape (tokens, m) for model B, the
same tokens in the same order. Nothing of size n x m or tokens x (n + m) is ever held.

Notes
-----
Batches are merged with Chan et al.'s update (count, mean, M2 in float64), which stays exact
when a neuron's mean is large against its spread; a one-pass raw-sum accumulation loses
~(mean/std)^2 eps relative accuracy. Inside a batch the engine sums values *shifted* by a
per-neuron offset close to the mean (`shifted_moments`), so float32 sums keep their digits:
the error of M2 is ~eps32 (1 + c^2) with c = |mean - shift| / std (docs/matching.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
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

    def to(self, device) -> Moments:
        return Moments(self.count, self.mean.to(device), self.m2.to(device))


def batch_moments(x: torch.Tensor) -> Moments:
    """Moments of one batch (tokens x neurons), computed in float64."""
    x = x.to(torch.float64)
    mean = x.mean(dim=0)
    return Moments(x.shape[0], mean, ((x - mean) ** 2).sum(dim=0))


class Scratch:
    """Buffers reused across batches (a batch's rows fill the front of a buffer)."""

    def __init__(self):
        self._buffers: dict[str, torch.Tensor] = {}

    def take(self, name: str, like: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """A tensor shaped like `like`, in `dtype`, backed by a reused buffer."""
        rows, rest = like.shape[0], tuple(like.shape[1:])
        buffer = self._buffers.get(name)
        if (buffer is None or buffer.shape[0] < rows or tuple(buffer.shape[1:]) != rest
                or buffer.dtype != dtype or buffer.device != like.device):
            buffer = torch.empty((rows, *rest), dtype=dtype, device=like.device)
            self._buffers[name] = buffer
        return buffer[:rows]

    def shifted(self, name: str, x: torch.Tensor, shift: torch.Tensor,
                dtype: torch.dtype) -> torch.Tensor:
        """x - shift in `dtype`, written into the buffer `name`."""
        return torch.sub(x.to(dtype), shift, out=self.take(name, x, dtype))


def shifted_moments(u: torch.Tensor, shift: torch.Tensor, scratch: Scratch | None = None
                    ) -> Moments:
    """Moments of one batch given as u = x - shift (any float dtype; sums kept in u's dtype).

    Notes
    -----
    M2 = sum(u^2) - T mean_u^2 cancels by a factor 1 + c^2 (c = |mean_u| / std), so the
    shift must lie within a few standard deviations of the batch mean for float32 sums.
    """
    count = u.shape[0]
    mean_u = u.sum(dim=0).to(torch.float64) / count
    square = u.square() if scratch is None else torch.mul(u, u, out=scratch.take("sq", u, u.dtype))
    m2 = square.sum(dim=0).to(torch.float64) - count * mean_u**2
    return Moments(count, shift.to(torch.float64) + mean_u, torch.clamp(m2, min=0.0))


def merge_moments(left: Moments | None, right: Moments) -> Moments:
    """Chan et al.'s pairwise update: the moments of the union of two disjoint batches."""
    if left is None or left.count == 0:
        return right
    total = left.count + right.count
    delta = right.mean - left.mean
    mean = left.mean + delta * (right.count / total)
    m2 = left.m2 + right.m2 + delta**2 * (left.count * right.count / total)
    return Moments(total, mean, m2)


def as_batch(item, index: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One element of a stream as two 2-d float tensors (NumPy arrays are converted),
    or a ValueError naming the batch and what was expected."""
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        raise ValueError(f"batch {index}: expected a pair (a, b) of (tokens, neurons) arrays, "
                         f"got {type(item).__name__}")
    pair = []
    for name, x in zip("AB", item):
        if isinstance(x, np.ndarray):
            x = torch.from_numpy(x)
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"batch {index}, model {name}: expected a torch tensor or NumPy "
                             f"array, got {type(x).__name__}")
        if x.ndim != 2:
            raise ValueError(f"batch {index}, model {name}: expected (tokens, neurons), "
                             f"got shape {tuple(x.shape)}")
        if not (x.dtype.is_floating_point or x.dtype in (torch.int32, torch.int64)):
            raise ValueError(f"batch {index}, model {name}: expected real activations, got "
                             f"dtype {x.dtype}")
        pair.append(x if x.dtype.is_floating_point else x.to(torch.float32))
    return pair[0], pair[1]


def check_batch(a: torch.Tensor, b: torch.Tensor, index: int, widths=None) -> None:
    """Raise a ValueError naming the batch and the side for malformed input."""
    for name, x in (("A", a), ("B", b)):
        if x.ndim != 2:
            raise ValueError(f"batch {index}, model {name}: expected (tokens, neurons), "
                             f"got shape {tuple(x.shape)}")
        if not _all_finite(x):
            bad = torch.nonzero(~torch.isfinite(x))[0].tolist()
            raise ValueError(f"batch {index}, model {name}: non-finite activation at "
                             f"(token {bad[0]}, neuron {bad[1]})")
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"batch {index}: model A has {a.shape[0]} tokens, model B "
                         f"{b.shape[0]}; the inputs must be aligned token by token")
    if widths is not None and (a.shape[1], b.shape[1]) != widths:
        raise ValueError(f"batch {index}: widths {(a.shape[1], b.shape[1])} differ from the "
                         f"first batch's {widths}")


def _all_finite(x: torch.Tensor) -> bool:
    """All entries finite; a finite sum proves it without a full mask (one cheap pass)."""
    return bool(torch.isfinite(x.sum())) or bool(torch.isfinite(x).all())


def checked_batches(source: Source, check: bool = True):
    """Iterate the stream, skipping empty batches. Every batch's structure is checked (a
    pair of 2-d arrays, aligned tokens, the first batch's widths); with `check` also that
    every activation is finite (a full pass over the values).

    Raises a ValueError naming the batch for malformed input, and when the stream holds no
    tokens at all.
    """
    widths, tokens = None, 0
    for index, item in enumerate(source()):
        a, b = as_batch(item, index)
        if check:
            check_batch(a, b, index, widths)
        elif a.shape[0] != b.shape[0] or (widths and (a.shape[1], b.shape[1]) != widths):
            check_batch(a, b, index, widths)  # names the misalignment
        widths = (a.shape[1], b.shape[1])
        if a.shape[0]:
            tokens += a.shape[0]
            yield index, a, b
    if tokens == 0:
        raise ValueError("the activation stream is empty: no tokens to correlate")


def stream_moments(source: Source) -> tuple[Moments, Moments]:
    """The float64 moments of every neuron of A and B over the whole stream (one pass)."""
    moments_a = moments_b = None
    for _, a, b in checked_batches(source):
        moments_a = merge_moments(moments_a, batch_moments(a))
        moments_b = merge_moments(moments_b, batch_moments(b))
    return moments_a, moments_b
