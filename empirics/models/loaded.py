"""A model ready for capture: what every loader returns (`empirics.models.adapters.Loader`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from empirics.models.registry import ModelSpec


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
