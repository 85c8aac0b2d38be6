"""Records as tables: `to_frame()` of every record that has one, and python -m empirics.export
on the saved records of tests/fixtures."""

import numpy as np
import pandas
import pytest

from bridge.comparison import Comparison
from empirics import export
from empirics.export import TABLES, main
from empirics.records.anchors import AnchorRecord
from empirics.records.importance import ImportanceRecord
from empirics.records.match import MatchRecord
from empirics.records.toy import ToyStudy, ToySweep
from runstore import load_any, read_header
from tests.bridge.test_closures import importance_record
from tests.test_saved_records import FIXTURE, SAVED, SUPERSEDED

#: The fixture's records with a non-empty table (its anchor set has no anchors; its toy
#: sweep is of a superseded version).
TABLE_DIRS = [d for d in SAVED if read_header(d)["kind"] in {cls.kind for cls in TABLES}
              and d.name not in SUPERSEDED and len(load_any(d, TABLES).to_frame())]


def anchor_record() -> AnchorRecord:
    """Two anchor units of model "a" matched in models "b" and "c"."""
    units = {"layer": np.array([0, 1]), "unit": np.array([3, 0]),
             "partner_layer": np.array([[1, 0], [0, 0]]),
             "partner_unit": np.array([[2, 5], [7, 1]]), "r": np.array([[0.9, 0.8], [0.7, 0.6]]),
             "n_partners": np.array([[1, 2], [1, 1]])}
    return AnchorRecord(config={}, family="f", anchor="a", others=["b", "c"], null="none", k=2,
                        min_correlation=None, size_anchor=1.0, sizes_others=[1.0, 1.0],
                        layer_sizes_anchor=[4, 4], layer_sizes_others=[[4, 8], [8]],
                        n_anchors=2, pairwise_counts=[3, 2], coverage=np.array([5, 1, 2]),
                        anchors_per_layer=np.array([1, 1]), units=units)


def test_every_kind_with_a_table_is_exported_here(tmp_path):
    # built here, and in tests/empirics/test_toy_study.py (the toy's kinds)
    built = {AnchorRecord.kind, ImportanceRecord.kind, ToySweep.kind, ToyStudy.kind}
    assert {read_header(d)["kind"] for d in TABLE_DIRS} | built == {cls.kind for cls in TABLES}


def test_an_anchor_set_is_one_row_per_anchor_and_other_model():
    table = anchor_record().to_frame()
    assert list(table.columns) == ["layer", "unit", "hook", "other", "partner_layer",
                                   "partner_unit", "partner_hook", "r", "n_partners"]
    assert table[["layer", "unit", "other"]].values.tolist() == [
        [0, 3, "b"], [0, 3, "c"], [1, 0, "b"], [1, 0, "c"]]
    assert table["partner_unit"].tolist() == [2, 5, 7, 1]
    assert table["r"].tolist() == [0.9, 0.8, 0.7, 0.6]
    assert table["hook"].tolist()[2] == "blocks.1.mlp.hook_post"
    assert table["partner_hook"].tolist()[0] == "blocks.1.mlp.hook_post"
    assert table["n_partners"].tolist() == [1, 2, 1, 1]


def test_an_importance_record_is_one_row_per_estimate(tmp_path):
    record = ImportanceRecord.load(importance_record(tmp_path / "i", (1.6, 1.5, 1.7)))
    table = record.to_frame()
    assert table["name"].tolist() == ["zipf-mle-1gram"]
    row = table.iloc[0]
    assert (row.estimate, row.low, row.high) == record.estimate("zipf-mle-1gram")
    assert (row.window_low, row.window_high, row.n_points) == (10, 1000, 991)
    assert (row.implied_beta, row.implied_beta_low, row.implied_beta_high) == (1.6, 1.5, 1.7)


@pytest.mark.parametrize("kind", ["anchors", "importance"])
def test_export_writes_the_built_records(kind, tmp_path, capsys):
    directory = tmp_path / kind
    if kind == "anchors":
        anchor_record().save(directory)
    else:
        importance_record(directory, (1.6, 1.5, 1.7))
    main([str(directory), "--out", str(tmp_path / "table.csv")])
    expected = load_any(directory, TABLES).to_frame()
    written = pandas.read_csv(tmp_path / "table.csv")
    assert list(written.columns) == list(expected.columns) and len(written) == len(expected)


def test_a_match_is_one_row_per_pair_with_its_hook_names():
    match = MatchRecord.load(FIXTURE / "language_match")
    table = match.to_frame()
    assert list(table.columns) == ["layer_a", "unit_a", "layer_b", "unit_b", "r", "hook_a",
                                   "hook_b"]
    assert len(table) == match.n_rosetta > 0
    for name in ("layer_a", "unit_b", "r"):
        np.testing.assert_array_equal(table[name], match.pairs[name])
    last = len(table) - 1
    assert table["hook_a"][last] == f"blocks.{match.pairs['layer_a'][last]}.mlp.hook_post"
    assert table["hook_b"][0] == f"blocks.{match.pairs['layer_b'][0]}.mlp.hook_post"


def test_a_comparison_is_one_row_per_size_with_its_bars():
    comparison = Comparison.load(FIXTURE / "comparison")
    table = comparison.to_frame()
    assert list(table.columns) == ["N", "R", "low", "high"]
    np.testing.assert_array_equal(table["N"], comparison.sizes)
    np.testing.assert_array_equal(table["R"], comparison.counts)
    if comparison.error_bars:
        np.testing.assert_array_equal(table["low"], comparison.error_bars["low"])
    else:
        assert table["low"].isna().all()


@pytest.mark.parametrize("directory", TABLE_DIRS, ids=lambda d: str(d.relative_to(FIXTURE)))
def test_export_writes_the_table_of_the_record(directory, tmp_path, capsys):
    expected = load_any(directory, TABLES).to_frame()
    assert len(expected) > 0 and len(expected.columns) >= 2
    main([str(directory), "--out", str(tmp_path / "table.csv")])
    assert capsys.readouterr().out.startswith(f"{len(expected)} rows x ")
    written = pandas.read_csv(tmp_path / "table.csv")
    assert list(written.columns) == list(expected.columns) and len(written) == len(expected)
    main([str(directory)])  # CSV on stdout
    assert capsys.readouterr().out == (tmp_path / "table.csv").read_text()


@pytest.mark.skipif(not export.parquet_engine(), reason="no Parquet engine installed")
def test_export_writes_parquet(tmp_path):
    main([str(FIXTURE / "language_match"), "--out", str(tmp_path / "pairs.parquet")])
    table = pandas.read_parquet(tmp_path / "pairs.parquet")
    assert len(table) == MatchRecord.load(FIXTURE / "language_match").n_rosetta


def test_parquet_without_an_engine_is_refused_naming_pyarrow(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(export, "parquet_engine", lambda: False)
    with pytest.raises(SystemExit) as exit_info:
        main([str(FIXTURE / "language_match"), "--out", str(tmp_path / "pairs.parquet")])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "needs the pyarrow package (pip install pyarrow)" in err and "pairs.csv" in err
    assert not (tmp_path / "pairs.parquet").exists()


def test_a_record_without_a_table_and_an_unknown_format_are_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([str(FIXTURE / "language_match" / "examples")])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "holds a record of kind 'examples', not one of match, anchors, importance" in err
    with pytest.raises(SystemExit) as exit_info:
        main([str(FIXTURE / "language_match"), "--out", str(tmp_path / "pairs.xlsx")])
    assert exit_info.value.code == 2 and "must end in .csv or .parquet" in capsys.readouterr().err
