"""What each rank runs in the multi-process tests (a light module: spawned processes import
it, and should not pay for transformers or pytest)."""

import dataclasses
from pathlib import Path

import numpy as np

from empirics.engine.distributed import Ranks, shard_source
from empirics.engine.matching import match_neurons
from tests.empirics.conftest import make_source

SPLITS = [300, 700, 1500, 1600, 2400]  # six batches of uneven length
OPTIONS = dict(k=1, candidates=3, groups=4, block_rows=16)


def planted_arrays(seed: int = 11):
    """A (float32, large means) and B holding noisy copies of 30 of A's neurons."""
    rng = np.random.default_rng(seed)
    tokens, n, m = 3000, 40, 56
    a = (rng.standard_normal((tokens, n)) * 2.0 + 300.0).astype(np.float32)
    b = rng.standard_normal((tokens, m)).astype(np.float32)
    where = rng.permutation(m)[:30]
    b[:, where] = (a[:, :30] - 300.0) / 2.0 + 0.5 * rng.standard_normal((tokens, 30))
    return a, b


def _save(out: Path, found) -> None:
    arrays = dict(index_a=found.index_a, index_b=found.index_b, r=found.correlation,
                  row_partners=found.row_partners, row_r=found.row_r,
                  col_partners=found.col_partners, col_r=found.col_r,
                  n_tokens=np.array(found.n_tokens), passes=np.array(found.passes))
    if found.chunks is not None:
        arrays |= {f"chunks_{k}": v for k, v in found.chunks.as_arrays().items()}
    np.savez(out, **arrays)


def match_on_ranks(ranks: Ranks, split: str, out: str, fail_rank: int = -1,
                   checkpoint=None) -> None:
    """One rank: its stream (a shard, or all of it for a neuron split), matched and saved."""
    ranks = dataclasses.replace(ranks, split=split)
    source = shard_source(make_source(*planted_arrays(), SPLITS), ranks)
    calls = []

    def stream():
        calls.append(1)
        if ranks.rank == fail_rank and len(calls) == 4:  # the second block (after 2 probes)
            raise RuntimeError(f"rank {ranks.rank} fails on purpose")
        return source()

    found = match_neurons(stream, checkpoint=checkpoint, ranks=ranks, **OPTIONS)
    _save(Path(out) / f"rank-{ranks.rank}.npz", found)


#: The two-stage engine's options in the multi-process tests: a sample of a third of the
#: stream, screened in tiles of 16 rows x 20 columns.
TWO_STAGE = dict(k=1, candidates=3, groups=4, subsample=1000, block_rows=16, block_cols=20,
                 cover=200)


def two_stage_on_ranks(ranks: Ranks, out: str, recheck: bool) -> None:
    """One rank of a data split: its share of the stream through the two-stage engine."""
    from empirics.engine.two_stage import match_two_stage

    source = shard_source(make_source(*planted_arrays(), SPLITS), ranks)
    found = match_two_stage(source, recheck_uncertified=recheck, ranks=ranks, **TWO_STAGE)
    _save(Path(out) / f"rank-{ranks.rank}.npz", found)
    np.savez(Path(out) / f"certified-{ranks.rank}.npz", a=found.certified_a,
             b=found.certified_b, guarantee=np.array(repr(sorted(found.guarantee.items()))))
