"""The toy study: its design grid, a tiny study end to end (resumable, never passing a cut
study off as whole), its table and figure."""

from __future__ import annotations

import numpy as np
import pytest

from empirics.records.toy import ToyStudy, ToySweep
from empirics.toy.study import StudyDesign, run_study
from empirics.toy.summary import format_study
from theory.toy.config import auto_rent
from theory.toy.plot import plot_toy_study

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = StudyDesign(betas=(2.0,), pools=(64, 128), widths=(8, 16), steps=(60, 120), batch=32,
                   dense_limit=64, output_samples=16, active=3.2, scale_scan_steps=False)


def test_the_design_holds_arms_betas_the_pool_scan_and_two_lengths():
    assert StudyDesign().pools == (512, 1024, 2048)  # the CPU design
    design = StudyDesign(pools=(512, 2048, 4096, 8192))  # the GPU design
    cells = design.cells()
    assert len(cells) == 2 * 3 + 2 * 3 + 2 * 3
    assert cells[:6] == [(a, b, 512, 2000) for a in ("none", "rent") for b in (1.5, 2.0, 3.0)]
    assert cells[6:9] == [("none", 2.0, n, 2000 * n // 512) for n in (2048, 4096, 8192)]
    rent = design.config("rent", 3.0, 8192, 2000)
    assert rent.p * rent.n_features == pytest.approx(design.active)
    assert rent.rent == auto_rent(3.0, rent.p, 16) and rent.sampled
    assert not design.config("none", 2.0, 512, 2000).sampled
    assert design.config("none", 2.0, 512, 2000).rent == 0.0
    with pytest.raises(ValueError, match="arms"):
        StudyDesign(arms=("none", "tax"))
    with pytest.raises(ValueError, match="two increasing"):
        StudyDesign(steps=(4000, 2000))


def test_a_tiny_study_runs_resumes_and_says_when_it_is_partial(tmp_path):
    part, directory = run_study(TINY, out=tmp_path, limit=2)
    assert len(part.rows) == 2 and part.n_cells == 6
    assert "partial study: 2 of 6 cells" in format_study(part)
    saved, _ = run_study(TINY, out=tmp_path, saved_only=True)  # trains nothing
    assert format_study(saved) == format_study(part)
    whole, same = run_study(TINY, out=tmp_path)
    assert same == directory and len(whole.rows) == 6
    # the two cells run before are reused, not retrained
    assert [r["seconds"] for r in whole.rows[:2]] == [r["seconds"] for r in part.rows]
    loaded = ToyStudy.load(directory)
    assert format_study(loaded) == format_study(whole)  # rows hold NaN: compare as printed
    arms = {(r["arm"], r["n_features"], r["steps"]) for r in loaded.rows}
    assert ("rent", 128, 60) in arms and ("none", 64, 120) in arms
    sampled = [r for r in loaded.rows if r["n_features"] == 128]
    assert sampled and all(r["sampled"] for r in sampled)
    assert all(r["converged"] in (None, True, False) for r in loaded.rows)
    table = format_study(loaded)
    assert "partial" not in table and table.count("\n") == 6
    paths = plot_toy_study(loaded.rows, tmp_path / "study")
    assert all(path.stat().st_size > 0 for path in paths)


def test_the_study_and_its_sweeps_are_tidy_tables(tmp_path):
    pytest.importorskip("pandas")
    study, _ = run_study(TINY, out=tmp_path, limit=1)
    table = study.to_frame()
    assert len(table) == 1 and table.loc[0, "arm"] == "none"
    assert table.loc[0, "exponent_internal_low"] <= table.loc[0, "exponent_internal_high"]
    sweep = ToySweep.load(study.rows[0]["sweep"])
    pairs = sweep.to_frame()
    assert len(pairs) == 3 * 2 and pairs["width"].tolist() == [8, 16] * 3
    np.testing.assert_equal(pairs["rosetta_neurons"].to_numpy().reshape(3, 2),
                            sweep.per_pair["rosetta_neurons"])  # NaN (a failed net) too


def test_the_pool_scan_panel_takes_each_pool_at_its_own_scaled_length():
    """A scaled scan trains n = 1024 and 2048 for 4000 and 8000 steps: the panel keeps them
    (it once kept only the shortest length overall, i.e. the first pool alone)."""
    from theory.toy.plot import scan_cells

    rows = [{"arm": arm, "beta": beta, "n_features": n, "steps": steps}
            for arm in ("none", "rent")
            for beta, n, steps in ((2.0, 512, 2000), (2.0, 512, 4000), (2.0, 1024, 4000),
                                   (2.0, 2048, 8000), (3.0, 512, 2000))]
    cells = scan_cells(rows, 2.0)
    assert sorted((r["arm"], r["n_features"], r["steps"]) for r in cells) == [
        (arm, n, steps) for arm in ("none", "rent")
        for n, steps in ((512, 2000), (1024, 4000), (2048, 8000))]
