"""Records for the figure tests, written once per module (no torch)."""

import numpy as np
import pytest

from tests.paper_figs.analysis_builders import write_analyses
from tests.paper_figs.builders import (
    match_record,
    write_comparison,
    write_match,
    write_theory_run,
    write_toy_study,
    write_toy_sweep,
)

#: Widths of the planted MatchRecords (parameters are 10 x width).
WIDTHS = (64, 256, 1024, 4096)
#: Planted counts of the nulls at each width: zero for untrained weights, small for permuted.
UNTRAINED = (0, 2, 0, 1)
PERMUTED = (1, 2, 4, 8)


@pytest.fixture(scope="module")
def records_root(tmp_path_factory):
    """Every kind a figure draws from: one allocation run, one toy sweep with its
    prediction, Comparisons of two families and of two generated families (Fig. 38),
    trained / null MatchRecords of 'vision' and the analysis records of 'vision'
    (tests.paper_figs.analysis_builders)."""
    root = tmp_path_factory.mktemp("runs")
    rng = np.random.default_rng(20261121)
    write_theory_run(root)
    write_toy_sweep(root, rng)
    write_toy_study(root, rng)
    write_comparison(root, rng, family="vision")
    write_comparison(root, rng, family="language", beta=None)
    for width, untrained, permuted in zip(WIDTHS, UNTRAINED, PERMUTED):
        write_match(root, match_record("vision", width, int(2 * width**0.6)))
        write_match(root, match_record("vision", width, untrained, null="untrained"))
        write_match(root, match_record("vision", width, permuted, null="permuted"))
    write_analyses(root, rng)
    for family, alpha in (("generated-dinov3", 0.3), ("generated-openclip", 0.6)):  # Fig. 38
        write_comparison(root, rng, family=family, alpha=alpha, beta=None)
    return root
