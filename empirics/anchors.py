"""Rosetta anchors: units of one anchor model matched in every other model of a set.

The original definition of a Rosetta neuron (docs/report.md, "Anchors"): given an anchor
model and models 1..m, each (anchor, i) pair is matched on its own (mutual nearest
neighbours, or mutual top-k, as in `empirics.match`); an anchor unit is a Rosetta anchor when
it has a mutual partner in *every* other model. The pairwise counts (units of the anchor
matched in model i) and the coverage histogram (units matched in exactly j of the m models)
are kept beside the anchor count. An `AnchorRecord` is a point of a scaling series like a
MatchRecord (`empirics.records.pair.ScalingPoint`), so `python -m bridge.compare --anchors`
fits anchor counts against size as a second series. The work is
`empirics.pipeline.anchors.write_anchor_sets`; this command reads records only.

    python -m empirics.anchors --family toy --records runs/empirics/toy-beta1.5-... [--anchor NAME]
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from empirics.pipeline.anchors import AnchorSettings, write_anchor_sets
from empirics.records.match import MatchRecord
from runstore import find_records
from runstore.commands import DATA_ERRORS, add_debug_flag, command_parser, reported
from runstore.options import add_flags, from_flags


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("python -m empirics.anchors", __doc__)
    add_flags(p, AnchorSettings)
    add_debug_flag(p)
    return p


def main(argv: list[str] | None = None) -> list[Path]:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        settings = from_flags(AnchorSettings, args)
    except ValueError as error:
        parser.error(str(error))
    found = find_records(settings.records, MatchRecord, family=settings.family)
    if not found:
        parser.exit(1, f"no MatchRecords of family {settings.family!r} under "
                       f"{settings.records}; make them with python -m empirics.match (or "
                       "theory.simulate for toy)\n")
    with reported(parser, debug=args.debug, data=(*DATA_ERRORS, ValueError)):
        return write_anchor_sets(found, settings.family, out=settings.out or settings.records,
                                 anchors=settings.anchor,
                                 min_correlation=settings.min_correlation,
                                 force=settings.force, report=settings.report)


if __name__ == "__main__":
    main()
