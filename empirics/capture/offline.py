"""A text corpus built offline from what a machine with Python has, for training and matching.

Sources, each with a category for the specialization analysis:

- code: the standard library's source (``*.py``, ``*.c`` under ``sysconfig``'s stdlib,
  without site-packages);
- prose: the interpreter's help topics (``pydoc_data.topics``) and plain-text READMEs and
  NEWS files under /usr/share/doc; English manual pages (/usr/share/man/man*), with the troff
  markup removed;
- multilingual: the manual pages of other languages (/usr/share/man/<lang>/);
- legal: licence texts (/usr/share/common-licenses, /usr/share/doc/*/copyright and the
  standard library's LICENSE);
- data: the standard library's data and configuration files (``*.json``, ``*.cfg``,
  ``*.ini``, ``*.toml``, ``*.csv``, ``*.xml``, the decimal test vectors ``*.decTest``, other
  ``*.txt``).

A file that is not strict UTF-8 (after gunzip for ``.gz``), or larger than `MAX_FILE_BYTES`,
is left out. Each file becomes documents of at most `CHUNK_CHARS` characters, cut at line
breaks. Whole files are assigned to the held-out split (the matching stimulus) by a hash of
their id, so no file is split between training and matching. The build is deterministic:
sources are read in sorted order, and the manifest states the recipe, the counts per category
and split, and the sha256 of each split, so two machines with the same sources build the same
corpus and a record names exactly what it saw. The sources are this machine's: the manifest
also records the Python version and operating system and, per source, the files read and a
digest of them (`empirics.capture.corpus_origin`), which say why two builds differ.

About 300 lines, kept whole: the recipe, the readers of each source, the chunking and the
split are one build read top to bottom; what a build depends on is already apart
(`empirics.capture.corpus_origin`).
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import re
import sysconfig
from pathlib import Path
from typing import Iterator

from empirics.capture.corpus_origin import SourceTally, environment
from empirics.capture.stimuli import TextDocument
from runstore import atomic_write_bytes, atomic_write_text
from runstore.options import check_fields, flag

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SPLITS = ("train", "heldout")
MAX_FILE_BYTES = 1 << 20
CHUNK_CHARS = 4000
DATA_SUFFIXES = (".json", ".cfg", ".ini", ".toml", ".csv", ".xml", ".decTest", ".txt")
TROFF_ESCAPE = re.compile(r"\\f[BIRP]|\\f\(..|\\\(..|\\[&e|^~]|\\s[-+]?\d")


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How the corpus is built: the roots read, the held-out share (percent of files), the
    document size, and whether the Debian documentation is read at all."""

    stdlib: str = flag(sysconfig.get_paths()["stdlib"], "the standard library read")
    share: str = flag("/usr/share", "the /usr/share tree read")
    heldout_percent: int = flag(5, "percent of the source files held out as the matching "
                                "stimulus", name="--heldout", above=0, below=100)
    chunk_chars: int = flag(CHUNK_CHARS, "largest document, in characters", name="--chunk",
                            at_least=100)
    debian_docs: bool = flag(True, "leave out /usr/share (licences, READMEs, manual pages)",
                             name="--no-debian")

    def __post_init__(self):
        check_fields(self)

    def to_config(self) -> dict:
        return dataclasses.asdict(self) | {"format": FORMAT_VERSION}


