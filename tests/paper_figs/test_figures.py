"""Each figure renders from small records written in the test, into images of its size."""

import numpy as np
import pytest
from PIL import Image

from paper_figs import fig03_counts, fig04_nulls, fig05_frontiers, fig27_toy
from paper_figs.figure import build_figures, render
from paper_figs.needs import RecordIndex
from paper_figs.registry import all_figures
from paper_figs.style import figure_pixels, new_figure
from tests.paper_figs.builders import write_comparison, write_theory_run, write_toy_sweep
from tests.paper_figs.conftest import PERMUTED, UNTRAINED, WIDTHS

#: Grid (rows, columns) of each figure drawn from `records_root`: four families in Fig. 3
#: (count and fraction each), one family with nulls, one allocation run (regimes and counts)
#: and one toy sweep (three panels).
GRIDS = {"fig03_counts": (4, 2), "fig04_untrained_null": (1, 1),
         "fig26_permuted_null": (1, 1), "fig05_frontiers": (1, 2), "fig27_toy": (1, 3),
         "fig27_toy_study": (1, 2),
         "fig06_polarization": (1, 1), "fig07_specialization": (1, 1), "fig25_topk": (1, 1),
         "fig31_depth": (1, 2), "fig33_stability": (1, 2),
         "fig06b_judge": (1, 1), "fig36_composites": (2, 3), "fig37_judge_k": (1, 2),
         "fig38_dinov3": (1, 2)}


def records_of(figure, root):
    index = RecordIndex(root)
    return tuple(index.select(need) for need in figure.requires)


def drawn(figure, root):
    fig = new_figure()
    figure.draw(records_of(figure, root), fig)
    return fig


@pytest.mark.parametrize("figure", all_figures(), ids=lambda f: f.name)
def test_each_figure_is_a_png_and_a_pdf_of_its_size(figure, records_root, tmp_path):
    report = build_figures([figure], records_root, tmp_path)
    assert report.skipped == {} and report.problems == []
    png, pdf = report.built[figure.name]
    assert (png, pdf) == (tmp_path / f"{figure.name}.png", tmp_path / f"{figure.name}.pdf")
    with Image.open(png) as image:
        assert image.size == figure_pixels(*GRIDS[figure.name])
        pixels = np.asarray(image.convert("L"), dtype=float)
    assert pixels.std() > 10, "the image is blank"
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 5_000


def test_the_toy_study_figure_names_its_quantities_and_draws_one_over_beta(records_root):
    from paper_figs import fig27_toy

    fig = drawn(fig27_toy.FIGURES[1], records_root)
    by_beta, scan = fig.axes
    assert by_beta.get_xlabel() == r"importance exponent $\beta$"
    assert by_beta.get_ylabel() == scan.get_ylabel() == "exponent of R(N)"
    assert scan.get_xlabel() == "feature pool n (p n fixed)" and scan.get_xscale() == "log"
    one_over_beta = by_beta.lines[0]
    np.testing.assert_allclose(one_over_beta.get_ydata(), 1 / one_over_beta.get_xdata())
    assert "nan" not in by_beta.get_title() + scan.get_title()
    # every arm x beta x length cell at the first pool is drawn, with its interval
    assert len(by_beta.containers) == 3 * 12


def test_counts_figure_draws_the_comparison_on_log_axes_with_its_bands(records_root):
    fig = drawn(fig03_counts.FIGURES[0], records_root)
    dinov3, _, openclip, _, language, _, vision, fraction = fig.axes
    assert [ax.get_title() for ax in (dinov3, openclip, language, vision)] == [
        "generated-dinov3", "generated-openclip", "language", "vision"]  # each its own series
    comparison = fig03_counts.latest_per_family(
        records_of(fig03_counts.FIGURES[0], records_root)[0])[3]
    assert all(ax.get_xscale() == ax.get_yscale() == "log" for ax in fig.axes)
    points = vision.containers[0].lines[0]  # the error-bar series of measured R(N)
    np.testing.assert_allclose(points.get_ydata(), comparison.counts)
    np.testing.assert_allclose(fraction.lines[0].get_ydata(), comparison.counts / comparison.sizes)
    labels = vision.get_legend_handles_labels()[1]
    assert any("data-parametric" in label for label in labels)
    assert any(label.startswith("theory alpha = 0.667") for label in labels)
    assert not any(label.startswith("theory") for label in language.get_legend_handles_labels()[1])
    assert "parameters" in vision.get_xlabel()


def test_counts_figure_prefers_sizes_in_parameters_then_the_newest(tmp_path, rng):
    write_comparison(tmp_path, rng, family="toy", size="neurons", alpha=0.5)
    chosen = write_comparison(tmp_path, rng, family="toy", size="params", alpha=0.7)
    found = records_of(fig03_counts.FIGURES[0], tmp_path)[0]
    (picked,) = fig03_counts.latest_per_family(found)
    np.testing.assert_array_equal(picked.counts, chosen.counts)


def test_counts_figure_gives_raw_and_calibrated_counts_a_row_each(tmp_path, rng):
    from bridge.comparison import build_comparison
    from runstore import run_dir

    raw = write_comparison(tmp_path, rng, family="toy", size="params", alpha=0.7)
    config = raw.config | {"calibrated": {"quantile": 0.99}}
    calibrated = build_comparison(config, "toy", raw.sizes, raw.counts / 2, rng=rng,
                                  n_resamples=300)
    calibrated.save(run_dir(tmp_path, "compare", config, "toy") / "calibrated")
    found = records_of(fig03_counts.FIGURES[0], tmp_path)[0]
    picked = fig03_counts.latest_per_family(found)
    assert [fig03_counts.series_label(c) for c in picked] == [
        "toy", "toy above the permutation null's 0.99 quantile"]
    np.testing.assert_array_equal(picked[1].counts, raw.counts / 2)


