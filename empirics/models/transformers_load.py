"""The transformers loader: a checkpoint folder or the Hugging Face cache (no network unless
``download``), its tokenizer (text) or image preprocessing (vision); ``init="random"`` builds
the same architecture at its real configuration (the checkpoint's config.json when there is
one, else the registry's), so the untrained null needs no download.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import torch

from empirics.models.adapters import Loader
from empirics.models.architectures import ARCHITECTURES
from empirics.models.contents import WEIGHT_SUFFIXES, directory_identity
from empirics.models.hooks import architecture_of
from empirics.models.loaded import LoadedModel
from empirics.models.missing import MissingModelError, in_hub_cache, missing_message
from empirics.models.registry import ModelSpec
from empirics.models.tokenizer import text_tokenizer, tokenization_identity

log = logging.getLogger(__name__)

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


def load_transformers(spec: ModelSpec, path, *, init, dtype, device, placement, download,
                      cache_dir, seed) -> LoadedModel:
    """`spec`'s model in eval mode: the causal LM (text) or the base model (vision), placed
    by `placement` (device_map, max_memory) when it names a device_map."""
    import transformers

    source = transformers_source(spec, path, init, download, cache_dir)
    common = {"local_files_only": not download, "cache_dir": cache_dir}
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
    identity = {"name": spec.name, "loader": "transformers", "source": str(source),
                "init": init, "dtype": str(dtype), "config": _digest(config.to_dict())}
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
        standard = ARCHITECTURES.get(spec.architecture).standard_processor
        if standard is None:
            raise
        log.info("%s: no local image processor; using %s's standard preprocessing",
                 spec.name, spec.architecture)
        return standard()


def transformers_identity(spec: ModelSpec, path, *, init: str, download: bool, cache_dir
                          ) -> dict:
    """What the transformers loader would read: the files (weights only when trained) and
    the tokenizer's behaviour, the configuration's digest without a checkpoint, or the repo
    id to be downloaded."""
    identity = {}
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


def _digest(config: dict) -> str:
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


LOADER = Loader(name="transformers", load=load_transformers, identity=transformers_identity,
                spreads=True)
