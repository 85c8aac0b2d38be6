"""Load a registry model (or its untrained twin) with its tokenizer or image preprocessing.

Weights come from a local directory or the Hugging Face cache with no network access unless
the caller passes ``download=True``. A missing model raises one `MissingModelError` that names
what is missing and how to supply it (`empirics.models.missing`). ``init="random"`` builds the
same architecture at its real configuration with random weights (the untrained null); the
configuration comes from the local checkpoint when there is one, else from the registry, so it
needs no download.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from empirics.models.hooks import architecture_of, layer_widths
from empirics.models.missing import MissingModelError, in_hub_cache, missing_message
from empirics.models.pmf_load import load_pmf
from empirics.models.registry import ModelSpec

log = logging.getLogger(__name__)

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt")
OPEN_CLIP_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
#: DINOv2's preprocessing (HF preprocessor_config.json): shortest edge 256, centre crop 224,
#: ImageNet mean/std, bicubic; used when a random-init model has no local processor.
DINOV2_PREPROCESS = dict(do_resize=True, size={"shortest_edge": 256}, resample=3,
                         do_center_crop=True, crop_size={"height": 224, "width": 224},
                         do_normalize=True, image_mean=[0.485, 0.456, 0.406],
                         image_std=[0.229, 0.224, 0.225], do_convert_rgb=True)


@dataclass(frozen=True)
class LoadedModel:
    """A model ready for capture.

    `model` is the network whose MLPs are hooked (a causal LM, a DINOv2 model, or an open_clip
    vision tower); `processor` its tokenizer (text) or image preprocessing (vision);
    `identity` describes the weights for cache manifests; `size` is the network's parameter
    count where its module holds more than the network (a TransformerLens bridge's copies).
    """

    spec: ModelSpec
    model: nn.Module
    processor: object
    architecture: str
    init: str
    identity: dict = field(default_factory=dict)
    size: int | None = None

    @property
    def n_params(self) -> int:
        """Parameters of the measured network as loaded (shared tensors counted once)."""
        if self.size is not None:
            return self.size
        return sum(p.numel() for p in self.model.parameters())


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
    if spec.loader == "open_clip":
        if device_map is not None:
            raise ValueError("device_map applies to transformers models only")
        return check_against_spec(
            _load_open_clip(spec, path, init, dtype, device, download, cache_dir, seed), where)
    if spec.loader == "transformers":
        placement = {"device_map": device_map, "max_memory": max_memory}
        return check_against_spec(_load_transformers(
            spec, path, init, dtype, device, placement, download, cache_dir, seed), where)
    if spec.loader == "pmf":
        if device_map is not None:
            raise ValueError("device_map applies to transformers models only")
        model, identity = load_pmf(spec, path=path, init=init, dtype=dtype, device=device,
                                   download=download, cache_dir=cache_dir, seed=seed)
        return check_against_spec(LoadedModel(spec, model, model.config, "pmf_dit", init,
                                              identity), where)
    if spec.loader == "toy":
        raise ValueError(f"{spec.name} is a toy net: it is trained in code, not loaded; run "
                         "`python -m empirics.match --family toy --all` (or theory.simulate)")
    raise ValueError(f"unknown loader {spec.loader!r} for {spec.name}")


def _local_directory(spec, path, download, cache_dir) -> Path | str:
    """The checkpoint directory to load from (a repo id when downloading is allowed)."""
    if path is not None:
        directory = Path(path)
        if not directory.is_dir():
            raise MissingModelError(missing_message(spec, ["the directory"], str(directory),
                                                    cache_dir=cache_dir))
        return directory
    if spec.hf_id is None:
        raise MissingModelError(missing_message(spec, ["a Hugging Face id or path"], "spec",
                                                cache_dir=cache_dir))
    if download:
        return spec.hf_id
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(spec.hf_id, local_files_only=True, cache_dir=cache_dir))
    except LocalEntryNotFoundError:
        raise MissingModelError(missing_message(spec, ["the whole repository"],
                                                in_hub_cache(cache_dir), cache_dir=cache_dir)
                                ) from None


def _check_files(spec: ModelSpec, directory: Path, init: str) -> None:
    """Raise one MissingModelError listing every file group the load needs and lacks."""
    names = {p.name for p in directory.iterdir()}
    missing = []
    if "config.json" not in names and (init == "pretrained" or not spec.config_items):
        missing.append("config.json")
    if init == "pretrained" and not any(n.endswith(WEIGHT_SUFFIXES) for n in names):
        missing.append("weights (*.safetensors or *.bin)")
    if spec.kind == "text" and not names & {"tokenizer.json", "vocab.json", "tokenizer.model"}:
        missing.append("tokenizer files (tokenizer.json or vocab.json + merges.txt)")
    if missing:
        raise MissingModelError(missing_message(spec, missing, str(directory)))
    if init == "pretrained":
        check_weight_files(spec, directory)


class DamagedModelError(MissingModelError):
    """A model's weights file is there but cannot be read (truncated, or not weights)."""


def check_weight_files(spec: ModelSpec, directory: Path) -> None:
    """Refuse, naming the file, a safetensors weights file whose header does not describe
    the file (a truncated copy or download): the library's own error names no file.

    Notes
    -----
    Only the header is read (safetensors checks that its offsets cover the file exactly),
    so the check costs no load of the weights.
    """
    from safetensors import SafetensorError, safe_open

    for file in sorted(directory.glob("*.safetensors")):
        try:
            with safe_open(file, framework="pt"):
                pass
        except (SafetensorError, OSError) as error:
            raise DamagedModelError(
                f"model {spec.name}: the weights file {file} is damaged ({error}); copy or "
                "download it again (a truncated copy or download reads so)") from None


def _load_transformers(spec, path, init, dtype, device, placement, download, cache_dir, seed):
    import transformers

    source = transformers_source(spec, path, init, download, cache_dir)
    common = dict(local_files_only=not download, cache_dir=cache_dir)
    model_class = (transformers.AutoModelForCausalLM if spec.kind == "text"
                   else transformers.AutoModel)
    if init == "pretrained":
        model = model_class.from_pretrained(source, dtype=dtype, **placement, **common)
        config = model.config
    else:
        config = _random_config(spec, source, common)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = model_class.from_config(config, dtype=dtype)
    if placement["device_map"] is None or init == "random":
        model = model.to(device)
    processor = _processor(spec, source, common)
    identity = dict(name=spec.name, loader="transformers", source=str(source), init=init,
                    dtype=str(dtype), config=_digest(config.to_dict()))
    if init == "random":
        identity["seed"] = seed
    return LoadedModel(spec, model.eval(), processor, architecture_of(model), init, identity)


def transformers_source(spec, path, init, download, cache_dir) -> Path | str | None:
    """Checkpoint directory or repo id; None for an untrained vision model that has none
    (its registry configuration and standard preprocessing suffice)."""
    try:
        source = _local_directory(spec, path, download, cache_dir)
    except MissingModelError:
        if init == "random" and spec.kind == "vision" and spec.config_items and path is None:
            return None
        raise
    if isinstance(source, Path):
        _check_files(spec, source, init)
    return source


def _random_config(spec, source, common):
    """The real configuration: the checkpoint's config.json if present, else the registry's."""
    import transformers

    if source is None or isinstance(source, Path) and not (source / "config.json").exists():
        config = dict(spec.config)
        return transformers.AutoConfig.for_model(config.pop("model_type"), **config)
    return transformers.AutoConfig.from_pretrained(source, **common)


def _processor(spec, source, common):
    import transformers

    if spec.kind == "text":
        from empirics.models.tokenizer import text_tokenizer

        return text_tokenizer(source, **common)
    try:
        if source is None:
            raise OSError("no checkpoint directory")
        return transformers.AutoImageProcessor.from_pretrained(source, **common)
    except OSError:
        if spec.architecture not in ("dinov2", "dinov2_swiglu"):
            raise
        log.info("%s: no local image processor; using DINOv2's standard preprocessing",
                 spec.name)
        return transformers.BitImageProcessor(**DINOV2_PREPROCESS)


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


def _load_open_clip(spec, path, init, dtype, device, download, cache_dir, seed):
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
    identity = dict(name=spec.name, loader="open_clip", model=name, init=init,
                    source=str(pretrained), dtype=str(dtype))
    if init == "random":
        identity["seed"] = seed
    return LoadedModel(spec, visual, preprocess, "open_clip_vit", init, identity)


def _digest(config: dict) -> str:
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
