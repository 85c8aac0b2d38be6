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
from theory.runtime import resolve_device
from theory.validation import int_list


def build_parser() -> argparse.ArgumentParser:
    d = TrainSettings
    p = command_parser("python -m empirics.train", __doc__)
    p.add_argument("--corpus", type=Path, required=True, help="a python -m empirics.corpus dir")
    p.add_argument("--out", type=Path, default=d.out, help="where the models go")
    p.add_argument("--architectures", default=",".join(d.architectures),
                   help="comma-separated: gpt2 (GELU, BPE), qwen2 (SwiGLU, unigram)")
    p.add_argument("--widths", type=int_list, default=d.widths, help="model widths d_model")
    p.add_argument("--seeds", type=int_list, default=d.seeds, help="seeds per width")
    p.add_argument("--tokens-per-param", type=float, default=d.tokens_per_param,
                   help="training tokens per non-embedding parameter")
    p.add_argument("--min-tokens", type=int, default=d.min_tokens,
                   help="training tokens of the smallest models at least")
    p.add_argument("--context", type=int, default=d.context, help="tokens per window")
    p.add_argument("--batch", type=int, default=d.batch, help="windows per step")
    p.add_argument("--vocab", type=int, default=d.vocab, help="tokenizer vocabulary")
    p.add_argument("--lr", type=float, default=d.lr, help="peak learning rate")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda")
    p.add_argument("--force", action="store_true", help="retrain models already saved")
    add_debug_flag(p)
    return p


def main(argv: list[str] | None = None) -> list[Path]:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = TrainSettings(
            corpus=args.corpus, out=args.out,
            architectures=tuple(a.strip() for a in args.architectures.split(",") if a.strip()),
            widths=tuple(args.widths), seeds=tuple(args.seeds),
            tokens_per_param=args.tokens_per_param, min_tokens=args.min_tokens,
            context=args.context, batch=args.batch, vocab=args.vocab, lr=args.lr,
            device=str(resolve_device(args.device)), force=args.force)
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
