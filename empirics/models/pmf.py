"""pMF, the one-step pixel-space generator: its configurations, the released state dicts
loaded with strict key checks, and one-step generation from per-image seeds.

Generation (Lu et al. 2026, arXiv:2601.22158; the authors' `pmf.py` and `evaluate.py`) is one
network evaluation per image: noise z ~ N(0, noise_scale^2) at t = 1, the average velocity
u over [0, 1] predicted with classifier-free guidance given as input tokens (omega, t_min,
t_max), and the image x = z - u in [-1, 1]. The neurons are captured during that one forward.

Notes
-----
Every image's noise comes from its own CPU generator seeded with ``index ^ seed`` (the
authors' `evaluate.py`, EDM's per-sample generators), so an image is the same whatever the
batch size, shard or device, and every pass of the engine regenerates exactly the images of
the first (`tests/empirics/models/test_pmf.py`). The official matching code
(`vision/match_pmf_vit_multigpu.py`) seeds a whole batch at once on the device instead, so its
images change with the batch size and the number of processes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from empirics.models.adapters import Architecture
from empirics.models.pmf_net import (
    BottleneckPatchEmbedder,
    FinalLayer,
    LabelEmbedder,
    TimestepEmbedder,
    TransformerBlock,
    rope_tables,
)

#: The conditioning tokens before the patches: class, omega, t_min, t_max, time.
CONDITION_TOKENS = (("class_tokens", 8), ("omega_tokens", 4), ("t_min_tokens", 2),
                    ("t_max_tokens", 2), ("time_tokens", 4))
PREFIX_TOKENS = sum(count for _, count in CONDITION_TOKENS)
#: Keys of a released state dict that eval-mode generation does not read: the training-time
#: v branch and the rotary table (recomputed here, and checked equal when present).
UNUSED_PREFIXES = ("v_heads.", "v_final_layer.")
ROPE_KEY = "rope_freqs"


@dataclass(frozen=True)
class PmfConfig:
    """One pMF model: its network and its sampling settings (the authors' README)."""

    image_size: int
    patch_size: int
    d_model: int
    depth: int
    n_heads: int
    head_depth: int = 8
    n_classes: int = 1000
    noise_scale: float = 1.0
    omega: float = 7.5
    t_min: float = 0.1
    t_max: float = 0.8

    @property
    def d_mlp(self) -> int:
        """int(8/3 d), rounded up to a multiple of 8 above d = 1024 (pmfDiT.TransformerBlock)."""
        width = int(self.d_model * 8 / 3)
        return (width + 7) // 8 * 8 if self.d_model > 1024 else width

    @property
    def bottleneck(self) -> int:
        """Channels of the patch embedding's linear code: 128, or 256 above d = 1024."""
        return 128 if self.d_model <= 1024 else 256

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size

    @classmethod
    def from_items(cls, items: dict) -> "PmfConfig":
        """The config from a spec's configuration (its other keys, e.g. the file, ignored)."""
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in items.items() if k in fields})


