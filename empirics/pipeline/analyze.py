"""Analyses of saved match runs: depth, mutual top-k, selectivity, specialization and
budget stability, each written as a record inside the match's run directory (stability in
<runs>/analysis/), reused while its configuration is unchanged (docs/selectivity.md).
Nothing re-runs a model except the vocabulary projection, which loads the weights."""

from __future__ import annotations

import dataclasses
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
from runstore.options import check_fields, flag, str_list

log = logging.getLogger(__name__)

#: Every analysis, in the order they run.
ANALYSES = ("depth", "topk", "selectivity", "specialization", "stability")


class NoMatchRecords(LookupError):
    """No match record to analyse under the runs root (the message says how to make some)."""


@dataclasses.dataclass(frozen=True)
class AnalyzeSettings:
    """What `python -m empirics.analyze` does: which runs (under `runs`, of `family`), which
    analyses with their settings (top-k values, depth bins, the vocabulary projection and
    where its weights are, a judge, input categories, seed, level), and whether to recompute
    records that exist."""

    runs: Path = flag(Path("runs"), "root of the match runs")
    family: str | None = flag(None, "only match records of this family")
    analyses: tuple = flag(ANALYSES, "comma-separated subset of " + ", ".join(ANALYSES),
                           type=str_list, choices=ANALYSES)
    ks: tuple = flag((1, 2, 5, 10), "k values of mutual top-k", at_least=1)
    bins: int = flag(10, "normalized-depth bins", at_least=1)
    vocabulary: bool = flag(False, "vocabulary-space kurtosis of language models (loads the "
                            "weights)")
    paths: dict = dataclasses.field(default_factory=dict)
    cache_dir: Path | None = flag(None, "Hugging Face cache directory", type=Path)
    download: bool = flag(False, "allow downloading weights")
    device: str = flag("auto", "device of the vocabulary projections")
    categories: dict | None = None
    judge: str | None = flag(None, "module:factory of a selectivity judge")
    judge_neurons: int = flag(32, "Rosetta and control neurons judged per model", at_least=1)
    level: float = flag(0.95, "coverage of the intervals of the population means", above=0.0,
                        below=1.0)
    seed: int = flag(0, "seed of the control samples")
    force: bool = flag(False, "recompute existing records")

    def __post_init__(self):
        check_fields(self)
        object.__setattr__(self, "ks", tuple(sorted(set(self.ks))))


def analyze_runs(settings: AnalyzeSettings) -> list[Path]:
    """Run the chosen analyses on every match record of `settings`; return the directories
    of the records written (reused ones are logged, not returned)."""
    found = find_records(settings.runs, MatchRecord, family=settings.family)
    if not found:
        family = f" of family {settings.family}" if settings.family else ""
        raise NoMatchRecords(f"no match records under {settings.runs}{family}; make them "
                             "with python -m empirics.match")
    written = []
    for path, match in found:
        log.info("analysing %s", path)
        written += _analyse_pair(path, match, settings)
    if "stability" in settings.analyses:
        written += _stability(found, settings)
    return written


def _analyse_pair(path: Path, match: MatchRecord, settings: AnalyzeSettings) -> list[Path]:
    common = {"match": str(path), "match_hash": config_hash(match.config)}
    builders = {
        "depth": lambda config: pair_records.depth_record(match, config=config,
                                                          n_bins=settings.bins),
        "topk": lambda config: _topk(match, ks, config),
        "selectivity": lambda config: _selectivity(path, match, settings, config),
        "specialization": lambda config: _specialization(path, match, settings, config),
    }
    ks, categories = list(settings.ks), settings.categories
    recorded = {"depth": {"bins": settings.bins}, "topk": {"ks": ks},
                "selectivity": {"vocabulary": settings.vocabulary, "judge": settings.judge,
                                "judge_neurons": settings.judge_neurons, "seed": settings.seed,
                                "level": settings.level},
                "specialization": {"categories": categories, "seed": settings.seed,
                                   "level": settings.level}}
    written = []
    for name in (n for n in settings.analyses if n in builders):
        directory = path / ANALYSIS_DIRS[name]
        config = {"analysis": name, **common, **recorded[name]}
        if reusable(directory, force=settings.force, config=config):
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


def _selectivity(path: Path, match: MatchRecord, settings: AnalyzeSettings, config: dict):
    stats = _load_optional(path / STATS_DIR, ActivationStatsRecord)
    examples = _load_optional(path / "examples", ExamplesRecord)
    metrics, notes = {}, {}
    if stats is not None:
        metrics.update(pair_records.activation_metrics(stats, examples))
    if settings.vocabulary and match.config.get("capture", {}).get("kind") == "text":
        found, notes = _vocabulary_metrics(match, settings)
        metrics.update(found)
    if not metrics:
        raise _Skip(f"no activation statistics in {path / STATS_DIR} (empirics.match writes "
                    "them; a toy pair's selectivity is its ToySweep's isolation) and no "
                    "--vocabulary for a language pair")
    rng = np.random.default_rng(settings.seed)
    record = pair_records.selectivity_record(match, metrics, config=config, rng=rng,
                                             level=settings.level, notes=notes)
    if not settings.judge:
        return record
    if examples is None:
        raise _Skip(f"a judge reads the top examples; {path / 'examples'} has none")
    return dataclasses.replace(record, judges=_judge(settings, record, examples, rng))


