"""Which pairs and which inputs a family's match runs on: the matched-scale pairs of each
family (`--all`) or the pair named, checked against the family's kind (a generated family
pairs a pMF generator, model A, with a tower), and the documents or images the family is
matched on (the embedded or a built corpus, text files, an image folder, synthetic images,
or the generator's own images, empirics.capture.generated).
"""

from __future__ import annotations

import functools

from empirics.capture.dataset import dataset_documents
from empirics.capture.draw import draw_documents
from empirics.capture.generated import generated_images
from empirics.capture.offline import load_corpus
from empirics.capture.stimuli import (
    default_corpus,
    load_image_folder,
    load_text_files,
    synthetic_images,
)
from empirics.models.detect import resolve_model
from empirics.models.missing import each_or_missing
from empirics.models.registry import ModelSpec, matched_pairs
from empirics.pipeline.options import InputChoice

#: The cross-family pairs at matched scale that `--all` runs, per kind.
#: A "generated-" family matches the pMF generator (model A) against a tower family on the
#: images the generator makes (empirics.capture.generated).
FAMILY_PAIRS = {"language": ("pythia", "opt"), "vision": ("openclip", "dinov2"),
                "generated-openclip": ("pmf", "openclip"), "generated-dinov2": ("pmf", "dinov2"),
                "generated-dinov3": ("pmf", "dinov3")}
#: Images made when --images is not given (synthetic, or a generated family's).
SYNTHETIC_IMAGES = 64
KINDS = {"language": "text"} | {family: "vision" for family in FAMILY_PAIRS if family != "language"}


def pairs_for(family: str, pair: tuple | None = None, paths: tuple = (None, None),
              **lookup) -> list[tuple]:
    """(spec_a, spec_b, (path_a, path_b)) of `pair` (any two models: registry names,
    checkpoint folders, Hugging Face ids or open_clip tags, with the checkpoints `paths`;
    `resolve_model`, which `lookup` passes cache_dir and download), or of every
    matched-scale pair of `family`; a model of another kind than the family's is refused
    by name."""
    if pair:
        (spec_a, path_a), (spec_b, path_b) = each_or_missing(
            functools.partial(resolve_model, name, path, **lookup)
            for name, path in zip(pair, paths))
        found = [(spec_a, spec_b, (path_a, path_b))]
    else:
        found = [(a, b, paths) for a, b in matched_pairs(*FAMILY_PAIRS[family])]
    check_kinds(family, found)
    return found


def check_kinds(family: str, found: list[tuple]) -> None:
    """Refuse, by name, a model of another kind than the family's, and a generated family's
    pair that is not a generator and a tower (`check_generated`)."""
    for spec in sorted({spec for a, b, _ in found for spec in (a, b)}, key=lambda s: s.name):
        if spec.kind != KINDS[family]:
            raise ValueError(f"{spec.name} is a {spec.kind} model, not a {family} model")
    for spec_a, spec_b, _ in found:
        check_generated(family, spec_a, spec_b)


def check_generated(family: str, spec_a: ModelSpec, spec_b: ModelSpec) -> None:
    """A generated family's pair is a generator (A) and a tower (B); no other family has a
    generator (it reads noise, not images)."""
    generated = family.startswith("generated")
    if generated and (spec_a.loader != "pmf" or spec_b.loader == "pmf"):
        raise ValueError(f"the {family} family pairs a pMF generator (model A) with a tower "
                         f"(model B), not {spec_a.name} x {spec_b.name}")
    if not generated and "pmf" in (spec_a.loader, spec_b.loader):
        raise ValueError(f"a pMF generator is matched on its own images: use --family "
                         f"generated-openclip, generated-dinov2 or generated-dinov3, not "
                         f"{family}")


def check_inputs(family: str, choice: InputChoice) -> None:
    """Refuse inputs of another kind than the family's: a --dataset of documents for images,
    an --image-dir for a generated family (matched on the generator's own images)."""
    if family != "language" and choice.dataset:
        raise ValueError(f"--dataset holds documents; the {family} family is matched on "
                         "images")
    if family.startswith("generated") and choice.image_dir:
        raise ValueError(f"the {family} family matches on the generator's own images; "
                         "--image-dir does not apply")


def inputs_for(family: str, choice: InputChoice) -> tuple[list, dict | None]:
    """The inputs of a family's pairs (documents or images) and what their records state
    about them: for documents, the built corpus they come from (digest, recipe, split) and
    how they were drawn (`empirics.capture.draw`: `--docs` of them, stratified by the
    corpus's categories); None for images."""
    if family == "language":
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
    check_inputs(family, choice)
    count = SYNTHETIC_IMAGES if choice.images is None else choice.images
    if family.startswith("generated"):
        return generated_images(count, seed=choice.image_seed), None
    if choice.image_dir:  # a draw is recorded when one is asked for
        images, draw = load_image_folder(choice.image_dir, choice.images,
                                         seed=choice.image_seed)
        return images, None if choice.images is None else {"draw": draw}
    return synthetic_images(count), None
