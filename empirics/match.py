"""python -m empirics.match: match the MLP neurons of model pairs and write MatchRecords.

    python -m empirics.match --family language --all --device cuda --out runs/
    python -m empirics.match --family vision --pair openclip-vit-b-16 dinov2-base --init random
    python -m empirics.match --family language --pair EleutherAI/pythia-14m models/my-gpt2

For every pair it loads both models (local directory or Hugging Face cache; nothing is
downloaded unless --download), streams their aligned activations on the same inputs through
the matching engine (progress bar per block; the accumulation state is checkpointed, so an
interrupted run resumes) and writes one MatchRecord in a run directory derived from the whole
configuration. An existing record is reused unless --force. `--init random` runs the
untrained null (same architectures, random weights); `--null permuted` shuffles model B's
samples inside each batch. `--family toy` trains and matches the toy family instead
(`empirics.toy.sweep`). The work is `empirics.pipeline.match.run_match`.

It ends with a table of the pairs (neurons, tokens, R, R/N, median r of the pairs, dead
neurons, null, wall time, record; `--json`: the same as JSON on stdout). A pair whose model's
files are missing does not stop the others: they are all matched, then the missing pairs are
listed with what is missing and the command exits with status 1.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from empirics.capture.dataset import dataset_text
from empirics.capture.draw import draw_text
from empirics.capture.pair import InputError
from empirics.engine.distributed import SPLITS, launched_world
from empirics.models.load import ModelMismatchError
from empirics.models.missing import MissingModelError
from empirics.models.registry import get_spec
from empirics.pipeline.match import MatchSettings, check_sharing, pairs_with_paths, run_match
from empirics.pipeline.options import (
    InputChoice,
    MatchOptions,
    Placement,
    add_pair_flags,
    from_flags,
)
from empirics.pipeline.pairs import family_pairs
from empirics.pipeline.summary import (
    MatchRun,
    format_missing,
    format_summary,
    recorded_run,
    summary_json,
    summary_rows,
)
from empirics.toy.pairs import FAMILY as TOY_FAMILY
from empirics.toy.sweep import config_for_specs, run_toy_sweep
from runstore.commands import DATA_ERRORS, add_debug_flag, command_parser, reported
from runstore.devices import resolve_device
from runstore.header import read_header

log = logging.getLogger("empirics.match")


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("python -m empirics.match", __doc__)
    p.add_argument("--family", choices=(*family_pairs(), TOY_FAMILY), required=True,
                   help="the kind of models paired (toy: the toy nets, trained here)")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--pair", nargs=2, metavar=("A", "B"),
                       help="two models, each a registry name, a checkpoint folder (with "
                       "config.json), a Hugging Face id OWNER/NAME (read from the cache) or an "
                       "open_clip MODEL@TAG; outside the registry the architecture, MLP widths "
                       "and size are read from the model's own config")
    which.add_argument("--all", action="store_true",
                       help="every matched-scale pair of " + ", ".join(
                           f"{k}: {a} x {b}" for k, (a, b) in family_pairs().items()))
    p.add_argument("--path-a", type=Path, help="local checkpoint of model A")
    p.add_argument("--path-b", type=Path, help="local checkpoint of model B")
    p.add_argument("--model-dir", type=Path, help="a family trained by python -m "
                   "empirics.train: --all matches its cross-architecture pairs at equal width "
                   "and seed and its seed pairs")
    p.add_argument("--split", choices=SPLITS, default="data",
                   help="under torchrun: share the batches (data) or A's neuron blocks "
                        "(block engine only; the two-stage engine shares the batches)")
    p.add_argument("--report", action="store_true",
                   help="write report.html (the neuron browser, empirics.report) in every "
                        "pair's run directory")
    p.add_argument("--beta", type=float, default=1.5,
                   help="toy family: importance exponent of the trained nets")
    p.add_argument("--json", action="store_true",
                   help="print the summary of the pairs as JSON on stdout instead of a table")
    add_pair_flags(p)
    add_debug_flag(p)
    return p


def settings_from_args(args: argparse.Namespace) -> MatchSettings:
    return MatchSettings(
        family=args.family, pair=tuple(args.pair) if args.pair else None,
        paths=(args.path_a, args.path_b), inputs=from_flags(InputChoice, args),
        options=from_flags(MatchOptions, args), out=args.out,
        placement=from_flags(Placement, args), split=args.split, force=args.force,
        report=args.report, model_dir=args.model_dir)


def match_toy(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Path:
    """The toy family: train the registry's toy widths (or the pair's width) under several
    seeds and match every seed pair, with both nulls."""
    if args.replay != "exact":
        parser.error("--replay official replays the official language pipeline; the toy "
                     "family has no replay")
    if launched_world() > 1:
        parser.error(f"the toy family runs in one process, not {launched_world()}: run it "
                     "without torchrun")
    try:
        specs = [get_spec(name) for name in args.pair] if args.pair else None
        config = config_for_specs(specs, beta=args.beta)
    except (ValueError, KeyError) as error:
        parser.error(str(error))
    rho_star = 0.5 if args.min_correlation is None else args.min_correlation
    sweep, directory = run_toy_sweep(config, rho_star=rho_star, out=args.out, force=args.force,
                                     device=resolve_device(args.device), progress=True)
    log.info("toy sweep over widths %s: %s (MatchRecords in %s)", list(config.widths),
             directory, directory / "matches")
    return directory


def main(argv: list[str] | None = None) -> list[Path]:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        resolve_device(args.device)  # a device this machine lacks: before anything runs
    except ValueError as error:
        parser.error(f"--device {args.device}: {error}")
    if args.family == TOY_FAMILY:
        directory = match_toy(args, parser)
        report_run(recorded_run(directory / "matches"), parser, as_json=args.json)
        return [directory]
    try:
        settings = settings_from_args(args)
        check_sharing(settings.family, settings.options, launched_world(), settings.split)
        # unknown names, wrong kinds: usage errors; missing models or --model-dir: data
        with reported(parser, debug=args.debug, data=(MissingModelError, OSError)):
            pairs_with_paths(settings)
    except (ValueError, KeyError) as error:
        parser.error(str(error))
    try:
        with reported(parser, debug=args.debug, data=(*DATA_ERRORS, ModelMismatchError)):
            run = run_match(settings)
    except InputError as error:
        if args.debug:
            raise
        parser.error(str(error))
    report_run(run, parser, as_json=args.json)
    return run.written


def report_run(run: MatchRun, parser: argparse.ArgumentParser, *, as_json: bool) -> None:
    """Print the summary of the pairs (one process of a torchrun prints it) and exit with
    status 1, listing them, when some pairs were not matched for want of a model's files."""
    if run.writer and as_json:
        print(json.dumps(summary_json(run), indent=1))
    elif run.writer and run.written:
        print(format_summary(summary_rows(run)))
        for line in dict.fromkeys(_draw_line(directory) for directory in run.written):
            if line:
                print(line)
    if run.missing:
        parser.exit(1, f"{parser.prog}: error: {format_missing(run.missing)}\n")


def _draw_line(directory: Path) -> str | None:
    """How a record's documents (or its folder's images) were drawn
    (`empirics.capture.draw`), and from which dataset."""
    config = read_header(directory)["config"]
    corpus = config.get("corpus") or {}
    language = config.get("family") == "language"
    if not language and "draw" not in corpus:
        return None
    line = draw_text(corpus.get("draw"), len(config.get("inputs", ())),
                     "documents" if language else "images")
    return f"{line} {dataset_text(corpus['dataset'])}" if "dataset" in corpus else line


if __name__ == "__main__":
    main()
