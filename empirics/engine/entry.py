"""The engine's one entry: `match(source, options)` runs the block engine, the two-stage
engine or the replay of the official code on one activation stream, chosen by
`EngineOptions.mode`.

`EngineOptions` holds what changes the numbers (mode, k, candidates, bootstrap groups,
threshold, precision, the two-stage sample and certificate) and the memory budget;
`match` takes what only says where and how a run proceeds (device, ranks, checkpoint,
the two-stage sample's folder, the models' layer widths, a progress bar). A new engine
mode is one more value of `mode` and one branch here (docs/design.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch

from empirics.engine.distributed import SINGLE, Ranks
from empirics.engine.kernel import Matches
from empirics.engine.matching import match_neurons
from empirics.engine.moments import Source
from empirics.engine.official import OFFICIAL_MIN_CORRELATION, match_official
from empirics.engine.two_stage import DELTA, SUBSAMPLE, match_two_stage

#: The engines `EngineOptions.mode` names: exact block passes, sample then exact pass, and
#: the replay of the official code's arithmetic.
MODES = ("block", "two-stage", "official")


@dataclass(frozen=True)
class EngineOptions:
    """How one stream is matched (see `match`).

    mode : "block" (`match_neurons`), "two-stage" (`match_two_stage`) or "official"
        (`match_official`).
    k, candidates, groups, min_correlation
        Mutual top-k, partners kept per neuron (default k), chunk groups of the data-level
        bootstrap (0: none; the replay keeps none) and the threshold on r (None: none;
        the replay's default is the official 0.0).
    dtype : the block engine's product precision (the two-stage engine's sample precision
        is `sample_dtype`, default by device; the replay's is the official bfloat16).
    memory_bytes, block_rows : the memory budget and rows of A per block (default: from
        the memory free on the device).
    subsample, delta, recheck_uncertified, cover, seed, sample_dtype : the two-stage
        engine's sample size, certificate failure probability, exact search of uncertified
        neurons, cover width and sample seed (`empirics.engine.two_stage`).
    """

    mode: str = "block"
    k: int = 1
    candidates: int | None = None
    groups: int = 0
    min_correlation: float | None = None
    dtype: torch.dtype = torch.float32
    memory_bytes: float | None = None
    block_rows: int | None = None
    subsample: int = SUBSAMPLE
    delta: float = DELTA
    recheck_uncertified: bool = False
    cover: int | None = None
    seed: int = 0
    sample_dtype: torch.dtype | None = None

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"engine mode must be one of {', '.join(MODES)}, "
                             f"got {self.mode!r}")
        if self.mode == "official" and self.groups:
            raise ValueError(f"the official replay keeps no per-chunk sums: groups must be 0, "
                             f"not {self.groups}")


def match(source: Source, options: EngineOptions = EngineOptions(), *,
          device: torch.device | str = "cpu", ranks: Ranks = SINGLE,
          checkpoint: str | Path | None = None, sample_dir: str | Path | None = None,
          layers: tuple[Sequence[int], Sequence[int]] | None = None,
          progress: bool = False) -> Matches:
    """The mutual top-k pairs of `source` (a callable returning a fresh iterator of aligned
    (a, b) batches) by the engine `options.mode` names.

    `ranks`: this process's share when several run one pair (block: by data or neurons;
    two-stage: by data; the replay runs in one process). `checkpoint`: the block engine's
    state folder (resumed when it matches). `sample_dir`: where the two-stage sample is kept
    on disk (None: in memory). `layers`: both models' layer widths (the replay's neighbour
    lists are per layer pair; default one layer each).
    """
    if options.mode == "two-stage":
        return match_two_stage(
            source, k=options.k, candidates=options.candidates, groups=options.groups,
            min_correlation=options.min_correlation, subsample=options.subsample,
            delta=options.delta, recheck_uncertified=options.recheck_uncertified,
            seed=options.seed, block_rows=options.block_rows,
            memory_bytes=options.memory_bytes, device=device,
            sample_dtype=options.sample_dtype, cache_dir=sample_dir, ranks=ranks,
            cover=options.cover)
    if options.mode == "official":
        if ranks.world > 1:
            raise ValueError(f"the official replay runs in one process, not {ranks.world}")
        threshold = options.min_correlation
        layers_a, layers_b = layers or (None, None)
        return match_official(
            source, k=options.k, candidates=options.candidates,
            min_correlation=OFFICIAL_MIN_CORRELATION if threshold is None else threshold,
            layers_a=layers_a, layers_b=layers_b, memory_bytes=options.memory_bytes,
            device=device, progress=progress)
    return match_neurons(
        source, k=options.k, candidates=options.candidates, groups=options.groups,
        min_correlation=options.min_correlation, block_rows=options.block_rows,
        memory_bytes=options.memory_bytes, device=device, dtype=options.dtype,
        checkpoint=checkpoint, progress=progress, ranks=ranks)
