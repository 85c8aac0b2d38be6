"""python -m empirics.corpus: build the offline text corpus (training split and held-out
matching stimulus) from the standard library, the interpreter's help and the Debian
documentation on this machine (`empirics.capture.offline`).

    python -m empirics.corpus --out corpora/local [--heldout 5] [--no-debian] [--force]
    python -m empirics.corpus --out corpora/local --check OTHER/manifest.json

Prints the documents and characters per category and split and the corpus's sha256. The
sources are this machine's (Python version, installed manual pages, READMEs and licences), so
another machine may build another corpus: `--check MANIFEST` compares the build with another
build's manifest and, when they differ, says how (documents, Python version, the files read
per source) and exits with status 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from empirics.capture.corpus_origin import differences
from empirics.capture.offline import CorpusError, Recipe, build_corpus
from runstore.commands import add_debug_flag, command_parser, reported
from runstore.options import add_flags, flag, from_flags


@dataclasses.dataclass(frozen=True)
class Build:
    """Where the corpus goes, whether an existing one is rebuilt, and the manifest of another
    build to compare it with."""

    out: Path = flag(Path("corpora/local"), "directory of the corpus")
    force: bool = flag(False, "rebuild an existing corpus")
    check: Path | None = flag(None, "the manifest.json of another build: exit with status 1, "
                              "saying how, when this build differs from it", type=Path,
                              metavar="MANIFEST")


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("python -m empirics.corpus", __doc__)
    add_flags(p, Build)
    add_flags(p, Recipe)
    add_debug_flag(p)
    return p


def main(argv: list[str] | None = None):
    parser = build_parser()
    args = parser.parse_args(argv)
    build = from_flags(Build, args)
    try:
        recipe = from_flags(Recipe, args)
    except ValueError as error:
        parser.error(str(error))
    with reported(parser, debug=args.debug):
        expected = read_manifest(build.check) if build.check else None
        corpus = build_corpus(build.out, recipe, force=build.force, progress=True)
    for split, info in corpus.manifest["splits"].items():
        print(f"{split}: {info['documents']} documents, {info['bytes'] / 1e6:.1f} MB")
        for category, tally in sorted(info["categories"].items()):
            print(f"  {category:>12}: {tally['documents']:>7} documents, "
                  f"{tally['characters'] / 1e6:7.2f} M characters")
    print(f"sha256 {corpus.sha256}\ncorpus: {corpus.directory}")
    if expected is not None:
        report_check(parser, corpus, expected, build.check)
    return corpus


def read_manifest(path: Path) -> dict:
    """The manifest of another build (`--check`), refused by name when it is not one."""
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise CorpusError(f"--check {path}: not a readable corpus manifest ({error})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("sha256"), str):
        raise CorpusError(f"--check {path}: not a corpus manifest (no sha256)")
    return manifest


def report_check(parser: argparse.ArgumentParser, corpus, expected: dict, path: Path) -> None:
    """Print that the build is the one `path` describes, or exit 1 saying how it differs."""
    found = differences(corpus.manifest, expected)
    if not found:
        print(f"the build matches {path} (sha256 {corpus.sha256})")
        return
    parser.exit(1, f"{parser.prog}: error: this build differs from {path}:\n"
                + "\n".join(found) + "\n")


if __name__ == "__main__":
    main()
