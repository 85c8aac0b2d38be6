"""Pairs with a model that learnt nothing (held-out loss not below its tokenizer's unigram
baseline by the margin) are left out of the fits by default, named in the output and the
Comparison, and kept with --keep-untrained-models."""

import dataclasses

import numpy as np
import pytest

from bridge.baseline import UNTRAINED_MARGIN, leave_out_untrained, untrained_models
from bridge.compare import main
from bridge.comparison import Comparison
from tests.bridge.test_compare import planted_record, write

WIDTHS = (64, 128, 256, 512, 1024)


def trained(width: int, count: int, losses=(5.0, 5.2), unigram=6.7):
    """A planted pair whose two models state their held-out losses and unigram baseline."""
    record = planted_record(width, count)
    training = [{"heldout_loss": loss, "unigram_loss": unigram} for loss in losses]
    return dataclasses.replace(record, config=record.config | {"training": training})


def test_the_rule_flags_a_model_not_below_the_baseline_by_the_margin():
    assert untrained_models(trained(64, 5)) == {}
    near = trained(64, 5, losses=(6.7 - UNTRAINED_MARGIN / 2, 5.0))
    assert list(untrained_models(near)) == ["a64"]
    assert "6.650 nats, not 0.1 below its unigram baseline 6.700" in untrained_models(near)["a64"]
    above = trained(64, 5, losses=(6.82, 6.83))
    assert list(untrained_models(above)) == ["a64", "b64"]
    null = dataclasses.replace(above, null="permuted")
    assert untrained_models(null) == {}  # the rule reads trained pairs only


def test_pairs_with_an_untrained_model_leave_the_fit_and_are_named(tmp_path, capsys):
    """The two smallest pairs learnt nothing and their counts sit far off the law: left out
    by default (the exponent is the planted one), kept and flagged on request."""
    for w in WIDTHS:
        flat = w <= 128
        write(tmp_path, trained(w, 40 if flat else int(round(2.0 * w**0.6)),
                                losses=(6.81, 6.66) if flat else (5.0, 5.1)))
    common = ["--family", "test", "--records", str(tmp_path), "--resamples", "200", "--no-plot"]
    directory = main(common)
    out = capsys.readouterr().out
    comparison = Comparison.load(directory)
    assert comparison.sizes == pytest.approx([256, 512, 1024])
    assert comparison.fits["ols-het"]["alpha"] == pytest.approx(0.6, abs=0.01)
    flagged = comparison.config["untrained_models"]
    assert sorted(sorted(item["models"]) for item in flagged) == [["a128", "b128"],
                                                                  ["a64", "b64"]]
    assert not any(item["kept"] for item in flagged)
    assert sum("left out of the fits" in w for w in comparison.config["warnings"]) == 2
    assert "a64: held-out loss 6.810 nats" in out and "--keep-untrained-models" in out
    kept = Comparison.load(main(common + ["--keep-untrained-models"]))
    assert len(kept.sizes) == len(WIDTHS) and kept.fits["ols-het"]["alpha"] < 0.5
    assert all(item["kept"] for item in kept.config["untrained_models"])
    assert "kept in the fits (--keep-untrained-models)" in capsys.readouterr().out


def test_records_that_state_no_training_are_kept_and_said_unchecked():
    old = [(f"run-{w}", planted_record(w, 5)) for w in WIDTHS[:2]]
    missing = trained(256, 5)
    missing.config["training"][1] = {"heldout_loss": 5.0, "unigram_loss": None,
                                     "unigram_missing": "the match was given no --corpus"}
    hub = trained(512, 5)
    hub.config["training"][:] = [None, None]  # hub checkpoints: no train log, taken as trained
    found = old + [("run-256", missing), ("run-512", hub)]
    kept, warnings, flagged = leave_out_untrained(found)
    assert kept == found and flagged == []
    assert warnings == ["3 trained pairs or models not checked against the unigram baseline: "
                        "a64 x b64: no training stated; a128 x b128: no training stated; "
                        "b256: the match was given no --corpus"]
    assert np.isfinite(UNTRAINED_MARGIN)
