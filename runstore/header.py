"""A record's header, `record.json`: its schema, the strict JSON it is written in, and the
provenance it states (package version, git revision).

`read_header` refuses, as `RecordError` naming the file, whatever is not a record header:
not strict JSON, not an object, a key missing or of the wrong type, an arrays entry whose
file is not named by its sha256. The fields' own values are checked against their class by
`runstore.record`; the arrays file against the header by `runstore.arrays`.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

RECORD_FILE = "record.json"
PACKAGE = "rosetta-scaling"


class RecordError(RuntimeError):
    """A record on disk is missing, damaged, or of another kind or version."""


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
        raise RecordError(f"{path}: not a JSON object (found {json_type(header)}); "
                          "a record header is an object")
    _check_keys(header, _HEADER_KEYS, path, "")
    arrays = header["arrays"]
    _check_keys(arrays, _ARRAYS_KEYS, path, "arrays.")
    if not re.fullmatch(r"[0-9a-f]{64}", arrays["sha256"]):
        raise RecordError(f"{path}: 'arrays.sha256' should be 64 hexadecimal digits, found "
                          f"{arrays['sha256']!r}")
    if arrays["file"] != arrays_name(arrays["sha256"]):
        raise RecordError(f"{path}: 'arrays.file' should be {arrays_name(arrays['sha256'])!r} "
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
            raise RecordError(f"{path}: {prefix + key!r} should be {describe_type(kind)}, found "
                              f"{json_type(value)}")


def arrays_name(digest: str) -> str:
    """The name of the arrays file whose sha256 is `digest` (content-addressed)."""
    return f"arrays-{digest[:16]}.safetensors"


def json_type(value: Any) -> str:
    """How a JSON value reads in an error message: "a JSON list", "null", ..."""
    if value is None:
        return "null"
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
             list: "a JSON list", dict: "a JSON object"}
    return names.get(type(value), f"a {type(value).__name__}")


def describe_type(annotation: Any) -> str:
    """How a type (or annotation) a JSON value should have reads in an error message."""
    if isinstance(annotation, type):
        return {dict: "a JSON object", list: "a JSON list"}.get(annotation, annotation.__name__)
    return str(annotation)


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
