"""The open_clip loader: a pretrained tag's vision tower, from a local checkpoint file, the
Hugging Face cache, or (with ``download``) open_clip's own download; its eval preprocessing.
"""

from __future__ import annotations

from pathlib import Path

import torch

from empirics.models.adapters import Loader
from empirics.models.contents import file_identity
from empirics.models.hooks import architecture_of
from empirics.models.loaded import LoadedModel
from empirics.models.missing import MissingModelError, in_hub_cache, missing_message
from empirics.models.registry import ModelSpec

OPEN_CLIP_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")


def open_clip_checkpoint(spec, path, download, cache_dir) -> str | None:
    """A local checkpoint file for the open_clip tag (None: let open_clip download it)."""
    import open_clip

    if path is not None:
        path = Path(path)
        found = [path / n for n in OPEN_CLIP_FILES if (path / n).is_file()] if path.is_dir() \
            else [path] if path.is_file() else []
        if not found:
            raise MissingModelError(missing_message(spec, [" or ".join(OPEN_CLIP_FILES)],
                                                    str(path), cache_dir=cache_dir))
        return str(found[0])
    if download:
        return None
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    hub = open_clip.get_pretrained_cfg(*spec.open_clip).get("hf_hub", "")
    repo, filename = hub.rstrip("/"), None
    if hub and not hub.endswith("/"):
        repo, filename = hub.rsplit("/", 1)
    for name in ([filename] if filename else []) + list(OPEN_CLIP_FILES):
        try:
            return hf_hub_download(repo, name, local_files_only=True, cache_dir=cache_dir)
        except (LocalEntryNotFoundError, ValueError):
            continue
    where = f"{in_hub_cache(cache_dir)}, repo {repo or '?'}"
    raise MissingModelError(missing_message(spec, [" or ".join(OPEN_CLIP_FILES)], where,
                                            cache_dir=cache_dir, repo=repo or "?"))


def load_open_clip(spec: ModelSpec, path, *, init, dtype, device, placement, download,
                   cache_dir, seed) -> LoadedModel:
    """`spec`'s vision tower in eval mode (`placement` does not apply: one device)."""
    import open_clip

    name, tag = spec.open_clip
    options = {}
    if init == "pretrained":
        checkpoint = open_clip_checkpoint(spec, path, download, cache_dir)
        pcfg = open_clip.get_pretrained_cfg(name, tag)
        options = {f"image_{k}": pcfg[k] for k in ("mean", "std") if k in pcfg}
        options.update({f"image_{k}": pcfg[k] for k in ("interpolation", "resize_mode")
                        if k in pcfg})
        pretrained = checkpoint or tag
    else:
        pretrained = None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model, _, preprocess = open_clip.create_model_and_transforms(
            name, pretrained=pretrained, cache_dir=cache_dir, **options)
    visual = model.visual.to(device=device, dtype=dtype).eval()
    identity = {"name": spec.name, "loader": "open_clip", "model": name, "init": init,
                "source": str(pretrained), "dtype": str(dtype)}
    if init == "random":
        identity["seed"] = seed
    return LoadedModel(spec, visual, preprocess, architecture_of(visual), init, identity)


def open_clip_identity(spec: ModelSpec, path, *, init: str, download: bool, cache_dir
                       ) -> dict:
    """What the open_clip loader would read: the checkpoint file, or the model's name
    (untrained), or the tag open_clip will download."""
    if init == "random":
        return {"architecture": spec.open_clip[0]}
    checkpoint = open_clip_checkpoint(spec, path, download, cache_dir)
    if checkpoint is None:  # downloaded by open_clip at load time
        return {"download": "/".join(spec.open_clip)}
    return {"files": {Path(checkpoint).name: file_identity(Path(checkpoint))}}


LOADER = Loader(name="open_clip", load=load_open_clip, identity=open_clip_identity)
