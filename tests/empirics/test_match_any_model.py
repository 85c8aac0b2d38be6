"""python -m empirics.match on models outside the registry: a checkpoint folder and a Hugging
Face id in the cache, named as the user knows them."""

import json

import pytest

from empirics.match import main
from empirics.records.match import MatchRecord
from tests.empirics.tiny_models import hub_entry, save_text_model, train_tokenizers

FAST = ["--device", "cpu", "--docs", "4", "--tokens", "64", "--examples", "0", "--groups", "0",
        "--candidates", "2"]


def test_a_folder_and_a_hugging_face_id_are_matched_by_their_names(tmp_path, capsys):
    bpe, unigram = train_tokenizers()
    folder = tmp_path / "my-mistral"
    save_text_model(folder, "mistral", bpe, seed=1)
    save_text_model(tmp_path / "files", "gpt2", unigram, seed=2)
    cache = tmp_path / "hub"
    hub_entry(cache, "someone/tiny-gpt2", tmp_path / "files")
    argv = ["--family", "language", "--pair", str(folder), "someone/tiny-gpt2", "--cache-dir",
            str(cache), "--out", str(tmp_path / "runs"), "--json", *FAST]
    [directory] = main(argv)
    record = MatchRecord.load(directory)
    assert (record.model_a, record.model_b) == ("my-mistral", "someone/tiny-gpt2")
    assert record.config["architectures"] == ["mistral", "gpt2"]
    assert list(record.layer_sizes_a) == [40, 40] and list(record.layer_sizes_b) == [128, 128]
    assert json.loads(capsys.readouterr().out)["pairs"][0]["record"] == str(directory)
    save_text_model(tmp_path / "files", "gpt2", unigram, seed=3)  # the id's weights change
    hub_entry(cache, "someone/tiny-gpt2", tmp_path / "files", revision="1" * 40)
    assert main(argv) != [directory]  # never the record of the other weights


def test_an_id_missing_from_the_cache_exits_1_naming_the_cache(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--family", "language", "--pair", "someone/absent", "pythia-70m",
              "--cache-dir", str(tmp_path), *FAST])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "someone/absent" in err and f"the Hugging Face cache {tmp_path}" in err

