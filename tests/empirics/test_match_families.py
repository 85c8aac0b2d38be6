"""A match family added as an adapter: registered in the test, no existing module touched,
run through the real path (`python -m empirics.match --family NAME`, its pairs, its inputs,
its capture, the engine and the record)."""

import pytest

from empirics.capture.stimuli import default_corpus
from empirics.match import main
from empirics.models.adapters import MatchFamily
from empirics.pipeline.families import text_source
from empirics.pipeline.pairs import MATCH_FAMILIES, inputs_for, match_family, pairs_for
from empirics.records.match import MatchRecord
from tests.empirics.tiny_models import save_text_model, train_tokenizers

FAST = ["--device", "cpu", "--tokens", "64", "--examples", "0", "--groups", "0",
        "--candidates", "2"]


def first_documents(choice):
    """The embedded corpus's first three documents, whatever the flags say."""
    return default_corpus()[:3], None


DECODERS = MatchFamily(name="decoders", sides=("gpt2", "qwen2.5"), kind="text",
                       inputs=first_documents, source=text_source)


def test_a_registered_family_runs_its_pairs_on_its_inputs(tmp_path):
    bpe, unigram = train_tokenizers()
    save_text_model(tmp_path / "a", "gpt2", bpe, seed=1)
    save_text_model(tmp_path / "b", "qwen2", unigram, seed=2)
    argv = ["--family", "decoders", "--pair", str(tmp_path / "a"), str(tmp_path / "b"),
            "--out", str(tmp_path / "runs"), *FAST]
    with pytest.raises(SystemExit) as exit_info:  # not registered: not a --family choice
        main(argv)
    assert exit_info.value.code == 2
    with MATCH_FAMILIES.added(DECODERS):
        [directory] = main(argv)
        assert [(a.name, b.name) for a, b, _ in pairs_for("decoders")] == [
            ("gpt2-355m", "qwen2.5-0.5b"), ("gpt2-1.5b", "qwen2.5-1.5b")]
        documents, _ = inputs_for("decoders", None)
    record = MatchRecord.load(directory)
    assert record.family == "decoders"
    assert record.config["inputs"] == [document.id for document in documents]
    assert record.config["architectures"] == ["gpt2", "qwen2"] and record.n_tokens > 0
    assert "decoders" not in MATCH_FAMILIES


def test_an_unknown_family_is_refused_naming_the_known_ones():
    with pytest.raises(ValueError, match="unknown family 'decoders'; known: language, vision"):
        match_family("decoders")
