"""Finding the records a figure draws from: scan a records root once, select by need.

A `Need` names a record class (its `kind`), optionally the first folder under the records
root it must lie in (the stage of `runstore.run_dir`: "theory", "match", "compare",
"empirics") and header fields it must have (e.g. {"null": "untrained"}). Selection reads
only the small `record.json` headers; arrays are loaded for the records a figure uses.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from runstore import RECORD_FILE, Record, RecordError, read_header

log = logging.getLogger("paper_figs")


class MissingRecords(LookupError):
    """The records a figure needs are absent (the figure is skipped, not failed)."""


@dataclasses.dataclass(frozen=True)
class Need:
    """Records of class `record`, under `stage/` of the root, whose fields equal `where`."""

    record: type[Record]
    stage: str | None = None
    where: dict = dataclasses.field(default_factory=dict)

    def accepts(self, relative: Path, header: dict) -> bool:
        fields = header.get("fields", {})
        return (header.get("kind") == self.record.kind
                and (self.stage is None or relative.parts[:1] == (self.stage,))
                and all(fields.get(name) == value for name, value in self.where.items()))

    def describe(self) -> str:
        text = f"{self.record.kind!r} records"
        if self.stage:
            text += f" under {self.stage}/"
        if self.where:
            text += " with " + ", ".join(f"{k} = {v!r}" for k, v in self.where.items())
        return text


@dataclasses.dataclass(frozen=True)
class Found:
    """One loaded record: its run directory, its header (record.json) and the record."""

    path: Path
    header: dict
    record: Record


class RecordIndex:
    """The headers of every record under `root`, read once; `select` loads what a need asks.

    Damaged or unreadable records are skipped and listed in `problems` (with their path).
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.problems: list[str] = []
        self.headers: list[tuple[Path, dict]] = []
        self._loaded: dict[Path, Record] = {}
        for path in sorted(self.root.rglob(RECORD_FILE)):
            try:
                self.headers.append((path.parent, read_header(path.parent)))
            except RecordError as error:
                self._skip(str(error))

    def select(self, need: Need) -> list[Found]:
        """The records meeting `need`, sorted by path (unloadable ones go to `problems`)."""
        found = []
        for directory, header in self.headers:
            if not need.accepts(directory.relative_to(self.root), header):
                continue
            if directory not in self._loaded:
                try:
                    self._loaded[directory] = need.record.load(directory)
                except RecordError as error:
                    self._skip(str(error))
                    continue
            found.append(Found(directory, header, self._loaded[directory]))
        return found

    def _skip(self, message: str) -> None:
        if message not in self.problems:
            log.info("skipping a record: %s", message)
            self.problems.append(message)
