"""python -m empirics.export RECORD_DIR: write a record's table (its `to_frame()`) as CSV or
Parquet, for a notebook, a spreadsheet or another tool.

    python -m empirics.export runs/match/pythia-70m--opt-125m-<hash> --out pairs.csv
    python -m empirics.export runs/comparison/<family>-<hash> --out sizes.parquet

A MatchRecord gives one row per mutual pair (layer_a, unit_a, layer_b, unit_b, r and the
TransformerLens hook names hook_a, hook_b), an AnchorRecord one row per anchor unit and other
model (its best partner there, with both hook names), an ImportanceRecord one row per
estimate of beta (with the beta and the exponent it implies), a Comparison one row per size
(N, R and the count's data-level bars), an analysis record of `empirics.analyze` its own
table (depth bins, k values, neurons, categories or input budgets). Without --out the CSV
goes to stdout.
Parquet needs the pyarrow package (or fastparquet).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import sys
from pathlib import Path

from bridge.comparison import Comparison
from empirics.records.analysis import ANALYSIS_RECORDS
from empirics.records.anchors import AnchorRecord
from empirics.records.importance import ImportanceRecord
from empirics.records.match import MatchRecord
from empirics.records.toy import ToyStudy, ToySweep
from runstore import load_any
from runstore.commands import add_debug_flag, command_parser, reported
from runstore.options import add_flags, flag, from_flags
from theory.sweep import TheoryRun

#: The records that have a table.
TABLES = (MatchRecord, AnchorRecord, ImportanceRecord, Comparison, ToySweep, ToyStudy,
          TheoryRun, *ANALYSIS_RECORDS)
FORMATS = (".csv", ".parquet")


@dataclasses.dataclass(frozen=True)
class ExportSettings:
    """The record whose table is written, and the file it goes to (None: CSV on stdout)."""

    record_dir: Path = flag(help="a run directory with a record of kind "
                            + ", ".join(cls.kind for cls in TABLES), name="record_dir", type=Path)
    out: Path | None = flag(None, "FILE.csv or FILE.parquet (default: CSV on stdout)", type=Path)


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("python -m empirics.export", __doc__)
    add_flags(p, ExportSettings)
    add_debug_flag(p)
    return p


def parquet_engine() -> bool:
    """Whether pandas can write Parquet here (pyarrow or fastparquet is installed)."""
    return any(importlib.util.find_spec(name) for name in ("pyarrow", "fastparquet"))


def main(argv: list[str] | None = None):
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = from_flags(ExportSettings, args)
    suffix = settings.out.suffix if settings.out else ".csv"
    if suffix not in FORMATS:
        parser.error(f"--out must end in .csv or .parquet, got {settings.out}")
    if suffix == ".parquet" and not parquet_engine():
        parser.exit(1, f"{parser.prog}: error: writing Parquet needs the pyarrow package "
                       "(pip install pyarrow), which is not installed; or write --out "
                       f"{settings.out.with_suffix('.csv')}\n")
    with reported(parser, debug=args.debug):
        table = load_any(settings.record_dir, TABLES).to_frame()
    if settings.out is None:
        try:
            table.to_csv(sys.stdout, index=False)
        except BrokenPipeError:  # the reader (head, less) has stopped reading: not an error
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return table
    if suffix == ".csv":
        table.to_csv(settings.out, index=False)
    else:
        table.to_parquet(settings.out, index=False)
    print(f"{len(table)} rows x {len(table.columns)} columns: {settings.out}")
    return table


if __name__ == "__main__":
    main()
