"""Counts calibrated against each pair's permutation null (bridge.calibration), on pairs matched
by the engine: chance pairs inflate the raw count and bend its exponent; the calibrated count
recovers the planted pairs and their exponent."""

import dataclasses

import numpy as np
import pytest

from bridge.calibration import CalibratedPoint, calibrate
from bridge.compare import main
from bridge.comparison import Comparison
from empirics.engine.matching import match_neurons
from empirics.engine.nulls import permute_tokens
from empirics.records.match import MatchRecord
from empirics.records.nulls import MissingNull, best_partner_r, count_above, null_threshold
from runstore import run_dir
from tests.empirics.conftest import make_source

TOKENS = 600
WIDTHS = (32, 64, 128, 256)


def planted_count(width: int) -> int:
    return int(round(1.5 * width**0.5))


def matched(width: int, null: str, seed: int = 0) -> MatchRecord:
    """A pair of `width` neurons a side with `planted_count` correlated pairs (r ~ 0.8) among
    independent heavy-tailed neurons, matched exactly (or on B's permuted tokens)."""
    rng = np.random.default_rng(width)
    a = rng.standard_t(4, size=(TOKENS, width))
    b = rng.standard_t(4, size=(TOKENS, width))
    shared = planted_count(width)
    b[:, :shared] = a[:, :shared] + 0.7 * rng.standard_normal((TOKENS, shared))
    source = make_source(a, b, list(range(50, TOKENS, 50)))
    if null == "permuted":
        source = permute_tokens(source, seed=seed)
    found = match_neurons(source, candidates=3, groups=12)
    return MatchRecord.from_matches(
        found, config={"width": width, "null": null, "seed": seed,
                       "examples": 8 if null == "none" else 0},  # examples change no number
        family="planted",
        model_a=f"a{width}", model_b=f"b{width}", size_a=width, size_b=width, layer_sizes_a=[width],
        layer_sizes_b=[width], null=null)


@pytest.fixture(scope="module")
def records():
    """Each pair and its permutation null under three seeds."""
    return [(f"run-{w}-{null}-{seed}", matched(w, null, seed)) for w in WIDTHS
            for null, seeds in (("none", [0]), ("permuted", [0, 1, 2])) for seed in seeds]


def test_the_calibrated_count_keeps_the_planted_pairs_and_drops_chance_ones(records):
    points, missing = calibrate(records, quantile=0.99)
    assert not missing and len(points) == len(WIDTHS)
    for (_, point), width in zip(points, WIDTHS):
        assert isinstance(point, CalibratedPoint) and len(point.null_paths) == 3
        pairs = point.record.pairs
        planted = (pairs["unit_a"] == pairs["unit_b"]) & (pairs["unit_a"] < planted_count(width))
        kept = pairs["r"] >= point.threshold
        assert planted.sum() == planted_count(width)  # the engine finds every planted pair
        assert (~planted).sum() > planted.sum() / 2  # and many chance pairs besides
        assert np.all(kept[planted])
        assert (kept & ~planted).sum() <= max(2, 0.05 * (~planted).sum())
        assert 0.1 < point.threshold < 0.5  # the chance level at 600 tokens, well below 0.8


def test_resampled_calibrated_counts_stay_near_the_planted_count(records, rng):
    from empirics.records.chunks import multinomial_weights

    point = calibrate(records)[0][-1][1]
    counts = point.resampled_counts(multinomial_weights(point.n_chunk_groups, 20, rng=rng))
    assert counts.shape == (20,)
    assert np.all(np.abs(counts - planted_count(WIDTHS[-1])) <= 4)


def test_a_record_without_its_null_is_named_with_the_flag_that_makes_it(records):
    real_only = [item for item in records if item[1].null == "none"]
    points, missing = calibrate(real_only)
    assert not points and len(missing) == len(WIDTHS)
    assert "--null permuted" in missing[0] and "run-32-none-0" in missing[0]


