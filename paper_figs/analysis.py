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


def architectures_of(found) -> str | None:
    """"gpt2 x qwen2": the two architectures of the match a record analyses (from the match's
    record.json: the record's `match` / first of `matches`, else its parent folder), or None
    when the match does not state them (records made before pairs named them).

    A stated match path is relative to the folder the command ran in, so it is looked up
    under every ancestor of the record's own folder too (figures are often drawn from
    elsewhere). A stated match that cannot be found gives "match <path> not found": the series
    stays apart instead of being pooled with every other pair of the family.
    """
    from runstore import RecordError, read_header

    config = found.record.config
    match = config.get("match") or next(iter(config.get("matches") or []), None)
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
        architectures = header.get("config", {}).get("architectures")
        return " x ".join(architectures) if architectures else None
    return f"match {match} not found" if match else None


def by_family(found, null: str = "none") -> dict[str, list]:
    """{series: records with `null`, smallest pair first} of `found` (paper_figs.needs.Found
    items); a series is a family and, where the matches state them, the two architectures
    ("language (gpt2 x qwen2)"), so cross-architecture and seed pairs are drawn apart."""
    groups = defaultdict(list)
    for item in found:
        if item.record.null == null:
            architectures = architectures_of(item)
            label = item.record.family + (f" ({architectures})" if architectures else "")
            groups[label].append(item.record)
    return {label: sorted(records, key=pair_size) for label, records in sorted(groups.items())}


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
