"""Domain specialization: which input categories a neuron's top-activating samples come from.

Every input carries a category (code, prose, data, ...; `document_categories`). For a neuron
with top-k samples s_1..s_k, the enrichment of category c is

    E_c = (share of its top-k samples in c) / (share of all samples in c),

so E_c = 1 is the corpus baseline (a neuron whose top samples are drawn at the corpus's
frequencies), E_c > 1 over-representation, and a neuron whose top samples all lie in c has
E_c = 1 / f_c. Samples are the engine's stream samples (aligned token spans, image patch
positions), so f_c is the category's share of the stream: its token frequency for text.
`summarize_enrichment` averages E_c over a population of neurons with a bootstrap interval
(the paper's Figure 7 per model size).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from empirics.analysis.selectivity import mean_interval
from empirics.capture.corpus import CODE, DATA, MULTILINGUAL, PROSE

#: The embedded corpus's categories: the group each document belongs to in empirics.capture.corpus.
CORPUS_CATEGORIES = {doc_id: category
                     for category, group in (("prose", PROSE), ("multilingual", MULTILINGUAL),
                                             ("code", CODE), ("data", DATA))
                     for doc_id, _ in group}


def document_categories(ids: Sequence[str], mapping: Mapping[str, str] | None = None
                        ) -> list[str]:
    """The category of every input id: `mapping` first, then the embedded corpus's groups.

    Raises ValueError naming the ids that have no category, so a user's own inputs are never
    silently lumped together (pass a mapping, e.g. `analyze --categories FILE.json`).
    """
    mapping = {**CORPUS_CATEGORIES, **(mapping or {})}
    missing = [i for i in ids if i not in mapping]
    if missing:
        raise ValueError(f"{len(missing)} inputs have no category (e.g. {missing[:3]}); give a "
                         "JSON file mapping every input id to its category")
    return [mapping[i] for i in ids]


def sample_categories(sample_input: np.ndarray, input_categories: Sequence[str]
                      ) -> tuple[np.ndarray, list[str]]:
    """Category index of every stream sample, and the sorted category names.

    `sample_input` (samples,) is the input index of each sample (`sample_table["input"]`).
    """
    names = sorted(set(input_categories))
    code = np.array([names.index(c) for c in input_categories], dtype=np.int64)
    return code[np.asarray(sample_input, dtype=np.int64)], names


def category_enrichment(top_samples: np.ndarray, sample_category: np.ndarray,
                        n_categories: int) -> np.ndarray:
    """E_c of every neuron (rows of `top_samples`) and category, shape (neurons, C).

    Parameters
    ----------
    top_samples : (neurons, k) sample indices of each neuron's top activations; -1 marks
        padding (fewer than k samples seen) and is ignored.
    sample_category : (samples,) category index of every sample.

    A neuron with no valid sample gets NaN.
    """
    top_samples = np.asarray(top_samples, dtype=np.int64)
    frequency = np.bincount(sample_category, minlength=n_categories) / len(sample_category)
    valid = top_samples >= 0
    categories = np.where(valid, sample_category[np.where(valid, top_samples, 0)], -1)
    counts = np.stack([(categories == c).sum(axis=1) for c in range(n_categories)], axis=1)
    total = valid.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, counts / total, np.nan)
        return np.where(frequency > 0, share / frequency, np.nan)


def summarize_enrichment(enrichment: np.ndarray, names: Sequence[str], *,
                         rng: np.random.Generator, level: float = 0.95) -> dict:
    """{category: [mean, low, high]} of E_c over the neurons (rows), bootstrap interval."""
    return {name: mean_interval(enrichment[:, c], rng=rng, level=level)
            for c, name in enumerate(names)}
