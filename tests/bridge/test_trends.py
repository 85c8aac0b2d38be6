"""Polarization trends: planted selectivity slopes recovered, the claim read half by half, and
bridge.compare printing and recording them."""

import numpy as np
import pytest

from bridge.compare import main
from bridge.trends import (
    Polarization,
    holm,
    polarization,
    read_claim,
    selectivity_points,
    toy_points,
)
from empirics.records.analysis import SelectivityRecord
from empirics.records.toy import ToySweep
from runstore import run_dir
from tests.bridge.test_compare import planted_record, write


def selectivity(width: int, rosetta: float, control: float, null="none") -> SelectivityRecord:
    summary = {"activation_kurtosis": {"rosetta": [rosetta, rosetta - 0.1, rosetta + 0.1],
                                       "control": [control, control - 0.1, control + 0.1]}}
    return SelectivityRecord(
        config={"width": width, "null": null}, family="test", model_a=f"a{width}",
        model_b=f"b{width}", size_a=10.0 * width, size_b=10.0 * width, n_neurons_a=width,
        n_neurons_b=width, null=null, metrics={}, masks={}, summary=summary, judges={},
        notes={}, level=0.95)


def test_planted_slopes_are_covered_at_the_nominal_rate_and_the_claim_is_read(rng):
    """Rosetta slope 0.5 and control slope 0 per unit log N, noise 0.05, six sizes."""
    widths = 64 * 2.0 ** np.arange(6)
    covered, supported = {"rosetta": 0, "control": 0}, 0
    for _ in range(200):
        records = [selectivity(int(w), 1.0 + 0.5 * np.log(w) + 0.05 * rng.standard_normal(),
                               2.0 + 0.05 * rng.standard_normal()) for w in widths]
        sizes, points = selectivity_points(records)
        result = polarization({}, "test", "selectivity", sizes, points)
        for population, truth in (("rosetta", 0.5), ("control", 0.0)):
            trend = result.trends["activation_kurtosis"][population]
            covered[population] += trend["low"] < truth < trend["high"]
        supported += result.verdicts["activation_kurtosis"].endswith("claim supported")
    assert np.allclose(sizes, widths)
    assert all(0.9 <= c / 200 <= 0.99 for c in covered.values()), covered
    assert supported / 200 >= 0.95  # fails only when the control's interval lies above 0


def test_the_claim_fails_when_the_control_rises_too():
    rising = {"slope": 1.0, "low": 0.5, "high": 1.5}
    same = {"difference": 0.0, "low": -0.5, "high": 0.5, "pairing": "paired by size",
            "p_value": 1.0, "p_holm": 1.0}
    assert read_claim({"rosetta": rising, "control": rising}, same).endswith("not supported")
    flat = {"slope": 0.0, "low": -1.0, "high": 1.0}
    assert "Rosetta trend not resolved" in read_claim({"rosetta": flat, "control": flat}, same)
    assert read_claim({"rosetta": rising}) == "too few sizes for a trend"
    # a record made before the difference test: its halves alone support nothing
    assert read_claim({"rosetta": rising, "control": flat}).endswith("not tested as a difference")


def kurtosis_series(widths, rosetta_slope, control_slope, rng, *, noise=0.05, shared=0.0,
                    metrics=("activation_kurtosis",)):
    """Per-size means of each metric: the planted slopes on log N, independent noise per
    population and, with `shared`, a per-size term common to both (the same pairs)."""
    points = {}
    for metric in metrics:
        common = shared * rng.standard_normal(len(widths))
        for population, slope in (("rosetta", rosetta_slope), ("control", control_slope)):
            mean = (slope * np.log(widths) + common
                    + noise * rng.standard_normal(len(widths)))
            points[f"{metric}/{population}"] = np.stack([mean, mean - 0.1, mean + 0.1], 1)
    return points


def test_equal_slopes_are_not_supported_by_a_difference_of_significance(rng):
    """Both populations rise at the same slope: one interval above 0 and the other not
    happens often (the old reading called that "supported"); the difference test keeps the
    false "supported" near its 5% level."""
    widths = 64 * 2.0 ** np.arange(6)
    supported, halves = 0, 0
    for _ in range(400):
        points = kurtosis_series(widths, 0.03, 0.03, rng)
        result = polarization({}, "test", "selectivity", widths, points)
        trends = result.trends["activation_kurtosis"]
        halves += trends["rosetta"]["low"] > 0 and trends["control"]["low"] <= 0
        supported += result.verdicts["activation_kurtosis"].endswith("claim supported")
    assert halves / 400 > 0.15  # what the reading of two intervals would have supported
    assert supported / 400 <= 0.05  # one-sided half of a 5% two-sided test, plus noise


def test_the_slope_difference_is_paired_by_size_and_covers_the_truth(rng):
    """A per-size term shared by both populations (the same pairs measured): the paired
    difference's interval covers the planted difference at about its nominal rate and is
    far narrower than one that treats the two slopes as independent."""
    widths = 64 * 2.0 ** np.arange(6)
    covered, ratio = 0, []
    for _ in range(300):
        points = kurtosis_series(widths, 0.2, 0.05, rng, noise=0.01, shared=0.3)
        result = polarization({}, "test", "selectivity", widths, points)
        difference = result.differences["activation_kurtosis"]
        assert difference["pairing"] == "paired by size" and difference["n_sizes"] == 6
        covered += difference["low"] < 0.15 < difference["high"]
        trends = result.trends["activation_kurtosis"]
        ratio.append(difference["se"] / np.hypot(trends["rosetta"]["se"],
                                                 trends["control"]["se"]))
    assert 0.91 <= covered / 300 <= 0.99
    assert np.median(ratio) < 0.2


