"""A TransformerLens model as a model source: `from_transformer_lens` turns a
`TransformerBridge` (TransformerLens 4) into a `LoadedModel` that the capture and the
matching take like any other.

TransformerLens 4 removed `HookedTransformer`; its `TransformerBridge` wraps a Hugging Face
model in place (`hooks.BRIDGE_SEGMENT`), so the bridge's own model is hooked as that
architecture always is, and a neuron is the same tensor as the bridge's
``blocks.{layer}.mlp.hook_post`` (tests/empirics/models/test_lens.py compares them). Nothing
here imports transformer_lens: it stays an optional dependency (the ``lens`` extra).

Notes
-----
The bridge adds modules of its own (GPT-2's fused attention split into q, k and v copies), so
the size recorded is the bridge's `n_params_total`, the model's count before it was wrapped,
checked against the count its configuration gives. A model in memory has no files to name it,
so its identity is the sha256 of its tensors (each with its name, dtype and shape) and what
its tokenizer does: a record made from other weights under the same name is never reused,
and weights changed in place after the conversion are refused (`current_identity`).
"""

from __future__ import annotations

import hashlib

import torch
from torch import nn

from empirics.models.detect import spec_from_config
from empirics.models.load import LoadedModel, check_against_spec
from empirics.models.tokenizer import tokenization_identity


def tensors_sha256(model: nn.Module) -> str:
    """sha256 of a module's state (every tensor's name, dtype, shape and bytes, by name)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        flat = tensor.detach().to("cpu").contiguous().reshape(-1)
        digest.update(f"{name}:{flat.dtype}:{tuple(tensor.shape)}\n".encode())
        digest.update(flat.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def from_transformer_lens(bridge, name: str, *, tokenizer=None) -> LoadedModel:
    """A TransformerLens `TransformerBridge` of a language model as a `LoadedModel` named
    `name`, in eval mode.

    Parameters
    ----------
    bridge : a `transformer_lens.model_bridge.TransformerBridge` (e.g. from
        ``TransformerBridge.boot_transformers(...)``) of an architecture the hooks know.
    name : the name its records give it.
    tokenizer : the (fast) tokenizer that cuts the text; default the bridge's. TransformerLens
        may change a tokenizer it is given (it rebuilt GPT-2's byte-level post-processor to
        add a BOS token, which drops the offsets' whitespace trimming), and the byte-span
        alignment reads the offsets, so pass the model's own to match as its files would.

    Raises
    ------
    TypeError : not a bridge over a torch model (a HookedTransformer of TransformerLens 3,
        a bridge to a remote engine). UnsupportedModelError : an architecture without a known
        MLP hook point.
    """
    model = getattr(bridge, "original_model", None) if hasattr(bridge, "hook_dict") else None
    if not isinstance(model, nn.Module) or not hasattr(model, "config"):
        raise TypeError(f"{type(bridge).__name__} is not a TransformerLens 4 TransformerBridge "
                        "over a Hugging Face model (HookedTransformer, removed in "
                        "TransformerLens 4.0, is not taken: boot the model with "
                        "TransformerBridge.boot_transformers)")
    spec = spec_from_config(name, model.config, family="transformer_lens")
    if spec.kind != "text":
        raise TypeError(f"{name}: a TransformerLens source must be a language model, not a "
                        f"{spec.architecture}")
    bridge.eval()
    tokenizer = tokenizer if tokenizer is not None else bridge.tokenizer
    identity = {"name": name, "loader": "transformer_lens", "init": "pretrained",
                "tensors_sha256": tensors_sha256(model),
                "tokenizer": tokenization_identity(tokenizer)}
    loaded = LoadedModel(spec, model, tokenizer, spec.architecture, "pretrained",
                         identity, size=int(bridge.n_params_total))
    return check_against_spec(loaded, f"the TransformerBridge {name}")


def current_identity(loaded: LoadedModel) -> dict:
    """`loaded.identity`, after checking that a model converted here still holds the weights
    it was converted with (its tensors are hashed again); raises ValueError if they changed."""
    recorded = loaded.identity.get("tensors_sha256")
    if recorded is not None and tensors_sha256(loaded.model) != recorded:
        raise ValueError(f"the weights of {loaded.spec.name} changed after "
                         "from_transformer_lens; convert the model again so that its record "
                         "names the weights it was made from")
    return loaded.identity
