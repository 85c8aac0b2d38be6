"""The record base: round trips, kind/version checks, hashing of configs and atomic writes."""

import dataclasses
import json
import os
from typing import ClassVar

import numpy as np
import pytest

from runstore import Record, RecordError, config_hash, files, read_header, run_dir


@dataclasses.dataclass(frozen=True)
class Sample(Record):
    kind: ClassVar[str] = "sample"
    version: ClassVar[int] = 2

    values: np.ndarray
    groups: dict
    label: str
    limit: float
    nested: dict


def make_sample(scale: float = 1.0) -> Sample:
    return Sample(
        config={"beta": 1.5, "widths": [16, 64], "n_features": float("inf")},
        values=np.arange(6, dtype=np.float64).reshape(2, 3) * scale,
        groups={"count": np.array([1, 2, 3], dtype=np.int64), "mean": np.array([0.5, np.nan])},
        label="toy",
        limit=float("-inf"),
        nested={"a": [1, 2], "b": {"c": float("nan")}},
    )


def test_round_trip_keeps_every_field(tmp_path):
    sample = make_sample()
    sample.save(tmp_path)
    loaded = Sample.load(tmp_path)
    np.testing.assert_array_equal(loaded.values, sample.values)
    np.testing.assert_array_equal(loaded.groups["count"], sample.groups["count"])
    assert loaded.groups["count"].dtype == np.int64
    np.testing.assert_array_equal(loaded.groups["mean"], sample.groups["mean"])
    assert loaded.label == "toy" and loaded.limit == float("-inf")
    assert loaded.nested["a"] == [1, 2] and np.isnan(loaded.nested["b"]["c"])
    assert loaded.config == {"beta": 1.5, "widths": [16, 64], "n_features": float("inf")}


def test_header_is_strict_json_with_provenance(tmp_path):
    make_sample().save(tmp_path)
    text = (tmp_path / "record.json").read_text()
    header = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))
    assert header["kind"] == "sample" and header["version"] == 2
    for key in ("package_version", "git_revision", "created", "config", "arrays"):
        assert key in header


def test_other_kind_or_version_is_refused(tmp_path):
    make_sample().save(tmp_path)

    @dataclasses.dataclass(frozen=True)
    class Newer(Sample):
        version: ClassVar[int] = 3

    @dataclasses.dataclass(frozen=True)
    class Other(Record):
        kind: ClassVar[str] = "other"

    with pytest.raises(RecordError, match="version 3"):
        Newer.load(tmp_path)
    with pytest.raises(RecordError, match="'other'"):
        Other.load(tmp_path)


def test_missing_or_damaged_records_give_clear_errors(tmp_path):
    with pytest.raises(RecordError, match="no record"):
        Sample.load(tmp_path)
    make_sample().save(tmp_path)
    arrays = next(tmp_path.glob("arrays-*.safetensors"))
    arrays.write_bytes(arrays.read_bytes()[:-1] + b"\x00")
    with pytest.raises(RecordError, match="damaged"):
        Sample.load(tmp_path)
    (tmp_path / "record.json").write_text("{not json")
    with pytest.raises(RecordError, match="not valid JSON"):
        read_header(tmp_path)


def test_crash_while_replacing_keeps_the_old_record(tmp_path, monkeypatch):
    make_sample(1.0).save(tmp_path)
    real_replace = os.replace

    def crash_on_header(src, dst):
        if str(dst).endswith("record.json"):
            raise OSError("disk full")
        real_replace(src, dst)

    monkeypatch.setattr(files.os, "replace", crash_on_header)
    with pytest.raises(OSError, match="disk full"):
        make_sample(2.0).save(tmp_path)
    monkeypatch.undo()
    np.testing.assert_array_equal(Sample.load(tmp_path).values, make_sample(1.0).values)
    assert not list(tmp_path.glob("*.tmp"))
    make_sample(2.0).save(tmp_path)
    np.testing.assert_array_equal(Sample.load(tmp_path).values, make_sample(2.0).values)
    assert len(list(tmp_path.glob("arrays-*.safetensors"))) == 1


def test_run_dir_derives_from_the_whole_config(tmp_path):
    a = {"params": {"beta": 1.5, "tau": 0.5}, "seed": 0}
    b = {"params": {"beta": 1.5, "tau": 0.5}, "seed": 1}
    reordered = {"seed": 0, "params": {"tau": 0.5, "beta": 1.5}}
    assert run_dir(tmp_path, "theory", a) != run_dir(tmp_path, "theory", b)
    assert run_dir(tmp_path, "theory", a) == run_dir(tmp_path, "theory", reordered)
    assert config_hash({"x": 0.1}) != config_hash({"x": 0.1 + 1e-16 * 2})
    assert run_dir(tmp_path, "theory", a, label="P1 beta=1.5").name.startswith("P1-beta-1.5-")


def test_arrays_may_not_hide_in_json_fields(tmp_path):
    @dataclasses.dataclass(frozen=True)
    class Bad(Record):
        kind: ClassVar[str] = "bad"
        mixed: dict

    with pytest.raises(TypeError, match="arrays"):
        Bad(config={}, mixed={"a": np.zeros(2), "b": 1}).save(tmp_path)


def test_written_files_get_the_umask_mode_not_the_temporary_0600(tmp_path):
    old = os.umask(0o022)
    try:
        files.atomic_write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644
