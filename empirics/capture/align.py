"""Align two models' text inputs on shared byte boundaries.

Text
----
Each model tokenizes the document with its own (fast) tokenizer. Token offsets from HF are
*character* indices into the original text; they are converted to UTF-8 *byte* offsets, and
special tokens (BOS, EOS, padding) are dropped. Tokens whose byte spans overlap are one unit:
a byte-level BPE splits a multi-byte character into several tokens that all report the whole
character, and a Metaspace tokenizer's prepended "▁" borrows the first character's span.
Tokens with an empty span cannot be located (a byte-level BPE with ``trim_offsets`` reports a
whitespace-only token such as "ĠĠ" as zero-width at its end) and are left unaligned. A byte
position is a boundary of a side when no unit of that side strictly contains it; the aligned
spans run between consecutive positions that are boundaries of both sides (and endpoints of a
unit of either). Every unit then lies in exactly one span; a span is kept when both sides have
at least one token in it (a span only one side tokenizes, e.g. a space that the other side
trims from its offsets, is dropped), and a model's activation on a span is the mean over its
tokens (every token weighted equally). Whitespace that one side trims from a token's offsets
while the other includes it simply falls inside the shared span.

The official rule (``rule="official"``) replays the paper's official code
(`language/find_pairs/match_stats.py`, `_build_canonical_spans_for_batch`, and
`language/find_pairs/match_bytealign.py`, `_build_intervals_from_offsets`): a boundary is a
token start or end of *both* sides (or 0, or the cut), so bytes one side leaves untokenized
(trimmed whitespace) are no boundary of that side, and the other side's whitespace tokens
there are pooled into the next aligned span instead of forming a span of their own that is
dropped; a token straddling the truncation cut is kept, clipped to it; a token across a
shared boundary (overlapping tokens) counts in every span it overlaps. The official code pools
in bfloat16 (`pool_spans(..., dtype=torch.bfloat16)`).

Images are aligned on one patch grid by `empirics.capture.grid`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

#: The text alignment rules: this package's (exact) and the official code's.
ALIGNMENT_RULES = ("exact", "official")


@dataclass(frozen=True)
class TokenizedText:
    """One document tokenized by one model's tokenizer.

    `input_ids` (tokens,) is what the model runs on (special tokens included); `keep` indexes
    the non-special tokens, whose byte spans are `[byte_start, byte_end)` in the UTF-8 text.
    """

    input_ids: np.ndarray
    keep: np.ndarray
    byte_start: np.ndarray
    byte_end: np.ndarray
    n_bytes: int


@dataclass(frozen=True)
class SpanAlignment:
    """Aligned spans of one document between tokenizations A and B.

    `starts`/`ends` (n_spans,) are byte offsets (kept spans may be non-adjacent when a span
    was dropped); `span_a` (tokens of A,) gives the span of each of A's tokens, -1 for special
    or unaligned tokens; likewise `span_b`. `extra_a`/`extra_b` (P, 2) list (token, span) for
    the further spans a token also lies in (the official rule only; empty otherwise).
    """

    starts: np.ndarray
    ends: np.ndarray
    span_a: np.ndarray
    span_b: np.ndarray
    extra_a: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))
    extra_b: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))

    @property
    def n_spans(self) -> int:
        """Number of aligned spans (samples contributed by the document)."""
        return len(self.starts)


def char_to_byte_offsets(text: str) -> np.ndarray:
    """Byte offset of every character index 0..len(text) in the UTF-8 encoding."""
    widths = [len(c.encode("utf-8")) for c in text]
    return np.concatenate([[0], np.cumsum(widths, dtype=np.int64)]).astype(np.int64)


def tokenize_with_bytes(tokenizer, text: str, *, max_tokens: int | None = None
                        ) -> TokenizedText:
    """Tokenize `text` as the model sees it and locate every token in UTF-8 bytes.

    Parameters
    ----------
    tokenizer : a fast HF tokenizer (offsets need the Rust tokenizers backend).
    text : the document.
    max_tokens : truncate to this many tokens (special tokens included).
    """
    if not getattr(tokenizer, "is_fast", False):
        raise TypeError(f"{type(tokenizer).__name__} is not a fast tokenizer; byte alignment "
                        "needs offsets (load it with use_fast=True)")
    encoded = tokenizer(text, return_offsets_mapping=True, return_special_tokens_mask=True,
                        truncation=max_tokens is not None, max_length=max_tokens)
    offsets = np.asarray(encoded["offset_mapping"], dtype=np.int64).reshape(-1, 2)
    special = np.asarray(encoded["special_tokens_mask"], dtype=bool)
    keep = np.flatnonzero(~special)
    to_byte = char_to_byte_offsets(text)
    return TokenizedText(input_ids=np.asarray(encoded["input_ids"], dtype=np.int64),
                         keep=keep, byte_start=to_byte[offsets[keep, 0]],
                         byte_end=to_byte[offsets[keep, 1]], n_bytes=int(to_byte[-1]))


def token_units(start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge tokens whose byte spans overlap into units.

    Returns the unit of each token (-1 for zero-width tokens, which cannot be located) and
    every unit's [start, end) in bytes. Tokens come in text order.
    """
    unit = np.full(len(start), -1, dtype=np.int64)
    unit_start, unit_end = [], []
    for i, (s, e) in enumerate(zip(start.tolist(), end.tolist())):
        if e <= s:
            continue
        if unit_end and s < unit_end[-1]:
            unit_end[-1] = max(unit_end[-1], e)
        else:
            unit_start.append(s)
            unit_end.append(e)
        unit[i] = len(unit_start) - 1
    return unit, np.asarray(unit_start, dtype=np.int64), np.asarray(unit_end, dtype=np.int64)


