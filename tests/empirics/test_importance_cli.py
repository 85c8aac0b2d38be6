"""python -m empirics.importance: tiny models of the trained family's architectures, built and
saved in the test with tokenizers trained on a corpus built here, measured end to end."""

import numpy as np
import pytest
import torch
import transformers
from tokenizers import Tokenizer

from empirics.analysis.spectrum import chunk_moments
from empirics.capture.offline import Recipe, build_corpus, load_corpus
from empirics.capture.windows import document_ids, token_windows, window_activations
from empirics.importance import main
from empirics.models.tokenizer import saved_tokenizer
from empirics.pipeline.train import TOKENIZERS, TrainSettings, model_config, train_tokenizer
from empirics.records.importance import ImportanceRecord

ARGS = ["--boot", "40", "--chunks", "4", "--context", "32", "--rank-min", "2", "--rank-max",
        "60", "--min-count", "5", "--batch", "8", "--device", "cpu"]


def save_model(root, architecture, width, tokenizer, corpus):
    """A randomly initialised member of the family, saved as `python -m empirics.train` does."""
    settings = TrainSettings(corpus=corpus, context=64)
    torch.manual_seed(width)
    model = transformers.AutoModelForCausalLM.from_config(
        model_config(architecture, width, settings, tokenizer))
    directory = root / f"{architecture}-w{width}-s0"
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def family(tmp_path_factory):
    root = tmp_path_factory.mktemp("importance")
    lib = root / "lib"
    lib.mkdir()
    for i in range(80):
        (lib / f"mod{i}.py").write_text("".join(
            f"def function_{i}_{j}(value, other={j % 7}):\n"
            f"    \"\"\"Return value times {j}.\"\"\"\n"
            f"    return value * {j} + other - {i % 5}\n\n" for j in range(25)))
    build_corpus(root / "corpus", Recipe(stdlib=str(lib), share=str(root / "-"),
                                         heldout_percent=30, debian_docs=False))
    texts = [d.text for d in load_corpus(root / "corpus").documents("train")]
    models = root / "models"
    for architecture in ("gpt2", "qwen2"):
        tokenizer = train_tokenizer(TOKENIZERS[architecture], texts, 400)
        for width in (8, 16):
            save_model(models, architecture, width, tokenizer, root / "corpus")
    return root


@pytest.mark.usefixtures("one_torch_thread")
def test_the_command_writes_records_that_reload_and_are_reused(family, capsys):
    root = family
    common = ["--corpus", str(root / "corpus"), "--model-dir", str(root / "models"),
              "--out", str(root / "runs"), *ARGS]
    written = main(common)
    printed = capsys.readouterr().out
    assert [d.name.rsplit("-", 1)[0] for d in written] == ["gpt2-w16-s0", "qwen2-w16-s0"]
    corpus = load_corpus(root / "corpus")
    for directory in written:
        record = ImportanceRecord.load(directory)
        assert record.corpus_sha256 == corpus.sha256 and record.split == "heldout"
        assert record.d_model == 16 and record.n_layers == 2 and record.closure == "P1"
        names = {"zipf-mle-1gram", "zipf-ols-1gram", "zipf-mle-2gram", "zipf-ols-2gram",
                 "spectrum-layer0", "spectrum-layer1", "spectrum-mean"}
        assert set(record.estimates) == names == set(record.replicates)
        spectrum = record.estimates["spectrum-mean"]
        assert spectrum["window"] == [2, 8] and spectrum["n_units"] == 4
        assert record.spectrum(0).shape == (record.layer_sizes[0],)
        assert record.replicates["zipf-mle-1gram"].shape == (40,)
        assert record.config["weights"]["files"]["model.safetensors"]
        # the tokens are those of the saved tokenizer.json (AutoTokenizer would cut the qwen2
        # unigram text into characters)
        raw = Tokenizer.from_file(str(root / "models" / record.model / "tokenizer.json"))
        texts = [d.text for d in corpus.documents("heldout")]
        assert record.n_tokens == sum(len(raw.encode(t, add_special_tokens=False).ids)
                                      for t in texts)
        assert record.model in printed
    assert "zipf-mle-1gram" in printed and "spectrum-mean" in printed
    stamps = [(d / "record.json").stat().st_mtime_ns for d in written]
    assert main(common) == written
    assert [(d / "record.json").stat().st_mtime_ns for d in written] == stamps
    other = main([*common, "--model", "gpt2-w8-s0", "--boot", "30"])
    assert other[0] not in written and ImportanceRecord.load(other[0]).d_model == 8


def test_an_unknown_model_is_a_data_error(family, capsys):
    root = family
    with pytest.raises(SystemExit) as exit_:
        main(["--corpus", str(root / "corpus"), "--model-dir", str(root / "models"), "--model",
              "gpt2-w99-s0", "--out", str(root / "runs"), *ARGS])
    assert exit_.value.code == 1 and "no model gpt2-w99-s0" in capsys.readouterr().err


@pytest.mark.usefixtures("one_torch_thread")
def test_chunk_moments_are_the_moments_of_the_captured_activations(family):
    directory = family / "models" / "gpt2-w16-s0"
    model = transformers.AutoModelForCausalLM.from_pretrained(directory).eval()
    tokenizer = saved_tokenizer(directory)
    documents = load_corpus(family / "corpus").documents("heldout")
    windows = token_windows(document_ids(tokenizer, documents), tokenizer.eos_token_id, 32)
    layers = chunk_moments(model, "gpt2", windows, n_chunks=3, batch=5)
    captured = [np.concatenate(parts).astype(np.float64) for parts in zip(*[
        [x.numpy() for x in acts] for acts in window_activations(model, "gpt2", windows)])]
    for moments, x in zip(layers, captured):
        assert moments.counts.sum() == len(x) == windows.size
        assert np.allclose(moments.covariance()[0], np.cov(x.T, bias=True), atol=1e-9)
