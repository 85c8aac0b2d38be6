"""A family's points: the data-level replicates need enough chunk groups."""

import logging

import numpy as np
import pytest

from bridge.points import MIN_CHUNK_GROUPS, family_points, group_by_size
from empirics.engine.matching import match_neurons
from empirics.records.match import MatchRecord
from tests.empirics.conftest import make_source

TOKENS = 600


def matched(width: int, groups: int) -> MatchRecord:
    """`width` neurons a side, a third of them planted pairs, matched over `groups` chunk
    groups of the 11 chunks."""
    rng = np.random.default_rng(width)
    a = rng.standard_normal((TOKENS, width))
    b = rng.standard_normal((TOKENS, width))
    shared = width // 3
    b[:, :shared] = a[:, :shared] + 0.5 * rng.standard_normal((TOKENS, shared))
    found = match_neurons(make_source(a, b, list(range(50, TOKENS, 50))), candidates=3,
                          groups=groups)
    return MatchRecord.from_matches(
        found, config={"width": width, "groups": groups}, family="planted",
        model_a=f"a{width}", model_b=f"b{width}", size_a=width, size_b=width,
        layer_sizes_a=[width], layer_sizes_b=[width])


@pytest.mark.parametrize("groups", [MIN_CHUNK_GROUPS + 2, 3])
def test_replicates_need_enough_chunk_groups(groups, caplog):
    records = [matched(width, groups) for width in (12, 24, 48)]
    assert {r.n_chunk_groups for r in records} == {groups}
    with caplog.at_level(logging.WARNING, logger="bridge.points"):
        sizes, counts, reps = family_points(group_by_size(records), replicates=50,
                                            rng=np.random.default_rng(0))
    assert list(counts) == [r.n_rosetta for r in records]
    if groups >= MIN_CHUNK_GROUPS:
        assert reps.shape == (3, 50) and not caplog.records
    else:
        assert reps is None and "3 chunk groups" in caplog.text
