"""Records: the only interface between stages (docs/design.md, "Records").

A record is a frozen dataclass with class attributes `kind` and `version`. Its NumPy-array
fields, and dict fields whose values are all arrays (saved as "field/key"), go to a
safetensors file; every other field (JSON-ready values) goes to `record.json` together
with kind, version, package version, git revision, creation time and the whole config that
produced it.

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
header, a field the class lacks or a required one absent, a JSON value of a shape the field's
annotation rules out, a field saved both in JSON and as arrays, and arrays that are not the
header's. An arrays file is bound to its header three ways:

- its sha256 and its name (``arrays-<sha256[:16]>``, in the record's own directory) are in
  the header, so another file, or a file elsewhere, is not taken for it;
- the array names in the file must equal the header's "names", and name fields of the class;
- its safetensors metadata (key `BINDING_KEY`) holds the record's kind, version and a digest
  of its config and fields, so an arrays entry copied from another record's header (with its
  file) is refused: from another kind or version, or from a record of the same kind with
  other array names, other fields or another config. The header's own fields edited by hand
  are refused the same way.

What it cannot catch: an arrays entry copied from a record with the same kind, version,
config and fields (the same record but for its arrays), and, for files saved before the
metadata existed (which still load), one copied from a record of the same kind with the same
array names. There the sha256 in the header is the binding: the header is the record.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import json
import logging
import math
import re
import subprocess
import types
import typing
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
from safetensors.numpy import load as load_arrays
from safetensors.numpy import save as save_arrays

from runstore.files import (
    STALE_AFTER_S,
    atomic_write_bytes,
    atomic_write_text,
    remove_stale,
    temporaries,
)

RECORD_FILE = "record.json"
PACKAGE = "rosetta-scaling"
BINDING_KEY = "record_binding"
"""The safetensors metadata key under which an arrays file names the record it belongs to."""

R = TypeVar("R", bound="Record")

log = logging.getLogger("runstore")


class RecordError(RuntimeError):
    """A record on disk is missing, damaged, or of another kind or version."""


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
        binding = _binding(self.kind, self.version, config, fields)
        header = {
            "kind": self.kind,
            "version": self.version,
            "package_version": package_version(),
            "git_revision": git_revision(),
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "config": config,
            "fields": fields,
            "arrays": _write_arrays(directory, arrays, binding),
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
        arrays, binding = _read_arrays(directory, header)
        values = _field_values(cls, header, arrays, path)
        _check_binding(binding, header, directory / header["arrays"]["file"])
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


def read_header(directory: str | Path) -> dict:
    """The parsed record.json of `directory`, checked to be a record header.

    Raises
    ------
    RecordError
        Naming the file, when it is missing, unreadable, not strict JSON, or not an object
        with "kind" (str), "version" (int), "config", "fields" (objects) and "arrays" (an
        object naming the arrays file, its sha256 and its array names).
    """
    path = Path(directory) / RECORD_FILE
    if not path.is_file():
        raise RecordError(f"no record at {path}: the run has not finished or the path is wrong")
    try:
        header = json.loads(path.read_bytes(), parse_constant=_refuse_constant,
                            parse_float=_finite_float)
    except OSError as error:
        raise RecordError(f"{path} cannot be read ({error})") from error
    except (ValueError, RecursionError) as error:  # JSONDecodeError, UnicodeDecodeError
        raise RecordError(f"{path} is not valid JSON ({error}); delete it and re-run") from error
    _check_header(header, path)
    return header


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not strict JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999: valid JSON, but no record writes it
        raise ValueError(f"{text} overflows a float")
    return value


_HEADER_KEYS = {"kind": str, "version": int, "config": dict, "fields": dict, "arrays": dict}
_ARRAYS_KEYS = {"file": str, "sha256": str, "names": list}


def _check_header(header: Any, path: Path) -> None:
    """Refuse a header that is not an object with the keys and types a record header has."""
    if not isinstance(header, dict):
        raise RecordError(f"{path}: not a JSON object (found {_json_type(header)}); "
                          "a record header is an object")
    _check_keys(header, _HEADER_KEYS, path, "")
    arrays = header["arrays"]
    _check_keys(arrays, _ARRAYS_KEYS, path, "arrays.")
    if not re.fullmatch(r"[0-9a-f]{64}", arrays["sha256"]):
        raise RecordError(f"{path}: 'arrays.sha256' should be 64 hexadecimal digits, found "
                          f"{arrays['sha256']!r}")
    if arrays["file"] != _arrays_name(arrays["sha256"]):
        raise RecordError(f"{path}: 'arrays.file' should be {_arrays_name(arrays['sha256'])!r} "
                          f"(named by its sha256, in the record's directory), found "
                          f"{arrays['file']!r}")
    names = arrays["names"]
    if not all(isinstance(n, str) for n in names) or len(set(names)) != len(names):
        raise RecordError(f"{path}: 'arrays.names' should be a list of distinct strings, "
                          f"found {names!r}")


def _check_keys(entry: dict, expected: dict[str, type], path: Path, prefix: str) -> None:
    """Refuse `entry` unless it has every key of `expected`, of exactly that type."""
    for key, kind in expected.items():
        if key not in entry:
            raise RecordError(f"{path}: key {prefix + key!r} missing; a record header has "
                              f"{', '.join(prefix + k for k in expected)}")
        value = entry[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise RecordError(f"{path}: {prefix + key!r} should be {_describe(kind)}, found "
                              f"{_json_type(value)}")


def _json_type(value: Any) -> str:
    """How a JSON value reads in an error message: "a JSON list", "null", ..."""
    if value is None:
        return "null"
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
             list: "a JSON list", dict: "a JSON object"}
    return names.get(type(value), f"a {type(value).__name__}")


def to_json_ready(value: Any) -> Any:
    """Convert tuples, NumPy scalars and non-finite floats into strict-JSON values.

    Non-finite floats become {"__float__": "inf" | "-inf" | "nan"} so they survive a round trip.
    """
    if isinstance(value, dict):
        return {str(k): to_json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return {"__float__": repr(value)}
    if isinstance(value, np.ndarray):
        raise TypeError("arrays belong in record fields, not in the config or nested values")
    return value


def from_json_ready(value: Any) -> Any:
    """Undo `to_json_ready`: {"__float__": "inf" | "-inf" | "nan"} becomes the float.

    Raises
    ------
    ValueError
        For a "__float__" marker that holds no float.
    """
    if isinstance(value, dict):
        if set(value) == {"__float__"}:
            marker = value["__float__"]
            if not isinstance(marker, str):
                raise ValueError(f"{{'__float__': {marker!r}}} holds no float")
            return float(marker)
        return {k: from_json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json_ready(v) for v in value]
    return value


def package_version() -> str:
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return "unknown"


def git_revision() -> str:
    """The git revision of the source tree this package runs from, or "unknown"."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"


