"""The shared figure style: readable tick labels on log axes, no backend chosen on import."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from runstore.figures import tidy_log_ticks

ROOT = Path(__file__).resolve().parents[2]


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


def test_drawing_modules_choose_no_backend_and_save_without_pyplot(tmp_path):
    """Importing the drawing modules selects no matplotlib backend and imports no pyplot;
    a figure drawn outside pyplot is saved as PNG and PDF all the same."""
    code = ("import sys, matplotlib, theory.plot, bridge.plot, paper_figs.style\n"
            "from runstore.figures import new_figure, save_figure\n"
            "assert 'matplotlib.pyplot' not in sys.modules\n"
            "assert matplotlib.rcParams._get('backend')"
            " is matplotlib.rcsetup._auto_backend_sentinel\n"
            "fig = new_figure(figsize=(2, 2))\n"
            "fig.subplots().plot([1, 2], [1, 4])\n"
            f"paths = save_figure(fig, {str(tmp_path / 'figure')!r})\n"
            "assert 'matplotlib.pyplot' not in sys.modules\n"
            "print(*[p.stat().st_size for p in paths])\n")
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True,
                          text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert all(int(size) > 0 for size in done.stdout.split())
    assert (tmp_path / "figure.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "figure.pdf").read_bytes()[:5] == b"%PDF-"
