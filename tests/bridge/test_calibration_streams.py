"""The calibration rules on planted activation streams run through the engine at N = 64 ...
4096 (docs/selection.md, "Counts calibrated against chance"): chance-only pairs must give
calibrated counts near 0 at every size, and N^0.5 planted shared pairs the exponent 0.5,
whatever number of mutual pairs the null happens to form.

Two regimes of chance structure: "cluster" (each model's neurons are noisy copies of about
N^0.55 latent units, so the permutation null forms 6-90 mutual pairs a seed, ~14x over the
sizes, as real nulls form few) and "iid" (independent heavy-tailed neurons: the null forms
about N / 2 mutual pairs, 64x over the sizes). The earlier rule ("mutual-quantile") keeps
about 1 - q of a null's pairs once the null has more than 1 / (1 - q) of them, so its chance
count grows with the null's count; the default ("best-partner-excess") subtracts them.
"""

import numpy as np
import pytest

from bridge.calibration import calibrate
from bridge.powerlaw import fit_power_law_het
from empirics.engine.matching import match_neurons
from empirics.engine.nulls import permute_tokens
from empirics.records.match import MatchRecord
from tests.empirics.conftest import make_source

pytestmark = pytest.mark.slow  # four sizes to N = 4096, each with three nulls

TOKENS = 1000
SIZES = (64, 256, 1024, 4096)
SEEDS = (0, 1, 2)


def planted_count(size: int) -> int:
    return int(round(size**0.5))


def arrays(size: int, regime: str, planted: bool):
    """Two models' activations (tokens x size); with `planted`, `planted_count` shared pairs
    whose r spreads evenly over 0.3-0.8 (units 0 .. p - 1 of each side)."""
    rng = np.random.default_rng([size, 11])

    def side():
        if regime == "iid":
            return rng.standard_t(4, size=(TOKENS, size))
        latent = max(2, int(round(size**0.55)))
        z = rng.standard_t(4, size=(TOKENS, latent))
        return z[:, rng.integers(0, latent, size)] + 0.15 * rng.standard_normal((TOKENS, size))

    a, b = side(), side()
    if planted:
        p = planted_count(size)
        noise = np.sqrt(1.0 / np.linspace(0.3, 0.8, p) - 1.0)  # r = 1 / (1 + noise^2)
        shared = rng.standard_normal((TOKENS, p))
        a[:, :p] = shared + noise * rng.standard_normal((TOKENS, p))
        b[:, :p] = shared + noise * rng.standard_normal((TOKENS, p))
    return a, b


def records(regime: str, planted: bool) -> list:
    """Each size's pair and its permutation nulls under `SEEDS`, as (path, MatchRecord)."""
    found = []
    for size in SIZES:
        source = make_source(*arrays(size, regime, planted), list(range(50, TOKENS, 50)))
        runs = [("none", 0, source)] + [("permuted", seed, permute_tokens(source, seed=seed))
                                        for seed in SEEDS]
        for null, seed, stream in runs:
            matches = match_neurons(stream, candidates=3, groups=8)
            record = MatchRecord.from_matches(
                matches, config={"size": size, "null": null, "seed": seed}, family="streams",
                model_a=f"a{size}", model_b=f"b{size}", size_a=size, size_b=size,
                layer_sizes_a=[size], layer_sizes_b=[size], null=null)
            found.append((f"{regime}-{planted}-{size}-{null}-{seed}", record))
    return found


def calibrated(found: list, rule: str) -> tuple[np.ndarray, list]:
    points, missing = calibrate(found, rule=rule)
    assert not missing and [p.record.n_neurons_a for _, p in points] == list(SIZES)
    return np.array([p.n_rosetta for _, p in points], dtype=float), [p for _, p in points]


def null_counts(found: list) -> np.ndarray:
    return np.array([np.mean([r.n_rosetta for _, r in found
                              if r.null == "permuted" and r.n_neurons_a == size])
                     for size in SIZES])


