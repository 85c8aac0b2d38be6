"""A paper figure (what it draws from, how to draw it) and building figures into files.

Every figure module defines its figures as `Figure` values (usually one, in `FIGURES`) and a
`main(argv=None)` that calls `figure_main(FIGURES, argv)`; `python -m paper_figs` builds the
figures of every module listed in `paper_figs.registry`.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Callable

import matplotlib

from paper_figs.needs import Found, MissingRecords, Need, RecordIndex
from paper_figs.style import RC, new_figure, save_figure
from runstore.commands import command_parser
from runstore.options import add_flags, flag, from_flags

#: Placeholder for the records root in `Figure.produced_by`.
RUNS = "RUNS"


@dataclasses.dataclass(frozen=True)
class Figure:
    """One figure of the paper.

    `name` is the file stem; `requires` the records it draws from (one list of `Found` per
    need is passed to `draw(records, fig)`, which lays out its own panels on `fig`);
    `produced_by` the command that writes those records (RUNS stands for the records root).
    `draw` may raise `MissingRecords` when the records present do not make a figure.
    """

    name: str
    caption: str
    requires: tuple[Need, ...]
    produced_by: str
    draw: Callable[[tuple[list[Found], ...], object], None]


@dataclasses.dataclass(frozen=True)
class BuildReport:
    built: dict[str, list[Path]]  # figure name -> written files
    skipped: dict[str, str]  # figure name -> why, and the command that makes its records
    problems: list[str]  # records that could not be read


def render(figure: Figure, records: tuple[list[Found], ...], out: str | Path) -> list[Path]:
    """Draw `figure` from `records` in the shared style; write out/name.png and .pdf."""
    with matplotlib.rc_context(RC):
        fig = new_figure()
        figure.draw(records, fig)
        return save_figure(fig, out, figure.name)


def build_figures(figures, root: str | Path, out: str | Path,
                  planned: dict[str, str] | None = None) -> BuildReport:
    """Build every figure whose records exist under `root`; report the others with the
    command that produces their records, and `planned` figures (name -> reason) as skipped."""
    index = RecordIndex(root)
    built, skipped = {}, dict(planned or {})
    for figure in figures:
        command = figure.produced_by.replace(RUNS, str(root))
        records = tuple(index.select(need) for need in figure.requires)
        missing = [need.describe() for need, found in zip(figure.requires, records) if not found]
        if missing:
            skipped[figure.name] = (f"no {' and no '.join(missing)} in {root}; "
                                    f"produce them with: {command}")
            continue
        try:
            built[figure.name] = render(figure, records, out)
        except MissingRecords as error:
            skipped[figure.name] = f"{error}; produce them with: {command}"
    return BuildReport(built, skipped, index.problems)


def format_report(report: BuildReport, figures) -> str:
    captions = {figure.name: figure.caption for figure in figures}
    lines = [f"built {name} ({captions[name]}): " + ", ".join(str(p) for p in paths)
             for name, paths in report.built.items()]
    lines += [f"skipped {name}: {why}" for name, why in report.skipped.items()]
    lines += [f"unreadable record: {problem}" for problem in report.problems]
    return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class Folders:
    """Where a figure command reads records and writes its files."""

    records: Path = flag(Path("runs"), "root of the run directories (the --out of the commands "
                         "that wrote the records)")
    out: Path = flag(Path("figures"), "folder for the PNG and PDF files")


def build_parser(prog: str, doc: str) -> argparse.ArgumentParser:
    """The parser of a figure command `prog`, described by the first paragraph of `doc`."""
    parser = command_parser(prog, doc)
    add_flags(parser, Folders)
    return parser


def figure_main(figures, argv: list[str] | None = None, *, prog: str | None = None,
                planned: dict[str, str] | None = None,
                parser: argparse.ArgumentParser | None = None) -> BuildReport:
    """The command line of a figure module (or of all of them, with their `parser`): build,
    print what was built and what was skipped; exit with status 1 when nothing could be
    built."""
    if parser is None:
        captions = "; ".join(f.caption.rstrip(".") for f in figures) + "."
        parser = build_parser(prog or f"python -m {figures[0].draw.__module__}", captions)
    folders = from_flags(Folders, parser.parse_args(argv))
    if not folders.records.is_dir():
        parser.exit(1, f"no records folder {folders.records}; run the commands that write "
                       f"records first, e.g.\n  python -m theory.simulate --beta 1.5 --out "
                       f"{folders.records}\n")
    report = build_figures(figures, folders.records, folders.out, planned)
    print(format_report(report, figures))
    if not report.built:
        sys.exit(1)
    return report
