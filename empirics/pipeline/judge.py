"""The monosemanticity judges on a match run (docs/judges.md): Rosetta neurons and a
size-matched control of the same layers, judged from the match's examples at every k, the
verdicts (prompts and raw answers) in a JudgeRecord inside the match's run directory."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from empirics.analysis.judge import judge_neurons
from empirics.analysis.monosemanticity import MonosemanticityJudge, composite, random_baseline
from empirics.analysis.pair_records import SIDES, control_masks
from empirics.analysis.selectivity import mean_interval
from empirics.records.analysis import pair_fields
from empirics.records.examples import ExamplesRecord
from empirics.records.judge import POPULATIONS, JudgeRecord
from empirics.records.match import MatchRecord
from runstore import config_hash, record_exists, reuse_or_build, run_dir


@dataclasses.dataclass(frozen=True)
class JudgeSettings:
    """Which match run; the backend ("http": url, model, key; "local": a model folder); the
    modality ("auto": images when the examples are images); the ks, held-out examples per
    class, neurons per population and side; seed, level; recompute or reuse."""

    match: Path
    backend: str = "http"
    url: str = "http://localhost:8000/v1"
    model: str = ""
    api_key: str | None = None
    local: Path | None = None
    modality: str = "auto"
    ks: tuple = (10,)
    n_heldout: int = 5
    neurons: int = 8
    max_tokens: int = 64
    seed: int = 0
    level: float = 0.95
    device: str = "cpu"
    force: bool = False

    def __post_init__(self):
        if self.backend not in ("http", "local"):
            raise ValueError(f"--backend must be http or local, got {self.backend!r}")
        if self.backend == "local" and self.local is None:
            raise ValueError("--backend local needs --local DIR (a saved transformers model)")
        if self.backend == "http" and not self.model:
            raise ValueError("--backend http needs --model (the server's model name)")
        if not self.ks or min(self.ks) < 1 or self.n_heldout < 1 or self.neurons < 1:
            raise ValueError("k, the held-out examples and the neurons must be >= 1")

    def recorded(self) -> dict:
        skip = {"api_key", "force", "device", "match"}
        return {k: str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(self).items() if k not in skip}


def make_backend(settings: JudgeSettings):
    """The chat backend of `settings`."""
    from empirics.analysis.chat import HttpChat, LocalChat

    if settings.backend == "http":
        return HttpChat(settings.url, settings.model, api_key=settings.api_key,
                        max_tokens=settings.max_tokens)
    return LocalChat.from_pretrained(settings.local, device=settings.device,
                                     max_new_tokens=settings.max_tokens)


def chosen_neurons(match: MatchRecord, examples: ExamplesRecord, settings: JudgeSettings,
                   need: int) -> dict[str, np.ndarray]:
    """{"rosetta_a", "control_a", ...}: up to `neurons` of each population with `need`
    examples, the control size-matched per layer."""
    eligible = {s: (getattr(examples, f"samples_{s}") >= 0).sum(axis=1) >= need for s in SIDES}
    rng = np.random.default_rng(settings.seed)
    masks = control_masks(match, eligible, rng=rng)
    chosen = {}
    for key, mask in masks.items():
        pool = np.flatnonzero(mask & eligible[key[-1]])
        chosen[key] = np.sort(rng.choice(pool, min(settings.neurons, len(pool)), replace=False))
    if not any(len(v) for v in chosen.values()):
        raise ValueError(f"no neuron has {need} examples; match with --examples {need} or more")
    return chosen


def build_judge_record(match, examples, settings, backend, config) -> JudgeRecord:
    modality = settings.modality if settings.modality != "auto" else (
        "image" if examples.images else "text")
    need = max(settings.ks) + settings.n_heldout
    chosen = chosen_neurons(match, examples, settings, need)
    rng = np.random.default_rng([settings.seed, 1])
    results, pooled, prompts, composites, exemplars = {}, {}, {}, {}, {}
    for k in settings.ks:
        judge = MonosemanticityJudge(backend, k=k, n_heldout=settings.n_heldout,
                                     modality=modality)
        prompts[f"k{k}"] = judge.prompt
        found = {}
        for key, neurons in chosen.items():
            verdicts = [judge_neurons(judge, examples, key[-1], [int(n)],
                                      n_negatives=settings.n_heldout,
                                      rng=np.random.default_rng([settings.seed, int(n)]))
                        for n in neurons]
            found[key] = _summary(neurons, [v["verdicts"][0] for v in verdicts], rng,
                                  settings.level)
            if modality == "image" and len(neurons):
                _keep_composite(composites, exemplars, examples, key, int(neurons[0]), k)
        results[f"k{k}"] = found
        pooled[f"k{k}"] = {p: _pool(found, p, rng, settings.level) for p in POPULATIONS}
    accuracy, f1 = random_baseline(settings.n_heldout, settings.n_heldout)
    return JudgeRecord(config=config, **pair_fields(match), backend=backend.name,
                       modality=modality, ks=list(settings.ks), n_heldout=settings.n_heldout,
                       prompts=prompts, results=results, pooled=pooled,
                       baseline={"accuracy": accuracy, "f1": f1}, composites=composites,
                       exemplars=exemplars, level=settings.level)


def _summary(neurons, verdicts, rng, level) -> dict:
    f1 = np.array([v["f1"] for v in verdicts])
    accuracy = np.array([v["accuracy"] for v in verdicts])
    return {"neurons": [int(n) for n in neurons], "scores": f1.tolist(),
            "accuracy": accuracy.tolist(), "verdicts": verdicts,
            "mean_f1": mean_interval(f1, rng=rng, level=level),
            "mean_accuracy": mean_interval(accuracy, rng=rng, level=level)}


def _pool(found: dict, population: str, rng, level) -> dict:
    f1 = np.concatenate([found[f"{population}_{s}"]["scores"] for s in SIDES])
    accuracy = np.concatenate([found[f"{population}_{s}"]["accuracy"] for s in SIDES])
    return {"neurons": int(len(f1)), "mean_f1": mean_interval(f1, rng=rng, level=level),
            "mean_accuracy": mean_interval(accuracy, rng=rng, level=level)}


def _keep_composite(composites, exemplars, examples, key, neuron, k) -> None:
    from empirics.analysis.judge import render_examples

    shown, = render_examples(examples, key[-1], [neuron])
    composites[f"k{k}_{key}"] = composite(shown.images[:k], shown.maps[:k])
    exemplars[key] = neuron


def run_judge(settings: JudgeSettings) -> tuple[JudgeRecord, Path, bool]:
    """The judge record of `settings` in <match>/judge/ (reused when saved with its config)."""
    match = MatchRecord.load(settings.match)
    if not record_exists(settings.match / "examples"):
        raise FileNotFoundError(f"no examples in {settings.match / 'examples'}; a judge reads "
                                "them (empirics.match --examples 16)")
    examples = ExamplesRecord.load(settings.match / "examples")
    config = {"analysis": "judge", **settings.recorded(), "match": str(settings.match),
              "match_hash": config_hash(match.config)}
    label = settings.model or (settings.local.name if settings.local else "")
    directory = run_dir(settings.match, "judge", config, f"{settings.backend}-{label}")
    record, reused = reuse_or_build(  # the backend is made (a model loaded) only to build
        directory, JudgeRecord,
        lambda: build_judge_record(match, examples, settings, make_backend(settings), config),
        force=settings.force, config=config)
    return record, directory, reused
