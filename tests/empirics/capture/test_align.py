"""Token alignment on shared byte boundaries, span pooling, and patch-grid resampling."""

import numpy as np
import pytest
import torch

from empirics.capture.align import (
    TokenizedText,
    align_tokens,
    char_to_byte_offsets,
    pool_spans,
    token_units,
    tokenize_with_bytes,
)
from empirics.capture.grid import grid_samples, patch_grid, resample_grid
from empirics.capture.stimuli import default_corpus
from tests.empirics.tiny_models import train_tokenizers


@pytest.fixture(scope="module")
def tokenizers():
    return train_tokenizers()


def _tokens(pieces: list[str], special_first: bool = False) -> TokenizedText:
    """A hand tokenization: consecutive byte pieces (optionally after one special token)."""
    lengths = [len(p.encode()) for p in pieces]
    ends = np.cumsum(lengths)
    n = len(pieces) + special_first
    return TokenizedText(input_ids=np.arange(n), keep=np.arange(special_first, n),
                         byte_start=ends - lengths, byte_end=ends, n_bytes=int(ends[-1]))


def test_byte_offsets_of_non_ascii_characters():
    assert char_to_byte_offsets("aé⭢😀").tolist() == [0, 1, 3, 6, 10]


def test_hand_case_spans_and_mean_pooling():
    a = _tokens(["He", "llo", " wor", "ld", "!"], special_first=True)
    b = _tokens(["Hel", "lo", " world", "!"])
    al = align_tokens(a, b)
    assert list(zip(al.starts, al.ends)) == [(0, 5), (5, 11), (11, 12)]
    assert al.span_a.tolist() == [-1, 0, 0, 1, 1, 2]
    assert al.span_b.tolist() == [0, 0, 1, 2]
    acts_a = torch.tensor([[100.0], [1.0], [3.0], [5.0], [7.0], [9.0]])
    acts_b = torch.tensor([[10.0, 1.0], [20.0, 3.0], [30.0, 5.0], [40.0, 7.0]])
    assert pool_spans(acts_a, al.span_a, al.n_spans).flatten().tolist() == [2.0, 6.0, 9.0]
    assert pool_spans(acts_b, al.span_b, al.n_spans).tolist() == [[15.0, 2.0], [30.0, 5.0],
                                                                 [40.0, 7.0]]


def test_split_characters_and_overlaps_form_one_unit():
    # a byte-level BPE splitting "⭢" (3 bytes) into three tokens that all report its span
    unit, start, end = token_units(np.array([0, 1, 1, 1, 4]), np.array([1, 4, 4, 4, 5]))
    assert unit.tolist() == [0, 1, 1, 1, 2] and start.tolist() == [0, 1, 4]
    # a zero-width token stays unaligned; overlapping spans merge
    unit, start, end = token_units(np.array([0, 0, 2, 3]), np.array([0, 3, 4, 5]))
    assert unit.tolist() == [-1, 0, 0, 0] and (start.tolist(), end.tolist()) == ([0], [5])


def test_trimmed_whitespace_falls_inside_a_span_or_is_dropped():
    a = _tokens(["Hi", " ", "there"])  # A keeps the space as its own token
    trimmed = TokenizedText(np.arange(2), np.arange(2), np.array([0, 3]), np.array([2, 8]), 8)
    al = align_tokens(a, trimmed)  # only A tokenizes byte 2: that span is dropped
    assert list(zip(al.starts, al.ends)) == [(0, 2), (3, 8)]
    assert al.span_a.tolist() == [0, -1, 1] and al.span_b.tolist() == [0, 1]
    with_space = _tokens(["Hi", " there"])  # B includes it in the next token
    al = align_tokens(trimmed, with_space)
    assert list(zip(al.starts, al.ends)) == [(0, 2), (2, 8)]
    assert al.span_a.tolist() == [0, 1] and al.span_b.tolist() == [0, 1]


def test_truncated_side_limits_the_aligned_text():
    a = _tokens(["ab", "c", "def"])
    short = TokenizedText(np.arange(2), np.arange(2), np.array([0, 1]), np.array([1, 3]), 6)
    al = align_tokens(a, short)
    assert list(zip(al.starts, al.ends)) == [(0, 3)]
    assert al.span_a.tolist() == [0, 0, -1] and al.span_b.tolist() == [0, 0]


