"""Figs. 3, 25, 31-32, 33-34 and 38 from the records of generated pairs: three tiny pMF
generators against tiny DINOv3 and DINOv2 towers of three sizes, one pair at a second image
budget, through the commands (match, analyze, compare) and drawn by paper_figs, on CPU."""

import json

import numpy as np
import pytest
import torch
import transformers

from bridge.compare import main as compare
from bridge.comparison import Comparison
from empirics.analyze import main as analyze
from empirics.match import main as match
from empirics.records.analysis import DepthRecord, StabilityRecord, TopKRecord
from empirics.records.match import MatchRecord
from paper_figs import fig03_counts, fig25_topk, fig31_depth, fig33_stability, fig38_dinov3
from paper_figs.figure import build_figures
from runstore import find_records
from tests.empirics.tiny_models import save_dinov3, tiny_pmf
from tests.paper_figs.test_labels import checked_drawing

FLAGS = ["--batch", "4", "--device", "cpu", "--groups", "3", "--candidates", "2",
         "--examples", "0"]
#: (d_model, depth) of the generators; (hidden, layers) of the towers of the same size.
GENERATORS = ((32, 4), (48, 4), (64, 6))
TOWERS = ((32, 2), (48, 2), (64, 3))
IMAGES, BUDGET = 12, 6
FIGURES = [module.FIGURES[0] for module in (fig03_counts, fig25_topk, fig31_depth,
                                            fig33_stability, fig38_dinov3)]


def save_dinov2(directory, hidden: int, layers: int, seed: int):
    """A tiny random DINOv2 (56 px, patch 14: a 4x4 grid) and its processor."""
    torch.manual_seed(seed)
    config = transformers.Dinov2Config(hidden_size=hidden, num_hidden_layers=layers,
                                       num_attention_heads=2, image_size=56, patch_size=14)
    transformers.Dinov2Model(config).save_pretrained(directory)
    transformers.BitImageProcessor(size={"shortest_edge": 64},
                                   crop_size={"height": 56, "width": 56}).save_pretrained(
        directory)
    return directory


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The records root after match (both families at 12 images, the smallest DINOv3 pair
    also at 6), analyze (depth, top-k, stability) and compare (both families, N in
    parameters, at 12 images)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny products are fastest on one thread of the shared CPU
    try:
        yield _build(tmp_path_factory.mktemp("generated-figures"))
    finally:
        torch.set_num_threads(threads)


def _build(root):
    out = root / "runs"
    generators = [tiny_pmf(root, seed=i, d_model=d, depth=depth, name=f"pmf-{i}")[1]
                  for i, (d, depth) in enumerate(GENERATORS)]
    towers = {"generated-dinov3": [save_dinov3(root / f"dinov3-{i}", seed=10 + i, hidden=h,
                                               layers=n) for i, (h, n) in enumerate(TOWERS)],
              "generated-dinov2": [save_dinov2(root / f"dinov2-{i}", h, n, 20 + i)
                                   for i, (h, n) in enumerate(TOWERS)]}
    for family, found in towers.items():
        for generator, tower in zip(generators, found):
            match(["--family", family, "--pair", str(generator), str(tower), "--images",
                   str(IMAGES), "--out", str(out)] + FLAGS)
    match(["--family", "generated-dinov3", "--pair", str(generators[0]),
           str(towers["generated-dinov3"][0]), "--images", str(BUDGET), "--out", str(out)]
          + FLAGS)
    analyze(["--runs", str(out), "--analyses", "depth,topk,stability", "--ks", "1,2"])
    (sha,) = {r.config["inputs_sha256"] for _, r in find_records(out, MatchRecord)
              if r.n_tokens == IMAGES * 16}
    for family in towers:
        compare(["--family", family, "--records", str(out), "--size", "params",
                 "--resamples", "200", "--replicates", "40", "--no-plot",
                 "--select", f"inputs_sha256={json.dumps(sha)}"])
    return out


def matches(runs, family, images=IMAGES):
    """The family's MatchRecords at `images` images, smallest pair first."""
    found = [r for _, r in find_records(runs, MatchRecord, family=family)
             if r.n_tokens == images * 16]
    return sorted(found, key=lambda r: r.pair_size("params"))


