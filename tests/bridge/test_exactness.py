"""The bridge reads what each record's count is guaranteed to be: a fit over counts that are
not certified exact says so in its output and Comparison, and --require-exact refuses."""

import dataclasses

import numpy as np
import pytest

from bridge.calibration import CalibratedPoint, calibrated_dir
from bridge.compare import main
from bridge.comparison import Comparison
from bridge.points import count_exactness
from tests.bridge.test_compare import planted_record, write

#: The planted records hold no per-chunk sums, so they are calibrated by the mutual-pair rule
#: (the threshold 0.298 below is its 0.99 quantile of the null's mutual-pair r).
RULE = ["--calibration", "mutual-quantile"]
CALIBRATED = calibrated_dir("permuted", "mutual-quantile")
CERTIFIED = {"mode": "two-stage", "rechecked": False, "uncertified_a": 0, "uncertified_b": 0,
             "uncertain_pairs": 0, "certified_down_to": -1.0}


def two_stage(record, floor, uncertified=5, r=None):
    """`record` as a two-stage result with `uncertified` neurons of A and its count certified
    from r >= `floor` (None: a record saved before the floor was recorded)."""
    guarantee = CERTIFIED | {"uncertified_a": uncertified, "certified_down_to": floor}
    if floor is None:
        del guarantee["certified_down_to"]
    pairs = record.pairs if r is None else record.pairs | {"r": np.asarray(r, dtype=float)}
    return dataclasses.replace(record, config=record.config | {"guarantee": guarantee},
                               pairs=pairs)


def family(root, floor, null_floor=-1.0):
    """Six sizes: each pair's count is planted pairs at r 0.9 plus 3 chance pairs at r 0.2;
    its permutation null holds 5 chance pairs with r 0.1 to 0.3 (threshold 0.298 at 0.99)."""
    for w in 64 * 2 ** np.arange(6):
        count = int(round(2.0 * w**0.6))
        record = planted_record(int(w), count + 3)
        r = np.r_[np.full(count, 0.9), np.full(3, 0.2)]
        write(root, two_stage(record, floor, r=r))
        null = planted_record(int(w), 5, null="permuted")
        write(root, two_stage(null, null_floor, 0 if null_floor == -1.0 else 4,
                              r=np.linspace(0.1, 0.3, 5)))


def test_a_fit_over_counts_not_certified_exact_says_so(tmp_path, capsys):
    family(tmp_path, floor=0.5)
    directory = main(["--family", "test", "--records", str(tmp_path), *RULE, "--resamples", "200",
                      "--no-plot", "--replicates", "0"])
    out = capsys.readouterr().out
    assert "warning: counts: 6 of 6 not certified exact" in out
    assert "the whole count not certified (exact for r >= 0.500)" in out
    comparison = Comparison.load(directory)
    assert len(comparison.config["not_exact"]) == 6
    calibrated = Comparison.load(directory / CALIBRATED)
    assert len(calibrated.config["not_exact"]) == 6  # threshold 0.298 lies below 0.5
    assert "r >= 0.298 not certified (exact for r >= 0.500)" in out


def test_the_calibrated_count_is_exact_when_its_threshold_clears_the_floor(tmp_path, capsys):
    family(tmp_path, floor=0.25)
    directory = main(["--family", "test", "--records", str(tmp_path), *RULE, "--resamples", "200",
                      "--no-plot", "--replicates", "0", "--require-exact", "calibrated"])
    out = capsys.readouterr().out
    assert Comparison.load(directory / CALIBRATED).config["not_exact"] == []
    assert len(Comparison.load(directory).config["not_exact"]) == 6  # the raw counts are not
    assert "counts: all 6 certified exact" in out
    with pytest.raises(SystemExit) as exit_info:
        main(["--family", "test", "--records", str(tmp_path), *RULE, "--no-plot",
              "--require-exact"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "--require-exact: 6 counts are not certified exact" in err
    assert str(tmp_path) in err and "calibrated:" not in err


def test_require_exact_refuses_naming_the_records_and_writes_nothing(tmp_path, capsys):
    family(tmp_path, floor=0.5)
    with pytest.raises(SystemExit) as exit_info:
        main(["--family", "test", "--records", str(tmp_path), *RULE, "--require-exact",
              "calibrated"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.count("calibrated: ") == 6 and "r >= 0.298 not certified" in err
    assert not (tmp_path / "compare").exists()
    with pytest.raises(SystemExit) as exit_info:
        main(["--family", "test", "--records", str(tmp_path), *RULE, "--require-exact",
              "calibrated", "--no-calibration"])
    assert exit_info.value.code == 2


def test_a_threshold_from_inexact_nulls_is_flagged():
    record = two_stage(planted_record(64, 4), 0.1)
    exact_null = two_stage(planted_record(64, 4, null="permuted"), -1.0, 0)
    loose_null = two_stage(planted_record(64, 4, null="permuted"), 0.2)
    point = CalibratedPoint(record, 0.5, 0.99, (exact_null,), ("n0",))
    assert count_exactness(point) == (True, "")
    exact, why = count_exactness(dataclasses.replace(point, nulls=(exact_null, loose_null)))
    assert exact is False and "1 null(s)" in why
    old = two_stage(planted_record(64, 4), None)
    assert count_exactness(old)[0] is None and "floor unknown" in count_exactness(old)[1]
    assert count_exactness(planted_record(64, 4)) == (True, "")  # no guarantee: block engine
