"""Documents from a researcher's dataset (`empirics.capture.sources`), with the paper's recipe as
an option, drawn as `empirics.capture.draw` draws a corpus's documents.

The paper's recipe (`recipe="paper"`) is the official code's Pile sampler
(language/data/pile_sampler.py, language/find_pairs/match_cache.py, match_cli.py): the text
is the field ``text`` and the subset ``meta.pile_set_name``; a document of fewer than 100
characters is skipped (the ``min_chars`` its cache build passes); documents are drawn in
proportion to their subsets; every document is cut at 8096 UTF-8 bytes (its ``--max_bytes``,
a character split by the cut dropped, as its ``truncate_utf8_to_max_bytes``). Each setting
given on its own (`text_field`, `subset_field`, `max_bytes`, `min_chars`) overrides the
recipe's. Not replayed: the official code also skips a document shorter than its context
(``--seq_length`` tokens of model A's tokenizer, which would give every pair other documents)
and shares its token budget by the subsets' tokens in the validation split
(``--pile_ratio_by tokens``); here the shares are by documents and the context is
``--tokens``.

The dataset is read twice: once for every row's length and subset (the draw), once for the
texts drawn, so a dataset larger than memory is drawn from without being held.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

from empirics.capture.draw import draw_documents
from empirics.capture.sources import (
    SourceError,
    field_value,
    read_rows,
    source_format,
    source_split,
)
from empirics.capture.stimuli import TextDocument

#: The settings of each recipe ("none": the text field only, nothing skipped or cut).
RECIPES = {"none": {"text_field": "text", "subset_field": None, "max_bytes": None,
                    "min_chars": 1},
           "paper": {"text_field": "text", "subset_field": "meta.pile_set_name",
                     "max_bytes": 8096, "min_chars": 100}}


@dataclasses.dataclass(frozen=True)
class DatasetInputs:
    """Where the documents are and how they are read: the dataset, its split, the text and
    subset fields, the byte cut and the shortest document kept (characters), and the recipe
    these came from."""

    path: Path
    split: str | None = None
    text_field: str = "text"
    subset_field: str | None = None
    max_bytes: int | None = None
    min_chars: int = 1
    recipe: str = "none"

    def __post_init__(self):
        if self.max_bytes is not None and self.max_bytes < 1:
            raise ValueError(f"--max-bytes must be at least 1, got {self.max_bytes}")
        if self.min_chars < 1:
            raise ValueError(f"--min-chars must be at least 1 (an empty document has no "
                             f"tokens), got {self.min_chars}")

    @classmethod
    def of_recipe(cls, path: Path, recipe: str = "none", *, split: str | None = None,
                  **given) -> DatasetInputs:
        """The recipe's settings, each overridden by the one given (None: not given)."""
        if recipe not in RECIPES:
            raise ValueError(f"--recipe must be one of {sorted(RECIPES)}, got {recipe!r}")
        unknown = set(given) - set(RECIPES[recipe])
        if unknown:
            raise TypeError(f"unknown settings {sorted(unknown)}")
        settings = RECIPES[recipe] | {k: v for k, v in given.items() if v is not None}
        return cls(Path(path), split, recipe=recipe, **settings)

    def to_config(self) -> dict:
        """What a record states of them (the file's name, not where it lay)."""
        return {"name": self.path.name, "format": source_format(self.path),
                "split": source_split(self.path, self.split), "text_field": self.text_field,
                "subset_field": self.subset_field, "max_bytes": self.max_bytes,
                "min_chars": self.min_chars, "recipe": self.recipe}


def cut_utf8(text: str, max_bytes: int | None) -> str:
    """`text` cut to at most `max_bytes` UTF-8 bytes, a character split by the cut dropped."""
    data = text.encode("utf-8")
    if max_bytes is None or len(data) <= max_bytes:
        return text
    return data[:max_bytes].decode("utf-8", errors="ignore")


def _rows(inputs: DatasetInputs):
    """(row number, the row's text, its subset or None) of every row, refusing a row without
    the fields asked for."""
    for number, row in enumerate(read_rows(inputs.path, split=inputs.split)):
        values = []
        for flag, field in (("--text-field", inputs.text_field),
                            ("--subset-field", inputs.subset_field)):
            if field is None:
                values.append(None)
                continue
            try:
                value = field_value(row, field)
            except KeyError:
                raise SourceError(f"{inputs.path}, row {number}: no field {field!r} (its "
                                  f"fields: {', '.join(map(str, row))}); name it with "
                                  f"{flag}") from None
            if not isinstance(value, str):
                raise SourceError(f"{inputs.path}, row {number}: the field {field!r} is a "
                                  f"{type(value).__name__}, expected text")
            values.append(value)
        yield number, *values


def dataset_documents(inputs: DatasetInputs, count: int | None, *, seed: int = 0,
                      rule: str = "stratified") -> tuple[list[TextDocument], dict]:
    """(the documents drawn, what a record states of them: the dataset's settings, its rows,
    those skipped as short, the digest of those kept and the draw).

    `count` documents (None: all) are drawn from the rows with at least `min_chars`
    characters by `rule` (`empirics.capture.draw.draw_documents`), stratified by the subset
    field when there is one; each is cut at `max_bytes`. A document's id is
    ``<dataset name>[/<split>]:<row>``.
    """
    split = source_split(inputs.path, inputs.split)
    prefix = inputs.path.name + (f"/{split}" if split else "")
    kept, labels, rows = [], {}, 0
    digest = hashlib.sha256()
    for number, text, subset in _rows(inputs):
        rows += 1
        if len(text) < inputs.min_chars:
            continue
        doc_id = f"{prefix}:{number}"
        kept.append(TextDocument(doc_id, ""))
        labels[doc_id] = subset
        digest.update(f"{number}\0{subset}\0{len(text)}\0".encode())
        digest.update(hashlib.sha256(text.encode("utf-8")).digest())
    if not kept:
        raise SourceError(f"{inputs.path}: none of its {rows} rows has {inputs.min_chars} "
                          f"characters or more in {inputs.text_field!r} (--min-chars)")
    chosen, draw = draw_documents(kept, count, seed=seed, rule=rule,
                                  categories=labels if inputs.subset_field else None)
    wanted = {int(item.id.rpartition(":")[2]) for item in chosen}
    documents, cut = [], 0
    for number, text, _ in _rows(inputs):
        if number in wanted:
            documents.append(TextDocument(f"{prefix}:{number}", cut_utf8(text, inputs.max_bytes)))
            cut += documents[-1].text != text
    source = inputs.to_config() | {"rows": rows, "skipped_short": rows - len(kept),
                                   "kept_sha256": digest.hexdigest(), "cut": cut}
    return documents, {"dataset": source, "draw": draw}


def dataset_text(source: dict) -> str:
    """Where a record's documents came from, in words (its `dataset` provenance)."""
    cut = (f", {source['cut']} cut at {source['max_bytes']} bytes"
           if source["max_bytes"] is not None else "")
    split = f" split {source['split']}" if source["split"] else ""
    return (f"from {source['name']}{split} (recipe {source['recipe']}: "
            f"{source['skipped_short']} of {source['rows']} rows under {source['min_chars']} "
            f"characters skipped{cut})")
