"""Every figure names its axes, keeps its titles and labels inside the canvas and prints no
"nan": the paper figures from the test records, and bridge.compare's scaling plot."""

import dataclasses
import re

import matplotlib
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from bridge.comparison import Comparison
from bridge.plot import comparison_figure
from paper_figs.registry import all_figures
from paper_figs.style import RC, new_figure
from runstore import find_records
from runstore.figures import tidy_log_ticks
from tests.paper_figs.test_figures import records_of

CHECKED = list(all_figures())


def texts_of(fig):
    """(what, text artist, its axes) of every title, axis label, tick label and legend
    entry."""
    for ax in fig.axes:
        yield from (("title", t, ax) for t in (ax.title, ax._left_title, ax._right_title))
        yield from (("axis label", label, ax) for label in (ax.xaxis.label, ax.yaxis.label))
        yield from (("tick label", t, ax) for t in ax.get_xticklabels() + ax.get_yticklabels())
        legend = ax.get_legend()
        if legend is not None:
            yield from (("legend entry", t, ax) for t in legend.get_texts())


def check_labels(fig) -> None:
    """Axes named, no "nan", every title and label inside the canvas, and no title much
    wider than its panel (where it would run into the next one)."""
    tidy_log_ticks(fig)  # as saving does
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    for ax in fig.axes:
        labels = [t for t in ax.get_xticklabels() if t.get_visible() and t.get_text()]
        boxes = sorted((t.get_window_extent(renderer) for t in labels), key=lambda b: b.x0)
        for left, right in zip(boxes, boxes[1:]):
            assert left.x1 <= right.x0 + 1 or left.y1 <= right.y0 + 1, \
                f"x tick labels run into each other under {ax.get_title()!r}"
    width, height = fig.bbox.width, fig.bbox.height
    for ax in fig.axes:
        if not ax.axison or not ax.has_data():
            continue
        twins = ax.get_shared_x_axes().get_siblings(ax)  # a twin's x label is its parent's
        assert any(twin.get_xlabel().strip() for twin in twins) and ax.get_ylabel().strip(), \
            f"an axes without an x or y label (title {ax.get_title()!r})"
    for what, text, ax in texts_of(fig):
        content = text.get_text()
        if not content or not text.get_visible():
            continue
        assert not re.search(r"\bnan\b", content, re.IGNORECASE), f"{what}: {content!r}"
        if what.startswith("tick"):
            continue
        box = text.get_window_extent(renderer)
        assert box.x0 >= -1 and box.y0 >= -1 and box.x1 <= width + 1 and \
            box.y1 <= height + 1, f"{what} {content!r} runs off the canvas"
        if what == "title":
            panel = ax.get_window_extent(renderer).width
            assert box.width <= 1.25 * panel, f"title {content!r} is wider than its panel"


def checked_drawing(figure, root):
    """`figure` drawn from the records under `root`, its labels checked (`check_labels`)."""
    with matplotlib.rc_context(RC):
        fig = new_figure()
        figure.draw(records_of(figure, root), fig)
        check_labels(fig)
    return fig


@pytest.mark.parametrize("figure", CHECKED, ids=lambda f: f.name)
def test_every_paper_figure_is_labelled_inside_its_canvas(figure, records_root):
    checked_drawing(figure, records_root)


def test_the_scaling_plot_of_bridge_compare_is_labelled_alike(records_root):
    for _, comparison in find_records(records_root, Comparison):
        with matplotlib.rc_context(RC):
            check_labels(comparison_figure(comparison))
            broken = dataclasses.replace(comparison, agreement={"alpha_pred": float("nan")})
            check_labels(comparison_figure(broken))  # no theory exponent: no line, no nan


def test_a_long_series_title_is_wrapped_inside_its_panel(tmp_path, rng):
    from bridge.comparison import build_comparison
    from paper_figs import fig03_counts
    from runstore import run_dir
    from tests.paper_figs.builders import write_comparison

    raw = write_comparison(tmp_path, rng, family="language", size="params")
    config = raw.config | {"select": ['architectures=["qwen2", "qwen2"]'],
                           "calibrated": {"quantile": 0.99, "against": "untrained"}}
    calibrated = build_comparison(config, "language", raw.sizes, raw.counts / 2, rng=rng,
                                  n_resamples=300)
    calibrated.save(run_dir(tmp_path, "compare", config, "language") / "calibrated")
    figure = fig03_counts.FIGURES[0]
    with matplotlib.rc_context(RC):
        fig = new_figure()
        figure.draw(records_of(figure, tmp_path), fig)
        check_labels(fig)
        check_labels(comparison_figure(calibrated))
