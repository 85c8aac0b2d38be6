"""What a model's numbers depend on, known before it is loaded: the content identity of the
files it will be loaded from (weights, configuration, tokenizer or preprocessing).

A pair's run directory hashes these identities (docs/matching.md, "Identity"), so new weights
at the same path, another checkpoint under the same name, or another snapshot in the Hugging
Face cache give another run instead of reusing a record made from something else.

Notes
-----
A file in the Hugging Face cache is a link to a blob named by its content hash (sha256 for
large files, the git object id for small ones): that name is used as it is. Any other file is
hashed (sha256 of its bytes), once per process for a given path, size and modification time.
For an untrained model only the configuration and tokenizer files count, not the weights.
A text model's identity also states what its tokenizer does (`tokenization_identity`: the
class loaded and its ids of a probe text), since the same files can be cut into other tokens
by another tokenizer class.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

from empirics.models.load import WEIGHT_SUFFIXES, open_clip_checkpoint, transformers_source
from empirics.models.pmf_load import config_digest, pmf_checkpoint
from empirics.models.registry import ModelSpec
from empirics.models.tokenizer import text_tokenizer, tokenization_identity

#: Files of a checkpoint directory that do not change what is loaded.
IGNORED_SUFFIXES = (".md", ".txt.lock", ".lock")


def untrained_seed(name: str, seed: int, copy: int = 0) -> int:
    """The seed of model `name`'s untrained twin under the null's seed `seed`.

    Drawn from the model's own name and the null seed, so distinct checkpoints give distinct
    random networks (gpt2-w8-s0 and gpt2-w8-s1 are two networks, not one drawn twice), and one
    checkpoint's twin is the same network in every pair it takes part in. `copy` is 1 for the
    second side of a model matched with itself, which would otherwise meet its own twin.
    """
    digest = hashlib.sha256(f"{name}\0{int(seed)}\0{int(copy)}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def untrained_seeds(name_a: str, name_b: str, seed: int) -> tuple[int, int]:
    """The seeds of both untrained twins of a pair (`untrained_seed`)."""
    return untrained_seed(name_a, seed), untrained_seed(name_b, seed, int(name_a == name_b))


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


def weights_identity(spec: ModelSpec, *, path: str | Path | None = None,
                     init: str = "pretrained", download: bool = False,
                     cache_dir: str | Path | None = None) -> dict:
    """The identity of what `load_model` would load for these arguments (JSON-ready).

    Raises `MissingModelError` like `load_model` when the files are not available offline.
    """
    identity = {"name": spec.name, "init": init}
    if spec.loader == "pmf":
        identity["config"] = config_digest(spec)
        if init == "random":
            return identity
        file = pmf_checkpoint(spec, path, download, cache_dir)
        return identity | {"files": {file.name: file_identity(file)}}
    if spec.loader == "open_clip":
        if init == "random":
            return identity | {"architecture": spec.open_clip[0]}
        checkpoint = open_clip_checkpoint(spec, path, download, cache_dir)
        if checkpoint is None:  # downloaded by open_clip at load time
            return identity | {"download": "/".join(spec.open_clip)}
        return identity | {"files": {Path(checkpoint).name: file_identity(Path(checkpoint))}}
    source = transformers_source(spec, path, init, download, cache_dir)
    if source is None or (isinstance(source, Path) and init == "random"
                          and not (source / "config.json").is_file()):
        config = json.dumps(spec.config, sort_keys=True, default=str)
        identity["config"] = hashlib.sha256(config.encode()).hexdigest()
        if source is None:
            return identity
    if isinstance(source, Path):
        identity["files"] = directory_identity(source, weights=init == "pretrained")
        if spec.kind == "text":
            tokenizer = text_tokenizer(source, local_files_only=True)
            identity["tokenizer"] = tokenization_identity(tokenizer)
        return identity
    return identity | {"download": source}  # a repo id, fetched at load time