class PmfDiT(nn.Module):
    """The u branch of pmfDiT: shared blocks, then the u head, then the pixel projection."""

    def __init__(self, config: PmfConfig):
        super().__init__()
        d = config.d_model
        self.config = config
        self.x_embedder = BottleneckPatchEmbedder(config.image_size, config.patch_size,
                                                  config.bottleneck, d)
        for name in ("h_embedder", "omega_embedder", "cfg_t_start_embedder",
                     "cfg_t_end_embedder"):
            setattr(self, name, TimestepEmbedder(d))
        self.y_embedder = LabelEmbedder(config.n_classes, d)
        for name, count in CONDITION_TOKENS:
            setattr(self, name, nn.Parameter(torch.randn(1, count, d) / d ** 0.5))
        self.prefix_tokens = PREFIX_TOKENS
        n_patches = self.x_embedder.num_patches
        self.pos_embed = nn.Parameter(0.02 * torch.randn(1, self.prefix_tokens + n_patches, d))
        # a plain float32 attribute, not a buffer: a cast of the model to bfloat16 keeps
        # the rotary angles exact (the authors keep them complex64)
        self.rope_freqs = rope_tables(d // config.n_heads, n_patches)
        block = (d, config.n_heads, config.d_mlp)
        self.shared_blocks = nn.ModuleList(TransformerBlock(*block)
                                           for _ in range(config.depth - config.head_depth))
        self.u_heads = nn.ModuleList(TransformerBlock(*block) for _ in range(config.head_depth))
        self.u_final_layer = FinalLayer(d, config.patch_size)

    def sequence(self, x, h, omega, t_min, t_max, labels):
        """The token sequence: conditioning tokens (in `CONDITION_TOKENS` order), patches."""
        conditions = {"class_tokens": self.y_embedder(labels),
                      "omega_tokens": self.omega_embedder(1 - 1 / omega),
                      "t_min_tokens": self.cfg_t_start_embedder(t_min),
                      "t_max_tokens": self.cfg_t_end_embedder(t_max),
                      "time_tokens": self.h_embedder(h)}
        tokens = [getattr(self, name) + conditions[name][:, None] for name, _ in
                  CONDITION_TOKENS]
        return torch.cat(tokens + [self.x_embedder(x)], dim=1) + self.pos_embed

    def forward(self, x, t, h, omega, t_min, t_max, labels):
        """The average velocity u of noisy images `x` (B, 3, H, W) at times `t` over `h`."""
        seq = self.sequence(x, h, omega, t_min, t_max, labels)
        tables = self.rope_freqs.to(seq.device)
        for block in (*self.shared_blocks, *self.u_heads):
            seq = block(seq, tables)
        patches = self.u_final_layer(seq[:, self.prefix_tokens:])
        side, p = self.config.grid, self.config.patch_size
        patches = patches.reshape(x.shape[0], side, side, p, p, 3)
        predicted = torch.einsum("nhwpqc->nchpwq", patches).reshape(x.shape)
        return (x - predicted) / torch.clamp(t.reshape(-1, 1, 1, 1), min=0.05)


class PixelMeanFlow(nn.Module):
    """The released checkpoints' top module (`pmf.pixelMeanFlow`): the network as `net`."""

    def __init__(self, config: PmfConfig):
        super().__init__()
        self.config = config
        self.net = PmfDiT(config)

    def forward(self, noise: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """One-step images in [-1, 1] (roughly; not clamped) from scaled noise and labels."""
        config, batch = self.config, noise.shape[0]
        full = noise.new_ones(batch)
        settings = [full * value for value in (config.omega, config.t_min, config.t_max)]
        u = self.net(noise, full, full, *settings, labels)
        return noise - full[:, None, None, None] * u


def image_noise(indices, *, seed: int, config: PmfConfig) -> torch.Tensor:
    """(len(indices), 3, S, S) float32 noise on the CPU, image i from a generator seeded
    with ``i ^ seed``, times the model's noise scale."""
    shape = (3, config.image_size, config.image_size)
    draws = [torch.randn(shape, generator=torch.Generator("cpu").manual_seed(
        (int(index) ^ int(seed)) % (1 << 32))) for index in indices]
    return torch.stack(draws) * config.noise_scale


def balanced_labels(indices, n_classes: int) -> torch.Tensor:
    """Image i's class: i mod n_classes (every class equally often over the run)."""
    return torch.as_tensor([int(i) % n_classes for i in indices], dtype=torch.long)


def generate(model: PixelMeanFlow, indices, *, seed: int) -> torch.Tensor:
    """The images of `indices` (B, 3, S, S) in [-1, 1], on the model's device and dtype."""
    parameter = next(model.parameters())
    noise = image_noise(indices, seed=seed, config=model.config)
    labels = balanced_labels(indices, model.config.n_classes).to(parameter.device)
    with torch.inference_mode():
        return model(noise.to(device=parameter.device, dtype=parameter.dtype), labels)


class CheckpointKeyError(ValueError):
    """A state dict that is not this pMF model's (missing, unexpected or misshapen keys)."""


def load_state(model: PixelMeanFlow, state: dict, where: str) -> dict:
    """Load a released pMF state dict into `model` with strict key checks.

    Every parameter of `model` must be present with its shape and no other key may be there
    but the training-time v branch (`UNUSED_PREFIXES`) and the rotary table, which must then
    equal the one computed here. Keys may carry the ``net.`` prefix of `PixelMeanFlow` or not,
    all alike. Returns what was set aside (for the model's identity).
    """
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor)
                                              for v in state.values()):
        found = sorted(state)[:5] if isinstance(state, dict) else type(state).__name__
        raise CheckpointKeyError(f"{where} is not a flat state dict of tensors ({found})")
    prefixed = [k.startswith("net.") for k in state]
    if any(prefixed) and not all(prefixed):
        raise CheckpointKeyError(f"{where} mixes keys with and without the 'net.' prefix")
    state = {k.removeprefix("net."): v for k, v in state.items()}
    unused = sorted(k for k in state if k.startswith(UNUSED_PREFIXES))
    rope = state.pop(ROPE_KEY, None)
    if rope is not None:
        check_rope(rope, model.net.rope_freqs, where)
    wanted = model.net.state_dict()
    kept = {k: v for k, v in state.items() if k not in unused}
    missing, unexpected = sorted(set(wanted) - set(kept)), sorted(set(kept) - set(wanted))
    shapes = [f"{k} {tuple(kept[k].shape)} (expected {tuple(wanted[k].shape)})"
              for k in set(wanted) & set(kept) if kept[k].shape != wanted[k].shape]
    if missing or unexpected or shapes:
        raise CheckpointKeyError(
            f"{where} is not the pMF model {model.config}: missing {missing[:8]} "
            f"({len(missing)}), unexpected {unexpected[:8]} ({len(unexpected)}), "
            f"misshapen {sorted(shapes)[:8]}")
    model.net.load_state_dict(kept, strict=True)
    return {"unused_keys": len(unused), "rope_checked": rope is not None}


