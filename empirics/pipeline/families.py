"""The language and vision match families (`empirics.models.adapters.MatchFamily`): text
documents captured at aligned byte spans, images captured on a common patch grid.

Their registry lines are in `empirics.pipeline.pairs`, beside the generated families'
(`empirics.pipeline.generated`).
"""

from __future__ import annotations

from empirics.capture.dataset import dataset_documents
from empirics.capture.draw import draw_documents
from empirics.capture.offline import load_corpus
from empirics.capture.pair import image_pair_source, text_pair_source
from empirics.capture.stimuli import (
    default_corpus,
    load_image_folder,
    load_text_files,
    synthetic_images,
)
from empirics.models.adapters import MatchFamily

#: Images made when --images is not given (synthetic, or a generated family's).
SYNTHETIC_IMAGES = 64


def text_inputs(choice) -> tuple[list, dict]:
    """The documents (a built corpus's held-out split, a --dataset, text files, or the
    embedded corpus), `choice.docs` of them drawn by `choice.docs_draw`, and where they come
    from: the built corpus (digest, recipe, split) or the dataset
    (`empirics.capture.dataset`), and how they were drawn (`empirics.capture.draw`)."""
    provenance, categories = {}, None
    if choice.corpus:
        corpus = load_corpus(choice.corpus)
        documents, categories = corpus.labelled("heldout")
        provenance = {"sha256": corpus.sha256, "recipe": corpus.manifest["recipe"],
                      "split": "heldout"}
    elif choice.dataset:
        return dataset_documents(choice.dataset_inputs(), choice.docs,
                                 seed=choice.docs_seed, rule=choice.docs_draw)
    elif choice.text:
        documents = load_text_files(choice.text)
    else:
        documents = default_corpus()
    documents, draw = draw_documents(documents, choice.docs, seed=choice.docs_seed,
                                     categories=categories, rule=choice.docs_draw)
    return documents, provenance | {"draw": draw}


def text_source(model_a, model_b, documents, *, options, device, cache_dir):
    """Both language models' activations at the byte spans they share."""
    return text_pair_source(model_a, model_b, documents, docs_per_batch=options.batch,
                            max_tokens=options.tokens, out_device=device, cache_dir=cache_dir,
                            progress=True, alignment=options.replay)


def image_inputs(choice) -> tuple[list, dict | None]:
    """The images of an image folder (`choice.images` of them drawn with
    `choice.image_seed`, the draw recorded, when asked for), else `choice.images` synthetic
    ones (`SYNTHETIC_IMAGES` when not given)."""
    if choice.image_dir:
        images, draw = load_image_folder(choice.image_dir, choice.images,
                                         seed=choice.image_seed)
        return images, None if choice.images is None else {"draw": draw}
    count = SYNTHETIC_IMAGES if choice.images is None else choice.images
    return synthetic_images(count), None


def image_source(model_a, model_b, images, *, options, device, cache_dir):
    """Both towers' activations on the images, on a common patch grid."""
    return image_pair_source(model_a, model_b, images, images_per_batch=options.batch,
                             out_device=device, cache_dir=cache_dir, progress=True)


LANGUAGE = MatchFamily(name="language", sides=("pythia", "opt"), kind="text",
                       inputs=text_inputs, source=text_source, replay=True)
VISION = MatchFamily(name="vision", sides=("openclip", "dinov2"), kind="vision",
                     inputs=image_inputs, source=image_source)
