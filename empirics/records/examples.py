"""ExamplesRecord: the top-activating samples of both models of a matched pair, with the
table that maps each sample back to its input (torch-free; gathered by
`empirics.analysis.examples`).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from runstore import Record


@dataclasses.dataclass(frozen=True)
class ExamplesRecord(Record):
    """Top-activating samples of both models of a matched pair.

    `values_*`/`samples_*` are (neurons, k) with neurons in the engine's global order
    (`empirics.records.neurons` maps them to layer and unit); `sample_table` maps each
    sample index to its input: "input" (index into `inputs`) plus "start"/"end" byte offsets
    (text) or "row"/"col" grid positions (images) or nothing more (toy inputs).
    `inputs` lists the input ids; `texts` the documents' text when the inputs are text, so
    a report can be rendered from the record alone. `images` is {} unless the inputs are
    images; then it holds `TopImages.result()` of each model ("values_a", "inputs_a",
    "maps_a", the same with "_b") and "thumbnails" (images, S, S, 3) uint8 of the images
    "thumbnail_inputs" (indices into `inputs`) that some neuron's top images include.
    """

    kind: ClassVar[str] = "examples"
    version: ClassVar[int] = 2

    model_a: str
    model_b: str
    k: int
    layer_sizes_a: list
    layer_sizes_b: list
    values_a: np.ndarray
    samples_a: np.ndarray
    values_b: np.ndarray
    samples_b: np.ndarray
    sample_table: dict
    inputs: list
    texts: list
    images: dict
