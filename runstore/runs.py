"""Run directories: one per whole configuration (a hash), found again by kind and fields, and
reused instead of recomputed unless forced (docs/design.md, "Records")."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Callable, Sequence, TypeVar

from runstore.header import RECORD_FILE, RecordError, read_header, to_json_ready
from runstore.record import Record

R = TypeVar("R", bound=Record)

log = logging.getLogger("runstore")


def record_exists(directory: str | Path) -> bool:
    """Whether `directory` holds a finished record (its record.json)."""
    return (Path(directory) / RECORD_FILE).is_file()


def load_any(directory: str | Path, classes: Sequence[type[R]]) -> R:
    """The record in `directory`, of whichever of `classes` its kind is; a record of another
    kind is refused naming the kinds expected."""
    kind = read_header(directory)["kind"]
    found = {cls.kind: cls for cls in classes}
    if kind not in found:
        raise RecordError(f"{directory} holds a record of kind {kind!r}, not one of "
                          f"{', '.join(found)}")
    return found[kind].load(directory)


def config_hash(config: dict, length: int = 12) -> str:
    """A stable hash of a whole config (canonical JSON: sorted keys, floats as repr)."""
    text = json.dumps(to_json_ready(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def run_dir(root: str | Path, stage: str, config: dict, label: str = "") -> Path:
    """The run directory of `config`: root/stage/<label>-<hash of the whole config>.

    Two configs that differ in any field get different directories, so they never overwrite
    each other; `label` only makes the name readable.
    """
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-")
    name = f"{slug}-{config_hash(config)}" if slug else config_hash(config)
    return Path(root) / stage / name


def find_records(root: str | Path, cls: type[R], *,
                 skipped: list[tuple[Path, str]] | None = None, **fields) -> list[tuple[Path, R]]:
    """Every record of class `cls` under `root` whose scalar fields equal `fields`.

    Parameters
    ----------
    root : str or Path
        The tree to scan for record.json files.
    cls : type of Record
        The class of the records wanted (matched by kind).
    skipped : list, optional
        Receives a (run directory, reason) pair for every record passed over as damaged.
    **fields
        Values the records' JSON fields must equal (None values are not checked).

    Returns
    -------
    list of (Path, Record)
        The run directories and their records, sorted by path.

    Notes
    -----
    Every damage is treated alike: a record.json that cannot be read or is not a record
    header (whatever record it was), or a record of the wanted kind that fails to load
    (another version, a missing field, damaged or foreign arrays), is skipped with a logged
    warning naming the path and the reason, and added to `skipped`; the scan goes on. Sound
    records of other kinds are passed over silently.
    """
    found = []
    for path in sorted(Path(root).rglob(RECORD_FILE)):
        directory = path.parent
        try:
            header = read_header(directory)
            wanted = all(header["fields"].get(k) == v for k, v in fields.items() if v is not None)
            if header["kind"] == cls.kind and wanted:
                found.append((directory, cls.load(directory)))
        except RecordError as error:
            log.warning("skipping the record in %s: %s", directory, error)
            if skipped is not None:
                skipped.append((directory, str(error)))
    return found


def made_with(directory: str | Path, config: dict) -> bool:
    """Whether `directory` holds a finished record made with exactly `config`."""
    if not record_exists(directory):
        return False
    return config_hash(read_header(directory)["config"]) == config_hash(config)


def reusable(directory: str | Path, *, force: bool = False, config: dict | None = None) -> bool:
    """Whether the record in `directory` is to be reused: it exists (made with `config`,
    when given) and `force` is not set."""
    if force:
        return False
    return made_with(directory, config) if config is not None else record_exists(directory)


def reuse_or_build(directory: str | Path, cls: type[R], build: Callable[[], R | None], *,
                   force: bool = False, config: dict | None = None, load: bool = True
                   ) -> tuple[R | None, bool]:
    """The record of `cls` saved in `directory`, or a new one from `build()` saved there.

    The saved record is reused unless `force`, or, when `config` is given, unless it was made
    with another config; with `load=False` a reused record is not read (None is returned in
    its place). `build` may return None (a process that does not write, such as a non-zero
    rank); nothing is saved then. Returns (record, reused).
    """
    if reusable(directory, force=force, config=config):
        log.info("reusing %s (pass --force to recompute)", directory)
        return (cls.load(directory) if load else None), True
    record = build()
    if record is not None:
        record.save(directory)
    return record, False
