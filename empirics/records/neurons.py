"""A neuron's two names: (layer, unit) inside its model, and its global index in the engine's
order (all layers' units concatenated, layer 0 first). Every conversion in the package goes
through these functions. Torch-free."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def hook_name(layer: int) -> str:
    """The TransformerLens name of a layer's MLP activations (what the engine matched)."""
    return f"blocks.{int(layer)}.mlp.hook_post"


def layer_offsets(layer_sizes: Sequence[int]) -> np.ndarray:
    """(layers,) global index of each layer's first unit."""
    return np.concatenate([[0], np.cumsum(layer_sizes, dtype=np.int64)[:-1]]).astype(np.int64)


def global_units(layer, unit, layer_sizes: Sequence[int]) -> np.ndarray:
    """(layer, unit) -> global index; refuses a unit outside its layer."""
    layer, unit = np.asarray(layer, dtype=np.int64), np.asarray(unit, dtype=np.int64)
    sizes = np.asarray(layer_sizes, dtype=np.int64)
    if layer.size and (layer.min() < 0 or layer.max() >= len(sizes) or unit.min() < 0
                       or np.any(unit >= sizes[layer])):
        raise ValueError(f"(layer, unit) out of range for layers of sizes {list(layer_sizes)}")
    return layer_offsets(layer_sizes)[layer] + unit


def layer_units(index, layer_sizes: Sequence[int], *, missing: int | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """Global indices -> (layer, unit).

    With `missing` (e.g. -1), indices equal to it map to (missing, missing), for tables in
    which a row has no neuron of some model; any other index outside the model is refused.
    """
    index = np.asarray(index, dtype=np.int64)
    absent = index == missing if missing is not None else np.zeros(index.shape, dtype=bool)
    bounds = np.cumsum(layer_sizes, dtype=np.int64)
    present = index[~absent]
    if present.size and (present.min() < 0 or present.max() >= bounds[-1]):
        raise ValueError(f"neuron index out of range for layers of sizes {list(layer_sizes)}")
    safe = np.where(absent, 0, index)
    layer = np.searchsorted(bounds, safe, side="right")
    unit = safe - layer_offsets(layer_sizes)[layer]
    if missing is None:
        return layer, unit
    return np.where(absent, missing, layer), np.where(absent, missing, unit)


def neuron_layers(layer_sizes: Sequence[int]) -> np.ndarray:
    """(neurons,) layer of every global index."""
    return np.repeat(np.arange(len(layer_sizes)), layer_sizes)
