"""The measured count exponent against every closure's prediction, at a beta read from the
data (an ImportanceRecord of `python -m empirics.importance`), with intervals.

Each closure maps beta to the slope of log R against log N (`theory.symbolic.exponent`,
defined for beta > 1). The beta interval is mapped through that (monotone) map; where it
reaches beta <= 1, outside every closure's domain, the map's limit at beta -> 1+ bounds it and
the row says so. A closure is *excluded* when its predicted interval and the measured interval
are disjoint, *consistent* otherwise; with a beta interval as narrow as a Zipf fit gives, the
measured interval decides. Torch-free.
"""

from __future__ import annotations

import dataclasses

import numpy as np

#: Just above 1: where a beta interval that reaches beta <= 1 is cut.
DOMAIN_EDGE = 1.0 + 1e-6


@dataclasses.dataclass(frozen=True)
class ClosureRow:
    """One closure's predicted exponent [estimate, low, high] at the beta interval, whether
    the interval had to be cut at beta -> 1+, and the verdict against the measured one."""

    closure: str
    predicted: tuple
    cut_at_domain: bool
    verdict: str


@dataclasses.dataclass(frozen=True)
class ClosureCheck:
    """Every closure's row at one beta read from the data: the beta interval and the label
    of its source (estimator and model), the measured exponent interval, and the rows."""

    label: str
    beta: tuple
    measured: tuple
    rows: tuple[ClosureRow, ...]


def predicted_interval(closure: str, beta: tuple) -> tuple[tuple, bool]:
    """(estimate, low, high) of the closure's exponent over the beta interval (estimate, low,
    high), and whether beta <= 1 values were replaced by the domain's edge."""
    from theory.symbolic import exponent

    cut = min(beta) <= 1.0
    values = [exponent(closure, max(b, DOMAIN_EDGE)) for b in beta]
    return (values[0], min(values), max(values)), cut


def closure_rows(measured: tuple, beta: tuple, closures=None) -> list[ClosureRow]:
    """Every closure's prediction at `beta` against the `measured` exponent interval (both
    (estimate, low, high))."""
    from theory.params import CLOSURES

    rows = []
    for closure in closures or CLOSURES:
        predicted, cut = predicted_interval(closure, beta)
        disjoint = predicted[2] < measured[1] or predicted[1] > measured[2]
        rows.append(ClosureRow(closure, predicted, cut, "excluded" if disjoint else "consistent"))
    return rows


def beta_from_record(directory, estimate: str | None = None) -> tuple[tuple, str]:
    """(estimate, low, high) of beta from an ImportanceRecord (its `estimate`, default the
    token Zipf MLE), and a label naming the model and the estimator."""
    from empirics.records.importance import ImportanceRecord

    record = ImportanceRecord.load(directory)
    name = estimate or "zipf-mle-1gram"
    if name not in record.estimates:
        raise LookupError(f"the importance record in {directory} has no estimate {name!r}; it "
                          f"has {', '.join(sorted(record.estimates))}")
    found = record.estimates[name]["implied_beta"]
    beta = tuple(float(v) for v in found)
    if not np.all(np.isfinite(beta)):
        raise LookupError(f"the importance record in {directory}: {name} gives no finite beta "
                          f"({beta})")
    return beta, f"{name} of {record.model}"
