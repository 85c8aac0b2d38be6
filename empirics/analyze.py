"""python -m empirics.analyze: selectivity, specialization, depth and robustness analyses of
existing match runs.

    python -m empirics.analyze --runs runs/ --family language --vocabulary --device cuda

For every MatchRecord under --runs it writes, inside the match's run directory,
depth/ (Rosetta share per normalized-depth bin), topk/ (mutual top-k for each --ks value the
run's candidates allow), selectivity/ (activation proxies from the
statistics `empirics.match` gathered on its first pass, the z-score of the top examples,
with --vocabulary the vocabulary-space kurtosis of language models, and any --judge) and
specialization/ (category enrichment of the top examples); runs of one pair that
differ only in their inputs give a stability record in <runs>/analysis/stability/. Nothing
re-runs a model except --vocabulary, which loads the weights. A record whose configuration
is unchanged is reused unless --force.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from pathlib import Path

import numpy as np

from empirics.analysis import pair_records
from empirics.records.analysis import (
    ANALYSIS_DIRS,
    STATS_DIR,
    ActivationStatsRecord,
    StabilityRecord,
)
from empirics.records.examples import ExamplesRecord
from empirics.records.match import MatchRecord
from runstore import config_hash, find_records, record_exists, reusable, reuse_or_build, run_dir

log = logging.getLogger("empirics.analyze")
ANALYSES = ("depth", "topk", "selectivity", "specialization", "stability")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m empirics.analyze",
                                description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=Path, default=Path("runs"), help="root of the match runs")
    p.add_argument("--family", help="only match records of this family")
    p.add_argument("--analyses", default=",".join(ANALYSES),
                   help="comma-separated subset of " + ", ".join(ANALYSES))
    p.add_argument("--ks", default="1,2,5,10", help="k values of mutual top-k")
    p.add_argument("--bins", type=int, default=10, help="normalized-depth bins")
    p.add_argument("--vocabulary", action="store_true",
                   help="vocabulary-space kurtosis of language models (loads the weights)")
    p.add_argument("--path", action="append", default=[], metavar="NAME=DIR",
                   help="local checkpoint of a model (repeatable)")
    p.add_argument("--cache-dir", type=Path, help="Hugging Face cache directory")
    p.add_argument("--download", action="store_true", help="allow downloading weights")
    p.add_argument("--device", default="auto", help="device of the vocabulary projections")
    p.add_argument("--categories", type=Path,
                   help="JSON mapping input ids to categories (default: the embedded corpus)")
    p.add_argument("--judge", help="module:factory of a selectivity judge")
    p.add_argument("--judge-neurons", type=int, default=32,
                   help="Rosetta and control neurons judged per model")
    p.add_argument("--level", type=float, default=0.95)
    p.add_argument("--seed", type=int, default=0, help="seed of the control samples")
    p.add_argument("--force", action="store_true", help="recompute existing records")
    return p


def main(argv: list[str] | None = None) -> list[Path]:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        chosen, ks = _choices(args)
        categories = json.loads(args.categories.read_text()) if args.categories else None
    except (ValueError, OSError) as error:
        parser.error(str(error))
    found = find_records(args.runs, MatchRecord, family=args.family)
    if not found:
        parser.exit(1, f"no match records under {args.runs}"
                       f"{f' of family {args.family}' if args.family else ''}; make them "
                       "with python -m empirics.match\n")
    written = []
    for path, match in found:
        log.info("analysing %s", path)
        written += _analyse_pair(path, match, args, chosen, ks, categories)
    if "stability" in chosen:
        written += _stability(found, args)
    for path in written:
        log.info("record: %s", path)
    return written


def _choices(args) -> tuple[list[str], list[int]]:
    chosen = [a.strip() for a in args.analyses.split(",") if a.strip()]
    unknown = sorted(set(chosen) - set(ANALYSES))
    if unknown:
        raise ValueError(f"unknown analyses {unknown}; choose from {', '.join(ANALYSES)}")
    ks = sorted({int(k) for k in args.ks.split(",")})
    if not ks or ks[0] < 1:
        raise ValueError(f"--ks must list positive integers, got {args.ks!r}")
    return chosen, ks


def _analyse_pair(path: Path, match: MatchRecord, args, chosen, ks, categories) -> list[Path]:
    common = {"match": str(path), "match_hash": config_hash(match.config)}
    builders = {
        "depth": lambda config: pair_records.depth_record(match, config=config, n_bins=args.bins),
        "topk": lambda config: _topk(match, ks, config),
        "selectivity": lambda config: _selectivity(path, match, args, config),
        "specialization": lambda config: _specialization(path, match, args, config, categories),
    }
    settings = {"depth": {"bins": args.bins}, "topk": {"ks": ks},
                "selectivity": {"vocabulary": args.vocabulary, "judge": args.judge,
                                "judge_neurons": args.judge_neurons, "seed": args.seed,
                                "level": args.level},
                "specialization": {"categories": categories, "seed": args.seed,
                                   "level": args.level}}
    written = []
    for name in (n for n in chosen if n in builders):
        directory = path / ANALYSIS_DIRS[name]
        config = {"analysis": name, **common, **settings[name]}
        if reusable(directory, force=args.force, config=config):
            log.info("  %s: reusing %s", name, directory)
            continue
        try:
            record = builders[name](config)
        except _Skip as reason:
            log.warning("  %s skipped: %s", name, reason)
            continue
        record.save(directory)
        written.append(directory)
    return written


class _Skip(Exception):
    """An analysis that this run's records cannot support (the reason is logged)."""


