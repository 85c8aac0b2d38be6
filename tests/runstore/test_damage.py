"""A structurally wrong record.json, or arrays that belong to another record, are refused with
a RecordError naming the file and what was expected (issue "No silent wrong numbers")."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load as load_arrays
from safetensors.numpy import save as save_arrays

from runstore import RecordError, read_header
from tests.runstore.specimens import (
    Specimen,
    arrays_path,
    assert_refused,
    copy_case,
    header,
    save_pristine,
    specimen,
    write_header,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    return save_pristine(tmp_path_factory.mktemp("pristine"))


@pytest.fixture
def case(pristine, tmp_path):
    good, damaged = copy_case(pristine, tmp_path)
    return good, damaged, tmp_path


def _without(mapping: dict, key: str) -> dict:
    return {k: v for k, v in mapping.items() if k != key}


WRONG_HEADERS = {
    "a field missing": (lambda h: h | {"fields": _without(h["fields"], "count")},
                        "record.json: field 'count' missing for a 'specimen' record"),
    "two fields missing": (lambda h: h | {"fields": _without(_without(h["fields"], "count"),
                                                             "label")},
                           "record.json: fields 'label', 'count' missing"),
    "an unknown field": (lambda h: h | {"fields": h["fields"] | {"x": 1}},
                         "record.json: unknown fields ['x'] for a 'specimen' record"),
    "config among the fields": (lambda h: h | {"fields": h["fields"] | {"config": {}}},
                                "unknown fields ['config']"),
    "no fields": (lambda h: _without(h, "fields"), "record.json: key 'fields' missing"),
    "no arrays": (lambda h: _without(h, "arrays"), "record.json: key 'arrays' missing"),
    "no kind": (lambda h: _without(h, "kind"), "record.json: key 'kind' missing"),
    "no array names": (lambda h: h | {"arrays": _without(h["arrays"], "names")},
                       "record.json: key 'arrays.names' missing"),
    "a list": (lambda h: [h], "record.json: not a JSON object (found a JSON list)"),
    "a string": (lambda h: "record", "record.json: not a JSON object (found a string)"),
    "null": (lambda h: None, "record.json: not a JSON object (found null)"),
    "fields as a list": (lambda h: h | {"fields": list(h["fields"])},
                         "record.json: 'fields' should be a JSON object, found a JSON list"),
    "arrays as a string": (lambda h: h | {"arrays": "arrays.safetensors"},
                           "record.json: 'arrays' should be a JSON object, found a string"),
    "version as a string": (lambda h: h | {"version": "1"},
                            "record.json: 'version' should be int, found a string"),
    "version as a boolean": (lambda h: h | {"version": True},
                             "record.json: 'version' should be int, found a boolean"),
    "names as a string": (lambda h: h | {"arrays": h["arrays"] | {"names": "values"}},
                          "'arrays.names' should be a JSON list, found a string"),
    "names not strings": (lambda h: h | {"arrays": h["arrays"] | {"names": [1]}},
                          "'arrays.names' should be a list of distinct strings"),
    "a string for an int": (lambda h: h | {"fields": h["fields"] | {"count": "3"}},
                            "field 'count' should be int, found a string"),
    "a fraction for an int": (lambda h: h | {"fields": h["fields"] | {"count": 2.5}},
                              "field 'count' should be int, found a number"),
    "a boolean for an int": (lambda h: h | {"fields": h["fields"] | {"count": True}},
                             "field 'count' should be int, found a boolean"),
    "null for a float": (lambda h: h | {"fields": h["fields"] | {"limit": None}},
                         "field 'limit' should be float, found null"),
    "a list for a str": (lambda h: h | {"fields": h["fields"] | {"label": ["a"]}},
                         "field 'label' should be str, found a JSON list"),
    "a string for a dict": (lambda h: h | {"fields": h["fields"] | {"nested": "{}"}},
                            "field 'nested' should be a JSON object, found a string"),
    "a broken float marker": (lambda h: h | {"fields": h["fields"] | {"limit": {"__float__": 1}}},
                              "{'__float__': 1} holds no float"),
    "an array in the fields too": (lambda h: h | {"fields": h["fields"] | {"values": [1.0]}},
                                   "fields ['values'] are saved twice"),
}


@pytest.mark.parametrize("damage", WRONG_HEADERS, ids=str)
def test_a_wrong_header_names_the_file_and_what_was_expected(case, damage):
    good, damaged, root = case
    change, expected = WRONG_HEADERS[damage]
    write_header(damaged, change(header(damaged)))
    message = assert_refused(damaged, good, root)
    assert str(damaged) in message and expected in message, message


def test_non_strict_or_overflowing_numbers_are_not_json(case):
    good, damaged, root = case
    text = (damaged / "record.json").read_text()
    for literal in ("NaN", "Infinity", "1e999"):
        (damaged / "record.json").write_text(text.replace('"count": 3', f'"count": {literal}'))
        assert "is not valid JSON" in assert_refused(damaged, good, root)


def test_a_header_keeps_loading_without_a_field_that_has_a_default(case):
    _, damaged, _ = case
    saved = header(damaged)
    del saved["fields"]["note"]
    write_header(damaged, saved)
    with pytest.raises(RecordError, match="another config or other fields"):
        Specimen.load(damaged)  # the binding notices the edit ...
    _rewrite_without_binding(damaged)
    assert Specimen.load(damaged).note == ""  # ... a record saved before bindings loads


def test_read_header_refuses_a_header_it_cannot_use(case):
    _, damaged, _ = case
    write_header(damaged, [1, 2])
    with pytest.raises(RecordError, match=r"damaged/record.json: not a JSON object"):
        read_header(damaged)


def _swap_arrays(source, damaged, *, copy_file: bool = True) -> None:
    """Give `damaged` the arrays entry of the record in `source` (and its file)."""
    entry = header(source)["arrays"]
    write_header(damaged, header(damaged) | {"arrays": entry})
    if copy_file:
        shutil.copy(source / entry["file"], damaged / entry["file"])


@pytest.mark.parametrize("source, expected", [
    ("twin", "was written for a 'twin' record, version 1, not for the 'specimen' record"),
    ("other-names", "was written for a record with another config or other fields"),
    ("same-names", "was written for a record with another config or other fields"),
])
def test_arrays_of_another_record_are_refused(case, pristine, source, expected):
    good, damaged, root = case
    _swap_arrays(pristine / source, damaged)
    message = assert_refused(damaged, good, root)
    assert expected in message and "belongs to another record" in message, message


def test_an_arrays_file_with_other_names_than_the_header_is_refused(case, pristine):
    good, damaged, root = case
    own = header(damaged)["arrays"]["names"]
    _swap_arrays(pristine / "other-names", damaged)
    write_header(damaged, header(damaged) | {"arrays": header(damaged)["arrays"] | {"names": own}})
    message = assert_refused(damaged, good, root)
    assert "holds the arrays ['groups/other', 'values'] but" in message
    assert "names ['groups/count', 'groups/mean', 'values']" in message


def test_arrays_entry_without_its_file_or_pointing_elsewhere_is_refused(case, pristine):
    good, damaged, root = case
    _swap_arrays(pristine / "same-names", damaged, copy_file=False)
    assert "is missing" in assert_refused(damaged, good, root)
    outside = dict(header(damaged)["arrays"])
    outside["file"] = f"../a/{outside['file']}"
    write_header(damaged, header(damaged) | {"arrays": outside})
    assert "'arrays.file' should be 'arrays-" in assert_refused(damaged, good, root)


def test_an_edited_field_is_refused(case):
    good, damaged, root = case
    write_header(damaged, header(damaged) | {"fields": header(damaged)["fields"] | {"count": 4}})
    assert "the header was edited" in assert_refused(damaged, good, root)


def _rewrite_without_binding(directory, names: dict | None = None) -> None:
    """Write the arrays of `directory` as the package did before bindings existed (no
    metadata), optionally renamed by `names`, and point record.json at them."""
    arrays = load_arrays(arrays_path(directory).read_bytes())
    arrays = {(names or {}).get(k, k): v for k, v in arrays.items()}
    blob = save_arrays(arrays)
    digest = hashlib.sha256(blob).hexdigest()
    arrays_path(directory).unlink()
    (directory / f"arrays-{digest[:16]}.safetensors").write_bytes(blob)
    entry = {"file": f"arrays-{digest[:16]}.safetensors", "sha256": digest,
             "names": sorted(arrays)}
    write_header(directory, header(directory) | {"arrays": entry})


def test_arrays_saved_before_the_binding_load_and_their_names_are_still_checked(case):
    good, damaged, root = case
    _rewrite_without_binding(damaged)
    loaded = Specimen.load(damaged)
    np.testing.assert_array_equal(loaded.groups["count"], [1, 2, 3])
    _rewrite_without_binding(damaged, {"groups/count": "grouped/count"})
    assert "unknown array fields ['grouped']" in assert_refused(damaged, good, root)
    saved = header(damaged)
    saved["arrays"]["names"] = [n for n in saved["arrays"]["names"] if n != "values"]
    write_header(damaged, saved)
    assert "names ['grouped/count', 'groups/mean']" in assert_refused(damaged, good, root)


def test_what_the_binding_cannot_tell_apart(case, tmp_path):
    """Arrays of a record with the same kind, config and fields (the same record but for its
    arrays) are indistinguishable by the arrays alone: the header's sha256 is the binding."""
    _, damaged, _ = case
    other = tmp_path / "other"
    dataclasses.replace(Specimen.load(damaged), values=np.zeros((2, 3))).save(other)
    _swap_arrays(other, damaged)
    np.testing.assert_array_equal(Specimen.load(damaged).values, np.zeros((2, 3)))


def test_the_binding_keeps_saves_content_addressed(tmp_path):
    """One metadata entry (safetensors writes a map in no fixed order): the same record
    saves to the same bytes in every process."""
    save = "import sys; from tests.runstore.specimens import specimen; specimen().save(sys.argv[1])"
    for name in ("one", "two"):
        subprocess.run([sys.executable, "-c", save, str(tmp_path / name)], cwd=ROOT, check=True)
    specimen().save(tmp_path / "here")
    names = {arrays_path(tmp_path / name).name for name in ("one", "two", "here")}
    assert len(names) == 1
    blob = arrays_path(tmp_path / "here").read_bytes()
    meta = json.loads(blob[8:8 + int.from_bytes(blob[:8], "little")])["__metadata__"]
    assert set(meta) == {"record_binding"}
    assert json.loads(meta["record_binding"])["kind"] == "specimen"
