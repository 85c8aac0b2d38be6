"""Fits never pool what differs: series keys, --select, incomplete series and outliers."""

import dataclasses

import numpy as np
import pytest

from bridge.compare import main
from bridge.comparison import Comparison
from bridge.selection import MixedSeries, flatten, select_series
from runstore import run_dir
from tests.bridge.test_compare import planted_record

WIDTHS = [64, 128, 256, 512, 1024]


def toy_record(width: int, count: int, *, beta: float, seeds=(0, 1), widths=WIDTHS):
    config = {"toy": {"beta": beta, "n_features": 512, "widths": list(widths),
                      "seeds": [0, 1, 2], "steps": 1500},
              "rho_star": 0.5, "width": width, "seeds": list(seeds), "k": 1,
              "n_tokens": 1000, "null": "none", "groups": 0, "batch_rows": 256}
    record = planted_record(width, count, family="toy")
    return dataclasses.replace(record, config=config,
                               model_a=f"toy-N{width}-seed{seeds[0]}",
                               model_b=f"toy-N{width}-seed{seeds[1]}")


def write(root, record):
    record.save(run_dir(root, "match", record.config, record.model_a))


def test_the_series_key_leaves_out_size_models_and_seeds_only():
    a = toy_record(64, 10, beta=1.5)
    b = toy_record(512, 40, beta=1.5, seeds=(1, 2))
    assert a.series_key() == b.series_key()
    assert flatten(a.series_key())["toy.beta"] == "1.5"
    assert toy_record(64, 10, beta=2.0).series_key() != a.series_key()


