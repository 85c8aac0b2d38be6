"""JudgeRecord: a monosemanticity judge's verdicts on Rosetta and control neurons of a matched
pair, at one or more k (written by `python -m empirics.judge`; docs/judges.md). Torch-free."""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import numpy as np

from empirics.records.analysis import PairAnalysis
from runstore.tables import frame

POPULATIONS = ("rosetta", "control")


@dataclasses.dataclass(frozen=True)
class JudgeRecord(PairAnalysis):
    """Verdicts of one judge (`backend`, `modality` "image" or "text") at each k of `ks`.

    `results["k<k>"][population + "_" + side]` holds "neurons", "scores" (F1 per neuron),
    "accuracy", "verdicts" (description, labels, raw answers, every prompt and answer) and
    "mean_f1" / "mean_accuracy" ([mean, low, high], bootstrap at `level`); `pooled["k<k>"]
    [population]` the same means over both sides. `baseline` the exact expectation of a judge
    answering at random (`empirics.analysis.monosemanticity.random_baseline`). `composites`
    maps "k<k>_<population>_<side>" to the (H, W, 3) uint8 composite the judge saw for the
    first judged neuron (`exemplars` names it). `usage`: what the judging cost (exchanges,
    tries repeated, prompt and answer tokens; `empirics.analysis.chat.Usage`), empty in a
    record made before it was counted.
    """

    kind: ClassVar[str] = "judge"
    version: ClassVar[int] = 1

    backend: str
    modality: str
    ks: list
    n_heldout: int
    prompts: dict
    results: dict
    pooled: dict
    baseline: dict
    composites: dict
    exemplars: dict
    level: float
    usage: dict = dataclasses.field(default_factory=dict)

    def headline(self) -> str:
        """Mean F1 of Rosetta and control neurons at the largest k, and the random baseline."""
        k = f"k{max(self.ks)}"
        means = [self.pooled[k][p]["mean_f1"][0] for p in POPULATIONS]
        text = ", ".join(f"{p} {'-' if math.isnan(m) else f'{m:.3f}'}"
                         for p, m in zip(POPULATIONS, means))
        return f"judge F1 at {k}: {text} (random {self.baseline['f1']:.4f})"

    def usage_text(self) -> str:
        """The exchanges, the tries repeated and the tokens, in one line."""
        if not self.usage:
            return "usage: not recorded"
        used = self.usage
        unreported = (f", {used['unreported']} answers without a token count"
                      if used["unreported"] else "")
        return (f"usage: {used['requests']} exchanges ({used['retries']} tries repeated), "
                f"{used['prompt_tokens']} prompt + {used['completion_tokens']} answer "
                f"tokens{unreported}")

    def to_frame(self):
        """One row per k and population: mean F1 and accuracy with their intervals, the
        neurons judged and the random baseline."""
        rows = {k: [] for k in ("k", "population", "neurons", "f1", "f1_low", "f1_high",
                                "accuracy", "accuracy_low", "accuracy_high", "baseline_f1")}
        for k in self.ks:
            for population in POPULATIONS:
                found = self.pooled[f"k{k}"][population]
                rows["k"].append(k)
                rows["population"].append(population)
                rows["neurons"].append(found["neurons"])
                for name in ("f1", "accuracy"):
                    for suffix, value in zip(("", "_low", "_high"), found[f"mean_{name}"]):
                        rows[name + suffix].append(value)
                rows["baseline_f1"].append(self.baseline["f1"])
        return frame(rows)

    def composite(self, k: int, population: str, side: str = "a") -> np.ndarray | None:
        """The exemplar composite shown at `k`, or None when none was kept."""
        return self.composites.get(f"k{k}_{population}_{side}")
