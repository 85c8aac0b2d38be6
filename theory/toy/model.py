"""Toy superposition nets with a privileged neuron basis, held many at once: their
parameters, forward pass and losses (dense or sampled outputs; the rent).

Features x_r = b_r u_r (b_r ~ Bernoulli(p), u_r ~ U[-1, 1]) with importances I_r = r^-beta;
h = ReLU(W1 x + b1) of width N; y' = ReLU(W2 h + b2); loss sum_r I_r (|x_r| - y'_r)^2
(docs/theory.md, section 7; Elhage et al. 2022, arXiv:2209.10652). The target |x|
= ReLU(x) + ReLU(-x) needs the hidden ReLU, so the neuron basis is genuinely privileged.

Layout: an instance is one (seed, width). All widths of one seed are concatenated along one
hidden axis of size H = sum(widths), so nothing is padded: W1 is (S, n, H), W2 (S, H, n) and
each width owns a slice of the hidden axis with its own output bias b2 (S, W, n). The first
layer reads the sparse input through one `embedding_bag` over all seeds (cost ~ p n H per
sample, not n H); the second layer is one batched product per width over the seeds. The
data (sparse batches, seeded generators) live in `theory.toy.data`, the optimiser loop in
`theory.toy.training`.

Notes
-----
Every instance trains as if it were alone: the loss is a sum of per-instance losses over
disjoint parameters and Adam is elementwise, so the batched gradient step equals the
single-instance step (tests/theory/test_toy_model.py holds them equal over a short run). The
equality is exact in real arithmetic, not bitwise: CPU kernels round an element differently
with its position in a longer tensor (the vectorised body against the tail), so once other
widths join the batch an instance differs from its lone twin by float32 rounding after a few
steps (measured: 1.7e-5 in W1 after 100 steps with fused Adam, 1e-7 with the foreach Adam),
and over thousands of steps the two trajectories drift apart as two runs with different
thread counts do: the same law, not the same net. Seed s draws its own
data stream, shared by all widths of that seed (as the sizes of a model family share one data
order); two seeds differ in both initialisation and data. Initial weights come from a
generator seeded by (seed, width), data from one seeded by seed, so an instance trained alone
reproduces its batched twin. Small initialisation (0.05 of the 1/sqrt(fan-in) scale) matters:
with the standard scale the pilot failed to train at N >= 16.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from theory.toy.config import ToyConfig
from theory.toy.data import ActiveFeatures, instance_generator


@dataclass(frozen=True)
class ToyNets:
    """Parameters of all instances: w_in (S, n, H), b_in (S, H), w_out (S, H, n),
    b_out (S, W, n); seed s = config.seeds[s], width w = config.widths[w]."""

    config: ToyConfig
    w_in: torch.Tensor
    b_in: torch.Tensor
    w_out: torch.Tensor
    b_out: torch.Tensor

    def parameters(self) -> list[torch.Tensor]:
        return [self.w_in, self.b_in, self.w_out, self.b_out]


def importances(config: ToyConfig, *, device="cpu") -> torch.Tensor:
    """I_r = r^-beta for r = 1..n, shape (n,)."""
    ranks = torch.arange(1, config.n_features + 1, dtype=torch.float32, device=device)
    return ranks ** -config.beta


def init_toy_nets(config: ToyConfig, *, device="cpu") -> ToyNets:
    """Small random weights (init_scale of the fan-in scale) and zero biases for every
    instance; instance (seed, width) draws from `instance_generator(seed, width)`."""
    n, scale = config.n_features, config.init_scale
    w_in, w_out = [], []
    for seed in config.seeds:
        columns, rows = [], []
        for width in config.widths:
            gen = instance_generator(seed, width, device=device)
            columns.append(torch.randn(n, width, generator=gen, device=device)
                           * (scale / math.sqrt(n * config.p)))
            rows.append(torch.randn(width, n, generator=gen, device=device)
                        * (scale / math.sqrt(width)))
        w_in.append(torch.cat(columns, dim=1))
        w_out.append(torch.cat(rows, dim=0))
    n_seeds, n_widths = len(config.seeds), len(config.widths)
    return ToyNets(config, torch.stack(w_in), torch.zeros(n_seeds, config.n_hidden, device=device),
                   torch.stack(w_out), torch.zeros(n_seeds, n_widths, n, device=device))


def hidden_preactivation(nets: ToyNets, active: ActiveFeatures) -> torch.Tensor:
    """W1 x + b1 for every seed's own inputs (S, T, n) -> (S, T, H), reading only the
    active features (one embedding_bag over all seeds)."""
    n_seeds, n_samples, n = active.shape
    rows = torch.arange(n_seeds * n_samples, device=active.flat.device)
    offsets = torch.searchsorted(active.row, rows)
    out = F.embedding_bag(active.seed * n + active.feature, nets.w_in.reshape(n_seeds * n, -1),
                          offsets, mode="sum", per_sample_weights=active.value)
    return out.reshape(n_seeds, n_samples, -1) + nets.b_in[:, None, :]


def hidden_activations(nets: ToyNets, x: torch.Tensor) -> torch.Tensor:
    """h = ReLU(W1 x + b1) of every instance on the same inputs x (T, n) -> (S, T, H);
    width w's neurons are `[..., config.hidden_slice(w)]`."""
    return torch.relu(torch.baddbmm(nets.b_in[:, None, :], x.expand(len(nets.w_in), -1, -1),
                                    nets.w_in))


