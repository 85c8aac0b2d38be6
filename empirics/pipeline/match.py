"""One model pair, end to end: load both models, capture their aligned activations on the same
inputs, match the neurons with the engine and save the MatchRecord (with its examples and
activation statistics) in a run directory derived from the whole configuration.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import shutil
import time
from pathlib import Path

import torch

from empirics.analysis.examples import collect_examples, image_grid, pair_examples_record
from empirics.analysis.selectivity import collect_activation_stats
from empirics.capture.draw import draw_text
from empirics.capture.stimuli import (
    stimuli_digest,
)
from empirics.engine.distributed import SINGLE, Ranks, launched_ranks, shard_inputs, stop_group
from empirics.engine.entry import EngineOptions, match
from empirics.engine.kernel import available_memory
from empirics.engine.nulls import permute_tokens
from empirics.engine.two_stage import check_ranks, default_sample_dtype, sample_bytes
from empirics.models.identity import untrained_seeds, weights_identity
from empirics.models.lens import current_identity
from empirics.models.load import load_model
from empirics.models.local import trained_family, trained_pairs
from empirics.models.missing import MissingModelError, each_or_missing
from empirics.models.registry import ModelSpec
from empirics.pipeline.baseline import training_summary
from empirics.pipeline.options import InputChoice, MatchOptions, Placement
from empirics.pipeline.pairs import check_inputs, check_kinds, inputs_for, match_family, pairs_for
from empirics.pipeline.summary import MatchRun, PairOutcome
from empirics.records.analysis import STATS_DIR, ActivationStatsRecord
from empirics.records.match import MatchRecord
from empirics.report.build import write_report
from runstore import reuse_or_build, run_dir
from runstore.devices import resolve_device

log = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
#: The engine's checkpoint inside a pair's run directory (removed once the record is saved).
STATE_DIR = "state"


@dataclasses.dataclass(frozen=True)
class MatchSettings:
    """Everything `python -m empirics.match` does for a real family: the pairs (registry
    names; None: every matched-scale pair of the family), local checkpoints of A and B, the
    inputs, the options that go into each record, where records go and where models run,
    how processes under torchrun share a pair (`split`), and whether to write the browser."""

    family: str
    pair: tuple | None = None
    paths: tuple = (None, None)
    inputs: InputChoice = InputChoice()
    options: MatchOptions = MatchOptions()
    out: Path = Path("runs")
    placement: Placement = Placement()
    split: str = "data"
    force: bool = False
    report: bool = False
    model_dir: Path | None = None

    def __post_init__(self):
        check_replay(self.family, self.options)
        check_inputs(self.family, self.inputs)


def check_replay(family: str, options: MatchOptions, processes: int = 1) -> None:
    """Refuse an official replay that the official code's language path does not cover:
    another family (its vision code is another pipeline) or several processes per pair."""
    if options.replay != "official":
        return
    if not match_family(family).replay:
        raise ValueError(f"--replay official replays the official language pipeline "
                         f"(language/find_pairs); the {family} family has no replay")
    if processes > 1:
        raise ValueError(f"--replay official runs each pair in one process, not {processes} "
                         "(no torchrun, no --tasks)")


def check_sharing(family: str, options: MatchOptions, processes: int, split: str) -> None:
    """Refuse, before any model loads, a run that `processes` processes cannot share by
    `split`: an official replay (one process per pair), or the two-stage engine split by
    neurons (it shares a pair by batches)."""
    check_replay(family, options, processes)
    if processes > 1 and options.replay != "official" and options.engine == "two-stage":
        check_ranks(Ranks(0, processes, split))


def pairs_with_paths(settings: MatchSettings) -> list[tuple]:
    """(spec_a, spec_b, (path_a, path_b)) of every pair to match: those of a trained family
    in `model_dir` (cross-architecture and seed pairs, `trained_pairs`; with `pair`, only
    that one), else `pairs_for`."""
    if settings.model_dir is None:
        return pairs_for(settings.family, settings.pair, settings.paths,
                         cache_dir=settings.options.cache_dir,
                         download=settings.options.download)
    found = trained_pairs(trained_family(settings.model_dir))
    check_kinds(settings.family, found)
    if settings.pair:
        found = [p for p in found if (p[0].name, p[1].name) == tuple(settings.pair)]
        if not found:
            raise ValueError(f"{settings.pair[0]} x {settings.pair[1]} is not a pair of the "
                             f"family in {settings.model_dir}")
    return found


def run_match(settings: MatchSettings) -> MatchRun:
    """Match every pair of `settings` that can be loaded, in order.

    Under torchrun the processes share each pair (`settings.split`); rank 0 writes. A pair
    whose model is missing (`MissingModelError`) is passed over with its message, so one
    missing checkpoint does not stop the others.
    """
    pairs = pairs_with_paths(settings)
    ranks, device = launched_ranks(resolve_device(settings.placement.device),
                                   split=settings.split)
    outcomes, baselines = [], {}  # the training split's token counts, shared by the pairs
    try:
        inputs, provenance = inputs_for(settings.family, settings.inputs)
        if provenance:
            kind = "documents" if match_family(settings.family).kind == "text" else "images"
            log.info(draw_text(provenance["draw"], len(inputs), kind))
        for spec_a, spec_b, paths in pairs:
            log.info("pair %s x %s (%s, %d inputs)", spec_a.name, spec_b.name,
                     settings.options.init, len(inputs))
            started = time.perf_counter()
            try:
                directory, missing = match_pair(
                    spec_a, spec_b, family=settings.family, inputs=inputs,
                    options=settings.options, out=settings.out, device=device,
                    paths=paths, force=settings.force, placement=settings.placement,
                    ranks=ranks, provenance=provenance, corpus=settings.inputs.corpus,
                    baselines=baselines), None
            except MissingModelError as error:
                directory, missing = None, str(error)
                log.warning("skipped %s x %s: a model's files are missing", spec_a.name,
                            spec_b.name)
            outcomes.append(PairOutcome(spec_a.name, spec_b.name, time.perf_counter() - started,
                                        directory, missing))
            if directory is None:
                continue
            log.info("record: %s", directory)
            if settings.report and ranks.writer:
                log.info("report: %s", write_report(directory))
        ranks.barrier()  # every rank leaves the group together, after rank 0 has written
    finally:
        stop_group()
    return MatchRun(tuple(outcomes), writer=ranks.writer)


def pair_config(spec_a: ModelSpec, spec_b: ModelSpec, *, family: str, inputs: list,
                options: MatchOptions, paths: tuple = (None, None),
                provenance: dict | None = None, weights: list | None = None) -> dict:
    """The configuration that names a pair's run directory (and goes into its record):
    both models with their architectures and the content identity of what will be loaded
    for them (weights, configuration, tokenizer: `weights_identity`), the inputs' ids and
    sha256, and every option that changes the numbers. The architectures are part of a
    pair's series (`empirics.records.pair`): cross-architecture pairs and seed pairs of one
    architecture are never fitted as one series. `weights` gives the identities of models
    already loaded (`LoadedModel.identity`) instead."""
    weights = weights or each_or_missing(
        functools.partial(weights_identity, spec, path=path, init=options.init,
                          download=options.download, cache_dir=options.cache_dir)
        for spec, path in zip((spec_a, spec_b), paths))
    if options.init == "random":  # the twins' own seeds: part of what the numbers depend on
        seeds = untrained_seeds(spec_a.name, spec_b.name, options.seed)
        weights = [identity | {"init_seed": seed} for identity, seed in zip(weights, seeds)]
    config = {"family": family, "model_a": spec_a.name, "model_b": spec_b.name,
              "architectures": [spec_a.architecture, spec_b.architecture],
              "inputs": [item.id for item in inputs], "inputs_sha256": stimuli_digest(inputs),
              "weights": weights, **options.to_config()}
    if provenance is not None:
        config["corpus"] = provenance
    return config


def pair_directory(out: Path, config: dict) -> Path:
    return run_dir(out, "match", config, f"{config['model_a']}--{config['model_b']}")


def match_pair(spec_a: ModelSpec, spec_b: ModelSpec, *, family: str, inputs: list,
               options: MatchOptions, out: Path, device: torch.device,
               paths=(None, None), force: bool = False, placement: Placement = Placement(),
               ranks: Ranks = SINGLE, provenance: dict | None = None,
               models: tuple | None = None, corpus: Path | None = None,
               baselines: dict | None = None) -> Path:
    """Load, capture, match and save one pair; return the record's directory.

    `options` goes into the record's config whole; `device` is where activations and the
    engine run, and `placement` may spread large models over devices; with `ranks` several
    processes share the run (empirics.engine.distributed; rank 0 writes). `models`: the
    two models already loaded (e.g. `empirics.models.lens.from_transformer_lens`), keyed by
    their identities; their specs must be `spec_a` and `spec_b`. A model saved with a train
    log (`empirics.train`) has its held-out loss and unigram baseline stated in the record
    (`training`; the baseline computed on `corpus` where the log lacks it, the training
    split's counts kept in `baselines` across pairs).
    """
    check_sharing(family, options, ranks.world, ranks.split)
    if models and options.init != "pretrained":
        raise ValueError("models given loaded are matched as they are: --init random "
                         "(the untrained null) loads its own models")
    weights = [current_identity(model) for model in models] if models else None
    config = pair_config(spec_a, spec_b, family=family, inputs=inputs, options=options,
                         paths=paths, provenance=provenance, weights=weights)
    directory = pair_directory(out, config)
    state = directory / STATE_DIR
    if force and ranks.writer:  # --force starts over: no engine state is reused
        shutil.rmtree(state, ignore_errors=True)
    ranks.barrier()
    _, reused = reuse_or_build(
        directory, MatchRecord,
        lambda: _match_and_save(spec_a, spec_b, family=family, inputs=inputs, options=options,
                                config=config, directory=directory, device=device, paths=paths,
                                placement=placement, ranks=ranks, models=models,
                                training=lambda: training_of(paths, options, corpus, baselines)),
        force=force, load=False)
    if not reused and ranks.writer:  # the record holds the result; the state is spent
        shutil.rmtree(state, ignore_errors=True)
    return directory


def _match_and_save(spec_a, spec_b, *, family, inputs, options, config, directory, device,
                    paths, placement, ranks, models=None, training=dict) -> MatchRecord | None:
    """The pair's MatchRecord (its examples and statistics saved beside it), or None on a
    rank that does not write."""
    dtype = DTYPES[options.dtype]
    seeds = untrained_seeds(spec_a.name, spec_b.name, options.seed)
    models = models or [load_model(spec, path=path, init=options.init, dtype=dtype,
                                   device=device, download=options.download,
                                   cache_dir=options.cache_dir, seed=seed,
                                   **placement.loader_options())
                        for spec, path, seed in zip((spec_a, spec_b), paths, seeds)]
    pair, source = _stream(models, family, inputs, options, device, directory, ranks)
    if options.null == "permuted":
        source = permute_tokens(source, seed=options.seed, ranks=ranks)
    examples = options.examples and not ranks.shards_data
    if examples:
        source, examples = collect_examples(source, sum(pair.layer_sizes_a),
                                            sum(pair.layer_sizes_b), options.examples,
                                            grid=image_grid(pair))
    stats = not ranks.shards_data
    if stats:
        source, stats = collect_activation_stats(source, sum(pair.layer_sizes_a),
                                                 sum(pair.layer_sizes_b))
    found = _engine(source, options, device=device, directory=directory, ranks=ranks,
                    layers=(pair.layer_sizes_a, pair.layer_sizes_b))
    if not ranks.writer:
        return None
    null = null_label(options)
    record = MatchRecord.from_matches(
        found, config=config | {"capture": pair.manifest, "guarantee": found.guarantee,
                                **training()},
        family=family,
        model_a=spec_a.name, model_b=spec_b.name, size_a=models[0].n_params,
        size_b=models[1].n_params, layer_sizes_a=pair.layer_sizes_a,
        layer_sizes_b=pair.layer_sizes_b, null=null)
    if examples:
        pair_examples_record(examples(), pair, spec_a.name, spec_b.name,
                             inputs).save(directory / "examples")
    if stats:
        stats_a, stats_b = (side.result() for side in stats())
        ActivationStatsRecord(config={"capture": pair.manifest}, model_a=spec_a.name,
                              model_b=spec_b.name, stats_a=stats_a,
                              stats_b=stats_b).save(directory / STATS_DIR)
    return record


def training_of(paths, options: MatchOptions, corpus: Path | None,
                baselines: dict | None) -> dict:
    """{"training": [A's, B's]} (`empirics.pipeline.baseline.training_summary`; None for a
    model without a train log, e.g. a hub checkpoint): not part of the run's hash (it
    restates the files the hash covers), like the capture manifest. An untrained null states
    none (its weights are not the trained ones)."""
    if options.init != "pretrained":
        return {}
    return {"training": [training_summary(path, corpus, counts=baselines) for path in paths]}


def _sample_dir(options: MatchOptions, widths: tuple[int, int], directory: Path, device,
                ranks: Ranks = SINGLE):
    """Where the two-stage sample is kept on disk: in the run directory (a folder per rank
    of a data split) when the samples of this machine's ranks would take more than half the
    host's available memory in the dtype they are stored in (None: in memory)."""
    size = sample_bytes(options.subsample, *widths, default_sample_dtype(device), ranks.world)
    if size * ranks.local_world <= available_memory("cpu") / 2:
        return None
    folder = directory / STATE_DIR / "sample"
    return folder / f"rank-{ranks.rank}-of-{ranks.world}" if ranks.world > 1 else folder


