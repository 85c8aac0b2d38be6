"""Figs. 6b, 36 and 37: the monosemanticity judges (docs/judges.md).

- Fig. 6b: the judge's mean F1 of Rosetta and of size-matched control neurons against the
  pair's size (at each record's largest k), with the exact random baseline.
- Fig. 36: the composites the judge saw for one Rosetta and one control neuron, at each k
  (each example beside its activation-map overlay).
- Fig. 37: mean F1 and accuracy of both populations against k, with the random baseline.

Drawn from the JudgeRecords of `python -m empirics.judge` (the composites are stored in the
record); nothing is judged or recomputed here.
"""

from __future__ import annotations

from empirics.records.judge import POPULATIONS, JudgeRecord
from paper_figs.analysis import pair_size
from paper_figs.figure import Figure, figure_main
from paper_figs.needs import MissingRecords, Need
from paper_figs.style import COLOURS, panel_grid

REQUIRES = (Need(JudgeRecord),)
PRODUCED_BY = ("python -m empirics.judge --match RUN_DIR --backend http --url URL --model NAME "
               "--ks 2,5,10,20,50 (on match runs with --examples 55 under RUNS)")
STYLE = {"rosetta": (COLOURS["rosetta"], "o", "Rosetta"),
         "control": (COLOURS["non_rosetta"], "s", "non-Rosetta (size-matched)")}


def _interval(ax, x, values, population, label=True) -> None:
    colour, marker, name = STYLE[population]
    means = [v[0] for v in values]
    ax.errorbar(x, means, yerr=[[m - v[1] for m, v in zip(means, values)],
                                [v[2] - m for m, v in zip(means, values)]],
                fmt=f"{marker}-", color=colour, capsize=2, label=name if label else None)


def _records(records) -> list[JudgeRecord]:
    found = [item.record for item in records[0]]
    if not found:
        raise MissingRecords("no judge records")
    return found


def draw_sizes(records, fig) -> None:
    found = sorted(_records(records), key=pair_size)
    ax, = panel_grid(fig, 1)
    sizes = [pair_size(r) for r in found]
    for population in POPULATIONS:
        _interval(ax, sizes, [r.pooled[f"k{max(r.ks)}"][population]["mean_f1"]
                              for r in found], population)
    ax.axhline(found[0].baseline["f1"], color=COLOURS["null"], ls="--", label="random")
    ax.set(xscale="log", xlabel="MLP neurons N (geometric mean of the pair)",
           ylabel="judge F1 (5 + 5 held out)", ylim=(-0.05, 1.05), title="judge by size")
    ax.legend(fontsize="x-small")


def draw_composites(records, fig) -> None:
    record = max(_records(records), key=lambda r: (len(r.composites), pair_size(r)))
    panels = [(k, p) for k in record.ks for p in POPULATIONS
              if record.composite(k, p) is not None]
    if not panels:
        raise MissingRecords("no judge record of image neurons holds composites")
    for ax, (k, population) in zip(panel_grid(fig, len(panels)), panels):
        ax.imshow(record.composite(k, population))
        ax.set(xticks=[], yticks=[], xlabel="examples | map overlay", ylabel="top-k grid",
               title=f"{STYLE[population][2].split(' ')[0]} neuron "
                     f"{record.exemplars[f'{population}_a']}, k = {k}")


def draw_ks(records, fig) -> None:
    record = max(_records(records), key=lambda r: (len(r.ks), pair_size(r)))
    for ax, metric in zip(panel_grid(fig, 2), ("f1", "accuracy")):
        for population in POPULATIONS:
            _interval(ax, record.ks, [record.pooled[f"k{k}"][population][f"mean_{metric}"]
                                      for k in record.ks], population)
        ax.axhline(record.baseline[metric], color=COLOURS["null"], ls="--", label="random")
        ax.set(xscale="log", xlabel="examples shown k", ylabel=f"judge {metric}",
               ylim=(-0.05, 1.05), title=f"{metric} against k")
        ax.legend(fontsize="x-small")


FIGURES = (Figure("fig06b_judge", "Fig. 6b, judge F1 of Rosetta and control neurons by size",
                  REQUIRES, PRODUCED_BY, draw_sizes),
           Figure("fig36_composites", "Fig. 36, the judge's composites at each k", REQUIRES,
                  PRODUCED_BY, draw_composites),
           Figure("fig37_judge_k", "Fig. 37, judge F1 and accuracy against k", REQUIRES,
                  PRODUCED_BY, draw_ks))


def main(argv: list[str] | None = None):
    return figure_main(FIGURES, argv, prog="python -m paper_figs.fig36_judges")


if __name__ == "__main__":
    main()
