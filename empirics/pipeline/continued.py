"""Continued pretraining on the arms of a filter record (docs/filtering.md): the filter's
model is trained further on each arm's kept documents with identical steps, optimiser and
token budget, once per seed, and its held-out loss is measured per category.

The seed sets the arm's document order and the batches; every run starts from the same
checkpoint, refused unless its files are the ones the filter scored with.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

import numpy as np

from empirics.analysis.filtering import seed_interval
from empirics.capture.offline import load_corpus
from empirics.pipeline.filtering import (
    FilterRun,
    FilterSettings,
    StaleModelError,
    load_checkpoint,
    run_filter,
)
from empirics.records.filtering import ARMS, ContinuedRecord, FilterRecord
from runstore import config_hash, reuse_or_build, run_dir
from runstore.options import check_fields, flag

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ContinueSettings:
    """The filter record and corpus; the budget (steps x batch x context tokens), the
    optimiser's peak rate and warm-up share; the seeds; held-out tokens per category."""

    corpus: Path
    filter: Path | None = None
    checkpoint: Path | None = None
    out: Path = Path("runs")
    steps: int = flag(100, "continued-pretraining steps", at_least=1)
    batch: int = flag(16, "windows per step", at_least=1)
    context: int = flag(128, "tokens per window", at_least=2)
    lr: float = flag(1e-3, "peak learning rate (cosine decay)", above=0.0)
    warmup: float = 0.1
    seeds: tuple = flag((0, 1, 2), "training seeds", at_least=0)
    heldout_tokens: int = flag(20_000, "held-out tokens per category", at_least=1)
    level: float = 0.95
    device: str = "cpu"
    force: bool = False

    def __post_init__(self):
        check_fields(self)
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"the seeds repeat: {self.seeds}")

    def recorded(self) -> dict:
        skip = {"out", "force", "device", "checkpoint", "filter", "corpus"}
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(self).items() if k not in skip}


def heldout_streams(corpus, tokenizer, limit: int) -> dict[str, np.ndarray]:
    """{category: up to `limit` held-out token ids of its documents, in corpus order}."""
    from empirics.pipeline.train import token_ids

    documents, labels = corpus.documents("heldout"), corpus.categories("heldout")
    return {name: token_ids(tokenizer, [d for d in documents if labels[d.id] == name],
                            limit=limit, seed=None)
            for name in sorted(set(labels.values()))}


def _train_arm(settings: ContinueSettings, tokens: np.ndarray, seed: int, streams: dict,
               desc: str) -> list[float]:
    import torch

    from empirics.pipeline.train import batches, heldout_loss, optimise

    torch.manual_seed(seed)
    model, _ = load_checkpoint(settings.checkpoint, device=settings.device)
    blocks = batches(tokens, settings.context, settings.batch, settings.steps, seed=seed)
    optimise(model, blocks, settings.steps, settings, desc=desc)
    return [heldout_loss(model, streams[c], settings.context, settings.device)
            for c in sorted(streams)]


