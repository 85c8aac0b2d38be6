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
           device: torch.device | str = "cpu") -> Screen:
    """Candidates of every row and column and their outside bounds, block by block.

    Parameters
    ----------
    sample : Subsample
        The first pass's z-scored sample.
    keep : int
        Candidates per neuron (c).
    delta : float
        Probability that some pair's exact r exceeds its upper bound.
    block_rows : int
        Rows of A per block of products (sized by memory by the caller).
    """
    if not 0.0 < delta < 1.0:
        raise ValueError(f"delta must lie in (0, 1), got {delta}")
    n, m = sample.z_a.shape[1], sample.z_b.shape[1]
    terms_a = BoundTerms.of(sample.spread_a, sample.z_a, sample.shift_excess_a, device)
    terms_b = BoundTerms.of(sample.spread_b, sample.z_b, sample.shift_excess_b, device)
    dead_a = sample.spread_a.moments.dead.to(device)
    dead_b = sample.spread_b.moments.dead.to(device)
    log_term = math.log(n * m / delta)
    rows, row_bound, cols, col_upper = [], [], None, None
    wide = min(keep + 1, n)
    for start in range(0, n, block_rows):
        block = slice(start, min(start + block_rows, n))
        estimate = _sample_products(sample, block, device)
        estimate[:, dead_b] = -torch.inf
        estimate[dead_a[block]] = -torch.inf
        upper = estimate + pair_bounds(terms_a[block], terms_b, size=sample.size,
                                       n_tokens=sample.n_tokens, log_term=log_term,
                                       dtype=sample.z_a.dtype)
        best = TopK(*sorted_topk(estimate, min(keep, m), dim=1))
        rows.append(best)
        row_bound.append(_outside(TopK(*sorted_topk(upper, min(keep + 1, m), dim=1)), best))
        col_best = _column_topk(estimate, min(keep, block.stop - start), start)
        col_wide = _column_topk(upper, min(wide, block.stop - start), start)
        cols = col_best if cols is None else merge_partners(cols, col_best, min(keep, n))
        col_upper = col_wide if col_upper is None else merge_partners(col_upper, col_wide, wide)
    rows = TopK(torch.cat([r.values for r in rows]), torch.cat([r.indices for r in rows]))
    return Screen(rows, cols, torch.cat(row_bound), _outside(col_upper, cols))


def _column_topk(values: torch.Tensor, keep: int, start: int) -> TopK:
    best, where = sorted_topk(values, keep, dim=0)
    return TopK(best.T.contiguous(), (where + start).T.contiguous())


def _sample_products(sample: Subsample, block: slice, device) -> torch.Tensor:
    """r~ of the block's rows against all columns (float32, on `device`)."""
    acc = None
    for start in range(0, sample.size, FOLD_TOKENS):
        za = sample.z_a[start:start + FOLD_TOKENS, block].to(device)
        zb = sample.z_b[start:start + FOLD_TOKENS].to(device)
        if za.dtype in REDUCED:
            part = _reduced_product(za, zb)
        else:
            part = za.to(torch.float32).T @ zb.to(torch.float32)
        acc = part if acc is None else acc.add_(part)
    return acc.div_(sample.size)


def _outside(upper: TopK, candidates: TopK) -> torch.Tensor:
    """The best upper bound of each line among partners that are not its candidates."""
    inside = (upper.indices[:, :, None] == candidates.indices[:, None, :]).any(dim=2)
    values = torch.where(inside, -torch.inf, upper.values)
    return values.max(dim=1).values