def engine_options(options: MatchOptions) -> EngineOptions:
    """The engine's options of a match: its mode (`--replay official` replays the official
    code whatever `--engine` says), k, candidates, groups, threshold, product precision and
    the two-stage sample and certificate."""
    mode = "official" if options.replay == "official" else options.engine
    return EngineOptions(mode=mode, k=options.k, candidates=options.candidates,
                         groups=options.groups, min_correlation=options.min_correlation,
                         dtype=DTYPES[options.dtype], subsample=options.subsample,
                         delta=options.delta, recheck_uncertified=options.recheck_uncertified)


def _engine(source, options: MatchOptions, *, device, directory, ranks, layers):
    """The pair's Matches from the engine's one entry (`empirics.engine.entry.match`): the
    two-stage engine (a data split's ranks share it; its sample on disk when large), the
    exact block engine (checkpointed in the run directory), or the replay of the official
    code; `layers` are both models' layer widths."""
    engine = engine_options(options)
    sample_dir = None
    if engine.mode == "two-stage":
        widths = tuple(sum(sizes) for sizes in layers)
        sample_dir = _sample_dir(options, widths, directory, device, ranks)
    return match(source, engine, device=device, ranks=ranks, checkpoint=directory / STATE_DIR,
                 sample_dir=sample_dir, layers=layers,
                 progress=True if engine.mode == "official" else ranks.writer)


