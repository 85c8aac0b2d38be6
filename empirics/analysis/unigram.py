"""The unigram baseline of a tokenizer: the held-out cross-entropy of a model that knows only
how often each token occurs. Torch-free: token ids in, nats out.

A language model that scores no better than this on the same held-out tokens has learnt
nothing beyond token frequencies; `empirics.train` logs it beside each model's held-out loss
and `bridge.baseline` leaves such models out of the fits (docs/selection.md, "Models that
learnt nothing").
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from empirics.capture.windows import whole_windows

#: How the unigram probabilities are smoothed, as the training logs state it.
SMOOTHING = "add-one (Laplace) over the tokenizer's vocabulary"


def unigram_counts(documents: Iterable[np.ndarray], vocab: int, eos: int | None) -> np.ndarray:
    """(vocab,) counts of every token id of the documents' ids, each document followed by
    `eos` (as the training stream joins them; None: no end-of-text token)."""
    counts = np.zeros(vocab, dtype=np.int64)
    for ids in documents:
        counts += np.bincount(np.asarray(ids, dtype=np.int64), minlength=vocab)[:vocab]
        if eos is not None:
            counts[eos] += 1
    return counts


def scored_targets(tokens: np.ndarray, context: int) -> np.ndarray:
    """The held-out tokens a model's held-out loss scores: the stream cut into whole windows
    of context + 1, each fed as its first `context` tokens with the same tokens as labels, so
    tokens 1 .. context - 1 of each window are predicted."""
    return whole_windows(np.asarray(tokens, dtype=np.int64), context + 1)[:, 1:context].ravel()


def unigram_loss(counts: np.ndarray, targets: np.ndarray) -> float:
    """Mean -log p(t) over `targets` (nats), p(t) = (count_t + 1) / (total + V).

    Notes
    -----
    Add-one smoothing gives every token of the vocabulary a probability, so a held-out token
    never seen in training costs log(total + V) instead of an infinite loss; with training
    counts in the millions it moves the loss of seen tokens by about V / total.
    """
    counts = np.asarray(counts, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.int64)
    if targets.size == 0:
        raise ValueError("no held-out tokens to score the unigram baseline on")
    log_p = np.log(counts + 1.0) - np.log(counts.sum() + len(counts))
    return float(-log_p[targets].mean())
