"""Benefit curves B(s): the utility of giving a feature isolation s in [0, 1].

Both families are C^1, increasing and strictly concave with B(0) = 0, B(1) = 1 and
0 < B'(1) < B'(0) < inf (docs/theory.md, section 1). The allocation solver needs B, B',
B'' and the inverse of B'; `theory.symbolic` derives the same expressions with sympy and the
tests hold the two equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Union

import numpy as np

from theory.validation import check_real


@dataclass(frozen=True)
class KurtosisBenefit:
    """Scherlis-type benefit B_K(s) = (K - 1) s / (2 + (K - 3) s).

    Parameters
    ----------
    kurtosis : float
        Input kurtosis K > 3. It is 1 - l(s)/l(0) for Scherlis et al.'s quadratic-model loss
        l(C) = 2(K-1)v^2(1-C)/(2+(K-3)C); K <= 3 gives convex returns and no partial isolation.
    """

    kurtosis: float = 10.0
    family: Literal["kurtosis"] = "kurtosis"

    def __post_init__(self) -> None:
        check_real("kurtosis", self.kurtosis, low=3.0, low_open=True)

    @property
    def shape(self) -> float:
        return self.kurtosis

    def value(self, s):
        k = self.kurtosis
        return (k - 1.0) * s / (2.0 + (k - 3.0) * s)

    def slope(self, s):
        k = self.kurtosis
        return 2.0 * (k - 1.0) / (2.0 + (k - 3.0) * s) ** 2

    def curvature(self, s):
        k = self.kurtosis
        return -4.0 * (k - 1.0) * (k - 3.0) / (2.0 + (k - 3.0) * s) ** 3

    def inverse_slope(self, y):
        """Unclipped s with B'(s) = y (y > 0); values outside [0, 1] mean a bound is active."""
        k = self.kurtosis
        return (np.sqrt(2.0 * (k - 1.0) / y) - 2.0) / (k - 3.0)


@dataclass(frozen=True)
class QuadraticBenefit:
    """Quadratic benefit B_eta(s) = (s - eta s^2 / 2) / (1 - eta / 2), 0 < eta < 1."""

    eta: float = 0.8
    family: Literal["quadratic"] = "quadratic"

    def __post_init__(self) -> None:
        check_real("eta", self.eta, low=0.0, high=1.0, low_open=True, high_open=True)

    @property
    def shape(self) -> float:
        return self.eta

    def value(self, s):
        return (s - 0.5 * self.eta * s**2) / (1.0 - 0.5 * self.eta)

    def slope(self, s):
        return (1.0 - self.eta * s) / (1.0 - 0.5 * self.eta)

    def curvature(self, s):
        return -self.eta / (1.0 - 0.5 * self.eta) + 0.0 * s

    def inverse_slope(self, y):
        return (1.0 - y * (1.0 - 0.5 * self.eta)) / self.eta


Benefit = Union[KurtosisBenefit, QuadraticBenefit]
BENEFIT_FAMILIES = {"kurtosis": KurtosisBenefit, "quadratic": QuadraticBenefit}


def make_benefit(family: str, shape: float | None = None) -> Benefit:
    """Build a benefit curve from its family name and its one shape parameter (K or eta)."""
    if family not in BENEFIT_FAMILIES:
        families = sorted(BENEFIT_FAMILIES)
        raise ValueError(f"benefit family must be one of {families}, got {family!r}")
    cls = BENEFIT_FAMILIES[family]
    return cls() if shape is None else cls(shape)


def benefit_to_config(benefit: Benefit) -> dict:
    return {"family": benefit.family, "shape": float(benefit.shape)}
