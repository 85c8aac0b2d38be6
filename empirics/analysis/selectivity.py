"""Selectivity of MLP neurons: vocabulary-space kurtosis, activation proxies, control samples.

Two measurements, both per neuron (docs/selectivity.md):

- `vocabulary_kurtosis`: the excess kurtosis of a neuron's direct effect on the logits,
  W_out[i] . W_U (language models; `empirics.models.unembedding` builds both matrices with the final
  norm folded in). A neuron that promotes a few tokens has a heavy-tailed vector (high
  kurtosis); one that shifts all logits alike has a near-Gaussian one (about 0).
- `ActivationStats` + `activation_proxies`: streaming power sums of each neuron's activation
  over the inputs (gathered on the engine's first pass, `collect_activation_stats`), turned
  into the excess kurtosis of the activation distribution, its Hoyer sparsity and the z-score
  of its top-activating samples: automatic proxies for monosemanticity, any family.

`size_matched_control` draws the comparison population (as many non-Rosetta neurons as there
are Rosetta neurons, layer by layer) and `mean_interval` the bootstrap interval of a mean.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from empirics.analysis.examples import FirstPass
from empirics.engine.moments import Source
from runstore.progress import progress_bar

#: Names of the activation proxies, in the order `activation_proxies` returns them.
PROXIES = ("activation_kurtosis", "hoyer_sparsity", "top_zscore")
#: Neurons processed at once by the streaming statistics (bounds a float64 copy of a batch).
COLUMN_BLOCK = 8192


def excess_kurtosis(x: torch.Tensor) -> torch.Tensor:
    """Excess kurtosis m4 / m2^2 - 3 of each row of `x` (rows, values), float32 or wider.

    Population (biased) moments after centring each row, so the result is invariant to a
    row's shift and positive scale. A constant row gives NaN, a Gaussian about 0, a one-hot
    vector of length V the largest value any vector of that length can have, V - 5 + 1/(V - 1).
    """
    x = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
    centred = x - x.mean(dim=1, keepdim=True)
    squared = centred.square()
    m2 = squared.mean(dim=1)
    m4 = squared.square().mean(dim=1)
    return torch.where(m2 > 0, m4 / m2.square() - 3.0, torch.full_like(m2, torch.nan))


def vocabulary_kurtosis(directions: torch.Tensor, unembedding: torch.Tensor, *,
                        block_rows: int = 512, progress: bool = False) -> np.ndarray:
    """Excess kurtosis of every neuron's vocabulary projection directions @ unembedding.

    Parameters
    ----------
    directions : (neurons, d_model) output weights W_out of the neurons (already centred
        when the final norm is a LayerNorm; see `empirics.models.unembedding`).
    unembedding : (d_model, vocab) effective unembedding (final norm's gain folded in).
    block_rows : neurons projected at once; a block holds block_rows x vocab float32 values.

    Returns
    -------
    (neurons,) float64 array.

    Notes
    -----
    The product runs on `unembedding`'s device in its dtype (float32 is advised: kurtosis
    squares the squared deviations, and bfloat16's 8 mantissa bits cost ~1% relative
    accuracy); moments are taken in float32 after centring, accurate to ~1e-5 relative.
    """
    if directions.ndim != 2 or directions.shape[1] != unembedding.shape[0]:
        raise ValueError(f"directions {tuple(directions.shape)} do not fit an unembedding of "
                         f"shape {tuple(unembedding.shape)} (expected (neurons, d_model))")
    out = np.empty(directions.shape[0], dtype=np.float64)
    starts = range(0, directions.shape[0], block_rows)
    for start in progress_bar(starts, desc="vocabulary projections", show=progress):
        block = directions[start:start + block_rows].to(unembedding.device, unembedding.dtype)
        out[start:start + block.shape[0]] = excess_kurtosis(block @ unembedding).cpu().double()
    return out


class ActivationStats:
    """Streaming per-neuron power sums of activations (float64), for kurtosis and sparsity.

    Values are shifted by the first batch's mean per neuron before the powers are summed, so
    the central moments keep their digits when the mean is large against the spread. Also
    sums |x| (for the Hoyer sparsity of the raw activations).
    """

    def __init__(self, n_neurons: int):
        self.n_neurons, self.count = int(n_neurons), 0
        self.shift: torch.Tensor | None = None
        self.sums: torch.Tensor | None = None  # (5, neurons): sum d, d^2, d^3, d^4, |x|

    def update(self, batch: torch.Tensor) -> None:
        """Add a batch of shape (samples, neurons)."""
        if batch.ndim != 2 or batch.shape[1] != self.n_neurons:
            raise ValueError(f"expected a batch of shape (samples, {self.n_neurons}), "
                             f"got {tuple(batch.shape)}")
        if batch.shape[0] == 0:
            return
        if self.shift is None:
            self.shift = batch.double().mean(dim=0)
            self.sums = torch.zeros(5, self.n_neurons, dtype=torch.float64,
                                    device=batch.device)
        for lo in range(0, self.n_neurons, COLUMN_BLOCK):
            part = batch[:, lo:lo + COLUMN_BLOCK].double()
            d = part - self.shift[lo:lo + COLUMN_BLOCK]
            d2 = d.square()
            self.sums[:, lo:lo + part.shape[1]] += torch.stack(
                [d.sum(0), d2.sum(0), (d2 * d).sum(0), d2.square().sum(0), part.abs().sum(0)])
        self.count += batch.shape[0]

    def result(self) -> dict[str, np.ndarray]:
        """{"count": (1,), "shift": (neurons,), "sums": (5, neurons)} as float64 arrays."""
        if self.sums is None:
            raise ValueError("no activations were observed")
        return {"count": np.array([float(self.count)]), "shift": self.shift.cpu().numpy(),
                "sums": self.sums.cpu().numpy()}


def collect_activation_stats(source: Source, n_a: int, n_b: int
                             ) -> tuple[Source, Callable[[], tuple[ActivationStats, ...]]]:
    """Wrap `source` to gather both models' `ActivationStats` on its first pass.

    Returns the wrapped source and a function giving the two finished accumulators (it reads
    the rest of the first pass if the stream has not been read through yet).
    """
    stats = (ActivationStats(n_a), ActivationStats(n_b))

    def observe(index: int, a: torch.Tensor, b: torch.Tensor) -> None:
        stats[0].update(a)
        stats[1].update(b)

    wrapped = FirstPass(source, observe)

    def finished() -> tuple[ActivationStats, ActivationStats]:
        wrapped.finish()
        return stats

    return wrapped, finished


def central_moments(count: float, shift: np.ndarray, sums: np.ndarray):
    """Mean, and central moments m2, m3, m4 (population) from `ActivationStats.result()`."""
    s1, s2, s3, s4 = (sums[i] / count for i in range(4))
    mu = s1
    m2 = np.maximum(s2 - mu**2, 0.0)
    m3 = s3 - 3 * mu * s2 + 2 * mu**3
    m4 = s4 - 4 * mu * s3 + 6 * mu**2 * s2 - 3 * mu**4
    return shift + mu, m2, m3, m4


def activation_proxies(count: float, shift: np.ndarray, sums: np.ndarray,
                       top_values: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The activation-based selectivity proxies of every neuron (`PROXIES`).

    Parameters
    ----------
    count, shift, sums : `ActivationStats.result()` (count as a float).
    top_values : (neurons, k) top activations (`ExamplesRecord.values_*`; NaN padding
        ignored); without it `top_zscore` is NaN.

    Returns
    -------
    activation_kurtosis : excess kurtosis of the activation distribution over samples.
    hoyer_sparsity : (sqrt(n) - L1/L2) / (sqrt(n) - 1) of the raw activations, 0 when every
        sample gets the same magnitude, 1 when one sample carries all of it.
    top_zscore : (mean of the top-k activations - mean) / std.
    Dead neurons (no spread) get NaN throughout.
    """
    mean, m2, _, m4 = central_moments(count, shift, sums)
    alive = m2 > 1e-24 * np.maximum(1.0, mean**2)
    with np.errstate(invalid="ignore", divide="ignore"):
        kurtosis = np.where(alive, m4 / m2**2 - 3.0, np.nan)
        l2 = np.sqrt(count * (m2 + mean**2))
        ratio = sums[4] / l2
        root = np.sqrt(count)
        hoyer = np.where(alive, (root - ratio) / (root - 1.0), np.nan)
        top = (np.full(len(mean), np.nan) if top_values is None
               else np.nanmean(np.where(np.isfinite(top_values), top_values, np.nan), axis=1))
        zscore = np.where(alive, (top - mean) / np.sqrt(m2), np.nan)
    return dict(zip(PROXIES, (kurtosis, hoyer, zscore)))


