"""Any model, named the way its user knows it: a `ModelSpec` read from the model's own
configuration for a name outside the registry.

A model is named by a registry name (or its Hugging Face id), a checkpoint folder, a
checkpoint file a registered loader reads (a pMF state dict), a Hugging Face id in the local
cache (``OWNER/NAME``) or an open_clip pretrained tag (``MODEL@TAG``). Outside the registry,
the architecture, the MLP hook point, the width of every MLP layer and the parameter count
are read from a build of the configuration on the meta device (no weights are read or
allocated), so they are the loaded model's own. An architecture the hooks do not know is
refused with its configuration class named.

Notes
-----
Nothing here downloads unless `download` is given: a Hugging Face id is looked up in the
cache (``local_files_only``), and a miss raises the `MissingModelError` that names the flags
and the cache the lookup read (`empirics.models.missing`).
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from empirics.models.architectures import model_types
from empirics.models.hooks import architecture_of, layer_widths
from empirics.models.loaders import LOADERS
from empirics.models.missing import MissingModelError, in_hub_cache, missing_message
from empirics.models.registry import SPECS, ModelSpec, get_spec

#: A Hugging Face repository id: OWNER/NAME.
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class UnsupportedModelError(ValueError):
    """A model whose architecture has no known MLP hook point."""


def resolve_model(name: str, path: str | Path | None = None, *,
                  cache_dir: str | Path | None = None, download: bool = False
                  ) -> tuple[ModelSpec, Path | None]:
    """The spec of the model called `name` and the checkpoint folder to load it from.

    Parameters
    ----------
    name : a registry name or its Hugging Face id; else, with `path`, the name given to the
        checkpoint there; else a checkpoint folder (named after the folder), a Hugging Face
        id ``OWNER/NAME`` (its config.json read from the cache) or an open_clip ``MODEL@TAG``.
    path : the checkpoint folder of `name` (a registry model's local copy, or any model).
    cache_dir, download : the Hugging Face cache, and whether a missing config may be
        fetched.

    Returns
    -------
    (spec, folder) : folder is `path`, the folder `name` names, or None (the cache).

    Raises
    ------
    KeyError : `name` is none of these. UnsupportedModelError : an architecture the hooks do
    not know. MissingModelError : a Hugging Face id whose config.json is not in the cache.
    """
    try:
        return get_spec(name), path
    except KeyError as error:
        unknown = error.args[0]
    folder = Path(path) if path is not None else Path(name).expanduser()
    reader = file_reader(folder)
    if reader is not None:  # a checkpoint file a loader reads (a pMF state dict)
        return reader.spec_from_file(name if path is not None else folder.stem, folder), folder
    if (folder / "config.json").is_file():
        return spec_from_checkpoint(name if path is not None else folder.resolve().name,
                                    folder), folder
    if path is None and "@" in name:
        return spec_from_open_clip(*name.split("@", 1)), None
    if path is None and HUB_ID.match(name):
        return spec_from_hub(name, cache_dir=cache_dir, download=download), None
    where = f" (no config.json in {path})" if path is not None else ""
    raise KeyError(f"{unknown}{where}; or give a checkpoint folder (with config.json), a "
                   "Hugging Face id OWNER/NAME or an open_clip MODEL@TAG")


def file_reader(file: Path):
    """The registered loader that reads `file` as a single checkpoint (by its suffix), or
    None (a folder, or a file no loader reads)."""
    if not file.is_file():
        return None
    return next((loader for loader in LOADERS if loader.spec_from_file is not None
                 and file.suffix in loader.file_suffixes), None)


def resolve_spec(name: str, path: str | Path | None = None, **lookup) -> ModelSpec:
    """The spec alone of `resolve_model(name, path, **lookup)`."""
    return resolve_model(name, path, **lookup)[0]


def spec_from_config(name: str, config, *, family: str, hf_id: str | None = None
                     ) -> ModelSpec:
    """The `ModelSpec` of a transformers configuration, named `name`.

    The architecture is the configuration's model type; the MLP widths and the parameter
    count come from the model built from it on the meta device (the causal LM for text, the
    base model for vision).
    """
    model = meta_model(name, config)
    kind = "vision" if config.model_type in model_types("vision") else "text"
    architecture = architecture_of(model)
    widths = layer_widths(model, architecture)
    if len(set(widths)) != 1:
        raise UnsupportedModelError(f"{name}: MLP layers of several widths "
                                    f"{sorted(set(widths))} are not supported")
    # CLS only: `capture.pair.prefix_tokens` adds the loaded configuration's registers
    prefix = 1 if kind == "vision" else 0
    return ModelSpec(name=name, family=family, kind=kind, loader="transformers",
                     n_params=sum(p.numel() for p in model.parameters()), d_mlp=widths[0],
                     n_layers=len(widths), architecture=architecture, hf_id=hf_id,
                     prefix_tokens=prefix)


def meta_model(name: str, config) -> torch.nn.Module:
    """The model of a transformers configuration built on the meta device (the causal LM
    for text, the base model for vision); refuses a type without a known MLP hook point."""
    import transformers

    model_type = getattr(config, "model_type", None)
    text, vision = model_types("text"), model_types("vision")
    if model_type not in text + vision:
        raise UnsupportedModelError(
            f"{name}: {type(config).__name__} (model type {model_type!r}) has no known MLP "
            f"hook point; the hooks know {', '.join(text + vision)} (register its "
            "architecture, the module whose input is its MLP's neuron vector, in "
            "empirics.models.architectures)")
    model_class = (transformers.AutoModel if model_type in vision
                   else transformers.AutoModelForCausalLM)
    with torch.device("meta"):
        return model_class.from_config(config)


def spec_from_checkpoint(name: str, directory: Path) -> ModelSpec:
    """The `ModelSpec` of the transformers checkpoint in `directory`, named `name`."""
    import transformers

    config = transformers.AutoConfig.from_pretrained(directory, local_files_only=True)
    return spec_from_config(name, config, family="local")


def spec_from_hub(repo_id: str, *, cache_dir: str | Path | None = None,
                  download: bool = False) -> ModelSpec:
    """The `ModelSpec` of a Hugging Face repository, from its config.json in the cache
    (fetched only with `download`); the spec's name and id are `repo_id`."""
    import transformers
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        file = hf_hub_download(repo_id, "config.json", local_files_only=not download,
                               cache_dir=cache_dir)
    except LocalEntryNotFoundError:
        unknown = ModelSpec(name=repo_id, family="hub", kind="text", loader="transformers",
                            n_params=0, d_mlp=0, n_layers=0, architecture="", hf_id=repo_id)
        raise MissingModelError(missing_message(unknown, ["config.json"],
                                                in_hub_cache(cache_dir), cache_dir=cache_dir)
                                ) from None
    config = transformers.AutoConfig.from_pretrained(Path(file).parent, local_files_only=True)
    return spec_from_config(repo_id, config, family="hub", hf_id=repo_id)


def spec_from_open_clip(model: str, tag: str) -> ModelSpec:
    """The `ModelSpec` of open_clip's `model` at the pretrained `tag` (its vision tower): the
    registry's entry when it has one, else read from a meta-device build."""
    import open_clip

    for spec in SPECS:
        if spec.open_clip == (model, tag):
            return spec
    if (model, tag) not in open_clip.list_pretrained():
        tags = [t for m, t in open_clip.list_pretrained() if m == model]
        known = f"its tags: {', '.join(tags)}" if tags else "no such open_clip model"
        raise KeyError(f"{model}@{tag} is not an open_clip pretrained model ({known}; "
                       "open_clip.list_pretrained() lists them)")
    with torch.device("meta"):
        visual = open_clip.create_model(model, pretrained=None, device="meta").visual
    try:
        architecture = architecture_of(visual)
    except ValueError:
        raise UnsupportedModelError(f"{model}@{tag}: its vision tower is a "
                                    f"{type(visual).__name__}, not an open_clip ViT (the "
                                    "hooks know transformer.resblocks.{layer}.mlp.c_proj)"
                                    ) from None
    widths = layer_widths(visual, architecture)
    return ModelSpec(name=f"openclip-{model.lower()}-{tag}", family="openclip",
                     kind="vision", loader="open_clip",
                     n_params=sum(p.numel() for p in visual.parameters()), d_mlp=widths[0],
                     n_layers=len(widths), architecture=architecture, open_clip=(model, tag),
                     prefix_tokens=1)
