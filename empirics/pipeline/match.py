"""One model pair, end to end: load both models, capture their aligned activations on the same
inputs, match the neurons with the engine and save the MatchRecord (with its examples and
activation statistics) in a run directory derived from the whole configuration.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from empirics.analysis.examples import collect_examples, image_grid, pair_examples_record
from empirics.analysis.selectivity import collect_activation_stats
from empirics.capture.pair import image_pair_source, text_pair_source
from empirics.capture.stimuli import (
    default_corpus,
    load_image_folder,
    load_text_files,
    synthetic_images,
)
from empirics.engine.distributed import (
    SINGLE,
    Ranks,
    shard_inputs,
)
from empirics.engine.matching import match_neurons
from empirics.engine.nulls import permute_tokens
from empirics.models.load import load_model
from empirics.models.registry import ModelSpec, get_spec, matched_pairs
from empirics.records.analysis import STATS_DIR, ActivationStatsRecord
from empirics.records.match import MatchRecord
from runstore import record_exists, run_dir

log = logging.getLogger("empirics.match")


#: The cross-family pairs at matched scale that `--all` runs, per kind.
FAMILY_PAIRS = {"language": ("pythia", "opt"), "vision": ("openclip", "dinov2")}


KINDS = {"language": "text", "vision": "vision"}


DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def pairs_for(args) -> list[tuple[ModelSpec, ModelSpec]]:
    if args.pair:
        return [(get_spec(args.pair[0]), get_spec(args.pair[1]))]
    return list(matched_pairs(*FAMILY_PAIRS[args.family]))


def pair_config(spec_a: ModelSpec, spec_b: ModelSpec, *, family: str, inputs: list,
                options: dict) -> dict:
    """The configuration that names a pair's run directory (and goes into its record)."""
    return {"family": family, "model_a": spec_a.name, "model_b": spec_b.name,
            "inputs": [item.id for item in inputs], **options}


def pair_directory(out: Path, config: dict) -> Path:
    return run_dir(out, "match", config, f"{config['model_a']}--{config['model_b']}")


def match_pair(spec_a: ModelSpec, spec_b: ModelSpec, *, family: str, inputs: list,
               options: dict, out: Path, device: torch.device, paths=(None, None),
               force: bool = False, placement: dict | None = None,
               ranks: Ranks = SINGLE) -> Path:
    """Load, capture, match and save one pair; return the record's directory.

    `options` holds init, null, seed, dtype (name), batch, tokens, k, candidates, groups,
    min_correlation, cache_dir and download; it goes into the record's config whole.
    `placement` ({"device_map": ..., "max_memory": ...}) spreads large models over devices;
    with `ranks` several processes share the run (empirics.distributed; rank 0 writes).
    """
    config = pair_config(spec_a, spec_b, family=family, inputs=inputs, options=options)
    directory = pair_directory(out, config)
    if record_exists(directory) and not force:
        log.info("reusing %s", directory)
        return directory
    dtype = DTYPES[options["dtype"]]
    models = [load_model(spec, path=path, init=options["init"], dtype=dtype, device=device,
                         download=options["download"], cache_dir=options["cache_dir"],
                         seed=options["seed"] + side, **(placement or {}))
              for side, (spec, path) in enumerate(zip((spec_a, spec_b), paths))]
    pair, source = _stream(models, family, inputs, options, device, directory, ranks)
    if options["null"] == "permuted":
        source = permute_tokens(source, seed=options["seed"], ranks=ranks)
    examples = options.get("examples") and not ranks.shards_data
    if examples:
        source, examples = collect_examples(source, sum(pair.layer_sizes_a),
                                            sum(pair.layer_sizes_b), options["examples"],
                                            grid=image_grid(pair))
    stats = not ranks.shards_data
    if stats:
        source, stats = collect_activation_stats(source, sum(pair.layer_sizes_a),
                                                 sum(pair.layer_sizes_b))
    found = match_neurons(source, k=options["k"], candidates=options["candidates"],
                          groups=options["groups"], min_correlation=options["min_correlation"],
                          device=device, dtype=dtype, checkpoint=directory / "state",
                          progress=ranks.writer, ranks=ranks)
    if not ranks.writer:
        return directory
    null = "untrained" if options["init"] == "random" else options["null"]
    record = MatchRecord.from_matches(
        found, config=config | {"capture": pair.manifest}, family=family,
        model_a=spec_a.name, model_b=spec_b.name, size_a=spec_a.n_params,
        size_b=spec_b.n_params, layer_sizes_a=pair.layer_sizes_a,
        layer_sizes_b=pair.layer_sizes_b, null=null)
    if examples:
        pair_examples_record(examples(), pair, spec_a.name, spec_b.name,
                        inputs).save(directory / "examples")
    if stats:
        stats_a, stats_b = (side.result() for side in stats())
        ActivationStatsRecord(config={"capture": pair.manifest}, model_a=spec_a.name,
                              model_b=spec_b.name, stats_a=stats_a,
                              stats_b=stats_b).save(directory / STATS_DIR)
    record.save(directory)
    return directory


def _stream(models, family, inputs, options, device, directory, ranks):
    """The pair over all inputs (manifest, layer sizes) and this rank's activation stream.

    A data split's rank captures only its own batches (`shard_inputs`); the whole inputs are
    only tokenized or preprocessed for the manifest. Each rank caches in its own folder.
    """
    cache = directory / "activations" if options.get("cache_activations") else None
    if cache is not None and ranks.world > 1:
        cache = cache / f"rank-{ranks.rank}-of-{ranks.world}"
    if not ranks.shards_data:
        pair = _capture(models, family, inputs, options, device, cache)
        return pair, pair.source
    if options.get("examples"):
        log.warning("examples are not gathered when ranks share the batches")
    shard = shard_inputs(inputs, options["batch"], ranks)
    return (_capture(models, family, inputs, options, device, None),
            _capture(models, family, shard, options, device, cache).source)


def _capture(models, family, inputs, options, device, cache):
    if family == "language":
        return text_pair_source(*models, inputs, docs_per_batch=options["batch"],
                                max_tokens=options["tokens"], out_device=device,
                                cache_dir=cache, progress=True)
    return image_pair_source(*models, inputs, images_per_batch=options["batch"],
                             out_device=device, cache_dir=cache, progress=True)


def inputs_for(args) -> list:
    if args.family == "language":
        documents = load_text_files(args.text) if args.text else default_corpus()
        return documents[: args.docs] if args.docs else documents
    return load_image_folder(args.image_dir) if args.image_dir else synthetic_images(args.images)
