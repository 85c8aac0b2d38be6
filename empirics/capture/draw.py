"""Which documents a match sees when it is asked for fewer than its split holds.

A built corpus lists its documents by source (all code first, then data, prose, ...), so the
first D documents of a split are not a sample of it. `draw_documents` takes a seeded sample
stratified by category: each category gets its share of D by largest remainders
(Hamilton's method, ties to the larger category), and its documents are drawn uniformly
without replacement within it. The chosen documents keep their order in the split. Without
categories (text files, the embedded corpus) the draw is a uniform sample. The draw (rule,
seed, count and the category mix) goes into every record matched on it.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

#: How a match's documents are chosen: a stratified seeded sample, or the split's first D
#: (the rule of records made before the draw existed).
DRAWS = ("stratified", "first")


def category_quota(sizes: dict[str, int], count: int) -> dict[str, int]:
    """{category: documents to draw}: `count` shared in proportion to `sizes` by largest
    remainders (the quotas sum to `count`; no category gets more than it holds)."""
    total = sum(sizes.values())
    exact = {name: count * size / total for name, size in sizes.items()}
    quota = {name: int(share) for name, share in exact.items()}
    order = sorted(sizes, key=lambda name: (-(exact[name] - quota[name]), -sizes[name], name))
    for name in order[:count - sum(quota.values())]:
        quota[name] += 1
    return quota


def draw_documents(documents: list, count: int | None, *, seed: int = 0,
                   categories: dict[str, str] | None = None,
                   rule: str = "stratified") -> tuple[list, dict | None]:
    """(the documents to match, what the draw was): all of them when `count` is None (rule
    "all"), else `count` of them by `rule` ("stratified": by the `categories` {document id:
    category}, seeded; "first": the first `count`). Refuses a count below 1 or above what
    there is."""
    labels = [(categories or {}).get(item.id, "all") for item in documents]
    if count is None:
        return list(documents), {"rule": "all", "docs": len(documents), "seed": None,
                                 "of": len(documents),
                                 "categories": dict(sorted(Counter(labels).items()))}
    if rule not in DRAWS:
        raise ValueError(f"the documents' draw must be one of {DRAWS}, got {rule!r}")
    if count < 1:
        raise ValueError(f"--docs must be at least 1, got {count}")
    if count > len(documents):
        raise ValueError(f"--docs {count} asks for more documents than the inputs hold "
                         f"({len(documents)})")
    if rule == "first":
        chosen = list(range(count))
    else:
        rng = np.random.default_rng(seed)
        members: dict[str, list[int]] = {}
        for index, label in enumerate(labels):
            members.setdefault(label, []).append(index)
        quota = category_quota({name: len(found) for name, found in members.items()}, count)
        chosen = sorted(int(index) for name in sorted(members)
                        for index in rng.choice(members[name], quota[name], replace=False))
    mix = Counter(labels[index] for index in chosen)
    draw = {"rule": rule, "docs": count, "seed": seed if rule == "stratified" else None,
            "of": len(documents), "categories": dict(sorted(mix.items()))}
    return [documents[index] for index in chosen], draw


def draw_text(draw: dict | None, documents: int | None = None, unit: str = "documents"
              ) -> str:
    """One line that says how the documents (or other `unit`s: images) were chosen
    (`documents`: their number, for a record made before draws were recorded)."""
    if not draw:
        return f"inputs: {documents} {unit} (how they were chosen is not recorded)"
    mix = ", ".join(f"{name} {number}" for name, number in draw["categories"].items())
    how = {"stratified": f"stratified by category, seed {draw['seed']}",
           "first": "the first ones (not a sample)", "all": "all"}[draw["rule"]]
    return f"inputs: {draw['docs']} of {draw['of']} {unit}, {how} ({mix})"
