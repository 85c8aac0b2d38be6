"""Small records written in the tests, one builder per kind a figure draws from (no torch)."""

from __future__ import annotations

import dataclasses

import numpy as np

from bridge.agreement import Prediction
from bridge.comparison import build_comparison
from empirics.records.match import MatchRecord
from empirics.records.toy import PAIR_FIELDS, ToyStudy, ToySweep
from runstore import run_dir
from theory.params import AllocationParams
from theory.sweep import build_theory_run, width_grid


def write_theory_run(root, *, beta: float = 1.5, points: int = 4):
    """The allocation model at `points` widths from 16 to 4096, saved under root/theory/."""
    params = AllocationParams(beta=beta)
    run = build_theory_run(params, width_grid(16, 4096, points), seed=0)
    run.save(run_dir(root, "theory", run.config, f"beta{beta:g}"))
    return run


def write_toy_sweep(root, rng, *, beta: float = 1.5, widths=(8, 16, 32), n_pairs: int = 3,
                    prediction: bool = True):
    """A toy sweep with R(N) ~ N^0.6 planted, and its prediction in <run>/prediction."""
    widths = np.array(widths, dtype=np.float64)
    shape = (n_pairs, len(widths))
    counts = np.round(widths**0.6 * rng.uniform(0.8, 1.2, size=shape))
    per_pair = {name: rng.uniform(0.2, 0.6, size=shape) for name in PAIR_FIELDS}
    per_pair |= {"rosetta_neurons": counts, "rosetta_features": np.ceil(counts / 2),
                 "null_neurons": np.zeros(shape)}
    toy = {"beta": beta, "n_features": 64, "p": 0.05, "steps": 10}
    sweep = ToySweep(config={"toy": toy, "rho_star": 0.5}, widths=widths,
                     pairs=np.array([[0, i + 1] for i in range(n_pairs)]), per_pair=per_pair,
                     threshold_counts=np.zeros((5, *shape)), final_loss=np.ones((3, len(widths))),
                     exponent_neurons=[0.6, 0.5, 0.7], exponent_features=[0.5, 0.4, 0.6],
                     level=0.95)
    directory = run_dir(root, "empirics", sweep.config, f"toy-beta{beta:g}")
    sweep.save(directory)
    if prediction:
        params = dataclasses.replace(AllocationParams(beta=beta), n_features=64.0)
        build_theory_run(params, widths, seed=0).save(directory / "prediction")
    return sweep


def write_toy_study(root, rng):
    """A toy study of both arms at three betas and a two-pool scan (planted exponents)."""
    rows = []
    for arm, beta, pool, steps in [(a, b, 512, s) for a in ("none", "rent")
                                   for b in (1.5, 2.0, 3.0) for s in (100, 200)] + [
            (a, 2.0, 1024, 100) for a in ("none", "rent")]:
        slope = 1.0 / beta if arm == "rent" else 0.8
        interval = [slope, slope - 0.05, slope + 0.05]
        rows.append({"arm": arm, "beta": beta, "n_features": pool, "p": 10.0 / pool,
                     "steps": steps, "rent": 0.01 if arm == "rent" else 0.0,
                     "sampled": pool > 512, "inverse_beta": 1.0 / beta,
                     "exponent_neurons": interval, "exponent_features": interval,
                     "exponent_internal": [float(rng.uniform(0.4, 0.9)), 0.3, 1.0],
                     "exponent_price": [-1.0, -1.2, -0.8], "failed": 0, "nets": 15,
                     "seconds": 1.0, "converged": True, "sweep": "runs/empirics/x"})
    design = {"pools": [512, 1024], "scan_beta": 2.0}
    study = ToyStudy(config={"study": design}, rows=rows, n_cells=len(rows))
    study.save(run_dir(root, "empirics", study.config, "toy-study"))
    return study


def match_record(family: str, width: int, count: int, *, null: str = "none",
                 seed: int = 0) -> MatchRecord:
    """A pair of two models of `width` neurons and 10 * width parameters with `count`
    Rosetta pairs (units 0 .. count - 1 matched to themselves)."""
    units = np.arange(count, dtype=np.int64)
    return MatchRecord(
        config={"family": family, "width": width, "null": null, "seed": seed}, family=family,
        model_a=f"{family}-a{width}", model_b=f"{family}-b{width}", size_a=10.0 * width,
        size_b=10.0 * width, null=null, k=1, min_correlation=None, n_tokens=100,
        n_neurons_a=width, n_neurons_b=width, n_rosetta=count, dead_a=0, dead_b=0,
        layer_sizes_a=[width], layer_sizes_b=[width],
        pairs={"layer_a": 0 * units, "unit_a": units, "layer_b": 0 * units, "unit_b": units,
               "r": np.full(count, 0.9)},
        rosetta_per_layer_a=np.array([count]), rosetta_per_layer_b=np.array([count]),
        rechecked=False, max_recheck_change=None, changed_pairs=0, chunks={})


def write_match(root, record: MatchRecord) -> None:
    record.save(run_dir(root, "match", record.config, record.model_a))


def write_comparison(root, rng, *, family: str, size: str = "params", alpha: float = 0.6,
                     beta: float | None = 1.5):
    """A Comparison of R = 2 N^alpha at five sizes with 5% count errors (data-level bars
    from parametric resampling) and, with `beta`, the prediction 1/beta."""
    n = 100.0 * 4.0 ** np.arange(5)
    count = 2.0 * n**alpha * rng.lognormal(0.0, 0.05, size=n.size)
    comparison = build_comparison(
        {"family": family, "size": size, "beta": beta}, family, n, count, rng=rng,
        n_resamples=300, count_se=0.05 * count,
        prediction=None if beta is None else Prediction(1.0 / beta))
    comparison.save(run_dir(root, "compare", comparison.config, family))
    return comparison
