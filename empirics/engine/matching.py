"""Mutual nearest neighbours and mutual top-k under Pearson correlation, block by block.

Rows are A's neurons, columns B's. For each block of rows one pass over the stream gives the
correlation block (rows x m), reduced at once to every row's best partners and merged into
every column's running best partners; only O((n + m) k) candidates survive. A pair (i, j) is
mutual top-k when j is among row i's best k and i among column j's best k; k = 1 gives mutual
nearest neighbours. The survivors form a candidate graph on which the mutual pairs are read
off (`empirics.records.chunks.mutual_on_graph`), after an optional candidate pass that re-checks
every edge in float32 and keeps per-chunk sums for the data-level bootstrap.

Ties are broken deterministically: among equal correlations the lower index wins (stable
sorts; row blocks are visited in increasing order; exact copies of a neuron, whose r differ
by the rounding of different blocks, are tied on the graph by `empirics.engine.copies`).
Dead (zero-variance) neurons are excluded from matching and counted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from empirics.engine.blocks import (
    BYTES_PER_ENTRY,
    REDUCED,
    SHIFT_LIMIT,
    block_correlation,
    block_pass,
    shift_excess,
    stream_digest,
)
from empirics.engine.candidates import candidate_pass
from empirics.engine.checkpoint import MatchState, load_state
from empirics.engine.copies import lowest_copies, tie_copies
from empirics.engine.distributed import SINGLE, Ranks
from empirics.engine.kernel import (
    Matches,
    block_budget,
    block_size_for,
    candidate_graph,
    check_options,
    stream_shape,
)
from empirics.engine.moments import Source
from empirics.engine.reduced import redo_unproven
from empirics.engine.topk import TopK, sorted_topk
from empirics.records.chunks import mutual_on_graph
from runstore import RecordError
from runstore.progress import progress_bar

def match_neurons(
    source: Source,
    *,
    k: int = 1,
    candidates: int | None = None,
    groups: int = 0,
    min_correlation: float | None = None,
    block_rows: int | None = None,
    memory_bytes: float | None = None,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    recheck: bool | None = None,
    checkpoint: str | Path | None = None,
    progress: bool = False,
    ranks: Ranks = SINGLE,
) -> Matches:
    """Stream the activations block by block and match neurons (see the module notes).

    Parameters
    ----------
    source : callable
        Returns a fresh iterator of aligned (a, b) batches, shapes (tokens, n) and (tokens, m).
    k : int
        Mutual top-k (k = 1: mutual nearest neighbours).
    candidates : int, optional
        Best partners each neuron keeps (>= k; default k). A few more than k make the
        bootstrap and the re-check of reduced-precision runs exact in practice.
    groups : int
        Chunk groups for the data-level bootstrap (0: none). Batch i joins group i mod G.
    min_correlation : float, optional
        Keep only pairs with r >= this value.
    block_rows, memory_bytes
        Rows of A per pass; by default as many as fit in `memory_bytes` at
        `BYTES_PER_ENTRY` per entry (default: `block_budget`, from the memory free on
        `device` when the call starts).
    device, dtype
        Where and in which precision the products run (float64, float32, float16, bfloat16).
    recheck : bool, optional
        Run the candidate pass to recompute every candidate's r in float32 (default: only
        for float16/bfloat16 products, or when `groups` > 0).
    checkpoint : path, optional
        Directory for the accumulation state, saved after every block; a later call with the
        same stream and settings resumes from it.
    ranks : empirics.engine.distributed.Ranks
        This process's rank when several share the work (`source` then yields this rank's
        shard for a data split, everything for a neuron split); default: one process.
    """
    keep = check_options(k, candidates, groups)
    n, m, tokens = stream_shape(source)
    memory = (memory_bytes if memory_bytes is not None
              else block_budget(device, tokens * (n + m)))
    rows = ranks.agree_min(block_rows or block_size_for(m, memory, BYTES_PER_ENTRY))
    if ranks.shards_neurons:
        rows = _neuron_share(n, rows, ranks.world)
    settings = {"n": n, "m": m, "keep": keep, "dtype": str(dtype)}
    if ranks.shards_neurons:
        settings |= {"rank": ranks.rank, "world": ranks.world}
    directory = ranks.state_dir(checkpoint)
    state = load_state(directory, settings) if directory else None
    if state is None:
        state = MatchState.fresh(settings | {"block_rows": rows})
    elif block_rows is not None and block_rows != state.block_rows:
        raise RecordError(f"the checkpoint in {directory} holds blocks of {state.block_rows} "
                          f"rows, not the block_rows={block_rows} asked for (settings "
                          "differ); omit block_rows to resume with the saved partition")
    state, passes = _stream_blocks(source, state, directory, device=device, dtype=dtype,
                                   progress=progress, ranks=ranks)
    return _finish(source, state, passes, k=k, groups=groups, min_correlation=min_correlation,
                   recheck=dtype in REDUCED if recheck is None else recheck, device=device,
                   ranks=ranks, reduced=dtype if dtype in REDUCED else None)


def _neuron_share(n: int, block_rows: int, world: int) -> int:
    """Block rows small enough that every rank of a neuron split gets a block."""
    if n < world:
        raise ValueError(f"model A has {n} neurons, too few to share over {world} ranks")
    return min(block_rows, n // world)  # then there are at least `world` blocks


def _stream_blocks(source, state: MatchState, checkpoint, *, device, dtype, progress, ranks):
    n, block_rows = state.settings["n"], state.block_rows
    starts = [range(0, n, block_rows)[b] for b in ranks.block_share(-(-n // block_rows))]
    passes = 0
    if state.resumed and state.done_blocks >= len(starts):  # finished: verify the stream
        state.check_fingerprint(stream_digest(source, ranks))
        passes += 1
    for start in progress_bar(starts[state.done_blocks:], desc="correlation blocks",
                      show=progress, initial=state.done_blocks, total=len(starts)):
        rows = slice(start, min(start + block_rows, n))
        sums, moments, used = _block(source, state, rows, device=device, dtype=dtype,
                                     ranks=ranks)
        passes += used
        r = block_correlation(sums, *moments, rows)
        r.masked_fill_(moments[1].dead.to(r.device)[None, :], -torch.inf)
        r.masked_fill_(moments[0].dead[rows].to(r.device)[:, None], -torch.inf)
        state = state.advance(moments, sums.fingerprint, *_reduce(r, rows.start, state.keep))
        del sums, r  # before the next block's sums are allocated
        if checkpoint:
            ranks.save_state(state, checkpoint)
    return state, passes


def _block(source, state: MatchState, rows, *, device, dtype, ranks):
    """One block's pass; the first also learns the moments (and is redone once if the first
    batch's offsets were too far from the means, see empirics.engine.blocks)."""
    moments = state.moments()
    if moments is not None:
        sums = block_pass(source, rows, moments, check=state.resumed, device=device,
                          dtype=dtype, ranks=ranks)
        state.check_fingerprint(sums.fingerprint)
        return sums, moments, 1
    # The first pass learns the moments in full precision: reduced-precision products are
    # scaled by the stream's standard deviations, which a first batch can misjudge badly.
    first = torch.float32 if dtype in REDUCED else dtype
    sums = block_pass(source, rows, with_moments=True, check=True, device=device, dtype=first,
                      ranks=ranks)
    moments = (sums.moments_a, sums.moments_b)
    excess = max(shift_excess(sums.moments_a, sums.frame_a),
                 shift_excess(sums.moments_b, sums.frame_b))
    if excess <= SHIFT_LIMIT:
        return sums, moments, 1
    sums = block_pass(source, rows, moments, with_moments=True, device=device, dtype=dtype,
                      ranks=ranks)
    return sums, (sums.moments_a, sums.moments_b), 2


