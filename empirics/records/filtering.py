"""Records of the data-filtering case study (docs/filtering.md), torch-free.

`FilterRecord` (written by `python -m empirics.filtering`): a neuron set of a matched pair's
first model and its controls, every pool document's score under each set, the kept ids of
every arm and the category make-up of each. `ContinuedRecord`: the held-out loss per category
after continued pretraining of that model on each arm, over seeds, with its table.
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import numpy as np

from runstore import Record
from runstore.tables import frame

#: The arms of a filter record: documents kept by the target neurons' scores, by the control
#: neurons' scores, and at random (the same number each).
ARMS = ("rosetta", "control", "random")


def _number(value: float) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.4g}"


@dataclasses.dataclass(frozen=True)
class FilterRecord(Record):
    """Documents of a pool scored by a neuron set and kept at fraction `fraction`.

    `neurons[arm]` ("rosetta", "control") are global neuron ids of `model` (layers
    concatenated, `empirics.records.neurons`), `enrichment[arm]` their enrichment E in
    `target` (top contexts of the match's examples); `scores[arm]` (documents,) the score of
    every document of `documents` (ids of the `split` of the corpus `corpus_sha256`, with
    `categories`); `kept[arm]` the indices into `documents` kept by each arm (the random arm
    drawn with `seed`); `composition[arm][category]` the share of each category among them;
    `tokens` (documents,) the tokens scored per document (the first `max_tokens`).
    """

    kind: ClassVar[str] = "filter"
    version: ClassVar[int] = 1

    model: str
    match: str
    target: str
    rule: str
    quantile: float
    fraction: float
    seed: int
    control_rule: str
    corpus_sha256: str
    split: str
    max_tokens: int
    documents: list
    categories: list
    tokens: np.ndarray
    neurons: dict
    enrichment: dict
    scores: dict
    kept: dict
    composition: dict

    def __post_init__(self):
        if set(self.kept) != set(ARMS) or set(self.neurons) != set(ARMS[:2]):
            raise ValueError(f"a filter record keeps the arms {ARMS}, got {sorted(self.kept)}")
        sizes = {arm: len(self.kept[arm]) for arm in ARMS}
        if len(set(sizes.values())) != 1:
            raise ValueError(f"every arm keeps as many documents, got {sizes}")
        if len(self.neurons["rosetta"]) != len(self.neurons["control"]):
            raise ValueError("the control set must have as many neurons as the target set")

    def headline(self) -> str:
        """Share of the target category among the kept documents, arm by arm."""
        shares = ", ".join(f"{arm} {_number(self.composition[arm].get(self.target, 0.0))}"
                           for arm in ARMS)
        return (f"{len(self.neurons['rosetta'])} neurons, kept {len(self.kept['random'])} of "
                f"{len(self.documents)}; share of {self.target}: {shares}")

    def to_frame(self):
        """One row per arm: documents kept, neurons, their mean enrichment, and the share of
        every category among the kept documents."""
        names = sorted(set(self.categories))
        columns = {"arm": list(ARMS), "kept": [len(self.kept[a]) for a in ARMS],
                   "neurons": [len(self.neurons.get(a, ())) for a in ARMS],
                   "mean_enrichment": [float(np.mean(self.enrichment[a])) if a in
                                       self.enrichment else math.nan for a in ARMS]}
        for name in names:
            columns[f"share_{name}"] = [self.composition[a].get(name, 0.0) for a in ARMS]
        return frame(columns)


@dataclasses.dataclass(frozen=True)
class ContinuedRecord(Record):
    """Held-out loss per category after continued pretraining on each arm of a filter record.

    `loss` (arms, seeds, categories) mean next-token cross-entropy (nats) on each category's
    held-out tokens after `steps` steps of `batch` x `context` tokens (the same for every arm
    and seed); `baseline` (categories,) the model's loss before; `summary[arm][category]` =
    [mean, low, high] over seeds (t interval at `level`); `delta[arm][category]` the same of
    the arm's loss minus the random arm's, paired by seed; `arm_tokens[arm]` the tokens the
    arm's documents hold (an arm whose stream is shorter than the budget is repeated:
    `epochs[arm]`).
    """

    kind: ClassVar[str] = "continued_pretraining"
    version: ClassVar[int] = 1

    model: str
    filter: str
    arms: list
    seeds: list
    categories: list
    loss: np.ndarray
    baseline: np.ndarray
    heldout_tokens: list
    steps: int
    batch: int
    context: int
    lr: float
    arm_tokens: dict
    epochs: dict
    summary: dict
    delta: dict
    level: float
    seconds: float

    def __post_init__(self):
        shape = (len(self.arms), len(self.seeds), len(self.categories))
        if np.shape(self.loss) != shape:
            raise ValueError(f"loss must be (arms, seeds, categories) = {shape}, "
                             f"got {np.shape(self.loss)}")

    def headline(self) -> str:
        """Each arm's mean held-out loss over the categories and seeds."""
        means = np.asarray(self.loss).mean(axis=(1, 2))
        return "mean held-out loss: " + ", ".join(
            f"{arm} {_number(float(m))}" for arm, m in zip(self.arms, means)) + \
            f" (before {_number(float(np.mean(self.baseline)))})"

    def to_frame(self):
        """One row per arm and category: mean loss over seeds with its interval, and the
        difference from the random arm with its paired interval ("before" rows: the model's
        loss before continued pretraining)."""
        rows = {k: [] for k in ("arm", "category", "loss", "low", "high", "delta",
                                "delta_low", "delta_high")}
        for c, category in enumerate(self.categories):
            rows["arm"].append("before")
            rows["category"].append(category)
            for key in ("loss", "low", "high"):
                rows[key].append(float(self.baseline[c]))
            for key in ("delta", "delta_low", "delta_high"):
                rows[key].append(math.nan)
        for arm in self.arms:
            for category in self.categories:
                rows["arm"].append(arm)
                rows["category"].append(category)
                for key, value in zip(("loss", "low", "high"), self.summary[arm][category]):
                    rows[key].append(value)
                for key, value in zip(("delta", "delta_low", "delta_high"),
                                      self.delta[arm][category]):
                    rows[key].append(value)
        return frame(rows)
