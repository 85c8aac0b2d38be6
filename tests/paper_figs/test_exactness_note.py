"""Fig. 3 says when the counts it draws are not certified exact (bridge.compare records which
records' counts are not, in the Comparison's config["not_exact"])."""

import numpy as np

from bridge.comparison import build_comparison
from paper_figs import fig03_counts
from runstore import run_dir
from tests.paper_figs.test_figures import drawn


def test_the_counts_panel_names_records_not_certified_exact(tmp_path, rng):
    n = 100.0 * 4.0 ** np.arange(4)
    for family, not_exact in (("exact", []), ("loose", ["runs/a: r >= 0.3 not certified",
                                                        "runs/b: r >= 0.3 not certified"]),
                              ("older", None)):
        config = {"family": family, "size": "params", "beta": None}
        if not_exact is not None:
            config["not_exact"] = not_exact
        comparison = build_comparison(config, family, n, 2.0 * n**0.6, rng=rng,
                                      n_resamples=300)
        comparison.save(run_dir(tmp_path, "compare", config, family))
    fig = drawn(fig03_counts.FIGURES[0], tmp_path)
    exact, _, loose, _, older, _ = fig.axes
    assert exact.get_title() == "exact" and older.get_title() == "older"
    assert loose.get_title().replace("\n", " ") == \
        "loose (counts of 2 records not certified exact)"
