"""The match families (`MATCH_FAMILIES`, one registry line each) and which pairs and inputs
a family's match runs on: the matched-scale pairs of each family (`--all`) or the pair
named, checked against the family's kind (a generated family pairs a generator, model A,
with a tower), and the documents or images the family is matched on (its `inputs`: the
embedded or a built corpus, text files, an image folder, synthetic images, or the
generator's own images, `empirics.pipeline.generated`).
"""

from __future__ import annotations

import functools

from empirics.models.adapters import MatchFamily, Registry
from empirics.models.architectures import ARCHITECTURES
from empirics.models.detect import resolve_model
from empirics.models.missing import each_or_missing
from empirics.models.registry import ModelSpec, matched_pairs
from empirics.pipeline.families import LANGUAGE, VISION
from empirics.pipeline.generated import GENERATED
from empirics.pipeline.options import InputChoice

#: The match families, one registry line each (`empirics.models.adapters.MatchFamily`):
#: the cross-family pairs at matched scale that `--all` runs, their inputs and capture.
MATCH_FAMILIES: Registry[MatchFamily] = Registry("family", (
    LANGUAGE,
    VISION,
    *GENERATED,
), where="empirics.pipeline.pairs")


def match_family(name: str) -> MatchFamily:
    """The registered match family called `name` (a ValueError naming the known ones)."""
    try:
        return MATCH_FAMILIES.get(name)
    except KeyError as error:
        raise ValueError(error.args[0]) from None


def family_pairs() -> dict[str, tuple[str, str]]:
    """{family: (registry family of A, of B)} of every registered match family."""
    return {family.name: family.sides for family in MATCH_FAMILIES}


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
        found = [(a, b, paths) for a, b in matched_pairs(*match_family(family).sides)]
    check_kinds(family, found)
    return found


def check_kinds(family: str, found: list[tuple]) -> None:
    """Refuse, by name, a model of another kind than the family's, and a pair that is not a
    generator and a tower in a generator's family, or holds a generator in another
    (`check_generated`)."""
    kind = match_family(family).kind
    for spec in sorted({spec for a, b, _ in found for spec in (a, b)}, key=lambda s: s.name):
        if spec.kind != kind:
            raise ValueError(f"{spec.name} is a {spec.kind} model, not a {family} model")
    for spec_a, spec_b, _ in found:
        check_generated(family, spec_a, spec_b)


def is_generator(spec: ModelSpec) -> bool:
    """Whether `spec`'s architecture is a generator (it reads noise, not images)."""
    return (spec.architecture in ARCHITECTURES
            and ARCHITECTURES.get(spec.architecture).modality == "generator")


def check_generated(family: str, spec_a: ModelSpec, spec_b: ModelSpec) -> None:
    """A generator's family pairs a generator (A) with a tower (B); no other family takes a
    generator (it is matched on its own images)."""
    if match_family(family).generator:
        if not is_generator(spec_a) or is_generator(spec_b):
            raise ValueError(f"the {family} family pairs a generator (model A) with a tower "
                             f"(model B), not {spec_a.name} x {spec_b.name}")
    elif is_generator(spec_a) or is_generator(spec_b):
        families = [f.name for f in MATCH_FAMILIES if f.generator]
        raise ValueError(f"a generator is matched on its own images: use --family "
                         f"{', '.join(families)}, not {family}")


def check_inputs(family: str, choice: InputChoice) -> None:
    """Refuse inputs of another kind than the family's: a --dataset of documents for images,
    an --image-dir for a generated family (matched on the generator's own images)."""
    adapter = match_family(family)
    if adapter.kind != "text" and choice.dataset:
        raise ValueError(f"--dataset holds documents; the {family} family is matched on "
                         "images")
    if adapter.generator and choice.image_dir:
        raise ValueError(f"the {family} family matches on the generator's own images; "
                         "--image-dir does not apply")


def inputs_for(family: str, choice: InputChoice) -> tuple[list, dict | None]:
    """The inputs of a family's pairs (documents or images) and what their records state
    about them (`MatchFamily.inputs`): for documents, the built corpus they come from
    (digest, recipe, split) and how they were drawn (`empirics.capture.draw`: `--docs` of
    them, stratified by the corpus's categories); for images None, or the draw of an
    --image-dir sample."""
    check_inputs(family, choice)
    return match_family(family).inputs(choice)
