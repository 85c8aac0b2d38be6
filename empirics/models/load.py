"""Load a registry model (or its untrained twin) with its tokenizer or image preprocessing.

The spec's loader (`empirics.models.loaders`: transformers, open_clip, pMF) reads the weights
from a local path or the Hugging Face cache with no network access unless the caller passes
``download=True``. A missing model raises one `MissingModelError` that names what is missing
and how to supply it (`empirics.models.missing`). ``init="random"`` builds the same
architecture at its real configuration with random weights (the untrained null), with no
download. Every load is checked against its spec (`check_against_spec`).
"""

from __future__ import annotations

from pathlib import Path

import torch

from empirics.models.contents import WEIGHT_SUFFIXES
from empirics.models.hooks import layer_widths
from empirics.models.loaded import LoadedModel
from empirics.models.loaders import LOADERS
from empirics.models.missing import MissingModelError
from empirics.models.registry import ModelSpec

#: Re-exported: where a model's weights files and errors were always imported from.
__all__ = [
    "WEIGHT_SUFFIXES",
    "LoadedModel",
    "MissingModelError",
    "ModelMismatchError",
    "check_against_spec",
    "load_model",
]


class ModelMismatchError(ValueError):
    """A loaded checkpoint is not the model its name says (another architecture or size)."""


def check_against_spec(loaded: LoadedModel, where: str) -> LoadedModel:
    """Refuse a checkpoint whose architecture, MLP widths or parameter count differ from its
    registry entry (a spec with n_layers = 0 or n_params = 0 leaves that part unchecked)."""
    spec, widths = loaded.spec, layer_widths(loaded.model, loaded.architecture)
    found = (f"{where} holds a {loaded.architecture} model with {len(widths)} MLP layers "
             f"of widths {sorted(set(widths))} and {loaded.n_params:,} parameters")
    wanted = (f"the entry {spec.name} is a {spec.architecture} model with {spec.n_layers} MLP "
              f"layers of {spec.d_mlp} neurons and {spec.n_params:,} parameters")
    if (loaded.architecture != spec.architecture
            or (spec.n_layers and widths != list(spec.layer_sizes))
            or (spec.n_params and loaded.n_params != spec.n_params)):
        raise ModelMismatchError(f"{wanted}, but {found}; give the checkpoint of {spec.name}, "
                                 "or name this one differently (a name outside the registry "
                                 "with --path-a/--path-b is read from its own config)")
    return loaded


def load_model(spec: ModelSpec, *, path: str | Path | None = None, init: str = "pretrained",
               dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu",
               device_map: str | dict | None = None, max_memory: dict | None = None,
               download: bool = False, cache_dir: str | Path | None = None,
               seed: int = 0) -> LoadedModel:
    """Load `spec`'s model in eval mode.

    Parameters
    ----------
    spec : registry entry (or a user's own `ModelSpec`).
    path : local checkpoint directory (transformers) or checkpoint file/directory (open_clip);
        None looks in the Hugging Face cache.
    init : ``"pretrained"`` or ``"random"`` (same architecture, random weights, `seed`).
    dtype, device : parameter dtype and device; ignored for placement when `device_map` is
        given (transformers only, e.g. ``"auto"`` to spread a large model over GPUs).
    max_memory : per-device limits for `device_map` (accelerate's ``{0: "70GiB", "cpu":
        "200GiB"}``).
    download : allow network downloads (otherwise ``local_files_only``).
    cache_dir : Hugging Face cache directory (default: the library's).
    """
    if init not in ("pretrained", "random"):
        raise ValueError(f"init must be 'pretrained' or 'random', not {init!r}")
    where = str(path) if path is not None else f"the Hugging Face cache entry of {spec.name}"
    loader = spec_loader(spec)
    if device_map is not None and not loader.spreads:
        spreading = ", ".join(entry.name for entry in LOADERS if entry.spreads)
        raise ValueError(f"device_map applies to {spreading} models only, not to {spec.name} "
                         f"(loader {loader.name})")
    placement = {"device_map": device_map, "max_memory": max_memory}
    return check_against_spec(loader.load(spec, path, init=init, dtype=dtype, device=device,
                                          placement=placement, download=download,
                                          cache_dir=cache_dir, seed=seed), where)


def spec_loader(spec: ModelSpec):
    """The registered loader `spec` names (a ValueError naming the spec otherwise)."""
    try:
        return LOADERS.get(spec.loader)
    except KeyError as error:
        raise ValueError(f"{spec.name}: {error.args[0]}") from None
