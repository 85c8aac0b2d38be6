"""The rows of a researcher's dataset, read where it lies: a ``.jsonl`` file, a zstandard-compressed
``.jsonl.zst`` (the Pile's own format), a Parquet file, a folder saved by `datasets`'
``save_to_disk``, or a folder of data files that ``datasets.load_dataset`` reads.

Rows are read lazily, in the file's order, and each is a dict (a field of a field is named
with dots: ``meta.pile_set_name``, the Pile's subset). Everything that keeps a dataset from
being read, a file that is not what its name says, an empty one, a row without the field asked
for, is a `SourceError` naming the file, the row and what was expected. The official code
reads the Pile's ``val.jsonl.zst`` through ``zstdcat`` and passes over lines that are not JSON;
here a bad line is refused by its number, so a damaged download is never matched in part.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: The formats read, by how a file's name ends (a folder is read by `datasets`).
SUFFIXES = {".jsonl.zst": "jsonl.zst", ".jsonl": "jsonl", ".parquet": "parquet"}


class SourceError(OSError):
    """A dataset that cannot be read as asked (the message names the file and what was
    expected)."""


def source_format(path: Path) -> str:
    """"jsonl", "jsonl.zst", "parquet", "saved" (a `save_to_disk` folder) or "files" (a
    folder `datasets.load_dataset` reads); refuses anything else by name."""
    if path.is_dir():
        saved = any((path / name).is_file() for name in ("dataset_dict.json", "state.json"))
        return "saved" if saved else "files"
    if not path.exists():
        raise SourceError(f"{path} does not exist (expected a .jsonl, .jsonl.zst or .parquet "
                          "file, or a datasets folder)")
    for suffix, name in SUFFIXES.items():
        if path.name.endswith(suffix):
            return name
    if path.suffix == ".py":
        raise SourceError(f"{path}: a dataset script; the datasets library no longer runs "
                          "them (4.0 and later): give the folder it saved (save_to_disk) or "
                          "its data files")
    raise SourceError(f"{path}: not a dataset this package reads (expected a file ending in "
                      f"{', '.join(SUFFIXES)}, or a datasets folder)")


def field_value(row: dict, field: str) -> Any:
    """`row`'s value of `field` ("a.b": the field b of the field a); KeyError when absent."""
    value: Any = row
    for part in field.split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(field)
        value = value[part]
    return value


def read_rows(path: str | Path, *, split: str | None = None) -> Iterator[dict]:
    """The rows of the dataset at `path`, in order (`split`: the split of a dataset that has
    several). Refuses an empty dataset."""
    path = Path(path)
    reader = {"jsonl": _jsonl_rows, "jsonl.zst": _zst_rows, "parquet": _parquet_rows,
              "saved": _dataset_rows, "files": _dataset_rows}[source_format(path)]
    empty = True
    for row in reader(path, split):
        empty = False
        yield row
    if empty:
        raise SourceError(f"{path} holds no rows: expected one document per row")


def _lines(path: Path, stream) -> Iterator[dict]:
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as error:
            raise SourceError(f"{path}, line {number}: not JSON ({error}); expected one JSON "
                              "object per line") from None
        if not isinstance(row, dict):
            raise SourceError(f"{path}, line {number}: a JSON {type(row).__name__}, expected "
                              "an object such as {\"text\": ...}")
        yield row


def _jsonl_rows(path: Path, split: str | None) -> Iterator[dict]:
    try:
        with path.open(encoding="utf-8") as stream:
            yield from _lines(path, stream)
    except UnicodeDecodeError as error:
        raise SourceError(f"{path} is not UTF-8 text ({error})") from None


def _zst_rows(path: Path, split: str | None) -> Iterator[dict]:
    decoder = codecs.getincrementaldecoder("utf-8")()
    pending = ""
    try:
        for data in _zst_chunks(path):
            *lines, pending = (pending + decoder.decode(data)).split("\n")
            yield from _lines(path, lines)
        lines = [pending + decoder.decode(b"", final=True)]
    except UnicodeDecodeError as error:
        raise SourceError(f"{path} does not decompress to UTF-8 text ({error})") from None
    yield from _lines(path, lines)


def _zst_chunks(path: Path, size: int = 1 << 20) -> Iterator[bytes]:
    """The decompressed bytes of every frame of `path`, refusing data that is not zstandard
    and a last frame cut short (a truncated download would otherwise read as a short file)."""
    import zstandard

    frame, fed = zstandard.ZstdDecompressor().decompressobj(), False
    try:
        with path.open("rb") as raw:
            while chunk := raw.read(size):
                while chunk:
                    fed = True
                    yield frame.decompress(chunk)
                    chunk = b""
                    if frame.eof:  # the next frame starts in what is left
                        chunk = frame.unused_data
                        frame, fed = zstandard.ZstdDecompressor().decompressobj(), False
    except zstandard.ZstdError as error:
        raise SourceError(f"{path} is not zstandard-compressed JSON lines, or is damaged "
                          f"({error})") from None
    if fed:
        raise SourceError(f"{path} is not zstandard-compressed JSON lines, or is damaged "
                          "(it ends inside a frame: truncated)")


def _parquet_rows(path: Path, split: str | None) -> Iterator[dict]:
    import pyarrow
    from pyarrow import parquet

    try:
        for batch in parquet.ParquetFile(path).iter_batches(batch_size=1024):
            yield from batch.to_pylist()
    except pyarrow.ArrowException as error:
        raise SourceError(f"{path} is not a readable Parquet file ({error})") from None


def _dataset_rows(path: Path, split: str | None) -> Iterator[dict]:
    dataset, _ = load_split(path, split)
    yield from dataset


def source_split(path: str | Path, split: str | None) -> str | None:
    """The split that `read_rows` reads: the one named, the only one of a datasets folder,
    or None (a file, a folder of one unnamed split)."""
    path = Path(path)
    if source_format(path) not in ("saved", "files"):
        if split is not None:
            raise SourceError(f"{path} is one file with no splits; --dataset-split {split} "
                              "names none")
        return None
    return load_split(path, split)[1]


def load_split(path: Path, split: str | None):
    """(the `datasets.Dataset`, its split's name) of a saved folder or a folder of data
    files: the split named, or the only one."""
    import datasets

    try:
        if source_format(path) == "saved":
            found = datasets.load_from_disk(str(path))
        else:
            found = datasets.load_dataset(str(path), split=None)
    except (RuntimeError, FileNotFoundError, ValueError,
            datasets.exceptions.DatasetNotFoundError) as error:
        hint = ("the datasets library no longer runs dataset scripts (4.0 and later): save "
                "the script's split with save_to_disk under an earlier version, or write it "
                "as .jsonl or .parquet" if "script" in str(error) else "expected a folder "
                "written by save_to_disk or a folder of data files")
        raise SourceError(f"{path}: datasets cannot read this folder ({error}); "
                          f"{hint}") from None
    if isinstance(found, datasets.Dataset):
        if split is not None:
            raise SourceError(f"{path} holds one split; --dataset-split {split} names none")
        return found, None
    if split is None:
        if len(found) != 1:
            raise SourceError(f"{path} holds the splits {', '.join(found)}: name one with "
                              "--dataset-split")
        split = next(iter(found))
    if split not in found:
        raise SourceError(f"{path} has no split {split!r} (it holds {', '.join(found)})")
    return found[split], split
