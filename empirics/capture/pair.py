"""The matching engine's input: two models run on the same inputs, aligned, batch by batch.

`text_pair_source` and `image_pair_source` return a `CapturedPair` whose `source` is a
zero-argument callable giving a fresh iterator of aligned batches (a, b), a of shape
(samples, n) with model A's neurons of all layers concatenated in layer order, b likewise for
model B, the same samples in the same order. A batch holds whole documents or images (the
units of the data-level bootstrap). The stream is deterministic: batches are fixed slices of
the inputs and the models run in eval mode, so every pass yields the same data. With
`cache_dir` the first full pass is written to disk and later passes read it
(`empirics.capture.cache`).

About 300 lines, kept whole: the text and image sources are two short recipes around the
same `captured_pair` (manifest, cache, devices); the alignment itself is apart
(`empirics.capture.align`, `empirics.capture.grid`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from empirics.capture.align import (
    ALIGNMENT_RULES,
    SpanAlignment,
    TokenizedText,
    align_tokens,
    pool_spans,
    tokenize_with_bytes,
)
from empirics.capture.cache import cached_stream
from empirics.capture.grid import grid_samples, patch_grid, resample_grid
from empirics.capture.stimuli import ImageStimulus, TextDocument, stimuli_digest
from empirics.engine.moments import Source
from empirics.models.hooks import capture_mlp, layer_widths
from empirics.models.load import LoadedModel
from runstore.progress import progress_bar

ALIGNMENT_VERSION = 1


@dataclass(frozen=True)
class CapturedPair:
    """An aligned activation stream and what it is made of.

    `layer_sizes_a`/`layer_sizes_b` give the neurons per layer (`empirics.records.neurons`
    maps a global index back to (layer, unit)); `manifest` describes models, inputs and
    alignment (it keys the cache and belongs in records); `n_batches` counts the batches.
    `sample_table()` maps every sample of the stream, in stream order, to its input: arrays
    "input" (index into the inputs) and "start"/"end" (byte span, text) or "row"/"col"
    (position on the target grid, images). `render(i)`, where the inputs are made by model A
    (generated images), makes input i's image again (for the examples' thumbnails).
    """

    source: Source
    layer_sizes_a: tuple[int, ...]
    layer_sizes_b: tuple[int, ...]
    manifest: dict
    n_batches: int
    sample_table: Callable[[], dict[str, np.ndarray]]
    render: Callable | None = None


def _input_device(model: torch.nn.Module) -> torch.device:
    """Where the token ids go (the embedding's device, also under a device_map)."""
    embeddings = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    if embeddings is not None:
        return embeddings.weight.device
    return next(model.parameters()).device


def batch_slices(items: Sequence, per_batch: int) -> list[Sequence]:
    """`items` cut into consecutive batches of `per_batch` (the last may be shorter): the
    units of a pair's stream and of the data-level bootstrap."""
    if per_batch < 1:
        raise ValueError(f"at least one input per batch is needed, got {per_batch}")
    return [items[i:i + per_batch] for i in range(0, len(items), per_batch)]


def captured_pair(model_a: LoadedModel, model_b: LoadedModel, manifest: dict, compute,
                  n_batches: int, cache_dir, out_device, table, render=None) -> CapturedPair:
    """The `CapturedPair` of a stream `compute` (a zero-argument callable giving a fresh
    iterator of aligned batches) of two loaded models.

    Parameters
    ----------
    model_a, model_b : the loaded models (identities and layer widths join the manifest).
    manifest : what the stream is made of (inputs, batching, grids); keys the cache.
    compute, n_batches : the stream, computed by running the models, and its batches.
    cache_dir, out_device : where the first full pass is cached (None: none); where the
        yielded tensors go.
    table : zero-argument callable giving the sample table (cached: an image table may run
        a model for its grid).
    render : where model A makes the inputs, `render(i)` makes input i's image again.
    """
    widths_a = tuple(layer_widths(model_a.model, model_a.architecture))
    widths_b = tuple(layer_widths(model_b.model, model_b.architecture))
    manifest = dict(manifest, model_a=model_a.identity, model_b=model_b.identity,
                    layer_sizes_a=widths_a, layer_sizes_b=widths_b,
                    alignment_version=ALIGNMENT_VERSION)
    stream = compute if cache_dir is None else cached_stream(compute, cache_dir, manifest)

    def source():
        for a, b in stream():
            yield a.to(out_device), b.to(out_device)

    return CapturedPair(source, widths_a, widths_b, manifest, n_batches, functools.cache(table),
                        render=render)


class InputError(ValueError):
    """The inputs asked for do not fit a model (the message names the model and the flag)."""


def context_length(loaded: LoadedModel) -> int | None:
    """The positions a text model reads (its configuration's maximum), if it states one."""
    config = getattr(loaded.model, "config", None)
    for name in ("max_position_embeddings", "n_positions"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def check_context(loaded: LoadedModel, tokenized: Sequence[TokenizedText],
                  documents: Sequence[TextDocument], max_tokens: int | None) -> None:
    """Refuse documents that tokenize longer than the model's context: positions past it
    fail inside the model (or, with rotary embeddings, give activations it never learnt)."""
    limit = context_length(loaded)
    if limit is None:
        return
    for tokens, document in zip(tokenized, documents):
        if len(tokens.input_ids) > limit:
            raise InputError(f"document {document.id!r} gives {len(tokens.input_ids)} tokens "
                             f"under --tokens {max_tokens}, beyond the context of "
                             f"{loaded.spec.name} ({limit} positions); use --tokens {limit} "
                             "or less")


def text_pair_source(model_a: LoadedModel, model_b: LoadedModel,
                     documents: Sequence[TextDocument], *, docs_per_batch: int = 8,
                     max_tokens: int | None = 512, store_dtype: torch.dtype = torch.float32,
                     out_device: str | torch.device = "cpu",
                     cache_dir: str | Path | None = None, progress: bool = False,
                     alignment: str = "exact") -> CapturedPair:
    """Aligned-span activations of two language models on the same documents.

    Parameters
    ----------
    model_a, model_b : loaded text models (each with its own tokenizer).
    documents : the inputs; every document is tokenized by both tokenizers.
    docs_per_batch : documents per batch (a batch's samples are their aligned spans).
    max_tokens : per-document truncation of each tokenization (None: none); only bytes both
        truncated tokenizations reach are aligned. No document may come out longer than
        either model's context (`check_context`).
    store_dtype : dtype of the yielded activations (float16/bfloat16 halve the memory; the
        engine's statistics are float64 either way).
    out_device : where yielded tensors live.
    cache_dir : optional activation cache directory.
    progress : show a progress bar over the batches of every pass that runs the models.
    alignment : "exact" (this package's spans, float32 mean pooling) or "official" (the
        official code's spans, pooled in bfloat16 from activations rounded to bfloat16:
        `empirics.capture.align`, docs/matching.md "Replaying the official code").
    """
    if alignment not in ALIGNMENT_RULES:
        raise ValueError(f"alignment must be one of {ALIGNMENT_RULES}, got {alignment!r}")
    tokenized = [(tokenize_with_bytes(model_a.processor, d.text, max_tokens=max_tokens),
                  tokenize_with_bytes(model_b.processor, d.text, max_tokens=max_tokens))
                 for d in documents]
    for side, loaded in enumerate((model_a, model_b)):
        check_context(loaded, [t[side] for t in tokenized], documents, max_tokens)
    alignments = [align_tokens(ta, tb, rule=alignment) for ta, tb in tokenized]
    groups = batch_slices(list(zip(tokenized, alignments)), docs_per_batch)
    pool_dtype = torch.float32 if alignment == "exact" else torch.bfloat16

    def compute():
        for group in progress_bar(groups, desc="text batches", show=progress):
            yield tuple(_text_side(model, [t[side] for t, _ in group], [al for _, al in group],
                                   side, store_dtype, pool_dtype)
                        for side, model in enumerate((model_a, model_b)))

    manifest = dict(kind="text", inputs=stimuli_digest(documents), n_inputs=len(documents),
                    docs_per_batch=docs_per_batch, max_tokens=max_tokens,
                    store_dtype=str(store_dtype),
                    n_samples=int(sum(al.n_spans for al in alignments)),
                    pooling="mean over tokens of each shared-byte-boundary span")
    if alignment != "exact":  # exact manifests stay as they were (their caches stay valid)
        manifest |= dict(alignment=alignment, pooling="bfloat16 mean over tokens of each "
                         "span between token boundaries of both sides (the official rule)")
    return captured_pair(model_a, model_b, manifest, compute, len(groups), cache_dir, out_device,
                 lambda: _span_table(alignments))


def _span_table(alignments: list[SpanAlignment]) -> dict[str, np.ndarray]:
    """Document index and byte span of every aligned span, in stream order."""
    return {"input": np.repeat(np.arange(len(alignments), dtype=np.int64),
                               [al.n_spans for al in alignments]),
            "start": np.concatenate([al.starts for al in alignments]).astype(np.int64),
            "end": np.concatenate([al.ends for al in alignments]).astype(np.int64)}


def _text_side(loaded: LoadedModel, docs: list[TokenizedText], alignments: list[SpanAlignment],
               side: int, store_dtype: torch.dtype, pool_dtype: torch.dtype = torch.float32
               ) -> torch.Tensor:
    """One model's pooled activations (spans of all docs, neurons) for one batch."""
    device = _input_device(loaded.model)
    length = max(len(d.input_ids) for d in docs)
    ids = torch.zeros(len(docs), length, dtype=torch.long)
    mask = torch.zeros(len(docs), length, dtype=torch.long)
    spans = np.full((len(docs), length), -1, dtype=np.int64)
    extra, offset = [], 0
    for row, (doc, al) in enumerate(zip(docs, alignments)):
        ids[row, :len(doc.input_ids)] = torch.from_numpy(doc.input_ids)
        mask[row, :len(doc.input_ids)] = 1
        span = al.span_b if side else al.span_a
        spans[row, :len(span)] = np.where(span >= 0, span + offset, -1)
        extra.append((al.extra_b if side else al.extra_a) + [row * length, offset])
        offset += al.n_spans
    network = getattr(loaded.model, "base_model", loaded.model)
    with torch.inference_mode(), capture_mlp(loaded.model, loaded.architecture) as captured:
        # right padding: causal attention keeps real tokens blind to the padding after them
        network(input_ids=ids.to(device), attention_mask=mask.to(device), use_cache=False)
        layers = captured.activations(tuple(ids.shape))
    flat, extra = spans.reshape(-1), np.concatenate(extra)
    pooled = [pool_spans(x.reshape(-1, x.shape[-1]), flat, offset, extra=extra,
                         dtype=pool_dtype) for x in layers]
    return torch.cat(pooled, dim=1).to(store_dtype)


def image_pair_source(model_a: LoadedModel, model_b: LoadedModel,
                      images: Sequence[ImageStimulus], *, images_per_batch: int = 16,
                      target_grid: tuple[int, int] | None = None,
                      store_dtype: torch.dtype = torch.float32,
                      out_device: str | torch.device = "cpu",
                      cache_dir: str | Path | None = None, progress: bool = False
                      ) -> CapturedPair:
    """Patch-position activations of two vision models on the same images.

    Each model preprocesses the images its own way; prefix tokens (CLS, registers) are
    dropped and both patch maps are resampled bilinearly to `target_grid` (default: model
    B's grid). Samples are (image, row, column) positions, image-major. The other
    parameters are those of `text_pair_source`.
    """
    groups = batch_slices(list(images), images_per_batch)
    prefix_a, prefix_b = prefix_tokens(model_a), prefix_tokens(model_b)

    def compute():
        for group in progress_bar(groups, desc="image batches", show=progress):
            maps_b = _patch_maps(model_b, group, prefix_b)
            target = tuple(target_grid or maps_b[0].shape[-2:])
            maps_a = _patch_maps(model_a, group, prefix_a)
            yield tuple(torch.cat([grid_samples(resample_grid(m, target)) for m in maps],
                                  dim=1).to(store_dtype) for maps in (maps_a, maps_b))

    manifest = dict(kind="image", inputs=stimuli_digest(images), n_inputs=len(images),
                    images_per_batch=images_per_batch,
                    target_grid=list(target_grid) if target_grid else "model B's grid",
                    prefix_tokens=[prefix_a, prefix_b], store_dtype=str(store_dtype),
                    resampling="bilinear, align_corners=False")
    def table():
        grid = tuple(target_grid or _patch_maps(model_b, images[:1], prefix_b)[0].shape[-2:])
        image, row, col = np.meshgrid(np.arange(len(images)), np.arange(grid[0]),
                                      np.arange(grid[1]), indexing="ij")
        return {"input": image.ravel().astype(np.int64), "row": row.ravel().astype(np.int64),
                "col": col.ravel().astype(np.int64)}

    return captured_pair(model_a, model_b, manifest, compute, len(groups), cache_dir, out_device,
                         table)


def prefix_tokens(loaded: LoadedModel) -> int:
    """Tokens before the patch grid: the spec's (CLS; pMF's 20 conditioning tokens) plus the
    register tokens the loaded configuration states (DINOv3: ``num_register_tokens``)."""
    registers = getattr(getattr(loaded.model, "config", None), "num_register_tokens", 0)
    return loaded.spec.prefix_tokens + int(registers or 0)


#: Architectures whose tower is an open_clip visual module (called on pixels directly).
OPEN_CLIP_TOWERS = ("open_clip_vit", "open_clip_eva")


def tower_forward(loaded: LoadedModel, pixels: torch.Tensor) -> None:
    """Run a vision tower on preprocessed pixels (its hooks record what they capture)."""
    if loaded.architecture in OPEN_CLIP_TOWERS:
        loaded.model(pixels)
    else:
        loaded.model(pixel_values=pixels)


def _pixels(loaded: LoadedModel, group: Sequence[ImageStimulus]) -> torch.Tensor:
    if loaded.architecture in OPEN_CLIP_TOWERS:
        return torch.stack([loaded.processor(item.image) for item in group])
    processed = loaded.processor(images=[item.image for item in group], return_tensors="pt")
    return processed["pixel_values"]


def _patch_maps(loaded: LoadedModel, group, prefix: int) -> list[torch.Tensor]:
    """Every layer's (B, C, H, W) patch map of one batch of images."""
    parameter = next(loaded.model.parameters())
    pixels = _pixels(loaded, group).to(device=parameter.device, dtype=parameter.dtype)
    with torch.inference_mode(), capture_mlp(loaded.model, loaded.architecture) as captured:
        tower_forward(loaded, pixels)
        tokens = captured.activations((len(group), -1))
    return [patch_grid(x, prefix) for x in tokens]
