"""What a trained toy net is inside: each neuron's isolation and each feature's error, and the
allocation theory's assumptions measured there (docs/theory.md, section 7): each feature's
isolation against its rank, the KKT profile fitted to it, the price lambda(N) that
profile implies, and redundancy (dedicated neurons per feature).

Feature r's isolation s_r is the isolation of its most dedicated alive neuron, the largest
share max_i W1_ir^2 / |W1_i|^2 over the instance's neurons that fire on the evaluation set
(1 for a neuron that reads r alone; the theory's s_r, the fraction of a neuron given to r).
The KKT profile of the Scherlis benefit with the inputs' own kurtosis, K = E x^4 / (E x^2)^2
= 9 / (5p) for x = b u with b ~ Bernoulli(p), u ~ U[-1, 1], is

    s_r = clip((B_K')^-1(lambda r^beta), 0, 1)      (w_r = r^-beta),

one free number lambda per net, fitted by least squares over the ranks 1 .. min(n, 4N) (the
represented set a(N) = rho N of the solver's default rho = 4). The count exponent the nets'
internals predict is gamma / beta when lambda(N) ~ N^-gamma: a prediction that never uses the
Rosetta counts.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import minimize_scalar

from theory.benefit import KurtosisBenefit
from theory.toy.config import ToyConfig
from theory.toy.model import ToyNets, hidden_activations, width_parts

#: Represented features per neuron of the fitted range (the solver's default rho).
FIT_RHO = 4
#: Isolation above which a neuron counts as dedicated to its top feature (redundancy).
DEDICATED = 0.5


def input_kurtosis(p: float) -> float:
    """E x^4 / (E x^2)^2 of x = b u, b ~ Bernoulli(p), u ~ U[-1, 1]: (p/5) / (p/3)^2."""
    return 9.0 / (5.0 * p)


def feature_profile(config: ToyConfig, w_in: torch.Tensor, alive: torch.Tensor
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Each feature's isolation and redundancy per instance, both (S, W, n).

    `w_in` (S, n, H) are the input weights, `alive` (S, H) the neurons that fire on the
    evaluation set. Isolation: the largest share of an alive neuron's squared input norm on
    the feature (0 where no alive neuron reads it). Redundancy: the alive neurons whose top
    feature it is with isolation >= DEDICATED.
    """
    squared = w_in.double() ** 2
    share = squared / squared.sum(dim=1, keepdim=True).clamp_min(torch.finfo(torch.float64).tiny)
    share = share * alive[:, None, :]
    top, dominant = share.max(dim=1)
    isolation, redundancy = [], []
    for width in config.widths:
        part = config.hidden_slice(width)
        isolation.append(share[:, :, part].max(dim=2).values)
        dedicated = (top[:, part] >= DEDICATED) & alive[:, part]
        counts = torch.zeros(len(w_in), config.n_features, dtype=torch.float64)
        counts.scatter_add_(1, dominant[:, part], dedicated.double())
        redundancy.append(counts)
    return (torch.stack(isolation, 1).cpu().numpy(), torch.stack(redundancy, 1).cpu().numpy())


def kkt_profile(ranks, price: float, *, beta: float, kurtosis: float) -> np.ndarray:
    """s_r = clip((B_K')^-1(price r^beta), 0, 1), the KKT isolation at one price."""
    ranks = np.asarray(ranks, dtype=np.float64)
    return np.clip(KurtosisBenefit(kurtosis).inverse_slope(price * ranks**beta), 0.0, 1.0)


def fit_price(isolation: np.ndarray, *, beta: float, kurtosis: float) -> tuple[float, float]:
    """The price lambda whose KKT profile fits one net's isolation by rank, (n_fit,), in
    least squares, and the fit's rms residual.

    The search runs over log lambda: a grid (the profile moves monotonically with lambda, but
    the squared error of a clipped profile has flat stretches), then a bounded Brent step in
    the best cell. The range covers every profile from all-isolated to none.
    """
    ranks = np.arange(1, len(isolation) + 1, dtype=np.float64)
    slope = KurtosisBenefit(kurtosis).slope
    # lambda r^beta runs from below B'(1) (isolated) to above B'(0) (none) over the ranks
    low = np.log(slope(1.0) / ranks[-1] ** beta) - 2.0
    high = np.log(slope(0.0)) + 2.0

    def error(log_price: float) -> float:
        residual = isolation - kkt_profile(ranks, np.exp(log_price), beta=beta,
                                           kurtosis=kurtosis)
        return float(np.mean(residual**2))

    grid = np.linspace(low, high, 241)
    best = int(np.argmin([error(g) for g in grid]))
    lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    found = minimize_scalar(error, bounds=(lo, hi), method="bounded",
                            options={"xatol": 1e-6})
    log_price = found.x if found.fun <= error(grid[best]) else grid[best]
    return float(np.exp(log_price)), float(np.sqrt(error(log_price)))


def fitted_prices(config: ToyConfig, isolation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`fit_price` for every instance of an (S, W, n) isolation array over its ranks
    1 .. min(n, FIT_RHO N): prices and rms residuals, each (S, W)."""
    kurtosis = input_kurtosis(config.p)
    prices = np.full(isolation.shape[:2], np.nan)
    rms = np.full(isolation.shape[:2], np.nan)
    for s, w in np.ndindex(*isolation.shape[:2]):
        n_fit = min(config.n_features, FIT_RHO * config.widths[w])
        prices[s, w], rms[s, w] = fit_price(isolation[s, w, :n_fit], beta=config.beta,
                                            kurtosis=kurtosis)
    return prices, rms


def kkt_frontier(price: float, level: float, *, beta: float, kurtosis: float) -> float:
    """The rank r_x where the KKT profile at `price` crosses isolation `level`."""
    return float((KurtosisBenefit(kurtosis).slope(level) / price) ** (1.0 / beta))


def neuron_isolation(nets: ToyNets) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each hidden neuron's isolation, dominant feature and its sign, each (S, H).

    Isolation is the share of the neuron's squared input-weight norm on its top feature,
    max_r W1_ir^2 / sum_r W1_ir^2 (docs/theory.md, section 7: every feature has
    the same variance here, so weighting by Var(x_r) cancels). 1/n for a uniform neuron,
    1 for a neuron that reads one feature only.
    """
    squared = nets.w_in**2
    top, dominant = squared.max(dim=1)
    isolation = top / squared.sum(dim=1).clamp_min(torch.finfo(squared.dtype).tiny)
    sign = torch.gather(nets.w_in, 1, dominant[:, None, :]).squeeze(1).sign()
    return isolation, dominant, sign


def feature_errors(nets: ToyNets, x: torch.Tensor, hidden: torch.Tensor | None = None
                   ) -> torch.Tensor:
    """Unweighted mean squared error of every feature, (S, W, n), on shared inputs x (T, n)
    (one width's outputs at a time: a wide pool's (S, T, n) outputs are large). `hidden`:
    the nets' `hidden_activations` on x, when the caller has them already."""
    hidden = hidden_activations(nets, x) if hidden is None else hidden
    parts = width_parts(nets, hidden)
    target = x.abs()
    return torch.stack([((target - torch.relu(torch.baddbmm(bias[:, None, :], h, w))) ** 2)
                        .mean(1) for h, w, bias in parts], dim=1)
