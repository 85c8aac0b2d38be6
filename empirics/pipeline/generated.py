"""The generated families (`empirics.models.adapters.MatchFamily`): a pMF generator (model A)
against a tower family on the images the generator makes, both read on the generator's
patch grid (`empirics.capture.generated`).

One family per tower family (``generated-openclip``, ``generated-dinov2``,
``generated-dinov3``), so that a series never mixes towers; their registry line is in
`empirics.pipeline.pairs`.
"""

from __future__ import annotations

from empirics.capture.generated import generated_images, generated_pair_source
from empirics.models.adapters import MatchFamily
from empirics.pipeline.families import SYNTHETIC_IMAGES

#: The tower families a pMF generator is matched against.
TOWERS = ("openclip", "dinov2", "dinov3")


def generated_inputs(choice) -> tuple[list, None]:
    """`choice.images` images to generate, each from its own seed (`choice.image_seed`); an
    --image-dir is refused before this, by `empirics.pipeline.pairs.check_inputs`."""
    count = SYNTHETIC_IMAGES if choice.images is None else choice.images
    return generated_images(count, seed=choice.image_seed), None


def generated_source(generator, tower, images, *, options, device, cache_dir):
    """The generator's and the tower's activations on the images it generates."""
    return generated_pair_source(generator, tower, images, images_per_batch=options.batch,
                                 out_device=device, cache_dir=cache_dir, progress=True)


def generated_family(tower: str) -> MatchFamily:
    """pMF (/16, 256 px) against the tower family `tower`."""
    return MatchFamily(name=f"generated-{tower}", sides=("pmf", tower), kind="vision",
                       inputs=generated_inputs, source=generated_source, generator=True)


GENERATED = tuple(generated_family(tower) for tower in TOWERS)
