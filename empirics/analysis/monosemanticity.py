"""Monosemanticity judges: a VLM judge of image neurons and an LLM annotator of text neurons
(docs/judges.md), behind the `empirics.analysis.judge` interface.

For each neuron the judge (1) shows a chat backend (`empirics.analysis.chat`) the neuron's
top-k examples, for images a composite of them with the neuron's activation map overlaid
(`composite`, as the paper's Fig. 36), and asks for the one concept they share; then (2)
validates that description on 5 held-out positives (the neuron's examples ranked k+1 to k+5)
and 5 negatives (examples of other neurons that are not among its own), asking of each, alone
and without its map, whether it shows the concept. The neuron's score is the F1 of the yes
answers on the positives (`validation_scores`); answering at random scores, in expectation,
`random_baseline` (accuracy 1/2, F1 0.4865 for 5 + 5). Every prompt and raw answer is kept.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Sequence

import numpy as np

from empirics.analysis.chat import ChatBackend
from empirics.analysis.judge import NeuronExamples

DESCRIBE = ("These are the {k} {what} that most activate one neuron of a neural network"
            "{how}. In a few words, what concept do they share? Answer with the concept only.")
VALIDATE = ("A neuron responds to: {concept}. Does this {item} show that concept? "
            "Answer yes or no.")
WHAT = {"image": ("images", ", each beside the same image with the neuron's activation map "
                  "overlaid in red", "image"),
        "text": ("text passages", " (the token it fires on is marked [[like this]])",
                 "passage")}


def answer_label(answer: str) -> bool | None:
    """True for an answer that starts with yes, False for no, None for anything else."""
    word = re.match(r"\W*(\w+)", answer.lower())
    return {"yes": True, "no": False}.get(word.group(1) if word else "")


def validation_scores(labels: Sequence[bool], said_yes: Sequence[bool]) -> tuple[float, float]:
    """(accuracy, F1 of the positives) of yes/no answers; F1 is 0 without a true positive."""
    labels, said = np.asarray(labels, dtype=bool), np.asarray(said_yes, dtype=bool)
    tp = int(np.sum(labels & said))
    wrong = int(np.sum(labels != said))
    f1 = 2 * tp / (2 * tp + wrong) if tp else 0.0
    return float(np.mean(labels == said)), float(f1)


def random_baseline(n_positive: int = 5, n_negative: int = 5, p_yes: float = 0.5
                    ) -> tuple[float, float]:
    """Expected (accuracy, F1) of a judge that says yes with probability `p_yes` at random.

    Notes
    -----
    Exact, by summing over the true and false positives, TP ~ Bin(P, p) and FP ~ Bin(N, p):
    E[F1] = sum P(TP) P(FP) 2 TP / (TP + FP + P), the F1 of `validation_scores`. For 5 + 5 at
    p = 1/2 this is 0.48651..., the paper's 0.4865.
    """
    def pmf(n: int, j: int) -> float:
        return math.comb(n, j) * p_yes**j * (1 - p_yes)**(n - j)

    f1 = sum(pmf(n_positive, tp) * pmf(n_negative, fp) * 2 * tp / (tp + fp + n_positive)
             for tp in range(1, n_positive + 1) for fp in range(n_negative + 1))
    accuracy = (n_positive * p_yes + n_negative * (1 - p_yes)) / (n_positive + n_negative)
    return accuracy, f1


def overlay(image: np.ndarray, heat: np.ndarray, *, alpha: float = 0.6) -> np.ndarray:
    """The (S, S, 3) image with an (h, w) uint8 map upsampled (nearest) and blended in red."""
    size = image.shape[0]
    rows = np.arange(size) * heat.shape[0] // size
    cols = np.arange(image.shape[1]) * heat.shape[1] // image.shape[1]
    weight = alpha * heat[rows][:, cols].astype(np.float64)[..., None] / 255.0
    red = np.array([255.0, 0.0, 0.0])
    return np.round((1 - weight) * image + weight * red).astype(np.uint8)


def composite(images: Sequence[np.ndarray], maps: Sequence[np.ndarray], *,
              gap: int = 2) -> np.ndarray:
    """One image of k examples: a near-square grid of tiles, each the image beside its
    overlay (Fig. 36), on white."""
    if not len(images) or len(images) != len(maps):
        raise ValueError(f"a composite needs as many maps as images (>= 1), got "
                         f"{len(images)} and {len(maps)}")
    size = images[0].shape[0]
    tiles = [np.concatenate([im, np.full((size, gap, 3), 255, np.uint8), overlay(im, m)],
                            axis=1) for im, m in zip(images, maps)]
    columns = math.ceil(math.sqrt(len(tiles)))
    rows = math.ceil(len(tiles) / columns)
    height, width = size + gap, tiles[0].shape[1] + 2 * gap
    canvas = np.full((rows * height, columns * width, 3), 255, dtype=np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        canvas[r * height:r * height + size, c * width:c * width + tile.shape[1]] = tile
    return canvas


@dataclasses.dataclass(frozen=True)
class Verdict:
    """A judged neuron: its description, the validation's labels and answers, and scores."""

    neuron: int
    description: str
    labels: tuple
    answers: tuple
    accuracy: float
    f1: float
    unparsed: int
    exchanges: tuple  # ({"prompt", "answer", "images"}, ...): every exchange, in order

    @property
    def score(self) -> float:
        return self.f1

    def as_dict(self) -> dict:
        return dataclasses.asdict(self) | {"labels": list(self.labels),
                                           "answers": list(self.answers),
                                           "exchanges": list(self.exchanges)}


