"""Fig. 38: the DINOv3 series beside the other generated families, each on its own fit."""

import numpy as np
import pytest

from bridge.comparison import build_comparison
from paper_figs import fig38_dinov3
from paper_figs.needs import MissingRecords
from runstore import run_dir
from tests.paper_figs.test_labels import checked_drawing

FIGURE = fig38_dinov3.FIGURES[0]
SIZES = 1e6 * 4.0 ** np.arange(5)


def write(root, rng, family, counts, **config):
    comparison = build_comparison({"family": family, "size": "params", **config}, family,
                                  SIZES, counts, rng=rng, n_resamples=300)
    comparison.save(run_dir(root, "compare", comparison.config, family))
    return comparison


def test_dinov3_is_drawn_on_its_own_fit_beside_the_other_towers(tmp_path, rng):
    bent = 5.0 * SIZES**0.5 * np.exp(-0.4 * np.log(SIZES / SIZES[2]) ** 2)  # not a power law
    straight = 2.0 * SIZES**0.6 * rng.lognormal(0, 0.02, SIZES.size)
    dinov3 = write(tmp_path, rng, "generated-dinov3", bent)
    openclip = write(tmp_path, rng, "generated-openclip", straight)
    write(tmp_path, rng, "vision", straight * 3)  # not a generated family: not drawn
    write(tmp_path, rng, "generated-openclip", straight / 2, calibrated={"quantile": 0.99})
    count, residual = checked_drawing(FIGURE, tmp_path).axes
    labels = count.get_legend_handles_labels()[1]
    assert [label.split(":")[0] for label in labels] == ["generated-openclip", "generated-dinov3"]
    p_bent = dinov3.diagnostics["curvature"]["p_value"]
    assert p_bent < 0.01 and f"curvature p {p_bent:.2g}" in labels[1]
    points = [line for line in count.lines if line.get_linestyle() == "None"]
    np.testing.assert_allclose(points[0].get_ydata(), openclip.counts)  # raw, not calibrated
    np.testing.assert_allclose(points[1].get_ydata(), dinov3.counts)
    lines = {line.get_label(): line for line in residual.lines}
    np.testing.assert_allclose(lines["generated-dinov3"].get_ydata(), dinov3.residuals)
    np.testing.assert_allclose(lines["generated-openclip"].get_ydata(), openclip.residuals)
    assert np.abs(dinov3.residuals).max() > 10 * np.abs(openclip.residuals).max()


def test_without_dinov3_or_a_second_family_the_figure_is_skipped(tmp_path, rng):
    write(tmp_path, rng, "generated-openclip", 2.0 * SIZES**0.6)
    with pytest.raises(MissingRecords, match="generated-dinov3"):
        checked_drawing(FIGURE, tmp_path)
    write(tmp_path, rng, "generated-dinov3", 2.0 * SIZES**0.3)
    checked_drawing(FIGURE, tmp_path)
    only = tmp_path / "only"
    write(only, rng, "generated-dinov3", 2.0 * SIZES**0.3)
    with pytest.raises(MissingRecords, match="another generated family"):
        checked_drawing(FIGURE, only)
