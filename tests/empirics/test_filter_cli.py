"""python -m empirics.filter: the case study end to end on a tiny family trained in the test
(code and prose documents), its records, their reuse, and its refusals."""

import json
import shutil

import numpy as np
import pytest

from empirics.capture.offline import Recipe, build_corpus, load_corpus
from empirics.filter import main
from empirics.records.filtering import ARMS, ContinuedRecord, FilterRecord

SMALL = ["--neurons", "4", "--min-enrichment", "1.0", "--pool", "60", "--fraction", "0.25",
         "--max-tokens", "32", "--steps", "4", "--batch", "2", "--context", "32",
         "--seeds", "0,1", "--heldout-tokens", "400", "--device", "cpu"]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    from empirics.match import main as match
    from empirics.train import main as train

    root = tmp_path_factory.mktemp("filter")
    lib = root / "lib"
    lib.mkdir()
    for i in range(40):
        (lib / f"mod{i}.py").write_text("".join(
            f"def function_{i}_{j}(value):\n    return value * {j} + {i}\n\n" for j in range(20)))
    build_corpus(root / "corpus", Recipe(stdlib=str(lib), share=str(root / "-"),
                                         heldout_percent=20, chunk_chars=600,
                                         debian_docs=False))
    train(["--corpus", str(root / "corpus"), "--out", str(root / "models"), "--widths", "8",
           "--seeds", "0,1", "--architectures", "gpt2", "--tokens-per-param", "0.1",
           "--min-tokens", "6000", "--context", "32", "--batch", "8", "--vocab", "300",
           "--device", "cpu"])
    models = root / "models"
    directory, = match(["--family", "language", "--pair", "gpt2-w8-s0", "gpt2-w8-s1",
                        "--path-a", str(models / "gpt2-w8-s0"), "--path-b",
                        str(models / "gpt2-w8-s1"), "--corpus", str(root / "corpus"),
                        "--docs", "40", "--tokens", "32", "--batch", "8", "--groups", "2",
                        "--examples", "8", "--device", "cpu", "--out", str(root / "runs")])
    return root, directory


@pytest.mark.usefixtures("one_torch_thread")
def test_the_study_writes_both_records_with_what_they_measured(study, capsys):
    root, match_dir = study
    found, continued = main(["--match", str(match_dir), "--corpus", str(root / "corpus"),
                             "--model-dir", str(root / "models"), "--out", str(root / "out"),
                             *SMALL])
    record = FilterRecord.load(found.directory)
    corpus = load_corpus(root / "corpus")
    assert record.corpus_sha256 == corpus.sha256 and record.config["seed"] == 0
    assert record.config["fraction"] == 0.25 and record.target == "code"
    assert [len(record.kept[a]) for a in ARMS] == [15, 15, 15]
    assert len(record.neurons["rosetta"]) == len(record.neurons["control"]) <= 4
    assert np.all(record.enrichment["rosetta"] >= 1.0)
    for arm in ("rosetta", "control"):  # each arm keeps exactly its top-scored documents
        top = np.argsort(-record.scores[arm], kind="stable")[:15]
        assert sorted(top.tolist()) == record.kept[arm].tolist()
    labels = corpus.categories("train")
    assert [labels[d] for d in record.documents] == record.categories
    result = ContinuedRecord.load(continued[1])
    assert result.loss.shape == (3, 2, len(result.categories))
    assert np.isfinite(result.loss).all() and result.categories == ["code", "prose"]
    assert result.steps == 4 and result.config["filter_hash"]
    random = result.arms.index("random")
    for arm in result.arms:  # the delta is the paired difference from the random arm
        for k, category in enumerate(result.categories):
            diff = result.loss[result.arms.index(arm), :, k] - result.loss[random, :, k]
            assert result.delta[arm][category][0] == pytest.approx(diff.mean())
    out = capsys.readouterr().out
    assert "share of code" in out and "before" in out


@pytest.mark.usefixtures("one_torch_thread")
def test_a_rerun_reuses_and_a_changed_checkpoint_is_refused(study, tmp_path, capsys):
    root, match_dir = study
    args = ["--match", str(match_dir), "--corpus", str(root / "corpus"), "--out",
            str(root / "out"), "--model-dir", str(root / "models"), *SMALL]
    first, _ = main(args)
    again, continued = main(args)
    assert again.reused and continued[2]
    copy = tmp_path / "gpt2-w8-s0"
    shutil.copytree(root / "models" / "gpt2-w8-s0", copy)
    log = json.loads((copy / "train_log.json").read_text())
    (copy / "train_log.json").write_text(json.dumps(log | {"seconds": -1.0}))
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--checkpoint", str(copy), "--no-train"])
    assert exit_info.value.code == 1
    assert "not the ones the match" in capsys.readouterr().err


def test_a_target_no_rosetta_neuron_favours_is_refused(study, capsys):
    root, match_dir = study
    with pytest.raises(SystemExit) as exit_info:
        main(["--match", str(match_dir), "--corpus", str(root / "corpus"), "--model-dir",
              str(root / "models"), "--out", str(root / "out"), "--no-train", *SMALL,
              "--min-enrichment", "1000"])
    assert exit_info.value.code == 1
    assert "lower --min-enrichment" in capsys.readouterr().err