def _check_document(text, tok_a, tok_b):
    a, b = tokenize_with_bytes(tok_a, text), tokenize_with_bytes(tok_b, text)
    al = align_tokens(a, b)
    data = text.encode("utf-8")
    assert (np.diff(al.starts) > 0).all() and (al.starts[1:] >= al.ends[:-1]).all()
    kept = np.zeros(len(data), bool)
    for start, end in zip(al.starts, al.ends):
        kept[start:end] = True
        data[start:end].decode("utf-8")  # spans end on character boundaries
    covered = []
    for tok, span in ((a, al.span_a), (b, al.span_b)):
        assert (span[np.setdiff1d(np.arange(len(span)), tok.keep)] == -1).all()
        mask = np.zeros(len(data), bool)
        for s, e in zip(tok.byte_start, tok.byte_end):
            mask[s:e] = True
        covered.append(mask)
        located = tok.byte_end > tok.byte_start
        assert (span[tok.keep][~located] == -1).all()
        for k in range(al.n_spans):  # each span's tokens lie in it, each side at least one
            members = np.flatnonzero(span[tok.keep] == k)
            assert len(members)
            assert tok.byte_start[members].min() >= al.starts[k]
            assert tok.byte_end[members].max() <= al.ends[k]
    # every byte that both tokenizations cover is in an aligned span: nothing shared is lost
    assert not (covered[0] & covered[1] & ~kept).any()
    return a, al


def test_trained_tokenizer_pair_covers_the_shared_text(tokenizers):
    tok_a, tok_b = tokenizers
    for document in default_corpus():
        a, al = _check_document(document.text, tok_a, tok_b)
        data = document.text.encode("utf-8")
        for k in range(al.n_spans):  # byte-level BPE round-trips every span exactly
            ids = a.input_ids[al.span_a == k]
            assert tok_a.decode(ids).strip() == data[al.starts[k]:al.ends[k]].decode().strip()


def test_non_ascii_text_uses_byte_offsets(tokenizers):
    text = "naïve café ⭢ 子曰：學而時習之 — Ἐν ἀρχῇ 🙂👍🏽 end"
    a, al = _check_document(text, *tokenizers)
    assert a.n_bytes == len(text.encode("utf-8")) > len(text)
    spans = [text.encode()[s:e].decode() for s, e in zip(al.starts, al.ends)]
    assert "⭢" in "".join(spans) and spans[-1].strip() in ("end", "d", "nd")


def test_special_tokens_are_dropped(tokenizers):
    a = tokenize_with_bytes(tokenizers[0], "Hello world")
    assert a.input_ids[0] == tokenizers[0].bos_token_id and a.keep[0] == 1


def test_patch_grid_drops_prefix_and_keeps_row_major_order():
    tokens = torch.arange(2 * (1 + 6) * 3, dtype=torch.float32).reshape(2, 7, 3)
    maps = patch_grid(tokens, prefix_tokens=1, grid=(2, 3))
    assert maps.shape == (2, 3, 2, 3)
    assert torch.equal(maps[1, :, 1, 2], tokens[1, 1 + 5])
    assert torch.equal(grid_samples(maps), tokens[:, 1:].reshape(-1, 3))
    with pytest.raises(ValueError, match="grid"):
        patch_grid(tokens[:, :6], prefix_tokens=1)


def test_bilinear_resampling_to_the_target_grid():
    maps = torch.tensor([[[[0.0, 1.0], [2.0, 3.0]]]])
    assert torch.equal(resample_grid(maps, (2, 2)), maps)
    up = resample_grid(maps, (4, 4))
    # cell centres at (i + 1/2)/4 map to source coordinates (i + 1/2)/2 - 1/2, clamped
    assert torch.allclose(up[0, 0, 0], torch.tensor([0.0, 0.25, 0.75, 1.0]))
    assert torch.allclose(up[0, 0, :, 0], torch.tensor([0.0, 0.5, 1.5, 2.0]))
    constant = torch.full((1, 5, 16, 16), 3.5)
    assert torch.allclose(resample_grid(constant, (14, 14)), torch.full((1, 5, 14, 14), 3.5))


def _located(starts, ends, n_bytes) -> TokenizedText:
    """A hand tokenization from byte spans (zero-width ones included)."""
    return TokenizedText(np.arange(len(starts)), np.arange(len(starts)), np.array(starts),
                         np.array(ends), n_bytes)


def test_the_official_rule_pools_a_whitespace_run_into_the_next_span():
    # "a   b": A trims the whitespace (its "  " token is zero-width at 3), B keeps "  " and " b"
    trimmed = _located([0, 3, 4], [1, 3, 5], 5)
    kept = _located([0, 1, 3], [1, 3, 5], 5)
    exact = align_tokens(trimmed, kept)
    assert list(zip(exact.starts, exact.ends)) == [(0, 1), (3, 5)]
    assert exact.span_b.tolist() == [0, -1, 1]  # the whitespace token's own span is dropped
    official = align_tokens(trimmed, kept, rule="official")
    assert list(zip(official.starts, official.ends)) == [(0, 1), (1, 5)]
    assert official.span_a.tolist() == [0, -1, 1] and official.span_b.tolist() == [0, 1, 1]
    acts = torch.tensor([[1.0], [2.0], [4.0]])
    assert pool_spans(acts, official.span_b, 2).flatten().tolist() == [1.0, 3.0]
    assert pool_spans(acts, exact.span_b, 2).flatten().tolist() == [1.0, 4.0]


