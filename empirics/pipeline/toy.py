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
import itertools
import logging
import time
from pathlib import Path

import numpy as np
import torch

from empirics.analysis.examples import collect_examples
from empirics.analysis.toy import (
    MIN_FIT_COUNT,
    above,
    excluded_pairs,
    failed_instances,
    fit_mask,
    pair_bootstrap,
    pair_statistics,
    row_bootstrap,
)
from empirics.capture.toy import (
    BATCH_ROWS,
    EVAL_STREAM,
    activation_source,
    describe_inputs,
    evaluation_inputs,
    net_name,
)
from empirics.engine.matching import Matches, match_neurons
from empirics.engine.nulls import permute_tokens
from empirics.records.examples import ExamplesRecord
from empirics.records.match import MatchRecord
from empirics.records.toy import ToySweep
from runstore import reuse_or_build, run_dir
from theory.params import AllocationParams
from theory.slopes import log_log_slopes
from theory.sweep import TheoryRun, build_theory_run
from theory.toy.config import ToyConfig, arm_label
from theory.toy.internals import feature_profile, fitted_prices
from theory.toy.model import (
    feature_errors,
    hidden_activations,
    importances,
    init_toy_nets,
    neuron_isolation,
    rent_penalty,
)
from theory.toy.plot import plot_isolation_profiles, plot_toy_sweep
from theory.toy.training import train_toy_nets

log = logging.getLogger(__name__)

FAMILY = "toy"
#: Thresholds rho* reported besides the headline one (docs/theory.md, section 7).
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)
GROUPS = 32
#: Top evaluation inputs kept per neuron for the examples record (the neuron browser).
EXAMPLES = 8


def seed_pairs(seeds) -> list[tuple[int, int]]:
    """Every unordered pair of distinct seeds."""
    return list(itertools.combinations(seeds, 2))


def match_pair(h_a: torch.Tensor, h_b: torch.Tensor, *, device="cpu",
               permuted_seed: int | None = None, examples: int = 0
               ) -> tuple[Matches, tuple | None]:
    """Mutual nearest neighbours (every r) between two nets' activations on the same inputs,
    with per-chunk statistics for the bootstrap; `permuted_seed` shuffles B's inputs inside
    each batch (the input-permutation null). With `examples` > 0 each neuron's top inputs
    are gathered on the way (the two `TopExamples`, else None)."""
    source = activation_source(h_a, h_b)
    if permuted_seed is not None:
        source = permute_tokens(source, seed=permuted_seed)
    if examples:
        source, finished = collect_examples(source, h_a.shape[1], h_b.shape[1], examples)
    matches = match_neurons(source, k=1, candidates=2, groups=GROUPS, device=device)
    return matches, (finished() if examples else None)


def examples_record(tops, *, width: int, seed_a: int, seed_b: int, inputs: list[str],
                    name: str) -> ExamplesRecord:
    """The examples record of one toy pair: every neuron's top evaluation inputs.

    Only the inputs some neuron shows are stored, each as a one-line text (`describe_inputs`)
    whose whole line is the sample's span, so the neuron browser lists them like text.
    """
    (values_a, samples_a), (values_b, samples_b) = (top.result() for top in tops)
    used = np.unique(np.concatenate([samples_a.ravel(), samples_b.ravel()]))
    used = used[used >= 0]
    texts = [inputs[i] for i in used]
    position = np.full(len(inputs), -1, dtype=np.int64)
    position[used] = np.arange(len(used))
    lengths = np.array([len(text.encode("utf-8")) for text in texts] + [0], dtype=np.int64)
    return ExamplesRecord(
        config={"width": width, "seeds": [seed_a, seed_b], "k": tops[0].k},
        model_a=f"{name}-seed{seed_a}", model_b=f"{name}-seed{seed_b}", k=tops[0].k,
        layer_sizes_a=[width], layer_sizes_b=[width], values_a=values_a, samples_a=samples_a,
        values_b=values_b, samples_b=samples_b,
        sample_table={"input": position, "start": np.zeros(len(inputs), dtype=np.int64),
                      "end": lengths[position]},
        inputs=[f"eval-{i}" for i in used], texts=texts, images={})


