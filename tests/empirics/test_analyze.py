"""python -m empirics.analyze end to end on tiny models matched in the test."""

import dataclasses

import numpy as np
import pytest
import torch

from empirics.analyze import main
from empirics.capture.stimuli import default_corpus
from empirics.pipeline.match import match_pair
from empirics.records.analysis import (
    ActivationStatsRecord,
    DepthRecord,
    SelectivityRecord,
    SpecializationRecord,
    StabilityRecord,
    TopKRecord,
)
from tests.empirics.test_match_cli import OPTIONS
from tests.empirics.tiny_models import save_text_model, train_tokenizers


@pytest.fixture(scope="module")
def matched(tmp_path_factory):
    """Two budgets of one tiny GPT-NeoX x OPT pair, with 10 candidates per neuron."""
    bpe, unigram = train_tokenizers()
    root = tmp_path_factory.mktemp("analyze")
    spec_a = save_text_model(root / "a", "gpt_neox", bpe, seed=1)
    spec_b = save_text_model(root / "b", "opt", unigram, seed=2)
    options = dataclasses.replace(OPTIONS, candidates=10, examples=4)
    runs = [match_pair(spec_a, spec_b, family="language", inputs=default_corpus()[:docs],
                       options=options, out=root / "runs", device=torch.device("cpu"),
                       paths=(root / "a", root / "b")) for docs in (12, 32)]
    paths = [f"--path={spec.name}={root / side}" for spec, side in ((spec_a, "a"), (spec_b, "b"))]
    return root, runs, paths


def test_every_analysis_writes_its_record_and_is_reused(matched, caplog, capsys):
    root, runs, paths = matched
    stats = ActivationStatsRecord.load(runs[1] / "stats")
    assert stats.stats_a["sums"].shape == (5, 128) and stats.stats_a["count"][0] > 100
    written = main(["--runs", str(root / "runs"), "--vocabulary", "--device", "cpu", *paths,
                    "--judge", "tests.empirics.analysis.test_selectivity:FirstWordJudge",
                    "--judge-neurons", "3"])
    assert len(written) == 2 * 4 + 1
    run = runs[1]
    topk = TopKRecord.load(run / "topk")
    assert topk.ks.tolist() == [1, 2, 5, 10] and np.all(np.diff(topk.counts) >= 0)
    selectivity = SelectivityRecord.load(run / "selectivity")
    assert {"vocabulary_kurtosis", "activation_kurtosis", "hoyer_sparsity",
            "top_zscore"} <= set(selectivity.summary)
    assert selectivity.notes["final_norm_a"].endswith("final_layer_norm")
    assert np.isfinite(selectivity.metrics["vocabulary_kurtosis_b"]).all()
    judge = selectivity.judges["same-span"]
    assert judge["prompt"].startswith("Do these") and len(judge["rosetta_a"]["scores"]) == 3
    assert selectivity.masks["rosetta_a"].sum() == topk.counts[0]
    assert selectivity.masks["control_a"].sum() == topk.counts[0]
    specialization = SpecializationRecord.load(run / "specialization")
    assert set(specialization.categories) == {"prose", "multilingual", "code", "data"}
    assert specialization.frequency.sum() == pytest.approx(1.0)
    depth = DepthRecord.load(run / "depth")
    assert np.nansum(depth.share_a) == pytest.approx(1.0)
    stability = StabilityRecord.load(written[-1])
    assert stability.n_tokens[0] < stability.n_tokens[1] and stability.method == "rerun"
    lines = dict(line.split("  ", 1) for line in capsys.readouterr().out.splitlines())
    assert list(lines) == [str(path) for path in written]  # one line per record written
    assert lines[str(run / "topk")] == (f"mutual top-k count k = 1: {topk.counts[0]}, "
                                        f"k = 10: {topk.counts[-1]}")
    assert lines[str(run / "selectivity")].startswith("mean activation_kurtosis: Rosetta ")
    assert lines[str(run / "specialization")].startswith("most enriched category ")
    assert lines[str(run / "depth")].startswith("Rosetta rate, shallowest -> deepest bin: a ")
    assert lines[str(written[-1])].startswith(
        f"R {int(stability.counts[0])} at {int(stability.n_tokens[0])} tokens -> ")
    assert main(["--runs", str(root / "runs"), "--vocabulary", "--device", "cpu", *paths,
                 "--judge", "tests.empirics.analysis.test_selectivity:FirstWordJudge",
                 "--judge-neurons", "3"]) == []


def test_analyses_the_records_cannot_support_are_skipped_with_the_reason(matched, caplog):
    root, runs, paths = matched
    written = main(["--runs", str(root / "runs"), "--analyses", "topk", "--ks", "1,20",
                    "--force"])
    assert all(TopKRecord.load(w).ks.tolist() == [1] for w in written)
    assert "needs a match with --candidates 20" in caplog.text


def test_bad_arguments_and_missing_runs_are_explained(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--runs", str(tmp_path), "--analyses", "depth,nope"])
    assert exit_info.value.code == 2
    assert ("--analyses must be one of depth, topk, selectivity, specialization, stability, "
            "got ('depth', 'nope')") in " ".join(capsys.readouterr().err.split())
    with pytest.raises(SystemExit) as exit_info:
        main(["--runs", str(tmp_path)])
    assert exit_info.value.code == 1 and "empirics.match" in capsys.readouterr().err


def test_vocabulary_without_the_checkpoints_says_which_flag_gives_them(matched, capsys):
    root, _, _ = matched
    with pytest.raises(SystemExit) as exit_info:
        main(["--runs", str(root / "runs"), "--vocabulary", "--analyses", "selectivity",
              "--force"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "pass --path tiny-gpt_neox=DIR" in err and "Traceback" not in err


def test_debug_shows_the_traceback_of_a_data_error(tmp_path):
    from empirics.report.__main__ import main as report
    from runstore import RecordError

    (tmp_path / "record.json").write_text("[1, 2]")
    with pytest.raises(SystemExit) as exit_info:
        report([str(tmp_path)])
    assert exit_info.value.code == 1
    with pytest.raises(RecordError, match="record.json"):
        report([str(tmp_path), "--debug"])


def test_a_model_dir_names_every_checkpoint_by_its_folder(matched, tmp_path):
    root, runs, paths = matched
    for item in paths:  # folders named after the models, as a trained family saves them
        name, directory = item.removeprefix("--path=").split("=")
        (tmp_path / name).symlink_to(directory, target_is_directory=True)
    written = main(["--runs", str(root / "runs"), "--vocabulary", "--device", "cpu",
                    "--model-dir", str(tmp_path), "--analyses", "selectivity", "--force"])
    assert len(written) == 2
    record = SelectivityRecord.load(written[-1])
    assert np.isfinite(record.metrics["vocabulary_kurtosis_a"]).all()
    with pytest.raises(SystemExit):
        main(["--runs", str(root / "runs"), "--model-dir", str(tmp_path / "nope")])
