"""Records to damage (tests of runstore's refusals): a `Specimen` with a field of every JSON
shape and arrays both alone and in a group, records its arrays entry can be swapped with,
and the check that a damaged record is refused, by `load` and by `find_records`, naming it."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import re
import shutil
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from runstore import Record, RecordError, find_records


@dataclasses.dataclass(frozen=True)
class Specimen(Record):
    kind: ClassVar[str] = "specimen"
    version: ClassVar[int] = 1

    label: str
    count: int
    ratio: float | None
    limit: float
    flag: bool
    tags: list
    nested: dict
    values: np.ndarray
    groups: dict
    note: str = ""


@dataclasses.dataclass(frozen=True)
class Twin(Specimen):
    """Another kind with the very fields of a Specimen (so the same array names)."""

    kind: ClassVar[str] = "twin"
    version: ClassVar[int] = 1


FIELDS = {"label": str, "count": int, "ratio": float | None, "limit": float, "flag": bool,
          "tags": list, "nested": dict}
"""The JSON fields of a Specimen and their annotations."""


def specimen(label: str = "a", **changes) -> Specimen:
    values = dict(
        config={"beta": 1.5, "widths": [16, 64], "n_features": float("inf")}, label=label,
        count=3, ratio=0.25, limit=float("-inf"), flag=True, tags=["x", "y"],
        nested={"a": [1, 2], "b": {"c": float("nan")}},
        values=np.arange(6, dtype=np.float64).reshape(2, 3),
        groups={"count": np.array([1, 2, 3], dtype=np.int64), "mean": np.array([0.5, np.nan])})
    return Specimen(**(values | changes))


def save_pristine(root: Path) -> Path:
    """Save under `root`: "a" (the record damaged), "same-names" (a Specimen with another
    label), "other-names" (a Specimen whose group has other keys), "twin" (the same fields,
    another kind). Returns `root`."""
    specimen("a").save(root / "a")
    specimen("b").save(root / "same-names")
    specimen("c", groups={"other": np.zeros(2)}).save(root / "other-names")
    fields = {f.name: getattr(specimen("a"), f.name) for f in dataclasses.fields(Specimen)}
    Twin(**fields).save(root / "twin")
    return root


def header(directory: Path) -> dict:
    return json.loads((directory / "record.json").read_text())


def write_header(directory: Path, value) -> None:
    (directory / "record.json").write_text(json.dumps(value, indent=2))


def arrays_path(directory: Path) -> Path:
    return directory / header(directory)["arrays"]["file"]


@contextlib.contextmanager
def warnings_logged():
    """The messages of the warnings the "runstore" logger emits inside the block."""
    messages: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: messages.append(record.getMessage())
    logger = logging.getLogger("runstore")
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)


def copy_case(pristine: Path, root: Path) -> tuple[Path, Path]:
    """A scan root holding a good copy of record "a" and another one to damage: (good,
    damaged) directories."""
    good, damaged = root / "good", root / "damaged"
    shutil.copytree(pristine / "a", good)
    shutil.copytree(pristine / "a", damaged)
    return good, damaged


def assert_refused(damaged: Path, good: Path, root: Path, cls: type[Record] = Specimen) -> str:
    """`cls.load(damaged)` raises RecordError naming a file of `damaged`; `find_records`
    returns `good` only and reports `damaged` as skipped, in its list and in a warning.
    Returns the error message."""
    with pytest.raises(RecordError) as refused:
        cls.load(damaged)
    message = str(refused.value)
    named = re.escape(str(damaged)) + r"/(record\.json|arrays-[0-9a-f]{16}\.safetensors)"
    assert re.search(named, message), message
    skipped: list = []
    with warnings_logged() as warnings:
        found = find_records(root, cls, skipped=skipped)
    assert [path for path, _ in found] == [good]
    assert [path for path, _ in skipped] == [damaged]
    assert skipped[0][1] == message
    assert len(warnings) == 1 and str(damaged) in warnings[0] and message in warnings[0]
    return message
