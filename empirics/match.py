"""python -m empirics.match: match the MLP neurons of model pairs and write MatchRecords.

    python -m empirics.match --family language --all --device cuda --out runs/
    python -m empirics.match --family vision --pair openclip-vit-b-16 dinov2-base --init random

For every pair it loads both models (local directory or Hugging Face cache; nothing is
downloaded unless --download), streams their aligned activations on the same inputs through
the matching engine (progress bar per block; the accumulation state is checkpointed, so an
interrupted run resumes) and writes one MatchRecord in a run directory derived from the whole
configuration. An existing record is reused unless --force. `--init random` runs the
untrained null (same architectures, random weights); `--null permuted` shuffles model B's
samples inside each batch.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from empirics.engine.distributed import (
    SPLITS,
    launched_ranks,
    stop_group,
)
from empirics.models.load import MissingModelError
from empirics.models.registry import family_specs, get_spec
from empirics.pipeline.match import DTYPES, FAMILY_PAIRS, KINDS, inputs_for, match_pair, pairs_for
from theory.runtime import resolve_device

log = logging.getLogger("empirics.match")



def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m empirics.match",
                                description=__doc__.splitlines()[0])
    p.add_argument("--family", choices=("language", "vision", "toy"), required=True)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--pair", nargs=2, metavar=("A", "B"), help="registry names or HF ids")
    which.add_argument("--all", action="store_true",
                       help="every matched-scale pair of " + ", ".join(
                           f"{k}: {a} x {b}" for k, (a, b) in FAMILY_PAIRS.items()))
    p.add_argument("--path-a", type=Path, help="local checkpoint of model A")
    p.add_argument("--path-b", type=Path, help="local checkpoint of model B")
    p.add_argument("--split", choices=SPLITS, default="data",
                   help="under torchrun: share the batches (data) or A's neuron blocks")
    p.add_argument("--report", action="store_true",
                   help="write report.html (the neuron browser, empirics.report) in every "
                        "pair's run directory")
    return add_match_options(p)


def add_match_options(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of one pair's run (shared with `python -m empirics.sweep`)."""
    p.add_argument("--init", choices=("pretrained", "random"), default="pretrained")
    p.add_argument("--beta", type=float, default=1.5,
                   help="toy family: importance exponent of the trained nets")
    p.add_argument("--null", choices=("none", "permuted"), default="none")
    p.add_argument("--docs", type=int, default=None, help="documents to use (default: all)")
    p.add_argument("--tokens", type=int, default=512, help="max tokens per document")
    p.add_argument("--text", nargs="+", type=Path, help="text files instead of the corpus")
    p.add_argument("--images", type=int, default=64, help="synthetic images to use")
    p.add_argument("--image-dir", type=Path, help="a folder of images instead")
    p.add_argument("--batch", type=int, default=8, help="documents or images per batch")
    p.add_argument("--k", type=int, default=1, help="mutual top-k (1: nearest neighbours)")
    p.add_argument("--candidates", type=int, default=3, help="partners kept per neuron")
    p.add_argument("--groups", type=int, default=64, help="chunk groups for the bootstrap")
    p.add_argument("--min-correlation", type=float, default=None)
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:i]")
    p.add_argument("--dtype", choices=sorted(DTYPES), default="float32",
                   help="model weights and product precision")
    p.add_argument("--device-map", default=None,
                   help="spread each model over devices (transformers/accelerate), e.g. auto")
    p.add_argument("--max-memory", type=parse_max_memory, default=None,
                   help="per-device memory for --device-map, e.g. 0=70GiB,1=70GiB,cpu=200GiB")
    p.add_argument("--cache-dir", type=Path, help="Hugging Face cache directory")
    p.add_argument("--download", action="store_true", help="allow downloading weights")
    p.add_argument("--seed", type=int, default=0, help="seed of random inits and the null")
    p.add_argument("--out", type=Path, default=Path("runs"))
    p.add_argument("--force", action="store_true", help="recompute existing records")
    p.add_argument("--cache-activations", action="store_true",
                   help="keep the aligned activations on disk in the run directory, so the "
                        "engine's later passes read them instead of re-running the models")
    p.add_argument("--examples", type=int, default=16,
                   help="top-activating samples kept per neuron, gathered during the first "
                        "pass and saved as an examples record beside the match (0: none)")
    return p
















def match_toy(args, parser) -> Path:
    """The toy family: train the registry's toy widths (or the pair's width) under several
    seeds and match every seed pair, with both nulls (`empirics.pipeline.toy.run_toy_sweep`)."""
    from empirics.pipeline.toy import config_for_specs, run_toy_sweep

    try:
        specs = [get_spec(name) for name in args.pair] if args.pair else family_specs("toy")
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
    if args.family == "toy":
        return [match_toy(args, parser)]
    try:
        device = resolve_device(args.device)
        pairs = pairs_for(args)
        for spec in {spec for pair in pairs for spec in pair}:
            if spec.kind != KINDS[args.family]:
                raise ValueError(f"{spec.name} is a {spec.kind} model, not a {args.family} "
                                 "model")
    except (ValueError, KeyError) as error:
        parser.error(str(error))
    ranks, device = launched_ranks(device, split=args.split)
    inputs = inputs_for(args)
    written = []
    try:
        for spec_a, spec_b in pairs:
            log.info("pair %s x %s (%s, %d inputs)", spec_a.name, spec_b.name, args.init,
                     len(inputs))
            try:
                written.append(match_pair(
                    spec_a, spec_b, family=args.family, inputs=inputs, options=options_of(args),
                    out=args.out, device=device, paths=(args.path_a, args.path_b),
                    force=args.force, placement=placement_of(args), ranks=ranks))
            except MissingModelError as error:
                parser.exit(1, f"{error}\n")
            log.info("record: %s", written[-1])
            if args.report and ranks.writer:
                from empirics.report.build import write_report

                log.info("report: %s", write_report(written[-1]))
    finally:
        stop_group()
    return written


def options_of(args) -> dict:
    """The options of a pair's run that go into its record's configuration."""
    return {"init": args.init, "null": args.null, "seed": args.seed, "dtype": args.dtype,
            "batch": args.batch, "tokens": args.tokens, "k": args.k,
            "candidates": args.candidates, "groups": args.groups,
            "min_correlation": args.min_correlation, "download": args.download,
            "cache_dir": str(args.cache_dir) if args.cache_dir else None,
            "cache_activations": args.cache_activations, "examples": args.examples}


def placement_of(args) -> dict:
    """Where the models' layers go (not part of the configuration: results do not depend
    on it beyond rounding)."""
    if args.device_map is None:
        if args.max_memory is not None:
            raise SystemExit("--max-memory needs --device-map (e.g. --device-map auto)")
        return {}
    return {"device_map": args.device_map, "max_memory": args.max_memory}


def parse_max_memory(text: str) -> dict:
    """'0=70GiB,cpu=200GiB' -> {0: '70GiB', 'cpu': '200GiB'} (accelerate's max_memory)."""
    limits = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise argparse.ArgumentTypeError(f"expected DEVICE=SIZE items such as 0=70GiB, "
                                             f"got {item!r}")
        key = key.strip()
        limits[int(key) if key.isdigit() else key] = value.strip()
    return limits


if __name__ == "__main__":
    main()
