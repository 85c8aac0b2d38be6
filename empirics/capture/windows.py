"""One model's per-token MLP activations over a corpus cut into windows of its context.

The documents' token ids are joined into one stream, each document followed by the
end-of-text token as in training (`empirics.pipeline.train.token_ids`, which tokenizes with
`tokenized` here), and the stream is cut into whole windows of `context` tokens
(`whole_windows`, which training cuts its windows with too). The
windows run in batches through the network without its language-model head; the stream
yields every layer's neuron vectors (`empirics.models.hooks`), one row per token.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np
import torch
from torch import nn

from empirics.capture.stimuli import TextDocument
from empirics.models.hooks import capture_mlp


def tokenized(tokenizer, documents: Sequence[TextDocument], *, batch: int = 256
              ) -> Iterator[np.ndarray]:
    """The token ids of every document (no special tokens), in order, tokenized `batch`
    documents at a time (so a caller that stops early tokenizes no further)."""
    for start in range(0, len(documents), batch):
        texts = [d.text for d in documents[start:start + batch]]
        for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]:
            yield np.asarray(ids, dtype=np.int64)


def document_ids(tokenizer, documents: Sequence[TextDocument], *, batch: int = 256
                 ) -> list[np.ndarray]:
    """The token ids of every document (no special tokens), in order."""
    return list(tokenized(tokenizer, documents, batch=batch))


def whole_windows(stream: np.ndarray, length: int) -> np.ndarray:
    """(windows, length): the stream cut into whole windows (the tail that fills none is
    dropped)."""
    n_windows = len(stream) // length
    return stream[: n_windows * length].reshape(n_windows, length)


def token_windows(ids: Sequence[np.ndarray], eos: int | None, context: int) -> np.ndarray:
    """(windows, context) token ids: the documents joined (each followed by `eos` unless it is
    None) and cut into whole windows."""
    if context < 1:
        raise ValueError(f"a window needs at least one token, got context {context}")
    tail = [] if eos is None else [np.asarray([eos], dtype=np.int64)]
    stream = np.concatenate([part for doc in ids for part in (doc, *tail)] or [np.zeros(0)])
    return whole_windows(stream.astype(np.int64), context)


def window_activations(model: nn.Module, architecture: str, windows: np.ndarray, *,
                       batch: int = 64) -> Iterator[list[torch.Tensor]]:
    """Every layer's activations, (tokens, width) each, batch by batch of `windows`.

    Parameters
    ----------
    model : a loaded causal LM in eval mode; the ids go to its embedding's device.
    architecture : its registered architecture (`empirics.models.architectures`).
    windows : (windows, context) token ids (`token_windows`).
    batch : windows per forward pass.
    """
    if batch < 1:
        raise ValueError(f"at least one window per batch is needed, got {batch}")
    device = model.get_input_embeddings().weight.device
    network = getattr(model, "base_model", model)  # the head's logits are not needed
    with torch.inference_mode(), capture_mlp(model, architecture) as captured:
        for start in range(0, len(windows), batch):
            ids = torch.from_numpy(windows[start:start + batch]).to(device)
            network(input_ids=ids, use_cache=False)
            yield captured.activations((ids.numel(),))
            captured.clear()


def document_activations(model: nn.Module, architecture: str, ids: Sequence[np.ndarray],
                         neurons: np.ndarray, *, batch: int = 32,
                         pad: int = 0) -> list[np.ndarray]:
    """Each document's per-token activations of `neurons`, (tokens, len(neurons)) float32.

    Parameters
    ----------
    ids : token ids of every document, already cut to the longest length wanted (>= 1).
    neurons : global neuron ids (layers concatenated in order).
    pad : the id the shorter documents of a batch are padded with on the right; under causal
        attention no real token sees the padding, so no attention mask is needed.
    """
    neurons = np.asarray(neurons, dtype=np.int64)
    device = model.get_input_embeddings().weight.device
    network = getattr(model, "base_model", model)
    found: list[np.ndarray] = []
    with torch.inference_mode(), capture_mlp(model, architecture) as captured:
        for start in range(0, len(ids), batch):
            group = ids[start:start + batch]
            longest = max(len(doc) for doc in group)
            block = np.full((len(group), longest), pad, dtype=np.int64)
            for row, doc in enumerate(group):
                block[row, :len(doc)] = doc
            network(input_ids=torch.from_numpy(block).to(device), use_cache=False)
            layers = captured.activations((len(group), longest))
            chosen = torch.cat(layers, dim=-1)[..., torch.from_numpy(neurons).to(device)]
            chosen = chosen.float().cpu().numpy()
            found += [chosen[row, :len(doc)] for row, doc in enumerate(group)]
            captured.clear()
    return found