def size_matched_control(rosetta: np.ndarray, layer: np.ndarray, eligible: np.ndarray, *,
                         rng: np.random.Generator) -> np.ndarray:
    """Mask of a random non-Rosetta sample with as many neurons per layer as Rosetta ones.

    Parameters
    ----------
    rosetta, eligible : (neurons,) bool; eligible marks neurons with a finite metric (alive).
    layer : (neurons,) int layer of every neuron.

    Notes
    -----
    Sampling within each layer keeps the depth composition of both populations equal, so a
    difference in selectivity is not a difference in where the neurons sit. A layer with
    fewer eligible non-Rosetta neurons than Rosetta ones contributes all it has.
    """
    control = np.zeros(len(rosetta), dtype=bool)
    for value in np.unique(layer[rosetta]):
        pool = np.flatnonzero((layer == value) & ~rosetta & eligible)
        want = int(np.sum(rosetta & (layer == value) & eligible))
        control[rng.choice(pool, size=min(want, len(pool)), replace=False)] = True
    return control


def mean_interval(values: np.ndarray, *, rng: np.random.Generator, level: float = 0.95,
                  n_resamples: int = 2000, chunk: int = 100) -> list[float]:
    """[mean, low, high]: percentile bootstrap interval of the mean of the finite values.

    Notes
    -----
    A bootstrap rather than a t interval because kurtosis values are heavy-tailed; resamples
    are drawn `chunk` at a time so memory stays chunk x n. NaNs when no value is finite.
    """
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if not len(values):
        return [float("nan")] * 3
    means = np.concatenate([
        values[rng.integers(0, len(values), size=(min(chunk, n_resamples - lo), len(values)))]
        .mean(axis=1) for lo in range(0, n_resamples, chunk)])
    tail = (1.0 - level) / 2.0
    return [float(values.mean()), *(float(q) for q in np.quantile(means, [tail, 1 - tail]))]
