"""Resumable matching: a run interrupted between blocks resumes to the same result."""

import numpy as np
import pytest

from empirics.engine.matching import match_neurons
from runstore import RecordError
from tests.empirics.conftest import make_source


class Interrupted(RuntimeError):
    pass


def failing_after(source, passes):
    """The same stream, raising at the start of pass number `passes` (0-based)."""
    calls = {"n": 0}

    def stream():
        calls["n"] += 1
        if calls["n"] > passes:
            raise Interrupted("simulated crash")
        yield from source()

    return stream, calls


def test_an_interrupted_run_resumes_to_the_same_pairs(planted, tmp_path):
    a, b, _ = planted
    source = make_source(a, b, [700, 1900])
    whole = match_neurons(source, k=2, block_rows=9)
    crashing, _ = failing_after(source, passes=3)  # peek + 2 blocks, then the crash
    with pytest.raises(Interrupted):
        match_neurons(crashing, k=2, block_rows=9, checkpoint=tmp_path / "state")
    counted, calls = failing_after(source, passes=100)
    resumed = match_neurons(counted, k=2, block_rows=9, checkpoint=tmp_path / "state")
    assert calls["n"] == 1 + 3  # peek + the 3 remaining blocks of 5
    for field in ("index_a", "index_b", "correlation", "row_partners", "col_partners"):
        np.testing.assert_array_equal(getattr(resumed, field), getattr(whole, field))


def test_a_checkpoint_from_other_settings_or_data_is_refused(planted, tmp_path):
    a, b, _ = planted
    state = tmp_path / "state"
    crashing, _ = failing_after(make_source(a, b, [700]), passes=2)
    with pytest.raises(Interrupted):
        match_neurons(crashing, block_rows=9, checkpoint=state)
    with pytest.raises(RecordError, match="settings"):
        match_neurons(make_source(a, b, [700]), block_rows=10, checkpoint=state)
    other = a.copy()
    other[0, 0] += 1.0
    with pytest.raises(ValueError, match="differs from the one the checkpoint"):
        match_neurons(make_source(other, b, [700]), block_rows=9, checkpoint=state)


def test_a_finished_checkpoint_needs_no_block_pass(planted, tmp_path):
    a, b, where = planted
    source = make_source(a, b, [1000])
    match_neurons(source, block_rows=20, checkpoint=tmp_path / "s")
    again = match_neurons(source, block_rows=20, checkpoint=tmp_path / "s")
    assert again.passes == 0 and np.array_equal(again.index_b, where)
