"""Models that learnt nothing: a trained model whose held-out loss is not below its tokenizer's
unigram baseline by `UNTRAINED_MARGIN` has learnt no more than token frequencies, and a
Rosetta count of it measures an untrained network under a trained one's name.

The match records of a trained family state each model's held-out loss and unigram baseline
(`training` in their config: `empirics.pipeline.baseline`). `leave_out_untrained` takes the
pairs with a flagged model out of the fits (or keeps them, flagged, with
`--keep-untrained-models`) and says which, as the toy study leaves out its failed nets.
docs/selection.md ("Models that learnt nothing") states the rule. Torch-free.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence, TypeVar

from empirics.records.toy import is_toy_pair

T = TypeVar("T")

#: How far (nats) below the unigram baseline a model's held-out loss must lie for it to count
#: as trained: a perplexity at least e^-0.1 = 0.905 times the unigram's (a stated choice).
UNTRAINED_MARGIN = 0.1


def untrained_models(record) -> dict[str, str]:
    """{model name: why} for the models of a trained pair flagged as untrained by the rule
    (held-out loss > unigram baseline - `UNTRAINED_MARGIN`); {} for a null, a pair whose
    record states no training, or models without a baseline (`unchecked_models`)."""
    training = record.config.get("training") if record.null == "none" else None
    flagged = {}
    for name, summary in zip((record.model_a, record.model_b), training or ()):
        if not summary or summary.get("unigram_loss") is None:
            continue
        loss, unigram = summary["heldout_loss"], summary["unigram_loss"]
        if loss > unigram - UNTRAINED_MARGIN:
            flagged[name] = (f"held-out loss {loss:.3f} nats, not {UNTRAINED_MARGIN:g} below "
                             f"its unigram baseline {unigram:.3f}")
    return flagged


def unchecked_models(record) -> list[str]:
    """Models of a trained pair whose record states no baseline to check them against: no
    `training` at all (records made before matches kept it), or a train log whose baseline
    could not be computed (its reason). Hub checkpoints without a train log (None) are
    taken as trained and not listed."""
    if record.null != "none" or is_toy_pair(record.config):
        return []
    if "training" not in record.config:
        return [f"{record.model_a} x {record.model_b}: no training stated"]
    return [f"{name}: {summary.get('unigram_missing', 'no unigram baseline')}"
            for name, summary in zip((record.model_a, record.model_b),
                                     record.config["training"])
            if summary and summary.get("unigram_loss") is None]


def leave_out_untrained(found: Sequence[tuple[Path, T]], *, keep: bool = False
                        ) -> tuple[list[tuple[Path, T]], list[str], list[dict]]:
    """`found` without the trained pairs that hold a flagged model (all of them with `keep`),
    the warnings to print and save, and the flagged pairs as the Comparison's config states
    them ({"record", "models": {name: why}, "kept"})."""
    flagged, kept, warnings = [], [], []
    for path, record in found:
        models = untrained_models(record)
        if models:
            flagged.append({"record": str(path), "models": models, "kept": keep})
        if keep or not models:
            kept.append((path, record))
    for item in flagged:
        action = "kept in the fits (--keep-untrained-models)" if keep else "left out of the fits"
        warnings.append(f"model not trained (held-out loss not {UNTRAINED_MARGIN:g} nats below "
                        f"the unigram baseline), {action}: {item['record']}: "
                        + "; ".join(f"{name}: {why}" for name, why in item["models"].items()))
    if flagged and not keep:
        warnings.append(f"{len(flagged)} pairs with an untrained model left out; keep them "
                        "with --keep-untrained-models")
    unchecked = [line for _, record in found for line in unchecked_models(record)]
    if unchecked:
        warnings.append(f"{len(unchecked)} trained pairs or models not checked against the "
                        "unigram baseline: " + "; ".join(unchecked[:3])
                        + (f"; ... and {len(unchecked) - 3} more" if len(unchecked) > 3 else ""))
    return kept, warnings, flagged
