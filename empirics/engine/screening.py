"""Stage 1 of the two-stage engine: candidates and their certificate bounds from the sample.

Blocked products over the z-scored token sample (`empirics.engine.subsample`) give every
pair's sample estimate r~_ij = (1 / s) sum_t z_ti z_tj. Each row keeps its best `keep`
partners by r~ (its candidates) and each column its best `keep` rows; with them, every row
and column keeps the largest *upper bound*

    U_ij = r~_ij + eps_ij + eta_ij

over the partners outside its candidates: eps_ij is a Bernstein bound on r_ij - r~_ij for a
sample drawn without replacement (holding for all n m pairs at once with probability
1 - delta), eta_ij bounds the rounding of r~_ij. No exact r outside a neuron's candidates
exceeds its bound, with probability >= 1 - delta over the sampler's draws
(docs/matching.md, "Certificate").

Notes
-----
The outside bound of a line is the best U among its `keep + 1` best U values whose partner
is not a candidate: at most `keep` of them are candidates, and any better outside U would
rank above them. Products run in the sample's dtype with float32 accumulation, folded every
`FOLD_TOKENS` tokens (blocks.py's `_reduced_product` for bfloat16 and float16).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from empirics.engine.blocks import REDUCED, _reduced_product
from empirics.engine.distributed import SINGLE, Ranks
from empirics.engine.subsample import Subsample
from empirics.engine.topk import TopK, merge_partners, sorted_topk

#: Tokens multiplied in one product before its float32 result joins the accumulator.
FOLD_TOKENS = 4096
#: Relative slack on the data-derived constants of the bound (their float32 rounding).
SLACK = 1.01


@dataclass(frozen=True)
class Screen:
    """Candidates by r~ (rows (n, keep), columns (m, keep) as A indices) and the largest
    upper bound U over each line's non-candidates (-inf: every live partner is a candidate)."""

    rows: TopK
    cols: TopK
    row_bound: torch.Tensor
    col_bound: torch.Tensor


def unit_roundoff(dtype: torch.dtype) -> float:
    """Half the spacing of floats at 1 in `dtype` (2^-24 for float32, 2^-9 for bfloat16)."""
    return torch.finfo(dtype).eps / 2


@dataclass(frozen=True)
class BoundTerms:
    """Per-neuron constants of the bound: root kurtosis, z range, |z| bound, sample
    root-mean-square z and shift excess c (see `pair_bounds`), float32 (their rounding is
    inside `SLACK`)."""

    root_kurtosis: torch.Tensor
    low: torch.Tensor
    high: torch.Tensor
    rms: torch.Tensor
    excess: torch.Tensor

    @classmethod
    def of(cls, spread, z: torch.Tensor, excess: torch.Tensor, device) -> BoundTerms:
        low, high = spread.z_range()
        square = torch.zeros(z.shape[1], dtype=torch.float64, device=device)
        for start in range(0, z.shape[0], FOLD_TOKENS):
            part = z[start:start + FOLD_TOKENS].to(device, torch.float64)
            square += (part * part).sum(dim=0)
        rms = torch.sqrt(square / max(z.shape[0], 1))
        return cls(*(x.to(device, torch.float32)
                     for x in (spread.kurtosis().sqrt(), low, high, rms, excess)))

    def __getitem__(self, rows: slice) -> BoundTerms:
        return BoundTerms(*(getattr(self, f)[rows] for f in self.__dataclass_fields__))


