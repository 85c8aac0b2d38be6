"""What a match record's pairs are guaranteed to be, read from its `config["guarantee"]`
(written by the engine: `empirics.engine.matching.Matches.guarantee`). Torch-free.

Three readings, used alike by the match summary, the neuron browser and the bridge:

- `is_exact`: every pair is the exact engine's. The block engine's records (and records
  saved before the engine stated a guarantee); a two-stage record only when every live
  neuron of both sides was certified or rechecked. A found pair that touches no uncertified
  neuron is not enough: a true pair between two uncertified neurons can be missing.
- `certified_down_to`: the lowest r from which the record's count is exact (every mutual
  pair with r >= it found, none wrong; docs/matching.md, "Certified count"); -1.0 for an
  exact record, None where unknown (the official replay, or a two-stage record saved before
  the engine recorded it).
- `exact_from`: whether the count at a threshold is exact (None: unknown).
"""

from __future__ import annotations

#: The lowest r there is: a count certified down to it is the whole count.
WHOLE_COUNT = -1.0


def is_exact(guarantee: dict | None) -> bool:
    """Whether every pair of the record is the exact engine's (see the module notes)."""
    if not guarantee or guarantee.get("mode") == "block":
        return True
    if guarantee.get("mode") != "two-stage":
        return False
    if guarantee.get("rechecked"):
        return True
    return guarantee.get("uncertified_a") == 0 and guarantee.get("uncertified_b") == 0


def certified_down_to(guarantee: dict | None) -> float | None:
    """The lowest r from which the record's count is exact (-1.0: all of it), or None when
    the record does not say."""
    if is_exact(guarantee):
        return WHOLE_COUNT
    if not guarantee or guarantee.get("mode") != "two-stage":
        return None
    value = guarantee.get("certified_down_to")
    return None if value is None else max(float(value), WHOLE_COUNT)


def exact_from(guarantee: dict | None, threshold: float) -> bool | None:
    """Whether the count of pairs with r >= `threshold` is exact (None: the record does not
    say down to which r its count is certified)."""
    floor = certified_down_to(guarantee)
    return None if floor is None else bool(threshold >= floor)


def guarantee_text(guarantee: dict | None) -> str:
    """The guarantee in a few words: "exact" (the block engine), "exact (certified)" or
    "exact (rechecked)" (two-stage, every live neuron certified or rechecked), "official"
    (the official code's arithmetic), else the uncertified neurons a side, the found pairs
    that touch them and the r from which the count is exact."""
    if not guarantee or guarantee.get("mode") == "block":
        return "exact"
    if guarantee.get("mode") != "two-stage":
        return str(guarantee.get("mode"))
    if guarantee.get("rechecked"):
        return "exact (rechecked)"
    if is_exact(guarantee):
        return "exact (certified)"
    neurons = "/".join(str(guarantee.get(f"uncertified_{side}", "?")) for side in "ab")
    pairs = guarantee.get("uncertain_pairs", "?")
    return (f"not exact: {neurons} uncertified, {pairs} pairs touch them, "
            f"{floor_text(certified_down_to(guarantee))}")


def floor_text(floor: float | None) -> str:
    """Where a count is exact, in words: "count exact", "exact for r >= 0.412", "exact at
    no r" (a floor above 1) or "floor unknown"."""
    if floor is None:
        return "floor unknown"
    if floor <= WHOLE_COUNT:
        return "count exact"
    return f"exact for r >= {floor:.3f}" if floor <= 1.0 else "exact at no r"


def guarantee_fields(guarantee: dict | None) -> dict:
    """The guarantee as JSON-ready fields: its words, whether exact, the floor of the
    certified count, the uncertified neurons a side and the pairs touching them (None where
    the record does not say)."""
    guarantee = guarantee or {}
    return {"guarantee": guarantee_text(guarantee), "exact": is_exact(guarantee),
            "certified_down_to": certified_down_to(guarantee),
            **{name: guarantee.get(name) for name in
               ("uncertified_a", "uncertified_b", "uncertain_pairs")}}
