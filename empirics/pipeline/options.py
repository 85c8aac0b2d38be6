"""The settings of a pair's run as frozen dataclasses, each field listed once with its flag.

`MatchOptions` goes into a pair's record config whole (`to_config`); `InputChoice` says which
inputs are used (their ids go into the config); `Placement` says where the models run (not part
of the config: results do not depend on it beyond rounding). Each field is declared with its
flag and range (`runstore.options.flag`), so `python -m empirics.match` and
`python -m empirics.sweep` share one definition and neither imports the other.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from empirics.capture.dataset import RECIPES, DatasetInputs
from empirics.capture.draw import DRAWS
from runstore.options import add_flags, check_fields, flag, from_flags

__all__ = ["TWO_STAGE_FIELDS", "Destination", "InputChoice", "MatchOptions", "Placement",
           "add_flags", "add_pair_flags", "from_flags", "parse_max_memory"]


@dataclasses.dataclass(frozen=True)
class MatchOptions:
    """How one pair is matched; the record's config holds every field."""

    init: str = flag("pretrained", "weights: pretrained, or random (the untrained null)",
                     choices=("pretrained", "random"))
    null: str = flag("none", "input null: none, or permuted (B's samples shuffled in a batch)",
                     choices=("none", "permuted"))
    seed: int = flag(0, "seed of random inits and of the permutation null", type=int)
    dtype: str = flag("float32", "model weights and product precision",
                      choices=("bfloat16", "float16", "float32"))
    batch: int = flag(8, "documents or images per batch", type=int, at_least=1)
    tokens: int = flag(512, "max tokens per document", type=int, at_least=1)
    k: int = flag(1, "mutual top-k (1: nearest neighbours)", type=int, at_least=1)
    candidates: int = flag(3, "partners kept per neuron", type=int, at_least=1)
    groups: int = flag(64, "chunk groups for the data-level bootstrap", type=int, at_least=0)
    min_correlation: float | None = flag(None, "drop mutual pairs with r below this",
                                         type=float, at_least=-1.0, at_most=1.0)
    download: bool = flag(False, "allow downloading weights")
    cache_dir: str | None = flag(None, "Hugging Face cache directory", type=str)
    cache_activations: bool = flag(False, "keep the aligned activations on disk in the run "
                                   "directory, so the engine's later passes read them instead "
                                   "of re-running the models")
    examples: int = flag(16, "top-activating samples kept per neuron, gathered during the "
                         "first pass and saved beside the match (0: none)", type=int,
                         at_least=0)
    engine: str = flag("two-stage", "two-stage: a uniform sample of --subsample tokens picks "
                       "every neuron's --candidates best partners, and one more pass over the "
                       "stream gives their exact r and chunk sums (2 passes, each neuron's "
                       "result certified or counted as uncertified; docs/matching.md, "
                       "'Two-stage mode'); block: one pass per block of A's neurons, exact for "
                       "every pair. Ignored by --replay official",
                       choices=("two-stage", "block"))
    subsample: int = flag(2**17, "tokens of the two-stage engine's sample", type=int,
                          at_least=1)
    delta: float = flag(1e-3, "two-stage: probability, over the sample's draws, that the "
                        "certificate wrongly claims some neuron", type=float, above=0.0,
                        below=1.0)
    recheck_uncertified: bool = flag(False, "two-stage: find the exact best partners of "
                                     "uncertified neurons by block passes over them only")
    replay: str = flag("exact", "exact: this package's engine and alignment; official: replay "
                       "the paper's official code (language pairs only; docs/matching.md, "
                       "'Replaying the official code'): bfloat16 statistics with std = "
                       "sqrt(var + 1e-4), bfloat16 z-scores and accumulator, dead neurons "
                       "matched at r = 0, pairs kept at r >= 0 (or --min-correlation), the "
                       "official span alignment pooled in bfloat16. It keeps no per-chunk sums, "
                       "so it needs --groups 0 (no bootstrap error bars), runs in one process "
                       "without a checkpoint, and --dtype (bfloat16 or float32) sets only the "
                       "models' weights", choices=("exact", "official"))

    def __post_init__(self):
        check_fields(self)
        if self.candidates < self.k:
            raise ValueError(f"--candidates ({self.candidates}) must be at least --k "
                             f"({self.k})")
        if self.replay == "official" and self.groups:
            raise ValueError(f"--replay official keeps no per-chunk sums (the official code "
                             f"has no data-level bootstrap): pass --groups 0, not "
                             f"{self.groups}")
        if self.replay == "official" and self.dtype == "float16":
            raise ValueError("--replay official replays the official bfloat16 arithmetic; "
                             "--dtype float16 weights are not what it ran: use --dtype "
                             "bfloat16 (the official setting) or float32")

    def to_config(self) -> dict:
        """Every field, but `replay` only when it is not "exact" and the two-stage settings
        only for the two-stage engine (a config without them was made by the exact block
        engine, the only one before them), so the records and run directories of block runs
        keep their names and the engine's mode is part of every run's hash."""
        config = dataclasses.asdict(self)
        if config["replay"] == "exact":
            del config["replay"]
        if self.replay == "official" or self.engine == "block":
            for name in TWO_STAGE_FIELDS:
                del config[name]
        return config


#: The options that only the two-stage engine reads (with `engine` itself).
TWO_STAGE_FIELDS = ("engine", "subsample", "delta", "recheck_uncertified")


