"""python -m bridge.compare on MatchRecords written in the test."""

import re

import numpy as np
import pytest

from bridge.compare import main
from bridge.comparison import Comparison
from empirics.engine.matching import match_neurons
from empirics.records.match import MatchRecord
from runstore import run_dir
from tests.empirics.conftest import make_source


def planted_record(width: int, count: int, family="test", null="none") -> MatchRecord:
    units = np.arange(count, dtype=np.int64)
    return MatchRecord(
        config={"width": width, "null": null}, family=family, model_a=f"a{width}",
        model_b=f"b{width}", size_a=10.0 * width, size_b=10.0 * width, null=null, k=1,
        min_correlation=None,
        n_tokens=1000, n_neurons_a=width, n_neurons_b=width, n_rosetta=count, dead_a=0,
        dead_b=0, layer_sizes_a=[width], layer_sizes_b=[width],
        pairs={"layer_a": 0 * units, "unit_a": units, "layer_b": 0 * units, "unit_b": units,
               "r": np.full(count, 0.9)},
        rosetta_per_layer_a=np.array([count]), rosetta_per_layer_b=np.array([count]),
        rechecked=False, max_recheck_change=None, changed_pairs=0, chunks={})


def write(root, record):
    record.save(run_dir(root, "match", record.config, record.model_a))


def test_a_planted_power_law_is_fitted_and_judged(tmp_path, capsys):
    widths = 64 * 2 ** np.arange(6)
    for w in widths:
        write(tmp_path, planted_record(int(w), int(round(2.0 * w**0.6))))
        write(tmp_path, planted_record(int(w), 3, null="permuted"))
    directory = main(["--family", "test", "--records", str(tmp_path), "--beta", "1.6667",
                      "--resamples", "500", "--no-plot"])
    comparison = Comparison.load(directory)
    assert comparison.fits["ols-log"]["alpha"] == pytest.approx(0.6, abs=0.01)
    assert comparison.agreement["alpha_pred"] == pytest.approx(0.6, abs=1e-3)
    out = capsys.readouterr().out
    null_alpha = re.search(r"null permuted: alpha = (-?[0-9.]+)", out)
    assert null_alpha and abs(float(null_alpha.group(1))) < 1e-3 and "agrees" in out
    assert re.search(r"t = -?[0-9.]+ on 4 df \(p = ", out)  # a t statistic, named as one


