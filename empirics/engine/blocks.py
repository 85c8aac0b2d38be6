"""One pass over the stream for a block of A's neurons: shifted cross-products -> Pearson r.

For rows R of A and all m neurons of B a pass accumulates, over every batch,

    C[i, j] = sum_t (a_ti - k_i) s_i (b_tj - l_j) s_j

with per-neuron offsets k, l near the means and scales s (1 unless the products run in
reduced precision); the same pass can merge the moments of every neuron. Then

    r_ij = (C_ij / (s_i s_j T) - (mu_i - k_i)(mu_j - l_j)) / (sigma_i sigma_j).

Notes
-----
The shifted products need no separate standardisation pass: the first pass takes the offsets
from its first batch and learns the exact moments while it multiplies. The cancellation in r
grows like sqrt((1 + c_i^2)(1 + c_j^2)) with c = |mu - k| / sigma; when some neuron's c
exceeds `SHIFT_LIMIT` (a first batch unlike the rest) the engine redoes that pass with offsets
at the exact means (docs/matching.md). Products accumulate in float32 for at most
`FOLD_TOKENS` tokens before being added to a float64 total, so rounding does not grow with T.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch

from empirics.engine.distributed import SINGLE, Ranks
from empirics.engine.moments import (
    Moments,
    Scratch,
    Source,
    checked_batches,
    merge_moments,
    shifted_moments,
)

#: Largest |mean - offset| / std accepted for a pass; above it the pass is redone.
SHIFT_LIMIT = 2.0
#: Tokens accumulated in float32 before a float64 fold.
FOLD_TOKENS = 16384
#: Bytes per entry of a block during its pass: float64 sums (8) and float32 partial sums (4).
BYTES_PER_ENTRY = 12
#: A block's fold and reduced-precision products run in this many row slices at least, so
#: their temporaries add at most 8 / SLICES bytes per entry (`slice_rows`).
SLICES = 64
#: ... and in slices of at least this many entries (small blocks: one temporary of 8 MB).
SLICE_ENTRIES = 2**20
REDUCED = (torch.float16, torch.bfloat16)


@dataclass(frozen=True)
class Frame:
    """Per-neuron offset (in the working dtype) and product scale of one model's neurons."""

    shift: torch.Tensor
    scale: torch.Tensor

    @classmethod
    def of(cls, moments: Moments, work: torch.dtype, dtype: torch.dtype) -> Frame:
        """Offsets at the means; scales 1/std for reduced-precision products (dead: 1)."""
        if dtype in REDUCED:
            scale = torch.where(moments.dead, torch.ones_like(moments.m2), 1.0 / moments.std)
        else:
            scale = torch.ones_like(moments.m2)
        return cls(moments.mean.to(work), scale)

    @classmethod
    def first(cls, x: torch.Tensor, work: torch.dtype, dtype: torch.dtype) -> Frame:
        """Offsets at the means of a first batch, scales 1 (full-precision products only:
        the scales of reduced-precision products come from the whole stream's moments)."""
        if dtype in REDUCED:
            raise ValueError("reduced-precision products are scaled by the stream's standard "
                             "deviations: pass the moments of a full pass as `reference`")
        x = x.to(work)
        shift = x.sum(dim=0) / x.shape[0]
        return cls(shift, torch.ones_like(shift, dtype=torch.float64))


@dataclass(frozen=True)
class BlockSums:
    """What one pass returns: the cross-products of the block and, optionally, moments."""

    cross: torch.Tensor
    frame_a: Frame
    frame_b: Frame
    moments_a: Moments | None
    moments_b: Moments | None
    fingerprint: str


def working_dtype(x: torch.Tensor) -> torch.dtype:
    """Shifts and sums run in float64 for float64 inputs, else in float32."""
    return torch.float64 if x.dtype == torch.float64 else torch.float32


