"""What a saved model of a trained family states of its training, for the records matched on
it: its held-out loss and its tokenizer's unigram baseline on the same held-out tokens
(`empirics.pipeline.train`), from its train log or, for a model trained before logs kept the
baseline, computed from the corpus it was trained on."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from empirics.analysis.unigram import unigram_counts
from empirics.capture.offline import load_corpus
from empirics.capture.windows import tokenized
from empirics.pipeline.train import LOG, TrainSettings, baseline_fields, token_ids


def model_baseline(directory: Path, corpus: Path, *, counts: dict | None = None) -> dict:
    """The unigram baseline of a saved model trained before logs kept it: its own tokenizer,
    context and held-out budget (from its log), on `corpus`, which must be the corpus it was
    trained on (ValueError otherwise). `counts` keeps the training split's token counts by
    corpus and tokenizer (the slow part, shared by the models of a family) across calls."""
    import transformers

    log = json.loads((Path(directory) / LOG).read_text())
    loaded = load_corpus(corpus)
    if log.get("corpus_sha256") and log["corpus_sha256"] != loaded.sha256:
        raise ValueError(f"{directory} was trained on the corpus {log['corpus_sha256'][:12]}, "
                         f"not on {corpus} ({loaded.sha256[:12]})")
    settings = log.get("settings", {})
    context = int(settings.get("context", TrainSettings.context))
    budget = int(settings.get("heldout_tokens", TrainSettings.heldout_tokens))
    tokenizer = transformers.PreTrainedTokenizerFast.from_pretrained(directory)
    key = (loaded.sha256, hashlib.sha256((Path(directory) / "tokenizer.json").read_bytes())
           .hexdigest(), tokenizer.eos_token_id)
    counts = {} if counts is None else counts
    if key not in counts:
        counts[key] = unigram_counts(tokenized(tokenizer, loaded.documents("train")),
                                     len(tokenizer), tokenizer.eos_token_id)
    heldout = token_ids(tokenizer, loaded.documents("heldout"), limit=budget, seed=None)
    return baseline_fields(counts[key], heldout, context)


def training_summary(directory: Path | None, corpus: Path | None = None, *,
                     counts: dict | None = None) -> dict | None:
    """What a match record states of a saved model's training (None without a train log):
    its held-out loss and unigram baseline, from the log or, for a log made before it kept
    the baseline, computed on `corpus` (`model_baseline`, sharing `counts`); where neither
    can give it, "unigram_loss" is None and "unigram_missing" says why."""
    if directory is None or not (Path(directory) / LOG).is_file():
        return None
    log = json.loads((Path(directory) / LOG).read_text())
    summary = {k: log[k] for k in ("heldout_loss", "unigram_loss", "unigram_train_tokens",
                                   "unigram_smoothing") if k in log}
    if "unigram_loss" in summary:
        return summary
    if corpus is None:
        return summary | {"unigram_loss": None, "unigram_missing": "the train log has no "
                          "unigram baseline and the match was given no --corpus"}
    try:
        return summary | model_baseline(directory, corpus, counts=counts)
    except ValueError as reason:
        return summary | {"unigram_loss": None, "unigram_missing": str(reason)}