def width_parts(nets: ToyNets, hidden: torch.Tensor):
    """Each width's (hidden activations (S, T, N), W2 (S, N, n), b2 (S, n)), from the
    concatenated hidden axis (S, T, H)."""
    widths = list(nets.config.widths)
    # split, not slicing: one concatenation in the backward pass instead of a zero-filled
    # full-size gradient per width
    return zip(hidden.split(widths, dim=2), nets.w_out.split(widths, dim=1),
               nets.b_out.unbind(dim=1))


class _ReluRegression(torch.autograd.Function):
    """mean over samples of sum_r I_r (ReLU(z_r) - |x_r|)^2 for z (S, T, n) -> (S,), with
    its gradient formed in the forward pass.

    Notes
    -----
    The target |x| is sparse (a fraction p of entries), so the loss is split into a dense
    part over every entry as if the target were 0, sum I ReLU(z)^2, and a correction on the
    active entries only, I (t^2 - 2 ReLU(z) t); likewise the gradient 2 I (ReLU(z) - t)
    [z > 0] / T is 2 I ReLU(z) / T everywhere (ReLU(z) is already 0 where z <= 0) minus
    2 I t [z > 0] / T on the active entries. The dense work is three passes over z (ReLU,
    scaling, one batched dot per seed) instead of the eight of the plain formula, which
    dominated a training step. With `revive` an active entry whose output is dead (z < 0)
    costs I (z - t)^2 instead of I t^2 (`revived_term`).
    """

    @staticmethod
    def forward(ctx, z, active_flat, active_seed, active_target, active_weight, weight, revive):
        n_seeds, n_samples, _ = z.shape
        scale = 2.0 / n_samples
        relu = z.clamp_min(0.0)
        grad = relu * (weight * scale)
        # one BLAS dot per seed: several times faster than bmm or a product and a sum
        loss = torch.stack([torch.dot(a, b) for a, b in zip(relu.view(n_seeds, -1),
                                                           grad.view(n_seeds, -1))]).mul_(0.5)
        raw = z.view(-1)[active_flat]
        at_active = raw.clamp_min(0.0)
        correction = active_target * (active_target - 2.0 * at_active)
        grad_correction = -active_target * (at_active > 0)
        if revive:
            dead = (raw < 0).to(raw.dtype)
            correction = correction + revived_term(raw, active_target)
            grad_correction = grad_correction + dead * (raw - active_target)
        loss.index_add_(0, active_seed, active_weight * correction, alpha=1.0 / n_samples)
        grad.view(-1).index_add_(0, active_flat, active_weight * grad_correction, alpha=scale)
        ctx.save_for_backward(grad)
        return loss

    @staticmethod
    def backward(ctx, grad_loss):
        (grad,) = ctx.saved_tensors
        if not bool((grad_loss == 1).all()):
            grad = grad * grad_loss[:, None, None]
        return grad, None, None, None, None, None, None


