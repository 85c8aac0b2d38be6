"""Align two models' image inputs on one patch grid.

Both models see the same image through their own preprocessing. The leading prefix tokens
(CLS, register tokens) are dropped: they are not spatial positions and their statistics differ
from patch tokens'. The remaining tokens form the patch grid (B, C, H, W); both models' maps are
resampled to one target grid (by default model B's) by bilinear interpolation, and every grid
position of every image is then one sample.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def patch_grid(tokens: torch.Tensor, prefix_tokens: int,
               grid: tuple[int, int] | None = None) -> torch.Tensor:
    """(B, prefix + H*W, C) token activations -> (B, C, H, W) patch maps, prefix dropped.

    The grid is taken square unless `grid` is given; a token count that fits neither raises.
    """
    patches = tokens[:, prefix_tokens:]
    count = patches.shape[1]
    if grid is None:
        side = math.isqrt(count)
        grid = (side, side)
    if grid[0] * grid[1] != count:
        raise ValueError(f"{count} patch tokens after {prefix_tokens} prefix tokens do not "
                         f"form a {grid[0]}x{grid[1]} grid; pass the grid explicitly")
    return patches.transpose(1, 2).reshape(tokens.shape[0], tokens.shape[2], *grid)


def resample_grid(maps: torch.Tensor, target: tuple[int, int]) -> torch.Tensor:
    """Bilinear resampling of (B, C, H, W) maps to (B, C, *target), float32.

    Notes
    -----
    ``align_corners=False`` treats every patch as a cell centred at (i + 1/2) / H, the
    geometry of a patch embedding, so the two grids cover the same image area.
    """
    maps = maps.to(torch.float32)
    if tuple(maps.shape[-2:]) == tuple(target):
        return maps
    return F.interpolate(maps, size=tuple(target), mode="bilinear", align_corners=False)


def grid_samples(maps: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) maps -> (B*H*W, C): every position of every image one sample, image-major."""
    return maps.permute(0, 2, 3, 1).reshape(-1, maps.shape[1])
