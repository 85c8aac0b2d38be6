"""The lean block engine: 12 bytes per block entry, blocks sized to the free memory, and
still the float64 brute force's pairs."""

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

import empirics.engine.blocks as blocks
import empirics.engine.kernel as kernel
from empirics.engine.matching import BYTES_PER_ENTRY, match_neurons
from tests.empirics.conftest import brute_mutual, make_source

ROOT = Path(__file__).resolve().parents[3]
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")

#: Peak bytes of a run above the process before it: run in a fresh process, so the
#: resident high-water mark (VmHWM) is the run's own.
PEAK_SCRIPT = textwrap.dedent("""
    import sys
    from pathlib import Path
    import torch
    from empirics.engine.matching import match_neurons

    def status(key):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1]) * 1024

    torch.set_num_threads(1)
    n, m, rows, tokens, batch = (int(x) for x in sys.argv[1:6])
    dtype = getattr(torch, sys.argv[6])
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(tokens, n, generator=generator)
    b = torch.randn(tokens, m, generator=generator)
    def source(a=a, b=b):
        return ((a[lo:lo + batch], b[lo:lo + batch]) for lo in range(0, tokens, batch))
    match_neurons(lambda: source(a[:, :4], b[:, :4]), dtype=dtype)  # loads every kernel
    before = status("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")
    match_neurons(source, block_rows=rows, dtype=dtype)
    print(status("VmHWM") - before)
""")


def peak_bytes(n, m, rows, tokens, batch, dtype="float32") -> float:
    result = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, *map(str, (n, m, rows, tokens, batch)), dtype],
        capture_output=True, text=True, cwd=ROOT, check=True,
        env={"PYTHONPATH": str(ROOT), "MALLOC_MMAP_THRESHOLD_": "65536"})  # frees reach the OS
    return float(result.stdout.split()[-1])


def clear_refs_writable() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


@pytest.mark.skipif(not clear_refs_writable(), reason="needs Linux's /proc/self/clear_refs")
@pytest.mark.parametrize("dtype", [  # the same rule for bfloat16, in the slow run
    "float32", pytest.param("bfloat16", marks=pytest.mark.slow)])
def test_the_peak_grows_by_twelve_bytes_per_block_entry(dtype):
    """The same stream in blocks of 512 and of 1024 rows (x 16384 columns): the peak grows
    by the sums' 12 bytes per added entry, plus 1/64 of that for the sliced fold (it grew by
    20 when a whole-block fold made a float64 copy, or when one block's r outlived the
    next block's sums); the batch buffers are the same in both runs."""
    small, large = (peak_bytes(2048, 16384, rows, 512, 128, dtype) for rows in (512, 1024))
    per_entry = (large - small) / (512 * 16384)
    assert BYTES_PER_ENTRY - 0.5 <= per_entry <= BYTES_PER_ENTRY + 0.5


def test_sliced_folds_and_products_leave_the_float64_pairs(rng, monkeypatch):
    """Slices of one row (every fold and product cut into rows) give the brute force's
    pairs, r within float32 rounding of float64."""
    monkeypatch.setattr(blocks, "SLICE_ENTRIES", 1)
    monkeypatch.setattr(blocks, "SLICES", 10**6)
    a = rng.standard_normal((2000, 24)) + 50.0
    b = 0.6 * a[:, rng.integers(0, 24, 30)] + rng.standard_normal((2000, 30))
    r = np.corrcoef(a, b, rowvar=False)[:24, 24:]
    for dtype in (torch.float32, torch.bfloat16):
        found = match_neurons(make_source(a, b, [700]), k=2, block_rows=9, dtype=dtype,
                              candidates=4)
        assert set(zip(found.index_a.tolist(), found.index_b.tolist())) == brute_mutual(r, 2)
        np.testing.assert_allclose(found.correlation, r[found.index_a, found.index_b],
                                   atol=1e-6, rtol=0)


def test_slices_cover_the_block():
    assert blocks.slice_rows(10_000, 10**6) == 157  # 1/64 of the rows
    assert blocks.slice_rows(100, 1000) == 100  # a small block: one slice
    assert blocks.slice_rows(1, 10) == 1


def test_the_default_block_fits_the_free_memory_less_a_batch(planted, monkeypatch):
    a, b, where = planted  # 40 x 64 neurons, batches of 1000 tokens
    block = 64 * BYTES_PER_ENTRY * 7.5  # room for 7.5 rows
    free = 1000 * (40 + 64) * kernel.BATCH_BYTES + block / kernel.MEMORY_SHARE
    monkeypatch.setattr(kernel, "available_memory", lambda device: free)
    found = match_neurons(make_source(a, b, [1000, 2000]))
    assert found.block_rows == 7 and np.array_equal(found.index_b, where)


def test_host_memory_is_read_from_meminfo():
    line = next(x for x in Path("/proc/meminfo").read_text().splitlines()
                if x.startswith("MemAvailable:"))
    expected = int(line.split()[1]) * 1024
    assert abs(kernel.available_memory("cpu") - expected) < 0.1 * expected


@CUDA
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_cuda_peak_is_twelve_bytes_per_entry(dtype):
    device = torch.device("cuda")
    n, m, rows, tokens, batch = 4096, 32768, 2048, 4096, 512
    generator = torch.Generator(device).manual_seed(0)
    a = torch.randn(tokens, n, device=device, generator=generator)
    b = torch.randn(tokens, m, device=device, generator=generator)

    def source():
        return ((a[lo:lo + batch], b[lo:lo + batch]) for lo in range(0, tokens, batch))

    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    match_neurons(source, block_rows=rows, dtype=dtype, device=device)
    batch_buffers = 16 * batch * (n + m)
    peak = (torch.cuda.max_memory_allocated() - before - batch_buffers) / (rows * m)
    assert peak <= BYTES_PER_ENTRY + 0.5


@CUDA
def test_cuda_engine_equals_the_float64_brute_force(rng):
    a = rng.standard_normal((5000, 48)) + 20.0
    b = 0.6 * a[:, rng.integers(0, 48, 56)] + rng.standard_normal((5000, 56))
    r = np.corrcoef(a, b, rowvar=False)[:48, 48:]
    source = make_source(a.astype(np.float32), b.astype(np.float32), [1200, 3000])
    for dtype in (torch.float32, torch.bfloat16):
        found = match_neurons(source, k=2, block_rows=20, device="cuda", dtype=dtype,
                              candidates=4)
        assert set(zip(found.index_a.tolist(), found.index_b.tolist())) == brute_mutual(r, 2)
        np.testing.assert_allclose(found.correlation, r[found.index_a, found.index_b],
                                   atol=1e-6, rtol=0)
