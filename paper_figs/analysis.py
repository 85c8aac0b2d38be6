"""What the figures of the analyses (Figs. 6, 7, 25, 31, 33) share: records grouped by family
and pair size, and one colour per model size."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from matplotlib import colormaps

#: Sequential colour map of model sizes (small: dark, large: light).
SIZE_MAP = "viridis"


def pair_size(record) -> float:
    """N of a pair as the analysis figures draw it: its parameters (`PairSizes.pair_size`)."""
    return record.pair_size("params")


def by_family(records, null: str = "none") -> dict[str, list]:
    """{family: records of that family (with `null`), smallest pair first}."""
    groups = defaultdict(list)
    for record in records:
        if record.null == null:
            groups[record.family].append(record)
    return {family: sorted(found, key=pair_size) for family, found in sorted(groups.items())}


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
