"""Rosetta anchor sets of a family, from its saved MatchRecords (docs/report.md, "Anchors"):
one `AnchorRecord` per anchor model and null, in a run directory derived from the anchor,
the null, the threshold and the hashes of the matches it intersects."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Sequence

from empirics.analysis.anchors import anchor_sets, find_anchors
from empirics.records.anchors import AnchorRecord
from empirics.records.match import MatchRecord
from empirics.report.build import write_report
from runstore import read_header, reuse_or_build, run_dir
from runstore.options import check_fields, flag

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class AnchorSettings:
    """What `python -m empirics.anchors` does: the family's MatchRecords under `records`, the
    anchor models (none: one per connected group), the least r of a pair kept, where the
    anchor runs go (None: `records`), and whether to recompute them or write their pages."""

    family: str = flag(help="family name in the MatchRecords")
    records: Path = flag(Path("runs"), "root searched for MatchRecords")
    anchor: tuple = flag((), "anchor model names (default: one per connected group of models)",
                         nargs="+")
    min_correlation: float | None = flag(None, "drop mutual pairs with r below this before "
                                         "intersecting (default: keep every pair)", type=float,
                                         at_least=-1.0, at_most=1.0)
    out: Path | None = flag(None, "root of the anchor runs (default: --records)", type=Path)
    force: bool = flag(False, "recompute existing records")
    report: bool = flag(False, "write report.html in every run")

    def __post_init__(self):
        check_fields(self)


def write_anchor_sets(found: Sequence[tuple[Path, MatchRecord]], family: str, *, out: Path,
                      anchors: Sequence[str] = (), min_correlation: float | None = None,
                      force: bool = False, report: bool = False) -> list[Path]:
    """The anchor sets of `found` (path and record of each match of the family), per null;
    `anchors` names the anchor models of the trained matches (default: one per connected
    group of models). Raises ValueError for a set that cannot be formed."""
    written = []
    for null in sorted({record.null for _, record in found}):
        subset = [(path, record) for path, record in found if record.null == null]
        sets = anchor_sets([r for _, r in subset], anchors if null == "none" else ())
        for anchor, indices in sets.items():
            directory = _write_set(anchor, [subset[i] for i in indices], family, out=out,
                                   min_correlation=min_correlation, force=force)
            if report:
                write_report(directory)
            written.append(directory)
    return written


def _write_set(anchor: str, chosen: list[tuple[Path, MatchRecord]], family: str, *, out: Path,
               min_correlation: float | None, force: bool) -> Path:
    config = {"family": family, "anchor": anchor, "null": chosen[0][1].null,
              "min_correlation": min_correlation,
              "matches": [{"path": str(path), "sha256": read_header(path)["arrays"]["sha256"]}
                          for path, _ in chosen]}
    directory = run_dir(out, "anchors", config, anchor)
    record, reused = reuse_or_build(
        directory, AnchorRecord, lambda: find_anchors([r for _, r in chosen], anchor,
                                                      min_correlation=min_correlation,
                                                      config=config), force=force)
    if not reused:
        log.info("%s (%s): %d anchors in %d models; pairwise %s", anchor, record.null,
                 record.n_anchors, len(record.others) + 1, record.pairwise_counts)
    return directory
