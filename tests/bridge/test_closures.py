"""Every closure's exponent at a beta read from the data, against the measured exponent."""

import json

import numpy as np
import pytest

from bridge.closures import beta_from_record, closure_rows, predicted_interval
from bridge.compare import main
from empirics.records.importance import ImportanceRecord
from tests.bridge.test_compare import planted_record, write


def test_the_beta_interval_maps_through_each_closure():
    (estimate, low, high), cut = predicted_interval("P1", (2.0, 1.8, 2.5))
    assert (estimate, low, high) == pytest.approx((0.5, 0.4, 1 / 1.8)) and not cut
    (estimate, low, high), cut = predicted_interval("P1", (1.05, 0.9, 1.2))
    assert cut and high == pytest.approx(1.0, abs=1e-5) and low == pytest.approx(1 / 1.2)
    assert predicted_interval("A", (2.0, 1.8, 2.5))[0] == pytest.approx((1.0, 1.0, 1.0))


def test_closures_whose_interval_misses_the_measured_one_are_excluded():
    rows = {row.closure: row.verdict for row in closure_rows((0.5, 0.42, 0.58), (2.0, 1.9, 2.1))}
    assert rows["P1"] == "consistent"
    assert rows["A"] == rows["C"] == rows["E"] == "excluded"  # they predict alpha = 1
    assert rows["D"] == "excluded"  # a constant price: alpha = 0
    wide = closure_rows((0.7, 0.3, 1.1), (2.0, 1.9, 2.1))
    assert {row.verdict for row in wide if row.closure != "D"} == {"consistent"}


def importance_record(directory, beta):
    estimate = {"method": "mle", "estimate": beta[0], "low": beta[1], "high": beta[2],
                "level": 0.95, "window": [10, 1000], "n_points": 991, "n_units": 100,
                "n_boot": 200, "implied_beta": list(beta), "implied_exponent": [0.0] * 3}
    record = ImportanceRecord(
        config={"test": True}, model="m", architecture="gpt2", tokenizer="bpe",
        corpus_sha256="0" * 64, split="heldout", closure="P1", n_documents=10, n_tokens=1000,
        n_windows=4, d_model=8, layer_sizes=[32], estimates={"zipf-mle-1gram": estimate},
        sorted_counts={"1gram": np.arange(10.0)[::-1]}, eigenvalues={"layer0": np.ones(8)},
        replicates={"zipf-mle-1gram": np.full(4, beta[0])})
    record.save(directory)
    return directory


def test_compare_prints_and_saves_the_closures_at_the_data_beta(tmp_path, capsys):
    for w in 64 * 2 ** np.arange(6):
        write(tmp_path, planted_record(int(w), int(round(2.0 * w**0.6))))
    source = importance_record(tmp_path / "importance", (1.6667, 1.6, 1.75))
    assert beta_from_record(source)[1] == "zipf-mle-1gram of m"
    directory = main(["--family", "test", "--records", str(tmp_path), "--resamples", "300",
                      "--no-plot", "--beta-from", str(source)])
    out = capsys.readouterr().out
    assert "closures at beta = 1.667" in out
    saved = json.loads((directory / "closures.json").read_text())
    verdicts = {row["closure"]: row["verdict"] for row in saved[0]["closures"]}
    assert verdicts["P1"] == "consistent" and verdicts["D"] == "excluded"
    with pytest.raises(SystemExit) as exit_info:
        main(["--family", "test", "--records", str(tmp_path), "--no-plot", "--beta-from",
              str(source), "--beta-estimate", "spectrum-mean"])
    assert exit_info.value.code == 1 and "has no estimate" in capsys.readouterr().err