def measure_nets(nets, eval_x, *, rho_star: float, device="cpu", on_match=None,
                 permuted_seed: int | None = None) -> tuple[np.ndarray, dict, np.ndarray]:
    """Match every seed pair at every width; return pairs (P, 2), per-pair statistics
    {name of `pair_statistics`: (P, W)} and threshold counts (len(THRESHOLDS), P, W).

    `on_match(width, seed_a, seed_b, matches, tops)` (optional) receives every pair's
    matches (all mutual pairs, before the threshold) and its top-`EXAMPLES` inputs per neuron,
    e.g. to save the records; `permuted_seed` matches under the input-permutation null.
    """
    config = nets.config
    hidden = hidden_activations(nets, eval_x.to(nets.w_in.device))
    iso, dominant, _ = (t.cpu().numpy() for t in neuron_isolation(nets))
    pairs = seed_pairs(range(len(config.seeds)))
    stats = {}
    thresholds = np.zeros((len(THRESHOLDS), len(pairs), len(config.widths)))
    for (p, (a, b)), (w, width) in itertools.product(enumerate(pairs),
                                                     enumerate(config.widths)):
        part = config.hidden_slice(width)
        matches, tops = match_pair(hidden[a, :, part], hidden[b, :, part], device=device,
                                   permuted_seed=permuted_seed,
                                   examples=EXAMPLES if on_match is not None else 0)
        if on_match is not None:
            on_match(width, config.seeds[a], config.seeds[b], matches, tops)
        thresholds[:, p, w] = [np.sum(matches.correlation >= t) for t in THRESHOLDS]
        row = pair_statistics(above(matches, rho_star), iso[a, part], iso[b, part],
                              dominant[a, part], dominant[b, part])
        for name, value in row.items():
            stats.setdefault(name, np.full(thresholds.shape[1:], np.nan))[p, w] = value
    seeds = np.array([[config.seeds[a], config.seeds[b]] for a, b in pairs], dtype=np.int64)
    return seeds, stats, thresholds


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


def match_record(matches: Matches, *, config: ToyConfig, rho_star: float, width: int,
                 seed_a: int, seed_b: int, null: str = "none") -> MatchRecord:
    """The MatchRecord of one toy pair (Rosetta neurons at rho_star; size = parameters)."""
    size = 2 * config.n_features * width + width + config.n_features
    name = net_name(config, width)
    return MatchRecord.from_matches(
        above(matches, rho_star), family=FAMILY, model_a=f"{name}-seed{seed_a}",
        model_b=f"{name}-seed{seed_b}", size_a=size, size_b=size, layer_sizes_a=[width],
        layer_sizes_b=[width], null=null,
        config={"toy": config.to_config(), "rho_star": float(rho_star), "width": width,
                "seeds": [seed_a, seed_b], "k": 1, "n_tokens": int(matches.n_tokens),
                "null": null, "groups": GROUPS, "batch_rows": BATCH_ROWS},
    )


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
    """The sweep of registry toy specs (`empirics.models.registry.TOY`): their widths, one feature
    count, the default training settings."""
    if any(spec.loader != "toy" for spec in specs):
        raise ValueError(f"toy specs are needed, got {[spec.name for spec in specs]}")
    features = {spec.config["n_features"] for spec in specs}
    if len(features) != 1:
        raise ValueError(f"toy specs of one feature count are needed, got "
                         f"{[spec.name for spec in specs]}")
    widths = tuple(sorted({spec.d_mlp for spec in specs}))
    return ToyConfig(n_features=features.pop(), beta=beta, widths=widths, seeds=tuple(seeds))


def measure_and_predict(params: AllocationParams, config: ToyConfig, *, rho_star: float,
                        out: str | Path, force: bool = False, device="cpu",
                        progress: bool = False, seed: int = 0
                        ) -> tuple[ToySweep, TheoryRun, Path]:
    """Measure the toy family (`run_toy_sweep`) and solve the allocation model `params` at
    its widths with its feature count; the prediction is saved beside the sweep
    (DIR/prediction). The measurement never sees the prediction."""
    sweep, directory = run_toy_sweep(config, rho_star=rho_star, out=out, force=force,
                                     device=device, progress=progress)
    toy_params = dataclasses.replace(params, n_features=float(config.n_features))
    predicted = build_theory_run(toy_params, np.array(config.widths, dtype=np.float64),
                                 seed=seed)
    predicted.save(directory / "prediction")
    return sweep, predicted, directory


TOY_COLUMNS = (
    ("N", "{:>6.0f}"), ("R_neur", "{:>7.2f}"), ("range", "{:>9}"), ("R_feat", "{:>7.2f}"),
    ("R_pred", "{:>7.0f}"), ("s_Ros", "{:>7.3f}"), ("s_non", "{:>7.3f}"), ("null", "{:>6.2f}"),
    ("perm", "{:>6.2f}"), ("lambda", "{:>9.2e}"), ("ded_f1", "{:>6.1f}"), ("loss", "{:>9.2e}"),
    ("failed", "{:>6}"),
)


def predicted_slope(widths, counts, min_count: float = MIN_FIT_COUNT) -> float:
    """The allocation model's exponent at the toy's widths, by the rule of every fit here:
    the widths with R >= min_count (NaN if fewer than two)."""
    counts = np.asarray(counts, dtype=np.float64)
    keep = counts >= min_count
    if keep.sum() < 2:
        return float("nan")
    return float(log_log_slopes(np.log(np.asarray(widths, dtype=np.float64)[keep]),
                                np.log(counts[keep])))


