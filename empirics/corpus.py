"""python -m empirics.corpus: build the offline text corpus (training split and held-out
matching stimulus) from the standard library, the interpreter's help and the Debian
documentation on this machine (`empirics.capture.offline`).

    python -m empirics.corpus --out corpora/local [--heldout 5] [--no-debian] [--force]

Prints the documents and characters per category and split and the corpus's sha256.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from empirics.capture.offline import Recipe, build_corpus
from runstore.commands import add_debug_flag, command_parser, reported


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("python -m empirics.corpus", __doc__)
    p.add_argument("--out", type=Path, default=Path("corpora/local"),
                   help="directory of the corpus")
    p.add_argument("--heldout", type=int, default=Recipe.heldout_percent,
                   help="percent of the source files held out as the matching stimulus")
    p.add_argument("--chunk", type=int, default=Recipe.chunk_chars,
                   help="largest document, in characters")
    p.add_argument("--no-debian", action="store_true",
                   help="leave out /usr/share (licences, READMEs, manual pages)")
    p.add_argument("--stdlib", default=Recipe.stdlib, help="the standard library read")
    p.add_argument("--share", default=Recipe.share, help="the /usr/share tree read")
    p.add_argument("--force", action="store_true", help="rebuild an existing corpus")
    add_debug_flag(p)
    return p


def main(argv: list[str] | None = None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 0 < args.heldout < 100 or args.chunk < 100:
        parser.error("--heldout must lie in (0, 100) and --chunk be at least 100")
    recipe = Recipe(stdlib=args.stdlib, share=args.share, heldout_percent=args.heldout,
                    chunk_chars=args.chunk, debian_docs=not args.no_debian)
    with reported(parser, debug=args.debug):
        corpus = build_corpus(args.out, recipe, force=args.force, progress=True)
    for split, info in corpus.manifest["splits"].items():
        print(f"{split}: {info['documents']} documents, {info['bytes'] / 1e6:.1f} MB")
        for category, tally in sorted(info["categories"].items()):
            print(f"  {category:>12}: {tally['documents']:>7} documents, "
                  f"{tally['characters'] / 1e6:7.2f} M characters")
    print(f"sha256 {corpus.sha256}\ncorpus: {corpus.directory}")
    return corpus


if __name__ == "__main__":
    main()
