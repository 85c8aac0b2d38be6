"""A pluggable judge of neuron selectivity (e.g. an LLM or VLM reading top examples).

A judge is any object with a `name`, the `prompt` it sends, and a call that scores a batch of
neurons from their rendered top-activating examples, one score in [0, 1] per neuron (1: the
examples share one clear meaning). `judge_neurons` renders the examples from an
`ExamplesRecord` alone (text snippets with the span marked, or image ids with the patch
position) and returns the scores with the prompt, which the selectivity record stores so a
judged result can always be traced to the exact instructions that produced it. No judge is
built in: the automatic proxies are in `empirics.analysis.selectivity`; `python -m empirics.analyze
--judge module:factory` plugs one in.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from empirics.records.examples import ExamplesRecord
from empirics.records.neurons import layer_units

MARK = ("[[", "]]")


@dataclass(frozen=True)
class NeuronExamples:
    """One neuron's top examples, rendered: `contexts[j]` is the j-th best sample."""

    side: str
    neuron: int
    layer: int
    unit: int
    contexts: tuple[str, ...]
    values: tuple[float, ...]


class SelectivityJudge(Protocol):
    """What `judge_neurons` needs of a judge."""

    name: str
    prompt: str

    def __call__(self, neurons: Sequence[NeuronExamples]) -> Sequence[float]: ...


def render_examples(record: ExamplesRecord, side: str, neurons: Sequence[int], *,
                    window: int = 40) -> list[NeuronExamples]:
    """The top examples of `neurons` (global indices) of side "a" or "b" as text.

    Text samples show `window` characters either side with the span in [[ ]]; image samples
    read "<image id> row r col c".
    """
    values = getattr(record, f"values_{side}")
    samples = getattr(record, f"samples_{side}")
    layers, units = layer_units(np.asarray(neurons, dtype=np.int64),
                                getattr(record, f"layer_sizes_{side}"))
    rendered = []
    for neuron, layer, unit in zip(neurons, layers, units):
        kept = samples[neuron] >= 0
        contexts = tuple(_context(record, s, window) for s in samples[neuron][kept])
        rendered.append(NeuronExamples(side, int(neuron), int(layer), int(unit), contexts,
                                       tuple(float(v) for v in values[neuron][kept])))
    return rendered


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
                  neurons: Sequence[int]) -> dict:
    """{"name", "prompt", "neurons", "scores"} of `judge` on the given neurons of one side.

    Raises ValueError when the judge returns the wrong number of scores or one outside [0, 1].
    """
    scores = np.asarray(judge(render_examples(record, side, neurons)), dtype=np.float64)
    if scores.shape != (len(neurons),) or np.any((scores < 0) | (scores > 1)):
        raise ValueError(f"judge {judge.name!r} must return one score in [0, 1] per neuron "
                         f"({len(neurons)}), got {scores.tolist()[:5]}...")
    return {"name": judge.name, "prompt": judge.prompt,
            "neurons": [int(n) for n in neurons], "scores": scores.tolist()}


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