def pair_bounds(terms_a: BoundTerms, terms_b: BoundTerms, *, size: int, n_tokens: int,
                log_term: float, dtype: torch.dtype) -> torch.Tensor:
    """eps_ij + eta_ij for a block of rows (terms_a) against all columns (terms_b), float32.

    Notes
    -----
    X_t = z_ti z_tj has mean r_ij over the stream, variance <= mean(z_i^2 z_j^2) <=
    min(sqrt(k_i k_j), M_i^2, M_j^2) (Cauchy-Schwarz; k = mean z^4, M = max |z|) and
    r_ij - X_t <= b_ij = 1 + max(high_i (-low_j), (-low_i) high_j). Bernstein's inequality,
    valid for sampling without replacement (Hoeffding 1963, Theorem 4), gives
    eps = (b L / 3 + sqrt((b L / 3)^2 + 2 s var L)) / s with L = log(n m / delta); eps = 0
    when the sample is the whole stream. The rounding term is
    eta = u (7 rms_i rms_j + 2 c_i rms_j + 2 c_j rms_i) + gamma rms_i rms_j (u: the sample's
    unit roundoff, c: shift excess, gamma: float32 accumulation of FOLD_TOKENS + s / FOLD_TOKENS
    terms), all inflated by `SLACK`: a cached z is off by at most u (3 |z| + 2 c) (the stored
    x - k, its standardisation and the float32 arithmetic), and a CPU reduced-precision
    product rounds its output once more.
    """
    ra, rb = terms_a.root_kurtosis[:, None], terms_b.root_kurtosis[None, :]
    big_a = torch.maximum(-terms_a.low, terms_a.high)[:, None]
    big_b = torch.maximum(-terms_b.low, terms_b.high)[None, :]
    variance = torch.minimum(ra * rb, torch.minimum(big_a, big_b) ** 2) * SLACK
    reach = 1.0 + torch.maximum(terms_a.high[:, None] * -terms_b.low[None, :],
                                -terms_a.low[:, None] * terms_b.high[None, :]) * SLACK
    if size >= n_tokens:
        bound = torch.zeros_like(variance)
    else:
        third = reach * (log_term / 3.0)
        bound = (third + torch.sqrt(third * third + 2.0 * size * log_term * variance)) / size
    u = unit_roundoff(dtype)
    gamma = (FOLD_TOKENS + size / FOLD_TOKENS + 2) * unit_roundoff(torch.float32)
    qa, qb = terms_a.rms[:, None], terms_b.rms[None, :]
    rounding = ((7 * u + gamma) * qa * qb + 2 * u * (terms_a.excess[:, None] * qb
                                                      + terms_b.excess[None, :] * qa))
    return bound.add_(rounding * SLACK)


def screen(sample: Subsample, keep: int, *, delta: float, block_rows: int,
           device: torch.device | str = "cpu", block_cols: int | None = None,
           ranks: Ranks = SINGLE, covered: tuple | None = None) -> Screen:
    """Candidates of every row and column and their outside bounds, tile by tile.

    Parameters
    ----------
    sample : Subsample
        The first pass's z-scored sample (a data split's rank: its share of A's rows).
    keep : int
        Candidates per neuron (c).
    delta : float
        Probability that some pair's exact r exceeds its upper bound.
    block_rows, block_cols
        Rows of A and columns of B per tile of products (sized by memory by the caller,
        `screen_tiles`; default columns: all of B's).
    ranks : empirics.engine.distributed.Ranks
        A data split: each rank screens its share of A's rows, and the shares are gathered
        and merged in rank order (lower indices still win ties).
    covered : pair of (n,), (m,) bool tensors, optional
        Lines whose every pair the exact pass sums (`empirics.engine.two_stage`, "cover"):
        their pairs need no bound, so a covered line's outside bound is -inf and the other
        lines' outside bounds leave the covered partners out.

    Notes
    -----
    A block of A's rows stays on the device while B's sample streams past it in column
    tiles, so B's sample is read once per block of rows, and a block of rows is limited by
    its own sample (s x rows), not by a rows x m block of products (docs/matching.md,
    "Benchmark and cost model").
    """
    if not 0.0 < delta < 1.0:
        raise ValueError(f"delta must lie in (0, 1), got {delta}")
    share = sample.rows_a
    n, m = sample.spread_a.mean.numel(), sample.z_b.shape[1]
    terms_a = BoundTerms.of(sample.spread_a.rows(share), sample.z_a,
                            sample.shift_excess_a[share], device)
    terms_b = BoundTerms.of(sample.spread_b, sample.z_b, sample.shift_excess_b, device)
    dead = (sample.spread_a.moments.dead[share].to(device),
            sample.spread_b.moments.dead.to(device))
    if covered is not None:
        covered = (torch.as_tensor(covered[0])[share].to(device),
                   torch.as_tensor(covered[1]).to(device))
    log_term = math.log(n * m / delta)

    def bounds(block: slice, tile: slice) -> torch.Tensor:
        return pair_bounds(terms_a[block], terms_b[tile], size=sample.size,
                           n_tokens=sample.n_tokens, log_term=log_term, dtype=sample.z_a.dtype)

    part = _screen_share(sample, keep, bounds, dead, rows=block_rows, cols=block_cols or m,
                         device=device, covered=covered)
    if ranks.shards_data:
        return _merged_screen(ranks.gather_objects(part.to("cpu")), keep)
    return _merged_screen([part], keep)