def format_toy_table(sweep, predicted: TheoryRun) -> str:
    """R(N) measured (mean and range over seed pairs) next to R(N) predicted, isolation of
    Rosetta and non-Rosetta neurons, the nulls, the nets' fitted price lambda, feature 1's
    dedicated neurons, the evaluation loss and failed nets; then the exponents: measured,
    predicted by the allocation model and predicted from the nets' internals."""
    counts = sweep.per_pair["rosetta_neurons"]
    instance = sweep.per_instance
    finite = np.isfinite(counts)
    low = np.where(finite, counts, np.inf).min(axis=0)
    high = np.where(finite, counts, -np.inf).max(axis=0)
    columns = [sweep.widths, sweep.mean("rosetta_neurons"),
               [f"{lo:.0f}-{hi:.0f}" if np.isfinite(lo) else "-" for lo, hi in zip(low, high)],
               sweep.mean("rosetta_features"), predicted.sweep["rosetta_count"],
               sweep.mean("isolation_rosetta"), sweep.mean("isolation_nonrosetta"),
               sweep.mean("null_neurons"), sweep.mean("permuted_neurons"),
               _kept_mean(instance["price"], instance["failed"]),
               instance["redundancy_top"].mean(0), instance["eval_loss"].mean(0),
               [f"{int(n)}/{len(instance['failed'])}" for n in instance["failed"].sum(0)]]
    rows = [" ".join(f"{name:>{len(fmt.format(0))}}" for name, fmt in TOY_COLUMNS)]
    for i in range(len(sweep.widths)):
        rows.append(" ".join(fmt.format(col[i]) for (_, fmt), col in zip(TOY_COLUMNS, columns)))
    toy = sweep.config["toy"]
    slope = predicted_slope(sweep.widths, predicted.sweep["rosetta_count"])
    fitted = (f"fitted {slope:.3f} on the widths with R >= {MIN_FIT_COUNT}" if np.isfinite(slope)
              else f"not fitted (fewer than two widths with R >= {MIN_FIT_COUNT}: the "
                   "staircase above)")
    fit_widths = sweep.widths[fit_mask(counts)].astype(int).tolist()
    level = f"{100 * sweep.level:g}%"
    rows += [
        f"toy nets ({arm_label(toy)}, beta = {toy['beta']:g}, n = {toy['n_features']}, "
        f"{toy['steps']} steps): rho* = {sweep.config['rho_star']:g}, {len(sweep.pairs)} seed "
        f"pairs; exponent of R_neurons {_interval(sweep.exponent_neurons)}, of R_features "
        f"{_interval(sweep.exponent_features)} ({level} bootstrap over seed pairs; widths with "
        f"mean R >= {MIN_FIT_COUNT}: {fit_widths})",
        f"from the nets' internals: price lambda ~ N^{_interval(sweep.exponent_price)}, so "
        f"R ~ N^(gamma/beta) = N^{_interval(sweep.exponent_internal)} (KKT profile fitted to "
        f"each net's isolation by rank; 1/beta = {1 / toy['beta']:.3f})",
        f"allocation model P1 at the same widths: {fitted}; derived "
        f"{predicted.derived_exponent:.4f} ({predicted.derived_exponent_expr})",
    ]
    if instance["failed"].any():
        rows.append("failed to train (left out of the counts): "
                    + failed_nets(toy["seeds"], sweep.widths, instance["failed"]))
    return "\n".join(rows)


def _kept_mean(values, failed) -> np.ndarray:
    """Mean over the seeds that trained, (W,) (NaN where every seed failed)."""
    kept = (~failed).sum(axis=0)
    return np.where(kept > 0, np.where(failed, 0.0, values).sum(axis=0) / np.maximum(kept, 1),
                    np.nan)


def _interval(values) -> str:
    estimate, low, high = values
    return f"{estimate:.3f} [{low:.3f}, {high:.3f}]"


def toy_summary(sweep: ToySweep, predicted: TheoryRun, directory: Path, *, plot: bool) -> str:
    """What the toy commands print: the table, and, with `plot`, the paths of the
    Figure-27-style plot drawn into `directory`/rosetta_toy; then the record's directory."""
    lines = [format_toy_table(sweep, predicted)]
    if plot:
        paths = plot_toy_sweep(sweep, predicted, directory / "rosetta_toy")
        paths += plot_isolation_profiles(sweep, directory / "isolation_profiles")
        lines.append("figures: " + ", ".join(str(p) for p in paths))
    lines.append(f"toy record: {directory}")
    return "\n".join(lines)
