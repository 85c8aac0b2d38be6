"""The toy family: trained toy superposition nets (theory.toy.model) measured like any other
family, with the same matching engine, on one shared evaluation set.

For every width, every pair of seeds is matched (mutual nearest neighbours under Pearson r on
the hidden activations; dead neurons excluded) and counted two ways (docs/theory.md, section 7):
R_neurons, mutual pairs with r >= rho* (the paper's count), and R_features, the distinct
dominant input features among the Rosetta neurons (the theory's count, since toy nets duplicate
important features). The isolation of Rosetta and non-Rosetta neurons gives the polarization
readout (paper Fig. 27), and two untrained nets of the same seeds give the null.

The exponent of R(N) is the OLS slope of log mean R on log N over widths with a positive
mean, with a percentile bootstrap over seed pairs (pairs resampled within each width). Pairs
that share a seed are not independent, so with few seeds the interval is optimistic; the
bridge's data-level intervals (from the saved MatchRecords) are the stricter check.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

import numpy as np
import torch

from empirics.models.registry import family_specs
from empirics.records.toy import ToySweep
from empirics.toy.capture import (
    EVAL_STREAM,
    describe_inputs,
    evaluation_inputs,
    net_name,
)
from empirics.toy.pairs import (
    FAMILY,
    examples_record,
    match_record,
    measure_nets,
    seed_pairs,
)
from empirics.toy.readouts import (
    MIN_FIT_COUNT,
    excluded_pairs,
    failed_instances,
    pair_bootstrap,
    row_bootstrap,
)
from runstore import reuse_or_build, run_dir
from theory.params import AllocationParams
from theory.slopes import log_log_slopes
from theory.sweep import TheoryRun, build_theory_run
from theory.toy.config import ToyConfig
from theory.toy.internals import feature_errors, feature_profile, fitted_prices
from theory.toy.model import hidden_activations, importances, init_toy_nets, rent_penalty
from theory.toy.training import train_toy_nets

log = logging.getLogger(__name__)

def net_internals(trained, eval_x: torch.Tensor) -> tuple[dict, dict]:
    """What the theory assumes, measured inside every trained net (theory.toy.internals):
    per net (S, W) the dense evaluation loss, the top feature's relative error, the rent,
    failure, the fitted KKT price and its rms, feature 1's dedicated neurons; per net and
    feature rank (S, W, n) the isolation and the dedicated neurons."""
    nets, config = trained.nets, trained.nets.config
    x = eval_x.to(nets.w_in.device)
    hidden = hidden_activations(nets, x)
    errors = feature_errors(nets, x, hidden)
    weight = importances(config, device=errors.device)
    variance = x.square().mean(0).clamp_min(torch.finfo(x.dtype).tiny)
    eval_loss = (errors * weight).sum(-1).cpu().numpy().astype(np.float64)
    top_error = (errors[..., 0] / variance[0]).cpu().numpy().astype(np.float64)
    alive = (hidden > 0).any(dim=1)
    isolation, redundancy = feature_profile(config, nets.w_in, alive)
    price, price_rms = fitted_prices(config, isolation)
    instance = {"eval_loss": eval_loss, "top_error": top_error,
                "rent_penalty": rent_penalty(nets).cpu().numpy().astype(np.float64),
                "failed": failed_instances(eval_loss, top_error), "price": price,
                "price_rms": price_rms, "redundancy_top": redundancy[..., 0]}
    return instance, {"isolation": isolation, "redundancy": redundancy}


def measure_toy_family(config: ToyConfig, *, rho_star: float, device="cpu",
                       progress: bool = False, on_match=None,
                       eval_x: torch.Tensor | None = None) -> ToySweep:
    """Train the sweep, measure each net's internals, match trained pairs, untrained pairs
    (the untrained null) and trained pairs on permuted inputs (the permutation null), and
    bundle a ToySweep. Pairs with a failed net (`failed_instances`) are kept in the saved
    records but left out of the counts and exponents (NaN in `per_pair`).

    `on_match(width, seed_a, seed_b, matches, tops, null)` (optional) receives every match
    with its examples and its null label ("none", "untrained" or "permuted"). `eval_x`
    (default: `evaluation_inputs(config)`) is the shared evaluation set.
    """
    started = time.perf_counter()
    eval_x = evaluation_inputs(config, device=device) if eval_x is None else eval_x
    trained = train_toy_nets(config, device=device, progress=progress)
    instance, profiles = net_internals(trained, eval_x)

    def labelled(null):
        return None if on_match is None else (lambda *match: on_match(*match, null))

    pairs, stats, thresholds = measure_nets(trained.nets, eval_x, rho_star=rho_star,
                                            device=device, on_match=labelled("none"))
    _, null, _ = measure_nets(init_toy_nets(config, device=device), eval_x, rho_star=rho_star,
                              device=device, on_match=labelled("untrained"))
    _, permuted, _ = measure_nets(trained.nets, eval_x, rho_star=rho_star, device=device,
                                  on_match=labelled("permuted"), permuted_seed=EVAL_STREAM)
    stats["null_neurons"] = null["rosetta_neurons"]
    stats["null_max_correlation"] = null["max_correlation"]
    stats["permuted_neurons"] = permuted["rosetta_neurons"]
    stats["permuted_max_correlation"] = permuted["max_correlation"]
    excluded = excluded_pairs(seed_pairs(range(len(config.seeds))), instance["failed"])
    stats = {name: np.where(excluded, np.nan, value) for name, value in stats.items()}
    if excluded.any():
        log.warning("toy nets that failed to train, left out of the counts: %s",
                    failed_nets(config.seeds, config.widths, instance["failed"]))
    widths = np.array(config.widths, dtype=np.float64)
    rng = np.random.default_rng(list(config.seeds))
    prices = np.where(instance["failed"], np.nan, instance["price"])
    exponent_price = row_bootstrap(widths, prices, np.ones(len(widths), dtype=bool), rng=rng)
    return ToySweep(
        config={"toy": config.to_config(), "rho_star": float(rho_star)},
        widths=widths, pairs=pairs, per_pair=stats, threshold_counts=thresholds,
        final_loss=trained.loss[-1].cpu().numpy().astype(np.float64),
        exponent_neurons=pair_bootstrap(widths, stats["rosetta_neurons"], rng=rng),
        exponent_features=pair_bootstrap(widths, stats["rosetta_features"], rng=rng),
        level=0.95, per_instance=instance, profiles=profiles, exponent_price=exponent_price,
        exponent_internal=internal_exponent(exponent_price, config.beta),
        seconds=time.perf_counter() - started,
    )


def failed_nets(seeds, widths, failed) -> str:
    """"seed 1 at N = 256, seed 2 at N = 16": the nets of a (S, W) failure mask."""
    return ", ".join(f"seed {seeds[s]} at N = {widths[w]:g}" for s, w in zip(*np.nonzero(failed)))


def internal_exponent(exponent_price, beta: float) -> list[float]:
    """The count exponent gamma / beta predicted from the fitted prices lambda ~ N^-gamma
    (the slope of log lambda is -gamma; the interval maps with its ends swapped)."""
    estimate, low, high = exponent_price
    return [-estimate / beta, -high / beta, -low / beta]


def run_toy_sweep(config: ToyConfig, *, rho_star: float, out: str | Path, force: bool = False,
                  device="cpu", progress: bool = False) -> tuple[ToySweep, Path]:
    """Measure the toy family into a run directory derived from the whole config (reused
    unless `force`); every pair's MatchRecord goes to matches/N<width>-s<a>-s<b>, those of
    the nulls to matches/<null>-N<width>-s<a>-s<b>."""
    directory = toy_sweep_dir(config, rho_star=rho_star, out=out)
    sweep, _ = reuse_or_build(
        directory, ToySweep, lambda: _measure_into(config, directory, rho_star=rho_star,
                                                   device=device, progress=progress),
        force=force)
    return sweep, directory


def toy_sweep_dir(config: ToyConfig, *, rho_star: float, out: str | Path) -> Path:
    """The run directory of a toy sweep: derived from its whole config."""
    return run_dir(out, "empirics", {"toy": config.to_config(), "rho_star": rho_star},
                   label=f"toy-beta{config.beta:g}-rho{rho_star:g}")


def _measure_into(config: ToyConfig, directory: Path, *, rho_star: float, device,
                  progress: bool) -> ToySweep:
    """The toy family's sweep, each pair's records saved under `directory`/matches."""
    eval_x = evaluation_inputs(config, device=device)
    inputs = describe_inputs(eval_x)

    def save(width, seed_a, seed_b, matches, tops, null):
        record = match_record(matches, config=config, rho_star=rho_star, width=width,
                              seed_a=seed_a, seed_b=seed_b, null=null)
        prefix = "" if null == "none" else f"{null}-"
        target = directory / "matches" / f"{prefix}N{width}-s{seed_a}-s{seed_b}"
        examples_record(tops, width=width, seed_a=seed_a, seed_b=seed_b, inputs=inputs,
                        name=net_name(config, width)).save(target / "examples")
        record.save(target)

    return measure_toy_family(config, rho_star=rho_star, device=device, progress=progress,
                              on_match=save, eval_x=eval_x)


def config_for_specs(specs, *, beta: float, seeds=ToyConfig.seeds) -> ToyConfig:
    """The sweep of registry toy specs (`empirics.models.registry.TOY`; None: all of them):
    their widths, one feature count, the default training settings."""
    specs = family_specs(FAMILY) if specs is None else specs
    if any(spec.loader != FAMILY for spec in specs):
        raise ValueError(f"toy specs are needed, got {[spec.name for spec in specs]}")
    features = {spec.config["n_features"] for spec in specs}
    if len(features) != 1:
        raise ValueError(f"toy specs of one feature count are needed, got "
                         f"{[spec.name for spec in specs]}")
    widths = tuple(sorted({spec.d_mlp for spec in specs}))
    return ToyConfig(n_features=features.pop(), beta=beta, widths=widths, seeds=tuple(seeds))


def measure_and_predict(params: AllocationParams, config: ToyConfig, *, out: str | Path,
                        force: bool = False, device="cpu", progress: bool = False,
                        seed: int = 0) -> tuple[ToySweep, TheoryRun, Path]:
    """Measure the toy family (`run_toy_sweep`) and solve the allocation model `params` at
    its widths with its feature count; the prediction is saved beside the sweep
    (DIR/prediction). The measurement never sees the prediction.

    One beta and one threshold: the nets train at `config.beta`, which must be the model's
    `params.beta` (a mismatch is refused), and a Rosetta pair is one with r >= rho* =
    `params.tau`, the model's isolation threshold.
    """
    check_same_beta(params.beta, config.beta)
    sweep, directory = run_toy_sweep(config, rho_star=params.tau, out=out, force=force,
                                     device=device, progress=progress)
    toy_params = dataclasses.replace(params, n_features=float(config.n_features))
    predicted = build_theory_run(toy_params, np.array(config.widths, dtype=np.float64),
                                 seed=seed)
    predicted.save(directory / "prediction")
    return sweep, predicted, directory


def check_same_beta(model_beta: float, toy_beta: float) -> None:
    """Refuse a prediction at one beta for toy nets trained at another."""
    if model_beta != toy_beta:
        raise ValueError(f"the allocation model's beta ({model_beta:g}) is not the toy nets' "
                         f"beta ({toy_beta:g}): a prediction is only compared with nets trained "
                         "at its own beta")


def check_prediction(sweep: ToySweep, predicted: TheoryRun) -> None:
    """Refuse a prediction that is not the sweep's: another beta, threshold or widths."""
    params, toy = predicted.config["params"], sweep.config["toy"]
    check_same_beta(params["beta"], toy["beta"])
    if params["tau"] != sweep.config["rho_star"]:
        raise ValueError(f"the prediction's tau ({params['tau']:g}) is not the sweep's "
                         f"threshold rho* ({sweep.config['rho_star']:g})")
    if list(predicted.config["widths"]) != [float(w) for w in sweep.widths]:
        raise ValueError(f"the prediction's widths {predicted.config['widths']} are not the "
                         f"sweep's {sweep.widths.tolist()}")


def predicted_slope(widths, counts, min_count: float = MIN_FIT_COUNT) -> float:
    """The allocation model's exponent at the toy's widths, by the rule of every fit here:
    the widths with R >= min_count (NaN if fewer than two)."""
    counts = np.asarray(counts, dtype=np.float64)
    keep = counts >= min_count
    if keep.sum() < 2:
        return float("nan")
    return float(log_log_slopes(np.log(np.asarray(widths, dtype=np.float64)[keep]),
                                np.log(counts[keep])))