def sparse_target(active: ActiveFeatures, weight: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The loss's view of the target |x| on the active entries: flat position, seed, |x| and
    I_r (the same for every width of a batch, so formed once per step)."""
    return active.flat, active.seed, active.value.abs(), weight[active.feature]


def relu_regression(z: torch.Tensor, active: ActiveFeatures, weight: torch.Tensor, *,
                    revive: bool = False) -> torch.Tensor:
    """Per-seed loss mean_t sum_r I_r (ReLU(z) - |x|)^2 of pre-activations z (S, T, n)
    against the batch whose active entries are `active` (see `_ReluRegression`); with
    `revive`, its upper bound that keeps a gradient on dead outputs (`revived_term`)."""
    return _ReluRegression.apply(z, *sparse_target(active, weight), weight, revive)


def revived_term(z: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """What `revive_outputs` adds at active entries (target t > 0): z (z - 2t) where z < 0.

    Notes
    -----
    (ReLU(z) - t)^2 is flat, t^2, for z < 0: an output that is dead on the samples where its
    feature fires gets no gradient from them, and a net that learnt ReLU(+x_r) first keeps
    the other sign unlearnt for good (measured at p = 0.005: the same features half-learnt
    at 2,000 and 8,000 steps; docs/theory.md, section 7). Adding z (z - 2t) [z < 0] turns
    the term into (z - t)^2 there: the sum is an upper bound on the loss, equal to it on
    every net whose outputs are alive wherever a target is active, and continuous with its
    gradient at z = 0; so a net that fits |x| minimises both, and a dead output is pulled
    back toward its target. Only the training objective changes; nets are evaluated on the
    loss itself.
    """
    return torch.where(z < 0, z * (z - 2.0 * target), torch.zeros_like(z))


@dataclass(frozen=True)
class OutputColumns:
    """The output features a step computes when the loss is sampled: `columns` (S, C) per
    seed (the exact head 0..K-1, then the m drawn tail features, repeats allowed) and the
    weight of each in the loss estimate, `weight` (S, C): I_r on the head, I_r / (m q_r) on
    a draw from q."""

    columns: torch.Tensor
    weight: torch.Tensor


def tail_distribution(config: ToyConfig, weight: torch.Tensor) -> torch.Tensor:
    """q over the tail r >= exact_outputs: half proportional to I_r, half uniform (a
    defensive mixture, so the far tail is drawn often enough), shape (n - K,)."""
    tail = weight[config.exact_outputs:]
    return 0.5 * tail / tail.sum() + 0.5 / len(tail)


def output_columns(config: ToyConfig, weight: torch.Tensor, *,
                   generators: list[torch.Generator]) -> OutputColumns:
    """The head and m tail draws (with replacement, from `tail_distribution`) of each seed's
    own sampling stream."""
    head = config.exact_outputs
    q = tail_distribution(config, weight)
    draws = torch.stack([torch.multinomial(q, config.output_samples, replacement=True,
                                           generator=gen) for gen in generators]) + head
    columns = torch.cat([torch.arange(head, device=weight.device).expand(len(draws), -1),
                         draws], dim=1)
    tail_weight = weight[draws] / (config.output_samples * q[draws - head])
    return OutputColumns(columns, torch.cat([weight[:head].expand(len(draws), -1),
                                             tail_weight], dim=1))


def sampled_regression(h: torch.Tensor, w: torch.Tensor, bias: torch.Tensor,
                       active: ActiveFeatures, weight: torch.Tensor,
                       outputs: OutputColumns, *, revive: bool = False) -> torch.Tensor:
    """Unbiased estimate, per seed, of mean_t sum_r I_r (ReLU(z_r) - |x_r|)^2 with
    z = W2 h + b2, for one width's h (S, T, N), w (S, N, n) and bias (S, n).

    Notes
    -----
    The loss is sum_r I_r ReLU(z_r)^2 (the target taken as 0) plus a correction on the active
    entries, I_r (t^2 - 2 t ReLU(z_r)). The first sum is exact on the head and estimated on
    the tail by the draws' weighted terms; each draw's term has the tail sum as expectation,
    so the estimate and its gradient are unbiased. The correction is exact: z is formed at
    the active entries alone (W2's columns read there, ~p n T of them per seed), and so is
    `revived_term` with `revive`.
    """
    n_seeds, n_samples, width = h.shape
    n = w.shape[2]
    # W2's columns as rows of one (S n, N) copy, read by index_select for the sampled columns
    # and the active entries alike: one gradient path into W2 (an index_add; the fancy
    # indexing or gather it replaces accumulate several times slower on CPU)
    rows_of_w = w.transpose(1, 2).reshape(n_seeds * n, width)
    flat_bias = bias.reshape(-1)
    offset = torch.arange(n_seeds, device=h.device)[:, None] * n
    picked = (outputs.columns + offset).reshape(-1)
    z = torch.baddbmm(flat_bias.index_select(0, picked).view(n_seeds, 1, -1), h,
                      rows_of_w.index_select(0, picked).view(n_seeds, -1, width).transpose(1, 2))
    dense = (z.clamp_min(0.0).square() * outputs.weight[:, None, :]).sum(dim=(1, 2))
    entry = active.seed * n + active.feature
    rows = h.reshape(n_seeds * n_samples, width).index_select(0, active.row)
    at_active = ((rows * rows_of_w.index_select(0, entry)).sum(-1)
                 + flat_bias.index_select(0, entry))
    target = active.value.abs()
    correction = target * (target - 2.0 * at_active.clamp_min(0.0))
    if revive:
        correction = correction + revived_term(at_active, target)
    dense = dense.index_add(0, active.seed, weight[active.feature] * correction)
    return dense / n_samples


def instance_losses(nets: ToyNets, active: ActiveFeatures,
                    outputs: OutputColumns | None = None) -> torch.Tensor:
    """Importance-weighted loss of every instance on its seed's inputs -> (S, W); `active`
    holds the batch (S, T, n) of every seed. With `outputs` (a sampled config) the loss on
    the tail of output features is the unbiased estimate of `sampled_regression`."""
    weight = importances(nets.config, device=active.value.device)
    hidden = torch.relu(hidden_preactivation(nets, active))
    parts = width_parts(nets, hidden)
    revive = nets.config.revive_outputs
    if outputs is not None:
        return torch.stack([sampled_regression(h, w, bias, active, weight, outputs,
                                               revive=revive)
                            for h, w, bias in parts], dim=1)
    target = sparse_target(active, weight)
    return torch.stack([_ReluRegression.apply(torch.baddbmm(bias[:, None, :], h, w), *target,
                                              weight, revive) for h, w, bias in parts], dim=1)


def rent_scale(config: ToyConfig, *, device="cpu") -> torch.Tensor:
    """kappa / N for every hidden unit of the concatenated axis, (H,)."""
    return torch.cat([torch.full((width,), config.rent / width, device=device)
                      for width in config.widths])


def rent_penalty(nets: ToyNets) -> torch.Tensor:
    """The rent arm's penalty of every instance, (kappa / 2N) sum_i (|W1_i|^2 + |W2_i|^2)
    over its N neurons, (S, W) (zeros when config.rent is 0)."""
    config = nets.config
    per_unit = nets.w_in.square().sum(1) + nets.w_out.square().sum(2)
    per_unit = per_unit * rent_scale(config, device=per_unit.device) / 2.0
    return torch.stack([part.sum(1) for part in per_unit.split(list(config.widths), dim=1)],
                       dim=1)
