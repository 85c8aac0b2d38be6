"""The content identity of a model's files: a Hugging Face blob's own name, else the sha256
of the bytes (once per process for a given path, size and modification time).

A file in the Hugging Face cache is a link to a blob named by its content hash (sha256 for
large files, the git object id for small ones): that name is used as it is.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt")
#: Files of a checkpoint directory that do not change what is loaded.
IGNORED_SUFFIXES = (".md", ".txt.lock", ".lock")


@functools.lru_cache(maxsize=4096)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 24), b""):
            digest.update(block)
    return digest.hexdigest()


def file_identity(path: Path) -> str:
    """The content identity of one file: its Hugging Face blob name, or its sha256."""
    resolved = Path(path).resolve()
    if resolved.parent.name == "blobs":
        return f"blob:{resolved.name}"
    stat = resolved.stat()
    return _sha256(str(resolved), stat.st_size, stat.st_mtime_ns)


def directory_identity(directory: Path, *, weights: bool = True) -> dict[str, str]:
    """{relative path: content identity} of every file of a checkpoint directory (without
    hidden files and, with `weights=False`, without weight files)."""
    found = {}
    for path in sorted(Path(directory).rglob("*")):
        name = path.relative_to(directory).as_posix()
        if not path.is_file() or any(part.startswith(".") for part in Path(name).parts):
            continue
        if name.endswith(IGNORED_SUFFIXES) or (not weights and name.endswith(WEIGHT_SUFFIXES)):
            continue
        found[name] = file_identity(path)
    return found