def _arrays_name(digest: str) -> str:
    return f"arrays-{digest[:16]}.safetensors"


def _binding(kind: str, version: int, config: Any, fields: Any) -> dict:
    """What ties an arrays file to its header: kind, version and a digest of the JSON-ready
    config and fields (canonical JSON, as record.json holds them)."""
    text = json.dumps({"config": config, "fields": fields}, sort_keys=True,
                      separators=(",", ":"), allow_nan=False)
    return {"kind": kind, "version": version,
            "record_sha256": hashlib.sha256(text.encode()).hexdigest()}


def _write_arrays(directory: Path, arrays: dict[str, np.ndarray], binding: dict) -> dict:
    # one metadata key: safetensors writes its metadata map in no fixed order, and the file
    # is content-addressed, so several keys would make the same record hash differently
    metadata = {BINDING_KEY: json.dumps(binding, sort_keys=True)}
    blob = save_arrays({k: np.ascontiguousarray(v) for k, v in arrays.items()}, metadata)
    digest = hashlib.sha256(blob).hexdigest()
    name = _arrays_name(digest)
    if not (directory / name).is_file():
        atomic_write_bytes(directory / name, blob)
    return {"file": name, "sha256": digest, "names": sorted(arrays)}


def _read_arrays(directory: Path, header: dict) -> tuple[dict[str, np.ndarray], str | None]:
    """The arrays of `header`, checked against its hash and its names, and the binding
    stored with them (None in files saved before bindings existed)."""
    info = header["arrays"]
    path = directory / info["file"]
    if not path.is_file():
        raise RecordError(f"{path} is missing: the record in {directory} is incomplete")
    try:
        blob = path.read_bytes()
    except OSError as error:
        raise RecordError(f"{path} cannot be read ({error})") from error
    if hashlib.sha256(blob).hexdigest() != info["sha256"]:
        raise RecordError(f"{path} does not match the hash in {RECORD_FILE}: the file is damaged")
    try:
        arrays, metadata = load_arrays(blob), _metadata(blob)
    except Exception as error:  # safetensors raises SafetensorError, and more on odd bytes
        raise RecordError(f"{path} is not a safetensors file ({error})") from error
    if sorted(arrays) != sorted(info["names"]):
        raise RecordError(f"{path} holds the arrays {sorted(arrays)} but "
                          f"{directory / RECORD_FILE} names {sorted(info['names'])}: "
                          "its arrays entry belongs to another record")
    return arrays, metadata.get(BINDING_KEY)


