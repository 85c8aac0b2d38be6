"""A language model's neuron output directions and its unembedding with the final norm folded in.

A neuron i of an MLP writes a_i * W_out[i] into the residual stream; its direct effect on
the logits is that vector carried through the final norm and the unembedding. The norm is
linearised as follows (docs/selectivity.md):

- LayerNorm (GPT-NeoX/Pythia, OPT, GPT-2): LN(x) = gain * (x - mean(x)) / std(x) + bias.
  Centring is linear, so W_out[i] is centred over d_model; the gain is folded into the
  unembedding (diag(gain) W_U); 1/std is a positive scalar per token and the bias a constant
  shared by every neuron, and excess kurtosis is invariant to both, so neither is needed.
- RMSNorm (Qwen2, Llama, Mistral, Qwen3): x * gain / rms(x): the gain is folded in, nothing
  is centred.
- OPT's `project_out` (models whose word_embed_proj_dim differs from hidden_size, e.g.
  OPT-350m) maps the normed residual to the embedding width before the unembedding; it is
  folded in too. OPT-350m is post-LN (no final norm after the last block): the norm folded in
  is the last block's `final_layer_norm`, the last norm the residual stream passes through;
  earlier blocks' norms are not (the direct path ignores them in every architecture).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from empirics.models.architectures import ARCHITECTURES
from empirics.models.hooks import mlp_modules
from empirics.models.load import LoadedModel


@dataclass(frozen=True)
class Unembedding:
    """The effective unembedding (d_model, vocab) and how the final norm was folded in."""

    matrix: torch.Tensor
    centre: bool
    norm: str


def output_directions(loaded: LoadedModel, *, centre: bool) -> list[torch.Tensor]:
    """Every MLP layer's output weights as (d_mlp, d_model) float32 tensors (rows: neurons),
    centred over d_model when `centre` (a LayerNorm follows)."""
    directions = []
    for module in mlp_modules(loaded.model, loaded.architecture):
        weight = module.weight.detach().float()
        rows = weight.T if isinstance(module, nn.Linear) else weight  # GPT-2 Conv1D: (in, out)
        directions.append(rows - rows.mean(dim=1, keepdim=True) if centre else rows)
    return directions


def effective_unembedding(loaded: LoadedModel, *, dtype: torch.dtype = torch.float32,
                          device: torch.device | str | None = None) -> Unembedding:
    """diag(gain) [P^T] W_U^T of a causal LM, (d_model, vocab), on `device` in `dtype`.

    Raises ValueError for a model without an output embedding or a known final norm.
    """
    model, architecture = loaded.model, loaded.architecture
    normed = [a.name for a in ARCHITECTURES if a.final_norm]
    if architecture not in normed or model.get_output_embeddings() is None:
        raise ValueError(f"{loaded.spec.name}: vocabulary projections need a causal language "
                         f"model of an architecture with a final norm ({', '.join(normed)}); "
                         f"got {architecture}")
    device = device if device is not None else next(model.parameters()).device
    name, norm = _final_norm(model, architecture)
    unembed = model.get_output_embeddings().weight.detach().to(device, torch.float32).T
    project = _project_out(model)
    if project is not None:
        unembed = project.weight.detach().to(device, torch.float32).T @ unembed
    gain = getattr(norm, "weight", None)
    if gain is not None:
        unembed = gain.detach().to(device, torch.float32)[:, None] * unembed
    return Unembedding(unembed.to(dtype), centre=isinstance(norm, nn.LayerNorm), norm=name)


def _final_norm(model: nn.Module, architecture: str) -> tuple[str, nn.Module]:
    modules = dict(model.named_modules())
    last = len(mlp_modules(model, architecture)) - 1
    patterns = ARCHITECTURES.get(architecture).final_norm
    for pattern in patterns:
        suffix = pattern.format(last=last)
        for name, module in modules.items():
            if (name == suffix or name.endswith("." + suffix)) and module is not None:
                return name, module
    raise ValueError(f"no final norm {patterns} in {type(model).__name__}")


def _project_out(model: nn.Module) -> nn.Linear | None:
    for name, module in model.named_modules():
        if name.endswith("decoder.project_out") and isinstance(module, nn.Linear):
            return module
    return None