def null_label(options: MatchOptions) -> str:
    """The record's null: "none", "permuted", "untrained", or "untrained-permuted" (untrained
    weights on permuted inputs: the chance level of an untrained pair, which calibrates its
    count the way "permuted" calibrates a trained pair's)."""
    if options.init != "random":
        return options.null
    return "untrained-permuted" if options.null == "permuted" else "untrained"


def _stream(models, family, inputs, options, device, directory, ranks):
    """The pair over all inputs (manifest, layer sizes) and this rank's activation stream.

    A data split's rank captures only its own batches (`shard_inputs`); the whole inputs are
    only tokenized or preprocessed for the manifest. Each rank caches in its own folder.
    """
    cache = directory / "activations" if options.cache_activations else None
    if cache is not None and ranks.world > 1:
        cache = cache / f"rank-{ranks.rank}-of-{ranks.world}"
    if not ranks.shards_data:
        pair = _capture(models, family, inputs, options, device, cache)
        return pair, pair.source
    if options.examples:
        log.warning("examples are not gathered when ranks share the batches")
    shard = shard_inputs(inputs, options.batch, ranks)
    return (_capture(models, family, inputs, options, device, None),
            _capture(models, family, shard, options, device, cache).source)


def _capture(models, family, inputs, options, device, cache):
    return match_family(family).source(*models, inputs, options=options, device=device,
                                       cache_dir=cache)