def check_rope(stored: torch.Tensor, tables: torch.Tensor, where: str) -> None:
    """Refuse a stored rotary table (complex, as the authors store it) that differs."""
    stored = torch.view_as_real(stored) if stored.is_complex() else stored
    if stored.shape != tables.shape or not torch.allclose(stored.float(), tables.cpu(),
                                                          atol=1e-5):
        raise CheckpointKeyError(f"{where}: its rotary table {tuple(stored.shape)} is not "
                                 f"this model's {tuple(tables.shape)}")


def randomise_zero_init(model: PixelMeanFlow, generator: torch.Generator) -> None:
    """Draw the gates and the pixel projection, which pMF initialises to zero.

    Notes
    -----
    At its own initialisation a pMF's residual gates (`attn_scale`, `mlp_scale`) and final
    layer are zero, so every image it generates is all zeros and a discriminative tower would
    see one constant image. The untrained null needs inputs that vary, so these are drawn
    like the network's other linear maps: N(0, 1/fan_in), the gates at fan_in = d.
    """
    d = model.config.d_model
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith(("attn_scale", "mlp_scale", "u_final_layer.linear._flax_linear"
                              ".weight")):
                fan_in = d
                parameter.copy_(torch.randn(parameter.shape, generator=generator)
                                / fan_in ** 0.5)


#: pMF's DiT as an architecture: the shared blocks, then the u head, each MLP a SwiGLU read
#: at the input of w2 (its linear map, kept as `_flax_linear`); a generator (noise in).
ARCHITECTURE = Architecture(
    name="pmf_dit", modality="generator",
    hook_points=("shared_blocks.{layer}.mlp.w2._flax_linear",
                 "u_heads.{layer}.mlp.w2._flax_linear"),
    recognises_module=lambda model: hasattr(getattr(model, "net", None), "u_heads"))
