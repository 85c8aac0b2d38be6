"""python -m empirics.train: train a family of small decoder language models on the offline
corpus (`empirics.pipeline.train`), resumable model by model.

    python -m empirics.corpus --out corpora/local
    python -m empirics.train --corpus corpora/local --out models/local [--widths 8,16,24,32,48,64]
           [--seeds 0,1] [--architectures gpt2,qwen2] [--tokens-per-param 20] [--device auto]

Each model lands in OUT/<architecture>-w<width>-s<seed>/ (save_pretrained, its tokenizer and
train_log.json); match two of them with
`python -m empirics.match --family language --pair NAME_A NAME_B --path-a DIR_A --path-b DIR_B`.
Prints, per model, its MLP neurons, tokens, time, held-out loss and its tokenizer's unigram
baseline on the same held-out tokens (add-one smoothed counts of the training split; "-" for a
model trained before logs kept it: see `empirics.pipeline.baseline`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from empirics.pipeline.train import TrainSettings, mlp_neurons, read_logs, train_family
from runstore.commands import add_debug_flag, command_parser, reported
from runstore.options import add_flags, from_flags


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("python -m empirics.train", __doc__)
    add_flags(p, TrainSettings)
    add_debug_flag(p)
    return p


def main(argv: list[str] | None = None) -> list[Path]:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = from_flags(TrainSettings, args)
    except ValueError as error:
        parser.error(str(error))
    with reported(parser, debug=args.debug):
        written = train_family(settings, progress=True)
    print(f"{'model':>16} {'layers':>6} {'neurons':>8} {'tokens':>10} {'seconds':>8} "
          f"{'held-out loss':>13} {'unigram':>8}")
    for directory, log in zip(written, read_logs(written)):
        neurons = mlp_neurons(log["architecture"], log["width"])
        print(f"{directory.name:>16} {log['layers']:>6} {neurons:>8} {log['tokens']:>10} "
              f"{log['seconds']:>8.1f} {log['heldout_loss']:>13.4f} "
              f"{_loss(log.get('unigram_loss')):>8}")
    return written


def _loss(value) -> str:
    return "-" if value is None else f"{value:.4f}"


if __name__ == "__main__":
    main()
