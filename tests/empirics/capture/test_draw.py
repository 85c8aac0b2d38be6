"""The documents a match sees: a seeded sample stratified by category, never the first D of a
split ordered by source."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from empirics.capture.draw import category_quota, draw_documents, draw_text
from empirics.capture.stimuli import TextDocument


def source_ordered(sizes: dict[str, int]) -> tuple[list, dict]:
    """A split listed by source, as a built corpus lists it: every document of one category,
    then the next."""
    documents, categories = [], {}
    for name, size in sizes.items():
        for k in range(size):
            documents.append(TextDocument(f"{name}/{k}", f"{name} text {k}"))
            categories[f"{name}/{k}"] = name
    return documents, categories


def test_a_draw_keeps_every_category_in_proportion_where_the_first_d_do_not():
    documents, categories = source_ordered({"code": 1900, "data": 90, "prose": 500})
    first, _ = draw_documents(documents, 200, rule="first", categories=categories)
    assert {categories[d.id] for d in first} == {"code"}  # the old rule: one category
    drawn, draw = draw_documents(documents, 200, seed=3, categories=categories)
    assert draw["categories"] == {"code": 153, "data": 7, "prose": 40}
    assert draw == {"rule": "stratified", "docs": 200, "seed": 3, "of": 2490,
                    "categories": draw["categories"]}
    assert len({d.id for d in drawn}) == 200
    assert [documents.index(d) for d in drawn] == sorted(documents.index(d) for d in drawn)
    again, _ = draw_documents(documents, 200, seed=3, categories=categories)
    other, _ = draw_documents(documents, 200, seed=4, categories=categories)
    assert again == drawn and other != drawn
    assert "200 of 2490 documents, stratified by category, seed 3 (code 153, data 7, " \
           "prose 40)" in draw_text(draw)


@given(st.dictionaries(st.sampled_from("abcdef"), st.integers(1, 50), min_size=1),
       st.integers(1, 300))
def test_quotas_sum_to_the_count_and_stay_within_one_of_the_proportion(sizes, count):
    count = min(count, sum(sizes.values()))
    quota = category_quota(sizes, count)
    total = sum(sizes.values())
    assert sum(quota.values()) == count
    for name, size in sizes.items():
        assert quota[name] <= size and abs(quota[name] - count * size / total) < 1


def test_counts_that_cannot_be_drawn_are_refused():
    documents, categories = source_ordered({"code": 5})
    for count, message in ((0, "at least 1"), (-1, "at least 1"), (6, "more documents")):
        with pytest.raises(ValueError, match=message):
            draw_documents(documents, count, categories=categories)
    everything, draw = draw_documents(documents, None, categories=categories)
    assert everything == documents and draw["rule"] == "all" and draw["docs"] == 5
    assert "how they were chosen is not recorded" in draw_text(None, 12)
