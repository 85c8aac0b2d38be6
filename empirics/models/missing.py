"""What a user is told when a model's files are not on this machine: `MissingModelError`, with
a message in the commands' own flags that names the Hugging Face cache the lookup read.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from empirics.models.registry import ModelSpec


class MissingModelError(FileNotFoundError):
    """A model's weights, configuration or tokenizer are not available offline."""


def hub_cache(cache_dir: str | Path | None = None,
              environ: Mapping[str, str] | None = None) -> Path:
    """The Hugging Face hub cache a lookup reads: `cache_dir` when given, else as
    huggingface_hub finds it: HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE (its older name),
    HF_HOME/hub, XDG_CACHE_HOME/huggingface/hub, then ~/.cache/huggingface/hub.

    Notes
    -----
    The environment is read here, at call time (`environ`, default `os.environ`), because
    `huggingface_hub.constants.HF_HUB_CACHE` is fixed when the library is first imported.
    """
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    environ = os.environ if environ is None else environ
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if environ.get(name):
            return Path(environ[name]).expanduser()
    if environ.get("HF_HOME"):
        return Path(environ["HF_HOME"]).expanduser() / "hub"
    cache = environ.get("XDG_CACHE_HOME") or str(Path("~/.cache").expanduser())
    return Path(cache).expanduser() / "huggingface" / "hub"


def in_hub_cache(cache_dir: str | Path | None = None) -> str:
    """Where a cache lookup looked, for a message: "the Hugging Face cache <folder>"."""
    return f"the Hugging Face cache {hub_cache(cache_dir)}"


def missing_message(spec: ModelSpec, what: list[str], where: str, *,
                    cache_dir: str | Path | None = None, repo: str | None = None) -> str:
    """The message of a `MissingModelError`: what is missing where, and the ways to supply
    it, as the commands' flags (`repo`: the Hugging Face repository to download, default the
    spec's). A model read from a local checkpoint has no repository to download."""
    source = spec.hf_id or (spec.open_clip and f"{spec.open_clip[0]} / {spec.open_clip[1]}")
    local = ("the checkpoint's local directory with --path-a/--path-b (empirics.analyze: "
             "--path NAME=DIR) or a folder of checkpoints with --model-dir")
    named = f" ({source})" if source and source != spec.name else ""
    head = (f"model {spec.name}{named} is not available offline: "
            f"missing {', '.join(what)} in {where}.")
    if not source:
        return (f"{head} It has no Hugging Face repository: save the checkpoint there again "
                f"(python -m empirics.train resumes model by model), or pass {local}.")
    repo = repo or spec.hf_id or "<repo of the open_clip tag>"
    return (f"{head} Supply it in one of these ways: on a connected machine run `hf download "
            f"{repo}` (`huggingface-cli download {repo}` before huggingface_hub 1.0) and copy "
            f"that machine's hub cache into {hub_cache(cache_dir)} here, or anywhere and pass "
            f"--cache-dir DIR; or pass {local}; or allow downloading with --download.")


def each_or_missing(calls) -> list:
    """The result of every call in `calls` (functions of no argument), or one
    `MissingModelError` naming everything missing when some raise it (each message on its own
    line), so that a user supplies every model of a pair at once rather than one per run."""
    results, messages = [], []
    for call in calls:
        try:
            results.append(call())
        except MissingModelError as error:
            if str(error) not in messages:  # a model paired with itself is named once
                messages.append(str(error))
    if messages:
        raise MissingModelError("\n    ".join(messages))
    return results
