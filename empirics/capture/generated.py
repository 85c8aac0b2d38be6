"""A generator matched against a discriminative tower on the images it generates.

Model A is a pMF generator (`empirics.models.pmf`): every batch generates its images in one
forward pass, whose MLP neurons are captured, from per-image seeds, so every pass of the
engine regenerates the same images and nothing is stored between passes. Model B, a
discriminative vision tower, reads those images as the official code feeds them
(`vision/match_pmf_vit_multigpu.py`, `_make_image_preprocess`): clamped to [-1, 1], mapped to
[0, 1], resized bicubically with antialiasing to the tower's input size (no crop), and
normalised with the tower's own mean and std. The canonical grid is the generator's (16 x 16
for every released pMF): the tower's patch maps are resampled to it bilinearly
(align_corners=False) and the generator's are kept as they are, after its 20 conditioning
tokens are dropped.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from empirics.capture.grid import grid_samples, patch_grid, resample_grid
from empirics.capture.pair import (
    CapturedPair,
    batch_slices,
    captured_pair,
    prefix_tokens,
    tower_forward,
)
from empirics.models.hooks import capture_mlp
from empirics.models.load import LoadedModel
from empirics.models.pmf import generate
from runstore.progress import progress_bar


@dataclass(frozen=True)
class GeneratedImage:
    """Image `index` of a generated run and its noise seed; its class is the generator's
    rule, index mod its classes (`empirics.models.pmf.balanced_labels`)."""

    index: int
    seed: int

    @property
    def id(self) -> str:
        return f"generated-{self.seed}-{self.index:06d}"

    @property
    def sha256(self) -> str:
        """Digest of what the image is made from (the generator's weights are the pair's)."""
        return hashlib.sha256(self.id.encode()).hexdigest()


def generated_images(n_images: int, *, seed: int = 0) -> list[GeneratedImage]:
    """Images 0..n-1 of the noise seed `seed`."""
    return [GeneratedImage(i, seed) for i in range(n_images)]


def tower_geometry(loaded: LoadedModel) -> tuple[tuple[int, int], list, list]:
    """The tower's input size (H, W) and its normalisation mean and std, read from its own
    preprocessing (open_clip's transform, or a transformers image processor)."""
    processor = loaded.processor
    if hasattr(processor, "transforms"):  # open_clip: Resize, CenterCrop, ..., Normalize
        normalise = [t for t in processor.transforms if hasattr(t, "mean")][-1]
        crops = [t for t in processor.transforms if type(t).__name__ == "CenterCrop"]
        size = crops[-1].size if crops else loaded.model.image_size
        size = (size, size) if isinstance(size, int) else tuple(size)
        return tuple(int(s) for s in size[:2]), list(normalise.mean), list(normalise.std)
    size = processor.crop_size if getattr(processor, "do_center_crop", False) else processor.size
    if "height" in size:
        size = (size["height"], size["width"])
    else:
        size = (size["shortest_edge"],) * 2
    return (int(size[0]), int(size[1])), list(processor.image_mean), list(processor.image_std)


def tower_pixels(images: torch.Tensor, size: tuple[int, int], mean, std) -> torch.Tensor:
    """(B, 3, H, W) generated images in [-1, 1] -> the tower's normalised input at `size`."""
    x = (images.float().clamp(-1.0, 1.0) + 1.0) / 2.0
    if tuple(x.shape[-2:]) != tuple(size):
        x = F.interpolate(x, size=tuple(size), mode="bicubic", align_corners=False,
                          antialias=True)
    mean = torch.tensor(mean, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(std, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


def generated_pair_source(generator: LoadedModel, tower: LoadedModel,
                          images: Sequence[GeneratedImage], *, images_per_batch: int = 16,
                          store_dtype: torch.dtype = torch.float32,
                          out_device: str | torch.device = "cpu", cache_dir=None,
                          progress: bool = False) -> CapturedPair:
    """Patch-position activations of a generator (A) and a tower (B) on its images.

    Samples are (image, row, column) positions of the generator's grid, image-major. The
    other parameters are those of `empirics.capture.pair.image_pair_source`.
    """
    seeds = {item.seed for item in images}
    if len(seeds) != 1 or [i.index for i in images] != sorted(i.index for i in images):
        raise ValueError("generated images come from one seed, in index order")
    groups = batch_slices(list(images), images_per_batch)
    config, prefix_b = generator.model.config, prefix_tokens(tower)
    grid = (config.grid, config.grid)
    geometry = tower_geometry(tower)

    def compute():
        for group in progress_bar(groups, desc="generated batches", show=progress):
            pictures, maps_a = generator_maps(generator, group)
            maps_b = tower_maps(tower, tower_pixels(pictures, *geometry), prefix_b)
            yield tuple(torch.cat([grid_samples(resample_grid(m, grid)) for m in maps],
                                  dim=1).to(store_dtype) for maps in (maps_a, maps_b))

    manifest = dict(kind="image", inputs="generated", n_inputs=len(images),
                    images_per_batch=images_per_batch, target_grid=list(grid),
                    canonical_grid="generator", generation=generation_manifest(generator),
                    tower_input=dict(size=list(geometry[0]), mean=geometry[1],
                                     std=geometry[2], resize="bicubic, antialias, no crop"),
                    prefix_tokens=[generator.model.net.prefix_tokens, prefix_b],
                    store_dtype=str(store_dtype), resampling="bilinear, align_corners=False")

    def table():
        image, row, col = np.meshgrid(np.arange(len(images)), np.arange(grid[0]),
                                      np.arange(grid[1]), indexing="ij")
        return {"input": image.ravel().astype(np.int64), "row": row.ravel().astype(np.int64),
                "col": col.ravel().astype(np.int64)}

    def render(position: int) -> Image.Image:
        pictures = generate(generator.model, [images[position].index],
                            seed=images[position].seed)
        return to_pil(pictures[0])

    return captured_pair(generator, tower, manifest, compute, len(groups), cache_dir,
                         out_device, table, render=render)


def generation_manifest(generator: LoadedModel) -> dict:
    """How the images were made: one step, the sampling settings, the seeding rule."""
    config = generator.model.config
    return dict(steps=1, omega=config.omega, t_min=config.t_min, t_max=config.t_max,
                noise_scale=config.noise_scale, image_size=config.image_size,
                labels="index mod n_classes", n_classes=config.n_classes,
                noise="per image: CPU generator seeded index ^ seed")


def generator_maps(generator: LoadedModel, group: Sequence[GeneratedImage]):
    """The batch's images (B, 3, S, S) and every generator layer's (B, C, H, W) map."""
    with capture_mlp(generator.model, generator.architecture) as captured:
        pictures = generate(generator.model, [item.index for item in group],
                            seed=group[0].seed)
        tokens = captured.activations((len(group), -1))
    prefix = generator.model.net.prefix_tokens
    return pictures, [patch_grid(x, prefix) for x in tokens]


def tower_maps(tower: LoadedModel, pixels: torch.Tensor, prefix: int) -> list[torch.Tensor]:
    """Every tower layer's (B, C, H, W) patch map of normalised `pixels`."""
    parameter = next(tower.model.parameters())
    pixels = pixels.to(device=parameter.device, dtype=parameter.dtype)
    with torch.inference_mode(), capture_mlp(tower.model, tower.architecture) as captured:
        tower_forward(tower, pixels)
        tokens = captured.activations((pixels.shape[0], -1))
    return [patch_grid(x, prefix) for x in tokens]


def to_pil(image: torch.Tensor) -> Image.Image:
    """A (3, H, W) image in [-1, 1] as 8-bit RGB (the authors' rounding)."""
    pixels = ((image.float().clamp(-1, 1) + 1) / 2 * 255).round().to(torch.uint8)
    return Image.fromarray(pixels.permute(1, 2, 0).cpu().numpy())
