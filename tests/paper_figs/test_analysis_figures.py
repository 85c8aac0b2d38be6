"""The figures of the analyses (Figs. 6, 7, 25, 31, 33) draw what their records hold."""

import numpy as np

from paper_figs import (
    fig06_polarization,
    fig07_specialization,
    fig25_topk,
    fig31_depth,
    fig33_stability,
)
from paper_figs.figure import build_figures
from tests.paper_figs.analysis_builders import KS, depth_shares, topk_counts, write_analyses
from tests.paper_figs.conftest import WIDTHS
from tests.paper_figs.test_figures import drawn


def test_polarization_draws_both_populations_with_their_stored_slopes(records_root):
    (ax,) = drawn(fig06_polarization.FIGURES[0], records_root).axes
    labels = ax.get_legend_handles_labels()[1]
    assert "Rosetta" in labels and "non-Rosetta (size-matched)" in labels
    assert any(label.startswith("slope +0.5 [") for label in labels)
    rosetta_line = next(line for line in ax.lines if line.get_label().startswith("slope +0.5"))
    np.testing.assert_allclose(rosetta_line.get_ydata(), 1.0 + 0.5 * np.log(WIDTHS))
    assert ax.get_xscale() == "log" and "vision" in ax.get_title()
    title = " ".join(ax.get_title().split())  # wrapped
    assert "slope difference +0.5 [+0.5, +0.5], Holm p =" in title


def test_specialization_bars_are_the_rosetta_means_per_size_against_the_baseline(records_root):
    (ax,) = drawn(fig07_specialization.FIGURES[0], records_root).axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["code", "data", "prose"]
    code_bars = [container.patches[0].get_height() for container in ax.containers
                 if hasattr(container, "patches")]
    np.testing.assert_allclose(code_bars, 1.0 + np.log2(WIDTHS) / 4)
    assert any(line.get_ydata()[0] == 1.0 for line in ax.lines)  # the corpus baseline


def test_topk_draws_one_curve_per_k_with_the_recorded_counts(records_root):
    (ax,) = drawn(fig25_topk.FIGURES[0], records_root).axes
    assert [line.get_label() for line in ax.lines] == [f"mutual top-{k}" for k in KS]
    for i, line in enumerate(ax.lines):
        np.testing.assert_allclose(line.get_xdata(), 10.0 * np.array(WIDTHS))
        np.testing.assert_allclose(line.get_ydata(), [topk_counts(w)[i] for w in WIDTHS])


def test_depth_draws_each_model_once_per_side(records_root):
    side_a, side_b = drawn(fig31_depth.FIGURES[0], records_root).axes
    assert [line.get_label() for line in side_a.lines] == [f"vision-a{w}" for w in WIDTHS]
    np.testing.assert_allclose(side_a.lines[-1].get_ydata(), depth_shares(10, WIDTHS[-1]))
    np.testing.assert_allclose(side_b.lines[0].get_ydata(), depth_shares(10, WIDTHS[0])[::-1])


def test_stability_draws_counts_and_overlaps_after_the_first_budget(records_root):
    count, overlap = drawn(fig33_stability.FIGURES[0], records_root).axes
    np.testing.assert_allclose(count.lines[0].get_ydata(), [30, 40, 44, 45])
    np.testing.assert_allclose(overlap.lines[0].get_xdata(), [2000, 4000, 8000])
    np.testing.assert_allclose(overlap.lines[0].get_ydata(), [0.6, 0.8, 0.9])


def test_two_families_get_a_panel_each(tmp_path, rng):
    write_analyses(tmp_path, rng, family="language", widths=(100, 400, 1600))
    write_analyses(tmp_path, rng, family="vision")
    figures = [fig06_polarization, fig07_specialization, fig25_topk, fig31_depth,
               fig33_stability]
    report = build_figures([m.FIGURES[0] for m in figures], tmp_path, tmp_path / "out")
    assert report.skipped == {} and len(report.built) == 5
    panels = {m.FIGURES[0].name: len(drawn(m.FIGURES[0], tmp_path).axes) for m in figures}
    assert panels == {"fig06_polarization": 2, "fig07_specialization": 2, "fig25_topk": 2,
                      "fig31_depth": 4, "fig33_stability": 4}


def test_polarization_keeps_one_panel_row_per_selected_series():
    """Two Polarizations of one family, from two --select series: neither hides the other."""
    from types import SimpleNamespace

    from bridge.trends import Polarization

    def result(select, created):
        record = Polarization(config={"select": select}, family="language",
                              source="selectivity", sizes=np.array([1.0, 2.0]), points={},
                              trends={}, verdicts={})
        return SimpleNamespace(record=record, header={"created": created})

    found = [result(['architectures=["gpt2", "qwen2"]'], "1"), result([], "2"),
             result(['architectures=["gpt2", "gpt2"]'], "3")]
    titles = [fig06_polarization.series_title(r) for r in fig06_polarization.latest(found)]
    assert titles == ["language", 'language [architectures=["gpt2", "gpt2"]]',
                      'language [architectures=["gpt2", "qwen2"]]']


def test_polarization_labels_its_size_axis_and_keeps_both_axes():
    """Two Polarizations that differ only in their unit of N are both drawn, each labelled
    from its record; a record made before the unit was kept says it is unknown."""
    from types import SimpleNamespace

    from bridge.trends import Polarization

    def result(size, created):
        record = Polarization(config={}, family="language", source="selectivity",
                              sizes=np.array([1.0, 2.0]), points={}, trends={}, verdicts={},
                              size=size)
        return SimpleNamespace(record=record, header={"created": created})

    kept = fig06_polarization.latest([result("params", "1"), result("neurons", "2")])
    assert sorted(fig06_polarization.x_label(r) for r in kept) == [
        "MLP neurons N (geometric mean of the pair)", "parameters N (geometric mean of the pair)"]
    assert "not recorded" in fig06_polarization.x_label(result(None, "3").record)
