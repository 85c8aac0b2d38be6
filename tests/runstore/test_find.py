"""find_records passes over every damaged record alike, reports each (a warning naming the
path and the reason, and the `skipped` list) and goes on scanning."""

from __future__ import annotations

import dataclasses
import shutil
from typing import ClassVar

from runstore import find_records
from tests.runstore.specimens import (
    Specimen,
    Twin,
    arrays_path,
    header,
    save_pristine,
    specimen,
    warnings_logged,
    write_header,
)


@dataclasses.dataclass(frozen=True)
class Newer(Specimen):
    version: ClassVar[int] = 2


def test_every_damage_is_skipped_and_reported_the_same_way(tmp_path):
    save_pristine(tmp_path / "pristine")
    root = tmp_path / "runs"
    specimen("a").save(root / "good")
    damaged = {name: root / name for name in ("truncated", "tampered", "no-fields", "garbage",
                                              "newer", "twin-truncated")}
    for name in ("truncated", "tampered", "no-fields", "garbage"):
        shutil.copytree(tmp_path / "pristine" / "a", damaged[name])
    text = (damaged["truncated"] / "record.json").read_text()
    (damaged["truncated"] / "record.json").write_text(text[: len(text) // 2])
    blob = arrays_path(damaged["tampered"]).read_bytes()
    arrays_path(damaged["tampered"]).write_bytes(blob[:-1] + b"\x01")
    write_header(damaged["no-fields"], {k: v for k, v in header(damaged["no-fields"]).items()
                                        if k != "fields"})
    (damaged["garbage"] / "record.json").write_bytes(b"\xff\xfe\x00garbage")
    Newer(**{f.name: getattr(specimen(), f.name) for f in dataclasses.fields(Specimen)}).save(
        damaged["newer"])
    shutil.copytree(tmp_path / "pristine" / "twin", damaged["twin-truncated"])
    (damaged["twin-truncated"] / "record.json").write_text("{")
    shutil.copytree(tmp_path / "pristine" / "twin", root / "twin")  # another kind: not ours

    skipped = []
    with warnings_logged() as warnings:
        found = find_records(root, Specimen, skipped=skipped)
    assert [path for path, _ in found] == [root / "good"]
    assert [path for path, _ in skipped] == sorted(damaged.values())
    reasons = dict(skipped)
    assert "is not valid JSON" in reasons[damaged["truncated"]]
    assert "the file is damaged" in reasons[damaged["tampered"]]
    assert "key 'fields' missing" in reasons[damaged["no-fields"]]
    assert "is not valid JSON" in reasons[damaged["garbage"]]
    assert "expected 'specimen' version 1" in reasons[damaged["newer"]]
    assert "is not valid JSON" in reasons[damaged["twin-truncated"]]
    assert len(warnings) == len(damaged)
    for (path, reason), warning in zip(skipped, warnings):
        assert str(path) in warning and reason in warning


def test_the_other_kind_and_field_filters_still_select(tmp_path):
    specimen("a").save(tmp_path / "a")
    specimen("b").save(tmp_path / "b")
    fields = {f.name: getattr(specimen(), f.name) for f in dataclasses.fields(Specimen)}
    Twin(**fields).save(tmp_path / "twin")
    assert [p.name for p, _ in find_records(tmp_path, Specimen)] == ["a", "b"]
    assert [p.name for p, r in find_records(tmp_path, Specimen, label="b")] == ["b"]
    assert [p.name for p, _ in find_records(tmp_path, Specimen, label=None)] == ["a", "b"]
    ((path, twin),) = find_records(tmp_path, Twin)
    assert path.name == "twin" and isinstance(twin, Twin)


def test_without_a_skipped_list_the_scan_still_goes_on(tmp_path):
    specimen("a").save(tmp_path / "a")
    specimen("b").save(tmp_path / "b")
    (tmp_path / "a" / "record.json").write_text("[]")
    with warnings_logged() as warnings:
        assert [p.name for p, _ in find_records(tmp_path, Specimen)] == ["b"]
    assert len(warnings) == 1 and "not a JSON object" in warnings[0]
