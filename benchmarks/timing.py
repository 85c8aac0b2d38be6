"""The timer every benchmark uses (imported as `timing`: benchmarks run as scripts)."""

from __future__ import annotations

import time


def best_of(repeats: int, fn):
    """The shortest wall time of `repeats` calls of `fn`, and the last call's value."""
    times, value = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return min(times), value
