"""Run folders written before the layout change (tests/fixtures/records-2026-12-01, saved by
the package at revision c41da26) still load, with their kinds, versions and values."""

import json
from pathlib import Path

import numpy as np
import pytest

from bridge.comparison import Comparison
from bridge.trends import Polarization
from empirics.engine.checkpoint import MatchState
from empirics.records.analysis import (
    ActivationStatsRecord,
    DepthRecord,
    SelectivityRecord,
    SpecializationRecord,
    StabilityRecord,
    TopKRecord,
)
from empirics.records.anchors import AnchorRecord
from empirics.records.examples import ExamplesRecord
from empirics.records.match import MatchRecord
from empirics.records.toy import ToySweep
from empirics.report.build import write_report
from runstore import RecordError
from theory.sweep import TheoryRun

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "records-2026-12-01"
CLASSES = (TheoryRun, ToySweep, MatchRecord, ExamplesRecord, MatchState, ActivationStatsRecord,
           SelectivityRecord, SpecializationRecord, DepthRecord, TopKRecord, StabilityRecord,
           AnchorRecord, Comparison, Polarization)
KINDS = {cls.kind: cls for cls in CLASSES}
SAVED = sorted(path.parent for path in FIXTURE.rglob("record.json"))
#: Kinds whose version has moved on since the fixture: their old records are refused.
SUPERSEDED = {"toy_sweep": "failed nets and the nets' internals (version 3)"}


def test_the_fixture_holds_every_kind():
    kinds = {json.loads((d / "record.json").read_text())["kind"] for d in SAVED}
    assert kinds == set(KINDS)


@pytest.mark.parametrize("directory", [d for d in SAVED if d.name not in SUPERSEDED],
                         ids=lambda d: str(d.relative_to(FIXTURE)))
def test_a_saved_record_loads_with_its_values(directory):
    header = json.loads((directory / "record.json").read_text())
    cls = KINDS[header["kind"]]
    record = cls.load(directory)
    assert record.version == header["version"]
    for name, value in header["fields"].items():
        if not isinstance(value, (dict, list)):
            assert getattr(record, name) == value, name
    _, arrays = record._split_fields()
    assert sorted(arrays) == header["arrays"]["names"]


def test_a_superseded_toy_sweep_is_refused_with_what_to_do():
    """A version-2 ToySweep counted failed nets and lacks the internals: never reused."""
    with pytest.raises(RecordError, match=r"version 2; expected 'toy_sweep' version 3.*--force"):
        ToySweep.load(FIXTURE / "toy_sweep")


def test_saved_matches_keep_their_pairs_and_chunks():
    for name in ("language_match", "toy_match"):
        match = MatchRecord.load(FIXTURE / name)
        assert match.n_rosetta == len(match.pairs["r"]) > 0
        assert match.rosetta_per_layer_a.sum() == match.n_rosetta
        weights = np.ones((1, match.chunk_stats().n_groups))
        assert match.resampled_counts(weights)[0] == match.n_rosetta


def test_a_saved_run_still_renders_its_report(tmp_path):
    page = write_report(FIXTURE / "language_match", tmp_path / "report.html")
    assert "tiny-gpt_neox" in page.read_text()