def _metadata(blob: bytes) -> dict:
    """The str -> str metadata of a safetensors file (8-byte header length, JSON header)."""
    size = int.from_bytes(blob[:8], "little")
    metadata = json.loads(blob[8:8 + size]).get("__metadata__") or {}
    if not isinstance(metadata, dict):
        raise ValueError("its __metadata__ is not a map")
    return metadata


def _check_binding(stored: str | None, header: dict, path: Path) -> None:
    """Refuse arrays written for another record. Files saved before the binding existed
    carry none; for them the names (checked before) and the header's sha256 are all."""
    if stored is None:
        return
    try:
        binding = json.loads(stored)
    except (TypeError, ValueError) as error:
        raise RecordError(f"{path}: its {BINDING_KEY!r} metadata is not JSON") from error
    expected = _binding(header["kind"], header["version"], header["config"], header["fields"])
    if binding == expected:
        return
    if not isinstance(binding, dict):
        raise RecordError(f"{path}: its {BINDING_KEY!r} metadata is not a JSON object")
    if (binding.get("kind"), binding.get("version")) != (header["kind"], header["version"]):
        raise RecordError(
            f"{path} was written for a {binding.get('kind')!r} record, version "
            f"{binding.get('version')!r}, not for the {header['kind']!r} record, version "
            f"{header['version']!r}, of {path.parent / RECORD_FILE}: its arrays entry belongs "
            "to another record")
    raise RecordError(
        f"{path} was written for a record with another config or other fields than "
        f"{path.parent / RECORD_FILE}: the header was edited, or its arrays entry belongs to "
        "another record")


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
            raise RecordError(f"{path}: field {name!r} should be {_describe(hints[name])}, "
                              f"found {_json_type(value)} {described}")
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


def _describe(annotation: Any) -> str:
    if isinstance(annotation, type):
        return {dict: "a JSON object", list: "a JSON list"}.get(annotation, annotation.__name__)
    return str(annotation)


def tidy(directory: str | Path, keep: str, arrays_older_than: float = STALE_AFTER_S
         ) -> list[Path]:
    """Remove what interrupted saves left in a record's directory.

    Parameters
    ----------
    directory : str or Path
        The record's directory (not searched recursively: nested run directories are
        tidied by their own saves and loads).
    keep : str
        The arrays file the current record.json names: never removed.
    arrays_older_than : float
        Minimum age in seconds of another ``arrays-*.safetensors`` to be removed. `save`
        passes 0: the record it just wrote is the directory's record. `load` keeps the
        default (`runstore.files.STALE_AFTER_S`): a younger one may be the new arrays of a
        save in progress whose record.json is not yet replaced.

    Returns
    -------
    list of Path
        The files removed. Temporary files of atomic writes of record.json or an arrays
        file are removed only once `STALE_AFTER_S` old, by `save` and `load` alike: a
        younger one may belong to a write in progress in another process, and deleting it
        would make that write fail.
    """
    directory = Path(directory)
    stale = [p for p in sorted(directory.glob("arrays-*.safetensors")) if p.name != keep]
    superseded = remove_stale(stale, arrays_older_than)
    abandoned = remove_stale(temporaries(directory, r"record\.json|arrays-[0-9a-f]+\.safetensors"))
    for path in superseded:  # at a save, the arrays of the record it replaced: routine
        log.log(logging.DEBUG if arrays_older_than == 0 else logging.INFO,
                "removed %s: record.json names %s", path, keep)
    for path in abandoned:
        log.info("removed %s, left behind by an interrupted save", path)
    return superseded + abandoned
