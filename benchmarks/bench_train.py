"""The default trained family on this machine: time, throughput and held-out loss per model.

    python benchmarks/bench_train.py --corpus corpora/local --out models/local

Trains (or resumes: models already saved are read back) the default family of
`empirics.pipeline.train`, and prints per model its MLP neurons, parameters, tokens, seconds,
tokens/s, FLOP/s (6 x (non-embedding + output-head) parameters per token, plus attention) as
a share of this machine's float32 matmul rate measured in the same run, and its held-out
loss; then whether the held-out loss falls with size in each architecture (mean over seeds).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from empirics.capture.offline import Recipe, build_corpus
from empirics.pipeline.train import TrainSettings, mlp_neurons, read_logs, train_family


def matmul_rate(size: int = 512, repeats: int = 20) -> float:
    """float32 FLOP/s of a (size x size) @ (size x size) product on this machine's CPU."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size**3 * repeats / (time.perf_counter() - start)


def flop_per_token(log: dict, vocab: int, context: int) -> float:
    width, layers = log["width"], log["layers"]
    return 6.0 * (log["non_embedding_params"] + vocab * width) + 6.0 * layers * context * width


def smoke_settings(root: Path) -> TrainSettings:
    """One tiny GPT-2 on a corpus of generated Python files."""
    lib = root / "lib"
    lib.mkdir()
    for i in range(10):
        (lib / f"mod{i}.py").write_text("".join(
            f"def function_{i}_{j}(value):\n    return value * {j} + {i}\n\n" for j in range(40)))
    build_corpus(root / "corpus", Recipe(stdlib=str(lib), share=str(root / "-"),
                                         heldout_percent=10, debian_docs=False))
    return TrainSettings(corpus=root / "corpus", out=root / "models", architectures=("gpt2",),
                         widths=(8,), seeds=(0,), context=32, batch=4, vocab=256,
                         tokens_per_param=0.01, min_tokens=512, heldout_tokens=256,
                         tokenizer_chars=100_000)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path)
    parser.add_argument("--out", type=Path, default=Path("models/local"))
    parser.add_argument("--smoke", action="store_true",
                        help="one tiny model on a generated corpus, in a "
                             "temporary folder (seconds)")
    args = parser.parse_args(argv)
    if args.smoke:
        with tempfile.TemporaryDirectory() as tmp:
            report(smoke_settings(Path(tmp)))
    elif args.corpus is None:
        parser.error("--corpus is required (or --smoke)")
    else:
        report(TrainSettings(corpus=args.corpus, out=args.out))


def report(settings: TrainSettings) -> None:
    """Train (or read back) the family of `settings` and print its table."""
    rate = matmul_rate()
    started = time.perf_counter()
    written = train_family(settings, progress=False)
    total = time.perf_counter() - started
    logs = read_logs(written)
    print(f"float32 matmul rate here: {rate / 1e9:.1f} GFLOP/s; family wall time this run "
          f"{total / 60:.1f} min (models already saved are not retrained)")
    print(f"{'model':>14} {'neurons':>8} {'params':>8} {'tokens':>9} {'s':>7} {'tok/s':>7} "
          f"{'share':>6} {'held-out':>8}")
    for log in logs:
        speed = log["tokens"] / log["seconds"]
        share = speed * flop_per_token(log, settings.vocab, settings.context) / rate
        name = f"{log['architecture']}-w{log['width']}-s{log['seed']}"
        print(f"{name:>14} {mlp_neurons(log['architecture'], log['width']):>8} "
              f"{log['params']:>8} "
              f"{log['tokens']:>9} {log['seconds']:>7.1f} {speed:>7.0f} {share:>6.1%} "
              f"{log['heldout_loss']:>8.4f}")
    print(f"training time of all models: {sum(log['seconds'] for log in logs) / 60:.1f} min")
    for architecture in settings.architectures:
        means = [np.mean([g["heldout_loss"] for g in logs
                          if g["architecture"] == architecture and g["width"] == w])
                 for w in settings.widths]
        falls = all(np.diff(means) < 0)
        print(f"{architecture}: held-out loss by width {np.round(means, 4).tolist()}; "
              f"falls with size: {'yes' if falls else 'NO'}")


if __name__ == "__main__":
    main()
