"""Models named by a local checkpoint: a name outside the registry with a checkpoint
directory gets its `ModelSpec` from that checkpoint's own configuration."""

from __future__ import annotations

import re
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


#: How `python -m empirics.train` names a model: <architecture>-w<width>-s<seed>.
TRAINED_NAME = re.compile(r"^(?P<architecture>[a-z0-9_]+)-w(?P<width>\d+)-s(?P<seed>\d+)$")


def saved_models(directory: str | Path) -> dict[str, Path]:
    """Model name -> checkpoint folder of every saved model under `directory` (a subfolder
    with config.json, named after its model), sorted by name."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory} is not a folder of saved models")
    found = {path.name: path for path in sorted(directory.iterdir())
             if (path / "config.json").is_file()}
    if not found:
        raise FileNotFoundError(f"no saved models (folders with config.json) in {directory}; "
                                "train some with python -m empirics.train")
    return found


def trained_family(directory: str | Path) -> list[tuple[ModelSpec, Path]]:
    """Every saved model under `directory` (`saved_models`), with its spec read from the
    checkpoint, sorted by name."""
    return [(spec_from_checkpoint(name, path), path)
            for name, path in saved_models(directory).items()]


def trained_pairs(family: list[tuple[ModelSpec, Path]]) -> list[tuple]:
    """The pairs of a trained family to match: across architectures at the same width and
    seed, and within an architecture the seed pairs of each width (by their names). Returns
    (spec_a, spec_b, (path_a, path_b)) triples, cross-architecture pairs first."""
    named = {}
    for spec, path in family:
        match = TRAINED_NAME.match(spec.name)
        if match:
            key = (match["architecture"], int(match["width"]), int(match["seed"]))
            named[key] = (spec, path)
    cross, seeds = [], []
    for (arch, width, seed), (spec, path) in sorted(named.items()):
        for (other, w, s), (spec_b, path_b) in sorted(named.items()):
            if w == width and s == seed and other > arch:
                cross.append((spec, spec_b, (path, path_b)))
            if other == arch and w == width and s > seed:
                seeds.append((spec, spec_b, (path, path_b)))
    return cross + seeds
