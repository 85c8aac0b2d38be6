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
import dataclasses
import json
import logging
from pathlib import Path

from empirics.capture.offline import load_corpus
from empirics.models.local import saved_models
from empirics.pipeline.analyze import AnalyzeSettings, analyze_runs
from empirics.records.analysis import load_analysis
from runstore.commands import add_debug_flag, command_parser, reported
from runstore.options import add_flags, flag, from_flags


@dataclasses.dataclass(frozen=True)
class Sources:
    """Where the weights of --vocabulary and the inputs' categories come from (turned into
    `AnalyzeSettings.paths` and `.categories` by `settings_from_args`)."""

    path: tuple = flag(help="local checkpoint of a model (repeatable)", action="append",
                       metavar="NAME=DIR", default_factory=list)
    model_dir: Path | None = flag(None, "a folder of saved models (e.g. a family of python -m "
                                  "empirics.train): each subfolder with a config.json is the "
                                  "checkpoint of the model of its name (--path overrides one)",
                                  type=Path)
    categories: Path | None = flag(None, "JSON mapping input ids to categories, or a corpus "
                                   "directory of python -m empirics.corpus (default: the "
                                   "embedded corpus)", type=Path)


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("python -m empirics.analyze", __doc__)
    add_flags(p, AnalyzeSettings)
    add_flags(p, Sources)
    add_debug_flag(p)
    return p


def settings_from_args(args: argparse.Namespace) -> AnalyzeSettings:
    sources = from_flags(Sources, args)
    categories = None
    if sources.categories and sources.categories.is_dir():  # a corpus of empirics.corpus
        corpus = load_corpus(sources.categories)
        categories = corpus.categories("train") | corpus.categories("heldout")
    elif sources.categories:
        categories = json.loads(sources.categories.read_text())
    paths = _model_dir(sources.model_dir) | dict(_name_path(item) for item in sources.path)
    return from_flags(AnalyzeSettings, args, paths=paths, categories=categories)


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
