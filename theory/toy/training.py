"""Training the toy nets: every (seed, width) instance at once with Adam, on the
importance-weighted loss (dense or with sampled outputs) plus, in the rent arm, the rent
(`theory.toy.model`), under a linear warm-up and cosine decay of the learning rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from runstore.progress import progress_bar
from theory.toy.config import ToyConfig
from theory.toy.data import instance_generator, sample_batch
from theory.toy.model import (
    ToyNets,
    importances,
    init_toy_nets,
    instance_losses,
    output_columns,
    rent_scale,
)

#: Stream id of each seed's draws of sampled output features (`output_columns`); never a
#: width, so never an initialisation stream.
SAMPLING_STREAM = -1


@dataclass(frozen=True)
class TrainedToy:
    """Trained nets and the loss history: `loss` (n_logged, S, W) at `logged_steps`."""

    nets: ToyNets
    logged_steps: torch.Tensor
    loss: torch.Tensor


def add_rent_gradient(nets: ToyNets) -> None:
    """Add the gradient of `rent_penalty` to the weights' gradients: (kappa / N) W, per
    neuron (cheaper than differentiating the penalty: one pass over each weight)."""
    scale = rent_scale(nets.config, device=nets.w_in.device)
    nets.w_in.grad.addcmul_(nets.w_in.detach(), scale[None, None, :])
    nets.w_out.grad.addcmul_(nets.w_out.detach(), scale[None, :, None])


def learning_rate(step: int, config: ToyConfig) -> float:
    """Linear warm-up to lr, then cosine decay to final_lr * lr at the last step."""
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = (step - config.warmup) / max(config.steps - config.warmup - 1, 1)
    cosine = 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
    return config.lr * (config.final_lr + (1.0 - config.final_lr) * cosine)


def train_toy_nets(config: ToyConfig, *, device="cpu", progress: bool = False) -> TrainedToy:
    """Train every (seed, width) instance at once with Adam (see the module notes), on the
    importance-weighted loss plus, in the rent arm, `rent_penalty`.

    Returns the nets (detached) and the per-instance data loss (the rent excluded; the
    `revived_term` bound with revive_outputs; an
    estimate when the outputs are sampled) every `log_every` steps.
    """
    nets = init_toy_nets(config, device=device)
    params = [p.requires_grad_() for p in nets.parameters()]
    optimiser = torch.optim.Adam(params, lr=config.lr, fused=True)
    data = [instance_generator(seed, device=device) for seed in config.seeds]
    draws = [instance_generator(seed, SAMPLING_STREAM, device=device) for seed in config.seeds]
    weight = importances(config, device=device)
    steps, history = [], []
    for step in progress_bar(range(config.steps), desc="toy nets", show=progress):
        outputs = (output_columns(config, weight, generators=draws) if config.sampled
                   else None)
        losses = instance_losses(nets, sample_batch(config.batch, config, generators=data),
                                 outputs)
        for group in optimiser.param_groups:
            group["lr"] = learning_rate(step, config)
        optimiser.zero_grad(set_to_none=True)
        losses.sum().backward()
        if config.rent:
            add_rent_gradient(ToyNets(config, *params))
        optimiser.step()
        if step % config.log_every == 0 or step == config.steps - 1:
            steps.append(step)
            history.append(losses.detach())
    trained = ToyNets(config, *(p.detach() for p in params))
    return TrainedToy(trained, torch.tensor(steps), torch.stack(history))
