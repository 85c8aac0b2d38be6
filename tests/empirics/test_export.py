"""Records as tables: `to_frame()` of every record that has one, and python -m empirics.export
on the saved records of tests/fixtures."""

import numpy as np
import pandas
import pytest

from bridge.comparison import Comparison
from empirics import export
from empirics.export import TABLES, main
from empirics.records.match import MatchRecord
from runstore import load_any, read_header
from tests.test_saved_records import FIXTURE, SAVED

TABLE_DIRS = [d for d in SAVED if read_header(d)["kind"] in {cls.kind for cls in TABLES}]


def test_every_kind_with_a_table_is_in_the_fixture():
    assert {read_header(d)["kind"] for d in TABLE_DIRS} == {cls.kind for cls in TABLES}


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
        main([str(FIXTURE / "theory_run")])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "holds a record of kind 'theory_run', not one of match, comparison" in err
    with pytest.raises(SystemExit) as exit_info:
        main([str(FIXTURE / "language_match"), "--out", str(tmp_path / "pairs.xlsx")])
    assert exit_info.value.code == 2 and "must end in .csv or .parquet" in capsys.readouterr().err
