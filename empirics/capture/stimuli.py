"""Text and image inputs with stable ids and sha256 digests (which go into records).

Defaults need no network: the embedded corpus of `empirics.capture.corpus` and procedurally drawn
images (gratings, blobs, rectangles, noise textures) from a seeded generator. A user's own text
files or image folder load through the same types.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from empirics.capture.corpus import DOCUMENTS
from empirics.capture.draw import draw_documents
from empirics.capture.sources import SourceError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


@dataclass(frozen=True)
class TextDocument:
    """One document: an id and its text."""

    id: str
    text: str

    @property
    def sha256(self) -> str:
        """Digest of the UTF-8 bytes of the text."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ImageStimulus:
    """One RGB image with an id."""

    id: str
    image: Image.Image

    @property
    def sha256(self) -> str:
        """Digest of the size and the raw RGB pixels (independent of the file format)."""
        digest = hashlib.sha256(f"{self.image.size}".encode())
        digest.update(self.image.tobytes())
        return digest.hexdigest()


def default_corpus() -> list[TextDocument]:
    """The embedded corpus (prose, multilingual text, code, data), in a fixed order."""
    return [TextDocument(doc_id, text) for doc_id, text in DOCUMENTS]


def load_text_files(paths: Sequence[str | Path], *, split_paragraphs: bool = False
                    ) -> list[TextDocument]:
    """Documents from UTF-8 text files, in the given order.

    Parameters
    ----------
    paths : text files; the id is the file name (plus ``#k`` per paragraph when split).
    split_paragraphs : make every blank-line-separated paragraph its own document.
    """
    documents = []
    for path in map(Path, paths):
        text = path.read_text(encoding="utf-8")
        if not split_paragraphs:
            documents.append(TextDocument(path.name, text))
            continue
        parts = [p.strip() for p in text.split("\n\n") if p.strip()]
        documents += [TextDocument(f"{path.name}#{k}", p) for k, p in enumerate(parts)]
    return documents


def synthetic_images(n_images: int, *, size: int = 224, seed: int = 0) -> list[ImageStimulus]:
    """`n_images` procedural RGB images, the same for the same (size, seed).

    Each image mixes a colour gradient, an oriented grating, soft blobs, rectangles and
    smoothed noise with random parameters, so patch positions see edges, textures and flat
    regions (spatial structure that MLP neurons can respond to, unlike white noise).
    """
    images = []
    for index in range(n_images):
        rng = np.random.default_rng([seed, index])
        pixels = _draw(rng, size)
        images.append(ImageStimulus(f"synthetic-{seed}-{index:05d}", Image.fromarray(pixels)))
    return images


def _draw(rng: np.random.Generator, size: int) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size] / size
    canvas = rng.uniform(0, 1, 3) * (1 - y[..., None]) + rng.uniform(0, 1, 3) * y[..., None]
    angle, freq = rng.uniform(0, np.pi), rng.uniform(2, 20)
    grating = 0.5 + 0.5 * np.sin(2 * np.pi * freq * (x * np.cos(angle) + y * np.sin(angle)))
    canvas += rng.uniform(0, 0.5) * (grating[..., None] - 0.5) * rng.uniform(0, 1, 3)
    for _ in range(rng.integers(1, 5)):
        cy, cx, radius = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.05, 0.3)
        blob = np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * radius ** 2))
        canvas = canvas * (1 - blob[..., None]) + blob[..., None] * rng.uniform(0, 1, 3)
    for _ in range(rng.integers(0, 4)):
        y0, x0 = rng.integers(0, size, 2)
        h, w = rng.integers(size // 16, size // 3, 2)
        canvas[y0:y0 + h, x0:x0 + w] = rng.uniform(0, 1, 3)
    noise = rng.standard_normal((size // 8, size // 8, 3))
    noise = np.kron(noise, np.ones((8, 8, 1)))[:size, :size]
    canvas += rng.uniform(0, 0.15) * noise
    return (np.clip(canvas, 0, 1) * 255).round().astype(np.uint8)


def load_image_folder(folder: str | Path, count: int | None = None, *, seed: int = 0
                      ) -> tuple[list[ImageStimulus], dict]:
    """The images of `folder` and its subfolders (an image-folder layout, one folder per
    class, or a flat folder), sorted by path and converted to RGB, and how they were drawn:
    all of them (`count` None), or `count` drawn with `seed`, each class folder in proportion
    (`empirics.capture.draw.draw_documents`); only those drawn are read. An image's id is
    its path inside `folder`. Refuses, by name, a folder without images and a file that is
    no image."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SourceError(f"{folder} is not a folder (expected a folder of images)")
    paths = sorted(p for p in folder.rglob("*")
                   if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not paths:
        raise SourceError(f"no image files ({', '.join(IMAGE_SUFFIXES)}) in {folder} or its "
                          "subfolders")
    names = [TextDocument(path.relative_to(folder).as_posix(), "") for path in paths]
    classes = {item.id: item.id.rpartition("/")[0] or "." for item in names}
    chosen, draw = draw_documents(names, count, seed=seed, categories=classes)
    stimuli = []
    for item in chosen:
        try:
            with Image.open(folder / item.id) as image:
                stimuli.append(ImageStimulus(item.id, image.convert("RGB")))
        except OSError as error:
            raise SourceError(f"{folder / item.id} is not a readable image ({error})") from None
    return stimuli, draw


def stimuli_digest(items: Sequence[TextDocument | ImageStimulus]) -> str:
    """One sha256 over the ids and digests of all inputs, in order (run hashes, manifests)."""
    digest = hashlib.sha256()
    for item in items:
        digest.update(f"{item.id}\0{item.sha256}\n".encode())
    return digest.hexdigest()
