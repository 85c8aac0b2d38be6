"""A record's arrays file: how it is written, read, and bound to its header, and the
removal of what interrupted saves leave beside it (`tidy`).

Notes
-----
The arrays are written under a content-addressed name (``arrays-<sha256>.safetensors``) before
`record.json`, which names that file and its hash, is replaced (`runstore.record`). An arrays
file is bound to its header three ways:

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

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load as load_arrays
from safetensors.numpy import save as save_arrays

from runstore.files import STALE_AFTER_S, atomic_write_bytes, remove_stale, temporaries
from runstore.header import RECORD_FILE, RecordError, arrays_name

BINDING_KEY = "record_binding"
"""The safetensors metadata key under which an arrays file names the record it belongs to."""

log = logging.getLogger("runstore")


def record_binding(kind: str, version: int, config: Any, fields: Any) -> dict:
    """What ties an arrays file to its header: kind, version and a digest of the JSON-ready
    config and fields (canonical JSON, as record.json holds them)."""
    text = json.dumps({"config": config, "fields": fields}, sort_keys=True,
                      separators=(",", ":"), allow_nan=False)
    return {"kind": kind, "version": version,
            "record_sha256": hashlib.sha256(text.encode()).hexdigest()}


def write_arrays(directory: Path, arrays: dict[str, np.ndarray], binding: dict) -> dict:
    """Write `arrays` with `binding` in their metadata under their content-addressed name
    (atomically, unless that file is already there); return the header's arrays entry."""
    # one metadata key: safetensors writes its metadata map in no fixed order, and the file
    # is content-addressed, so several keys would make the same record hash differently
    metadata = {BINDING_KEY: json.dumps(binding, sort_keys=True)}
    blob = save_arrays({k: np.ascontiguousarray(v) for k, v in arrays.items()}, metadata)
    digest = hashlib.sha256(blob).hexdigest()
    name = arrays_name(digest)
    if not (directory / name).is_file():
        atomic_write_bytes(directory / name, blob)
    return {"file": name, "sha256": digest, "names": sorted(arrays)}


def read_arrays(directory: Path, header: dict) -> tuple[dict[str, np.ndarray], str | None]:
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


def check_binding(stored: str | None, header: dict, path: Path) -> None:
    """Refuse arrays written for another record. Files saved before the binding existed
    carry none; for them the names (checked before) and the header's sha256 are all."""
    if stored is None:
        return
    try:
        binding = json.loads(stored)
    except (TypeError, ValueError) as error:
        raise RecordError(f"{path}: its {BINDING_KEY!r} metadata is not JSON") from error
    expected = record_binding(header["kind"], header["version"], header["config"],
                              header["fields"])
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
