"""The pair size N and the ScalingPoint interface that match records and anchor sets share."""

import math
from pathlib import Path

import pytest

from empirics.records.anchors import AnchorRecord
from empirics.records.match import MatchRecord
from empirics.records.pair import ScalingPoint, geometric_mean

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "records-2026-12-01"


def test_a_match_and_an_anchor_set_are_points_of_a_scaling_series():
    match = MatchRecord.load(FIXTURE / "toy_match")
    anchors = AnchorRecord.load(FIXTURE / "anchors")
    for record in (match, anchors):
        assert isinstance(record, ScalingPoint)
    assert match.pair_size("neurons") == pytest.approx(
        math.sqrt(match.n_neurons_a * match.n_neurons_b))
    assert match.pair_size("params") == pytest.approx(math.sqrt(match.size_a * match.size_b))
    assert match.n_chunk_groups == len(match.chunks["tokens"]) > 0
    # one other model: the anchor set's N is the pair's N
    assert anchors.pair_size("params") == pytest.approx(
        math.sqrt(anchors.size_anchor * anchors.sizes_others[0]))
    assert anchors.n_rosetta == anchors.n_anchors and anchors.n_chunk_groups == 0
    with pytest.raises(ValueError, match="per-chunk"):
        anchors.resampled_counts(None)


def test_sizes_must_be_positive_and_named():
    assert geometric_mean([4.0, 9.0, 6.0]) == pytest.approx(6.0)
    with pytest.raises(ValueError, match="positive"):
        geometric_mean([0.0, 3.0])
    with pytest.raises(ValueError, match="size must be one of"):
        MatchRecord.load(FIXTURE / "toy_match").pair_size("layers")
