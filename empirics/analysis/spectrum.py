"""Per-chunk activation moments of one model's MLP layers (the input of
`empirics.analysis.eigenspectrum.fit_spectrum`), streamed over token windows."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from empirics.analysis.eigenspectrum import ChunkMoments
from empirics.capture.windows import window_activations
from runstore.progress import progress_bar


def chunk_edges(n_windows: int, n_chunks: int) -> np.ndarray:
    """(n_chunks + 1,) window indices that cut `n_windows` into contiguous, near-equal
    chunks (the bootstrap's units)."""
    if not 1 <= n_chunks <= n_windows:
        raise ValueError(f"{n_windows} windows cannot make {n_chunks} chunks; use fewer "
                         "chunks or more documents")
    return np.linspace(0, n_windows, n_chunks + 1).round().astype(np.int64)


def chunk_moments(model: nn.Module, architecture: str, windows: np.ndarray, *,
                  n_chunks: int, batch: int = 64, progress: bool = False
                  ) -> list[ChunkMoments]:
    """Every layer's moments (`ChunkMoments`) over `n_chunks` contiguous chunks of windows.

    Notes
    -----
    Sums accumulate in float64 on the model's device (docs/design.md, principle 8), about a
    shift: each layer's mean over the first batch. A batch never straddles two chunks.
    """
    edges = chunk_edges(len(windows), n_chunks)
    layers, shifts = None, None
    bar = progress_bar(total=len(windows), desc="spectrum windows", unit="window", show=progress)
    for chunk, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        for acts in window_activations(model, architecture, windows[lo:hi], batch=batch):
            acts = [x.to(torch.float64) for x in acts]
            if shifts is None:
                shifts = [x.mean(dim=0) for x in acts]
                layers = [_empty(n_chunks, x.shape[1], x.device) for x in acts]
            for (counts, sums, products), x, shift in zip(layers, acts, shifts):
                x = x - shift
                counts[chunk] += len(x)
                sums[chunk] += x.sum(dim=0)
                products[chunk] += x.T @ x
            bar.update(len(acts[0]) // windows.shape[1])
    bar.close()
    return [ChunkMoments(counts.cpu().numpy(), sums.cpu().numpy(), products.cpu().numpy())
            for counts, sums, products in layers]


def _empty(n_chunks: int, width: int, device) -> tuple[torch.Tensor, ...]:
    return (torch.zeros(n_chunks, dtype=torch.float64, device=device),
            torch.zeros(n_chunks, width, dtype=torch.float64, device=device),
            torch.zeros(n_chunks, width, width, dtype=torch.float64, device=device))
