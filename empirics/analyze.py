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
is unchanged is reused unless --force. It ends with one line per record written: its
directory and what it holds in one or two numbers. The work is `empirics.pipeline.analyze`.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from empirics.capture.offline import load_corpus
from empirics.models.local import saved_models
from empirics.pipeline.analyze import ANALYSES, AnalyzeSettings, analyze_runs
from empirics.records.analysis import load_analysis
from runstore.commands import add_debug_flag, command_parser, reported


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("python -m empirics.analyze", __doc__)
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
    p.add_argument("--model-dir", type=Path, default=None,
                   help="a folder of saved models (e.g. a family of python -m empirics.train): "
                        "each subfolder with a config.json is the checkpoint of the model of "
                        "its name (--path overrides one)")
    p.add_argument("--cache-dir", type=Path, help="Hugging Face cache directory")
    p.add_argument("--download", action="store_true", help="allow downloading weights")
    p.add_argument("--device", default="auto", help="device of the vocabulary projections")
    p.add_argument("--categories", type=Path,
                   help="JSON mapping input ids to categories, or a corpus directory of python -m "
                        "empirics.corpus (default: the embedded corpus)")
    p.add_argument("--judge", help="module:factory of a selectivity judge")
    p.add_argument("--judge-neurons", type=int, default=32,
                   help="Rosetta and control neurons judged per model")
    p.add_argument("--level", type=float, default=0.95,
                   help="coverage of the intervals of the population means")
    p.add_argument("--seed", type=int, default=0, help="seed of the control samples")
    p.add_argument("--force", action="store_true", help="recompute existing records")
    add_debug_flag(p)
    return p


def settings_from_args(args: argparse.Namespace) -> AnalyzeSettings:
    categories = None
    if args.categories and args.categories.is_dir():  # a corpus of python -m empirics.corpus
        corpus = load_corpus(args.categories)
        categories = corpus.categories("train") | corpus.categories("heldout")
    elif args.categories:
        categories = json.loads(args.categories.read_text())
    return AnalyzeSettings(
        runs=args.runs, family=args.family,
        analyses=tuple(a.strip() for a in args.analyses.split(",") if a.strip()),
        ks=tuple(int(k) for k in args.ks.split(",")), bins=args.bins,
        vocabulary=args.vocabulary,
        paths=_model_dir(args.model_dir) | dict(_name_path(item) for item in args.path),
        cache_dir=args.cache_dir, download=args.download, device=args.device,
        categories=categories, judge=args.judge, judge_neurons=args.judge_neurons,
        level=args.level, seed=args.seed, force=args.force)


def main(argv: list[str] | None = None) -> list[Path]:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        settings = settings_from_args(args)
    except (ValueError, OSError) as error:
        parser.error(str(error))
    with reported(parser, debug=args.debug):
        written = analyze_runs(settings)
        for path in written:  # each record in a line: where it is, its one or two numbers
            print(f"{path}  {load_analysis(path).headline()}")
    if not written:
        print("no record written: every analysis asked for is saved already (--force "
              "recomputes)")
    return written


def _model_dir(directory: Path | None) -> dict[str, Path]:
    """Model name -> checkpoint folder of every saved model in `directory` (none: {})."""
    if directory is None:
        return {}
    try:
        return saved_models(directory)
    except FileNotFoundError as error:
        raise ValueError(f"--model-dir: {error}") from None


def _name_path(item: str) -> tuple[str, Path]:
    name, sep, directory = item.partition("=")
    if not sep:
        raise ValueError(f"--path takes NAME=DIR, got {item!r}")
    return name, Path(directory)


if __name__ == "__main__":
    main()
