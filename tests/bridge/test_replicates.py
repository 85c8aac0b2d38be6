"""Records of the same two networks count once (bridge.replicates): under other names, as
untrained twins drawn from the same seeds, and in a calibration's pooled null; records whose
counts disagree are refused, records without a network identity are kept and named."""

import dataclasses

import numpy as np
import pytest

from bridge.calibration import calibrated_dir
from bridge.compare import main
from bridge.comparison import Comparison
from bridge.replicates import SameNetworks, count_once
from empirics.records.pair import network_identity
from runstore import find_records, run_dir
from tests.bridge.test_compare import planted_record

WIDTHS = (64, 128, 256, 512)


def weights(name: str, weight_file: str, width: int, *, init: str = "pretrained") -> dict:
    """A model's identity as `empirics.models.identity.weights_identity` states it."""
    files = {"config.json": f"cfg-{width}", "tokenizer.json": f"tok-{name}", "train_log.json": name}
    if init == "pretrained":
        files["model.safetensors"] = weight_file
    return {"name": name, "init": init, "files": files, "tokenizer": {"class": "Fast"}}


def pair(width: int, count: int, names=("a", "b"), seeds=(0, 1), *, null="none",
         init="pretrained", drawn=(0, 1), seed=0):
    """A MatchRecord of two named models whose networks are fixed by `seeds` (the weight
    files' content) or, untrained, by the seeds they were drawn from (`drawn`)."""
    record = planted_record(width, count, null=null)
    name_a, name_b = (f"{n}-w{width}" for n in names)
    config = {"width": width, "null": null, "init": init, "seed": seed,
              "model_a": name_a, "model_b": name_b,
              "weights": [weights(name_a, f"w{width}-{seeds[0]}", width, init=init),
                          weights(name_b, f"w{width}-{seeds[1]}", width, init=init)],
              "capture": {"model_a": {"name": name_a, "seed": drawn[0]},
                          "model_b": {"name": name_b, "seed": drawn[1]}}}
    if init == "pretrained":
        for side in ("model_a", "model_b"):
            del config["capture"][side]["seed"]
    return dataclasses.replace(record, config=config, model_a=name_a, model_b=name_b)


def save(root, record):
    directory = run_dir(root, "match", record.config, record.model_a)
    record.save(directory)
    return directory


def test_the_network_identity_ignores_names_tokenizers_and_logs():
    one, renamed = pair(64, 5).config, pair(64, 5, names=("x", "y")).config
    assert network_identity(one, 0) == network_identity(renamed, 0)
    assert network_identity(one, 0) != network_identity(pair(64, 5, seeds=(2, 1)).config, 0)
    twin = pair(64, 5, init="random", seeds=(0, 0), names=("s0", "t0")).config
    other = pair(64, 5, init="random", seeds=(1, 1), names=("s1", "t1")).config
    assert network_identity(twin, 0) == network_identity(other, 0)  # same config, same draw
    drawn = pair(64, 5, init="random", names=("s1", "t1"), drawn=(7, 8)).config
    assert network_identity(twin, 0) != network_identity(drawn, 0)
    own = [dict(entry, init_seed=seed) for entry, seed in zip(twin["weights"], (11, 12))]
    renamed = [dict(entry, name="x", init_seed=11) for entry in other["weights"]]
    assert network_identity(twin | {"weights": own}, 0) == network_identity(
        other | {"weights": renamed}, 0)  # drawn from the same init_seed
    assert network_identity(twin | {"weights": own}, 0) != network_identity(twin, 0)
    del twin["capture"]["model_a"]["seed"]
    assert network_identity(twin, 0) is None  # an untrained model whose draw is unstated
    assert network_identity(twin | {"weights": own}, 0) is not None
    assert network_identity({"width": 8}, 0) is None  # a record made before "weights"


def test_two_records_of_the_same_models_under_other_names_count_once(tmp_path, capsys):
    for w in WIDTHS:
        save(tmp_path, pair(w, int(2 * w**0.5)))
        save(tmp_path, pair(w, int(2 * w**0.5), names=("copy-a", "copy-b")))  # the same files
        save(tmp_path, pair(w, int(2.2 * w**0.5), seeds=(3, 4)))  # another pair of networks
    directory = main(["--family", "test", "--records", str(tmp_path), "--resamples", "200",
                      "--no-plot", "--no-calibration"])
    out = capsys.readouterr().out
    comparison = Comparison.load(directory)
    assert len(comparison.config["records"]) == 2 * len(WIDTHS)
    assert f"family test: {2 * len(WIDTHS)} matched pairs" in out
    same = [w for w in comparison.config["warnings"] if "same two networks" in w]
    assert len(same) == len(WIDTHS) and all("counted once" in w for w in same)
    assert sum("same two networks" in line for line in out.splitlines()) == len(WIDTHS)
    expected = [np.mean([int(2 * w**0.5), int(2.2 * w**0.5)]) for w in WIDTHS]
    assert comparison.counts == pytest.approx(expected)


