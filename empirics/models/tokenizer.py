"""A text model's tokenizer, loaded so that it cuts text as the saved tokenizer.json does.

`transformers.AutoTokenizer` (5.x) chooses the tokenizer class from the model type of
config.json. For a qwen2 checkpoint of `python -m empirics.train` it builds a `Qwen2Tokenizer`:
a byte-level BPE rebuilt from the vocabulary without merges, which ignores the saved unigram
model and cuts text into single characters (about twice the tokens the model was trained on;
on a probe sentence 40 tokens instead of 28). A model matched on such tokens would be measured
on inputs it never saw, with nothing in the numbers to say so. `text_tokenizer` therefore
checks the class AutoTokenizer picks against tokenizer.json itself (the `tokenizers` library)
on a probe text, and loads tokenizer.json as saved when they disagree.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

log = logging.getLogger(__name__)

#: Text on which a tokenizer is compared with its tokenizer.json: prose, code, whitespace
#: runs, digits and non-ASCII scripts.
PROBE = ("The quick brown fox jumps over the lazy dog.\n\tdef f(x):  return x ** 2  # 1234\n"
         "Ünïcödé, naïve café; 日本語のテキスト; Привет, мир!   end")


def saved_tokenizer(directory: str | Path, **options):
    """The fast tokenizer of `directory`'s tokenizer.json, as saved (no class by model type)."""
    import transformers

    directory = Path(directory)
    if not (directory / "tokenizer.json").is_file():
        raise FileNotFoundError(f"no tokenizer.json in {directory}")
    return transformers.PreTrainedTokenizerFast.from_pretrained(directory, **options)


def probe_ids(tokenizer) -> list[int]:
    """The tokenizer's ids of `PROBE`, without special tokens."""
    return list(tokenizer.encode(PROBE, add_special_tokens=False))


def text_tokenizer(source, **options):
    """AutoTokenizer's tokenizer of `source` (a checkpoint folder or a hub id); when the folder
    holds a tokenizer.json that cuts `PROBE` otherwise, that file as saved, with a warning."""
    import transformers

    tokenizer = transformers.AutoTokenizer.from_pretrained(source, use_fast=True, **options)
    saved = Path(source) / "tokenizer.json" if isinstance(source, Path) else None
    if saved is None or not saved.is_file():
        return tokenizer
    from tokenizers import Tokenizer

    reference = Tokenizer.from_file(str(saved)).encode(PROBE, add_special_tokens=False).ids
    if probe_ids(tokenizer) == list(reference):
        return tokenizer
    log.info("%s: transformers.AutoTokenizer builds a %s that does not cut text as its "
                "tokenizer.json does; loading tokenizer.json as saved", source,
                type(tokenizer).__name__)
    return saved_tokenizer(source, **options)


def probe_offsets(tokenizer) -> list[list[int]] | None:
    """The character spans the tokenizer gives `PROBE`'s tokens (what the input alignment
    reads), or None for a tokenizer without offsets."""
    try:
        encoded = tokenizer(PROBE, return_offsets_mapping=True, add_special_tokens=False)
    except (NotImplementedError, TypeError, ValueError):
        return None
    return [list(span) for span in encoded["offset_mapping"]]


def tokenization_identity(tokenizer) -> dict:
    """What a tokenizer does, for a run's identity: its class and the sha256 of its ids and
    character spans of `PROBE` (so records made by a tokenizer that cuts text otherwise, or
    places the same tokens on other characters, as a rewritten tokenizer may, are never
    reused)."""
    cut = json.dumps({"ids": probe_ids(tokenizer), "offsets": probe_offsets(tokenizer)})
    return {"class": type(tokenizer).__name__,
            "probe_sha256": hashlib.sha256(cut.encode()).hexdigest()}