def test_a_null_without_pairs_gives_no_threshold():
    empty = matched(32, "permuted", 0)
    empty = MatchRecord(**{**empty.__dict__, "n_rosetta": 0,
                           "pairs": {k: v[:0] for k, v in empty.pairs.items()}})
    with pytest.raises(MissingNull, match="no mutual pairs"):
        null_threshold([empty], 0.99)
    with pytest.raises(ValueError, match="quantile"):
        calibrate([], quantile=1.0)


def test_compare_fits_the_raw_and_the_calibrated_counts(tmp_path, records, capsys):
    for name, record in records:
        record.save(run_dir(tmp_path, "match", record.config, name))
    directory = main(["--family", "planted", "--records", str(tmp_path), "--resamples", "300",
                      "--replicates", "40", "--no-plot"])
    out = capsys.readouterr().out
    raw = Comparison.load(directory)
    calibrated = Comparison.load(directory / "calibrated")
    truth = np.polyfit(np.log(WIDTHS), np.log([planted_count(w) for w in WIDTHS]), 1)[0]
    assert calibrated.fits["ols-log"]["alpha"] == pytest.approx(truth, abs=0.08)
    assert abs(raw.fits["ols-log"]["alpha"] - truth) > 0.15  # chance pairs scale as ~N
    assert calibrated.config["calibrated"]["quantile"] == 0.99
    assert "calibrated count" in out and "null permuted" in out
    assert np.all(calibrated.counts < raw.counts)


def test_untrained_weights_on_permuted_inputs_are_their_own_null():
    from empirics.pipeline.match import null_label
    from empirics.pipeline.options import MatchOptions

    labels = [null_label(MatchOptions(init=init, null=null))
              for init in ("pretrained", "random") for null in ("none", "permuted")]
    assert labels == ["none", "permuted", "untrained", "untrained-permuted"]


def untrained(width: int, seed: int) -> MatchRecord:
    """The pair's untrained null: a few input-driven shared units (r ~ 0.45) among chance."""
    rng = np.random.default_rng([width, seed, 7])
    a = rng.standard_t(4, size=(TOKENS, width))
    b = rng.standard_t(4, size=(TOKENS, width))
    b[:, :4] = a[:, :4] + 2.0 * rng.standard_normal((TOKENS, 4))
    found = match_neurons(make_source(a, b, list(range(50, TOKENS, 50))), candidates=3,
                          groups=12)
    config = {"width": width, "null": "none", "seed": seed, "init": "random",
              "weights": [{"init": "random", "files": {"config.json": "c"}}] * 2,
              "capture": {"model_a": {"init": "random", "seed": seed}}}
    return MatchRecord.from_matches(
        found, config=config, family="planted", model_a=f"a{width}", model_b=f"b{width}",
        size_a=width, size_b=width, layer_sizes_a=[width], layer_sizes_b=[width],
        null="untrained")


def test_against_the_untrained_null_the_threshold_is_what_untrained_pairs_share(records):
    nulls = [(f"untrained-{seed}", untrained(64, seed)) for seed in range(3)]
    trained = [(path, dataclasses.replace(record, config=record.config | {"weights": [
        {"init": "pretrained", "files": {"config.json": "c", "model.safetensors": "w"}}] * 2,
        "capture": {"model_a": {"init": "pretrained"}}}))
               for path, record in records if path == "run-64-none-0"]
    (path, point), = calibrate(trained + nulls, against="untrained",
                               rule="mutual-quantile")[0]
    assert path == "run-64-none-0" and len(point.null_paths) == 3
    shared = np.concatenate([r.pairs["r"] for _, r in nulls])
    assert point.threshold == pytest.approx(np.quantile(shared, 0.99))
    permuted = calibrate(records, rule="mutual-quantile")[0][1][1]
    assert point.threshold > permuted.threshold  # untrained nets share more than chance
    assert point.n_rosetta == planted_count(64)  # the planted pairs (r ~ 0.8) clear it
    (_, excess), = calibrate(trained + nulls, against="untrained")[0]
    best = np.concatenate([best_partner_r(r)[0] for _, r in nulls])
    assert excess.threshold == pytest.approx(np.quantile(best[np.isfinite(best)], 0.99))
    assert excess.chance == np.mean([count_above(r, excess.threshold) for _, r in nulls])
    assert excess.n_rosetta == pytest.approx(planted_count(64) - excess.chance)
    assert calibrate(trained, against="untrained")[1][0].endswith("--init random (seeds "
                                                                  "pooled))")
    with pytest.raises(ValueError, match="calibrated against"):
        calibrate(trained, against="shuffled")


