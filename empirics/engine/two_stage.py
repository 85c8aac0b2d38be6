"""Mutual top-k in about two passes over the stream: screen on a sample, then exact sums.

When the stream is produced by models every pass re-runs both of them, so the block engine's
one pass per block of A's rows costs far more in forward passes than in products. Here:

1. **Sample pass** (`empirics.engine.subsample`): the stream's exact moments and ranges and a
   uniform sample of s tokens; the sample is screened by blocked products
   (`empirics.engine.screening`) without touching the stream again: every neuron's best c
   partners in both directions (the candidate graph) and the largest upper bound on the
   exact r of its other partners.
2. **Exact pass** (`empirics.engine.candidates.candidate_pass`): per-group sums over the
   graph's edges only, hence exact r on every edge and the data-level bootstrap's chunks.

Between the two, the *cover* (`choose_cover`): whole lines (every pair of a few neurons,
those with the largest bounds, or every pair of one side when they fit the memory) join the
graph, so the exact pass sums them too and their pairs need no bound; the screen's bounds
are then taken over the remaining pairs (docs/matching.md, "Cover").

Mutual top-k is read off the graph with the exact r. A neuron is *certified* when its k-th
best exact r on the graph exceeds the bound on every partner off the graph: its exact top k
then lie on the graph (with probability >= 1 - delta over the sample's draws, for all
neurons together; a covered neuron without any). Uncertified neurons are counted, and with
`recheck_uncertified` their exact rows come from block passes over those neurons only
(docs/matching.md). The count of pairs with r >= `guarantee["certified_down_to"]` is exact
whatever the neurons' certificates (`certified_floor`; docs/matching.md, "Certified count").
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from empirics.engine.blocks import block_correlation, block_pass
from empirics.engine.candidates import candidate_pass
from empirics.engine.distributed import SINGLE, Ranks
from empirics.engine.kernel import (
    Matches,
    available_memory,
    block_size_for,
    candidate_graph,
    check_options,
    widths,
)
from empirics.engine.moments import Moments
from empirics.engine.screening import screen, screen_tiles
from empirics.engine.subsample import sample_pass
from empirics.engine.topk import TopK, sorted_topk
from empirics.records.chunks import ChunkStats, mutual_on_graph

#: Default sample: 2^17 tokens (docs/matching.md, "Two-stage mode": the size rule).
SUBSAMPLE = 2**17
#: Default probability that the certificate's bound fails for some pair.
DELTA = 1e-3
#: Margin for the exact r's own rounding (|dr| < 1e-6 against float64, docs/matching.md).
EXACT_MARGIN = 1e-6
SAMPLE_DTYPES = (torch.float32, torch.bfloat16, torch.float16)


def match_two_stage(
    source,
    *,
    k: int = 1,
    candidates: int | None = None,
    groups: int = 0,
    min_correlation: float | None = None,
    subsample: int = SUBSAMPLE,
    delta: float = DELTA,
    recheck_uncertified: bool = False,
    seed: int = 0,
    block_rows: int | None = None,
    memory_bytes: float | None = None,
    device: torch.device | str = "cpu",
    sample_dtype: torch.dtype | None = None,
    cache_dir=None,
    block_cols: int | None = None,
    ranks: Ranks = SINGLE,
    cover: int | None = None,
) -> Matches:
    """Match neurons from a token sample and one exact pass (see the module notes).

    Parameters
    ----------
    source : callable
        Returns a fresh iterator of aligned (a, b) batches, as for `match_neurons`.
    k, candidates, groups, min_correlation
        As for `match_neurons`; `candidates` (c, default k) is also the screen's width.
    subsample : int
        Tokens of the sample s (all tokens when the stream is shorter).
    delta : float
        Probability, over the sample's draws, that the certificate claims a neuron whose
        exact top k are not all among its candidates.
    recheck_uncertified : bool
        Find the exact best partners of uncertified neurons by block passes over them, and
        add them to the graph (one more pass for their sums).
    seed : int
        Seed of the sample's draws.
    block_rows, block_cols, memory_bytes
        Rows of A per block of rechecks and per tile of sample products, and columns of B
        per tile; by default as many as fit in `memory_bytes` (default: a quarter of the
        device's free memory; `block_size_for`, `screen_tiles`).
    device, sample_dtype
        Where products run; the sample's precision (default bfloat16 on CUDA, float32
        elsewhere; products accumulate in float32).
    cache_dir : path, optional
        Keep the sample in memory-mapped files there; by default it is kept on `device` when
        it fits in `memory_bytes`, else in host memory (`sample_bytes`).
    ranks : empirics.engine.distributed.Ranks
        A data split (`split="data"`): each rank streams its share of the batches, the
        samples and spreads merge into the whole stream's, the screen splits A's rows over
        the ranks and the exact passes sum over them; every rank returns the same result,
        that of one process (`empirics.engine.subsample`). A neuron split is refused.
    cover : int, optional
        Pairs the exact pass may sum beyond the candidate graph, spent on whole lines (every
        pair of a neuron: its exact row, or column), those with the largest bounds first
        (`choose_cover`); a covered neuron needs no bound, and the others' bounds leave it
        out. Default: as many as fit in `memory_bytes` (`default_cover`), which at the
        widths of small models is every pair of one side, so the whole count is exact in
        two passes. 0: the certificate rests on the sample's bound alone.
    """
    keep = check_options(k, candidates, groups)
    check_ranks(ranks)
    n, m = widths(source)
    dtype = sample_dtype or default_sample_dtype(device)
    if dtype not in SAMPLE_DTYPES:
        raise ValueError(f"the sample is kept in float32, bfloat16 or float16, not {dtype}")
    memory = memory_bytes if memory_bytes is not None else available_memory(device) / 4
    rows = ranks.agree_min(block_rows or block_size_for(m, memory))
    fits = sample_bytes(subsample, n, m, dtype, ranks.world) <= memory
    sample = sample_pass(source, subsample, seed=seed, device=device, dtype=dtype,
                         cache_device=device if fits else "cpu", cache_dir=cache_dir,
                         ranks=ranks)
    tile_rows, tile_cols = screen_tiles(n, m, sample.size, dtype.itemsize, memory,
                                        rows=block_rows)
    dead = [x.dead.cpu().numpy() for x in (sample.spread_a.moments, sample.spread_b.moments)]

    def screened(covered=None):
        return screen(sample, keep, delta=delta, block_rows=tile_rows,
                      block_cols=block_cols or tile_cols, device=device, ranks=ranks,
                      covered=covered)

    found = screened()
    budget = ranks.agree_min(cover if cover is not None else default_cover(memory, groups))
    covered = choose_cover(found, dead, budget, k)
    if any(c.any() and (c | d).all() for c, d in zip(covered, dead)):
        # every live neuron of one side covered: no pair is left to bound
        found = replace(found, row_bound=torch.full_like(found.row_bound, -torch.inf),
                        col_bound=torch.full_like(found.col_bound, -torch.inf))
    elif covered[0].any() or covered[1].any():
        found = screened(tuple(torch.from_numpy(c) for c in covered))
    moments = (sample.spread_a.moments, sample.spread_b.moments)
    row_cands, col_cands = (TopK(t.values.cpu(), t.indices.cpu()) for t in (found.rows,
                                                                            found.cols))
    edge_a, edge_b, estimate = covered_graph(*candidate_graph(row_cands, col_cands),
                                             covered, dead)
    chunks = candidate_pass(source, *moments, edge_a, edge_b, groups=max(groups, 1),
                            device=device, ranks=ranks)
    r = chunks.correlations()[0]
    bounds = (found.row_bound.cpu().numpy(), found.col_bound.cpu().numpy())
    certified = [certify(edge_a, edge_b, r, bounds[0], k) | dead[0],
                 certify(edge_b, edge_a, r, bounds[1], k) | dead[1]]
    chunks, estimate = kept_edges(chunks, r, estimate, keep)
    guarantee = {
        "mode": "two-stage", "subsample": sample.size, "candidates": keep, "delta": delta,
        "sample_dtype": str(dtype).removeprefix("torch."), "seed": seed,
        "live_a": int((~dead[0]).sum()), "live_b": int((~dead[1]).sum()),
        "uncertified_a": int((~certified[0]).sum()), "uncertified_b": int((~certified[1]).sum()),
        "rechecked": bool(recheck_uncertified and not (certified[0].all() and certified[1].all())),
        "covered_a": int(covered[0].sum()), "covered_b": int(covered[1].sum()),
    }
    passes = 2
    if guarantee["rechecked"]:
        chunks, used = _recheck(source, moments, chunks, certified, keep, groups=groups,
                                rows=rows, device=device, ranks=ranks)
        passes += used
        certified = [np.ones_like(c) for c in certified]
        estimate = np.concatenate([estimate, np.full(len(chunks.edge_a) - len(estimate),
                                                     -np.inf)])
    found_pairs = _result(chunks, estimate, k=k, min_correlation=min_correlation,
                          keep_chunks=groups > 0, certified=certified, guarantee=guarantee,
                          dead=dead, candidates=(row_cands, col_cands), block_rows=rows,
                          passes=passes, n_tokens=sample.n_tokens)
    floor = certified_floor(certified, bounds, found_pairs)
    return replace(found_pairs, guarantee=found_pairs.guarantee | {"certified_down_to": floor})


#: Bytes per covered pair in the exact pass besides its per-group sums: its indices, its
#: place in the sampled product's pattern, a batch's float32 product and its float64 r.
COVER_EDGE_BYTES = 64


def default_cover(memory: float, groups: int) -> int:
    """Pairs a cover may add to the exact pass in `memory` bytes: each holds a float64 sum
    per chunk group and `COVER_EDGE_BYTES`."""
    return int(memory // (8 * max(groups, 1) + COVER_EDGE_BYTES))


def choose_cover(found, dead, budget: int, k: int) -> list:
    """Masks (n,), (m,) of the lines whose every live pair the exact pass sums.

    Every live pair of one side when they fit in `budget` (that side's neurons all have
    their exact rows, so every neuron of both sides is certified); else lines in decreasing
    order of their outside bound (the floor is the largest bound of an uncertified
    neuron), a row costing the live columns and a column the live rows, while the budget
    lasts. A line whose k-th candidate's estimate already beats its bound is left last: it
    is likely certified without. The choice only decides how low the floor goes; the
    certificate holds whatever it is.
    """
    live = [~np.asarray(d, dtype=bool) for d in dead]
    counts = [int(x.sum()) for x in live]
    covered = [np.zeros(len(x), dtype=bool) for x in live]
    if budget <= 0 or 0 in counts:
        return covered
    if counts[0] * counts[1] <= budget:
        side = int(counts[1] < counts[0])  # the side of fewer lines (A on a tie)
        covered[side] = live[side].copy()
        return covered
    bounds, kth, cost, side, index = [], [], [], [], []
    for s, (bound, top) in enumerate(((found.row_bound, found.rows),
                                      (found.col_bound, found.cols))):
        bound = bound.cpu().numpy().astype(np.float64)
        values = top.values.cpu().numpy()
        best = (values[:, k - 1] if values.shape[1] >= k
                else np.full(len(bound), -np.inf)).astype(np.float64)
        lines = np.flatnonzero(live[s] & np.isfinite(bound))
        bounds.append(bound[lines])
        kth.append(best[lines] > bound[lines])
        cost.append(np.full(len(lines), counts[1 - s]))
        side.append(np.full(len(lines), s))
        index.append(lines)
    bounds, kth, cost, side, index = (np.concatenate(x) for x in (bounds, kth, cost, side,
                                                                   index))
    order = np.lexsort((index, side, -bounds, kth))
    take = order[np.cumsum(cost[order]) <= budget]
    for s in (0, 1):
        covered[s][index[take][side[take] == s]] = True
    return covered


def covered_graph(edge_a, edge_b, estimate, covered, dead):
    """The candidate graph with every live pair of the covered lines added (estimate
    -inf: the sample's r~ of these pairs is not kept); unique edges sorted by (a, b)."""
    live_a, live_b = (np.flatnonzero(~np.asarray(d, dtype=bool)) for d in dead)
    rows, cols = np.flatnonzero(covered[0] & ~dead[0]), np.flatnonzero(covered[1] & ~dead[1])
    if not len(rows) and not len(cols):
        return edge_a, edge_b, estimate
    add_a = np.concatenate([np.repeat(rows, len(live_b)), np.tile(live_a, len(cols))])
    add_b = np.concatenate([np.tile(live_b, len(rows)), np.repeat(cols, len(live_a))])
    a = np.concatenate([edge_a, add_a]).astype(np.int64)
    b = np.concatenate([edge_b, add_b]).astype(np.int64)
    r = np.concatenate([estimate, np.full(len(add_a), -np.inf)])
    span = len(dead[1])
    _, first = np.unique(a * span + b, return_index=True)  # the candidates' copy first
    return a[first], b[first], r[first]


def line_ranks(owner: np.ndarray, other: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Rank of each edge among its owner's edges (0: best; lower `other` among ties)."""
    order = np.lexsort((other, -r, owner))
    ranks = np.empty(len(owner), dtype=np.int64)
    if len(owner):
        sorted_owner = owner[order]
        starts = np.searchsorted(sorted_owner, sorted_owner, side="left")
        ranks[order] = np.arange(len(owner)) - starts
    return ranks


def kept_edges(chunks: ChunkStats, r: np.ndarray, estimate: np.ndarray, keep: int):
    """The chunk sums and estimates on the screen's candidate edges and each neuron's best
    `keep` edges by exact r, dropping the rest of a cover (each neuron's best `keep`, hence
    its best k and every mutual pair, stay on the graph). Returns (chunks, estimate)."""
    if np.isfinite(estimate).all():
        return chunks, estimate
    wanted = (np.isfinite(estimate) | (line_ranks(chunks.edge_a, chunks.edge_b, r) < keep)
              | (line_ranks(chunks.edge_b, chunks.edge_a, r) < keep))
    return replace(chunks, edge_a=chunks.edge_a[wanted], edge_b=chunks.edge_b[wanted],
                   cross=chunks.cross[:, wanted]), estimate[wanted]


def _result(chunks: ChunkStats, estimate, *, k, min_correlation, keep_chunks, certified,
            guarantee, dead, candidates, block_rows, passes, n_tokens) -> Matches:
    """Mutual top-k on the graph with the exact r, and what the result guarantees."""
    edge_a, edge_b, r = chunks.edge_a, chunks.edge_b, chunks.correlations()[0]
    mutual = mutual_on_graph(edge_a, edge_b, r, k)[0]
    screened = mutual_on_graph(edge_a, edge_b, estimate, k)[0]
    if min_correlation is not None:
        mutual &= r >= min_correlation
    order = np.lexsort((edge_b[mutual], edge_a[mutual]))
    sure = certified[0][edge_a] & certified[1][edge_b]
    rows, cols = candidates
    return Matches(
        index_a=edge_a[mutual][order], index_b=edge_b[mutual][order],
        correlation=r[mutual][order], k=k, min_correlation=min_correlation,
        n_tokens=n_tokens,
        row_partners=rows.indices.numpy(), row_r=rows.values.numpy(),
        col_partners=cols.indices.numpy(), col_r=cols.values.numpy(),
        dead_a=dead[0], dead_b=dead[1], rechecked=True,
        max_recheck_change=float(np.abs(np.where(np.isfinite(estimate), r - estimate, 0.0)
                                        ).max(initial=0.0)),
        changed_pairs=int((screened != mutual).sum()), chunks=chunks if keep_chunks else None,
        block_rows=block_rows, passes=passes,
        guarantee=guarantee | {"uncertain_pairs": int((mutual & ~sure).sum())},
        certified_a=certified[0], certified_b=certified[1],
    )


def default_sample_dtype(device: torch.device | str) -> torch.dtype:
    """The sample's dtype unless given: bfloat16 on CUDA, float32 elsewhere."""
    return torch.bfloat16 if torch.device(device).type == "cuda" else torch.float32


def check_ranks(ranks: Ranks) -> None:
    """Refuse a split the two-stage engine does not share a pair by (before any pass)."""
    if ranks.shards_neurons:
        raise ValueError("the two-stage engine shares a pair by --split data (each process "
                         "reads its share of the batches); --split neurons would run every "
                         "forward pass on every process: use --split data, or --engine block")


def sample_bytes(size: int, n: int, m: int, dtype: torch.dtype, world: int = 1) -> int:
    """Bytes of a sample of `size` tokens of n + m neurons in `dtype`; with `world` ranks of
    a data split, what one rank holds at most: its own bottom keys' tokens and then the
    merged sample of its share of A's rows and all of B's."""
    values = size * (n + m) + (size * (-(-n // world) + m) if world > 1 else 0)
    return values * torch.finfo(dtype).bits // 8


def certify(owner: np.ndarray, other: np.ndarray, r: np.ndarray, bound: np.ndarray,
            k: int) -> np.ndarray:
    """Mask of lines whose k-th best exact r on the graph beats their bound.

    Parameters
    ----------
    owner, other, r : (E,) arrays
        The graph's edges from this side (owner: the line's neuron) and their exact r.
    bound : (L,) float array
        The largest upper bound on the exact r of the line's partners off the graph (its
        non-candidates that no cover put on it; -inf: none).

    Notes
    -----
    A partner off the graph has r <= its bound < the k-th best r on the graph, so the
    line's exact top k are on the graph, where `mutual_on_graph` reads them with exact r.
    """
    kth = np.full(len(bound), -np.inf)
    if len(owner):
        top = line_ranks(owner, other, r) == k - 1
        kth[owner[top]] = r[top]
    return (bound == -np.inf) | (kth > bound + EXACT_MARGIN)


def certified_floor(certified, bounds, found: Matches) -> float:
    """The lowest r from which the count of `found`'s pairs is exact (docs/matching.md,
    "Certified count"), at least -1.

    Parameters
    ----------
    certified : pair of (n,), (m,) bool arrays
        Certified (or dead, or rechecked) neurons of A and B.
    bounds : pair of (n,), (m,) float arrays
        Each neuron's largest upper bound U on the exact r of its non-candidates.
    found : Matches
        The mutual pairs read off the graph, with their exact r.

    Notes
    -----
    An uncertified neuron i has every partner with exact r > t_i = U_i + `EXACT_MARGIN`
    among its candidates; a certified one gets t = -inf (its exact top k are candidates, all
    the two arguments need). A true pair with r >= rho is missed only if both its neurons
    have t >= rho, so none is once rho exceeds the smaller side's largest t. A found pair
    (i, j) can be wrong only if a better partner of i or of j is off the graph, so only if
    max(t_i, t_j) >= r_ij; the floor lies above the largest such r.
    """
    reach = [np.where(c, -np.inf, np.asarray(u, dtype=np.float64) + EXACT_MARGIN)
             for c, u in zip(certified, bounds)]
    missed = min(r.max(initial=-np.inf) for r in reach)
    loose = np.maximum(reach[0][found.index_a], reach[1][found.index_b]) >= found.correlation
    wrong = found.correlation[loose].max(initial=-np.inf)
    return float(max(np.nextafter(max(missed, wrong), np.inf), -1.0))


def _recheck(source, moments, chunks: ChunkStats, certified, keep, *, groups, rows, device,
             ranks):
    """The graph with every uncertified neuron's exact best partners added, and their sums;
    returns (chunks, passes used)."""
    edges, passes = [], 0
    for side in (0, 1):
        wanted = np.flatnonzero(~certified[side])
        mine, theirs = moments[side], moments[1 - side]
        for start in range(0, len(wanted), rows):
            part = wanted[start:start + rows]
            best = _exact_partners(source, side, part, mine, theirs, keep, device, ranks)
            lines = np.repeat(part, best.shape[1])
            edges.append((lines, best.ravel()) if side == 0 else (best.ravel(), lines))
            passes += 1
    new_a, new_b = (np.concatenate(x) for x in zip(*edges))
    known = set(zip(chunks.edge_a.tolist(), chunks.edge_b.tolist()))
    fresh = sorted({(a, b) for a, b in zip(new_a.tolist(), new_b.tolist())} - known)
    if not fresh:
        return chunks, passes
    add_a, add_b = (np.array(x, dtype=np.int64) for x in zip(*fresh))
    extra = candidate_pass(source, *moments, add_a, add_b, groups=max(groups, 1),
                           device=device, ranks=ranks)
    merged = ChunkStats(tokens=chunks.tokens, sum_a=chunks.sum_a, sumsq_a=chunks.sumsq_a,
                        sum_b=chunks.sum_b, sumsq_b=chunks.sumsq_b,
                        edge_a=np.concatenate([chunks.edge_a, add_a]),
                        edge_b=np.concatenate([chunks.edge_b, add_b]),
                        cross=np.concatenate([chunks.cross, extra.cross], axis=1))
    return merged, passes + 1


def _exact_partners(source, side, lines, mine: Moments, theirs: Moments, keep, device,
                    ranks):
    """The `keep` best partners (by exact r, one block pass) of neurons `lines` of one side,
    as indices into the other side (-1 where a partner is dead)."""
    index = torch.as_tensor(lines)

    def sub_source():
        for a, b in source():
            x, y = (a, b) if side == 0 else (b, a)
            yield x[:, index], y

    subset = Moments(mine.count, mine.mean[index], mine.m2[index])
    every = slice(0, len(lines))
    sums = block_pass(sub_source, every, (subset, theirs), device=device, ranks=ranks)
    r = block_correlation(sums, subset, theirs, every)
    r[:, theirs.dead.to(r.device)] = -torch.inf
    values, partners = sorted_topk(r, min(keep, r.shape[1]), dim=1)
    values, partners = values.cpu().numpy(), partners.cpu().numpy()
    return np.where(np.isfinite(values), partners, partners[:, :1])  # dead: repeat the best