def test_the_difference_falls_back_to_independent_slopes_when_sizes_differ():
    widths = 64 * 2.0 ** np.arange(6)
    rosetta = np.array([0.0, 0.3, 0.7, 1.0, np.nan, np.nan])
    control = np.array([np.nan, np.nan, 0.1, 0.0, 0.1, 0.05])
    points = {"m/rosetta": np.stack([rosetta] * 3, 1), "m/control": np.stack([control] * 3, 1)}
    difference = polarization({}, "test", "selectivity", widths, points).differences["m"]
    assert difference["pairing"] == "independent"
    trends = polarization({}, "test", "selectivity", widths, points).trends["m"]
    assert difference["difference"] == pytest.approx(trends["rosetta"]["slope"]
                                                     - trends["control"]["slope"])
    assert difference["se"] == pytest.approx(np.hypot(trends["rosetta"]["se"],
                                                      trends["control"]["se"]))


def test_holm_adjusts_every_reading_and_holds_the_familywise_rate(rng):
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    widths = 64 * 2.0 ** np.arange(6)
    metrics = tuple(f"metric_{i}" for i in range(10))
    any_supported, any_raw = 0, 0
    for _ in range(200):
        points = kurtosis_series(widths, 0.0, 0.0, rng, metrics=metrics)
        result = polarization({}, "test", "selectivity", widths, points)
        assert set(result.differences) == set(metrics)  # every reading kept
        any_supported += any(v.endswith("claim supported") for v in result.verdicts.values())
        any_raw += any(d["p_value"] < 0.05 for d in result.differences.values())
        assert all(d["p_holm"] >= d["p_value"] for d in result.differences.values())
    assert any_raw / 200 > 0.2  # ten uncorrected readings: some "significant" by chance
    assert any_supported / 200 <= 0.06


def test_toy_isolation_points_average_the_seed_pairs():
    per_pair = {"isolation_rosetta": np.array([[0.5, 0.6, 0.7], [0.7, 0.8, 0.9]]),
                "isolation_nonrosetta": np.array([[0.2, 0.2, np.nan], [0.2, 0.2, 0.2]])}
    sweep = ToySweep(config={}, widths=np.array([8.0, 16.0, 32.0]), pairs=np.zeros((2, 2)),
                     per_pair=per_pair, threshold_counts=np.zeros((1, 2, 3)),
                     final_loss=np.zeros((2, 3)), exponent_neurons=[0, 0, 0],
                     exponent_features=[0, 0, 0], level=0.95)
    sizes, points = toy_points(sweep)
    assert points["isolation/rosetta"][:, 0] == pytest.approx([0.6, 0.7, 0.8])
    assert points["isolation/rosetta"][0, 1] < 0.6 < points["isolation/rosetta"][0, 2]
    assert points["isolation/control"][2, 0] == pytest.approx(0.2)
    assert np.isnan(points["isolation/control"][2, 1])
    result = polarization({}, "toy", "toy-isolation", sizes, points)
    assert result.trends["isolation"]["rosetta"]["slope"] == pytest.approx(0.1 / np.log(2))


def test_compare_prints_and_records_the_polarization_trends(tmp_path, capsys):
    for w in 64 * 2 ** np.arange(5):
        match = planted_record(int(w), int(round(2.0 * w**0.6)))
        write(tmp_path, match)
        record = selectivity(int(w), 0.3 * np.log(w), 1.0 - 0.2 * np.log(w))
        record.save(run_dir(tmp_path, "match", match.config, match.model_a) / "selectivity")
        selectivity(int(w), 9.0, 9.0, null="untrained").save(tmp_path / "null" / str(w))
    # a selectivity record of no match fitted (another series) is not pooled in
    selectivity(96, -5.0, 9.0).save(tmp_path / "other" / "selectivity")
    directory = main(["--family", "test", "--records", str(tmp_path), "--resamples", "200",
                      "--no-plot"])
    out = capsys.readouterr().out
    assert "polarization (selectivity, N = neurons)" in out
    assert "Rosetta rises, control falls; difference +0.5" in out
    assert "Holm p = " in out and "claim supported" in out
    result = Polarization.load(directory / "polarization")
    assert result.trends["activation_kurtosis"]["rosetta"]["slope"] == pytest.approx(0.3)
    assert result.differences["activation_kurtosis"]["difference"] == pytest.approx(0.5)
    assert result.correction.startswith("holm")
    assert len(result.config["records"]) == 5
    assert result.size == "neurons" == result.config["size"]


def test_the_polarization_keeps_its_size_axis_and_the_two_axes_stay_apart(tmp_path, capsys):
    """--size params and --size neurons give two Polarizations, each stating its axis."""
    for w in 64 * 2 ** np.arange(5):
        match = planted_record(int(w), int(round(2.0 * w**0.6)))
        write(tmp_path, match)
        record = selectivity(int(w), 0.3 * np.log(w), 1.0 - 0.2 * np.log(w))
        record.save(run_dir(tmp_path, "match", match.config, match.model_a) / "selectivity")
    common = ["--family", "test", "--records", str(tmp_path), "--resamples", "200",
              "--no-plot"]
    params = Polarization.load(main(common + ["--size", "params"]) / "polarization")
    neurons = Polarization.load(main(common) / "polarization")
    assert (params.size, neurons.size) == ("params", "neurons")
    assert params.sizes == pytest.approx(10.0 * neurons.sizes)
    assert "N = params" in capsys.readouterr().out


def test_compare_says_how_to_make_selectivity_records(tmp_path, capsys):
    for w in 64 * 2 ** np.arange(3):
        write(tmp_path, planted_record(int(w), int(round(2.0 * w**0.6))))
    main(["--family", "test", "--records", str(tmp_path), "--resamples", "200", "--no-plot"])
    assert "python -m empirics.analyze" in capsys.readouterr().out