#: Bytes per entry of a screen tile: its estimate and upper bound and the bound's float32
#: temporaries (as the block engine's rule, `block_size_for`).
TILE_ENTRY_BYTES = 32


def screen_tiles(n: int, m: int, size: int, itemsize: int, memory_bytes: float, *,
                 rows: int | None = None) -> tuple[int, int]:
    """(rows, columns) of the screen's tiles in `memory_bytes`: half for the sample of a
    block of A's rows (s x rows, kept on the device), half for a tile's entries and B's
    sample of its columns (s x columns). `rows` given: the columns for those rows.

    Notes
    -----
    B's sample is read once per block of rows (`sample_traffic`), so the rows take as much
    as fits; the columns only need to keep the products' tiles large enough to run at the
    device's matmul rate.
    """
    rows = rows or int(min(n, max(1, memory_bytes / 2 // (size * itemsize))))
    cols = int(min(m, max(1, memory_bytes / 2 // (rows * TILE_ENTRY_BYTES + size * itemsize))))
    return rows, cols


def sample_traffic(n: int, m: int, size: int, itemsize: int, rows: int) -> int:
    """Bytes of sample the screen reads in tiles of `rows` rows: A's sample once, B's once
    per block of rows."""
    return size * itemsize * (n + m * math.ceil(n / rows))


@dataclass(frozen=True)
class _Share:
    """One share of A's rows screened: its rows' candidates and outside bounds, and every
    column's best rows and best upper bounds among the share (A indices)."""

    rows: TopK
    row_bound: torch.Tensor
    cols: TopK | None
    col_upper: TopK | None

    def to(self, device) -> _Share:
        def move(top):
            return None if top is None else TopK(top.values.to(device), top.indices.to(device))
        return _Share(move(self.rows), self.row_bound.to(device), move(self.cols),
                      move(self.col_upper))


def _screen_share(sample: Subsample, keep: int, bounds, dead, *, rows: int, cols: int,
                  device, covered=None) -> _Share:
    """Tile the share's rows by `rows` and B's columns by `cols` (see `screen`); the pairs
    of `covered` lines get no upper bound (-inf)."""
    first, width, m = sample.first_row, sample.z_a.shape[1], sample.z_b.shape[1]
    tiles = [slice(start, min(start + cols, m)) for start in range(0, m, cols)]
    col_best, col_upper = [None] * len(tiles), [None] * len(tiles)
    row_best, row_bound = [], []
    for start in range(0, width, rows):
        block = slice(start, min(start + rows, width))
        za = sample.z_a[:, block].to(device)
        best = upper_best = None
        for t, tile in enumerate(tiles):
            estimate = _tile_products(za, sample.z_b[:, tile].to(device))
            estimate[:, dead[1][tile]] = -torch.inf
            estimate[dead[0][block]] = -torch.inf
            upper = estimate + bounds(block, tile)
            if covered is not None:
                upper[:, covered[1][tile]] = -torch.inf
                upper[covered[0][block]] = -torch.inf
            best = _merged_lines(best, _row_topk(estimate, keep, tile.start), keep)
            upper_best = _merged_lines(upper_best, _row_topk(upper, keep + 1, tile.start),
                                       keep + 1)
            col_best[t] = _merged_lines(col_best[t], _column_topk(
                estimate, min(keep, estimate.shape[0]), first + start), keep)
            col_upper[t] = _merged_lines(col_upper[t], _column_topk(
                upper, min(keep + 1, upper.shape[0]), first + start), keep + 1)
        row_best.append(best)
        row_bound.append(_outside(upper_best, best))
    if not row_best:  # an empty share (more ranks than rows)
        empty = torch.zeros(0, min(keep, m), device=device)
        return _Share(TopK(empty, empty.long()), torch.zeros(0, device=device), None, None)
    return _Share(TopK(torch.cat([r.values for r in row_best]),
                       torch.cat([r.indices for r in row_best])), torch.cat(row_bound),
                  _stacked(col_best), _stacked(col_upper))


def _merged_screen(shares: list, keep: int) -> Screen:
    """The shares (in row order) as one screen: rows concatenated, columns merged with the
    lower rows first (they win ties)."""
    cols = upper = None
    for share in shares:
        if share.cols is not None:
            cols = _merged_lines(cols, share.cols, keep)
            upper = _merged_lines(upper, share.col_upper, keep + 1)
    rows = TopK(torch.cat([s.rows.values for s in shares]),
                torch.cat([s.rows.indices for s in shares]))
    return Screen(rows, cols, torch.cat([s.row_bound for s in shares]), _outside(upper, cols))


def _row_topk(values: torch.Tensor, keep: int, start: int) -> TopK:
    best, where = sorted_topk(values, min(keep, values.shape[1]), dim=1)
    return TopK(best, where + start)


def _merged_lines(running: TopK | None, new: TopK, keep: int) -> TopK:
    """The best `keep` of each line over both (`running`: the lower indices, wins ties)."""
    if running is None:
        return new
    width = min(keep, running.values.shape[1] + new.values.shape[1])
    return merge_partners(running, new, width)


def _stacked(tops: list) -> TopK:
    return TopK(torch.cat([t.values for t in tops]), torch.cat([t.indices for t in tops]))


def _column_topk(values: torch.Tensor, keep: int, start: int) -> TopK:
    best, where = sorted_topk(values, keep, dim=0)
    return TopK(best.T.contiguous(), (where + start).T.contiguous())


def _sample_products(sample: Subsample, block: slice, device) -> torch.Tensor:
    """r~ of the block's rows (of `z_a`) against all columns (float32, on `device`)."""
    return _tile_products(sample.z_a[:, block].to(device), sample.z_b.to(device))


def _tile_products(za: torch.Tensor, zb: torch.Tensor) -> torch.Tensor:
    """r~ = za^T zb / s of two blocks of the sample (float32, folded every FOLD_TOKENS)."""
    acc = None
    for start in range(0, za.shape[0], FOLD_TOKENS):
        x, y = za[start:start + FOLD_TOKENS], zb[start:start + FOLD_TOKENS]
        if x.dtype in REDUCED:
            part = _reduced_product(x, y)
        else:
            part = x.to(torch.float32).T @ y.to(torch.float32)
        acc = part if acc is None else acc.add_(part)
    return acc.div_(za.shape[0])


def _outside(upper: TopK, candidates: TopK) -> torch.Tensor:
    """The best upper bound of each line among partners that are not its candidates."""
    inside = (upper.indices[:, :, None] == candidates.indices[:, None, :]).any(dim=2)
    values = torch.where(inside, -torch.inf, upper.values)
    return values.max(dim=1).values
