"""Records: the only interface between stages (docs/design.md, "Records").

A record is a frozen dataclass with class attributes `kind` and `version`. Its NumPy-array
fields, and dict fields whose values are all arrays (saved as "field/key"), go to a
safetensors file (`runstore.arrays`); every other field (JSON-ready values) goes to
`record.json` (`runstore.header`) together with kind, version, package version, git
revision, creation time and the whole config that produced it.

Notes
-----
Writes are atomic without a window in which the old record is damaged: the arrays are
written under a content-addressed name (``arrays-<sha256>.safetensors``) and `record.json`,
which names that file and its hash, is replaced last with `os.replace`. A crash leaves either
the old record or the new one readable, and `load` verifies the hash. What a killed save
leaves behind (temporary files, an arrays file record.json does not name) is removed by a
later save or successful load in that directory (`tidy`).

`load` refuses, with a `RecordError` naming the file and what was expected, whatever does not
make exactly this record: a header that is not a JSON object with the keys and types of a
header (`read_header`), a field the class lacks or a required one absent, a JSON value of a
shape the field's annotation rules out, a field saved both in JSON and as arrays, and arrays
that are not the header's (`runstore.arrays` says how an arrays file is bound to its header).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import types
import typing
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np

from runstore.arrays import check_binding, read_arrays, record_binding, tidy, write_arrays
from runstore.files import atomic_write_text
from runstore.header import (
    RECORD_FILE,
    RecordError,
    describe_type,
    from_json_ready,
    git_revision,
    json_type,
    package_version,
    read_header,
    to_json_ready,
)

R = TypeVar("R", bound="Record")


@dataclasses.dataclass(frozen=True)
class Record:
    """Base of every record. Subclasses are frozen dataclasses that set `kind` and `version`.

    Every subclass carries `config`: the whole configuration that produced it (JSON-ready).
    """

    kind: ClassVar[str] = "record"
    version: ClassVar[int] = 1

    config: dict

    def save(self, directory: str | Path) -> Path:
        """Write the record into `directory` atomically; return the path of record.json.

        The arrays file carries the record's kind, version and a digest of its config and
        fields in its safetensors metadata, so `load` can tell it belongs to this header.
        Afterwards the leftovers of earlier interrupted saves are removed (`tidy`): every
        arrays file but the new one at once, temporary files once abandoned.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        fields, arrays = self._split_fields()
        config, fields = to_json_ready(self.config), to_json_ready(fields)
        binding = record_binding(self.kind, self.version, config, fields)
        header = {
            "kind": self.kind,
            "version": self.version,
            "package_version": package_version(),
            "git_revision": git_revision(),
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "config": config,
            "fields": fields,
            "arrays": write_arrays(directory, arrays, binding),
        }
        path = directory / RECORD_FILE
        atomic_write_text(path, json.dumps(header, indent=2, sort_keys=True, allow_nan=False))
        tidy(directory, keep=header["arrays"]["file"], arrays_older_than=0)
        return path

    @classmethod
    def load(cls: type[R], directory: str | Path) -> R:
        """Read a record of this class from `directory`.

        A load that succeeds then removes the abandoned leftovers of interrupted saves
        (`tidy`); one that fails removes nothing, so a damaged record stays as it was.

        Raises
        ------
        RecordError
            Naming the file and what was expected, when record.json is missing, not JSON,
            not a record header, of another kind or version, or lacks a field of this class
            or holds one it does not have or one of the wrong type; or when the arrays file
            is missing, damaged, or written for another record.
        """
        directory = Path(directory)
        path = directory / RECORD_FILE
        header = read_header(directory)
        if header["kind"] != cls.kind or header["version"] != cls.version:
            raise RecordError(
                f"{path} holds a {header['kind']!r} record, version {header['version']!r}; "
                f"expected {cls.kind!r} version {cls.version}. "
                "Re-run the command that produced it (with --force) to rewrite it."
            )
        arrays, binding = read_arrays(directory, header)
        values = _field_values(cls, header, arrays, path)
        check_binding(binding, header, directory / header["arrays"]["file"])
        try:
            record = cls(config=from_json_ready(header["config"]), **values)
        except (TypeError, ValueError) as error:
            raise RecordError(f"{path}: not a valid {cls.kind!r} record ({error})") from error
        tidy(directory, keep=header["arrays"]["file"])  # only now: keep is surely the record's
        return record

    def _split_fields(self) -> tuple[dict, dict[str, np.ndarray]]:
        fields, arrays = {}, {}
        for f in dataclasses.fields(self):
            if f.name == "config":
                continue
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                arrays[f.name] = value
            elif _is_array_dict(value):
                arrays.update({f"{f.name}/{k}": v for k, v in value.items()})
            else:
                fields[f.name] = value
        return fields, arrays