@pytest.mark.parametrize("figure, planted", [(fig04_nulls.FIGURES[0], UNTRAINED),
                                             (fig04_nulls.FIGURES[1], PERMUTED)])
def test_null_figures_put_the_null_counts_next_to_the_trained_ones(figure, planted,
                                                                    records_root):
    (ax,) = drawn(figure, records_root).axes
    trained, null = ax.lines
    np.testing.assert_allclose(null.get_xdata(), 10.0 * np.array(WIDTHS))
    np.testing.assert_array_equal(null.get_ydata(), planted)
    np.testing.assert_array_equal(trained.get_ydata(), [int(2 * w**0.6) for w in WIDTHS])
    assert ax.get_xscale() == "log" and ax.get_yscale() == "symlog"
    assert ax.get_ylim()[0] < 0 < max(planted), "zero counts must stay inside the axes"


def test_frontier_figure_has_one_row_per_run_ordered_by_beta(tmp_path):
    for beta in (2.0, 1.5):
        write_theory_run(tmp_path, beta=beta, points=3)
    fig = drawn(fig05_frontiers.FIGURES[0], tmp_path)
    assert len(fig.axes) == 4 + 2  # two rows of two panels, and the twin axis of each R/N
    titles = [ax.get_title() for ax in fig.axes[:4:2]]
    assert "1.5" in titles[0] and "2" in titles[1]
    assert all(ax.get_xscale() == "log" for ax in fig.axes)


def test_toy_figure_pairs_each_sweep_with_its_prediction(tmp_path, rng):
    write_toy_sweep(tmp_path, rng, beta=2.0)
    write_toy_sweep(tmp_path, rng, beta=1.5, widths=(8, 16, 32, 64), prediction=False)
    fig = drawn(fig27_toy.FIGURES[0], tmp_path)
    assert len(fig.subfigs) == 1 and "beta=2" in fig.subfigs[0]._suptitle.get_text()
    count = fig.axes[0]
    np.testing.assert_array_equal(count.get_xticks(), [8, 16, 32])
    assert [t.get_text() for t in count.get_xticklabels()] == ["8", "16", "32"]


def test_a_sweep_without_its_prediction_is_skipped_with_the_command(tmp_path, rng):
    write_toy_sweep(tmp_path, rng, prediction=False)
    report = build_figures(fig27_toy.FIGURES, tmp_path, tmp_path / "out")
    assert "no 'theory_run' records under empirics/" in report.skipped["fig27_toy"]
    # a prediction left by another sweep does not belong to this one
    write_theory_run(tmp_path).save(tmp_path / "empirics" / "removed-sweep" / "prediction")
    report = build_figures(fig27_toy.FIGURES, tmp_path, tmp_path / "out")
    assert "no toy sweep with its allocation-model prediction" in report.skipped["fig27_toy"]
    assert f"python -m theory.simulate --beta 1.5 --out {tmp_path}" in report.skipped["fig27_toy"]
    assert not (tmp_path / "out" / "fig27_toy.png").exists()


def test_render_leaves_the_global_style_alone(records_root, tmp_path):
    import matplotlib

    before = dict(matplotlib.rcParams)
    render(fig05_frontiers.FIGURES[0], records_of(fig05_frontiers.FIGURES[0], records_root),
           tmp_path)
    assert dict(matplotlib.rcParams) == before


def test_analysis_figures_draw_cross_architecture_and_seed_pairs_apart(tmp_path):
    """A series of the analysis figures is a family and the two architectures its matches
    name; a match that names none stays under its family."""
    import dataclasses

    from empirics.analysis.pair_records import depth_record
    from paper_figs.analysis import by_family
    from paper_figs.needs import Found
    from runstore import run_dir
    from tests.paper_figs.builders import match_record

    found = []
    for width, architectures in ((16, ["gpt2", "qwen2"]), (32, ["gpt2", "qwen2"]),
                                 (16, ["gpt2", "gpt2"]), (64, None)):
        match = match_record("language", width, 3)
        config = match.config | ({"architectures": architectures} if architectures else {})
        match = dataclasses.replace(match, config=config)
        directory = run_dir(tmp_path, "match", config, f"{width}-{architectures}")
        match.save(directory)
        depth = depth_record(match, config={"match": str(directory)}, n_bins=4)
        found.append(Found(directory / "depth", {}, depth))
    series = by_family(found)
    assert {label: len(records) for label, records in series.items()} == {
        "language": 1, "language (gpt2 x gpt2)": 1, "language (gpt2 x qwen2)": 2}


def test_null_figure_counts_records_of_the_same_networks_once(tmp_path, caplog):
    """A trained pair saved again under other model names is one pair: the mean count at its
    size is over the distinct pairs, and the panel title says one record was left out."""
    from tests.bridge.test_replicates import pair, save

    for w in WIDTHS:
        save(tmp_path, pair(w, 10))
        save(tmp_path, pair(w, 10, names=("copy-a", "copy-b")))
        save(tmp_path, pair(w, 20, seeds=(3, 4)))
        save(tmp_path, pair(w, 2, init="random", null="untrained"))
    with caplog.at_level("WARNING", logger="paper_figs"):
        (ax,) = drawn(fig04_nulls.FIGURES[0], tmp_path).axes
    trained, _ = ax.lines
    np.testing.assert_array_equal(trained.get_ydata(), [15.0] * len(WIDTHS))
    assert f"[{len(WIDTHS)} records of the same networks counted once]" in ax.get_title()
    assert sum("same two networks" in r.message for r in caplog.records) == len(WIDTHS)
