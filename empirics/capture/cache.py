"""On-disk cache of an aligned activation stream: safetensors shards plus a manifest.

A cache directory holds ``batch_00000.safetensors`` ... (tensors ``a`` and ``b`` of one batch)
and ``manifest.json`` with the manifest of the stream (models, inputs, alignment) and whether
the stream was written to its end. A complete cache replays the stream without running a model;
a cache whose manifest differs from the requested one is refused.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable, Iterator

import torch
from safetensors.torch import load_file, save_file

Batches = Callable[[], Iterator[tuple[torch.Tensor, torch.Tensor]]]
MANIFEST = "manifest.json"
FORMAT_VERSION = 1


class CacheMismatchError(ValueError):
    """A cache directory was written for other models, inputs or alignment settings."""


def _differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    lines = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, "<absent>"), new.get(key, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            lines += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            lines.append(f"{prefix}{key}: cached {a!r}, requested {b!r}")
    return lines


def read_manifest(directory: Path) -> dict | None:
    """The stored manifest file (None when the directory holds none)."""
    path = directory / MANIFEST
    return json.loads(path.read_text()) if path.exists() else None


def check_manifest(directory: Path, manifest: dict) -> bool:
    """True when `directory` holds a complete cache of exactly `manifest`.

    Raises CacheMismatchError naming every differing entry when the stored manifest belongs
    to another stream; returns False for an empty directory or an unfinished cache.
    """
    stored = read_manifest(directory)
    if stored is None:
        return False
    expected = json.loads(json.dumps(manifest))  # the JSON form (tuples become lists)
    if stored.get("format") != FORMAT_VERSION or stored["manifest"] != expected:
        diff = _differences(stored.get("manifest", {}), expected)
        if stored.get("format") != FORMAT_VERSION:
            diff.insert(0, f"format: cached {stored.get('format')!r}, requested "
                           f"{FORMAT_VERSION!r}")
        raise CacheMismatchError(f"activation cache {directory} was written for another "
                                 "stream:\n  " + "\n  ".join(diff) + "\nUse another cache "
                                 "directory or delete this one.")
    return bool(stored.get("complete"))


def _write_json(path: Path, content: dict) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(content, indent=1, sort_keys=True))
    os.replace(temporary, path)


def _shard(directory: Path, index: int) -> Path:
    return directory / f"batch_{index:05d}.safetensors"


def cached_stream(compute: Batches, directory: str | Path, manifest: dict) -> Batches:
    """A stream that reads `directory` when it holds the complete cache, else computes.

    The first full pass over `compute()` writes every batch as a shard (atomically) and then
    marks the manifest complete; later passes, and later processes, read the shards. A pass
    stopped early leaves the cache unfinished and the next pass recomputes it.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    check_manifest(directory, manifest)

    def stream():
        stored = read_manifest(directory)
        if stored is not None and stored.get("complete"):
            for index in range(stored["n_batches"]):
                tensors = load_file(_shard(directory, index))
                yield tensors["a"], tensors["b"]
            return
        _write_json(directory / MANIFEST, dict(format=FORMAT_VERSION, manifest=manifest,
                                               complete=False, n_batches=0))
        count = 0
        for a, b in compute():
            temporary = _shard(directory, count).with_suffix(".tmp")
            save_file({"a": a.detach().contiguous().cpu(), "b": b.detach().contiguous().cpu()},
                      str(temporary))
            os.replace(temporary, _shard(directory, count))
            count += 1
            yield a, b
        _write_json(directory / MANIFEST, dict(format=FORMAT_VERSION, manifest=manifest,
                                               complete=True, n_batches=count))

    return stream
