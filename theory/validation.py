"""Argument checks that name the offending parameter (used by configs and CLIs)."""

from __future__ import annotations

import math
import numbers


def check_real(
    name: str,
    value,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    finite: bool = False,
) -> float:
    """Return `value` as a float, or raise naming `name` and the allowed interval.

    Raises
    ------
    TypeError
        If `value` is not a real number (strings and booleans included).
    ValueError
        If `value` is NaN, infinite while `finite`, or lies outside the interval given by
        `low`/`high`.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
    interval = _interval_text(low, high, low_open, high_open)
    if math.isnan(value) or (finite and math.isinf(value)):
        raise ValueError(f"{name} must be a finite number in {interval}, got {value!r}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        raise ValueError(f"{name} must lie in {interval}, got {value!r}")
    return value


def _interval_text(low, high, low_open, high_open) -> str:
    left = "(" if low_open or low is None else "["
    right = ")" if high_open or high is None else "]"
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    return f"{left}{lo}, {hi}{right}"

