"""Generated damage of every class (truncation at any offset, fields deleted, added or given
another type, arrays entries swapped between records, JSON that is no object, garbage bytes)
yields a RecordError naming the damaged file, never another exception; find_records skips
the record and reports it."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.runstore.specimens import (
    FIELDS,
    arrays_path,
    assert_refused,
    copy_case,
    header,
    save_pristine,
    write_header,
)

SCALARS = {
    "null": st.none(),
    "boolean": st.booleans(),
    "integer": st.integers(-(2**63), 2**63),
    "fraction": st.floats(allow_nan=False, allow_infinity=False).filter(
        lambda x: not x.is_integer()),
    "string": st.text(max_size=8),
}
VALUES = {
    **SCALARS,
    "list": st.lists(st.one_of(*SCALARS.values()), max_size=3),
    "object": st.dictionaries(st.text(max_size=4), st.one_of(*SCALARS.values()), max_size=3)
    .filter(lambda d: set(d) != {"__float__"}),
}
"""JSON values by shape (an object is never a non-finite float marker)."""

ALLOWED = {str: {"string"}, int: {"integer"}, float: {"integer", "fraction"},
           float | None: {"integer", "fraction", "null"}, bool: {"boolean"},
           list: {"list"}, dict: {"object"}}
"""The shapes a field of each annotation may take."""


def wrong_value(annotation) -> st.SearchStrategy:
    """A JSON value of a shape `annotation` rules out."""
    return st.one_of(*(s for shape, s in VALUES.items() if shape not in ALLOWED[annotation]))


HEADER_SHAPES = {"kind": str, "version": int, "config": dict, "fields": dict, "arrays": dict,
                 "arrays.file": str, "arrays.sha256": str, "arrays.names": list}
"""The keys of a header (dotted: inside "arrays") and the types they must have."""

SETTINGS = settings(max_examples=40)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    return save_pristine(tmp_path_factory.mktemp("pristine"))


def refused_after(pristine: Path, damage) -> str:
    """Apply `damage(directory)` to a copy of record "a" next to a good copy; check both
    ways of reading refuse it, naming it; return the message."""
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        good, damaged = copy_case(pristine, root)
        damage(damaged)
        return assert_refused(damaged, good, root)


def _edit(directory: Path, change) -> None:
    saved = header(directory)
    change(saved)
    write_header(directory, saved)


def _entry(saved: dict, dotted: str) -> tuple[dict, str]:
    """The object holding the dotted key `dotted` of a header, and its last part."""
    parent, _, key = dotted.rpartition(".")
    return (saved[parent] if parent else saved), key


@SETTINGS
@given(data=st.data())
def test_truncation_at_any_offset_is_refused(pristine, data):
    which = data.draw(st.sampled_from(["record.json", "arrays"]))

    def truncate(directory):
        path = directory / "record.json" if which == "record.json" else arrays_path(directory)
        blob = path.read_bytes()
        path.write_bytes(blob[:data.draw(st.integers(0, len(blob) - 1))])

    refused_after(pristine, truncate)


@SETTINGS
@given(field=st.sampled_from([*FIELDS, "values", "groups/count", *HEADER_SHAPES,
                              "config.beta"]))
def test_a_deleted_field_or_key_is_refused(pristine, field):
    def delete(saved):
        if field in FIELDS:
            del saved["fields"][field]
        elif field in ("values", "groups/count"):
            saved["arrays"]["names"].remove(field)
        else:
            entry, key = _entry(saved, field)
            del entry[key]

    refused_after(pristine, lambda directory: _edit(directory, delete))


@SETTINGS
@given(name=st.text(min_size=1, max_size=12).filter(lambda n: n not in (*FIELDS, "note")),
       value=st.one_of(*VALUES.values()))
def test_an_added_field_is_refused(pristine, name, value):
    def add(saved):
        saved["fields"][name] = value

    message = refused_after(pristine, lambda directory: _edit(directory, add))
    assert "unknown fields" in message or "saved twice" in message or "another config" in message


@SETTINGS
@given(data=st.data())
def test_a_field_of_another_type_is_refused(pristine, data):
    field = data.draw(st.sampled_from(sorted(FIELDS)))
    value = data.draw(wrong_value(FIELDS[field]))

    def retype(saved):
        saved["fields"][field] = value

    message = refused_after(pristine, lambda directory: _edit(directory, retype))
    assert f"field {field!r} should be" in message


@SETTINGS
@given(data=st.data())
def test_a_header_key_of_another_type_is_refused(pristine, data):
    key = data.draw(st.sampled_from(sorted(HEADER_SHAPES)))
    shapes = {str: {"string"}, int: {"integer"}, dict: {"object"}, list: {"list"}}
    value = data.draw(st.one_of(*(s for shape, s in VALUES.items()
                                  if shape not in shapes[HEADER_SHAPES[key]])))

    def retype(saved):
        entry, last = _entry(saved, key)
        entry[last] = value

    refused_after(pristine, lambda directory: _edit(directory, retype))


@SETTINGS
@given(source=st.sampled_from(["same-names", "other-names", "twin"]),
       part=st.sampled_from(["entry", "file and hash", "entry without its file"]))
def test_arrays_swapped_from_another_record_are_refused(pristine, source, part):
    def swap(directory):
        entry = header(pristine / source)["arrays"]
        if part != "entry without its file":
            shutil.copy(pristine / source / entry["file"], directory / entry["file"])
        if part == "file and hash":
            entry = header(directory)["arrays"] | {"file": entry["file"],
                                                   "sha256": entry["sha256"]}
        _edit(directory, lambda saved: saved.update(arrays=entry))

    message = refused_after(pristine, swap)
    assert "belongs to another record" in message or "is missing" in message


@SETTINGS
@given(value=st.one_of(*(s for shape, s in VALUES.items() if shape != "object")))
def test_json_that_is_no_object_is_refused(pristine, value):
    def replace(directory):
        (directory / "record.json").write_text(json.dumps(value))

    assert "not a JSON object" in refused_after(pristine, replace)


@SETTINGS
@given(blob=st.binary(max_size=64), which=st.sampled_from(["record.json", "arrays",
                                                           "arrays with its hash"]))
def test_garbage_bytes_are_refused(pristine, blob, which):
    def garble(directory):
        if which == "record.json":
            (directory / "record.json").write_bytes(blob)
            return
        arrays_path(directory).write_bytes(blob)
        if which == "arrays with its hash":
            digest = hashlib.sha256(blob).hexdigest()
            arrays_path(directory).rename(directory / f"arrays-{digest[:16]}.safetensors")
            _edit(directory, lambda saved: saved["arrays"].update(
                file=f"arrays-{digest[:16]}.safetensors", sha256=digest))

    refused_after(pristine, garble)
