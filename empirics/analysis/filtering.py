"""Targeted data filtering by a neuron set: which neurons, how a document is scored, what is
kept (docs/filtering.md).

A neuron set is chosen from a matched pair's first model: the Rosetta neurons whose top
contexts are most enriched in a target category (`target_neurons`, enrichment E_c as in
`empirics.analysis.specialization`), and a control set of as many non-Rosetta neurons of
the same layers (`layer_matched_control`). Every document of a pool is scored from its
per-token activations on the set (`score_documents`, one of `RULES`), and the top fraction q
is kept (`keep_top`); a random subset of the same size (`random_subset`) is the data
baseline. Arrays in, arrays out: the activations come from `empirics.capture.windows`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

#: How a document is scored from its tokens' activations on a neuron set.
RULES = ("mean", "max", "share")
#: How the control neurons are drawn from the non-Rosetta neurons of each layer.
CONTROL_RULES = ("enriched", "random")


def target_neurons(enrichment: np.ndarray, rosetta: np.ndarray, *, n_max: int,
                   min_enrichment: float) -> np.ndarray:
    """Global ids of the Rosetta neurons most enriched in the target category.

    Parameters
    ----------
    enrichment : (neurons,) E_c of the target category (NaN: no top samples).
    rosetta : (neurons,) bool, the neurons that belong to a mutual pair.
    n_max : at most this many neurons (the most enriched first).
    min_enrichment : a neuron needs E_c >= this (1 is the corpus's own frequency).

    Raises ValueError when no Rosetta neuron reaches `min_enrichment`, naming the highest
    value there is, so an empty set never scores documents.
    """
    values = np.where(rosetta & np.isfinite(enrichment), enrichment, -np.inf)
    order = np.argsort(-values, kind="stable")
    chosen = order[values[order] >= min_enrichment][:n_max]
    if not len(chosen):
        best = values.max() if len(values) else -np.inf
        raise ValueError(f"no Rosetta neuron has an enrichment >= {min_enrichment} in the "
                         f"target category (the highest is {best:.3g}); lower "
                         "--min-enrichment or choose another --target")
    return np.sort(chosen)


def layer_matched_control(chosen: np.ndarray, layers: np.ndarray, rosetta: np.ndarray,
                          enrichment: np.ndarray, *, rule: str,
                          rng: np.random.Generator) -> np.ndarray:
    """As many non-Rosetta neurons per layer as `chosen` has there (global ids, sorted).

    rule "enriched" takes each layer's non-Rosetta neurons of highest target enrichment (the
    control asks whether being a Rosetta neuron matters beyond being enriched); "random"
    draws them uniformly among those with top samples. Raises ValueError when a layer has too
    few non-Rosetta neurons.
    """
    if rule not in CONTROL_RULES:
        raise ValueError(f"control rule must be one of {CONTROL_RULES}, got {rule!r}")
    picked = []
    for layer in np.unique(layers[chosen]):
        want = int(np.sum(layers[chosen] == layer))
        pool = np.flatnonzero((layers == layer) & ~rosetta & np.isfinite(enrichment))
        if len(pool) < want:
            raise ValueError(f"layer {layer} has {len(pool)} non-Rosetta neurons with top "
                             f"samples, fewer than the {want} chosen there")
        if rule == "enriched":
            picked.append(pool[np.argsort(-enrichment[pool], kind="stable")[:want]])
        else:
            picked.append(rng.choice(pool, size=want, replace=False))
    return np.sort(np.concatenate(picked))


def score_documents(activations: Sequence[np.ndarray], rule: str, *,
                    quantile: float = 0.99) -> np.ndarray:
    """One score per document from its tokens' activations on a neuron set.

    Parameters
    ----------
    activations : per document, (tokens, neurons) activations of the set (tokens >= 1).
    rule : "mean" or "max": the mean over neurons of each neuron's mean (max) over the
        document's tokens, after standardising every neuron by its mean and standard
        deviation over all tokens of the pool (so a neuron of large scale does not outweigh
        the rest); "share": the mean over neurons of the share of the document's tokens above
        that neuron's `quantile` over the pool (scale-free).

    Returns
    -------
    (documents,) float64.
    """
    if rule not in RULES:
        raise ValueError(f"scoring rule must be one of {RULES}, got {rule!r}")
    if not len(activations) or any(len(a) == 0 for a in activations):
        raise ValueError("every document needs at least one scored token")
    tokens = np.concatenate(activations).astype(np.float64)
    if rule == "share":
        if not 0 < quantile < 1:
            raise ValueError(f"the quantile must lie in (0, 1), got {quantile}")
        threshold = np.quantile(tokens, quantile, axis=0)
        return np.array([(a > threshold).mean(axis=0).mean() for a in activations])
    centre, scale = tokens.mean(axis=0), tokens.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)  # a constant neuron scores 0 everywhere
    reduce = np.mean if rule == "mean" else np.max
    return np.array([reduce((a - centre) / scale, axis=0).mean() for a in activations])


def kept_size(n_documents: int, fraction: float) -> int:
    """Documents kept of `n_documents` at fraction q: round(q n), at least 1."""
    if not 0 < fraction <= 1:
        raise ValueError(f"the kept fraction must lie in (0, 1], got {fraction}")
    return max(1, int(round(fraction * n_documents)))


def keep_top(scores: np.ndarray, fraction: float) -> np.ndarray:
    """Indices of the top `kept_size` documents by score (ties: the earlier document first),
    sorted."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    return np.sort(order[:kept_size(len(scores), fraction)])


def random_subset(n_documents: int, size: int, *, rng: np.random.Generator) -> np.ndarray:
    """`size` distinct document indices drawn uniformly, sorted."""
    return np.sort(rng.choice(n_documents, size=size, replace=False))


def composition(categories: Sequence[str], kept: np.ndarray) -> dict[str, float]:
    """{category: share of the kept documents} over every category of the pool."""
    names = sorted(set(categories))
    chosen = [categories[i] for i in kept]
    return {name: chosen.count(name) / max(len(chosen), 1) for name in names}


def seed_interval(values: np.ndarray, *, level: float = 0.95) -> list[float]:
    """[mean, low, high] of values over seeds: the t interval mean +- t s / sqrt(n).

    Notes
    -----
    A t interval because the seeds are few (3 by default) and a bootstrap of three values
    has only ten distinct resamples; with one seed the bounds are NaN (no spread to show).
    """
    from scipy import stats

    values = np.asarray(values, dtype=np.float64)
    mean = float(values.mean())
    if len(values) < 2:
        return [mean, float("nan"), float("nan")]
    half = stats.t.ppf((1 + level) / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(
        len(values))
    return [mean, float(mean - half), float(mean + half)]
