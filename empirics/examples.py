"""Top-activating samples per neuron, collected while the engine streams the inputs.

`TopExamples` keeps, for every neuron, its k largest activations and the global index of the
sample (aligned text span, image position, toy input) each came from. `observe_first_pass`
wraps a `Source` so an observer sees every batch of the first complete pass over the stream,
the pass the matching engine makes anyway: no second pass over the data is needed.
`ExamplesRecord` stores both models' examples with the sample table that maps a sample index
back to its input (document and byte span, or image and grid position).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, ClassVar

import numpy as np
import torch

from empirics.moments import Source
from empirics.topk import TopK, merge_partners, sorted_topk
from theory.records import Record

Observer = Callable[[int, torch.Tensor, torch.Tensor], None]


class TopExamples:
    """Streaming top-k samples per neuron (largest activation first, earlier sample on ties).

    Parameters
    ----------
    n_neurons : neurons (columns of every batch).
    k : examples kept per neuron.
    """

    def __init__(self, n_neurons: int, k: int):
        if k < 1:
            raise ValueError(f"at least one example per neuron is needed, got k={k}")
        self.n_neurons, self.k = int(n_neurons), int(k)
        self.n_samples = 0
        self._best: TopK | None = None

    def update(self, activations: torch.Tensor) -> None:
        """Add one batch (samples, neurons); its samples follow those already seen."""
        if activations.ndim != 2 or activations.shape[1] != self.n_neurons:
            raise ValueError(f"expected a batch of shape (samples, {self.n_neurons}), "
                             f"got {tuple(activations.shape)}")
        rows = activations.shape[0]
        if rows == 0:
            return
        values, order = sorted_topk(activations.T.float(), min(self.k, rows), dim=1)
        found = TopK(values, order + self.n_samples)
        self._best = found if self._best is None else merge_partners(self._best, found, self.k)
        self.n_samples += rows

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """(values, samples), each (neurons, k); a neuron seen on fewer than k samples is
        padded with NaN values and sample index -1."""
        values = np.full((self.n_neurons, self.k), np.nan, dtype=np.float32)
        samples = np.full((self.n_neurons, self.k), -1, dtype=np.int64)
        if self._best is not None:
            kept = self._best.values.shape[1]
            values[:, :kept] = self._best.values.cpu().numpy()
            samples[:, :kept] = self._best.indices.cpu().numpy()
        return values, samples


class FirstPass:
    """A `Source` whose first complete pass also calls `observer(batch_index, a, b)`.

    Each batch is observed exactly once, in order: later passes, and the repeated start of a
    pass after one abandoned part way, are not observed again. `complete` tells whether a
    whole pass has been read; `finish()` reads the rest of one if not.
    """

    def __init__(self, source: Source, observer: Observer):
        self.source, self.observer = source, observer
        self.seen, self.complete = 0, False

    def __call__(self):
        for index, (a, b) in enumerate(self.source()):
            if index == self.seen:
                self.observer(index, a, b)
                self.seen += 1
            yield a, b
        self.complete = True

    def finish(self) -> None:
        """Complete the first pass (a resumed engine run may not have needed one)."""
        if not self.complete:
            for _ in self():
                pass


@dataclasses.dataclass(frozen=True)
class ExamplesRecord(Record):
    """Top-activating samples of both models of a matched pair.

    `values_*`/`samples_*` are (neurons, k) with neurons in the engine's global order
    (`empirics.matching.layer_units` maps them to layer and unit); `sample_table` maps each
    sample index to its input: "input" (index into `inputs`) plus "start"/"end" byte offsets
    (text) or "row"/"col" grid positions (images) or nothing more (toy inputs).
    `inputs` lists the input ids; `texts` the documents' text when the inputs are text, so
    a report can be rendered from the record alone.
    """

    kind: ClassVar[str] = "examples"
    version: ClassVar[int] = 1

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


def collect_examples(source: Source, n_a: int, n_b: int, k: int
                     ) -> tuple[Source, Callable[[], tuple[TopExamples, TopExamples]]]:
    """Wrap `source` to gather both models' top-k examples on its first pass.

    Returns the wrapped source and a function giving the two finished `TopExamples` (it
    reads the rest of the first pass if the stream has not been read through yet).
    """
    tops = (TopExamples(n_a, k), TopExamples(n_b, k))

    def observe(index: int, a: torch.Tensor, b: torch.Tensor) -> None:
        tops[0].update(a)
        tops[1].update(b)

    wrapped = FirstPass(source, observe)

    def finished() -> tuple[TopExamples, TopExamples]:
        wrapped.finish()
        return tops

    return wrapped, finished
