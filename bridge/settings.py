"""What a family's fit asks for and the records it reads: `CompareSettings` (the settings of
`python -m bridge.compare`, checked as they are made), `find_series` (the family's records,
or `CannotFit` naming the command that makes them) and `CannotFit`. Torch-free."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from empirics.records.anchors import AnchorRecord
from empirics.records.match import MatchRecord
from empirics.records.nulls import CALIBRATION, CALIBRATIONS, NULL_NAMES
from empirics.records.pair import ScalingPoint
from runstore import find_records

#: How to produce the records a family needs, named when none exist.
PRODUCERS = {
    "language": "python -m empirics.match --family language --all --out RUNS "
                "(needs the Pythia / OPT / GPT-2 / Qwen2.5 weights in the Hugging Face cache or "
                "local directories; see empirics/models/registry.py for the ids)",
    "vision": "python -m empirics.match --family vision --all --out RUNS "
              "(needs the OpenCLIP and DINOv2 weights in the Hugging Face cache or local "
              "directories; see empirics/models/registry.py)",
    "toy": "python -m theory.simulate --beta BETA --out RUNS (trains the toy nets on CPU)",
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

    family: str
    records: Path = Path("runs")
    beta: float | None = None
    closure: str = "P1"
    size: str = "neurons"
    level: float = 0.95
    margin: float = 0.1
    resamples: int = 10_000
    replicates: int = 200
    seed: int = 0
    out: Path | None = None
    plot: bool = True
    anchors: bool = False
    select: tuple = ()
    null_quantile: float | None = 0.99
    calibrate_against: str = "permuted"
    calibration: str = CALIBRATION
    beta_from: tuple = ()
    beta_estimate: str | None = None
    require_exact: str | None = None
    keep_untrained_models: bool = False

    def __post_init__(self):
        if not 0.0 < self.level < 1.0:
            raise ValueError(f"--level must lie in (0, 1), got {self.level}")
        if self.margin <= 0:
            raise ValueError(f"--margin must be positive, got {self.margin}")
        if self.resamples < 100:
            raise ValueError(f"--resamples must be at least 100, got {self.resamples}")
        if self.replicates < 0:
            raise ValueError(f"--replicates must be >= 0 (0: no data-level interval), got "
                             f"{self.replicates}")
        needed = math.ceil(2.0 / (1.0 - self.level))  # one replicate beyond each tail
        if 0 < self.replicates < needed:
            raise ValueError(f"--replicates {self.replicates} is too few for a "
                             f"{self.level:.0%} percentile interval: give at least {needed} "
                             "(or 0: no data-level interval)")
        if self.calibrate_against not in NULL_NAMES:
            raise ValueError(f"--calibrate-against must be one of {', '.join(NULL_NAMES)}, "
                             f"got {self.calibrate_against!r}")
        if self.calibration not in CALIBRATIONS:
            raise ValueError(f"--calibration must be one of {', '.join(CALIBRATIONS)}, got "
                             f"{self.calibration!r}")
        if self.null_quantile is not None and not 0.0 < self.null_quantile < 1.0:
            raise ValueError(f"--null-quantile must lie in (0, 1), got {self.null_quantile}")
        if self.size not in ("neurons", "params"):
            raise ValueError(f"--size must be neurons or params, got {self.size!r}")
        if self.require_exact not in REQUIRE_EXACT:
            raise ValueError(f"--require-exact must be one of {', '.join(REQUIRE_EXACT[1:])}, "
                             f"got {self.require_exact!r}")
        if self.require_exact == "calibrated" and (self.null_quantile is None or self.anchors
                                                   or self.family == "toy"):
            raise ValueError("--require-exact calibrated needs calibrated counts (not with "
                             "--no-calibration, --anchors or the toy family)")


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
