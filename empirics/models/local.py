"""Models named by a local checkpoint: a name outside the registry with a checkpoint
directory gets its `ModelSpec` from that checkpoint's own configuration."""

from __future__ import annotations

from pathlib import Path

import torch

from empirics.models.hooks import architecture_of, layer_widths
from empirics.models.registry import ModelSpec, get_spec

VISION_TYPES = ("dinov2", "dinov2_with_registers")


def resolve_spec(name: str, path: str | Path | None = None) -> ModelSpec:
    """The registry's entry for `name`, or, for a name outside it, the spec of the
    transformers checkpoint at `path` (architecture, MLP widths and parameter count read
    from its config.json through a build on the meta device). Raises KeyError for an
    unknown name without a checkpoint directory."""
    try:
        return get_spec(name)
    except KeyError:
        if path is None or not (Path(path) / "config.json").is_file():
            raise
    return spec_from_checkpoint(name, Path(path))


def spec_from_checkpoint(name: str, directory: Path) -> ModelSpec:
    """The `ModelSpec` of the transformers checkpoint in `directory`, named `name`."""
    import transformers

    config = transformers.AutoConfig.from_pretrained(directory, local_files_only=True)
    kind = "vision" if config.model_type in VISION_TYPES else "text"
    model_class = (transformers.AutoModelForCausalLM if kind == "text"
                   else transformers.AutoModel)
    with torch.device("meta"):
        model = model_class.from_config(config)
    architecture = architecture_of(model)
    widths = layer_widths(model, architecture)
    if len(set(widths)) != 1:
        raise ValueError(f"{directory}: MLP layers of several widths {sorted(set(widths))} "
                         "are not supported")
    prefix = 1 + getattr(config, "num_register_tokens", 0) if kind == "vision" else 0
    return ModelSpec(name=name, family="local", kind=kind, loader="transformers",
                     n_params=sum(p.numel() for p in model.parameters()), d_mlp=widths[0],
                     n_layers=len(widths), architecture=architecture, prefix_tokens=prefix)
