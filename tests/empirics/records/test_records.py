"""MatchRecord: built from an engine result, saved, loaded without torch, resampled."""

import subprocess
import sys

import numpy as np
import pytest

from empirics.engine.matching import match_neurons
from empirics.records.match import MatchRecord
from tests.empirics.conftest import make_source


def build(planted, groups):
    a, b, where = planted
    found = match_neurons(make_source(a, b, list(range(300, 3000, 300))), candidates=2,
                          groups=groups)
    record = MatchRecord.from_matches(
        found, config={"engine": {"groups": groups}}, family="test", model_a="A",
        model_b="B", size_a=1e6, size_b=2e6, layer_sizes_a=[25, 15],
        layer_sizes_b=[32, 32])
    return record, found, where


def test_record_round_trip_keeps_pairs_layers_and_chunks(planted, tmp_path):
    record, found, where = build(planted, groups=5)
    record.save(tmp_path)
    loaded = MatchRecord.load(tmp_path)
    assert loaded.n_rosetta == 40 == len(found.index_a)
    assert loaded.rosetta_per_layer_a.tolist() == [25, 15]
    units_b = loaded.pairs["layer_b"] * 32 + loaded.pairs["unit_b"]
    assert np.array_equal(units_b, where)
    assert loaded.rosetta_fraction == pytest.approx(40 / np.sqrt(40 * 64))
    counts = loaded.resampled_counts(np.ones((2, 5)))
    assert counts.tolist() == [40, 40]


def test_r_over_n_divides_by_the_same_n_as_the_fits():
    """R/N is one quantity: the match table's fraction is the count over the pair's N (the
    geometric mean the bridge fits and prints), not over the smaller model (5/48 = 0.104)."""
    from empirics.records.pair import rosetta_fraction

    record = MatchRecord(
        config={}, family="test", model_a="A", model_b="B", size_a=1.0, size_b=1.0,
        null="none", k=1, min_correlation=None, n_tokens=10, n_neurons_a=48, n_neurons_b=64,
        n_rosetta=5, dead_a=0, dead_b=0, layer_sizes_a=[48], layer_sizes_b=[64], pairs={},
        rosetta_per_layer_a=np.zeros(1), rosetta_per_layer_b=np.zeros(1), rechecked=False,
        max_recheck_change=None, changed_pairs=0, chunks={})
    assert record.summary()["rosetta_fraction"] == pytest.approx(5 / np.sqrt(48 * 64))
    assert record.rosetta_fraction == rosetta_fraction(5, record.pair_size()) == \
        pytest.approx(0.0902, abs=1e-4)


def test_a_record_without_chunks_says_how_to_get_them(planted, tmp_path):
    record, _, _ = build(planted, groups=0)
    record.save(tmp_path)
    loaded = MatchRecord.load(tmp_path)
    assert loaded.chunks == {}
    with pytest.raises(ValueError, match="bootstrap groups"):
        loaded.resampled_counts(np.ones((1, 3)))


def test_records_load_without_torch(planted, tmp_path):
    record, _, _ = build(planted, groups=3)
    record.save(tmp_path)
    code = ("import sys; sys.modules['torch'] = None\n"
            "import numpy as np\n"
            "from empirics.records.match import MatchRecord\n"
            f"r = MatchRecord.load({str(tmp_path)!r})\n"
            "print(r.n_rosetta, r.resampled_counts(np.ones((1, 3)))[0])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["40", "40"]


@pytest.mark.parametrize("field, value", [("n_rosetta", float("nan")), ("n_rosetta", -1),
                                          ("n_tokens", 2.5), ("size_a", float("inf"))])
def test_a_record_with_a_count_that_is_not_a_count_is_refused_by_name(planted, field, value):
    import dataclasses

    record, _, _ = build(planted, groups=3)
    with pytest.raises(ValueError, match=f"{field} must be"):
        dataclasses.replace(record, **{field: value})
