"""A folder of saved models (a family trained by `python -m empirics.train`): its models,
each with the `ModelSpec` read from its own configuration, and the pairs to match."""

from __future__ import annotations

import re
from pathlib import Path

from empirics.models.detect import spec_from_checkpoint
from empirics.models.registry import ModelSpec

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