def _read_text(path: Path) -> str | None:
    """The file's text (gunzipped for .gz), or None when it is too large or not UTF-8."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return None
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile):
        return None
    return text.replace("\r\n", "\n")


def _plain(line: str) -> str:
    return TROFF_ESCAPE.sub("", line.replace("\\-", "-"))


def _troff_text(text: str) -> str:
    """A manual page without its troff requests and font escapes (plain enough to read)."""
    lines = []
    for line in text.split("\n"):
        if line.startswith((".", "'")):
            words = line.split(maxsplit=1)
            if words[0] in (".SH", ".SS", ".B", ".I", ".BR", ".IR", ".BI", ".IB") and len(
                    words) > 1:
                lines.append(_plain(words[1].replace('"', "")))
            continue
        lines.append(_plain(line))
    return "\n".join(lines)


def _files(root: Path, pattern: str) -> list[Path]:
    return sorted(p for p in root.glob(pattern) if p.is_file() and not p.is_symlink())


def _stdlib_sources(recipe: Recipe) -> Iterator[tuple[str, str, str]]:
    root = Path(recipe.stdlib)
    for path in _files(root, "**/*"):
        relative = path.relative_to(root).as_posix()
        if "site-packages" in relative or "__pycache__" in relative:
            continue
        if path.suffix in (".py", ".c"):
            category = "code"
        elif path.name == "LICENSE.txt":
            category = "legal"
        elif path.suffix in DATA_SUFFIXES:
            category = "data"
        else:
            continue
        text = _read_text(path)
        if text:
            yield f"stdlib/{relative}", category, text


def _help_topics() -> Iterator[tuple[str, str, str]]:
    from pydoc_data.topics import topics

    for name in sorted(topics):
        yield f"pydoc/{name}", "prose", topics[name]


def _debian_sources(recipe: Recipe) -> Iterator[tuple[str, str, str]]:
    share = Path(recipe.share)
    for path in _files(share / "common-licenses", "*"):
        text = _read_text(path)
        if text:
            yield f"licenses/{path.name}", "legal", text
    for path in _files(share / "doc", "*/*"):
        name = path.name.lower()
        if name == "copyright":
            category = "legal"
        elif name.startswith(("readme", "news")) and not name.endswith(".html"):
            category = "prose"
        else:
            continue
        text = _read_text(path)
        if text:
            yield f"doc/{path.relative_to(share / 'doc').as_posix()}", category, text
    for path in _files(share / "man", "**/*.gz"):
        section = path.parent.relative_to(share / "man").parts[0]
        category = "prose" if section.startswith("man") else "multilingual"
        text = _read_text(path)
        if text and not text.startswith(".so "):  # an alias of another page
            yield f"man/{path.relative_to(share / 'man').as_posix()}", category, \
                _troff_text(text)


def source_files(recipe: Recipe) -> Iterator[tuple[str, str, str]]:
    """(file id, category, text) of every source file, in a fixed order."""
    yield from _stdlib_sources(recipe)
    yield from _help_topics()
    if recipe.debian_docs:
        yield from _debian_sources(recipe)


def chunks(text: str, size: int) -> list[str]:
    """The text cut at line breaks into pieces of at most `size` characters (a longer line
    is cut where it must); blank pieces are dropped."""
    pieces, current = [], ""
    for line in text.splitlines(keepends=True):
        while len(line) > size:
            head, line = line[:size], line[size:]
            if current:
                pieces.append(current)
                current = ""
            pieces.append(head)
        if len(current) + len(line) > size:
            pieces.append(current)
            current = ""
        current += line
    pieces.append(current)
    return [p for p in pieces if p.strip()]


def split_of(file_id: str, heldout_percent: int) -> str:
    """"heldout" for `heldout_percent` of the files (by the hash of their id), else "train"."""
    bucket = int(hashlib.sha256(file_id.encode()).hexdigest()[:8], 16) % 100
    return "heldout" if bucket < heldout_percent else "train"


class CorpusError(OSError):
    """A corpus folder that does not hold the corpus its manifest describes (a damaged or
    missing split, a manifest that is not one): a data error, named by its file."""


@dataclasses.dataclass(frozen=True)
class Corpus:
    """A built corpus: its directory and manifest (recipe, counts, the sha256 of each split)."""

    directory: Path
    manifest: dict

    @property
    def sha256(self) -> str:
        """One digest of the whole corpus (both splits)."""
        return self.manifest["sha256"]

    def documents(self, split: str = "heldout") -> list[TextDocument]:
        """The documents of a split, checked against the manifest's digest."""
        return [TextDocument(item["id"], item["text"]) for item in self._items(split)]

    def labelled(self, split: str = "heldout") -> tuple[list[TextDocument], dict[str, str]]:
        """`documents` and `categories` of a split from one read of it."""
        items = self._items(split)
        return ([TextDocument(item["id"], item["text"]) for item in items],
                {item["id"]: item["category"] for item in items})

    def categories(self, split: str = "heldout") -> dict[str, str]:
        """{document id: category} of a split (`empirics.analysis.specialization`)."""
        return {item["id"]: item["category"] for item in self._items(split)}

    def _items(self, split: str) -> list[dict]:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        path = self.directory / f"{split}.jsonl"
        try:
            data = path.read_bytes()
        except OSError as error:
            raise CorpusError(f"{path}: the corpus's {split} split cannot be read "
                              f"({error.strerror}); rebuild it with --force") from None
        if hashlib.sha256(data).hexdigest() != self.manifest["splits"][split]["sha256"]:
            raise CorpusError(f"{path} does not match the sha256 in "
                              f"{self.directory / MANIFEST}: the corpus is damaged; rebuild it "
                              "with --force")
        return [json.loads(line) for line in data.decode("utf-8").splitlines()]