class StreamDigest:
    """A short hash of a whole stream, to tell a resumed or reused stream from another.

    Every batch adds its shapes and a fixed sample of its values (its first, middle and last
    rows at up to 256 evenly strided columns of each model), exactly as stored, so the same
    stream gives the same digest on any device. A stream that differs in its number of
    batches, any batch's size, or a sampled value is told apart; a change confined to values
    outside the sample is not (hashing every value would cost a second read of the stream).
    """

    COLUMNS = 256

    def __init__(self):
        self._hash = hashlib.sha256()

    def update(self, a: torch.Tensor, b: torch.Tensor) -> None:
        for x in (a, b):
            self._hash.update(str(tuple(x.shape)).encode())
            if x.shape[0] == 0:
                continue
            rows = sorted({0, x.shape[0] // 2, x.shape[0] - 1})
            step = max(1, x.shape[1] // self.COLUMNS)
            sample = x[rows][:, ::step].detach().to(torch.float64).cpu().contiguous()
            self._hash.update(sample.numpy().tobytes())

    def hexdigest(self) -> str:
        return self._hash.hexdigest()[:16]


def stream_digest(source: Source, ranks: Ranks = SINGLE) -> str:
    """The `StreamDigest` of one full pass over `source` (rank 0's for a data split)."""
    digest = StreamDigest()
    for _, a, b in checked_batches(source, check=False):
        digest.update(a, b)
    return ranks.rank0_text(digest.hexdigest())


def block_pass(
    source: Source,
    rows: slice,
    reference: tuple[Moments, Moments] | None = None,
    *,
    with_moments: bool = False,
    check: bool = False,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    ranks: Ranks = SINGLE,
) -> BlockSums:
    """Stream once; accumulate the block's shifted cross-products (and moments).

    Parameters
    ----------
    rows : slice
        A's neurons of the block.
    reference : (Moments, Moments), optional
        Moments that set the offsets and scales; by default the first batch's means.
    with_moments, check
        Also merge every neuron's moments; validate every batch (shapes, finiteness).
    device, dtype
        Where and in which precision the products run.
    ranks : empirics.engine.distributed.Ranks
        For a data split: the offsets are rank 0's (its first batch is the stream's) and so
        is the fingerprint (the `StreamDigest` of its share); the sums and moments are
        combined over the ranks before returning.

    Notes
    -----
    The shifted batches are written into buffers reused from batch to batch: fresh
    allocations of that size cost as much as the arithmetic (page faults).
    """
    moments_a = moments_b = acc = None
    pending, scratch, digest = 0, Scratch(), StreamDigest()
    for _, a, b in checked_batches(source, check):
        digest.update(a, b)
        a, b = a.to(device), b.to(device)
        if acc is None:
            work = working_dtype(a)
            if reference is None:
                frame_a, frame_b = Frame.first(a, work, dtype), Frame.first(b, work, dtype)
                for tensor in (frame_a.shift, frame_a.scale, frame_b.shift, frame_b.scale):
                    ranks.broadcast_(tensor)
            else:
                frame_a = Frame.of(reference[0].to(device), work, dtype)
                frame_b = Frame.of(reference[1].to(device), work, dtype)
            acc = torch.zeros(len(range(*rows.indices(a.shape[1]))), b.shape[1],
                              dtype=torch.float64, device=device)
            acc32 = None if dtype == torch.float64 else torch.zeros_like(acc, dtype=torch.float32)
        ub = scratch.shifted("b", b, frame_b.shift, work)
        if with_moments:
            ua = scratch.shifted("a", a, frame_a.shift, work)
            moments_a = merge_moments(moments_a, shifted_moments(ua, frame_a.shift, scratch))
            moments_b = merge_moments(moments_b, shifted_moments(ub, frame_b.shift, scratch))
            ua = ua[:, rows]
        else:
            ua = scratch.shifted("a", a[:, rows], frame_a.shift[rows], work)
        _accumulate(acc, acc32, ua, ub, frame_a.scale[rows], frame_b.scale, dtype)
        pending += a.shape[0]
        if acc32 is not None and pending >= FOLD_TOKENS:
            fold_(acc, acc32)
            pending = 0
    if acc32 is not None:
        fold_(acc, acc32)
        del acc32
    if with_moments:
        moments_a, moments_b = ranks.merge_moments(moments_a), ranks.merge_moments(moments_b)
    stamp = ranks.rank0_text(digest.hexdigest())
    return BlockSums(ranks.sum_(acc), frame_a, frame_b, moments_a, moments_b, stamp)


def slice_rows(rows: int, cols: int) -> int:
    """Rows per slice of a rows x cols block for its fold and reduced-precision products:
    at most 1 / SLICES of the block, at least SLICE_ENTRIES entries (or the whole block)."""
    return max(1, min(rows, max(-(-rows // SLICES), -(-SLICE_ENTRIES // max(cols, 1)))))


def fold_(acc: torch.Tensor, acc32: torch.Tensor) -> None:
    """acc += acc32, then acc32 = 0, slice by slice.

    Notes
    -----
    A whole-block float64 += float32 converts the float32 operand into a float64 temporary of
    the block's size (8 more bytes per entry than the 12 of the two accumulators).
    """
    step = slice_rows(*acc.shape)
    for lo in range(0, acc.shape[0], step):
        acc[lo:lo + step].add_(acc32[lo:lo + step])
    acc32.zero_()


def _accumulate(acc, acc32, ua, ub, scale_a, scale_b, dtype) -> None:
    """Add ua.T @ ub (scaled first for reduced precision) into the running sums."""
    if dtype == torch.float64:
        acc.addmm_(ua.to(torch.float64).T, ub.to(torch.float64))
    elif dtype == torch.float32:
        acc32.addmm_(ua.to(torch.float32).T, ub.to(torch.float32))
    elif dtype in REDUCED:
        za = (ua * scale_a.to(ua.dtype)).to(dtype)
        zb = (ub * scale_b.to(ub.dtype)).to(dtype)
        step = slice_rows(*acc32.shape)  # the product's temporaries stay a slice's size
        for lo in range(0, za.shape[1], step):
            acc32[lo:lo + step].add_(_reduced_product(za[:, lo:lo + step], zb))
    else:
        raise ValueError(f"products run in float64, float32, float16 or bfloat16, not {dtype}")


def _reduced_product(za: torch.Tensor, zb: torch.Tensor) -> torch.Tensor:
    """za.T @ zb with float32 output: exact accumulation on CUDA, a rounded one on CPU; a
    product that overflows the reduced range is recomputed in float32.

    Notes
    -----
    `torch.mm(..., out_dtype=float32)` keeps the tensor-core float32 accumulator on CUDA; the
    CPU kernel returns the input dtype, which rounds each batch's product to 8 (bf16) or 11
    (fp16) bits. With z-scored inputs a batch's product is at most its token count in size,
    so float16 (largest value 65504) can overflow on batches of more tokens or on a neuron
    with outlying activations; such entries would otherwise become infinite and drop their
    pairs. The engine re-checks the candidates of such runs in float32 either way.
    """
    if za.is_cuda:
        product = torch.mm(za.T, zb, out_dtype=torch.float32)
    else:
        product = (za.T @ zb).to(torch.float32)
    if not torch.isfinite(product).all():
        product = za.to(torch.float32).T @ zb.to(torch.float32)
    return product


def block_correlation(sums: BlockSums, moments_a: Moments, moments_b: Moments,
                      rows: slice) -> torch.Tensor:
    """Pearson r (float64) of the block from its cross-products, in place of `sums.cross`.

    Dead neurons get r = 0 against everything.
    """
    device = sums.cross.device
    ma, mb = moments_a.to(device), moments_b.to(device)
    r = sums.cross.div_(ma.count)
    if not (torch.all(sums.frame_a.scale == 1) and torch.all(sums.frame_b.scale == 1)):
        r.div_(sums.frame_a.scale[rows][:, None]).div_(sums.frame_b.scale[None, :])
    ca = ma.mean[rows] - sums.frame_a.shift[rows].to(torch.float64)
    cb = mb.mean - sums.frame_b.shift.to(torch.float64)
    r.addr_(ca, cb, alpha=-1.0)
    std_a = torch.where(ma.dead[rows], torch.inf, ma.std[rows])
    std_b = torch.where(mb.dead, torch.inf, mb.std)
    return r.div_(std_a[:, None]).div_(std_b[None, :])


def shift_excess(moments: Moments, frame: Frame) -> float:
    """Largest |mean - offset| / std over live neurons (see SHIFT_LIMIT)."""
    live = ~moments.dead
    if not live.any():
        return 0.0
    gap = (moments.mean - frame.shift.to(moments.mean.device, torch.float64)).abs()
    return float((gap[live] / moments.std[live]).max())


def correlation_rows(
    source: Source,
    moments_a: Moments,
    moments_b: Moments,
    rows: slice,
    *,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Pearson r of A's `rows` against all of B (float64), given the stream's moments."""
    sums = block_pass(source, rows, (moments_a, moments_b), device=device, dtype=dtype)
    return block_correlation(sums, moments_a, moments_b, rows)
