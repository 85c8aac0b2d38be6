"""What the neuron browser states about a run beside its rows: the rule its pairs were kept
by, its sizes, and, where the run's nulls lie beside it, their counts, the chance level they
set and the count that clears it (the rules the bridge fits calibrated counts by,
`empirics.records.nulls`). Everything is read from records; nothing is re-matched.
"""

from __future__ import annotations

from pathlib import Path

from empirics.records.anchors import AnchorRecord
from empirics.records.match import MatchRecord
from empirics.records.nulls import (
    CALIBRATORS,
    NULL_NAMES,
    NULL_QUANTILE,
    MissingNull,
    count_above,
    null_partners,
    null_threshold,
)
from runstore import find_records


def kept_rule(k: int, min_correlation: float | None) -> str:
    """How the pairs were kept: "mutual top-k, no r threshold" or "..., r >= t"."""
    rule = "no r threshold" if min_correlation is None else f"r >= {min_correlation:g}"
    return f"mutual top-{k}, {rule}"


def match_facts(run_dir: Path, record: MatchRecord) -> tuple[list[str], list[dict]]:
    """The lines stated about a match run, and the chance levels of its nulls found beside
    it in `run_dir`'s parent ({"name", "r"}: the null's `NULL_QUANTILE` quantile of r)."""
    lines = [f"{kept_rule(record.k, record.min_correlation)}; "
             f"{record.n_neurons_a:,} x {record.n_neurons_b:,} neurons (dead "
             f"{record.dead_a}/{record.dead_b}), {record.n_tokens:,} samples"]
    found = find_records(run_dir.parent, MatchRecord, model_a=record.model_a,
                         model_b=record.model_b)
    levels = []
    for against in CALIBRATORS:
        nulls = [null for _, null in null_partners(record, found, against)]
        if not nulls:
            continue
        name = NULL_NAMES[against]
        counts = ", ".join(str(null.n_rosetta) for null in nulls)
        head = f"{name} ({len(nulls)} run{'s' if len(nulls) > 1 else ''}): {counts} mutual pairs"
        try:
            level = null_threshold(nulls, NULL_QUANTILE)
        except MissingNull:
            lines.append(f"{head}; no chance level (no mutual pairs)")
            continue
        levels.append({"name": name, "r": level})
        lines.append(f"{head}; their r's {NULL_QUANTILE:g} quantile {level:.3f}, cleared by "
                     f"{count_above(record, level)} of the {record.n_rosetta} pairs here "
                     "(the calibrated count)")
    if not levels and record.null in CALIBRATORS["permuted"]:
        lines.append("no null run of this pair beside it (empirics.match --null permuted), so "
                     "no calibrated count")
    return lines, levels


def anchor_facts(record: AnchorRecord) -> list[str]:
    """The lines stated about an anchors run."""
    counts = ", ".join(f"{other} {count}" for other, count in zip(record.others,
                                                                  record.pairwise_counts))
    return [f"units of {record.anchor} matched in all {len(record.others)} other models "
            f"({kept_rule(record.k, record.min_correlation)}); matched pairwise: {counts}"]
