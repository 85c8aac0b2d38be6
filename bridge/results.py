"""The typed results of a family's fit (`bridge.family.compare_family`): the raw counts'
series, the calibrated counts' series, the nulls' fits and the polarization trends, as
they were computed and written; `bridge.report` writes them as text. Torch-free."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from bridge.closures import ClosureCheck
from bridge.comparison import Comparison
from bridge.powerlaw import PowerLawFit
from bridge.trends import Polarization


@dataclasses.dataclass(frozen=True)
class NullFit:
    """The OLS power law of one null's counts (`fit`), or None where it has fewer than 3
    sizes or a size without pairs (then its mean `counts` at its `n_sizes` sizes say why)."""

    null: str
    counts: tuple[float, ...]
    n_sizes: int
    fit: PowerLawFit | None


@dataclasses.dataclass(frozen=True)
class SeriesFit:
    """One fitted count series and what was written of it: the points grouped by size
    (`groups`: N -> points), their Comparison and its run `directory`, the nulls fitted the
    same way, the records whose counts are not certified exact (`not_exact`, of `n_fitted`),
    every closure at each beta read from the data, and the figures drawn."""

    directory: Path
    comparison: Comparison
    groups: dict
    nulls: tuple[NullFit, ...]
    not_exact: tuple[str, ...]
    n_fitted: int
    closures: tuple[ClosureCheck, ...]
    figures: tuple[Path, ...]


@dataclasses.dataclass(frozen=True)
class CalibratedFit:
    """The fit of the counts calibrated by each pair's own null (`calibration`: rule,
    quantile, null), or why there is none: `lacking` names the trained pairs without their
    null, `reason` why the calibrated counts do not support a fit. `missing` lists every pair
    not calibrated; `thresholds` and `chance` the mean threshold r and, when the rule
    subtracts them (`subtracted`), the mean chance pairs subtracted, by N."""

    calibration: dict
    fit: SeriesFit | None = None
    lacking: tuple[str, ...] = ()
    reason: str | None = None
    missing: tuple[str, ...] = ()
    thresholds: dict = dataclasses.field(default_factory=dict)
    chance: dict = dataclasses.field(default_factory=dict)
    subtracted: bool = True


@dataclasses.dataclass(frozen=True)
class FamilyFit:
    """What `compare_family` found: the warnings about the records fitted, the series they
    form (`series`, its key flattened), the raw counts' fit, the calibrated counts' fit (None
    when not asked for or not defined: anchors, the toy), and the polarization trends
    (`polarization`; None with `polarization_hint` saying how to make the records it needs,
    or with no hint when there is nothing to fit)."""

    family: str
    size: str
    warnings: tuple[str, ...]
    series: dict
    raw: SeriesFit
    calibrated: CalibratedFit | None
    polarization: Polarization | None
    polarization_hint: str | None = None

    @property
    def directory(self) -> Path:
        """The run directory of the raw counts' Comparison."""
        return self.raw.directory