def _topk(match: MatchRecord, ks, config):
    if not match.chunks:
        raise _Skip("the match kept no candidate graph (run empirics.match with --groups > 0)")
    keep = pair_records.candidates_kept(match)
    usable = [k for k in ks if k <= keep]
    if len(usable) < len(ks):
        log.warning("  topk: k > %d needs a match with --candidates %d; counting k = %s",
                    keep, max(ks), usable)
    return pair_records.topk_record(match, usable, config=config)


def _load_optional(directory: Path, cls):
    return cls.load(directory) if record_exists(directory) else None


def _selectivity(path: Path, match: MatchRecord, args, config):
    stats = _load_optional(path / STATS_DIR, ActivationStatsRecord)
    examples = _load_optional(path / "examples", ExamplesRecord)
    metrics, notes = {}, {}
    if stats is not None:
        metrics.update(pair_records.activation_metrics(stats, examples))
    if args.vocabulary and match.config.get("capture", {}).get("kind") == "text":
        found, notes = _vocabulary_metrics(match, args)
        metrics.update(found)
    if not metrics:
        raise _Skip(f"no activation statistics in {path / STATS_DIR} (empirics.match writes "
                    "them; a toy pair's selectivity is its ToySweep's isolation) and no "
                    "--vocabulary for a language pair")
    rng = np.random.default_rng(args.seed)
    record = pair_records.selectivity_record(match, metrics, config=config, rng=rng,
                                         level=args.level, notes=notes)
    if not args.judge:
        return record
    if examples is None:
        raise _Skip(f"a judge reads the top examples; {path / 'examples'} has none")
    return dataclasses.replace(record, judges=_judge(args, record, examples, rng))


def _model_spec(name: str, paths: dict[str, Path]):
    """The registry's spec of `name`, or one read from its local checkpoint's config.json."""
    from empirics.models.registry import ModelSpec, get_spec

    try:
        return get_spec(name)
    except KeyError:
        if name not in paths:
            raise
    model_type = json.loads((paths[name] / "config.json").read_text())["model_type"]
    return ModelSpec(name=name, family="local", kind="text", loader="transformers",
                     n_params=0, d_mlp=0, n_layers=0, architecture=model_type)


def _vocabulary_metrics(match: MatchRecord, args) -> tuple[dict, dict]:
    """Vocabulary kurtosis of both models ({"vocabulary_kurtosis_a", ...}) and the norms
    folded in; the models are loaded exactly as the match loaded them (init and seed)."""
    import torch

    from empirics.analysis.selectivity import vocabulary_kurtosis
    from empirics.models.load import load_model
    from empirics.models.unembedding import effective_unembedding, output_directions
    from theory.runtime import resolve_device

    device = resolve_device(args.device)
    paths = dict(_name_path(item) for item in args.path)
    metrics, notes = {}, {}
    for side, name in enumerate((match.model_a, match.model_b)):
        loaded = load_model(_model_spec(name, paths), path=paths.get(name),
                            init=match.config.get("init", "pretrained"),
                            seed=match.config.get("seed", 0) + side, download=args.download,
                            cache_dir=args.cache_dir, device="cpu")
        unembedding = effective_unembedding(loaded, device=device)
        directions = torch.cat(output_directions(loaded, centre=unembedding.centre))
        letter = "ab"[side]
        metrics[f"vocabulary_kurtosis_{letter}"] = vocabulary_kurtosis(
            directions, unembedding.matrix, progress=True)
        notes[f"final_norm_{letter}"] = unembedding.norm
        notes[f"centred_{letter}"] = unembedding.centre
    return metrics, notes


def _name_path(item: str) -> tuple[str, Path]:
    name, sep, directory = item.partition("=")
    if not sep:
        raise ValueError(f"--path takes NAME=DIR, got {item!r}")
    return name, Path(directory)


def _judge(args, record, examples: ExamplesRecord, rng: np.random.Generator) -> dict:
    """The judge's scores of up to --judge-neurons Rosetta and control neurons per model."""
    from empirics.analysis.judge import judge_neurons, load_judge
    from empirics.analysis.selectivity import mean_interval

    judge = load_judge(args.judge)
    found = {"name": judge.name, "prompt": judge.prompt}
    for key, mask in record.masks.items():
        neurons = np.flatnonzero(mask)
        chosen = np.sort(rng.choice(neurons, min(args.judge_neurons, len(neurons)),
                                    replace=False))
        result = judge_neurons(judge, examples, key[-1], chosen.tolist())
        found[key] = {"neurons": result["neurons"], "scores": result["scores"],
                      "mean": mean_interval(np.array(result["scores"]), rng=rng,
                                                     level=args.level)}
    return {judge.name: found}


def _specialization(path: Path, match: MatchRecord, args, config, categories):
    examples = _load_optional(path / "examples", ExamplesRecord)
    if examples is None:
        raise _Skip(f"no examples record in {path / 'examples'} (empirics.match --examples K)")
    try:
        return pair_records.specialization_record(match, examples, config=config, level=args.level,
                                              rng=np.random.default_rng(args.seed),
                                              categories=categories)
    except ValueError as error:
        raise _Skip(str(error)) from error


def _stability(found, args) -> list[Path]:
    written = []
    for group in pair_records.budget_groups(found):
        config = {"analysis": "stability", "matches": [str(p) for p, _ in group]}
        directory = run_dir(args.runs, "analysis",
                            config, f"stability-{group[0][1].model_a}--{group[0][1].model_b}")
        _, reused = reuse_or_build(
            directory, StabilityRecord,
            lambda: pair_records.stability_record(group, config=config), force=args.force,
            config=config, load=False)
        if not reused:
            written.append(directory)
    return written


if __name__ == "__main__":
    main()