def test_missing_records_name_the_command_that_makes_them(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--family", "vision", "--records", str(tmp_path)])
    assert exit_info.value.code == 1
    assert "python -m empirics.match --family vision" in capsys.readouterr().err


def test_too_few_replicates_for_the_level_are_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--family", "vision", "--records", str(tmp_path), "--replicates", "20"])
    assert exit_info.value.code == 2
    assert "--replicates 20 is too few for a 95% percentile interval: give at least 40" \
        in capsys.readouterr().err


def test_too_few_sizes_or_empty_counts_are_refused(tmp_path, capsys):
    for w in (64, 128):
        write(tmp_path, planted_record(w, 5))
    with pytest.raises(SystemExit):
        main(["--family", "test", "--records", str(tmp_path)])
    assert "at least 3" in capsys.readouterr().err
    write(tmp_path, planted_record(256, 0))
    with pytest.raises(SystemExit):
        main(["--family", "test", "--records", str(tmp_path)])
    assert "positive counts" in capsys.readouterr().err
    assert not (tmp_path / "compare").exists()


def test_engine_records_with_chunks_give_data_level_error_bars(tmp_path, rng):
    """Matched pairs from the engine at four widths, R(N) ~ N^0.5 planted, chunk sums kept."""
    tokens = 1200
    for width in (16, 36, 64, 144):
        shared = int(np.sqrt(width)) * 2
        a = rng.standard_normal((tokens, width))
        b = rng.standard_normal((tokens, width))
        b[:, :shared] = a[:, :shared] + 0.8 * rng.standard_normal((tokens, shared))
        found = match_neurons(make_source(a, b, list(range(100, tokens, 100))), candidates=3,
                              groups=12, min_correlation=0.3)
        record = MatchRecord.from_matches(
            found, config={"width": width}, family="planted", model_a=f"a{width}",
            model_b=f"b{width}", size_a=width, size_b=width, layer_sizes_a=[width],
            layer_sizes_b=[width])
        write(tmp_path, record)
    directory = main(["--family", "planted", "--records", str(tmp_path), "--replicates", "60",
                      "--resamples", "300"])
    comparison = Comparison.load(directory)
    assert set(comparison.error_bars) >= {"low", "high"}
    assert np.all(comparison.error_bars["low"] <= comparison.counts + 1e-9)
    assert (directory / "scaling.png").is_file()


@pytest.mark.parametrize("flags, message", [
    (["--beta", "0.5"], "--beta must be a number in (1, inf), got 0.5"),
    (["--beta", "nan"], "--beta must be a number in (1, inf), got nan"),
    (["--beta", "inf"], "--beta must be a number in (1, inf), got inf"),
    (["--beta", "1.5", "--closure", "X"], "argument --closure: invalid choice: 'X'"),
])
def test_a_prediction_outside_the_theory_is_a_usage_error_before_any_write(
        tmp_path, capsys, flags, message):
    for w in 64 * 2 ** np.arange(3):
        write(tmp_path / "runs", planted_record(int(w), int(round(2.0 * w**0.6))))
    with pytest.raises(SystemExit) as exit_info:
        main(["--family", "test", "--records", str(tmp_path / "runs"), "--out",
              str(tmp_path / "out"), *flags])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_missing_beta_record_stops_the_run_before_anything_is_written(tmp_path, capsys):
    for w in 64 * 2 ** np.arange(3):
        write(tmp_path / "runs", planted_record(int(w), int(round(2.0 * w**0.6))))
    with pytest.raises(SystemExit) as exit_info:
        main(["--family", "test", "--records", str(tmp_path / "runs"), "--out",
              str(tmp_path / "out"), "--beta-from", str(tmp_path / "missing"),
              "--resamples", "200"])
    assert exit_info.value.code == 1
    assert str(tmp_path / "missing") in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_command_offered_for_missing_records_runs_on_any_machine(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--family", "language", "--records", str(tmp_path)])
    err = capsys.readouterr().err
    assert "python -m empirics.match --family language --all --out" in err
    assert "cuda" not in err  # --device auto (the default) picks CUDA where there is one


def test_the_fit_is_a_typed_result_and_the_report_only_writes_it(tmp_path):
    """compare_family returns what it fitted and wrote (no text); bridge.report prints those
    numbers, read back from the saved Comparison, without refitting."""
    from bridge.family import compare_family
    from bridge.report import format_family
    from bridge.settings import CompareSettings, find_series

    widths = 64 * 2 ** np.arange(4)
    for w in widths:
        write(tmp_path, planted_record(int(w), round(float(2.0 * w**0.6))))
        write(tmp_path, planted_record(int(w), 3, null="permuted"))
    settings = CompareSettings(family="test", records=tmp_path, resamples=200, plot=False,
                               null_quantile=None)
    fit = compare_family(settings, find_series(settings))
    assert fit.calibrated is None and fit.raw.figures == ()
    assert fit.raw.n_fitted == len(widths) and len(fit.raw.groups) == len(widths)
    (null,) = fit.raw.nulls
    assert null.null == "permuted" and null.counts == (3.0,) * len(widths)
    assert null.fit.alpha == pytest.approx(0.0, abs=1e-9)
    saved = Comparison.load(fit.directory)
    assert saved.fits["ols-log"]["alpha"] == fit.raw.comparison.fits["ols-log"]["alpha"]
    text = format_family(fit)
    assert f"record: {fit.directory}" in text
    alpha = saved.intervals[next(iter(saved.intervals))]["estimate"]
    assert f": {alpha:.3f} [" in text and f"null permuted: alpha = {null.fit.alpha:.3f}" in text
    assert "polarization: no selectivity records" in text  # the hint, not a fit