class MonosemanticityJudge:
    """Describe a neuron from its top-k examples, then validate the description on held-out
    positives and negatives (`n_heldout` each). `modality` "image" (a VLM judge: composites
    with activation maps) or "text" (an LLM annotator: marked contexts)."""

    def __init__(self, backend: ChatBackend, *, k: int = 10, n_heldout: int = 5,
                 modality: str = "text"):
        if modality not in WHAT or k < 1 or n_heldout < 1:
            raise ValueError(f"modality must be one of {sorted(WHAT)}, k and n_heldout >= 1")
        self.backend, self.k, self.n_heldout, self.modality = backend, k, n_heldout, modality
        what, how, item = WHAT[modality]
        self.prompt = DESCRIBE.format(k=k, what=what, how=how) + " || " + VALIDATE.format(
            concept="{concept}", item=item)
        self.name = f"{modality}-judge-k{k}:{backend.name}"

    def __call__(self, neurons: Sequence[NeuronExamples]) -> list[Verdict]:
        return [self.judge(n) for n in neurons]

    def judge(self, neuron: NeuronExamples) -> Verdict:
        """The verdict on one neuron; ValueError when it has too few examples."""
        need = self.k + self.n_heldout
        if len(neuron.contexts) < need or len(neuron.negatives) < self.n_heldout:
            raise ValueError(f"neuron {neuron.neuron} has {len(neuron.contexts)} examples and "
                             f"{len(neuron.negatives)} negatives; the judge needs {need} and "
                             f"{self.n_heldout} (record more with empirics.match --examples)")
        what, how, item = WHAT[self.modality]
        prompt = DESCRIBE.format(k=self.k, what=what, how=how)
        images = ()
        if self.modality == "image":
            images = (composite(neuron.images[:self.k], neuron.maps[:self.k]),)
        else:
            prompt += "\n" + "\n".join(f"{i + 1}. {c}" for i, c in
                                       enumerate(neuron.contexts[:self.k]))
        description = self.backend.complete(prompt, images).strip()
        exchanges = [{"prompt": prompt, "answer": description, "images": len(images)}]
        held = [(True, j) for j in range(self.k, need)] + [
            (False, j) for j in range(self.n_heldout)]
        labels, answers = [], []
        for positive, j in held:
            ask = VALIDATE.format(concept=description, item=item)
            source = (neuron.images, neuron.contexts) if positive else (
                neuron.negative_images, neuron.negatives)
            shown = (source[0][j],) if self.modality == "image" else ()
            if self.modality == "text":
                ask += "\n" + source[1][j]
            answer = self.backend.complete(ask, shown)
            exchanges.append({"prompt": ask, "answer": answer, "images": len(shown)})
            labels.append(positive)
            answers.append(answer)
        parsed = [answer_label(a) for a in answers]
        accuracy, f1 = validation_scores(labels, [p is True for p in parsed])
        return Verdict(neuron.neuron, description, tuple(labels), tuple(answers), accuracy,
                       f1, sum(p is None for p in parsed), tuple(exchanges))
