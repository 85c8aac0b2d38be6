"""A researcher's dataset read where it lies (.jsonl, .jsonl.zst, Parquet, a saved `datasets`
folder, a folder of data files), the paper's recipe, and every way a dataset can be wrong
refused by name."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from empirics.capture.dataset import RECIPES, DatasetInputs, cut_utf8, dataset_documents
from empirics.capture.sources import SourceError, read_rows
from empirics.capture.stimuli import load_image_folder

SUBSETS = ("Pile-CC", "Github", "ArXiv")


def pile_rows(n: int = 60) -> list[dict]:
    """Pile-shaped rows: text and meta.pile_set_name; every fifth one shorter than 100
    characters, one of them longer than 8096 bytes with a multi-byte character at the cut."""
    rows = []
    for i in range(n):
        subset = SUBSETS[0] if i < n // 2 else SUBSETS[1 + i % 2]  # Pile-CC: half the rows
        text = f"doc {i} " + ("short" if i % 5 == 0 else "lorem ipsum dolor " * (6 + i))
        rows.append({"text": text, "meta": {"pile_set_name": subset}})
    rows[1]["text"] = "a" * 8095 + "é" + " tail"  # é straddles byte 8096
    return rows


def write_formats(folder: Path, rows: list[dict]) -> dict[str, Path]:
    """The same rows as .jsonl, .jsonl.zst, Parquet, a save_to_disk folder and a folder of
    data files."""
    import datasets
    import pyarrow
    import pyarrow.parquet
    import zstandard

    folder.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps(row) + "\n" for row in rows).encode()
    paths = {"jsonl": folder / "val.jsonl", "jsonl.zst": folder / "val.jsonl.zst",
             "parquet": folder / "val.parquet", "saved": folder / "saved",
             "files": folder / "files"}
    paths["jsonl"].write_bytes(lines)
    paths["jsonl.zst"].write_bytes(zstandard.ZstdCompressor().compress(lines))
    pyarrow.parquet.write_table(pyarrow.Table.from_pylist(rows), paths["parquet"])
    datasets.Dataset.from_list(rows).save_to_disk(str(paths["saved"]))
    paths["files"].mkdir()
    (paths["files"] / "validation.jsonl").write_bytes(lines)
    return paths


def test_every_format_gives_the_same_rows_and_the_same_seeded_draw(tmp_path):
    rows = pile_rows()
    found = {}
    for name, path in write_formats(tmp_path, rows).items():
        assert list(read_rows(path)) == rows, name
        documents, provenance = dataset_documents(DatasetInputs.of_recipe(path, "paper"), 12,
                                                  seed=5)
        found[name] = ([d.id.rpartition(":")[2] for d in documents],
                       [d.text for d in documents], provenance)
    first = found["jsonl"]
    for name, (rows_drawn, texts, provenance) in found.items():
        assert rows_drawn == first[0] and texts == first[1], name
        assert provenance["draw"] == first[2]["draw"]
        assert provenance["dataset"]["kept_sha256"] == first[2]["dataset"]["kept_sha256"]
        assert provenance["dataset"]["format"] == name
    assert found["files"][2]["dataset"]["split"] == "validation"


def test_the_paper_recipe_skips_short_documents_cuts_at_8096_bytes_and_draws_by_subset(
        tmp_path):
    rows = pile_rows()
    path = write_formats(tmp_path, rows)["jsonl.zst"]
    documents, provenance = dataset_documents(DatasetInputs.of_recipe(path, "paper"), 20,
                                              seed=0)
    source, draw = provenance["dataset"], provenance["draw"]
    short = sum(len(row["text"]) < 100 for row in rows)
    assert short == 12 and source["skipped_short"] == short and draw["of"] == 60 - short
    assert all(len(d.text) >= 100 for d in documents)
    assert all(len(d.text.encode()) <= 8096 for d in documents)
    # the subsets in proportion to the rows kept (24 Pile-CC, 12 Github, 12 ArXiv of 48)
    assert draw["categories"] == {"ArXiv": 5, "Github": 5, "Pile-CC": 10}
    assert source | {"kept_sha256": None, "cut": None} == {
        "name": "val.jsonl.zst", "format": "jsonl.zst", "split": None, "text_field": "text",
        "subset_field": "meta.pile_set_name", "max_bytes": 8096, "min_chars": 100,
        "recipe": "paper", "rows": 60, "skipped_short": 12, "kept_sha256": None, "cut": None}
    everything, provenance = dataset_documents(DatasetInputs.of_recipe(path, "paper"), None)
    assert provenance["dataset"]["cut"] == 1 and provenance["draw"]["rule"] == "all"
    long = next(d for d in everything if d.id.endswith(":1"))
    assert long.text == "a" * 8095  # the split character dropped, as the official cut does
    assert RECIPES["paper"]["max_bytes"] == 8096


def test_the_same_seed_draws_the_same_documents_and_another_seed_others(tmp_path):
    path = write_formats(tmp_path, pile_rows())["parquet"]
    inputs = DatasetInputs.of_recipe(path, "paper")
    once, _ = dataset_documents(inputs, 10, seed=3)
    again, _ = dataset_documents(inputs, 10, seed=3)
    other, _ = dataset_documents(inputs, 10, seed=4)
    assert once == again and once != other
    first, provenance = dataset_documents(inputs, 10, rule="first")
    assert [d.id for d in first][:3] == ["val.parquet:1", "val.parquet:2", "val.parquet:3"]
    assert provenance["draw"]["seed"] is None


def test_settings_given_override_the_recipe():
    inputs = DatasetInputs.of_recipe(Path("x.jsonl"), "paper", max_bytes=512,
                                     text_field="body", subset_field=None, min_chars=None)
    assert (inputs.max_bytes, inputs.text_field, inputs.min_chars) == (512, "body", 100)
    assert inputs.subset_field == "meta.pile_set_name"  # None: not given
    plain = DatasetInputs.of_recipe(Path("x.jsonl"))
    assert (plain.subset_field, plain.max_bytes, plain.min_chars) == (None, None, 1)
    with pytest.raises(ValueError, match="--recipe must be one of"):
        DatasetInputs.of_recipe(Path("x.jsonl"), "pile")
    with pytest.raises(ValueError, match="--min-chars must be at least 1"):
        DatasetInputs.of_recipe(Path("x.jsonl"), min_chars=0)
    assert cut_utf8("héllo", 2) == "h" and cut_utf8("héllo", 3) == "hé"


def test_a_field_missing_from_a_row_is_refused_with_the_file_the_row_and_the_flag(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "a first document of enough length"}\n{"body": "no text"}\n')
    with pytest.raises(SourceError, match=r"d\.jsonl, row 1: no field 'text' \(its fields: "
                                          r"body\); name it with --text-field"):
        dataset_documents(DatasetInputs.of_recipe(path), None)
    with pytest.raises(SourceError, match="row 0: no field 'meta.pile_set_name'.*--subset-field"):
        dataset_documents(DatasetInputs.of_recipe(path, "paper"), None)
    path.write_text('{"text": 3}\n')
    with pytest.raises(SourceError, match="row 0: the field 'text' is a int, expected text"):
        dataset_documents(DatasetInputs.of_recipe(path), None)


@pytest.mark.parametrize("name, content, message", [
    ("empty.jsonl", b"", r"empty\.jsonl holds no rows"),
    ("blank.jsonl", b"\n\n", r"blank\.jsonl holds no rows"),
    ("bad.jsonl", b'{"text": "x"}\n{"text": \n', r"bad\.jsonl, line 2: not JSON"),
    ("list.jsonl", b'["text"]\n', r"list\.jsonl, line 1: a JSON list, expected an object"),
    ("plain.jsonl.zst", b'{"text": "not compressed"}\n',
     r"plain\.jsonl\.zst is not zstandard-compressed JSON lines, or is damaged"),
    ("bad.parquet", b"PAR1 not parquet", r"bad\.parquet is not a readable Parquet file"),
    ("notes.txt", b"text", r"notes\.txt: not a dataset this package reads"),
])
def test_a_file_that_is_not_what_its_name_says_is_refused_by_name(tmp_path, name, content,
                                                                   message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SourceError, match=message):
        list(read_rows(path))


def test_a_damaged_zst_an_empty_zst_and_a_missing_path_are_refused(tmp_path):
    import zstandard

    data = zstandard.ZstdCompressor().compress(b'{"text": "a"}\n' * 1000)
    (tmp_path / "cut.jsonl.zst").write_bytes(data[:len(data) // 2])
    with pytest.raises(SourceError, match=r"cut\.jsonl\.zst is not zstandard-compressed"):
        list(read_rows(tmp_path / "cut.jsonl.zst"))
    (tmp_path / "empty.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(b""))
    with pytest.raises(SourceError, match=r"empty\.jsonl\.zst holds no rows"):
        list(read_rows(tmp_path / "empty.jsonl.zst"))
    with pytest.raises(SourceError, match=r"absent\.jsonl does not exist"):
        list(read_rows(tmp_path / "absent.jsonl"))
    short = tmp_path / "short.jsonl"
    short.write_text('{"text": "tiny"}\n')
    with pytest.raises(SourceError, match=r"none of its 1 rows has 100 characters"):
        dataset_documents(DatasetInputs.of_recipe(short, min_chars=100), None)


def test_a_dataset_with_several_splits_needs_one_named(tmp_path):
    import datasets

    rows = [{"text": f"document number {i}"} for i in range(4)]
    datasets.DatasetDict({"train": datasets.Dataset.from_list(rows),
                          "val": datasets.Dataset.from_list(rows[:2])}).save_to_disk(
        str(tmp_path / "dict"))
    with pytest.raises(SourceError, match="holds the splits train, val: name one with "
                                          "--dataset-split"):
        list(read_rows(tmp_path / "dict"))
    with pytest.raises(SourceError, match="has no split 'test'"):
        list(read_rows(tmp_path / "dict", split="test"))
    documents, provenance = dataset_documents(DatasetInputs(tmp_path / "dict", "val"), None)
    assert [d.id for d in documents] == ["dict/val:0", "dict/val:1"]
    assert provenance["dataset"]["split"] == "val"
    (tmp_path / "script").mkdir()
    (tmp_path / "script" / "script.py").write_text("import datasets\n")
    with pytest.raises(SourceError, match="no longer runs dataset scripts"):
        list(read_rows(tmp_path / "script"))
    with pytest.raises(SourceError, match=r"script\.py: a dataset script"):
        list(read_rows(tmp_path / "script" / "script.py"))
    (tmp_path / "nothing-here").mkdir()
    with pytest.raises(SourceError, match="cannot read this folder"):
        list(read_rows(tmp_path / "nothing-here"))


def test_an_image_folder_is_read_with_its_class_folders_and_refused_when_it_holds_none(
        tmp_path):
    rng = np.random.default_rng(0)
    for path in ("cat/1.png", "cat/2.png", "dog/1.png", "top.png"):
        (tmp_path / "images" / path).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(
            tmp_path / "images" / path)
    found, draw = load_image_folder(tmp_path / "images")
    assert [s.id for s in found] == ["cat/1.png", "cat/2.png", "dog/1.png", "top.png"]
    assert draw["rule"] == "all" and draw["categories"] == {".": 1, "cat": 2, "dog": 1}
    (tmp_path / "images" / "zebra").mkdir()
    (tmp_path / "images" / "zebra" / "broken.png").write_bytes(b"not a png")
    drawn, draw = load_image_folder(tmp_path / "images", 2, seed=1)  # the broken one unread
    assert draw == {"rule": "stratified", "docs": 2, "seed": 1, "of": 5,  # largest remainders:
                    "categories": {".": 1, "cat": 1}}  # cat's 0.8, then "." first by name
    assert [s.id for s in drawn][1:] == ["top.png"] and drawn[0].id.startswith("cat/")
    with pytest.raises(SourceError, match=r"zebra/broken\.png is not a readable image"):
        load_image_folder(tmp_path / "images")
    (tmp_path / "images" / "zebra" / "broken.png").unlink()
    assert load_image_folder(tmp_path / "images", 3, seed=3)[0] == \
        load_image_folder(tmp_path / "images", 3, seed=3)[0]
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "notes.txt").write_text("no images")
    with pytest.raises(SourceError, match=r"no image files \(.png.*\) in .*empty"):
        load_image_folder(tmp_path / "empty")
    (tmp_path / "images" / "dog" / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(SourceError, match=r"broken\.jpg is not a readable image"):
        load_image_folder(tmp_path / "images")
    with pytest.raises(SourceError, match="is not a folder"):
        load_image_folder(tmp_path / "images" / "top.png")