def _vocabulary_metrics(match: MatchRecord, settings: AnalyzeSettings) -> tuple[dict, dict]:
    """Vocabulary kurtosis of both models ({"vocabulary_kurtosis_a", ...}) and the norms
    folded in; the models are loaded exactly as the match loaded them (init and seed), and
    refused when their files are not the ones the match recorded."""
    import torch

    from empirics.analysis.selectivity import vocabulary_kurtosis
    from empirics.models.detect import resolve_spec
    from empirics.models.identity import weights_identity
    from empirics.models.load import MissingModelError, load_model
    from empirics.models.unembedding import effective_unembedding, output_directions
    from runstore.devices import resolve_device

    device = resolve_device(settings.device)
    paths, init = settings.paths, match.config.get("init", "pretrained")
    metrics, notes = {}, {}
    for side, name in enumerate((match.model_a, match.model_b)):
        try:
            spec = resolve_spec(name, paths.get(name))
        except KeyError:
            raise MissingModelError(f"--vocabulary loads the weights of {name}, which is not "
                                    f"in the registry: pass --path {name}=DIR with the "
                                    "checkpoint its match was made from") from None
        options = dict(path=paths.get(name), init=init, download=settings.download,
                       cache_dir=settings.cache_dir)
        recorded = dict(match.config.get("weights", [None, None])[side] or {}) or None
        # an untrained twin's seed: recorded with its identity (a record saved before the
        # per-model seeds drew model A from the run's seed and model B from seed + 1)
        seed = (recorded or {}).pop("init_seed", match.config.get("seed", 0) + side)
        if recorded is not None and weights_identity(spec, **options) != recorded:
            where = paths.get(name) or "the Hugging Face cache"
            raise _Skip(f"the files found for {name} in {where} are not the ones its match "
                        f"was made from; pass --path {name}=DIR with that checkpoint")
        loaded = load_model(spec, seed=seed, device="cpu", **options)
        unembedding = effective_unembedding(loaded, device=device)
        directions = torch.cat(output_directions(loaded, centre=unembedding.centre))
        letter = "ab"[side]
        metrics[f"vocabulary_kurtosis_{letter}"] = vocabulary_kurtosis(
            directions, unembedding.matrix, progress=True)
        notes[f"final_norm_{letter}"] = unembedding.norm
        notes[f"centred_{letter}"] = unembedding.centre
    return metrics, notes


def _judge(settings: AnalyzeSettings, record, examples: ExamplesRecord,
           rng: np.random.Generator) -> dict:
    """The judge's scores of up to `judge_neurons` Rosetta and control neurons per model."""
    from empirics.analysis.judge import judge_neurons, load_judge
    from empirics.analysis.selectivity import mean_interval

    judge = load_judge(settings.judge)
    found = {"name": judge.name, "prompt": judge.prompt}
    for key, mask in record.masks.items():
        neurons = np.flatnonzero(mask)
        chosen = np.sort(rng.choice(neurons, min(settings.judge_neurons, len(neurons)),
                                    replace=False))
        result = judge_neurons(judge, examples, key[-1], chosen.tolist())
        found[key] = {"neurons": result["neurons"], "scores": result["scores"],
                      "mean": mean_interval(np.array(result["scores"]), rng=rng,
                                                     level=settings.level)}
    return {judge.name: found}


def _specialization(path: Path, match: MatchRecord, settings: AnalyzeSettings, config: dict):
    examples = _load_optional(path / "examples", ExamplesRecord)
    if examples is None:
        raise _Skip(f"no examples record in {path / 'examples'} (empirics.match --examples K)")
    try:
        return pair_records.specialization_record(
            match, examples, config=config, level=settings.level,
            rng=np.random.default_rng(settings.seed), categories=settings.categories)
    except ValueError as error:
        raise _Skip(str(error)) from error


def _stability(found, settings: AnalyzeSettings) -> list[Path]:
    written = []
    for group in pair_records.budget_groups(found):
        config = {"analysis": "stability", "matches": [str(p) for p, _ in group]}
        directory = run_dir(settings.runs, "analysis",
                            config, f"stability-{group[0][1].model_a}--{group[0][1].model_b}")
        _, reused = reuse_or_build(
            directory, StabilityRecord,
            lambda: pair_records.stability_record(group, config=config), force=settings.force,
            config=config, load=False)
        if not reused:
            written.append(directory)
    return written
