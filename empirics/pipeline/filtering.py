"""The filtering step of the data-filtering case study (docs/filtering.md): a matched pair's
first model scores a pool of the corpus's training documents with a neuron set (Rosetta
neurons enriched in a target category) and with its controls, and keeps a fraction of them.

The neuron sets come from the match's records alone (its pairs and its examples' top
contexts); the model loaded to score is refused unless its files are the ones the match
was made from, so the neurons are the model's.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import NamedTuple

import numpy as np

from empirics.analysis import filtering
from empirics.analysis.pair_records import rosetta_mask
from empirics.analysis.specialization import (
    category_enrichment,
    document_categories,
    sample_categories,
)
from empirics.capture.offline import load_corpus
from empirics.records.examples import ExamplesRecord
from empirics.records.filtering import FilterRecord
from empirics.records.match import MatchRecord
from empirics.records.neurons import neuron_layers
from runstore import config_hash, record_exists, reuse_or_build, run_dir
from runstore.devices import device_name
from runstore.options import check_fields, flag

log = logging.getLogger(__name__)


class StaleModelError(ValueError):
    """The checkpoint found is not the one the match was made from."""


@dataclasses.dataclass(frozen=True)
class FilterSettings:
    """Which match (a run directory with examples/), corpus and checkpoint of its first model;
    the neuron set (target category, how many, the least enrichment, the control rule); the
    scoring (rule, quantile, tokens per document), the pool and kept fraction; seed; output."""

    match: Path = flag(help="a match run directory", type=Path)
    corpus: Path = flag(help="a python -m empirics.corpus dir", type=Path)
    checkpoint: Path | None = flag(None, "the first model's folder (else --model-dir/NAME, else "
                                   "the folder the match loaded)", type=Path)
    out: Path = flag(Path("runs"), "root of the records")
    target: str = flag("code", "category the neurons' top contexts favour")
    n_neurons: int = flag(16, "at most this many neurons", name="--neurons", at_least=1)
    min_enrichment: float = flag(1.5, "least enrichment of a chosen neuron's top contexts in "
                                 "--target")
    control_rule: str = flag("enriched", "control neurons: enriched, random", name="--control",
                             choices=filtering.CONTROL_RULES)
    rule: str = flag("mean", "document score: mean, max, share", choices=filtering.RULES)
    quantile: float = flag(0.99, "a neuron's threshold for --rule share (quantile over the "
                           "pool)", at_least=0.0, at_most=1.0)
    pool: int = flag(2000, "training documents scored", at_least=2)
    fraction: float = flag(0.25, "share of them kept", above=0.0, at_most=1.0)
    max_tokens: int = flag(128, "tokens scored per doc", at_least=1)
    batch: int = 32
    seed: int = flag(0, "pool, controls and random arm")
    device: str = flag("cpu", "auto (CUDA when present), cpu, cuda", type=device_name)
    force: bool = flag(False, "recompute existing records")

    def __post_init__(self):
        check_fields(self)

    def recorded(self) -> dict:
        """The settings that change the record (not where it goes, nor the device)."""
        skip = {"out", "force", "device", "batch", "checkpoint"}
        return {k: str(v) if isinstance(v, Path) else v
                for k, v in dataclasses.asdict(self).items() if k not in skip}


def load_checkpoint(directory: Path, *, device: str = "cpu"):
    """(model, tokenizer) saved in `directory` by `save_pretrained`, the model in eval mode."""
    import transformers

    model = transformers.AutoModelForCausalLM.from_pretrained(directory).to(device).eval()
    return model, transformers.AutoTokenizer.from_pretrained(directory)


def checked_checkpoint(match: MatchRecord, checkpoint: Path | None) -> tuple[Path, dict]:
    """The first model's folder (given, or the one the match loaded) and its identity;
    `StaleModelError` when its files are not the ones the match recorded."""
    from empirics.models.detect import spec_from_checkpoint
    from empirics.models.identity import weights_identity

    source = checkpoint or match.config.get("capture", {}).get("model_a", {}).get("source")
    if source is None or not (Path(source) / "config.json").is_file():
        raise FileNotFoundError(f"no checkpoint of {match.model_a} at {source}; pass "
                                "--model-dir (the folder of the trained family) or --checkpoint")
    identity = weights_identity(spec_from_checkpoint(match.model_a, Path(source)),
                                path=Path(source))
    recorded = (match.config.get("weights") or [None])[0]
    if recorded is None or recorded.get("files") != identity.get("files"):
        raise StaleModelError(f"the files in {source} are not the ones the match of "
                              f"{match.model_a} was made from (or the match recorded none); "
                              "pass the checkpoint it was made from, or match again")
    return Path(source), identity


def neuron_sets(match: MatchRecord, examples: ExamplesRecord, settings: FilterSettings,
                categories: dict) -> dict:
    """{"rosetta", "control"}: (ids, enrichment) of the target set and its control, side a."""
    names_by_input = document_categories(examples.inputs, categories)
    per_sample, names = sample_categories(examples.sample_table["input"], names_by_input)
    if settings.target not in names:
        raise ValueError(f"target category {settings.target!r} is not among the match's "
                         f"inputs' categories {names}")
    enrichment = category_enrichment(examples.samples_a, per_sample,
                                     len(names))[:, names.index(settings.target)]
    rosetta = rosetta_mask(match, "a")
    chosen = filtering.target_neurons(enrichment, rosetta, n_max=settings.n_neurons,
                                      min_enrichment=settings.min_enrichment)
    control = filtering.layer_matched_control(
        chosen, neuron_layers(match.layer_sizes_a), rosetta, enrichment,
        rule=settings.control_rule, rng=np.random.default_rng(settings.seed))
    return {"rosetta": (chosen, enrichment[chosen]), "control": (control, enrichment[control])}


def _pool(corpus, settings: FilterSettings) -> tuple[list, list]:
    documents = corpus.documents("train")
    labels = corpus.categories("train")
    if len(documents) < settings.pool:
        raise ValueError(f"the training split has {len(documents)} documents, fewer than "
                         f"--pool {settings.pool}")
    order = np.sort(np.random.default_rng(settings.seed).choice(
        len(documents), size=settings.pool, replace=False))
    chosen = [documents[i] for i in order]
    return chosen, [labels[d.id] for d in chosen]


def score_pool(model, tokenizer, documents, sets: dict, settings: FilterSettings) -> tuple:
    """Per arm the score of every document, and the tokens scored per document."""
    from empirics.capture.windows import document_activations, document_ids
    from empirics.models.hooks import architecture_of

    ids = [doc[:settings.max_tokens] for doc in document_ids(tokenizer, documents)]
    empty = [d.id for d, i in zip(documents, ids) if not len(i)]
    if empty:
        raise ValueError(f"documents without tokens in the pool: {empty[:3]}")
    union = np.unique(np.concatenate([sets[a][0] for a in sets]))
    acts = document_activations(model, architecture_of(model), ids, union,
                                batch=settings.batch, pad=int(tokenizer.eos_token_id or 0))
    scores = {}
    for arm, (neurons, _) in sets.items():
        columns = np.searchsorted(union, neurons)
        scores[arm] = filtering.score_documents([a[:, columns] for a in acts], settings.rule,
                                                quantile=settings.quantile)
    return scores, np.array([len(i) for i in ids], dtype=np.int64)


def build_filter(settings: FilterSettings, match: MatchRecord, examples: ExamplesRecord,
                 corpus, checkpoint: Path, config: dict) -> FilterRecord:
    """Score the pool with both neuron sets and keep the top fraction of each (and as many
    documents at random)."""
    documents, labels = _pool(corpus, settings)
    sets = neuron_sets(match, examples, settings, corpus.categories("heldout") |
                       corpus.categories("train"))
    log.info("target set: %d neurons (mean enrichment %.3g), control %.3g",
             len(sets["rosetta"][0]), sets["rosetta"][1].mean(), sets["control"][1].mean())
    model, tokenizer = load_checkpoint(checkpoint, device=settings.device)
    scores, tokens = score_pool(model, tokenizer, documents, sets, settings)
    kept = {arm: filtering.keep_top(scores[arm], settings.fraction) for arm in scores}
    kept["random"] = filtering.random_subset(
        len(documents), len(kept["rosetta"]), rng=np.random.default_rng([settings.seed, 1]))
    return FilterRecord(
        config=config, model=match.model_a, match=str(settings.match), target=settings.target,
        rule=settings.rule, quantile=settings.quantile, fraction=settings.fraction,
        seed=settings.seed, control_rule=settings.control_rule, corpus_sha256=corpus.sha256,
        split="train", max_tokens=settings.max_tokens,
        documents=[d.id for d in documents], categories=labels, tokens=tokens,
        neurons={arm: sets[arm][0].astype(np.int64) for arm in sets},
        enrichment={arm: sets[arm][1].astype(np.float64) for arm in sets},
        scores={arm: s.astype(np.float64) for arm, s in scores.items()},
        kept={arm: k.astype(np.int64) for arm, k in kept.items()},
        composition={arm: filtering.composition(labels, k) for arm, k in kept.items()})


class FilterRun(NamedTuple):
    """A filter record, where it is, whether it was reused, and the checkpoint it scored with."""

    record: FilterRecord
    directory: Path
    reused: bool
    checkpoint: Path


def run_filter(settings: FilterSettings) -> FilterRun:
    """The filter record of `settings` (reused when saved with the same config)."""
    match = MatchRecord.load(settings.match)
    if not record_exists(settings.match / "examples"):
        raise FileNotFoundError(f"no examples in {settings.match / 'examples'}: the neuron set "
                                "is chosen by its top contexts (empirics.match --examples 16)")
    examples = ExamplesRecord.load(settings.match / "examples")
    corpus = load_corpus(settings.corpus)
    checkpoint, identity = checked_checkpoint(match, settings.checkpoint)
    config = {"analysis": "filter", **settings.recorded(), "match_hash":
              config_hash(match.config), "corpus_sha256": corpus.sha256, "weights": identity}
    directory = run_dir(settings.out, "filter", config, f"{match.model_a}-{settings.target}")
    record, reused = reuse_or_build(
        directory, FilterRecord,
        lambda: build_filter(settings, match, examples, corpus, checkpoint, config),
        force=settings.force, config=config)
    return FilterRun(record, directory, reused, checkpoint)