def test_two_sweeps_under_one_root_are_refused_and_each_can_be_picked(tmp_path, capsys):
    for beta, alpha in ((1.5, 0.667), (2.0, 0.5)):
        for w in WIDTHS:
            write(tmp_path, toy_record(w, int(round(3 * w ** alpha)), beta=beta))
    with pytest.raises(SystemExit) as exit_info:
        main(["--family", "toy", "--records", str(tmp_path), "--no-plot"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "2 series that differ in toy.beta" in err and "--select toy.beta=1.5" in err
    directory = main(["--family", "toy", "--records", str(tmp_path), "--no-plot",
                      "--select", "beta=2.0", "--resamples", "200"])
    comparison = Comparison.load(directory)
    assert comparison.fits["ols-log"]["alpha"] == pytest.approx(0.5, abs=0.01)
    assert len(comparison.config["records"]) == len(WIDTHS)
    assert set(comparison.config["record_sha256"]) == set(comparison.config["records"])
    assert "toy.beta=2.0" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["--family", "toy", "--records", str(tmp_path), "--select", "beta"])
    assert exit_info.value.code == 2


def test_an_interrupted_sweep_and_a_stray_record_are_reported(tmp_path, capsys):
    for w in WIDTHS[:4]:  # the widest width never finished
        write(tmp_path, toy_record(w, int(round(3 * w ** 0.6)), beta=1.5))
        write(tmp_path, toy_record(w, int(round(3 * w ** 0.6)) + 1, beta=1.5, seeds=(0, 2)))
        write(tmp_path, toy_record(w, int(round(3 * w ** 0.6)), beta=1.5, seeds=(1, 2)))
    stray = toy_record(256, 999, beta=1.5, seeds=(1, 3))
    write(tmp_path, stray)
    directory = main(["--family", "toy", "--records", str(tmp_path), "--no-plot",
                      "--resamples", "200"])
    out = capsys.readouterr().out
    warnings = Comparison.load(directory).config["warnings"]
    assert any("widths [1024]" in w for w in warnings)
    assert any("outlier at N = 256" in w and "999" in w for w in warnings)
    assert any("uneven series" in w for w in warnings)
    assert all(f"warning: {w}" in out for w in warnings)


def test_two_disagreeing_records_at_a_size_are_reported_together():
    from bridge.selection import outlier_warnings

    records = [toy_record(64, 10, beta=1.5), toy_record(64, 100, beta=1.5, seeds=(1, 2))]
    (warning,) = outlier_warnings(records)
    assert "disagree" in warning and "[10, 100]" in warning


def test_a_selector_that_matches_nothing_names_the_series(tmp_path):
    found = [(tmp_path / str(w), toy_record(w, 10, beta=1.5)) for w in WIDTHS]
    with pytest.raises(MixedSeries, match="no record matches --select beta=3"):
        select_series(found, ["beta=3"])
    assert len(select_series(found, ["rho_star=0.5"])) == len(WIDTHS)
    np.testing.assert_equal(len(select_series(found)), len(WIDTHS))


def test_a_damaged_record_is_skipped_and_named_in_the_result(tmp_path, capsys):
    for w in WIDTHS:
        write(tmp_path, toy_record(w, int(round(3 * w ** 0.6)), beta=1.5))
    damaged = tmp_path / "match" / "broken"
    damaged.mkdir()
    (damaged / "record.json").write_text('{"kind": "match", "vers')
    directory = main(["--family", "toy", "--records", str(tmp_path), "--no-plot",
                      "--resamples", "200"])
    (warning,) = Comparison.load(directory).config["warnings"]
    assert warning.startswith(f"skipped the damaged record {damaged}")
    assert f"warning: {warning}" in capsys.readouterr().out


def test_zero_replicates_and_bad_settings(tmp_path, capsys):
    for w in WIDTHS:
        write(tmp_path, toy_record(w, int(round(3 * w ** 0.6)), beta=1.5))
    directory = main(["--family", "toy", "--records", str(tmp_path), "--no-plot",
                      "--resamples", "200", "--replicates", "0"])
    assert Comparison.load(directory).error_bars in ({}, None)
    for bad in (["--level", "1.5"], ["--replicates", "-1"], ["--resamples", "0"]):
        with pytest.raises(SystemExit) as exit_info:
            main(["--family", "toy", "--records", str(tmp_path), *bad])
        assert exit_info.value.code == 2


def test_the_selector_offered_for_a_key_some_records_lack_picks_them(tmp_path, capsys):
    """Records of a replayed run state `replay`; exact ones have no such key: the listing
    offers --select replay=null for them, and it selects exactly those."""
    for w in WIDTHS:
        write(tmp_path, planted_record(w, int(round(2 * w ** 0.5))))
        replayed = planted_record(w, int(round(w ** 0.7)))
        write(tmp_path, dataclasses.replace(replayed,
                                            config=replayed.config | {"replay": "official"}))
    with pytest.raises(SystemExit):
        main(["--family", "test", "--records", str(tmp_path), "--no-plot"])
    assert "--select replay=null" in capsys.readouterr().err
    directory = main(["--family", "test", "--records", str(tmp_path), "--no-plot",
                      "--resamples", "200", "--select", "replay=null"])
    assert Comparison.load(directory).fits["ols-log"]["alpha"] == pytest.approx(0.5, abs=0.02)


def test_the_offered_selectors_paste_into_a_shell(tmp_path, capsys):
    """A series key holding a list or a string with spaces or quotes: each --select offered
    is shell-quoted, so pasting it picks that series (unquoted, the shell split it)."""
    import shlex

    for architectures, alpha in ((["gpt_neox", "opt"], 0.5), (["gpt2", "qwen2"], 0.7)):
        for w in WIDTHS:
            record = planted_record(w, int(round(2 * w ** alpha)))
            write(tmp_path, dataclasses.replace(
                record, config=record.config | {"architectures": architectures}))
    with pytest.raises(SystemExit):
        main(["--family", "test", "--records", str(tmp_path), "--no-plot"])
    offered = [line.split(": ", 1)[1] for line in capsys.readouterr().err.splitlines()
               if line.strip().startswith("5 records: ")]
    assert len(offered) == 2
    for text in offered:
        directory = main(["--family", "test", "--records", str(tmp_path), "--no-plot",
                          "--resamples", "200", *shlex.split(text)])
        chosen = Comparison.load(directory)
        expected = 0.5 if "gpt_neox" in text else 0.7
        assert chosen.fits["ols-log"]["alpha"] == pytest.approx(expected, abs=0.02)
