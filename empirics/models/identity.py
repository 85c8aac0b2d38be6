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

import hashlib
from pathlib import Path

from empirics.models.contents import directory_identity, file_identity
from empirics.models.loaders import LOADERS
from empirics.models.registry import ModelSpec

#: Re-exported: the content identity of files, where its callers import it from.
__all__ = ["directory_identity", "file_identity", "untrained_seed", "untrained_seeds",
           "weights_identity"]


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


def weights_identity(spec: ModelSpec, *, path: str | Path | None = None,
                     init: str = "pretrained", download: bool = False,
                     cache_dir: str | Path | None = None) -> dict:
    """The identity of what `load_model` would load for these arguments (JSON-ready).

    Raises `MissingModelError` like `load_model` when the files are not available offline.
    """
    loader = LOADERS.get(spec.loader)
    found = loader.identity(spec, path, init=init, download=download, cache_dir=cache_dir)
    return {"name": spec.name, "init": init} | found
