"""python -m empirics.report RUN_DIR: write the neuron browser of a match or anchor run
(empirics.report.build).

    python -m empirics.report runs/match/pythia-70m--opt-125m-<hash> [--out report.html]
    python -m empirics.report runs/anchors/<anchor>-<hash>
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from empirics.report.build import write_report
from runstore.commands import DATA_ERRORS, add_debug_flag, command_parser, reported


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("python -m empirics.report", __doc__)
    p.add_argument("run_dir", type=Path, help="a match or anchors run directory")
    p.add_argument("--out", type=Path, default=None,
                   help="the page written (default: RUN_DIR/report.html)")
    p.add_argument("--contrast", type=int, default=20,
                   help="non-Rosetta neurons per model and layer shown for contrast")
    p.add_argument("--images", type=int, default=8, help="top images shown per neuron")
    p.add_argument("--seed", type=int, default=0, help="seed of the contrast draw")
    add_debug_flag(p)
    return p


def main(argv: list[str] | None = None) -> Path:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.contrast < 0 or args.images < 1:
        parser.error("--contrast must be >= 0 and --images >= 1")
    with reported(parser, debug=args.debug, data=(*DATA_ERRORS, ValueError)):
        path = write_report(args.run_dir, args.out, contrast=args.contrast,
                            max_images=args.images, seed=args.seed)
    print(f"report: {path}")
    return path


if __name__ == "__main__":
    main()
