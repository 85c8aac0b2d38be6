"""The examples part of the report's payload: documents, thumbnails and per-row examples.

Text examples travel as (value, document, start byte, end byte) and documents as base64 of
their UTF-8 bytes, so the page slices the exact bytes the sample table names and decodes them
with replacement characters (a byte offset never falls inside a character the page cannot
show). Image examples travel as (value, thumbnail) plus their uint8 activation maps, all
maps of a model in one base64 string. Rows without the model, and samples past the kept
ones, get -1 and null.
"""

from __future__ import annotations

import base64
import io

import numpy as np


def document_bytes(text: str) -> bytes:
    """UTF-8 bytes of a record's text; undecodable bytes kept as surrogate escapes come back
    as the original bytes, other lone surrogates as their (invalid) UTF-8 encodings."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def shared_inputs(models) -> dict:
    """The inputs every model's examples refer to: "kind" ("text", "image" or "none"),
    "documents" (base64), "thumbs" (PNG data URIs), "grid" ([H, W] or None) and, per
    examples record (by id), "offset" (its first document) and "thumb_index" (input ->
    thumbnail, -1 where none)."""
    found = {"kind": "none", "documents": [], "thumbs": [], "grid": None, "offset": {},
             "thumb_index": {}}
    records = {id(m.examples): m.examples for m in models if m.examples is not None}
    seen = []
    for key, record in records.items():
        same = next((k for k, other in seen if other.inputs == record.inputs
                     and other.texts == record.texts), None)
        if same is not None:
            found["offset"][key] = found["offset"][same]
            found["thumb_index"][key] = found["thumb_index"][same]
            continue
        seen.append((key, record))
        found["offset"][key] = len(found["documents"])
        found["documents"] += [base64.b64encode(document_bytes(t)).decode("ascii")
                               for t in record.texts]
        index = np.full(len(record.inputs), -1, dtype=np.int64)
        if record.images:
            shown = record.images["thumbnail_inputs"]
            index[shown] = len(found["thumbs"]) + np.arange(len(shown))
            found["thumbs"] += [png_data_uri(t) for t in record.images["thumbnails"]]
            found["grid"] = list(record.images["maps_a"].shape[2:])
        found["thumb_index"][key] = index
        found["kind"] = "text" if record.texts else "image" if record.images else found["kind"]
    return found


def model_examples(model, units: np.ndarray, inputs: dict, *, max_images: int) -> dict:
    """One model's examples for every row (`units`: its global neuron per row, -1: none)."""
    record = model.examples
    if record is None:
        return {"k": 0}
    present = units >= 0
    index = np.maximum(units, 0)
    if record.images:
        return _image_examples(model, index, present, inputs, max_images)
    values = getattr(record, f"values_{model.side}")[index]
    samples = getattr(record, f"samples_{model.side}")[index]
    valid = present[:, None] & (samples >= 0)
    table = record.sample_table
    safe = np.maximum(samples, 0)
    found = {"k": int(record.k), "value": _values(values, valid),
             "input": _ints(table["input"][safe], valid)}
    if "start" in table:
        found["doc"] = _ints(table["input"][safe] + inputs["offset"][id(record)], valid)
        found["start"] = _ints(table["start"][safe], valid)
        found["end"] = _ints(table["end"][safe], valid)
    return found


def _image_examples(model, index, present, inputs: dict, max_images: int) -> dict:
    images = model.examples.images
    side = model.side
    values = images[f"values_{side}"][index][:, :max_images]
    shown = images[f"inputs_{side}"][index][:, :max_images]
    valid = present[:, None] & (shown >= 0)
    thumbs = inputs["thumb_index"][id(model.examples)][np.maximum(shown, 0)]
    maps = images[f"maps_{side}"][index][:, :max_images] * valid[..., None, None]
    return {"k": int(values.shape[1]), "value": _values(values, valid),
            "input": _ints(shown, valid), "thumb": _ints(thumbs, valid),
            "maps": base64.b64encode(np.ascontiguousarray(maps).tobytes()).decode("ascii")}


def _values(values: np.ndarray, valid: np.ndarray) -> list:
    flat = np.where(valid, values, np.nan).ravel()
    return [float(f"{v:.4g}") if np.isfinite(v) else None for v in flat]


def _ints(values: np.ndarray, valid: np.ndarray) -> list:
    return np.where(valid, values, -1).astype(np.int64).ravel().tolist()


def png_data_uri(pixels: np.ndarray) -> str:
    """A data: URI of an (H, W, 3) uint8 image as PNG."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
