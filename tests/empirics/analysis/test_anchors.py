"""Rosetta anchors: units of an anchor matched in every other model of a set."""

import dataclasses

import numpy as np
import pytest

from bridge.compare import main as compare
from bridge.comparison import Comparison
from empirics.analysis.anchors import anchor_sets, find_anchors
from empirics.anchors import main as anchors_main
from empirics.engine.matching import match_neurons
from empirics.records.anchors import AnchorRecord
from empirics.records.match import MatchRecord
from runstore import run_dir
from tests.bridge.test_compare import planted_record
from tests.empirics.conftest import make_source

TOKENS = 2000


def _match(a, b, name_a, name_b, *, k=1, family="planted", null="none"):
    found = match_neurons(make_source(a, b, [500, 1200]), k=k, candidates=max(3, k),
                          device="cpu")
    return MatchRecord.from_matches(
        found, config={"pair": [name_a, name_b], "k": k, "null": null}, family=family,
        model_a=name_a, model_b=name_b, size_a=10.0 * a.shape[1], size_b=10.0 * b.shape[1],
        layer_sizes_a=_layers(a, name_a), layer_sizes_b=_layers(b, name_b), null=null)


def _layers(x, name):
    """The anchor has two layers (its global units cross a layer boundary), others one."""
    n = x.shape[1]
    return [n // 2, n - n // 2] if name == "anchor" else [n]


@pytest.fixture
def planted_set(rng):
    """Anchor units 0-9 copied (noisily, at random places) into all three other models,
    units 10-14 into the first two only; everything else independent noise."""
    anchor = rng.standard_normal((TOKENS, 30)).astype(np.float32)
    others, where = [], []
    for i in range(3):
        other = rng.standard_normal((TOKENS, 40)).astype(np.float32)
        planted = np.arange(15 if i < 2 else 10)
        slots = rng.permutation(40)[: len(planted)]
        other[:, slots] = anchor[:, planted] + 0.3 * rng.standard_normal(
            (TOKENS, len(planted))).astype(np.float32)
        others.append(other)
        where.append(dict(zip(planted.tolist(), slots.tolist())))
    return anchor, others, where


def test_a_unit_planted_in_all_models_is_an_anchor_one_in_some_is_not(planted_set):
    anchor, others, where = planted_set
    records = [_match(anchor, other, "anchor", f"other{i}") for i, other in enumerate(others)]
    # the anchor may sit on either side of a pair
    records[1] = _match(others[1], anchor, "other1", "anchor")
    found = find_anchors(records, "anchor", min_correlation=0.5)
    global_unit = found.units["layer"] * 15 + found.units["unit"]
    assert sorted(global_unit.tolist()) == list(range(10))
    assert found.n_anchors == found.n_rosetta == 10 and found.others == ["other0", "other1",
                                                                         "other2"]
    assert found.pairwise_counts == [15, 15, 10]
    assert found.coverage.tolist() == [15, 0, 5, 10]
    assert found.anchors_per_layer.tolist() == [10, 0]
    for column, slots in enumerate(where):
        assert [slots[u] for u in global_unit] == found.units["partner_unit"][:, column].tolist()
    assert np.all(found.units["r"] > 0.9) and np.all(found.units["n_partners"] == 1)


def test_without_a_threshold_chance_pairs_can_only_add_anchors(planted_set):
    anchor, others, _ = planted_set
    records = [_match(anchor, other, "anchor", f"other{i}") for i, other in enumerate(others)]
    loose = find_anchors(records, "anchor")
    strict = find_anchors(records, "anchor", min_correlation=0.5)
    loose_units = set((loose.units["layer"] * 15 + loose.units["unit"]).tolist())
    assert set(range(10)) <= loose_units and loose.n_anchors >= strict.n_anchors
    assert all(a >= b for a, b in zip(loose.pairwise_counts, strict.pairwise_counts))


def test_mutual_top_k_keeps_the_best_partner_and_counts_the_rest(rng):
    anchor = rng.standard_normal((TOKENS, 8)).astype(np.float32)
    other = rng.standard_normal((TOKENS, 10)).astype(np.float32)
    other[:, 3] = anchor[:, 0] + 0.2 * rng.standard_normal(TOKENS).astype(np.float32)
    other[:, 7] = anchor[:, 0] + 0.6 * rng.standard_normal(TOKENS).astype(np.float32)
    found = find_anchors([_match(anchor, other, "anchor", "other", k=2)], "anchor",
                         min_correlation=0.5)
    assert found.n_anchors == 1 and found.units["partner_unit"][0, 0] == 3
    assert found.units["n_partners"][0, 0] == 2 and found.k == 2


def test_incompatible_or_unrelated_records_are_refused(planted_set):
    anchor, others, _ = planted_set
    first = _match(anchor, others[0], "anchor", "other0")
    with pytest.raises(ValueError, match="does not involve the anchor x"):
        find_anchors([first], "x")
    with pytest.raises(ValueError, match="share their null"):
        find_anchors([first, _match(anchor, others[1], "anchor", "other1", null="permuted")],
                     "anchor")
    with pytest.raises(ValueError, match="more than once with the same model"):
        find_anchors([first, first], "anchor")
    with pytest.raises(ValueError, match="no match records"):
        find_anchors([], "anchor")


def test_each_group_of_models_gets_the_best_connected_anchor(planted_set):
    anchor, others, _ = planted_set
    records = [_match(anchor, others[0], "m", "n"), _match(anchor, others[1], "m", "o"),
               _match(others[0], others[1], "n", "o"), _match(anchor, others[2], "p", "q")]
    sets = anchor_sets(records)
    assert sets == {"m": [0, 1], "p": [3]}
    assert anchor_sets(records, ["o"]) == {"o": [1, 2]}
    with pytest.raises(ValueError, match="no match records involve"):
        anchor_sets(records, ["zz"])


def _planted_pair(anchor: str, other: str, width: int, count: int) -> MatchRecord:
    """A pair record whose first `count` units are matched (unit i with unit i)."""
    return dataclasses.replace(planted_record(width, count), config={"pair": [anchor, other]},
                               model_a=anchor, model_b=other)


def test_cli_writes_anchor_records_that_the_bridge_fits_as_a_series(tmp_path, capsys):
    """Per width, the anchor shares count_i units with other i; the first 2 w^0.6 units are
    shared with both others, so the anchor count scales as w^0.6 and the pairs do not."""
    widths = 64 * 2 ** np.arange(5)
    for w in widths:
        common = int(round(2.0 * w ** 0.6))
        for other, count in ((f"b{w}", common + 7), (f"c{w}", common)):
            record = _planted_pair(f"a{w}", other, int(w), count)
            record.save(run_dir(tmp_path, "match", record.config, other))
    written = anchors_main(["--family", "test", "--records", str(tmp_path)])
    assert len(written) == len(widths)
    loaded = sorted((AnchorRecord.load(d) for d in written), key=lambda r: r.pair_size())
    assert [r.anchor for r in loaded] == [f"a{w}" for w in widths]
    assert [r.n_anchors for r in loaded] == [int(round(2.0 * w ** 0.6)) for w in widths]
    stamp = (written[0] / "record.json").stat().st_mtime_ns
    assert anchors_main(["--family", "test", "--records", str(tmp_path)]) == written
    assert (written[0] / "record.json").stat().st_mtime_ns == stamp
    directory = compare(["--family", "test", "--records", str(tmp_path), "--anchors",
                         "--resamples", "200", "--no-plot"])
    assert Comparison.load(directory).fits["ols-log"]["alpha"] == pytest.approx(0.6, abs=0.01)
    assert "anchors" in directory.name


def test_cli_without_records_says_how_to_make_them(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        anchors_main(["--family", "test", "--records", str(tmp_path)])
    assert exit_info.value.code == 1 and "empirics.match" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        compare(["--family", "test", "--records", str(tmp_path), "--anchors"])
    assert "python -m empirics.anchors --family test" in capsys.readouterr().err
