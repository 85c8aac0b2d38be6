"""A pluggable judge of neuron selectivity (e.g. an LLM or VLM reading top examples).

A judge is any object with a `name`, the `prompt` it sends, and a call that scores a batch of
neurons from their rendered top-activating examples, one score in [0, 1] per neuron (1: the
examples share one clear meaning). `judge_neurons` renders the examples from an
`ExamplesRecord` alone (text snippets with the span marked, or image ids with the patch
position) and returns the scores with the prompt, which the selectivity record stores so a
judged result can always be traced to the exact instructions that produced it. No judge is
built in here: `empirics.analysis.monosemanticity` holds the VLM judge and the LLM annotator
(over the chat backends of `empirics.analysis.chat`), whose verdicts carry every prompt and
raw answer; the automatic proxies are in `empirics.analysis.selectivity`; `python -m
empirics.analyze --judge module:factory` plugs any judge in, `python -m empirics.judge` runs
the built-in ones.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from empirics.records.examples import ExamplesRecord
from empirics.records.neurons import layer_units

MARK = ("[[", "]]")


@dataclass(frozen=True)
class NeuronExamples:
    """One neuron's top examples, rendered: `contexts[j]` is the j-th best sample; for image
    inputs `images[j]` (S, S, 3) uint8 and `maps[j]` (H, W) uint8 its thumbnail and the
    neuron's activation map on it. `negatives` (and `negative_images`) are examples of
    other neurons that are not among this one's (for a judge's held-out validation)."""

    side: str
    neuron: int
    layer: int
    unit: int
    contexts: tuple[str, ...]
    values: tuple[float, ...]
    images: tuple = ()
    maps: tuple = ()
    negatives: tuple[str, ...] = ()
    negative_images: tuple = ()


class SelectivityJudge(Protocol):
    """What `judge_neurons` needs of a judge."""

    name: str
    prompt: str

    def __call__(self, neurons: Sequence[NeuronExamples]) -> Sequence[float]: ...


def render_examples(record: ExamplesRecord, side: str, neurons: Sequence[int], *,
                    window: int = 40, n_negatives: int = 0,
                    rng: np.random.Generator | None = None) -> list[NeuronExamples]:
    """The top examples of `neurons` (global indices) of side "a" or "b" as text (and, for
    image inputs, as thumbnails with the neuron's maps).

    Text samples show `window` characters either side with the span in [[ ]]; image samples
    read "<image id> row r col c". `n_negatives` examples drawn with `rng` from the other
    neurons' top samples (images: the record's thumbnails) that are not this neuron's.
    """
    values = getattr(record, f"values_{side}")
    samples = getattr(record, f"samples_{side}")
    layers, units = layer_units(np.asarray(neurons, dtype=np.int64),
                                getattr(record, f"layer_sizes_{side}"))
    rendered = []
    for neuron, layer, unit in zip(neurons, layers, units):
        kept = samples[neuron] >= 0
        contexts = tuple(_context(record, s, window) for s in samples[neuron][kept])
        found = NeuronExamples(side, int(neuron), int(layer), int(unit), contexts,
                               tuple(float(v) for v in values[neuron][kept]))
        if record.images:
            found = _with_images(found, record, side)
        if n_negatives:
            found = _with_negatives(found, record, side, n_negatives, rng, window)
        rendered.append(found)
    return rendered


def _with_images(found: NeuronExamples, record: ExamplesRecord, side: str) -> NeuronExamples:
    images = record.images
    where = {int(i): j for j, i in enumerate(images["thumbnail_inputs"])}
    shown = [int(i) for i in images[f"inputs_{side}"][found.neuron] if i >= 0]
    return dataclasses.replace(
        found, images=tuple(images["thumbnails"][where[i]] for i in shown),
        maps=tuple(images[f"maps_{side}"][found.neuron][:len(shown)]))


def _with_negatives(found: NeuronExamples, record: ExamplesRecord, side: str, n: int,
                    rng: np.random.Generator | None, window: int) -> NeuronExamples:
    if rng is None:
        raise ValueError("drawing negatives needs an rng")
    if record.images:
        own = set(int(i) for i in record.images[f"inputs_{side}"][found.neuron])
        pool = [j for j, i in enumerate(record.images["thumbnail_inputs"]) if int(i) not in own]
        if len(pool) < n:
            raise ValueError(f"only {len(pool)} images outside neuron {found.neuron}'s top "
                             f"examples; {n} negatives are needed")
        chosen = rng.choice(pool, size=n, replace=False)
        return dataclasses.replace(
            found, negative_images=tuple(record.images["thumbnails"][j] for j in chosen),
            negatives=tuple(record.inputs[record.images["thumbnail_inputs"][j]]
                            for j in chosen))
    samples = getattr(record, f"samples_{side}")
    own = set(samples[found.neuron].tolist())
    pool = np.setdiff1d(samples[samples >= 0], np.array(sorted(own)))
    if len(pool) < n:
        raise ValueError(f"only {len(pool)} samples outside neuron {found.neuron}'s top "
                         f"examples; {n} negatives are needed")
    chosen = rng.choice(pool, size=n, replace=False)
    return dataclasses.replace(found, negatives=tuple(_context(record, int(s), window)
                                                      for s in chosen))


def _context(record: ExamplesRecord, sample: int, window: int) -> str:
    table = record.sample_table
    item = int(table["input"][sample])
    if "start" not in table:
        where = (f" row {int(table['row'][sample])} col {int(table['col'][sample])}"
                 if "row" in table else "")
        return f"{record.inputs[item]}{where}"
    data = record.texts[item].encode("utf-8")
    start, end = int(table["start"][sample]), int(table["end"][sample])
    parts = (data[max(0, start - window):start], data[start:end], data[end:end + window])
    before, span, after = (p.decode("utf-8", errors="replace") for p in parts)
    return f"{before}{MARK[0]}{span}{MARK[1]}{after}"


def judge_neurons(judge: SelectivityJudge, record: ExamplesRecord, side: str,
                  neurons: Sequence[int], *, n_negatives: int = 0,
                  rng: np.random.Generator | None = None) -> dict:
    """{"name", "prompt", "neurons", "scores"} of `judge` on the given neurons of one side,
    and "verdicts" (each as a dict: description, prompts and raw answers) when the judge
    returns verdicts (objects with a `score` and `as_dict()`) rather than plain scores.

    Raises ValueError when the judge returns the wrong number of scores or one outside [0, 1].
    """
    found = list(judge(render_examples(record, side, neurons, n_negatives=n_negatives,
                                       rng=rng)))
    verdicts = [v.as_dict() for v in found if hasattr(v, "as_dict")]
    scores = np.asarray([getattr(v, "score", v) for v in found], dtype=np.float64)
    if scores.shape != (len(neurons),) or np.any((scores < 0) | (scores > 1)):
        raise ValueError(f"judge {judge.name!r} must return one score in [0, 1] per neuron "
                         f"({len(neurons)}), got {scores.tolist()[:5]}...")
    result = {"name": judge.name, "prompt": judge.prompt,
              "neurons": [int(n) for n in neurons], "scores": scores.tolist()}
    return result | ({"verdicts": verdicts} if verdicts else {})


def load_judge(spec: str) -> SelectivityJudge:
    """A judge from "module:factory" (the factory is called without arguments)."""
    module, _, attribute = spec.partition(":")
    if not module or not attribute:
        raise ValueError(f"a judge is given as module:factory, got {spec!r}")
    judge = getattr(importlib.import_module(module), attribute)()
    for needed in ("name", "prompt"):
        if not isinstance(getattr(judge, needed, None), str):
            raise ValueError(f"judge {spec} has no string attribute {needed!r}")
    return judge