def test_untrained_twins_drawn_from_the_same_seeds_count_once(tmp_path, capsys):
    """The untrained "s0" and "s1" pairs drawn from the same seeds are one pair of networks
    (the pseudo-replicated untrained null): one of them a size goes into the record."""
    for w in WIDTHS:
        save(tmp_path, pair(w, int(2 * w**0.5)))
        for names in (("s0a", "s0b"), ("s1a", "s1b")):
            save(tmp_path, pair(w, 4 + w // 64, names=names, init="random", null="untrained"))
    directory = main(["--family", "test", "--records", str(tmp_path), "--resamples", "200",
                      "--no-plot", "--no-calibration"])
    out = capsys.readouterr().out
    assert sum("same two networks" in line for line in out.splitlines()) == len(WIDTHS)
    comparison = Comparison.load(directory)
    twins = [p for p in comparison.config["records"] if "/s0a-" in p or "/s1a-" in p]
    assert len(twins) == len(WIDTHS)  # one untrained pair a size, not two


def test_a_null_saved_twice_pools_once_into_the_calibration(tmp_path, capsys):
    """A permuted run saved twice (under settings that change no number) is one draw and
    pools once into the calibration's null; a run under another permutation seed is a
    distinct draw and pools."""
    for w in WIDTHS:
        save(tmp_path, pair(w, int(2 * w**0.5)))
        for seed, examples in ((0, 0), (0, 8), (1, 0)):
            null = pair(w, 3, null="permuted", seed=seed)
            save(tmp_path, dataclasses.replace(null, config=null.config | {"examples": examples}))
    directory = main(["--family", "test", "--records", str(tmp_path), "--resamples", "200",
                      "--no-plot", "--calibration", "mutual-quantile"])
    assert "same two networks" in capsys.readouterr().out
    where = directory / calibrated_dir("permuted", "mutual-quantile")
    calibrated = Comparison.load(where).config["calibrated"]["nulls"]
    assert len(calibrated) == len(WIDTHS)
    assert all(len(nulls) == 2 for nulls in calibrated.values())  # seeds 0 and 1, once each


def test_records_of_the_same_networks_that_disagree_are_refused(tmp_path, capsys):
    for w in WIDTHS:
        save(tmp_path, pair(w, int(2 * w**0.5)))
    save(tmp_path, pair(WIDTHS[0], 99, names=("copy-a", "copy-b")))
    with pytest.raises(SystemExit) as exit_:
        main(["--family", "test", "--records", str(tmp_path), "--resamples", "200",
              "--no-plot"])
    assert exit_.value.code == 1
    assert "same two networks" in capsys.readouterr().err
    assert not (tmp_path / "compare").exists()  # nothing written
    with pytest.raises(SameNetworks):
        count_once(find_records(tmp_path, type(pair(64, 1))))


def test_records_without_a_network_identity_are_kept_and_named():
    found = [(f"run-{i}", planted_record(64, 5)) for i in range(2)]
    kept, warnings = count_once(found)
    assert kept == found
    assert warnings == ["2 records state no identity of their networks (made before match "
                        "records kept it): not checked for identical networks, each counted "
                        "as its own pair"]


def test_the_network_files_are_the_loader_weight_files():
    from empirics.models.load import WEIGHT_SUFFIXES
    from empirics.records.pair import NETWORK_SUFFIXES

    assert NETWORK_SUFFIXES == WEIGHT_SUFFIXES


def test_calibrate_pools_a_null_saved_twice_once(caplog):
    """Called on its own (not through bridge.compare), the calibration still pools a null
    run saved twice as one draw, and logs it."""
    from bridge.calibration import calibrate

    real = pair(64, 5)
    null = pair(64, 3, null="permuted")
    copy = dataclasses.replace(null, config=null.config | {"examples": 8})
    with caplog.at_level("WARNING", logger="bridge.calibration"):
        points, missing = calibrate([("real", real), ("null", null), ("copy", copy)],
                                    rule="mutual-quantile")
    assert not missing and len(points[0][1].null_paths) == 1  # the first by path, once
    assert "same two networks" in caplog.text
