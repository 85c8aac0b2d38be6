"""python -m empirics.match on a researcher's inputs: a .jsonl, a .jsonl.zst, a Parquet file and a
saved `datasets` folder (the paper's recipe as an option), and an image folder, matched with
tiny random models built here; the draw is seeded and recorded."""

import json

import numpy as np
import pytest
from PIL import Image

from empirics.capture.dataset import DatasetInputs, dataset_documents
from empirics.capture.stimuli import stimuli_digest
from empirics.match import main
from empirics.records.match import MatchRecord
from tests.empirics.capture.test_sources import pile_rows, write_formats
from tests.empirics.tiny_models import save_text_model, save_vision_model, train_tokenizers

FAST = ["--device", "cpu", "--tokens", "32", "--examples", "0", "--groups", "0",
        "--candidates", "2"]


@pytest.fixture(scope="module")
def text_pair(tmp_path_factory):
    """Two tiny random text models of other architectures and tokenizers, saved."""
    root = tmp_path_factory.mktemp("models")
    bpe, unigram = train_tokenizers()
    save_text_model(root / "tiny-gpt2", "gpt2", bpe, seed=1)
    save_text_model(root / "tiny-opt", "opt", unigram, seed=2)
    return [str(root / "tiny-gpt2"), str(root / "tiny-opt")]


def match(text_pair, tmp_path, *flags) -> MatchRecord:
    [directory] = main(["--family", "language", "--pair", *text_pair, "--out",
                        str(tmp_path / "runs"), *FAST, *flags])
    return MatchRecord.load(directory), directory


@pytest.mark.parametrize("form", ["jsonl", "jsonl.zst", "parquet", "saved"])
def test_a_dataset_is_matched_on_the_seeded_draw_its_record_states(text_pair, tmp_path, form,
                                                                   capsys):
    path = write_formats(tmp_path / "data", pile_rows())[form]
    record, directory = match(text_pair, tmp_path, "--dataset", str(path), "--recipe", "paper",
                              "--docs", "6", "--docs-seed", "2")
    expected, provenance = dataset_documents(DatasetInputs.of_recipe(path, "paper"), 6, seed=2)
    assert record.config["inputs"] == [d.id for d in expected]
    assert record.config["inputs_sha256"] == stimuli_digest(expected)
    assert record.config["corpus"] == json.loads(json.dumps(provenance))
    draw = record.config["corpus"]["draw"]
    assert draw == {"rule": "stratified", "docs": 6, "seed": 2, "of": 48,
                    "categories": {"ArXiv": 2, "Github": 1, "Pile-CC": 3}}  # a tie: by name
    assert record.config["corpus"]["dataset"]["recipe"] == "paper"
    assert record.n_tokens > 0
    out = capsys.readouterr().out
    assert "inputs: 6 of 48 documents, stratified by category, seed 2" in out
    assert f"from {path.name} (recipe paper" in out
    if form != "jsonl.zst":
        return
    same, again = match(text_pair, tmp_path, "--dataset", str(path), "--recipe", "paper",
                        "--docs", "6", "--docs-seed", "2")
    assert again == directory and same.config["inputs"] == record.config["inputs"]
    other, elsewhere = match(text_pair, tmp_path, "--dataset", str(path), "--recipe", "paper",
                             "--docs", "6", "--docs-seed", "3")
    assert elsewhere != directory and other.config["inputs"] != record.config["inputs"]


def test_a_saved_dataset_with_its_own_fields(text_pair, tmp_path):
    import datasets

    rows = [{"body": f"entry {i}: " + "some words of the entry " * (2 + i % 4),
             "origin": "forum" if i % 3 else "news"} for i in range(24)]
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "mine"))
    record, _ = match(text_pair, tmp_path, "--dataset", str(tmp_path / "mine"), "--text-field",
                      "body", "--subset-field", "origin", "--docs", "9", "--max-bytes", "60")
    corpus = record.config["corpus"]
    assert corpus["draw"]["categories"] == {"forum": 6, "news": 3}
    assert corpus["dataset"] | {"kept_sha256": None} == {
        "name": "mine", "format": "saved", "split": None, "text_field": "body",
        "subset_field": "origin", "max_bytes": 60, "min_chars": 1, "recipe": "none",
        "rows": 24, "skipped_short": 0, "kept_sha256": None, "cut": corpus["dataset"]["cut"]}
    drawn = [rows[int(name.removeprefix("mine:"))]["body"] for name in record.config["inputs"]]
    assert corpus["dataset"]["cut"] == sum(len(text.encode()) > 60 for text in drawn) > 0


def test_a_missing_field_exits_1_naming_the_file_and_usage_errors_exit_2(text_pair, tmp_path,
                                                                        capsys):
    path = tmp_path / "notes.jsonl"
    path.write_text('{"content": "a document without the text field"}\n')
    with pytest.raises(SystemExit) as exit_info:
        match(text_pair, tmp_path, "--dataset", str(path))
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert f"{path}, row 0: no field 'text' (its fields: content)" in err
    assert "--text-field" in err and "Traceback" not in err
    for flags in (["--recipe", "paper"], ["--dataset", str(path), "--text", str(path)]):
        with pytest.raises(SystemExit) as exit_info:
            match(text_pair, tmp_path, *flags)
        assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--recipe reads a --dataset; none is given" in err
    assert "--text and --dataset: give one source of documents" in err


def test_an_image_folder_is_matched_and_a_folder_without_images_refused(tmp_path, capsys):
    save_vision_model(tmp_path / "vit-a", seed=1)
    save_vision_model(tmp_path / "vit-b", seed=2)
    rng = np.random.default_rng(0)
    for name in ("cats/a.png", "cats/b.png", "dogs/a.png", "dogs/b.png"):
        (tmp_path / "images" / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(
            tmp_path / "images" / name)
    argv = ["--family", "vision", "--pair", str(tmp_path / "vit-a"), str(tmp_path / "vit-b"),
            "--out", str(tmp_path / "runs"), "--device", "cpu", "--examples", "0",
            "--groups", "0", "--candidates", "2"]
    [directory] = main(argv + ["--image-dir", str(tmp_path / "images")])
    record = MatchRecord.load(directory)
    assert record.config["inputs"] == ["cats/a.png", "cats/b.png", "dogs/a.png", "dogs/b.png"]
    assert record.n_tokens == 4 * 16  # four images of a 4 x 4 patch grid
    assert "corpus" not in record.config  # all of a folder: the run keyed as before draws
    drawn = ["--image-dir", str(tmp_path / "images"), "--images", "2", "--image-seed", "1"]
    [directory] = main(argv + drawn)
    record = MatchRecord.load(directory)
    assert record.config["corpus"]["draw"] == {"rule": "stratified", "docs": 2, "seed": 1,
                                               "of": 4, "categories": {"cats": 1, "dogs": 1}}
    assert [name.split("/")[0] for name in record.config["inputs"]] == ["cats", "dogs"]
    assert "inputs: 2 of 4 images, stratified by category, seed 1 (cats 1, dogs 1)" in \
        capsys.readouterr().out
    assert main(argv + drawn) == [directory]  # the same seed: the same images, reused
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit) as exit_info:
        main(argv + ["--image-dir", str(tmp_path / "empty")])
    assert exit_info.value.code == 1
    assert "no image files (.png" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(argv + ["--dataset", str(tmp_path / "x.jsonl")])
    assert exit_info.value.code == 2
    assert "--dataset holds documents; the vision family is matched on images" in \
        capsys.readouterr().err
