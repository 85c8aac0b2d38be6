"""What a run of `python -m empirics.match` did, pair by pair, and how it is shown: a table for
a person, the same rows as JSON for a script, and the pairs whose models were missing."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from empirics.records.guarantee import guarantee_fields
from empirics.records.match import MatchRecord
from runstore import find_records


@dataclasses.dataclass(frozen=True)
class PairOutcome:
    """One pair of a run: its record's directory and the wall time it took (None: not timed),
    or, when a model's files are not available offline, the message saying what is missing."""

    model_a: str
    model_b: str
    seconds: float | None
    directory: Path | None = None
    missing: str | None = None


@dataclasses.dataclass(frozen=True)
class MatchRun:
    """What `run_match` did, pair by pair in order; `writer`: this process wrote the records
    (rank 0 under torchrun, the one that reports them)."""

    outcomes: tuple
    writer: bool = True

    @property
    def written(self) -> list[Path]:
        return [o.directory for o in self.outcomes if o.directory is not None]

    @property
    def missing(self) -> list[PairOutcome]:
        return [o for o in self.outcomes if o.missing is not None]


def recorded_run(root: Path) -> MatchRun:
    """The MatchRecords under `root` as an untimed run (the toy family's sweep)."""
    return MatchRun(tuple(PairOutcome(record.model_a, record.model_b, None, path)
                          for path, record in find_records(root, MatchRecord)))


def summary_rows(run: MatchRun) -> list[dict]:
    """One JSON-ready row per pair with a record: `MatchRecord.summary()`, what its pairs are
    guaranteed to be (`empirics.records.guarantee.guarantee_fields`), the wall time in seconds
    and the record's directory."""
    rows = []
    for o in run.outcomes:
        if o.directory is not None:
            record = MatchRecord.load(o.directory)
            rows.append(record.summary() | guarantee_fields(record.config.get("guarantee"))
                        | {"seconds": o.seconds, "record": str(o.directory)})
    return rows


def summary_json(run: MatchRun) -> dict:
    """The summary rows and the missing pairs, as `--json` prints them."""
    return {"pairs": summary_rows(run),
            "missing": [{"model_a": o.model_a, "model_b": o.model_b, "missing": o.missing}
                        for o in run.missing]}


def _optional(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


#: The table's columns: header and cell of a summary row (text columns are left-aligned).
COLUMNS = (
    ("pair", lambda r: f"{r['model_a']} x {r['model_b']}"),
    ("N a x b", lambda r: f"{r['n_neurons_a']} x {r['n_neurons_b']}"),
    ("tokens", lambda r: str(r["n_tokens"])),
    ("R", lambda r: str(r["n_rosetta"])),
    ("R/N", lambda r: f"{r['rosetta_fraction']:.3f}"),
    ("median r", lambda r: _optional(r["median_r"], ".3f")),
    ("dead a/b", lambda r: f"{r['dead_a']}/{r['dead_b']}"),
    ("null", lambda r: r["null"]),
    ("pairs", lambda r: r["guarantee"]),
    ("seconds", lambda r: _optional(r["seconds"], ".1f")),
    ("record", lambda r: r["record"]),
)
LEFT = ("pair", "null", "pairs", "record")


def format_summary(rows: list[dict]) -> str:
    """The summary rows as an aligned table, one line per pair under a header."""
    lines = [[name for name, _ in COLUMNS]] + [[cell(row) for _, cell in COLUMNS]
                                               for row in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(text.ljust(width) if name in LEFT else text.rjust(width)
                  for (name, _), text, width in zip(COLUMNS, line, widths)).rstrip()
        for line in lines)


def format_missing(missing: list[PairOutcome]) -> str:
    """The pairs that were not matched with what is missing (the pairs that miss the same
    files in one line)."""
    pairs = {}
    for o in missing:
        pairs.setdefault(o.missing, []).append(f"{o.model_a} x {o.model_b}")
    return "\n".join([f"{len(missing)} pair(s) not matched, a model's files are missing or "
                      "damaged:"]
                     + [f"  {', '.join(names)}: {message}" for message, names in pairs.items()])
