"""Which records are fitted together, never silently pooled (docs/selection.md).

Records join one scaling series only when their `series_key` agrees (family, a toy sweep's
beta and settings, k, threshold, inputs, dtype, ...: everything but the pair's size, models
and seeds). Records of several series under one root are refused, with the keys that differ
and the `--select KEY=VALUE` that picks each; an incomplete series (planned widths without a
record, fewer seed pairs at some sizes) and a record far from the others at its size are
reported as warnings, which the bridge prints and saves with its result.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Sequence

import numpy as np

from bridge.points import group_by_size
from empirics.records.toy import planned_widths

#: A count this many times away from the median of the others at its size is an outlier.
OUTLIER_FACTOR = 3.0


class MixedSeries(LookupError):
    """The records form several series (or none matches a selector); the message lists
    them and how to pick one."""


def flatten(key: dict, prefix: str = "") -> dict[str, str]:
    """{"toy": {"beta": 1.5}} -> {"toy.beta": "1.5"} (values as JSON text)."""
    flat = {}
    for name, value in key.items():
        if isinstance(value, dict):
            flat |= flatten(value, f"{prefix}{name}.")
        else:
            flat[f"{prefix}{name}"] = json.dumps(value, sort_keys=True)
    return flat


def parse_selector(text: str) -> tuple[str, str]:
    """'toy.beta=1.5' -> ("toy.beta", "1.5"); the value is compared as JSON text."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise ValueError(f"--select takes KEY=VALUE (e.g. beta=1.5), got {text!r}")
    value = value.strip()
    try:
        value = json.dumps(json.loads(value), sort_keys=True)
    except json.JSONDecodeError:
        value = json.dumps(value)
    return name.strip(), value


def _matches(flat: dict[str, str], name: str, value: str) -> bool:
    """Whether the flattened key has `name` at `value`; a key without `name` has it at null
    (as `describe_mixture` offers: --select replay=null picks the records without one)."""
    keys = [k for k in flat if k == name or k.endswith("." + name)]
    if not keys:
        return value == "null"
    return all(flat[k] == value for k in keys)


def select_series(found: Sequence[tuple[Path, object]], selectors: Sequence[str] = ()
                  ) -> list[tuple[Path, object]]:
    """The records of `found` that match every selector and form one series; raises
    `MixedSeries` when they form several or a selector matches none (ValueError for a
    malformed selector)."""
    chosen = list(found)
    for text in selectors:
        name, value = parse_selector(text)
        chosen = [(p, r) for p, r in chosen if _matches(flatten(r.series_key()), name, value)]
        if not chosen:
            raise MixedSeries(f"no record matches --select {text}; "
                              + _listing(series_groups([r for _, r in found])))
    groups = series_groups([record for _, record in chosen])
    if len(groups) > 1:
        raise MixedSeries(_listing(groups))
    return chosen


def _listing(groups: dict[str, list]) -> str:
    """The series of `groups` (`series_groups`) as `describe_mixture` states them, or the
    one series' key in full."""
    keys = [json.loads(key) for key in groups]
    if len(keys) == 1:
        flat = flatten(keys[0])
        return "the records form one series: " + ", ".join(f"{n}={v}" for n, v in flat.items())
    return describe_mixture(keys, [len(v) for v in groups.values()])


def series_groups(records: Sequence) -> dict[str, list]:
    """Records by series (keys: the series key as canonical JSON), in first-seen order."""
    groups: dict[str, list] = {}
    for record in records:
        groups.setdefault(json.dumps(record.series_key(), sort_keys=True), []).append(record)
    return groups


def differing(keys: Sequence[dict]) -> list[str]:
    """The flattened names whose values differ between the series keys `keys`."""
    flats = [flatten(k) for k in keys]
    names = sorted({n for f in flats for n in f})
    return [n for n in names if len({f.get(n) for f in flats}) > 1]


def describe_mixture(keys: list[dict], counts: list[int]) -> str:
    """The series, by the keys in which they differ, with a selector for each."""
    flats, differ = [flatten(k) for k in keys], differing(keys)
    lines = [f"the records form {len(keys)} series that differ in {', '.join(differ)}; "
             "fit one at a time:"]
    for flat, count in zip(flats, counts):
        # quoted for the shell: a value such as ["gpt2", "qwen2"] pastes as one argument
        picks = " ".join("--select " + shlex.quote(f"{n}={flat.get(n, 'null')}")
                         for n in differ)
        lines.append(f"  {count} records: {picks}")
    return "\n".join(lines)


def completeness_warnings(records: Sequence, size: str = "neurons") -> list[str]:
    """Sizes planned but missing (a toy sweep's widths), and sizes with fewer records
    (seed pairs) than the others."""
    warnings = []
    groups = group_by_size(records, size)
    planned = {w for r in records for w in planned_widths(r.config)}
    present = {getattr(r, "n_neurons_a", None) for r in records}
    missing = sorted(planned - present)
    if missing:
        warnings.append(f"incomplete series: widths {missing} of the planned "
                        f"{sorted(planned)} have no record")
    per_size = {n: len(rs) for n, rs in groups.items()}
    if len(set(per_size.values())) > 1:
        most = max(per_size.values())
        short = {f"{n:.4g}": c for n, c in per_size.items() if c < most}
        warnings.append(f"uneven series: {most} records at most sizes but {short} at others")
    return warnings


def _label(record) -> str:
    if hasattr(record, "model_a"):
        return f"{record.model_a} x {record.model_b}"
    return f"anchors of {record.anchor}"


def outlier_warnings(records: Sequence, size: str = "neurons") -> list[str]:
    """Records whose count is more than `OUTLIER_FACTOR` times away from the median of the
    other records at their size (counts + 1, so zeros compare); two records at a size that
    far apart are reported together, since neither can be told the outlier."""
    warnings = []
    for n, group in group_by_size(records, size).items():
        counts = np.array([r.n_rosetta for r in group], dtype=float) + 1.0
        if len(group) == 2 and max(counts) / min(counts) > OUTLIER_FACTOR:
            warnings.append(f"the 2 records at N = {n:.4g} disagree: counts "
                            f"{[r.n_rosetta for r in group]} ({_label(group[0])}; "
                            f"{_label(group[1])})")
        if len(group) < 3:
            continue
        for i, record in enumerate(group):
            others = np.median(np.delete(counts, i))
            if max(counts[i] / others, others / counts[i]) > OUTLIER_FACTOR:
                warnings.append(f"outlier at N = {n:.4g}: {_label(record)} counts "
                                f"{record.n_rosetta}, the others' median {others - 1:.4g}")
    return warnings