def test_compare_records_the_rule_and_keeps_each_rule_in_its_own_folder(tmp_path, records):
    for name, record in records:
        record.save(run_dir(tmp_path, "match", record.config, name))
    common = ["--family", "planted", "--records", str(tmp_path), "--resamples", "300",
              "--replicates", "0", "--no-plot"]
    directory = main(common)
    assert main(common + ["--calibration", "mutual-quantile"]) == directory
    new = Comparison.load(directory / "calibrated")
    old = Comparison.load(directory / "calibrated-mutual-quantile")
    assert new.config["calibrated"]["rule"] == "best-partner-excess"
    assert old.config["calibrated"]["rule"] == "mutual-quantile"
    from bridge.plot import series_label

    assert series_label(new) != series_label(old)
    legacy = dataclasses.replace(old, config=old.config | {"calibrated": {"quantile": 0.99}})
    assert series_label(legacy) == series_label(old)  # saved before the rule was recorded


def test_a_null_without_a_chance_level_stops_only_its_own_pair(tmp_path, records, capsys):
    """Untrained pairs whose permuted runs give no chance level (no mutual pairs, no
    per-chunk sums) are named; the trained pairs are still calibrated and fitted."""
    nulls = []
    for width in WIDTHS:
        pair = untrained(width, 0)
        empty = dataclasses.replace(pair, null="untrained-permuted", n_rosetta=0, chunks={},
                                    pairs={k: v[:0] for k, v in pair.pairs.items()})
        nulls += [(f"untrained-{width}", pair), (f"untrained-permuted-{width}", empty)]
    for name, record in records + nulls:
        record.save(run_dir(tmp_path, "match", record.config, name))
    common = ["--family", "planted", "--records", str(tmp_path), "--resamples", "300",
              "--replicates", "0", "--no-plot"]
    for rule in ("best-partner-excess", "mutual-quantile"):
        directory = main(common + ["--calibration", rule])
        out = capsys.readouterr().out
        folder = "calibrated" if rule == "best-partner-excess" else f"calibrated-{rule}"
        calibrated = Comparison.load(directory / folder)
        assert len(calibrated.counts) == len(WIDTHS)
        assert len(calibrated.config["calibrated"]["missing"]) == len(WIDTHS)
        assert out.count("not calibrated: ") == len(WIDTHS) and "untrained-32" in out


def test_a_raw_count_below_its_permutation_null_is_flagged(tmp_path, records, capsys):
    low = [(path, dataclasses.replace(record, n_rosetta=5, pairs={
        k: v[:5] for k, v in record.pairs.items()})) if path == "run-32-none-0" else
           (path, record) for path, record in records]
    for name, record in low:
        record.save(run_dir(tmp_path, "match", record.config, name))
    directory = main(["--family", "planted", "--records", str(tmp_path), "--resamples", "300",
                      "--replicates", "0", "--no-plot"])
    out = capsys.readouterr().out
    raw = Comparison.load(directory)
    (flagged,) = raw.config["below_null"]
    assert "run-32-none-0" in flagged
    assert "raw count 5 is below its permutation null's" in out
    assert any("raw count 5 is below" in w for w in raw.config["warnings"])
    assert "below_null" in Comparison.load(directory / "calibrated").config
