"""Fig. 4 and Fig. 26: the nulls. Rosetta counts of untrained-weight pairs (Fig. 4) and of
input-permuted pairs (Fig. 26) against model size, next to the trained pairs' counts; one
panel per family and series (`bridge.selection`: records that differ in anything but size,
models and seeds are never drawn as one curve; the panel title names what differs).

Drawn from MatchRecords (`null` = "untrained" / "permuted" / "none"), grouped by the
geometric mean of the pair's parameter counts and averaged over the pairs at a size with
`bridge.points.group_by_size` and `mean_counts`. Records of the same two networks (the
untrained twins of two checkpoints drawn from the same seeds, a model under two names) are
one pair: counted once (`bridge.replicates.count_once`), logged, and the panel title says how
many were left out.
"""

from __future__ import annotations

import functools
import json
import logging

import numpy as np
from matplotlib.ticker import ScalarFormatter

from bridge.points import group_by_size, mean_counts
from bridge.replicates import count_once
from bridge.selection import differing, flatten, series_groups
from empirics.records.match import MatchRecord
from paper_figs.figure import Figure, figure_main
from paper_figs.needs import MissingRecords, Need
from paper_figs.style import COLOURS, panel_grid

log = logging.getLogger("paper_figs")

TRAINED = Need(MatchRecord, where={"null": "none"})
NULLS = {
    "untrained": ("untrained weights", "--init random"),
    "permuted": ("permuted inputs", "--null permuted"),
}


def produced_by(null: str) -> str:
    flag = NULLS[null][1]
    return (f"python -m empirics.match --family FAMILY --all {flag} --out RUNS, next to the "
            "trained pairs (python -m empirics.match --family FAMILY --all --out RUNS)")


def family_counts(records, family: str) -> tuple[np.ndarray, np.ndarray]:
    """Sizes (geometric mean of the pair's parameters) and mean Rosetta counts per size."""
    groups = group_by_size([r for r in records if r.family == family], "params")
    return np.array(list(groups)), mean_counts(groups)


def counted_once(found) -> tuple[list, list]:
    """The records of `found` (paper_figs.needs.Found) with the records of the same two
    networks counted once, and the records left out (each group's warning logged)."""
    kept, warnings = count_once([(item.path, item.record) for item in found])
    for text in warnings:
        log.warning("%s", text)
    kept_ids = {id(record) for _, record in kept}
    return ([record for _, record in kept],
            [item.record for item in found if id(item.record) not in kept_ids])


def panels(trained, nulls, left_out=()) -> list[tuple[str, list, list]]:
    """(title, trained, null records) per family and series with both kinds of record; a
    title names the records of the same networks `left_out` of its series."""
    found = []
    groups = series_groups(trained + nulls)
    names = differing([json.loads(key) for key in groups])
    for key, group in groups.items():
        flat = flatten(json.loads(key))
        label = ", ".join(f"{n}={flat.get(n)}" for n in names)
        ours = [r for r in group if r.null == "none"], [r for r in group if r.null != "none"]
        same = sum(json.dumps(r.series_key(), sort_keys=True) == key for r in left_out)
        note = f" [{same} records of the same networks counted once]" if same else ""
        if all(ours):
            found.append((group[0].family + (f" ({label})" if label else "") + note, *ours))
    return sorted(found, key=lambda item: item[0])


def draw(records, fig, *, null: str) -> None:
    """Per family and series (with both trained and null pairs): counts against size, log
    x, and a symmetric-log y that keeps the null's zero counts in view."""
    (trained, left_trained), (nulls, left_nulls) = (counted_once(group) for group in records)
    found = panels(trained, nulls, left_trained + left_nulls)
    if not found:
        raise MissingRecords(f"no family has both trained and {null}-null MatchRecords of "
                             "one series")
    for ax, (title, ours, theirs) in zip(panel_grid(fig, len(found)), found):
        top = 1.0
        for group, colour, marker, label in (
                (ours, COLOURS["rosetta"], "o-", "trained pairs"),
                (theirs, COLOURS["null"], "x--", f"null: {NULLS[null][0]}")):
            sizes, counts = family_counts(group, group[0].family)
            ax.plot(sizes, counts, marker, color=colour, label=label)
            top = max(top, counts.max())
        ax.set_xscale("log")
        ax.set_yscale("symlog", linthresh=1)
        ax.yaxis.set_major_formatter(ScalarFormatter())
        # room below 0 and above the largest count (for the legend) keeps every marker whole
        ax.set(xlabel="parameters N (geometric mean of the pair)",
               ylabel="Rosetta count R(N)", title=title, ylim=(-0.3, 4.0 * top))
        ax.legend(loc="upper left")


def null_figure(name: str, caption: str, null: str) -> Figure:
    return Figure(name, caption, (TRAINED, Need(MatchRecord, where={"null": null})),
                  produced_by(null), functools.partial(draw, null=null))


FIGURES = (null_figure("fig04_untrained_null", "Fig. 4, untrained-weights null", "untrained"),
           null_figure("fig26_permuted_null", "Fig. 26, permuted-input null", "permuted"))


def main(argv: list[str] | None = None):
    return figure_main(FIGURES, argv, prog="python -m paper_figs.fig04_nulls")


if __name__ == "__main__":
    main()
