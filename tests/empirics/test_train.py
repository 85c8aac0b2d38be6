"""python -m empirics.train: a family trained here, saved, resumable, and matched."""

import json

import pytest

from empirics.capture.offline import Recipe, build_corpus, load_corpus
from empirics.models.detect import resolve_spec
from empirics.records.match import MatchRecord
from empirics.train import main

ARGS = ["--widths", "8,16", "--seeds", "0", "--tokens-per-param", "0.5", "--min-tokens",
        "150000", "--context", "64", "--batch", "8", "--vocab", "512", "--device", "cpu"]


@pytest.fixture(scope="module")
def family(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    lib = root / "lib"
    lib.mkdir()
    for i in range(30):
        (lib / f"mod{i}.py").write_text("".join(
            f"def function_{i}_{j}(value):\n    return value * {j} + {i}\n\n" for j in range(60)))
    build_corpus(root / "corpus", Recipe(stdlib=str(lib), share=str(root / "-"),
                                         heldout_percent=10, debian_docs=False))
    written = main(["--corpus", str(root / "corpus"), "--out", str(root / "models"), *ARGS])
    return root, written


@pytest.mark.slow  # trains four models (the `family` fixture); the default run trains and
# matches a smaller family in tests/empirics/test_filter_cli.py
@pytest.mark.usefixtures("one_torch_thread")
def test_both_architectures_train_save_and_learn(family):
    root, written = family
    assert [d.name for d in written] == ["gpt2-w8-s0", "gpt2-w16-s0", "qwen2-w8-s0",
                                         "qwen2-w16-s0"]
    for directory in written:
        log = json.loads((directory / "train_log.json").read_text())
        assert log["last_loss"] < log["first_loss"] - 1.0  # it learnt (from ln 512 = 6.2)
        assert 0 < log["heldout_loss"] < log["first_loss"]
        assert log["tokens"] >= 150000 - 8 * 64
        assert (directory / "model.safetensors").is_file()
        assert (directory / "tokenizer.json").is_file()
        assert log["corpus_sha256"] == load_corpus(root / "corpus").sha256
        assert 0 < log["unigram_loss"] < 7.0 and log["unigram_train_tokens"] > 150000
        assert log["unigram_smoothing"].startswith("add-one")
    logs = [json.loads((d / "train_log.json").read_text()) for d in written]
    assert logs[0]["unigram_loss"] == logs[1]["unigram_loss"]  # one per tokenizer
    assert logs[0]["unigram_loss"] != logs[2]["unigram_loss"]
    spec = resolve_spec("qwen2-w16-s0", written[3])
    assert spec.architecture == "qwen2" and spec.d_mlp == 48 and spec.n_layers == 2


@pytest.mark.slow  # uses the four trained models of `family`
@pytest.mark.usefixtures("one_torch_thread")
def test_a_trained_pair_goes_through_the_match_and_a_rerun_resumes(family, capsys):
    root, written = family
    stamps = [(d / "train_log.json").stat().st_mtime_ns for d in written]
    again = main(["--corpus", str(root / "corpus"), "--out", str(root / "models"), *ARGS])
    assert again == written
    assert [(d / "train_log.json").stat().st_mtime_ns for d in written] == stamps
    from empirics.match import main as match

    directory, = match(["--family", "language", "--pair", written[1].name, written[3].name,
                        "--path-a", str(written[1]), "--path-b", str(written[3]),
                        "--corpus", str(root / "corpus"), "--docs", "6", "--tokens", "64",
                        "--batch", "3", "--groups", "2", "--examples", "0", "--device", "cpu",
                        "--out", str(root / "runs")])
    record = MatchRecord.load(directory)
    logs = [json.loads((d / "train_log.json").read_text()) for d in (written[1], written[3])]
    assert [t["heldout_loss"] for t in record.config["training"]] == [
        log["heldout_loss"] for log in logs]
    assert [t["unigram_loss"] for t in record.config["training"]] == [
        log["unigram_loss"] for log in logs]
    assert record.n_neurons_a == 2 * 64 and record.n_neurons_b == 2 * 48
    assert record.n_rosetta > 0 and record.config["corpus"]["split"] == "heldout"
    assert record.size_a == resolve_spec(written[1].name, written[1]).n_params


@pytest.mark.slow  # uses the four trained models of `family`
def test_the_trained_family_is_matched_by_model_dir(family):
    from empirics.match import main as match
    from empirics.models.local import trained_family, trained_pairs

    root, written = family
    pairs = trained_pairs(trained_family(root / "models"))
    assert [(a.name, b.name) for a, b, _ in pairs] == [("gpt2-w8-s0", "qwen2-w8-s0"),
                                                      ("gpt2-w16-s0", "qwen2-w16-s0")]
    directories = match(["--family", "language", "--model-dir", str(root / "models"), "--all",
                         "--corpus", str(root / "corpus"), "--docs", "6", "--tokens", "64",
                         "--batch", "3", "--groups", "2", "--examples", "0", "--device",
                         "cpu", "--out", str(root / "runs-all")])
    records = [MatchRecord.load(d) for d in directories]
    assert [(r.model_a, r.model_b) for r in records] == [(a.name, b.name) for a, b, _ in pairs]


def test_trained_pairs_are_cross_architecture_and_seed_pairs_at_equal_width():
    from pathlib import Path

    from empirics.models.local import trained_pairs
    from empirics.models.registry import ModelSpec

    def spec(name):
        return ModelSpec(name=name, family="local", kind="text", loader="transformers",
                         n_params=1, d_mlp=4, n_layers=1, architecture="gpt2"), Path(name)

    family = [spec(f"{a}-w{w}-s{s}") for a in ("gpt2", "qwen2") for w in (8, 16)
              for s in (0, 1)] + [spec("other-model")]
    names = [(a.name, b.name) for a, b, _ in trained_pairs(family)]
    assert names[:4] == [("gpt2-w8-s0", "qwen2-w8-s0"), ("gpt2-w8-s1", "qwen2-w8-s1"),
                         ("gpt2-w16-s0", "qwen2-w16-s0"), ("gpt2-w16-s1", "qwen2-w16-s1")]
    assert set(names[4:]) == {("gpt2-w8-s0", "gpt2-w8-s1"), ("gpt2-w16-s0", "gpt2-w16-s1"),
                              ("qwen2-w8-s0", "qwen2-w8-s1"), ("qwen2-w16-s0", "qwen2-w16-s1")}


@pytest.mark.slow  # uses the four trained models of `family`
def test_cross_architecture_and_seed_pairs_are_separate_series(family):
    from empirics.records.pair import series_of

    root, written = family
    from empirics.match import main as match

    directories = match(["--family", "language", "--model-dir", str(root / "models"),
                         "--pair", "gpt2-w8-s0", "qwen2-w8-s0", "--corpus", str(root / "corpus"),
                         "--docs", "6", "--tokens", "64", "--batch", "3", "--groups", "2",
                         "--examples", "0", "--device", "cpu", "--out", str(root / "runs-all")])
    config = MatchRecord.load(directories[0]).config
    assert config["architectures"] == ["gpt2", "qwen2"]
    seed_pair = dict(config, architectures=["gpt2", "gpt2"])
    assert series_of(config) != series_of(seed_pair)


@pytest.mark.slow  # uses the four trained models of `family`
def test_a_model_trained_before_logs_kept_the_baseline_gets_it_from_its_corpus(family, tmp_path):
    """A log without the baseline: computed from the model's own tokenizer and corpus, equal
    to what training logs; without a corpus, or on another corpus, stated as missing."""
    import shutil

    from empirics.pipeline.baseline import training_summary

    root, written = family
    old = tmp_path / written[2].name
    shutil.copytree(written[2], old)
    log = json.loads((old / "train_log.json").read_text())
    logged = {k: log.pop(k) for k in list(log) if k.startswith("unigram")}
    (old / "train_log.json").write_text(json.dumps(log))
    counts = {}
    summary = training_summary(old, root / "corpus", counts=counts)
    assert summary["unigram_loss"] == pytest.approx(logged["unigram_loss"], rel=1e-12)
    assert summary["heldout_loss"] == log["heldout_loss"] and len(counts) == 1
    assert "no --corpus" in training_summary(old)["unigram_missing"]
    other = tmp_path / "other"
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "mod.py").write_text("x = 1\n" * 400)
    build_corpus(other, Recipe(stdlib=str(lib), share=str(tmp_path / "-"), heldout_percent=10,
                               debian_docs=False))
    missing = training_summary(old, other)
    assert missing["unigram_loss"] is None and "trained on the corpus" in missing["unigram_missing"]
    assert training_summary(tmp_path) is None  # no train log: a hub checkpoint, say
