"""Replicates are distinct networks: records of the same two networks count once.

Two match records whose models are the same networks (`PairSizes.networks`: the same weights
and configuration, or the same configuration drawn from the same seed, whatever the models
are named), in the same series and under the same null (for a permutation null, the same
permutation seed too), measure one pair twice. Fitting both as two pairs at their size
pseudo-replicates it: the mean is unchanged but the scatter, the completeness check and a
calibration's pooled null all count it twice. `count_once` keeps one record of each such
group and says which it left out; it refuses a group whose counts differ, since then
something the identity does not see differs and "counted once" names no single count.
Records that state no network identity (made before match records kept their weights'
identity) cannot be checked: they are kept, each as its own pair, and a warning says so.
docs/selection.md ("Identical networks") states the rule. Torch-free.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence, TypeVar

T = TypeVar("T")


class SameNetworks(LookupError):
    """Records of the same two networks disagree in their counts (the message names them)."""


def replicate_key(record) -> str | None:
    """What makes two records one measurement: the series, the null, the unordered pair of
    network identities and, for a permutation null, its seed; None when a network's
    identity is not stated (or the record is not a pair's, e.g. an anchor set)."""
    networks = record.networks() if hasattr(record, "networks") else (None,)
    if None in networks:
        return None
    key = {"series": record.series_key(), "null": record.null, "networks": sorted(networks)}
    if "permuted" in record.null:  # several permutations of one pair pool as distinct draws
        key["permutation_seed"] = record.config.get("seed")
    return json.dumps(key, sort_keys=True)


def _label(record) -> str:
    return f"{record.model_a} x {record.model_b} ({record.null})"


def count_once(found: Sequence[tuple[Path, T]]) -> tuple[list[tuple[Path, T]], list[str]]:
    """`found` (path, record) with one record of each group of the same networks (the first
    by path), in the order given, and the warnings: each group counted once (which records
    were left out) and the records that state no network identity. Raises `SameNetworks`
    when the records of a group have different counts."""
    groups: dict[str, list[tuple[Path, T]]] = {}
    unstated = []
    for path, record in found:
        key = replicate_key(record)
        if key is None:
            unstated += [path] if hasattr(record, "networks") else []
            continue
        groups.setdefault(key, []).append((path, record))
    dropped, warnings = set(), []
    for group in groups.values():
        if len(group) < 2:
            continue
        group = sorted(group, key=lambda item: str(item[0]))
        counts = [record.n_rosetta for _, record in group]
        if len(set(counts)) > 1:
            raise SameNetworks(
                f"{len(group)} records measure the same two networks with the same settings "
                f"but count {counts}: " + "; ".join(f"{_label(r)} at {p}" for p, r in group)
                + ". Something their identity does not state differs; keep one of them "
                "under the records root")
        kept, *others = group
        dropped |= {str(path) for path, _ in others}
        warnings.append(
            f"{len(group)} records are the same two networks (R = {counts[0]}), counted once: "
            f"kept {_label(kept[1])} at {kept[0]}; left out "
            + "; ".join(f"{_label(r)} at {p}" for p, r in others))
    if unstated:
        warnings.append(f"{len(unstated)} records state no identity of their networks (made "
                        "before match records kept it): not checked for identical networks, "
                        "each counted as its own pair")
    return [(p, r) for p, r in found if str(p) not in dropped], warnings
