"""The toy family's adapter: the hidden activations of toy nets (theory.toy.model) on one
shared evaluation set, as the engine's aligned stream, with a readable name per net and a
description per input (docs/theory.md, section 7).
"""

from __future__ import annotations

import torch

from theory.toy.config import ToyConfig
from theory.toy.data import instance_generator, sample_eval_set

#: Seed of the shared evaluation set (distinct from every training stream by construction).
EVAL_STREAM = 2**31 - 1
#: Rows per batch of the evaluation stream: the default 8192 evaluation inputs give 32
#: batches, one per chunk group of the toy pipeline's data-level bootstrap.
BATCH_ROWS = 256


def activation_source(h_a: torch.Tensor, h_b: torch.Tensor, batch_rows: int = BATCH_ROWS):
    """A re-iterable stream of aligned (a, b) batches cut from two (samples, N) tensors."""

    def stream():
        for start in range(0, h_a.shape[0], batch_rows):
            yield h_a[start:start + batch_rows], h_b[start:start + batch_rows]

    return stream


def describe_inputs(eval_x: torch.Tensor) -> list[str]:
    """One line per evaluation input naming its active features, e.g. "#7: f3=+0.41
    f90=-0.88", the input ids a report shows for a neuron's top inputs."""
    rows, features = (eval_x != 0).nonzero(as_tuple=True)
    values = eval_x[rows, features].tolist()
    lines = [[f"#{i}:"] for i in range(eval_x.shape[0])]
    for row, feature, value in zip(rows.tolist(), features.tolist(), values):
        lines[row].append(f"f{feature}={value:+.2f}")
    return [" ".join(line) for line in lines]


def evaluation_inputs(config: ToyConfig, *, device="cpu") -> torch.Tensor:
    """The shared evaluation inputs every pair is matched on (n_eval, n)."""
    return sample_eval_set(config, generator=instance_generator(EVAL_STREAM, device=device))


def net_name(config: ToyConfig, width: int) -> str:
    """The model name of one toy net width (seed appended per model)."""
    return f"toy-n{config.n_features}-beta{config.beta:g}-N{width}"
