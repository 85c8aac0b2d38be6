"""Resumable matching: a run interrupted between blocks resumes to the same result."""

from pathlib import Path

import numpy as np
import pytest
import torch

from empirics.engine.matching import BYTES_PER_ENTRY, match_neurons
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


def test_a_finished_checkpoint_needs_no_block_pass_only_a_check_of_the_stream(planted,
                                                                              tmp_path):
    a, b, where = planted
    source = make_source(a, b, [1000])
    match_neurons(source, block_rows=20, checkpoint=tmp_path / "s")
    again = match_neurons(source, block_rows=20, checkpoint=tmp_path / "s")
    assert again.passes == 1 and np.array_equal(again.index_b, where)


@pytest.mark.parametrize("groups", [0, 4])
def test_a_finished_checkpoint_is_never_reused_for_another_stream(planted, tmp_path, groups):
    a, b, _ = planted
    match_neurons(make_source(a, b, [1000]), block_rows=20, groups=groups,
                  checkpoint=tmp_path / "s")
    noise = np.random.default_rng(3).standard_normal(b.shape)
    for other in (noise, np.concatenate([b[:1500], noise[1500:]])):  # later batches differ
        with pytest.raises(ValueError, match="differs from the one the checkpoint"):
            match_neurons(make_source(a, other, [1000]), block_rows=20, groups=groups,
                          checkpoint=tmp_path / "s")


def test_a_resume_keeps_the_saved_partition_whatever_the_memory_now(planted, tmp_path):
    a, b, _ = planted
    source = make_source(a, b, [700, 1900])
    crashing, _ = failing_after(source, passes=3)
    with pytest.raises(Interrupted):
        match_neurons(crashing, k=2, memory_bytes=9 * 64 * BYTES_PER_ENTRY,
                      checkpoint=tmp_path / "state")
    resumed = match_neurons(source, k=2, memory_bytes=1e9, checkpoint=tmp_path / "state")
    whole = match_neurons(source, k=2, block_rows=9)
    assert resumed.block_rows == 9
    for field in ("index_a", "index_b", "correlation", "row_r", "col_r"):
        np.testing.assert_array_equal(getattr(resumed, field), getattr(whole, field))


KILLED_RUN = """
import sys, time
import numpy as np
import torch
from empirics.engine.matching import match_neurons

a, b = np.load(sys.argv[1]), np.load(sys.argv[2])

def source():
    for lo in range(0, a.shape[0], 500):
        time.sleep(0.05)
        yield torch.from_numpy(a[lo:lo + 500]), torch.from_numpy(b[lo:lo + 500])

match_neurons(source, k=2, memory_bytes=float(sys.argv[4]), checkpoint=sys.argv[3])
"""


def test_a_match_killed_by_sigkill_resumes_bit_identical_under_another_memory_budget(
        planted, tmp_path):
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    a, b, _ = planted
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    state, memory = tmp_path / "state", 8 * 64 * BYTES_PER_ENTRY  # blocks of 8 rows: 5 blocks
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[3]))
    child = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(tmp_path / "a.npy"),
                              str(tmp_path / "b.npy"), str(state), str(memory)], env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None:
        header = state / "record.json"
        if header.is_file() and json.loads(header.read_text())["fields"]["done_blocks"] >= 2:
            break
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait()
    done = json.loads((state / "record.json").read_text())["fields"]["done_blocks"]
    assert child.returncode == -signal.SIGKILL and 2 <= done < 5

    def source():
        for lo in range(0, a.shape[0], 500):
            yield torch.from_numpy(a[lo:lo + 500]), torch.from_numpy(b[lo:lo + 500])

    resumed = match_neurons(source, k=2, memory_bytes=64 * memory, checkpoint=state)
    whole = match_neurons(source, k=2, memory_bytes=memory)
    assert resumed.block_rows == whole.block_rows == 8
    assert resumed.passes < whole.passes
    for field in ("index_a", "index_b", "correlation", "row_partners", "row_r",
                  "col_partners", "col_r", "dead_a", "dead_b"):
        np.testing.assert_array_equal(getattr(resumed, field), getattr(whole, field))
