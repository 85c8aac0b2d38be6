"""The Comparison record: built from arrays, saved and loaded unchanged, refused as another kind;
the headline is the counting + scatter interval, and records saved before it still load."""

from pathlib import Path

import numpy as np
import pytest

from bridge.agreement import Prediction
from bridge.comparison import Comparison, build_comparison
from bridge.powerlaw import fit_power_law_het
from runstore import RecordError
from theory.sweep import TheoryRun


def family_counts(k=6, seed=0):
    rng = np.random.default_rng(seed)
    n = np.geomspace(1e7, 1e10, k)
    count = 4.0 * n**0.62 * np.exp(0.05 * rng.standard_normal(k))
    replicates = count[:, None] * np.exp(0.03 * rng.standard_normal((k, 200)))
    return n, count, replicates


def build(seed=5, k=6, **kwargs):
    n, count, _ = family_counts(k)
    config = {"family": "toy", "level": 0.95, "seed": seed, "margin": 0.1}
    return build_comparison(config, "toy", n, count, rng=np.random.default_rng(seed),
                            n_resamples=2000, **kwargs)


@pytest.mark.parametrize("k", [5, 6])  # 5 sizes: infinite AICc of the 3-parameter forms
def test_round_trip_keeps_every_field(tmp_path, k):
    _, _, replicates = family_counts(k)
    record = build(k=k, replicates=replicates, prediction=Prediction(1 / 1.6, 0.01))
    record.save(tmp_path)
    loaded = Comparison.load(tmp_path)
    for name in ("sizes", "counts", "residuals"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(record, name))
    for key in ("low", "high", "log_se"):
        np.testing.assert_array_equal(loaded.error_bars[key], record.error_bars[key])
    for name in ("family", "fits", "intervals", "diagnostics", "agreement", "verdict", "config"):
        assert getattr(loaded, name) == getattr(record, name)


SAVED = Path(__file__).resolve().parents[1] / "fixtures" / "records-2026-12-01" / "comparison"


def test_record_holds_the_headline_and_labelled_checks():
    _, _, replicates = family_counts()
    record = build(replicates=replicates, prediction=Prediction(1 / 1.6))
    assert set(record.intervals) == {"ols-het-t", "ols-t", "quasi-poisson-t", "case-percentile",
                                     "case-bca", "data-replicates"}
    assert set(record.fits) == {"ols-het", "ols-log", "quasi-poisson"}
    headline = record.fits["ols-het"]
    assert record.intervals["ols-het-t"]["estimate"] == headline["alpha"]
    assert record.intervals["ols-t"]["estimate"] == record.fits["ols-log"]["alpha"]
    assert headline["alpha"] == pytest.approx(record.fits["ols-log"]["alpha"], abs=1e-12)
    assert headline["dispersion"] >= 0 and headline["scale"] >= 0
    assert headline["sublinear_supported"]
    assert record.agreement["verdict"] in record.verdict
    assert set(record.diagnostics) == {"curvature", "aicc", "extrapolation"}


def test_verdict_and_agreement_report_the_headline_interval():
    n, count, _ = family_counts()
    fit = fit_power_law_het(n, count)
    record = build(prediction=Prediction(0.6))
    interval = record.intervals["ols-het-t"]
    assert (interval["low"], interval["high"]) == (fit.low, fit.high)
    assert record.verdict.startswith(f"alpha = {fit.alpha:.3f} [{fit.low:.3f}, {fit.high:.3f}] "
                                     "(95% t, OLS with counting + scatter variance, 6 sizes)")
    assert record.agreement["se"] == pytest.approx(fit.se, rel=1e-12)
    assert record.agreement["df"] == 4


def test_a_record_saved_before_the_headline_changed_still_loads():
    old = Comparison.load(SAVED)
    assert "ols-het" not in old.fits and "ols-t" in old.intervals
    assert old.verdict.startswith("alpha = ") and "(95% t, 3 sizes)" in old.verdict


def test_without_prediction_or_data_errors_those_parts_stay_empty(tmp_path):
    record = build()
    assert record.agreement == {} and record.error_bars == {}
    assert "prediction" not in record.verdict
    record.save(tmp_path)
    assert Comparison.load(tmp_path).error_bars == {}


def test_same_seed_same_record_fields():
    assert build(seed=3).intervals == build(seed=3).intervals
    assert build(seed=3).intervals != build(seed=4).intervals


def test_loading_as_another_kind_is_refused(tmp_path):
    build().save(tmp_path)
    with pytest.raises(RecordError, match="'comparison' record"):
        TheoryRun.load(tmp_path)


def test_bad_counts_build_nothing():
    n, count, _ = family_counts()
    count[2] = 0.0
    with pytest.raises(ValueError, match="counts must be positive"):
        build_comparison({}, "toy", n, count, rng=np.random.default_rng(0))


def test_the_scaling_plot_names_its_series_and_axes(tmp_path, rng):
    import matplotlib.image

    from bridge.plot import plot_comparison, series_label

    n = 100.0 * 2.0 ** np.arange(5)
    config = {"size": "neurons", "select": ['architectures=["gpt2", "qwen2"]'],
              "calibrated": {"quantile": 0.99, "against": "untrained"}}
    comparison = build_comparison(config, "language", n, 2.0 * n**0.7, rng=rng,
                                  n_resamples=200)
    assert series_label(comparison) == ('language [architectures=["gpt2", "qwen2"]] above the '
                                        "untrained null's 0.99 quantile")
    png, _ = plot_comparison(comparison, tmp_path / "scaling")
    assert matplotlib.image.imread(png).shape[1] > 500
