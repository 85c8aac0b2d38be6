"""Polarization trends: planted selectivity slopes recovered, the claim read half by half, and
bridge.compare printing and recording them."""

import numpy as np
import pytest

from bridge.compare import main
from bridge.trends import Polarization, polarization, read_claim, selectivity_points, toy_points
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
    assert read_claim({"rosetta": rising, "control": rising}).endswith("not supported")
    flat = {"slope": 0.0, "low": -1.0, "high": 1.0}
    assert "Rosetta trend not resolved" in read_claim({"rosetta": flat, "control": flat})
    assert read_claim({"rosetta": rising}) == "too few sizes for a trend"


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
    assert "polarization (selectivity)" in out and "Rosetta rises, control falls" in out
    result = Polarization.load(directory / "polarization")
    assert result.trends["activation_kurtosis"]["rosetta"]["slope"] == pytest.approx(0.3)
    assert len(result.config["records"]) == 5


def test_compare_says_how_to_make_selectivity_records(tmp_path, capsys):
    for w in 64 * 2 ** np.arange(3):
        write(tmp_path, planted_record(int(w), int(round(2.0 * w**0.6))))
    main(["--family", "test", "--records", str(tmp_path), "--resamples", "200", "--no-plot"])
    assert "python -m empirics.analyze" in capsys.readouterr().out