def build_continued(settings: ContinueSettings, record: FilterRecord, corpus,
                    config: dict) -> ContinuedRecord:
    """Train every arm x seed and measure the held-out loss per category."""
    from empirics.pipeline.train import heldout_loss, token_ids

    started = time.perf_counter()
    model, tokenizer = load_checkpoint(settings.checkpoint, device=settings.device)
    streams = heldout_streams(corpus, tokenizer, settings.heldout_tokens)
    short = [c for c, s in streams.items() if len(s) < settings.context + 1]
    if short:
        raise ValueError(f"categories {short} hold fewer held-out tokens than one window")
    categories = sorted(streams)
    baseline = np.array([heldout_loss(model, streams[c], settings.context, settings.device)
                         for c in categories])
    documents = dict(zip(record.documents, corpus_texts(corpus, record)))
    budget = settings.steps * settings.batch * settings.context
    loss = np.empty((len(ARMS), len(settings.seeds), len(categories)))
    arm_tokens, epochs = {}, {}
    for a, arm in enumerate(ARMS):
        kept = [documents[record.documents[i]] for i in record.kept[arm]]
        for s, seed in enumerate(settings.seeds):
            tokens = token_ids(tokenizer, kept, limit=2**62, seed=seed)
            arm_tokens[arm], epochs[arm] = int(len(tokens)), budget / len(tokens)
            loss[a, s] = _train_arm(settings, tokens, seed, streams, f"{arm} seed {seed}")
            log.info("%s seed %d: %s", arm, seed, np.round(loss[a, s], 4).tolist())
    summary = {arm: {c: seed_interval(loss[a, :, k], level=settings.level)
                     for k, c in enumerate(categories)} for a, arm in enumerate(ARMS)}
    random = ARMS.index("random")
    delta = {arm: {c: seed_interval(loss[a, :, k] - loss[random, :, k], level=settings.level)
                   for k, c in enumerate(categories)} for a, arm in enumerate(ARMS)}
    return ContinuedRecord(
        config=config, model=record.model, filter=str(settings.filter), arms=list(ARMS),
        seeds=list(settings.seeds), categories=categories, loss=loss, baseline=baseline,
        heldout_tokens=[int(len(streams[c])) for c in categories], steps=settings.steps,
        batch=settings.batch, context=settings.context, lr=settings.lr, arm_tokens=arm_tokens,
        epochs=epochs, summary=summary, delta=delta, level=settings.level,
        seconds=time.perf_counter() - started)


def corpus_texts(corpus, record: FilterRecord) -> list:
    """The filter's pool documents, from the corpus (refused if the corpus is another)."""
    if corpus.sha256 != record.corpus_sha256:
        raise ValueError(f"the corpus in {corpus.directory} is not the one the filter scored "
                         f"(sha256 {corpus.sha256[:12]} vs {record.corpus_sha256[:12]})")
    found = {d.id: d for d in corpus.documents(record.split)}
    return [found[i] for i in record.documents]


def run_continued(settings: ContinueSettings) -> tuple[ContinuedRecord, Path, bool]:
    """The continued-pretraining record of `settings` (reused when saved with its config)."""
    from empirics.models.detect import spec_from_checkpoint
    from empirics.models.identity import weights_identity

    if settings.filter is None or settings.checkpoint is None:
        raise ValueError("continued pretraining needs a filter record and the checkpoint")
    record = FilterRecord.load(settings.filter)
    identity = weights_identity(spec_from_checkpoint(record.model, settings.checkpoint),
                                path=settings.checkpoint)
    if identity.get("files") != record.config.get("weights", {}).get("files"):
        raise StaleModelError(f"the files in {settings.checkpoint} are not the ones the filter "
                              f"in {settings.filter} scored with")
    corpus = load_corpus(settings.corpus)
    config = {"analysis": "continued_pretraining", **settings.recorded(),
              "filter_hash": config_hash(record.config), "weights": identity}
    directory = run_dir(settings.out, "continued", config, f"{record.model}-{record.target}")
    found, reused = reuse_or_build(
        directory, ContinuedRecord, lambda: build_continued(settings, record, corpus, config),
        force=settings.force, config=config)
    return found, directory, reused


@dataclasses.dataclass(frozen=True)
class StudySettings:
    """The whole case study: the filter step, then (unless `training` is None) continued
    pretraining on its arms (its filter and checkpoint are the filter step's)."""

    filtering: FilterSettings
    training: ContinueSettings | None


def run_study(settings: StudySettings) -> tuple[FilterRun, tuple | None]:
    """The filter run and, when asked for, (ContinuedRecord, its directory, reused)."""
    found = run_filter(settings.filtering)
    if settings.training is None:
        return found, None
    training = dataclasses.replace(settings.training, filter=found.directory,
                                   checkpoint=found.checkpoint)
    return found, run_continued(training)