def load_corpus(directory: str | Path) -> Corpus:
    """The corpus built in `directory` (a clear error when there is none)."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"no corpus in {directory} (no {MANIFEST}); build one with "
                                f"python -m empirics.corpus --out {directory}")
    try:
        manifest = json.loads(path.read_text())
        if not isinstance(manifest, dict) or not all(
                isinstance(manifest.get("splits", {}).get(split, {}).get("sha256"), str)
                for split in SPLITS):
            raise ValueError("no sha256 of each split")
    except (ValueError, AttributeError) as error:
        raise CorpusError(f"{path} is not a corpus manifest ({error}); rebuild the corpus "
                          "with --force") from None
    if manifest.get("recipe", {}).get("format") != FORMAT_VERSION:
        raise CorpusError(f"{path} is a corpus of another format; rebuild it with --force")
    return Corpus(Path(directory), manifest)


def check_roots(recipe: Recipe) -> None:
    """Refuse a recipe whose roots are not folders: a wrong --stdlib or --share would build
    a small corpus of the rest without a word."""
    roots = [("stdlib", recipe.stdlib)] + ([("share", recipe.share)] if recipe.debian_docs
                                            else [])
    for name, root in roots:
        if not Path(root).is_dir():
            raise FileNotFoundError(f"--{name} {root} is not a folder; nothing was built")


def build_corpus(directory: str | Path, recipe: Recipe = Recipe(), *, force: bool = False,
                 progress: bool = False) -> Corpus:
    """Build the corpus of `recipe` into `directory` (train.jsonl, heldout.jsonl and the
    manifest, written atomically, the manifest last), or reuse the one built there with the
    same recipe unless `force`."""
    from runstore.progress import progress_bar
    directory = Path(directory)
    check_roots(recipe)
    if (directory / MANIFEST).is_file() and not force:
        corpus = load_corpus(directory)
        if corpus.manifest["recipe"] == recipe.to_config():
            return corpus
    directory.mkdir(parents=True, exist_ok=True)
    lines = {split: [] for split in SPLITS}
    counts = {split: {} for split in SPLITS}
    files_read = SourceTally()
    for file_id, category, text in progress_bar(source_files(recipe), desc="corpus files",
                                        show=progress, unit="file"):
        files_read.add(file_id, text)
        split = split_of(file_id, recipe.heldout_percent)
        for k, piece in enumerate(chunks(text, recipe.chunk_chars)):
            item = {"id": f"{file_id}#{k}", "category": category, "text": piece}
            lines[split].append(json.dumps(item, ensure_ascii=False, sort_keys=True))
            tally = counts[split].setdefault(category, {"documents": 0, "characters": 0})
            tally["documents"] += 1
            tally["characters"] += len(piece)
    splits = {}
    for split in SPLITS:
        data = ("\n".join(lines[split]) + "\n").encode("utf-8") if lines[split] else b""
        atomic_write_bytes(directory / f"{split}.jsonl", data)
        splits[split] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
                         "documents": len(lines[split]), "categories": counts[split]}
    whole = hashlib.sha256("".join(s["sha256"] for s in splits.values()).encode()).hexdigest()
    manifest = {"recipe": recipe.to_config(), "splits": splits, "sha256": whole,
                "environment": environment(recipe.stdlib), "sources": files_read.to_manifest()}
    atomic_write_text(directory / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True))
    return Corpus(directory, manifest)
