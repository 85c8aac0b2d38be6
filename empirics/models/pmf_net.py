"""The pMF generator ("pixel MeanFlow", Lu et al. 2026, arXiv:2601.22158): its DiT with the
module tree and parameter names of the authors' PyTorch code (Lyy-iiis/pMF, branch `torch`,
`models/pmfDiT.py`, `models/embedder.py`, `models/torch_models.py`), in eval form.

The names matter: the released state dicts (`pMF-{B,L,H}-{16,32}.pt` on the hub repository
Lyy0725/pMF) load into `PixelMeanFlow` with strict key checks (`empirics.models.pmf`), so
every submodule keeps its name there (`net.shared_blocks.3.mlp.w2._flax_linear.weight`).
Only the u branch is built: the v heads are a training-time auxiliary output that one-step
generation never reads (the authors' eval mode drops them too).

The network reads a noisy image with its conditioning given as tokens before the patches:
8 class tokens, 4 guidance-scale (omega) tokens, 2 + 2 guidance-interval tokens (t_min,
t_max) and 4 time tokens, 20 prefix tokens in all (`PmfDiT.prefix_tokens`). Every block's MLP
is a SwiGLU, w2(silu(w1 x) * w3 x); its neurons are the input of `mlp.w2`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class TorchLinear(nn.Module):
    """A linear layer kept under the name ``_flax_linear`` (the authors' parameter path)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self._flax_linear = nn.Linear(in_features, out_features, bias=bias)

    def forward(self, x):
        return self._flax_linear(x)


class RMSNorm(nn.Module):
    """Root-mean-square normalisation with a learnt scale (eps 1e-6)."""

    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        mean_square = torch.mean(torch.square(x), dim=-1, keepdim=True)
        return (x * torch.rsqrt(mean_square + self.eps)).to(x.dtype) * self.weight


class SwiGLUMlp(nn.Module):
    """w2(silu(w1 x) * w3 x); the neuron vector is w2's input."""

    def __init__(self, d_model: int, d_mlp: int):
        super().__init__()
        self.w1 = TorchLinear(d_model, d_mlp, bias=False)
        self.w3 = TorchLinear(d_model, d_mlp, bias=False)
        self.w2 = TorchLinear(d_mlp, d_model, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


def rope_tables(head_dim: int, n_patches: int, theta: float = 10000.0) -> torch.Tensor:
    """(n_patches, head_dim // 2, 2) cosines and sines of the 2-D rotary embedding: half the
    rotated pairs turn with the patch row, half with its column (pmfDiT.precompute_rope_freqs)."""
    dim = head_dim // 2
    side = math.isqrt(n_patches)
    freqs = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
    angles = torch.arange(side, dtype=torch.float32)[:, None] * freqs[None]
    grid = torch.cat([angles[:, None, :].expand(side, side, -1),
                      angles[None, :, :].expand(side, side, -1)], dim=-1)
    grid = grid.reshape(n_patches, dim)
    return torch.stack([torch.cos(grid), torch.sin(grid)], dim=-1)


def apply_rope(x: torch.Tensor, tables: torch.Tensor) -> torch.Tensor:
    """Rotate consecutive channel pairs of the last `len(tables)` tokens (the patches) of
    (B, S, heads, head_dim) `x`; the prefix tokens are left as they are."""
    pairs = x.float().reshape(*x.shape[:-1], -1, 2)
    n = tables.shape[0]
    cos, sin = tables[None, :, None, :, 0], tables[None, :, None, :, 1]
    real, imag = pairs[:, -n:, ..., 0], pairs[:, -n:, ..., 1]
    rotated = torch.stack([real * cos - imag * sin, real * sin + imag * cos], dim=-1)
    out = torch.cat([pairs[:, :-n], rotated], dim=1) if x.shape[1] > n else rotated
    return out.flatten(-2).to(x.dtype)


class RoPEAttention(nn.Module):
    """Multi-head self-attention with RMS-normalised queries and keys and 2-D RoPE."""

    def __init__(self, d_model: int, n_heads: int):
        super().__init__()
        self.n_heads, self.head_dim = n_heads, d_model // n_heads
        for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
            setattr(self, name, TorchLinear(d_model, d_model, bias=False))
        self.q_norm = RMSNorm(self.head_dim)
        self.k_norm = RMSNorm(self.head_dim)

    def forward(self, x, tables):
        batch, length, width = x.shape
        shape = (batch, length, self.n_heads, self.head_dim)
        q = apply_rope(self.q_norm(self.q_proj(x).reshape(shape)), tables)
        k = apply_rope(self.k_norm(self.k_proj(x).reshape(shape)), tables)
        v = self.v_proj(x).reshape(shape)
        weights = torch.einsum("bqhd,bkhd->bhqk", q / math.sqrt(self.head_dim), k)
        weights = F.softmax(weights, dim=-1, dtype=torch.float32).to(v.dtype)
        return self.out_proj(torch.einsum("bhqk,bkhd->bqhd", weights, v).reshape(x.shape))


class TransformerBlock(nn.Module):
    """Pre-norm block whose residual branches are scaled by learnt vector gates."""

    def __init__(self, d_model: int, n_heads: int, d_mlp: int):
        super().__init__()
        self.norm1 = RMSNorm(d_model)
        self.attn = RoPEAttention(d_model, n_heads)
        self.norm2 = RMSNorm(d_model)
        self.mlp = SwiGLUMlp(d_model, d_mlp)
        self.attn_scale = nn.Parameter(torch.zeros(d_model))
        self.mlp_scale = nn.Parameter(torch.zeros(d_model))

    def forward(self, x, tables):
        x = x + self.attn(self.norm1(x), tables) * self.attn_scale
        return x + self.mlp(self.norm2(x)) * self.mlp_scale


class TimestepEmbedder(nn.Module):
    """A scalar condition through 256 sinusoidal features and a two-layer SiLU MLP."""

    def __init__(self, d_model: int, n_frequencies: int = 256):
        super().__init__()
        self.n_frequencies = n_frequencies
        self.mlp = nn.Sequential(TorchLinear(n_frequencies, d_model), nn.SiLU(),
                                 TorchLinear(d_model, d_model))

    def forward(self, t):
        half = self.n_frequencies // 2
        freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / half)
        args = t[:, None].float() * freqs[None].to(t.device)
        features = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
        return self.mlp(features.to(self.mlp[0]._flax_linear.weight.dtype))


class LabelEmbedder(nn.Module):
    """Class labels (and the unconditional label `n_classes`) to vectors."""

    def __init__(self, n_classes: int, d_model: int):
        super().__init__()
        self.embedding_table = nn.Module()
        self.embedding_table._flax_embedding = nn.Embedding(n_classes + 1, d_model)

    def forward(self, labels):
        return self.embedding_table._flax_embedding(labels)


class BottleneckPatchEmbedder(nn.Module):
    """Patches to a `bottleneck`-channel linear code, then to the model width (two convs)."""

    def __init__(self, image_size: int, patch_size: int, bottleneck: int, d_model: int):
        super().__init__()
        self.patch_size = patch_size
        self.grid = image_size // patch_size
        self.num_patches = self.grid ** 2
        self.proj1 = nn.Conv2d(3, bottleneck, patch_size, stride=patch_size)
        self.proj2 = nn.Conv2d(bottleneck, d_model, 1)

    def forward(self, x):
        x = self.proj2(self.proj1(x))
        return x.permute(0, 2, 3, 1).reshape(x.shape[0], -1, x.shape[1])


class FinalLayer(nn.Module):
    """RMSNorm, then every token to its patch's pixels (zero at initialisation, as the
    authors initialise it)."""

    def __init__(self, d_model: int, patch_size: int):
        super().__init__()
        self.norm = RMSNorm(d_model)
        self.linear = TorchLinear(d_model, patch_size * patch_size * 3)
        nn.init.zeros_(self.linear._flax_linear.weight)
        nn.init.zeros_(self.linear._flax_linear.bias)

    def forward(self, x):
        return self.linear(self.norm(x))