def test_the_official_rule_keeps_the_token_across_the_cut():
    a = _tokens(["ab", "cd"])
    short = _located([0, 2], [2, 3], 4)  # B truncated after byte 3, inside A's "cd"
    assert align_tokens(a, short).span_a.tolist() == [0, -1]  # dropped
    official = align_tokens(a, short, rule="official")
    assert list(zip(official.starts, official.ends)) == [(0, 2), (2, 3)]
    assert official.span_a.tolist() == [0, 1] and official.span_b.tolist() == [0, 1]


def test_the_official_rule_counts_a_token_in_every_span_it_overlaps():
    a = _located([0, 1], [3, 3], 3)  # overlapping tokens: A's boundary 1 lies inside (0, 3)
    b = _located([0, 1], [1, 3], 3)
    exact = align_tokens(a, b)
    assert list(zip(exact.starts, exact.ends)) == [(0, 3)]  # one unit, one span
    official = align_tokens(a, b, rule="official")
    assert list(zip(official.starts, official.ends)) == [(0, 1), (1, 3)]
    assert official.span_a.tolist() == [0, 1] and official.extra_a.tolist() == [[0, 1]]
    acts = torch.tensor([[2.0], [6.0]])
    pooled = pool_spans(acts, official.span_a, 2, extra=official.extra_a)
    assert pooled.flatten().tolist() == [2.0, 4.0]
    with pytest.raises(ValueError, match="rule"):
        align_tokens(a, b, rule="loose")


def test_bfloat16_pooling_rounds_the_sums_as_the_official_code_does():
    # every addition rounds: 256 + 1 = 257 rounds (to even) back to 256, twice
    acts = torch.tensor([[256.0, 1.0], [1.0, 1.0], [1.0, 1.0], [5.0, 1.0]])
    span = np.array([0, 0, 0, 1])
    assert pool_spans(acts, span, 2).tolist() == [[pytest.approx(258 / 3), 1.0], [5.0, 1.0]]
    official = pool_spans(acts, span, 2, dtype=torch.bfloat16)
    third = (torch.tensor(256.0, dtype=torch.bfloat16) / 3).item()
    assert official.dtype == torch.bfloat16 and official.tolist() == [[third, 1.0], [5.0, 1.0]]


def _untrimmed(fast):
    """The same byte-level BPE reporting whitespace inside its tokens' offsets."""
    from tokenizers import Tokenizer, processors
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer.from_str(fast.backend_tokenizer.to_str())
    backend.post_processor = processors.ByteLevel(trim_offsets=False)
    return PreTrainedTokenizerFast(tokenizer_object=backend)


def test_tokenizers_that_trim_whitespace_differently(tokenizers):
    trimming, untrimmed = tokenizers[0], _untrimmed(tokenizers[0])
    text = "Hi   there,\n\n  ok"
    a, b = tokenize_with_bytes(trimming, text), tokenize_with_bytes(untrimmed, text)
    assert np.array_equal(a.input_ids[a.keep], b.input_ids[b.keep])  # same tokens
    assert (b.byte_end - b.byte_start >= a.byte_end - a.byte_start).all()
    data = text.encode()

    def pieces(al, tokens, span):
        return [[tokens[i] for i in np.flatnonzero(span == k)] for k in range(al.n_spans)]

    names = untrimmed.convert_ids_to_tokens(b.input_ids.tolist())
    exact, official = align_tokens(a, b), align_tokens(a, b, rule="official")
    spans = {data[s:e].decode() for s, e in zip(official.starts, official.ends)}
    assert "   the" in spans and "   the" not in {data[s:e].decode() for s, e in
                                                 zip(exact.starts, exact.ends)}
    run = [p for p in pieces(official, names, official.span_b) if "Ġthe" in p][0]
    assert run == ["ĠĠ", "Ġthe"]  # the whitespace run pooled into the next span
    assert [p for p in pieces(exact, names, exact.span_b) if "Ġthe" in p][0] == ["Ġthe"]


def test_the_official_rule_on_the_trained_pair_keeps_spans_ordered_and_shared(tokenizers):
    tok_a, tok_b = tokenizers
    for document in default_corpus()[:6]:
        a, b = tokenize_with_bytes(tok_a, document.text), tokenize_with_bytes(tok_b,
                                                                             document.text)
        al = align_tokens(a, b, rule="official")
        exact = align_tokens(a, b)
        assert (al.starts < al.ends).all() and (al.starts[1:] >= al.ends[:-1]).all()
        assert al.n_spans <= exact.n_spans and al.n_spans > 0
        for span, extra in ((al.span_a, al.extra_a), (al.span_b, al.extra_b)):
            members = np.concatenate([span[span >= 0], extra[:, 1]])
            assert set(members.tolist()) == set(range(al.n_spans))  # both sides in every span
