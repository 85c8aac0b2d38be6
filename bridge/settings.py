"""What a family's fit asks for and the records it reads: `CompareSettings` (the settings of
`python -m bridge.compare`, each field its flag, checked as they are made), `find_series` (the
family's records, or `CannotFit` naming the command that makes them) and `CannotFit`.
Torch-free."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from bridge.baseline import UNTRAINED_MARGIN
from empirics.records.anchors import AnchorRecord
from empirics.records.match import MatchRecord
from empirics.records.nulls import CALIBRATION, CALIBRATIONS, NULL_NAMES, NULL_QUANTILE
from empirics.records.pair import ScalingPoint
from empirics.records.toy import TOY_FAMILY
from runstore import find_records
from runstore.options import check_fields, flag
from theory.params import CLOSURES

#: How to produce the records a family needs, named when none exist.
PRODUCERS = {
    "language": "python -m empirics.match --family language --all --out RUNS "
                "(needs the Pythia / OPT / GPT-2 / Qwen2.5 weights in the Hugging Face cache or "
                "local directories; see empirics/models/registry.py for the ids)",
    "vision": "python -m empirics.match --family vision --all --out RUNS "
              "(needs the OpenCLIP and DINOv2 weights in the Hugging Face cache or local "
              "directories; see empirics/models/registry.py)",
    TOY_FAMILY: "python -m theory.simulate --beta BETA --out RUNS (trains the toy nets on CPU)",
}


#: What `--require-exact` demands: nothing, every fitted count, or the calibrated counts.
REQUIRE_EXACT = (None, "all", "calibrated")


class CannotFit(LookupError):
    """The records under the root do not support the fit (the message says why and, when
    none exist, which command makes them)."""


@dataclasses.dataclass(frozen=True)
class CompareSettings:
    """What `python -m bridge.compare` fits: which family's records (under `records`; its
    anchor sets with `anchors`), N as neurons or parameters, the theory's prediction
    (`beta`, `closure`), the interval level, the equivalence margin, resampling sizes and
    seed, where the Comparison goes (`out`, default `records`), whether to plot, and whether
    pairs with a model that learnt nothing stay in the fits (`bridge.baseline`)."""

    family: str = flag(help="family name in the MatchRecords")
    records: Path = flag(Path("runs"), "root searched for MatchRecords")
    beta: float | None = flag(None, "importance exponent for the theory's prediction (> 1)",
                              type=float, above=1.0, below=math.inf)
    closure: str = flag("P1", "allocation closure of the prediction", choices=sorted(CLOSURES))
    size: str = flag("neurons", "N as matched neurons (the theory's width) or parameters",
                     choices=("neurons", "params"))
    level: float = flag(0.95, "coverage of the exponent's intervals", above=0.0, below=1.0)
    margin: float = flag(0.1, "equivalence margin on alpha before 'agrees' is printed",
                         above=0.0)
    resamples: int = flag(10_000, "resamples of the case bootstrap and the parametric "
                          "data-level interval", at_least=100)
    replicates: int = flag(200, "input resamples per size when records kept per-chunk sums",
                           at_least=0, hint="0: no data-level interval")
    seed: int = flag(0, "seed of the resampling")
    out: Path | None = flag(None, "root of the Comparison run directory (default: --records)",
                            type=Path)
    plot: bool = flag(True, "skip the log-log plots", name="--no-plot")
    anchors: bool = flag(False, "fit the Rosetta anchor counts (records of python -m "
                         "empirics.anchors) instead of the pairs' counts")
    select: tuple = flag((), "keep the records whose series key has this value (e.g. "
                         "beta=1.5, k=1, dtype=\"float32\"); repeatable. Records of several "
                         "series are never fitted together", action="append",
                         metavar="KEY=VALUE")
    null_quantile: float | None = flag(
        NULL_QUANTILE, "also fit the counts calibrated by each pair's own null (its records: "
        "empirics.match --null permuted) at this quantile of the null's r (see --calibration)",
        above=0.0, below=1.0, optional=True)
    calibrate_against: str = flag(
        "permuted", "the null whose mutual-pair r sets the threshold: the pair's permutation "
        "null (chance), or the untrained pairs of the same models and settings (what "
        "untrained networks share; --init random, seeds pooled)", choices=tuple(NULL_NAMES))
    calibration: str = flag(
        CALIBRATION, "best-partner-excess: the mutual pairs at or above the quantile of every "
        "live neuron's best-partner r in the null, minus the null's mean count above it; "
        "mutual-quantile: the mutual pairs above the quantile of the null's mutual-pair r (the "
        "earlier rule). docs/selection.md", choices=CALIBRATIONS)
    beta_from: tuple = flag((), "an ImportanceRecord of python -m empirics.importance: every "
                            "closure's exponent at its beta, against the measured one "
                            "(repeatable)", type=Path, action="append", metavar="RECORD_DIR")
    beta_estimate: str | None = flag(None, "which estimate of the importance record gives "
                                     "beta (default zipf-mle-1gram; e.g. spectrum-mean)")
    require_exact: str | None = flag(
        None, "refuse, naming the records, when a count to be fitted is not certified exact "
        "(two-stage records: below the r their count is certified from; docs/matching.md); "
        "'calibrated': only the calibrated counts must be", choices=REQUIRE_EXACT[1:],
        nargs="?", const="all")
    keep_untrained_models: bool = flag(
        False, "keep in the fits the pairs with a model whose held-out loss is not "
        f"{UNTRAINED_MARGIN:g} nats below its tokenizer's unigram baseline (left out and "
        "named by default)")

    def __post_init__(self):
        check_fields(self)
        needed = math.ceil(2.0 / (1.0 - self.level))  # one replicate beyond each tail
        if 0 < self.replicates < needed:
            raise ValueError(f"--replicates {self.replicates} is too few for a "
                             f"{self.level:.0%} percentile interval: give at least {needed} "
                             "(or 0: no data-level interval)")
        if self.require_exact == "calibrated" and (self.null_quantile is None or self.anchors
                                                   or self.toy_family):
            raise ValueError("--require-exact calibrated needs calibrated counts (not with "
                             "--no-calibration, --anchors or the toy family)")

    @property
    def toy_family(self) -> bool:
        """Whether the family is the toy's (fitted from its sweeps, with no nulls to
        calibrate against)."""
        return self.family == TOY_FAMILY


def find_series(settings: CompareSettings, skipped: list | None = None
                ) -> list[tuple[Path, ScalingPoint]]:
    """The family's MatchRecords (or AnchorRecords); `CannotFit` naming the command that
    makes them when there are none. Damaged records are passed over and, with `skipped`,
    listed there as (run folder, reason)."""
    if settings.anchors:
        found = find_records(settings.records, AnchorRecord, skipped=skipped,
                             family=settings.family)
        producer = (f"python -m empirics.anchors --family {settings.family} --records "
                    f"{settings.records}")
        kind = "anchor records"
    else:
        found = find_records(settings.records, MatchRecord, skipped=skipped,
                             family=settings.family)
        producer = PRODUCERS.get(settings.family, "python -m empirics.match --family "
                                 f"{settings.family} ... --out RUNS")
        producer = producer.replace("RUNS", str(settings.records))
        kind = "MatchRecords"
    if not found:
        raise CannotFit(f"no {kind} of family {settings.family!r} under {settings.records}. "
                        f"Produce them with:\n  {producer}")
    return found