def _inside(unit_start: np.ndarray, unit_end: np.ndarray, n_bytes: int) -> np.ndarray:
    """Mask over byte positions 0..n_bytes: True where a unit strictly contains the position."""
    depth = np.zeros(n_bytes + 2, dtype=np.int64)
    np.add.at(depth, unit_start + 1, 1)
    np.add.at(depth, unit_end, -1)
    return np.cumsum(depth)[: n_bytes + 1] > 0


def align_tokens(a: TokenizedText, b: TokenizedText, *, rule: str = "exact") -> SpanAlignment:
    """Aligned spans of one document tokenized two ways (see the module notes): `rule`
    "exact" (this package's) or "official" (the official code's)."""
    if rule not in ALIGNMENT_RULES:
        raise ValueError(f"rule must be one of {ALIGNMENT_RULES}, got {rule!r}")
    if a.n_bytes != b.n_bytes:
        raise ValueError(f"the tokenizations cover different texts ({a.n_bytes} vs "
                         f"{b.n_bytes} bytes)")
    if rule == "official":
        return official_alignment(a, b)
    unit_a, start_a, end_a = token_units(a.byte_start, a.byte_end)
    unit_b, start_b, end_b = token_units(b.byte_start, b.byte_end)
    if not len(start_a) or not len(start_b):
        return _empty(a, b)
    cut = min(end_a.max(), end_b.max())  # truncation: only bytes both sides reached
    points = np.unique(np.concatenate([start_a, end_a, start_b, end_b]))
    inside = _inside(start_a, end_a, a.n_bytes) | _inside(start_b, end_b, a.n_bytes)
    bounds = points[(points <= cut) & ~inside[points]]
    span_of_a = _unit_spans(start_a, end_a, bounds)[unit_a]
    span_of_b = _unit_spans(start_b, end_b, bounds)[unit_b]
    span_of_a[unit_a < 0] = -1
    span_of_b[unit_b < 0] = -1
    both = np.intersect1d(span_of_a[span_of_a >= 0], span_of_b[span_of_b >= 0])
    renumber = np.full(max(len(bounds) - 1, 0) + 1, -1, dtype=np.int64)
    renumber[both] = np.arange(len(both))
    return SpanAlignment(starts=bounds[both], ends=bounds[both + 1],
                         span_a=_scatter(a, renumber[span_of_a]),
                         span_b=_scatter(b, renumber[span_of_b]))


def official_alignment(a: TokenizedText, b: TokenizedText) -> SpanAlignment:
    """Aligned spans under the official rule (see the module notes)."""
    located_a, located_b = a.byte_end > a.byte_start, b.byte_end > b.byte_start
    if not located_a.any() or not located_b.any():
        return _empty(a, b)
    cut = min(a.byte_end[located_a].max(), b.byte_end[located_b].max())
    clipped = [(np.flatnonzero(located & (t.byte_start < cut)), t) for located, t in
               ((located_a, a), (located_b, b))]
    ends = [np.minimum(t.byte_end[kept], cut) for kept, t in clipped]
    shared = np.intersect1d(*[np.union1d([0, cut], np.concatenate([t.byte_start[kept], end]))
                              for (kept, t), end in zip(clipped, ends)])
    members = [_overlapped(t.byte_start[kept], end, kept, shared)
               for (kept, t), end in zip(clipped, ends)]
    both = np.intersect1d(members[0][1], members[1][1])
    renumber = np.full(len(shared), -1, dtype=np.int64)
    renumber[both] = np.arange(len(both))
    (span_a, extra_a), (span_b, extra_b) = (
        _memberships(t, tokens, renumber[spans]) for t, (tokens, spans) in zip((a, b), members))
    return SpanAlignment(starts=shared[both], ends=shared[both + 1], span_a=span_a,
                         span_b=span_b, extra_a=extra_a, extra_b=extra_b)


