"""Frozen parameters of the utility-capacity allocation model and its alternatives."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Literal

from theory.benefit import Benefit, KurtosisBenefit, benefit_to_config, make_benefit
from theory.validation import check_real

Closure = Literal["P1", "A", "C", "D", "E"]

#: How each closure prices isolation (docs/theory.md, section 5).
CLOSURES: dict[str, str] = {
    "P1": "neuron rent kappa/N plus the budget multiplier (adopted model)",
    "A": "hard budget sum(s) <= budget*N and no rent (Scherlis)",
    "C": "fixed superposed bulk, loss kappa/(N - S)",
    "D": "constant price kappa plus the budget multiplier",
    "E": "self-consistent importance-weighted interference W/(N - S)",
}


@dataclass(frozen=True)
class AllocationParams:
    """One allocation model: importances w_r = w1 r^-beta competing for N neurons.

    Parameters
    ----------
    beta : float
        Importance exponent, beta > 1.
    tau : float
        Isolation threshold in (0, 1]; s_r >= tau makes feature r Rosetta-detectable.
    kappa : float
        Price scale: the neuron rent in P1 (price kappa/N), the constant price in D, the bulk
        cost in C and the interference scale in E (where it cancels from the optimum).
    w1 : float
        Importance of the top feature. Only kappa / (w1 B'(tau)) is identifiable from R(N).
    benefit : Benefit
        The benefit curve B(s).
    rho : float
        Superposed features per neuron: the represented set is a(N) = min(F, floor(rho N)).
    n_features : float
        Total number of features F (may be inf).
    budget : float
        Hard capacity: sum_r s_r <= budget * N (phi in the notes).
    closure : {"P1", "A", "C", "D", "E"}
        Which price of isolation closes the model (see `CLOSURES`).
    """

    beta: float
    tau: float = 0.5
    kappa: float = 1.0
    w1: float = 1.0
    benefit: Benefit = field(default_factory=KurtosisBenefit)
    rho: float = 4.0
    n_features: float = math.inf
    budget: float = 1.0
    closure: Closure = "P1"

    def __post_init__(self) -> None:
        check_real("beta", self.beta, low=1.0, low_open=True, finite=True)
        check_real("tau", self.tau, low=0.0, high=1.0, low_open=True)
        check_real("kappa", self.kappa, low=0.0, low_open=True, finite=True)
        check_real("w1", self.w1, low=0.0, low_open=True, finite=True)
        check_real("rho", self.rho, low=0.0, low_open=True, finite=True)
        check_real("n_features", self.n_features, low=1.0)
        check_real("budget", self.budget, low=0.0, low_open=True, finite=True)
        if self.closure not in CLOSURES:
            raise ValueError(f"closure must be one of {sorted(CLOSURES)}, got {self.closure!r}")

    def to_config(self) -> dict:
        """A JSON-ready dict (inf features written as None) that `from_config` inverts."""
        config = asdict(self)
        config["benefit"] = benefit_to_config(self.benefit)
        if math.isinf(self.n_features):
            config["n_features"] = None
        return config

    @classmethod
    def from_config(cls, config: dict) -> "AllocationParams":
        config = dict(config)
        benefit = config.pop("benefit")
        if config.get("n_features") is None:
            config["n_features"] = math.inf
        return cls(benefit=make_benefit(benefit["family"], benefit["shape"]), **config)


def check_n_neurons(n_neurons) -> float:
    """Validate a width N >= 1 (any real; the continuum model allows non-integer N)."""
    return check_real("n_neurons", n_neurons, low=1.0)
