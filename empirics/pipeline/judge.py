"""The monosemanticity judges on a match run (docs/judges.md): Rosetta neurons and a
size-matched control of the same layers, judged from the match's examples at every k, the
verdicts (prompts and raw answers) in a JudgeRecord inside the match's run directory."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
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
from runstore.progress import progress_bar

#: Exchanges in flight at once with a chat server, unless told otherwise.
HTTP_CONCURRENCY = 8


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
    concurrency: int | None = None
    retries: int = 6
    backoff: float = 1.0

    def __post_init__(self):
        if self.backend not in ("http", "local"):
            raise ValueError(f"--backend must be http or local, got {self.backend!r}")
        if self.backend == "local" and self.local is None:
            raise ValueError("--backend local needs --local DIR (a saved transformers model)")
        if self.backend == "http" and not self.model:
            raise ValueError("--backend http needs --model (the server's model name)")
        if not self.ks or min(self.ks) < 1 or self.n_heldout < 1 or self.neurons < 1:
            raise ValueError("k, the held-out examples and the neurons must be >= 1")
        if self.concurrency is None:  # a server takes several at once; a local model one
            object.__setattr__(self, "concurrency", HTTP_CONCURRENCY
                               if self.backend == "http" else 1)
        if self.concurrency < 1 or self.retries < 0 or not self.backoff >= 0:
            raise ValueError(f"--concurrency must be >= 1, --retries and --backoff >= 0, got "
                             f"{self.concurrency}, {self.retries} and {self.backoff}")
        if self.backend == "local" and self.concurrency > 1:
            raise ValueError("--backend local answers one prompt at a time (one model on "
                             "this machine): leave --concurrency out")

    def recorded(self) -> dict:
        skip = {"api_key", "force", "device", "match", "concurrency", "retries", "backoff"}
        return {k: str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(self).items() if k not in skip}


def make_backend(settings: JudgeSettings):
    """The chat backend of `settings`."""
    from empirics.analysis.chat import HttpChat, LocalChat

    if settings.backend == "http":
        return HttpChat(settings.url, settings.model, api_key=settings.api_key,
                        max_tokens=settings.max_tokens, retries=settings.retries,
                        backoff=settings.backoff,
                        concurrency=settings.concurrency)
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
    judges = {k: MonosemanticityJudge(backend, k=k, n_heldout=settings.n_heldout,
                                      modality=modality) for k in settings.ks}
    verdicts = judge_all(judges, examples, chosen, settings)
    rng = np.random.default_rng([settings.seed, 1])
    results, pooled, prompts, composites, exemplars = {}, {}, {}, {}, {}
    for k in settings.ks:
        prompts[f"k{k}"] = judges[k].prompt
        found = {}
        for key, neurons in chosen.items():
            found[key] = _summary(neurons, verdicts[k, key], rng, settings.level)
            if modality == "image" and len(neurons):
                _keep_composite(composites, exemplars, examples, key, int(neurons[0]), k)
        results[f"k{k}"] = found
        pooled[f"k{k}"] = {p: _pool(found, p, rng, settings.level) for p in POPULATIONS}
    accuracy, f1 = random_baseline(settings.n_heldout, settings.n_heldout)
    return JudgeRecord(config=config, **pair_fields(match), backend=backend.name,
                       modality=modality, ks=list(settings.ks), n_heldout=settings.n_heldout,
                       prompts=prompts, results=results, pooled=pooled,
                       baseline={"accuracy": accuracy, "f1": f1}, composites=composites,
                       exemplars=exemplars, level=settings.level,
                       usage=_usage(backend))


def _usage(backend) -> dict:
    """The backend's count of exchanges and tokens ({} for one that keeps none)."""
    usage = getattr(backend, "usage", None)
    return usage.as_dict() if usage is not None else {}


def judge_all(judges: dict, examples: ExamplesRecord, chosen: dict[str, np.ndarray],
              settings: JudgeSettings) -> dict[tuple, list[dict]]:
    """{(k, population_side): the verdicts on its neurons, in order}: every neuron at every
    k judged by `settings.concurrency` threads at once (a neuron's own exchanges in turn: its
    questions need its description). A neuron's negatives are drawn from its own seed, so the
    verdicts are those of one thread whatever the order the server answers in."""
    jobs = [(k, key, int(n)) for k in judges for key, neurons in chosen.items()
            for n in neurons]

    def judge_one(job):
        k, key, neuron = job
        found = judge_neurons(judges[k], examples, key[-1], [neuron],
                              n_negatives=settings.n_heldout,
                              rng=np.random.default_rng([settings.seed, neuron]))
        return found["verdicts"][0]

    verdicts: dict[tuple, list[dict]] = {(k, key): [] for k in judges for key in chosen}
    with ThreadPoolExecutor(settings.concurrency) as pool:
        done = progress_bar(pool.map(judge_one, jobs), desc="neurons judged", total=len(jobs))
        for (k, key, _), verdict in zip(jobs, done):
            verdicts[k, key].append(verdict)
    return verdicts


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
    def build() -> JudgeRecord:  # the backend is made (a model loaded) only to build
        with closing(make_backend(settings)) as backend:
            return build_judge_record(match, examples, settings, backend, config)

    record, reused = reuse_or_build(directory, JudgeRecord, build, force=settings.force,
                                    config=config)
    return record, directory, reused
