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
the old record or the new one readable, and `load` verifies the hash.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import math
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
from safetensors.numpy import load as load_arrays
from safetensors.numpy import save as save_arrays

from runstore.files import atomic_write_bytes, atomic_write_text

RECORD_FILE = "record.json"
PACKAGE = "rosetta-scaling"

R = TypeVar("R", bound="Record")


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
        """Write the record into `directory` atomically; return the path of record.json."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        fields, arrays = self._split_fields()
        header = {
            "kind": self.kind,
            "version": self.version,
            "package_version": package_version(),
            "git_revision": git_revision(),
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "config": to_json_ready(self.config),
            "fields": to_json_ready(fields),
            "arrays": _write_arrays(directory, arrays),
        }
        path = directory / RECORD_FILE
        atomic_write_text(path, json.dumps(header, indent=2, sort_keys=True, allow_nan=False))
        _remove_stale_arrays(directory, keep=header["arrays"]["file"])
        return path

    @classmethod
    def load(cls: type[R], directory: str | Path) -> R:
        """Read a record of this class; refuse another kind or version with a clear error."""
        header = read_header(directory)
        if header.get("kind") != cls.kind or header.get("version") != cls.version:
            raise RecordError(
                f"{Path(directory) / RECORD_FILE} holds a {header.get('kind')!r} record, "
                f"version {header.get('version')!r}; expected {cls.kind!r} version {cls.version}. "
                "Re-run the command that produced it (with --force) to rewrite it."
            )
        values = from_json_ready(header["fields"])
        for name, array in _read_arrays(Path(directory), header["arrays"]).items():
            group, _, key = name.partition("/")
            if key:
                values.setdefault(group, {})[key] = array
            else:
                values[name] = array
        return cls(config=from_json_ready(header["config"]), **values)

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
    """The parsed record.json of `directory`, with a clear error if missing or damaged."""
    path = Path(directory) / RECORD_FILE
    if not path.is_file():
        raise RecordError(f"no record at {path}: the run has not finished or the path is wrong")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise RecordError(f"{path} is not valid JSON ({error}); delete it and re-run") from error


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
    if isinstance(value, dict):
        if set(value) == {"__float__"}:
            return float(value["__float__"])
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


def _write_arrays(directory: Path, arrays: dict[str, np.ndarray]) -> dict:
    blob = save_arrays({k: np.ascontiguousarray(v) for k, v in arrays.items()})
    digest = hashlib.sha256(blob).hexdigest()
    name = f"arrays-{digest[:16]}.safetensors"
    if not (directory / name).is_file():
        atomic_write_bytes(directory / name, blob)
    return {"file": name, "sha256": digest, "names": sorted(arrays)}


def _read_arrays(directory: Path, info: dict) -> dict[str, np.ndarray]:
    path = directory / info["file"]
    if not path.is_file():
        raise RecordError(f"{path} is missing: the record in {directory} is incomplete")
    blob = path.read_bytes()
    if hashlib.sha256(blob).hexdigest() != info["sha256"]:
        raise RecordError(f"{path} does not match the hash in {RECORD_FILE}: the file is damaged")
    return load_arrays(blob)


def _remove_stale_arrays(directory: Path, keep: str) -> None:
    for path in directory.glob("arrays-*.safetensors"):
        if path.name != keep:
            path.unlink(missing_ok=True)