def _is_array_dict(value) -> bool:
    """A field saved as a group of arrays: a non-empty dict whose values are all arrays."""
    return (
        isinstance(value, dict)
        and bool(value)
        and all(isinstance(v, np.ndarray) for v in value.values())
    )


def _field_values(cls: type[Record], header: dict, arrays: dict[str, np.ndarray],
                  path: Path) -> dict:
    """The constructor arguments (but config) of `cls` from the header's fields and the
    arrays, refusing unknown, missing, doubly saved or wrongly typed fields."""
    spec, described = _field_spec(cls), f"for a {cls.kind!r} record"
    values = _json_values(cls, header, path)
    top = {name for name in arrays if "/" not in name}
    groups = {name.partition("/")[0] for name in arrays if "/" in name}
    unknown = sorted((top | groups) - set(spec))
    if unknown:
        raise RecordError(f"{path}: unknown array fields {unknown} {described}")
    twice = sorted((set(values) & (top | groups)) | (top & groups))
    if twice:
        raise RecordError(f"{path}: fields {twice} are saved twice (in fields and as arrays, "
                          f"or as an array and a group of arrays) {described}")
    for name, array in arrays.items():
        group, _, key = name.partition("/")
        if key:
            values.setdefault(group, {})[key] = array
        else:
            values[name] = array
    missing = [name for name, required in spec.items() if required and name not in values]
    if missing:
        listed = ", ".join(repr(m) for m in missing)
        raise RecordError(f"{path}: field{'s' if len(missing) > 1 else ''} {listed} missing "
                          f"{described}")
    return values


def _json_values(cls: type[Record], header: dict, path: Path) -> dict:
    """The header's fields decoded, refusing names `cls` does not have and values whose
    JSON shape its annotations rule out."""
    described = f"for a {cls.kind!r} record"
    try:
        values = from_json_ready(header["fields"])
    except ValueError as error:
        raise RecordError(f"{path}: {error} in its fields") from error
    unknown = sorted(set(values) - set(_field_spec(cls)))
    if unknown:
        raise RecordError(f"{path}: unknown fields {unknown} {described}")
    hints = _type_hints(cls)
    for name, value in values.items():
        if name in hints and not _accepts(hints[name], value):
            raise RecordError(f"{path}: field {name!r} should be {describe_type(hints[name])}, "
                              f"found {json_type(value)} {described}")
    return values


@functools.lru_cache(maxsize=None)
def _field_spec(cls: type) -> dict[str, bool]:
    """The saved fields of a record class (all but config), each with whether it is
    required (has no default)."""
    return {f.name: f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            for f in dataclasses.fields(cls) if f.name != "config" and f.init}


@functools.lru_cache(maxsize=None)
def _type_hints(cls: type) -> dict[str, Any]:
    """The resolved annotations of a record class ({} when some cannot be resolved: then
    the fields' types are not checked)."""
    try:
        return typing.get_type_hints(cls)
    except Exception:  # a name only the defining scope knew; checking types is a bonus
        return {}


def _accepts(annotation: Any, value: Any) -> bool:
    """Whether a JSON value may stand for a field annotated `annotation`.

    Only the JSON shape is checked: a number for int (integral) or float, a string, a
    boolean, a list (also for tuples and arrays written as lists), an object; None only
    where the annotation allows it. Annotations it does not know accept anything.
    """
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return any(_accepts(a, value) for a in typing.get_args(annotation))
    if annotation is type(None):
        return value is None
    check = _JSON_SHAPES.get(typing.get_origin(annotation) or annotation)
    return True if check is None else check(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_JSON_SHAPES = {
    bool: lambda v: isinstance(v, bool),
    int: lambda v: _is_number(v) and (isinstance(v, int) or float(v).is_integer()),
    float: _is_number,
    str: lambda v: isinstance(v, str),
    list: lambda v: isinstance(v, list),
    tuple: lambda v: isinstance(v, list),
    np.ndarray: lambda v: isinstance(v, list),
    dict: lambda v: isinstance(v, dict),
}