def _reduce(r: torch.Tensor, start: int, keep: int) -> tuple[TopK, TopK]:
    """The block's best partners per row (rows, keep) and per column (m, keep; rows as
    global indices)."""
    values, indices = sorted_topk(r, keep, dim=1)
    col_values, col_rows = sorted_topk(r, keep, dim=0)
    return (TopK(values.cpu(), indices.cpu()),
            TopK(col_values.T.cpu(), (col_rows + start).T.cpu()))


def _finish(source, state: MatchState, passes, *, k, groups, min_correlation, recheck,
            device, ranks, reduced=None) -> Matches:
    """Mutual pairs on the candidate graph; with `recheck` (always for `reduced` products)
    the graph's r from the candidate pass, and for reduced products the float32 lines of
    every neuron the error bound leaves unproven (`empirics.engine.reduced`)."""
    rows, cols = ranks.gather_partners(state.rows(), state.cols(), state.keep)
    moments_a, moments_b = state.moments()
    best = (rows.values[:, 0].numpy(), cols.values[:, 0].numpy())
    *lowest, used = lowest_copies(source, (moments_a, moments_b), best, ranks=ranks)
    passes += used
    edge_a, edge_b, r_block = tie_copies(*candidate_graph(rows, cols), *lowest)
    mutual = mutual_on_graph(edge_a, edge_b, r_block, k)[0]
    chunks, r, changed, change = None, r_block, 0, None
    if recheck or groups or reduced:
        def exact_r(edge_a, edge_b):
            nonlocal chunks, passes
            chunks = candidate_pass(source, moments_a, moments_b, edge_a, edge_b,
                                    groups=max(groups, 1), device=device, ranks=ranks)
            passes += 1
            return tie_copies(edge_a, edge_b, chunks.correlations()[0], *lowest)[2]

        r = exact_r(edge_a, edge_b)
        if reduced is not None:
            redone = redo_unproven(source, (moments_a, moments_b), rows, cols,
                                   (edge_a, edge_b, r), k=k, dtype=reduced,
                                   block_rows=state.block_rows, device=device, ranks=ranks)
            if redone:
                passes += redone
                edge_a, edge_b, r_block = tie_copies(*candidate_graph(rows, cols), *lowest)
                mutual = mutual_on_graph(edge_a, edge_b, r_block, k)[0]
                r = exact_r(edge_a, edge_b)
        rechecked = mutual_on_graph(edge_a, edge_b, r, k)[0]
        changed, mutual = int((rechecked != mutual).sum()), rechecked
        change = float(np.abs(r - r_block).max(initial=0.0))
    if min_correlation is not None:
        mutual &= r >= min_correlation
    order = np.lexsort((edge_b[mutual], edge_a[mutual]))
    return Matches(
        index_a=edge_a[mutual][order], index_b=edge_b[mutual][order],
        correlation=r[mutual][order], k=k, min_correlation=min_correlation,
        n_tokens=moments_a.count,
        row_partners=rows.indices.numpy(), row_r=rows.values.numpy(),
        col_partners=cols.indices.numpy(), col_r=cols.values.numpy(),
        dead_a=moments_a.dead.cpu().numpy(), dead_b=moments_b.dead.cpu().numpy(),
        rechecked=chunks is not None,
        max_recheck_change=change,
        changed_pairs=changed, chunks=chunks if groups else None,
        block_rows=state.block_rows, passes=passes,
    )


