"""The importance exponent beta from the data, independently of the Rosetta counts
(docs/theory.md, "beta from the data"). Torch-free: arrays in, estimates out.

Two readouts of a decay law, each with a bootstrap interval over the units that make the
data independent:

- `fit_zipf`: the rank-frequency law f(r) ∝ r^-a of the n-grams of a tokenized corpus, by the
  discrete power-law maximum likelihood over a rank window (the headline) and by least squares
  on log count vs log rank over the same window (a check); documents are resampled.
- `fit_spectrum` (`empirics.analysis.eigenspectrum`) for the covariance eigenvalues of a
  layer's activations.

`implied_exponent` maps an estimate of beta to the slope of log R vs log N that a closure of
the allocation model predicts (`theory.symbolic.exponent`).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np
from scipy import sparse

from theory.slopes import log_log_slopes
from theory.symbolic import exponent

#: Fewest ranks (or eigenvalues) a window may hold: a slope with a residual to spare.
MIN_POINTS = 3
#: Bracket of the maximum-likelihood exponent (bisection; 64 halvings reach float precision).
MLE_BRACKET, MLE_STEPS = (-10.0, 30.0), 64
#: Bootstrap replicates summed at once (bounds the memory of the replicate counts).
BOOT_BATCH = 64


@dataclasses.dataclass(frozen=True)
class ExponentEstimate:
    """A fitted decay exponent (f ∝ x^-estimate), bias-corrected, with its basic bootstrap
    interval (`corrected_estimate`).

    `raw` is the plug-in estimate and `bias` the bootstrap's estimate of its bias
    (estimate = raw - bias); `window` is the inclusive 1-based index window fitted (ranks or
    eigenvalue indices), `n_points` the indices in it, `n_units` the documents or chunks
    resampled and `replicates` (n_boot,) the bootstrap's plug-in estimates.
    """

    method: str
    estimate: float
    low: float
    high: float
    level: float
    raw: float
    bias: float
    window: tuple[int, int]
    n_points: int
    n_units: int
    replicates: np.ndarray = dataclasses.field(compare=False, repr=False)

    def to_json(self) -> dict:
        """The JSON-ready fields (without the replicates)."""
        return {"method": self.method, "estimate": self.estimate, "low": self.low,
                "high": self.high, "level": self.level, "raw": self.raw, "bias": self.bias,
                "window": list(self.window), "n_points": self.n_points,
                "n_units": self.n_units, "n_boot": int(len(self.replicates))}


def corrected_estimate(method: str, raw: float, replicates: np.ndarray, *, level: float,
                       window: tuple[int, int], n_units: int) -> ExponentEstimate:
    """The bias-corrected estimate 2 raw - mean(replicates) with the basic bootstrap interval
    [2 raw - q_high, 2 raw - q_low] (q the replicates' quantiles; NaN replicates left out).

    Notes
    -----
    Both fits rank what they fit by the same noisy data (types by their counts, eigenvalues
    by size), which flattens a Zipf tail and spreads a spectrum: a bias of the order of the
    statistical error. A replicate ranks its resampled data again, so the replicates carry
    the same bias once more; the correction (Efron & Tibshirani 1993, section 10.6) and the
    basic interval (Davison & Hinkley 1997, eq. 5.6) remove it to first order, where the
    percentile interval would double it (tests/empirics/analysis/test_importance.py).
    """
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    finite = replicates[np.isfinite(replicates)]
    if not len(finite) or not math.isfinite(raw):
        estimate = low = high = bias = math.nan
    else:
        bias = float(finite.mean() - raw)
        q_low, q_high = np.quantile(finite, [(1 - level) / 2, (1 + level) / 2])
        estimate, low, high = raw - bias, 2 * raw - float(q_high), 2 * raw - float(q_low)
    return ExponentEstimate(method, estimate, low, high, level, float(raw), bias,
                            window=window, n_points=window[1] - window[0] + 1,
                            n_units=n_units, replicates=replicates)


def ngram_counts(documents: Sequence[np.ndarray], n: int = 1) -> sparse.csr_matrix:
    """(documents, types) counts of the n-grams of token ids inside each document.

    An n-gram never crosses a document's end, so documents can be resampled whole. Types are
    numbered in sorted order of their ids; the matrix holds floats (exact counts).
    """
    if n < 1:
        raise ValueError(f"n-grams need n >= 1, got {n}")
    base = 1 + max((int(ids.max()) for ids in documents if len(ids)), default=0)
    if n * math.log2(base) >= 63:
        raise ValueError(f"{n}-grams of a vocabulary of {base} overflow an int64 key")
    rows, keys = [], []
    for row, ids in enumerate(documents):
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) < n:
            continue
        grams = np.lib.stride_tricks.sliding_window_view(ids, n)
        keys.append(grams @ base ** np.arange(n - 1, -1, -1, dtype=np.int64))
        rows.append(np.full(len(grams), row, dtype=np.int64))
    if not keys:
        raise ValueError(f"no document holds {n} tokens")
    types, column = np.unique(np.concatenate(keys), return_inverse=True)
    values = np.ones(len(column))
    return sparse.csr_matrix((values, (np.concatenate(rows), column)),
                             shape=(len(documents), len(types)))


def zipf_window(sorted_counts: np.ndarray, *, rank_min: int = 10, rank_max: int = 1000,
                min_count: float = 50) -> tuple[int, int]:
    """The ranks fitted: rank_min .. min(rank_max, the last rank counted >= min_count).

    Notes
    -----
    Ranks below `rank_min` are the Zipf-Mandelbrot head (f ∝ (r + q)^-a bends flat there)
    and the whitespace and punctuation tokens; beyond `rank_max` a tokenizer of a fixed
    vocabulary bends the tail down (its rarest types are merge intermediates); below
    `min_count` the Poisson noise of a count (1/sqrt(count)) exceeds 14%, and the ranks,
    found from the same counts, are noisy.
    """
    if rank_min < 1:
        raise ValueError(f"ranks start at 1, got rank_min {rank_min}")
    high = min(rank_max, int(np.count_nonzero(sorted_counts >= min_count)))
    if high - rank_min + 1 < MIN_POINTS:
        raise ValueError(f"only {max(high - rank_min + 1, 0)} ranks from {rank_min} have counts "
                         f">= {min_count}; {MIN_POINTS} are needed (more documents, or a lower "
                         "minimum count)")
    return rank_min, high


def zipf_mle(window_counts: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """Maximum-likelihood a of P(r) ∝ r^-a truncated to `ranks`, per row of counts.

    Parameters
    ----------
    window_counts : (..., W) counts of the ranks of the window (each row one fit).
    ranks : (W,) the ranks, consecutive.

    Notes
    -----
    The score equation says the model's mean log rank, sum r^-a log r / sum r^-a, equals the
    counts' mean log rank; the left side falls with a, so bisection in `MLE_BRACKET` solves
    every row at once. An estimate on an end of the bracket means there is no root inside.
    """
    log_rank = np.log(np.asarray(ranks, dtype=np.float64))
    counts = np.asarray(window_counts, dtype=np.float64)
    target = (counts @ log_rank) / counts.sum(axis=-1)
    low = np.full(target.shape, MLE_BRACKET[0])
    high = np.full(target.shape, MLE_BRACKET[1])
    centred = log_rank - log_rank[0]  # exp(-a centred) stays in range for the whole bracket
    for _ in range(MLE_STEPS):
        middle = (low + high) / 2
        weight = np.exp(-middle[..., None] * centred)
        mean = (weight @ log_rank) / weight.sum(axis=-1)
        above = mean > target  # the model's ranks too large: a must grow
        low, high = np.where(above, middle, low), np.where(above, high, middle)
    return (low + high) / 2


def zipf_ols(window_counts: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """a = minus the least-squares slope of log count on log rank, per row (zero counts
    left out)."""
    counts = np.asarray(window_counts, dtype=np.float64)
    positive = counts > 0
    log_count = np.log(np.where(positive, counts, 1.0))
    log_rank = np.broadcast_to(np.log(np.asarray(ranks, dtype=np.float64)), counts.shape)
    return -log_log_slopes(log_rank, log_count, positive)


ZIPF_METHODS = {"mle": zipf_mle, "ols": zipf_ols}


def _window_counts(totals: np.ndarray, window: tuple[int, int]) -> np.ndarray:
    """(rows, W) counts at the window's ranks after sorting each row of (rows, T) totals."""
    high = window[1]
    if totals.shape[1] > high:
        totals = -np.partition(-totals, high - 1, axis=1)[:, :high]
    return -np.sort(-totals, axis=1)[:, window[0] - 1:high]


def fit_zipf(counts: sparse.spmatrix, *, rank_min: int = 10, rank_max: int = 1000,
             min_count: float = 50, n_boot: int = 1000, level: float = 0.95,
             rng: np.random.Generator) -> tuple[dict[str, ExponentEstimate], np.ndarray]:
    """The Zipf exponent of per-document type counts, by every method of `ZIPF_METHODS`.

    Parameters
    ----------
    counts : (documents, types) counts (`ngram_counts`).
    rank_min, rank_max, min_count : the window rule (`zipf_window`), applied once to the
        whole data; every replicate is fitted on the same ranks.
    n_boot : bootstrap replicates; each draws the documents with replacement and ranks
        the types again by their resampled counts, as the estimate itself does.
    level : coverage of the basic bootstrap interval (`corrected_estimate`).
    rng : the generator of the resamples.

    Returns
    -------
    ({method: ExponentEstimate}, (types,) the counts sorted in decreasing order).
    """
    counts = sparse.csr_matrix(counts, dtype=np.float64)
    totals = np.asarray(counts.sum(axis=0)).ravel()
    sorted_counts = -np.sort(-totals)
    window = zipf_window(sorted_counts, rank_min=rank_min, rank_max=rank_max,
                         min_count=min_count)
    ranks = np.arange(window[0], window[1] + 1)
    n_docs = counts.shape[0]
    transposed = counts.T.tocsr()
    replicate_counts = []
    for start in range(0, n_boot, BOOT_BATCH):
        draws = rng.multinomial(n_docs, np.full(n_docs, 1 / n_docs),
                                size=min(BOOT_BATCH, n_boot - start))
        replicate_counts.append(_window_counts((transposed @ draws.T).T, window))
    replicate_counts = np.concatenate(replicate_counts) if replicate_counts else np.zeros(
        (0, len(ranks)))
    observed = sorted_counts[window[0] - 1:window[1]]
    estimates = {}
    for name, method in ZIPF_METHODS.items():
        replicates = method(replicate_counts, ranks)
        estimates[name] = corrected_estimate(f"zipf-{name}", float(method(observed, ranks)),
                                             replicates, level=level, window=window,
                                             n_units=n_docs)
    return estimates, sorted_counts


def implied_exponent(estimate: ExponentEstimate, closure: str = "P1"
                     ) -> tuple[float, float, float]:
    """(slope, low, high) of log R vs log N that `closure` predicts at beta = the estimate,
    over its interval; NaN where beta <= 1, outside the model (docs/theory.md, section 3).

    Every closure's slope is non-increasing in beta, so the interval's ends map to the
    slope interval's ends."""
    def at(beta: float) -> float:
        return exponent(closure, beta) if math.isfinite(beta) and beta > 1 else math.nan

    value, left, right = at(estimate.estimate), at(estimate.low), at(estimate.high)
    return value, right, left
