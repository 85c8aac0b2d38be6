"""What the figures of the analyses (Figs. 6, 7, 25, 31, 33) share: records grouped by family
and pair size, and one colour per model size."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
from matplotlib import colormaps

#: Sequential colour map of model sizes (small: dark, large: light).
SIZE_MAP = "viridis"


def pair_size(record) -> float:
    """N of a pair as the analysis figures draw it: its parameters (`PairSizes.pair_size`)."""
    return record.pair_size("params")


def match_config(found, match: str | None = None) -> dict | str | None:
    """The config of the match a record analyses (from the match's record.json: `match`,
    else the record's `match` / first of `matches`, else its parent folder); None when no
    match record is
    there (records built without one), "match <path> not found" when a stated match cannot
    be found.

    A stated match path is relative to the folder the command ran in, so it is looked up
    under every ancestor of the record's own folder too (figures are often drawn from
    elsewhere).
    """
    from runstore import RecordError, read_header

    config = found.record.config
    match = match or config.get("match") or next(iter(config.get("matches") or []), None)
    if match:
        stated = Path(match)
        candidates = [stated] if stated.is_absolute() else [
            stated, *(ancestor / stated for ancestor in Path(found.path).resolve().parents)]
    else:
        candidates = [Path(found.path).parent]
    for candidate in candidates:
        try:
            header = read_header(candidate)
        except (OSError, RecordError, ValueError):
            continue
        return header.get("config", {})
    return f"match {match} not found" if match else None


def architectures_of(found) -> str | None:
    """"gpt2 x qwen2": the two architectures of the match a record analyses (`match_config`),
    or None when the match does not state them (records made before pairs named them). A
    stated match that cannot be found gives "match <path> not found": the series stays apart
    instead of being pooled with every other pair of the family."""
    config = match_config(found)
    if isinstance(config, str) or config is None:
        return config
    architectures = config.get("architectures")
    return " x ".join(architectures) if architectures else None


def inputs_of(found) -> tuple[int, str] | None:
    """(number, sha256) of the inputs the analysed match was made on, or None where its
    match record does not say."""
    config = match_config(found)
    if not isinstance(config, dict) or "inputs_sha256" not in config:
        return None
    return len(config.get("inputs", [])), config["inputs_sha256"]


def by_family(found, null: str = "none", *, split_inputs: bool = True) -> dict[str, list]:
    """{series: records with `null`, smallest pair first} of `found` (paper_figs.needs.Found
    items); a series is a family and, where the matches state them, the two architectures
    ("language (gpt2 x qwen2)"), so cross-architecture and seed pairs are drawn apart.

    With `split_inputs`, the runs of a family on different inputs (the budgets of a
    stability study, another image seed) are separate series too, labelled by their number
    of inputs ("..., 12 inputs"), so no figure averages a pair over budgets.
    """
    groups = defaultdict(list)
    for item in found:
        if item.record.null == null:
            architectures = architectures_of(item)
            label = item.record.family + (f" ({architectures})" if architectures else "")
            inputs = inputs_of(item) if split_inputs else None
            groups[label, inputs].append(item.record)
    return {_input_label(label, inputs, groups): sorted(records, key=pair_size)
            for (label, inputs), records in sorted(groups.items(), key=_order)}


def _order(item):
    (label, inputs), _ = item
    return label, inputs or (0, "")


def _input_label(label: str, inputs, groups) -> str:
    """`label` as it is when its family has runs on one set of inputs only; else with the
    number of inputs (and the start of their sha256 where two sets are as large)."""
    others = [i for lab, i in groups if lab == label]
    if len(others) == 1 or inputs is None:
        return label
    n, sha = inputs
    same_size = sum(1 for other in others if other and other[0] == n) > 1
    return f"{label}, {n:,} inputs" + (f" ({sha[:8]})" if same_size else "")


def size_colours(n: int) -> list:
    """`n` colours from small to large size (the map's ends trimmed, so each stays visible
    on white)."""
    cmap = colormaps[SIZE_MAP]
    return [cmap(x) for x in np.linspace(0.05, 0.85, max(n, 1))][:n]


def size_label(size: float) -> str:
    """A parameter count in short form: 1.2e+08 -> "120M"."""
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if size >= scale:
            return f"{size / scale:.3g}{suffix}"
    return f"{size:.3g}"
