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
import dataclasses
import logging
from pathlib import Path

from empirics.models.local import saved_models
from empirics.pipeline.continued import ContinueSettings, StudySettings, run_study
from empirics.pipeline.filtering import FilterSettings
from runstore.commands import DATA_ERRORS, add_debug_flag, command_parser, reported
from runstore.options import add_flags, flag, from_flags


@dataclasses.dataclass(frozen=True)
class Study:
    """Where the first model's checkpoint is found, and whether the arms are trained."""

    model_dir: Path | None = flag(None, "the folder of the trained family", type=Path)
    train: bool = flag(True, "the filter step only", name="--no-train")


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("python -m empirics.filter", __doc__)
    add_flags(p, FilterSettings)
    add_flags(p, Study)
    add_flags(p, ContinueSettings)
    add_debug_flag(p)
    return p


def settings_from_args(args: argparse.Namespace) -> StudySettings:
    study = from_flags(Study, args)
    filtering = from_flags(FilterSettings, args)
    if filtering.checkpoint is None and study.model_dir is not None:
        from empirics.records.match import MatchRecord

        name = MatchRecord.load(filtering.match).model_a
        checkpoint = saved_models(study.model_dir).get(name)
        if checkpoint is None:
            raise ValueError(f"no model {name} in {study.model_dir}")
        filtering = dataclasses.replace(filtering, checkpoint=checkpoint)
    training = from_flags(ContinueSettings, args, corpus=filtering.corpus, out=filtering.out,
                          device=filtering.device, force=filtering.force) if study.train else None
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
