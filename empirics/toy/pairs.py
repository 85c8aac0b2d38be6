"""One matched pair of toy nets: the engine run on two nets' hidden activations (every
mutual pair, per-chunk sums, top inputs on the way), the counts and isolation read off at
every width and seed pair, and the records a pair is saved as (MatchRecord, ExamplesRecord).
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

from empirics.analysis.examples import collect_examples
from empirics.engine.entry import EngineOptions, match
from empirics.engine.kernel import Matches
from empirics.engine.nulls import permute_tokens
from empirics.records.examples import ExamplesRecord
from empirics.records.match import MatchRecord
from empirics.records.toy import TOY_FAMILY
from empirics.toy.capture import BATCH_ROWS, activation_source, net_name
from empirics.toy.readouts import above, pair_statistics
from theory.toy.config import ToyConfig
from theory.toy.internals import neuron_isolation
from theory.toy.model import hidden_activations

FAMILY = TOY_FAMILY
#: Thresholds rho* reported besides the headline one (docs/theory.md, section 7).
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)
#: Chunk groups of a pair's per-chunk sums (the data-level bootstrap).
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
    matches = match(source, EngineOptions(k=1, candidates=2, groups=GROUPS), device=device)
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