def test_every_figure_of_the_generated_pairs_builds_from_their_records(runs, tmp_path):
    report = build_figures(FIGURES, runs, tmp_path)
    assert report.skipped == {} and report.problems == []
    assert sorted(report.built) == sorted(figure.name for figure in FIGURES)


def test_fig3_fits_each_tower_family_on_its_own(runs):
    comparisons = {c.family: c for _, c in find_records(runs, Comparison)
                   if "calibrated" not in c.config}
    assert set(comparisons) == {"generated-dinov2", "generated-dinov3"}
    for family, comparison in comparisons.items():
        found = matches(runs, family)
        assert len(comparison.config["records"]) == 3  # not the other family, not the budget
        assert {MatchRecord.load(path).family for path in comparison.config["records"]} \
            == {family}
        np.testing.assert_array_equal(comparison.counts, [r.n_rosetta for r in found])
        np.testing.assert_allclose(comparison.sizes, [r.pair_size("params") for r in found])
    axes = checked_drawing(fig03_counts.FIGURES[0], runs).axes
    assert len(axes) == 4 and "generated-dinov2" in axes[0].get_title() \
        and "generated-dinov3" in axes[2].get_title()
    points = axes[2].containers[0].lines[0]
    np.testing.assert_allclose(points.get_ydata(), comparisons["generated-dinov3"].counts)


def test_fig25_and_fig31_keep_the_two_budgets_apart(runs):
    axes = checked_drawing(fig25_topk.FIGURES[0], runs).axes
    titles = [ax.get_title().replace("\n", " ") for ax in axes]
    assert any(t.startswith("generated-dinov3") and t.endswith(f"{BUDGET} inputs")
               for t in titles)
    (full,) = [ax for ax, t in zip(axes, titles)
               if t.startswith("generated-dinov3") and t.endswith(f"{IMAGES} inputs")]
    top1 = [line for line in full.lines if line.get_label() == "mutual top-1"][0]
    np.testing.assert_array_equal(top1.get_ydata(), [r.n_rosetta for r in matches(
        runs, "generated-dinov3")])
    for _, record in find_records(runs, TopKRecord):
        assert record.ks.tolist() == [1, 2] and record.counts[1] >= record.counts[0]
    shares = [r for _, r in find_records(runs, DepthRecord)]
    assert len(shares) == 7 and all(np.isclose(r.share_a.sum(), 1) for r in shares)
    depth = checked_drawing(fig31_depth.FIGURES[0], runs).axes
    assert len(depth) == 2 * 3  # two families at 12 images, one at 6: models A and B each


def test_fig34_draws_the_budget_pair_against_its_images(runs):
    (stability,) = [r for _, r in find_records(runs, StabilityRecord)]
    small = [r for r in matches(runs, "generated-dinov3", BUDGET)] + \
        matches(runs, "generated-dinov3")[:1]
    np.testing.assert_array_equal(stability.counts, [r.n_rosetta for r in small])
    assert stability.n_tokens.tolist() == [BUDGET * 16, IMAGES * 16]
    assert 0 <= stability.jaccard[1] <= 1 and np.isnan(stability.jaccard[0])
    count, overlap = checked_drawing(fig33_stability.FIGURES[0], runs).axes
    assert count.get_xlabel() == "images matched on"
    np.testing.assert_array_equal(count.lines[0].get_xdata(), [BUDGET, IMAGES])
    np.testing.assert_array_equal(count.lines[0].get_ydata(), stability.counts)
    assert overlap.get_xlim() == count.get_xlim()


def test_fig38_draws_dinov3_beside_the_other_tower(runs):
    count, residual = checked_drawing(fig38_dinov3.FIGURES[0], runs).axes
    labels = count.get_legend_handles_labels()[1]
    assert [label.split(":")[0] for label in labels] == ["generated-dinov2",
                                                         "generated-dinov3"]
    (dinov3,) = [c for _, c in find_records(runs, Comparison, family="generated-dinov3")]
    lines = {line.get_label(): line for line in residual.lines}
    np.testing.assert_allclose(lines["generated-dinov3"].get_ydata(), dinov3.residuals)
