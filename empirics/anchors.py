"""Rosetta anchors: units of one anchor model matched in every other model of a set.

The original definition of a Rosetta neuron (docs/report.md, "Anchors"): given an anchor
model and models 1..m, each (anchor, i) pair is matched on its own (mutual nearest
neighbours, or mutual top-k, as in `empirics.match`); an anchor unit is a Rosetta anchor when
it has a mutual partner in *every* other model. The pairwise counts (units of the anchor
matched in model i) and the coverage histogram (units matched in exactly j of the m models)
are kept beside the anchor count. `AnchorRecord` reads like a MatchRecord for the bridge
(`n_rosetta`, sizes, `null`), so `python -m bridge.compare --anchors` fits anchor counts
against size as a second scaling series. Torch-free.

    python -m empirics.anchors --family toy --records runs/empirics/toy-beta1.5-... [--anchor NAME]
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from empirics.analysis.anchors import anchor_sets, find_anchors
from empirics.records.match import MatchRecord
from runstore import find_records, read_header, record_exists, run_dir

log = logging.getLogger("empirics.anchors")


















def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m empirics.anchors",
                                description=__doc__.splitlines()[0])
    p.add_argument("--family", required=True, help="family name in the MatchRecords")
    p.add_argument("--records", type=Path, default=Path("runs"),
                   help="root searched for MatchRecords (default runs/)")
    p.add_argument("--anchor", nargs="+", default=(),
                   help="anchor model names (default: one per connected group of models)")
    p.add_argument("--min-correlation", type=float, default=None)
    p.add_argument("--out", type=Path, default=None, help="root of the anchor runs "
                   "(default: --records)")
    p.add_argument("--force", action="store_true", help="recompute existing records")
    p.add_argument("--report", action="store_true", help="write report.html in every run")
    return p


def main(argv: list[str] | None = None) -> list[Path]:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    found = find_records(args.records, MatchRecord, family=args.family)
    if not found:
        parser.exit(1, f"no MatchRecords of family {args.family!r} under {args.records}; "
                       "make them with python -m empirics.match (or theory.simulate for toy)\n")
    written = []
    for null in sorted({record.null for _, record in found}):
        subset = [(path, record) for path, record in found if record.null == null]
        try:
            sets = anchor_sets([r for _, r in subset], args.anchor if null == "none" else ())
            for anchor, indices in sets.items():
                written.append(_write_set(anchor, [subset[i] for i in indices], args))
        except ValueError as error:
            parser.exit(1, f"{error}\n")
    return written


def _write_set(anchor: str, chosen: list[tuple[Path, MatchRecord]], args) -> Path:
    config = {"family": args.family, "anchor": anchor, "null": chosen[0][1].null,
              "min_correlation": args.min_correlation,
              "matches": [{"path": str(path), "sha256": read_header(path)["arrays"]["sha256"]}
                          for path, _ in chosen]}
    directory = run_dir(args.out or args.records, "anchors", config, anchor)
    if record_exists(directory) and not args.force:
        log.info("reusing %s", directory)
    else:
        record = find_anchors([r for _, r in chosen], anchor,
                              min_correlation=args.min_correlation, config=config)
        record.save(directory)
        log.info("%s (%s): %d anchors in %d models; pairwise %s", anchor, record.null,
                 record.n_anchors, len(record.others) + 1, record.pairwise_counts)
    if args.report:
        from empirics.report.build import write_report

        write_report(directory)
    return directory


if __name__ == "__main__":
    main()
