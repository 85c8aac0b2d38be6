"""python -m empirics.filter: the data-filtering case study, a reconstruction (docs/filtering.md).

    python -m empirics.filter --match RUN_DIR --corpus corpora/local --model-dir models/local
           [--target code] [--neurons 16] [--min-enrichment 1.5] [--control enriched|random]
           [--rule mean|max|share] [--quantile 0.99] [--pool 2000] [--fraction 0.25]
           [--steps 100] [--batch 16] [--lr 1e-3] [--seeds 0,1,2] [--no-train]

RUN_DIR is a match of `python -m empirics.match ... --examples K` on the trained family. Its
first model scores --pool documents of the corpus's training split with the Rosetta neurons
whose top contexts are most enriched in --target, and with a control set (as many non-Rosetta
neurons of the same layers: the most enriched, or random), and keeps the top --fraction of
each; a random subset of the same size is the third arm (a FilterRecord in OUT/filter/).
Then the model is trained further on each arm for the same steps, optimiser and tokens, once
per seed, and its held-out loss measured per category (a ContinuedRecord in OUT/continued/).
Prints each arm's make-up and the table arm x category -> loss with its interval over seeds.
The work is `empirics.pipeline.continued.run_study`.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from empirics.models.local import saved_models
from empirics.pipeline.continued import ContinueSettings, StudySettings, run_study
from empirics.pipeline.filtering import FilterSettings
from runstore.commands import DATA_ERRORS, add_debug_flag, command_parser, reported
from theory.runtime import resolve_device
from theory.validation import int_list


def build_parser() -> argparse.ArgumentParser:
    f, c = FilterSettings, ContinueSettings
    p = command_parser("python -m empirics.filter", __doc__)
    p.add_argument("--match", type=Path, required=True, help="a match run directory")
    p.add_argument("--corpus", type=Path, required=True, help="a python -m empirics.corpus dir")
    p.add_argument("--model-dir", type=Path, help="the folder of the trained family")
    p.add_argument("--checkpoint", type=Path, help="the first model's folder (else --model-dir"
                   "/NAME, else the folder the match loaded)")
    p.add_argument("--out", type=Path, default=f.out, help="root of the records")
    p.add_argument("--target", default=f.target, help="category the neurons' top contexts favour")
    p.add_argument("--neurons", type=int, default=f.n_neurons, help="at most this many neurons")
    p.add_argument("--min-enrichment", type=float, default=f.min_enrichment,
                   help="least enrichment of a chosen neuron's top contexts in --target")
    p.add_argument("--control", default=f.control_rule, help="control neurons: enriched, random")
    p.add_argument("--rule", default=f.rule, help="document score: mean, max, share")
    p.add_argument("--quantile", type=float, default=f.quantile,
                   help="a neuron's threshold for --rule share (quantile over the pool)")
    p.add_argument("--pool", type=int, default=f.pool, help="training documents scored")
    p.add_argument("--fraction", type=float, default=f.fraction, help="share of them kept")
    p.add_argument("--max-tokens", type=int, default=f.max_tokens, help="tokens scored per doc")
    p.add_argument("--seed", type=int, default=f.seed, help="pool, controls and random arm")
    p.add_argument("--no-train", action="store_true", help="the filter step only")
    p.add_argument("--steps", type=int, default=c.steps, help="continued-pretraining steps")
    p.add_argument("--batch", type=int, default=c.batch, help="windows per step")
    p.add_argument("--context", type=int, default=c.context, help="tokens per window")
    p.add_argument("--lr", type=float, default=c.lr, help="peak learning rate (cosine decay)")
    p.add_argument("--seeds", type=int_list, default=c.seeds, help="training seeds")
    p.add_argument("--heldout-tokens", type=int, default=c.heldout_tokens,
                   help="held-out tokens per category")
    p.add_argument("--device", default="cpu", help="auto (CUDA when present), cpu, cuda")
    p.add_argument("--force", action="store_true", help="recompute existing records")
    add_debug_flag(p)
    return p


def settings_from_args(args: argparse.Namespace) -> StudySettings:
    checkpoint = args.checkpoint
    if checkpoint is None and args.model_dir is not None:
        from empirics.records.match import MatchRecord

        name = MatchRecord.load(args.match).model_a
        checkpoint = saved_models(args.model_dir).get(name)
        if checkpoint is None:
            raise ValueError(f"no model {name} in {args.model_dir}")
    device = str(resolve_device(args.device))
    filtering = FilterSettings(
        match=args.match, corpus=args.corpus, checkpoint=checkpoint, out=args.out,
        target=args.target, n_neurons=args.neurons, min_enrichment=args.min_enrichment,
        control_rule=args.control, rule=args.rule, quantile=args.quantile, pool=args.pool,
        fraction=args.fraction, max_tokens=args.max_tokens, seed=args.seed, device=device,
        force=args.force)
    training = None if args.no_train else ContinueSettings(
        corpus=args.corpus, out=args.out, steps=args.steps, batch=args.batch,
        context=args.context, lr=args.lr, seeds=tuple(args.seeds),
        heldout_tokens=args.heldout_tokens, device=device, force=args.force)
    return StudySettings(filtering, training)


def main(argv: list[str] | None = None):
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        settings = settings_from_args(args)
    except (ValueError, OSError) as error:
        parser.error(str(error))
    with reported(parser, debug=args.debug, data=(*DATA_ERRORS, ValueError)):
        found, continued = run_study(settings)
        print(f"{found.directory}  {found.record.headline()}")
        print(found.record.to_frame().to_string(index=False, float_format="%.3f"))
        if continued is not None:
            record, directory, _ = continued
            print(f"{directory}  {record.headline()}  ({record.seconds:.0f} s)")
            print(record.to_frame().to_string(index=False, float_format="%.4f"))
    return found, continued


if __name__ == "__main__":
    main()
