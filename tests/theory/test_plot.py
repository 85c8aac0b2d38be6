"""The shared figure style: readable tick labels on log axes."""

import numpy as np
from matplotlib.figure import Figure

from runstore.figures import tidy_log_ticks


def minor_labels(axis) -> list[str]:
    formatter = axis.get_minor_formatter()
    low, high = sorted(axis.get_view_interval())
    ticks = [t for t in axis.get_minorticklocs() if low <= t <= high]
    formatter.set_locs(ticks)
    return [label for label in (formatter(t, i) for i, t in enumerate(ticks)) if label]


def test_a_span_of_one_decade_labels_only_two_and_five_times_ten_to_the_k():
    fig = Figure()
    ax = fig.subplots()
    ax.plot([2e4, 3.5e5], [1, 2])
    ax.set_xscale("log")
    assert len(minor_labels(ax.xaxis)) > 4  # matplotlib's own: every minor tick labelled
    tidy_log_ticks(fig)
    labels = minor_labels(ax.xaxis)
    assert labels and all(label.startswith(("$2", "$5")) for label in labels)


def test_two_decades_or_more_keep_only_the_decades_and_linear_axes_are_untouched():
    fig = Figure()
    ax = fig.subplots()
    ax.plot(np.geomspace(10, 5e3, 5), np.arange(5.0))
    ax.set_xscale("log")
    before = ax.yaxis.get_minor_formatter()
    tidy_log_ticks(fig)
    assert minor_labels(ax.xaxis) == []
    assert ax.yaxis.get_minor_formatter() is before
