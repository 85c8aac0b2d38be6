"""Nulls that run through the same matching code: permuted inputs (and, in the families
issue, untrained networks)."""

from __future__ import annotations

from typing import Callable, Iterable

import numpy as np
import torch

from empirics.engine.distributed import SINGLE, Ranks
from empirics.engine.matching import Matches, match_neurons
from empirics.engine.moments import Source


def permute_tokens(source: Source, *, seed: int, ranks: Ranks = SINGLE) -> Source:
    """The same stream with B's tokens shuffled inside each batch (seeded, reproducible).

    Notes
    -----
    The permutation is drawn per batch from `seed` and the batch's position, so every pass
    over the stream sees the same shuffled data (matching streams twice). Shuffling inside
    batches never holds more than one batch; it destroys the token alignment as long as a
    batch spans many independent inputs (documents, images): choose batches larger than any
    correlation length of the inputs. A rank of a data split draws by the batch's index in
    the whole stream, so the shuffled data do not depend on the number of ranks.
    """

    def stream():
        for index, (a, b) in enumerate(source()):
            rng = np.random.default_rng([seed, ranks.global_batch(index)])
            order = torch.from_numpy(rng.permutation(b.shape[0])).to(b.device)
            yield a, b[order]

    return stream


def match_under_seeds(make_source: Callable[[int], Source], seeds: Iterable[int],
                      **options) -> dict[int, Matches]:
    """Run `match_neurons(make_source(seed), **options)` for every seed.

    For nulls drawn at random (a permutation, an untrained initialisation) the spread of the
    Rosetta count over seeds is the null's sampling distribution, e.g.
    ``match_under_seeds(lambda s: permute_tokens(source, seed=s), range(5))``.
    """
    return {seed: match_neurons(make_source(seed), **options) for seed in seeds}
