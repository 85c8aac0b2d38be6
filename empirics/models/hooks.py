"""Capture post-nonlinearity MLP activations of every layer with forward pre-hooks.

The neuron vector of a layer is the *input of the MLP's output projection* (each
architecture's `hook_points`, `empirics.models.architectures`):
- plain MLPs (GPT-NeoX/Pythia, OPT, GPT-2, DINOv2 S/B/L, open_clip ViT): the activation's
  output, act(W_in x + b_in), because nothing sits between the activation and the projection
  (dropout in OPT/GPT-2 acts after it, and is off in eval mode);
- gated MLPs (Qwen2, DINOv2-giant SwiGLU): act(gate(x)) * up(x), the vector the down projection
  reads. SiLU(gate) alone is not a neuron's output: the up branch rescales it token by token
  and only the product reaches the residual stream (TransformerLens's `hook_post` is the same
  tensor).
One pre-hook per layer on that projection covers all architectures with one rule, and needs
no knowledge of how the activation module is named.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn

from empirics.models.adapters import model_type
from empirics.models.architectures import ARCHITECTURES


def architecture_of(model: nn.Module) -> str:
    """The name of a loaded model's architecture: the first registered one
    (`empirics.models.architectures`) that recognises it (its HF model type, or the shape of
    a module without one: an open_clip ViT or timm trunk, a pMF generator)."""
    for candidate in ARCHITECTURES:
        if candidate.recognises(model):
            return candidate.name
    kind = model_type(model)
    found = f" (model type {kind!r})" if kind else ""
    raise ValueError(f"no MLP hook point known for {type(model).__name__}{found}; register "
                     "its architecture in empirics.models.architectures")


#: TransformerLens 4's `TransformerBridge` wraps the modules it hooks in place, the original
#: one moving to ``<name>._original_component``; module paths are read through these segments.
BRIDGE_SEGMENT = "._original_component"


def mlp_modules(model: nn.Module, architecture: str | None = None) -> list[nn.Module]:
    """The output projection of every MLP layer, in layer order.

    Names are matched as a suffix of the module path, so the same pattern finds the layers of
    a causal-LM wrapper and of its base model, and of a model inside a TransformerLens bridge
    (`BRIDGE_SEGMENT`; where a wrapper and the module it wraps read alike, the inner one,
    visited later, is kept). A hook point of several module lists (pMF's shared blocks and
    u head) gives the layers of each list in turn.
    """
    points = ARCHITECTURES.get(architecture or architecture_of(model)).hook_points
    return [module for point in points for module in _numbered(model, point)]


def _numbered(model: nn.Module, point: str) -> list[nn.Module]:
    """The modules matching `point` (with its ``{layer}`` index), in index order."""
    pattern = re.escape(point).replace(r"\{layer\}", r"(\d+)")
    found = {}
    for name, module in model.named_modules():
        hit = re.search(rf"(?:^|\.){pattern}$", name.replace(BRIDGE_SEGMENT, ""))
        if hit:
            found[int(hit.group(1))] = module
    if not found or sorted(found) != list(range(len(found))):
        raise ValueError(f"{type(model).__name__}: MLP layers {sorted(found)} found for "
                         f"pattern {point!r}")
    return [found[layer] for layer in range(len(found))]


def layer_widths(model: nn.Module, architecture: str | None = None) -> list[int]:
    """Neurons per MLP layer: the input width of every output projection."""
    widths = []
    for module in mlp_modules(model, architecture):
        if isinstance(module, nn.Linear):
            widths.append(module.in_features)
        else:  # GPT-2's Conv1D stores its weight as (in, out)
            widths.append(int(module.weight.shape[0]))
    return widths


class MlpCapture:
    """Activations captured during one forward pass, one tensor per layer.

    `layers[i]` holds layer i's neuron vector as the module received it: (batch, tokens,
    width) for most architectures, (batch * tokens, width) for OPT, whose decoder layer
    flattens the sequence; `activations(batch_shape)` restores a common shape.

    Under a device_map (a model spread over devices) each tensor stays on its layer's device
    while the forward pass runs; `activations` brings them to one device: `device`, or by
    default the first layer's.
    """

    def __init__(self, n_layers: int, dtype: torch.dtype | None,
                 device: torch.device | str | None = None):
        self.layers: list[torch.Tensor | None] = [None] * n_layers
        self.dtype = dtype
        self.device = device

    def record(self, layer: int, value: torch.Tensor) -> None:
        """Keep layer `layer`'s tensor (detached, in the storage dtype)."""
        value = value.detach()
        self.layers[layer] = value if self.dtype is None else value.to(self.dtype)

    def activations(self, batch_shape: tuple[int, ...]) -> list[torch.Tensor]:
        """Every layer reshaped to (*batch_shape, width); raises if a layer did not run."""
        missing = [i for i, x in enumerate(self.layers) if x is None]
        if missing:
            raise RuntimeError(f"MLP layers {missing} did not run in the forward pass")
        device = self.device if self.device is not None else self.layers[0].device
        return [x.to(device).reshape(*batch_shape, x.shape[-1]) for x in self.layers]

    def clear(self) -> None:
        """Forget the captured tensors (before the next forward pass)."""
        self.layers = [None] * len(self.layers)


@contextmanager
def capture_mlp(model: nn.Module, architecture: str | None = None, *,
                dtype: torch.dtype | None = None,
                device: torch.device | str | None = None) -> Iterator[MlpCapture]:
    """Record the MLP neuron vector of every layer while the block runs.

    Parameters
    ----------
    model : a loaded model (HF transformers model or open_clip vision tower).
    architecture : a registered architecture's name; found from the model when omitted.
    dtype : storage dtype of the captured tensors (e.g. torch.float16); None keeps the
        model's dtype. Statistics downstream are accumulated in float64 regardless.
    device : where `MlpCapture.activations` returns every layer (default: the first layer's
        device; layers of a model spread by a device_map are captured where they run).

    Yields
    ------
    MlpCapture, filled by every forward pass inside the block.

    Notes
    -----
    The hooks are removed in ``finally``: an exception inside the block leaves the model
    exactly as it was.
    """
    modules = mlp_modules(model, architecture)
    capture = MlpCapture(len(modules), dtype, device)
    handles = []
    try:
        for layer, module in enumerate(modules):
            handles.append(module.register_forward_pre_hook(_recorder(capture, layer)))
        yield capture
    finally:
        for handle in handles:
            handle.remove()


def _recorder(capture: MlpCapture, layer: int):
    def hook(module, inputs):
        capture.record(layer, inputs[0])

    return hook