def _overlapped(start, end, kept, shared) -> tuple[np.ndarray, np.ndarray]:
    """(kept token, span) for every span between consecutive `shared` boundaries that a
    token [start, end) overlaps, in token order."""
    first = np.searchsorted(shared, start, side="right") - 1
    count = np.searchsorted(shared, end, side="left") - first
    tokens = np.repeat(kept, count)
    within = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    return tokens, np.repeat(first, count) + within


def _memberships(tokens: TokenizedText, kept: np.ndarray, span: np.ndarray):
    """Span per position of `input_ids` (each token's first kept span, -1 for none) and the
    (position, span) of its further kept spans."""
    kept, span = kept[span >= 0], span[span >= 0]
    first = np.ones(len(kept), dtype=bool)
    first[1:] = kept[1:] != kept[:-1]
    per_token = np.full(len(tokens.keep), -1, dtype=np.int64)
    per_token[kept[first]] = span[first]
    extra = np.stack([tokens.keep[kept[~first]], span[~first]], axis=1).astype(np.int64)
    return _scatter(tokens, per_token), extra.reshape(-1, 2)


def _empty(a: TokenizedText, b: TokenizedText) -> SpanAlignment:
    empty = np.zeros(0, dtype=np.int64)
    return SpanAlignment(empty, empty, np.full(len(a.input_ids), -1),
                         np.full(len(b.input_ids), -1))


def _unit_spans(unit_start: np.ndarray, unit_end: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """The span index of every unit, -1 when it lies past the last boundary."""
    span = np.searchsorted(bounds, unit_start, side="right") - 1
    inside = (span >= 0) & (span < len(bounds) - 1)
    inside[inside] &= unit_end[inside] <= bounds[span[inside] + 1]
    return np.where(inside, span, -1)


def _scatter(tokens: TokenizedText, span_of_kept: np.ndarray) -> np.ndarray:
    """Span per position of `input_ids` (-1 for special tokens) from the kept tokens' spans."""
    span = np.full(len(tokens.input_ids), -1, dtype=np.int64)
    span[tokens.keep] = span_of_kept
    return span


def pool_spans(activations: torch.Tensor, span: np.ndarray, n_spans: int, *,
               extra: np.ndarray | None = None, dtype: torch.dtype = torch.float32
               ) -> torch.Tensor:
    """Mean activation over the tokens of every span.

    Parameters
    ----------
    activations : (tokens, n) one document's activations, any float dtype and device.
    span : (tokens,) span index per token, -1 for tokens that belong to none.
    n_spans : number of spans.
    extra : (P, 2) further (token, span) memberships (`SpanAlignment.extra_a`), if any.
    dtype : the dtype of the sums and of the result: float32, or bfloat16 to pool as the
        official code does (`_aggregate_spans_vectorized`: bfloat16 sums, then a bfloat16
        division by the token count).

    Returns
    -------
    (n_spans, n) tensor in `dtype` on the activations' device.
    """
    index = torch.as_tensor(span, device=activations.device)
    rows = torch.nonzero(index >= 0).squeeze(1)
    targets = index[rows]
    if extra is not None and len(extra):
        more = torch.as_tensor(extra, device=activations.device)
        rows, targets = torch.cat([rows, more[:, 0]]), torch.cat([targets, more[:, 1]])
    sums = torch.zeros(n_spans, activations.shape[1], dtype=dtype, device=activations.device)
    values = activations[rows].to(dtype)
    if dtype == torch.float32:
        sums.index_add_(0, targets, values)
    else:  # one token per span at a time, so that every addition rounds to `dtype`
        ranks = _ranks_within(targets)
        for step in range(int(ranks.max()) + 1 if len(ranks) else 0):
            sums.index_add_(0, targets[ranks == step], values[ranks == step])
    counts = torch.bincount(targets, minlength=n_spans).clamp_min(1)
    return sums / counts[:, None].to(dtype)


def _ranks_within(targets: torch.Tensor) -> torch.Tensor:
    """The rank of every entry among the entries with the same target, in order."""
    order = torch.argsort(targets, stable=True)
    ranks = torch.empty_like(targets)
    counts = torch.bincount(targets)
    starts = torch.cumsum(counts, 0) - counts
    ranks[order] = torch.arange(len(targets), device=targets.device) - starts[targets[order]]
    return ranks