def noise_bound(points) -> np.ndarray:
    """Three standard deviations of an excess count that holds no true pair: the pair's own
    chance pairs above the threshold and the mean of the nulls' (Poisson), plus one."""
    chance = np.array([p.chance for p in points])
    return 3.0 * np.sqrt(chance * (1.0 + 1.0 / len(SEEDS)) + 1.0)


@pytest.fixture(scope="module", params=["cluster", "iid"])
def regime(request):
    return request.param, records(request.param, False), records(request.param, True)


def test_chance_only_pairs_count_near_zero_at_every_size(regime):
    name, chance, _ = regime
    counts, points = calibrated(chance, "best-partner-excess")
    nulls = null_counts(chance)
    assert nulls[-1] > 8 * nulls[0]  # the null's own count grows ~10x or more over the sizes
    assert np.all(np.abs(counts) <= noise_bound(points)), (name, counts.tolist())


def test_planted_pairs_give_their_exponent(regime):
    name, _, planted = regime
    counts, points = calibrated(planted, "best-partner-excess")
    fit = fit_power_law_het(np.array(SIZES, dtype=float), counts)
    assert fit.low <= 0.5 <= fit.high, (name, counts.tolist(), fit.alpha)
    truth = np.array([planted_count(s) for s in SIZES])
    assert np.all(np.abs(counts - truth) <= noise_bound(points) + 0.1 * truth)


def test_the_earlier_rule_keeps_chance_pairs_that_grow_with_the_null(regime):
    """Where the null forms far more than 1 / (1 - q) mutual pairs (iid), "mutual-quantile"
    keeps about 1 - q of them: its chance-only count grows with N and the planted count at
    the largest size is inflated by as many; the excess rule is not."""
    name, chance, planted = regime
    if name != "iid":
        pytest.skip("with few null pairs the two rules agree (docs/selection.md)")
    old_chance, _ = calibrated(chance, "mutual-quantile")
    old_planted, _ = calibrated(planted, "mutual-quantile")
    new_planted, points = calibrated(planted, "best-partner-excess")
    truth = planted_count(SIZES[-1])
    assert old_chance[-1] >= 10 > old_chance[0]
    assert old_planted[-1] - truth >= 10
    assert abs(new_planted[-1] - truth) < old_planted[-1] - truth
    assert abs(new_planted[-1] - truth) <= noise_bound(points)[-1]


def report() -> None:
    """Print the counts and exponents of docs/selection.md: each regime and series under
    both rules and two other candidates, the best-partner threshold without subtraction and
    a threshold with one expected null pair a pair (the len(SEEDS)-th largest pooled null
    mutual r). `PYTHONPATH=. python -c "from tests.bridge.test_calibration_streams import
    report; report()"`"""
    sizes = np.array(SIZES, dtype=float)
    for regime in ("cluster", "iid"):
        for planted in (False, True):
            found = records(regime, planted)
            print(f"{regime}, {'planted N^0.5' if planted else 'chance only'}: null mutual "
                  f"pairs {null_counts(found).round(1).tolist()}")
            excess, points = calibrated(found, "best-partner-excess")
            old, old_points = calibrated(found, "mutual-quantile")
            one = [np.sort(np.concatenate([n.pairs["r"] for n in p.nulls]))[-len(SEEDS)]
                   for p in points]
            rows = {"best-partner-excess": (excess, [p.threshold for p in points]),
                    "mutual-quantile": (old, [p.threshold for p in old_points]),
                    "best-partner, no subtraction": (excess + [p.chance for p in points],
                                                     [p.threshold for p in points]),
                    "one null pair a pair": (np.array([np.count_nonzero(p.record.pairs["r"]
                                                                        >= t)
                                                       for p, t in zip(points, one)]), one)}
            for name, (counts, thresholds) in rows.items():
                fit = "no fit (a count <= 0)"
                if np.all(counts > 0):
                    f = fit_power_law_het(sizes, counts)
                    fit = f"alpha {f.alpha:.2f} [{f.low:.2f}, {f.high:.2f}]"
                print(f"  {name:30s} {np.round(counts, 1).tolist()} thresholds "
                      f"{np.round(thresholds, 3).tolist()} {fit}")
