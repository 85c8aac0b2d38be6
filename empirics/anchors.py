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

from empirics.pipeline.anchors import write_anchor_sets
from empirics.records.match import MatchRecord
from runstore import find_records
from runstore.commands import DATA_ERRORS, add_debug_flag, command_parser, reported


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("python -m empirics.anchors", __doc__)
    p.add_argument("--family", required=True, help="family name in the MatchRecords")
    p.add_argument("--records", type=Path, default=Path("runs"),
                   help="root searched for MatchRecords")
    p.add_argument("--anchor", nargs="+", default=(),
                   help="anchor model names (default: one per connected group of models)")
    p.add_argument("--min-correlation", type=float, default=None,
                   help="drop mutual pairs with r below this before intersecting (default: "
                        "keep every pair)")
    p.add_argument("--out", type=Path, default=None, help="root of the anchor runs "
                   "(default: --records)")
    p.add_argument("--force", action="store_true", help="recompute existing records")
    p.add_argument("--report", action="store_true", help="write report.html in every run")
    add_debug_flag(p)
    return p


def main(argv: list[str] | None = None) -> list[Path]:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    found = find_records(args.records, MatchRecord, family=args.family)
    if not found:
        parser.exit(1, f"no MatchRecords of family {args.family!r} under {args.records}; "
                       "make them with python -m empirics.match (or theory.simulate for toy)\n")
    with reported(parser, debug=args.debug, data=(*DATA_ERRORS, ValueError)):
        return write_anchor_sets(found, args.family, out=args.out or args.records,
                                 anchors=args.anchor, min_correlation=args.min_correlation,
                                 force=args.force, report=args.report)


if __name__ == "__main__":
    main()