@dataclasses.dataclass(frozen=True)
class InputChoice:
    """Which inputs a family's pairs see: the embedded corpus or text files (language), or
    synthetic images or an image folder (vision)."""

    docs: int | None = flag(None, "documents to use (None: all), drawn by --docs-draw",
                            type=int, at_least=1, hint="leave it out for every document")
    docs_draw: str = flag("stratified", "how --docs documents are chosen: stratified (a seeded "
                          "sample, each category of the corpus in proportion) or first (the "
                          "split's first ones, which a corpus orders by source)",
                          choices=DRAWS)
    docs_seed: int = flag(0, "the seed of the stratified draw of --docs documents", type=int)
    text: tuple | None = flag(None, "text files instead of the embedded corpus", type=Path,
                              nargs="+")
    corpus: Path | None = flag(None, "a corpus built by python -m empirics.corpus: its "
                               "held-out split (its sha256 and recipe go into the records)",
                               type=Path)
    dataset: Path | None = flag(None, "a dataset of documents: a .jsonl, .jsonl.zst or "
                                ".parquet file with a text field, a folder saved by datasets' "
                                "save_to_disk, or a folder of data files datasets.load_dataset "
                                "reads (its settings, rows and draw go into the records)",
                                type=Path)
    dataset_split: str | None = flag(None, "--dataset: the split of a dataset with several",
                                     type=str)
    recipe: str = flag("none", "--dataset: paper: the paper's recipe (the official code's): "
                       "subsets meta.pile_set_name drawn in proportion, documents under 100 "
                       "characters skipped, each cut at 8096 bytes; each setting below "
                       "overrides it", choices=tuple(RECIPES))
    text_field: str | None = flag(None, "--dataset: the field holding the text (a.b: field b "
                                  "of field a; default text)", type=str)
    subset_field: str | None = flag(None, "--dataset: the field naming a document's subset; "
                                    "--docs are drawn in proportion to the subsets", type=str)
    max_bytes: int | None = flag(None, "--dataset: cut every document at this many UTF-8 "
                                 "bytes (the paper: 8096)", type=int, at_least=1)
    min_chars: int | None = flag(None, "--dataset: skip documents of fewer characters (the "
                                 "paper: 100)", type=int, at_least=0)
    images: int | None = flag(None, "synthetic images made, or a generated family's images "
                              "generated (None: 64); with --image-dir, the images drawn "
                              "from it, each class subfolder in proportion (None: all)",
                              type=int, at_least=1)
    image_seed: int = flag(0, "a generated family: the seed of the images' noise (image i "
                           "from a generator seeded i ^ seed); --image-dir: the seed of "
                           "the --images draw", type=int)
    image_dir: Path | None = flag(None, "a folder of images instead", type=Path)

    def __post_init__(self):
        check_fields(self)
        given = [f"--{name}" for name in ("text", "corpus", "dataset") if getattr(self, name)]
        if len(given) > 1:
            raise ValueError(f"{' and '.join(given)}: give one source of documents")
        if self.dataset is None:
            for name in DATASET_FIELDS:
                if getattr(self, name) not in (None, "none"):
                    raise ValueError(f"--{name.replace('_', '-')} reads a --dataset; none "
                                     "is given")

    def dataset_inputs(self) -> DatasetInputs | None:
        """How the --dataset is read (None without one)."""
        if self.dataset is None:
            return None
        return DatasetInputs.of_recipe(
            self.dataset, self.recipe, split=self.dataset_split, text_field=self.text_field,
            subset_field=self.subset_field, max_bytes=self.max_bytes, min_chars=self.min_chars)


#: The flags that only a --dataset reads.
DATASET_FIELDS = ("dataset_split", "recipe", "text_field", "subset_field", "max_bytes",
                  "min_chars")


def parse_max_memory(text: str) -> dict:
    """'0=70GiB,cpu=200GiB' -> {0: '70GiB', 'cpu': '200GiB'} (accelerate's max_memory)."""
    limits = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise argparse.ArgumentTypeError(f"expected DEVICE=SIZE items such as 0=70GiB, "
                                             f"got {item!r}")
        key = key.strip()
        limits[int(key) if key.isdigit() else key] = value.strip()
    return limits


@dataclasses.dataclass(frozen=True)
class Placement:
    """Where the models run: a device (resolved where the job runs), and optionally each
    model spread over devices through accelerate."""

    device: str = flag("auto", "auto (CUDA when present), cpu or cuda[:i]")
    device_map: str | None = flag(None, "spread each model over devices "
                                  "(transformers/accelerate), e.g. auto")
    max_memory: dict | None = flag(None, "per-device memory for --device-map, e.g. "
                                   "0=70GiB,1=70GiB,cpu=200GiB", type=parse_max_memory)

    def __post_init__(self):
        if self.max_memory is not None and self.device_map is None:
            raise ValueError("--max-memory needs --device-map (e.g. --device-map auto)")

    def loader_options(self) -> dict:
        """Keyword arguments of `load_model` for the models' placement."""
        if self.device_map is None:
            return {}
        return {"device_map": self.device_map, "max_memory": self.max_memory}


@dataclasses.dataclass(frozen=True)
class Destination:
    """Where a pair's record goes, and whether an existing one is recomputed."""

    out: Path = flag(Path("runs"), "root of run directories")
    force: bool = flag(False, "recompute existing records")


def add_pair_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of a pair's run shared by `empirics.match` and `empirics.sweep`: where
    records go, --force, and the groups of `InputChoice`, `MatchOptions` and `Placement`."""
    add_flags(parser, Destination)
    add_flags(parser.add_argument_group("inputs"), InputChoice)
    add_flags(parser.add_argument_group("matching (recorded in each pair's config)"),
              MatchOptions)
    add_flags(parser.add_argument_group("placement"), Placement)
