"""Top-activating samples per neuron, collected while the engine streams the inputs.

`TopExamples` keeps, for every neuron, its k largest activations and the global index of the
sample (aligned text span, image position, toy input) each came from. `observe_first_pass`
wraps a `Source` so an observer sees every batch of the first complete pass over the stream,
the pass the matching engine makes anyway: no second pass over the data is needed.
`ExamplesRecord` stores both models' examples with the sample table that maps a sample index
back to its input (document and byte span, or image and grid position). For images, `TopImages`
also keeps every neuron's top images (by its peak over the image's positions) with its
activation map on each, and the record holds small thumbnails, so a report can draw
activation-map overlays from the record alone.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from empirics.engine.moments import Source
from empirics.engine.topk import TopK, merge_partners, sorted_topk
from empirics.records.examples import ExamplesRecord

Observer = Callable[[int, torch.Tensor, torch.Tensor], None]


class TopExamples:
    """Streaming top-k samples per neuron (largest activation first, earlier sample on ties).

    Parameters
    ----------
    n_neurons : neurons (columns of every batch).
    k : examples kept per neuron.
    """

    def __init__(self, n_neurons: int, k: int):
        if k < 1:
            raise ValueError(f"at least one example per neuron is needed, got k={k}")
        self.n_neurons, self.k = int(n_neurons), int(k)
        self.n_samples = 0
        self._best: TopK | None = None

    def update(self, activations: torch.Tensor) -> None:
        """Add one batch (samples, neurons); its samples follow those already seen."""
        if activations.ndim != 2 or activations.shape[1] != self.n_neurons:
            raise ValueError(f"expected a batch of shape (samples, {self.n_neurons}), "
                             f"got {tuple(activations.shape)}")
        rows = activations.shape[0]
        if rows == 0:
            return
        values, order = sorted_topk(activations.T.float(), min(self.k, rows), dim=1)
        found = TopK(values, order + self.n_samples)
        self._best = found if self._best is None else merge_partners(self._best, found, self.k)
        self.n_samples += rows

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        """(values, samples), each (neurons, k); a neuron seen on fewer than k samples is
        padded with NaN values and sample index -1."""
        values = np.full((self.n_neurons, self.k), np.nan, dtype=np.float32)
        samples = np.full((self.n_neurons, self.k), -1, dtype=np.int64)
        if self._best is not None:
            kept = self._best.values.shape[1]
            values[:, :kept] = self._best.values.cpu().numpy()
            samples[:, :kept] = self._best.indices.cpu().numpy()
        return values, samples


class TopImages:
    """Streaming top-k images per neuron, ranked by the neuron's peak over an image's grid
    positions, with the neuron's (H, W) activation map on each kept image.

    Batches hold whole images, image-major (image, row, col), as `image_pair_source` yields
    them. Maps are kept in float16: the state is neurons x k x H x W x 2 bytes.
    """

    def __init__(self, n_neurons: int, k: int, grid: tuple[int, int]):
        if k < 1:
            raise ValueError(f"at least one image per neuron is needed, got k={k}")
        self.n_neurons, self.k, self.grid = int(n_neurons), int(k), tuple(grid)
        self.n_images = 0
        self._values = self._images = self._maps = None

    def update(self, activations: torch.Tensor) -> None:
        """Add one batch (images * H * W, neurons); its images follow those already seen."""
        positions = self.grid[0] * self.grid[1]
        rows = activations.shape[0]
        if activations.ndim != 2 or activations.shape[1] != self.n_neurons or rows % positions:
            raise ValueError(f"expected (images * {positions}, {self.n_neurons}) activations "
                             f"of whole {self.grid} grids, got {tuple(activations.shape)}")
        if rows == 0:
            return
        x = activations.float().reshape(rows // positions, positions, self.n_neurons)
        values, order = sorted_topk(x.amax(dim=1).T, min(self.k, x.shape[0]), dim=1)
        maps = x.permute(2, 0, 1).gather(1, order[..., None].expand(-1, -1, positions))
        images = order + self.n_images
        self.n_images += x.shape[0]
        if self._values is not None:  # the running best come first: they win ties
            values = torch.cat([self._values, values], dim=1)
            images = torch.cat([self._images, images], dim=1)
            maps = torch.cat([self._maps.float(), maps], dim=1)
            values, keep = sorted_topk(values, min(self.k, values.shape[1]), dim=1)
            images = images.gather(1, keep)
            maps = maps.gather(1, keep[..., None].expand(-1, -1, positions))
        self._values, self._images, self._maps = values, images, maps.half()

    def result(self) -> dict[str, np.ndarray]:
        """"values" (neurons, k) peaks, "inputs" (neurons, k) image indices (-1 and NaN past
        the images seen) and "maps" (neurons, k, H, W) uint8: each map over its own peak,
        clipped to [0, 1], times 255 (negative activations show as 0)."""
        values = np.full((self.n_neurons, self.k), np.nan, dtype=np.float32)
        images = np.full((self.n_neurons, self.k), -1, dtype=np.int64)
        maps = np.zeros((self.n_neurons, self.k, *self.grid), dtype=np.uint8)
        if self._values is not None:
            kept = self._values.shape[1]
            values[:, :kept] = self._values.cpu().numpy()
            images[:, :kept] = self._images.cpu().numpy()
            peak = self._values.clamp_min(torch.finfo(torch.float32).tiny)[..., None]
            scaled = (self._maps.float() / peak).clamp(0, 1).mul(255).round()
            maps[:, :kept] = scaled.to(torch.uint8).reshape(-1, kept, *self.grid).cpu().numpy()
        return {"values": values, "inputs": images, "maps": maps}


class FirstPass:
    """A `Source` whose first complete pass also calls `observer(batch_index, a, b)`.

    Each batch is observed exactly once, in order: later passes, and the repeated start of a
    pass after one abandoned part way, are not observed again. `complete` tells whether a
    whole pass has been read; `finish()` reads the rest of one if not.
    """

    def __init__(self, source: Source, observer: Observer):
        self.source, self.observer = source, observer
        self.seen, self.complete = 0, False

    def __call__(self):
        for index, (a, b) in enumerate(self.source()):
            if index == self.seen:
                self.observer(index, a, b)
                self.seen += 1
            yield a, b
        self.complete = True

    def finish(self) -> None:
        """Complete the first pass (a resumed engine run may not have needed one)."""
        if not self.complete:
            for _ in self():
                pass


#: Images (with activation maps) kept per neuron by default: the maps dominate an image
#: run's examples record (neurons x images x H x W bytes per model, ~38 MB per model of
#: ViT-B/16's 36,864 neurons on a 16 x 16 grid at 4 images, four times that at 16).
IMAGES_PER_NEURON = 4


def collect_examples(source: Source, n_a: int, n_b: int, k: int,
                     grid: tuple[int, int] | None = None,
                     images: int = IMAGES_PER_NEURON
                     ) -> tuple[Source, Callable[[], tuple]]:
    """Wrap `source` to gather both models' top-k examples on its first pass.

    Returns the wrapped source and a function giving the two finished `TopExamples`, then,
    when `grid` (the images' (H, W) sample grid) is given, the two finished `TopImages` of
    min(k, `images`) images each (it reads the rest of the first pass if the stream has not
    been read through yet).
    """
    tops = (TopExamples(n_a, k), TopExamples(n_b, k))
    if grid is not None:
        tops += (TopImages(n_a, min(k, images), grid), TopImages(n_b, min(k, images), grid))

    def observe(index: int, a: torch.Tensor, b: torch.Tensor) -> None:
        for top, batch in zip(tops, (a, b, a, b)):
            top.update(batch)

    wrapped = FirstPass(source, observe)

    def finished() -> tuple:
        wrapped.finish()
        return tops

    return wrapped, finished


def thumbnail(image, size: int = 64) -> np.ndarray:
    """A (size, size, 3) uint8 thumbnail of a PIL image: centre square crop, then resize.

    Notes
    -----
    Vision preprocessing resizes the short side and centre-crops, so the patch grid covers
    the centre square; overlays drawn on this thumbnail line up with it.
    """
    from PIL import Image

    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    square = image.convert("RGB").crop((left, top, left + side, top + side))
    return np.asarray(square.resize((size, size), Image.Resampling.BICUBIC), dtype=np.uint8)


def pair_examples_record(tops, pair, name_a: str, name_b: str, inputs: list) -> ExamplesRecord:
    """The examples record of a captured pair (`empirics.capture.CapturedPair`) from the
    finished tops of `collect_examples` (two `TopExamples`, then two `TopImages` if any)."""
    (values_a, samples_a), (values_b, samples_b) = (top.result() for top in tops[:2])
    return ExamplesRecord(
        config={"capture": pair.manifest, "k": tops[0].k}, model_a=name_a, model_b=name_b,
        k=tops[0].k, layer_sizes_a=list(pair.layer_sizes_a),
        layer_sizes_b=list(pair.layer_sizes_b), values_a=values_a, samples_a=samples_a,
        values_b=values_b, samples_b=samples_b, sample_table=pair.sample_table(),
        inputs=[item.id for item in inputs],
        texts=[item.text for item in inputs] if pair.manifest["kind"] == "text" else [],
        images=image_examples(tops[2:], inputs, pair.render) if len(tops) > 2 else {})


def image_grid(pair) -> tuple[int, int] | None:
    """The (H, W) sample grid of an image pair (None for text)."""
    if pair.manifest["kind"] != "image":
        return None
    table = pair.sample_table()
    return int(table["row"].max()) + 1, int(table["col"].max()) + 1


def image_examples(tops, inputs: list, render=None) -> dict:
    """Both models' top images with their maps, and thumbnails of the images they show
    (`render(i)` makes image i again where the inputs are generated, not stored)."""
    found = {f"{name}_{side}": array for side, top in zip("ab", tops)
             for name, array in top.result().items()}
    shown = np.unique(np.concatenate([found["inputs_a"].ravel(), found["inputs_b"].ravel()]))
    shown = shown[shown >= 0]
    image = render or (lambda i: inputs[i].image)
    return found | {"thumbnails": np.stack([thumbnail(image(int(i))) for i in shown]),
                    "thumbnail_inputs": shown.astype(np.int64)}
