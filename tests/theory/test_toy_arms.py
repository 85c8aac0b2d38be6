"""The toy's arms: the sampled output loss (unbiased in loss and gradient) and the rent
(its hand-added gradient is the penalty's, and it prices unimportant features out)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from theory.toy.config import ToyConfig
from theory.toy.data import active_features, instance_generator, sample_eval_set
from theory.toy.internals import feature_errors
from theory.toy.model import (
    OutputColumns,
    importances,
    init_toy_nets,
    output_columns,
    rent_penalty,
    sampled_regression,
    tail_distribution,
)
from theory.toy.training import add_rent_gradient, train_toy_nets

SMALL = ToyConfig(n_features=16, p=0.2, beta=1.5, widths=(3,), seeds=(0, 1), steps=10,
                  warmup=1, output_samples=1, exact_outputs=4)


def dense_loss(h, w, bias, x, weight):
    z = torch.baddbmm(bias[:, None, :], h, w)
    return ((torch.relu(z) - x.abs()) ** 2 * weight).sum(-1).mean(-1)


def problem(seed=0):
    gen = torch.Generator().manual_seed(seed)
    h = torch.rand(2, 40, 3, generator=gen, dtype=torch.float64)
    w = torch.randn(2, 3, 16, generator=gen, dtype=torch.float64, requires_grad=True)
    bias = (0.3 * torch.randn(2, 16, generator=gen, dtype=torch.float64)).requires_grad_()
    x = torch.randn(2, 40, 16, generator=gen, dtype=torch.float64)
    x = torch.where(torch.rand(x.shape, generator=gen, dtype=torch.float64) < 0.2, x, 0.0)
    return h, w, bias, x


def revived_dense_loss(h, w, bias, x, weight):
    z, t = torch.baddbmm(bias[:, None, :], h, w), x.abs()
    term = torch.where((t > 0) & (z < 0), (z - t) ** 2, (torch.relu(z) - t) ** 2)
    return (term * weight).sum(-1).mean(-1)


@pytest.mark.parametrize("revive", [False, True])
def test_the_sampled_loss_and_its_gradient_are_unbiased_exactly(revive):
    """Over every possible draw r of the tail (m = 1), weighted by its probability q_r, the
    estimate and its gradient equal the dense loss and gradient (to rounding); with revive,
    those of the revived bound."""
    h, w, bias, x = problem()
    weight = importances(SMALL).double()
    q = tail_distribution(SMALL, weight)
    head = torch.arange(SMALL.exact_outputs)
    expected_loss, expected_grads = 0.0, [0.0, 0.0]
    for r in range(SMALL.exact_outputs, SMALL.n_features):
        column = torch.cat([head, torch.tensor([r])]).expand(2, -1)
        tail_weight = weight[r] / q[r - SMALL.exact_outputs]
        outputs = OutputColumns(column, torch.cat([weight[:4], tail_weight[None]]).expand(2, -1))
        loss = sampled_regression(h, w, bias, active_features(x), weight, outputs,
                                  revive=revive)
        grads = torch.autograd.grad(loss.sum(), [w, bias])
        probability = q[r - SMALL.exact_outputs]
        expected_loss = expected_loss + probability * loss.detach()
        expected_grads = [e + probability * g for e, g in zip(expected_grads, grads)]
    reference = (revived_dense_loss if revive else dense_loss)(h, w, bias, x, weight)
    reference_grads = torch.autograd.grad(reference.sum(), [w, bias])
    torch.testing.assert_close(expected_loss, reference.detach())
    for got, want in zip(expected_grads, reference_grads):
        torch.testing.assert_close(got, want)


def test_one_draw_is_not_the_dense_loss():
    """The check above can fail: a single draw's estimate differs from the dense loss."""
    h, w, bias, x = problem()
    weight = importances(SMALL).double()
    column = torch.cat([torch.arange(4), torch.tensor([9])]).expand(2, -1)
    q = tail_distribution(SMALL, weight)
    outputs = OutputColumns(column, torch.cat([weight[:4], (weight[9] / q[5])[None]])
                            .expand(2, -1))
    loss = sampled_regression(h, w, bias, active_features(x), weight, outputs)
    assert not torch.allclose(loss, dense_loss(h, w, bias, x, weight))


def test_draws_come_from_the_tail_of_each_seed_stream_with_their_weights():
    config = replace(SMALL, output_samples=500)
    weight = importances(config)
    drawn = output_columns(config, weight, generators=[instance_generator(s, -1) for s in (0, 1)])
    again = output_columns(config, weight, generators=[instance_generator(s, -1) for s in (0, 1)])
    assert torch.equal(drawn.columns, again.columns)
    assert not torch.equal(drawn.columns[0], drawn.columns[1])
    head, tail = drawn.columns[:, :4], drawn.columns[:, 4:]
    assert torch.equal(head, torch.arange(4).expand(2, -1)) and tail.min() >= 4
    q = tail_distribution(config, weight)
    torch.testing.assert_close(drawn.weight[:, 4:], weight[tail] / (500 * q[tail - 4]))
    # the draw frequencies follow q: the top tail feature is drawn most
    counts = torch.bincount(tail.reshape(-1) - 4, minlength=12).double() / tail.numel()
    assert torch.argmax(counts) == 0 and (counts - q.double()).abs().max() < 0.05


def test_a_sampled_config_needs_a_tail():
    with pytest.raises(ValueError, match="exact_outputs"):
        replace(SMALL, exact_outputs=16)


def test_the_rent_gradient_is_the_penalty_gradient():
    config = replace(SMALL, widths=(3, 5), rent=0.3)
    nets = init_toy_nets(config)
    params = [p.double().requires_grad_() for p in nets.parameters()]
    nets = type(nets)(config, *params)
    rent_penalty(nets).sum().backward()
    expected = [p.grad.clone() for p in params[::2]]
    for p in params:
        p.grad = torch.zeros_like(p)
    add_rent_gradient(nets)
    for got, want in zip([params[0].grad, params[2].grad], expected):
        torch.testing.assert_close(got, want)
    # kappa / 2N per neuron: a layer of unit weights pays kappa * 2n / 2 at every width
    unit = type(nets)(config, *(torch.ones_like(p) for p in params))
    torch.testing.assert_close(rent_penalty(unit), torch.full((2, 2), 0.3 * 16.0).double())


@pytest.mark.slow  # two nets x 1,500 steps; the rent's penalty and gradient are tested above
def test_the_rent_prices_unimportant_features_out():
    """With the rent, a net learns its top features and leaves the rest unrepresented
    (relative error ~ 1); without it the same net represents more of them."""
    base = ToyConfig(n_features=24, p=0.1, beta=1.5, widths=(32,), seeds=(0,), steps=1500,
                     batch=256, warmup=100, n_eval=4096)
    x = sample_eval_set(base, generator=instance_generator(99))
    relative = {}
    for rent in (0.0, 0.05):
        nets = train_toy_nets(replace(base, rent=rent)).nets
        relative[rent] = (feature_errors(nets, x)[0, 0] / x.square().mean(0)).numpy()
    represented = {rent: int((error < 0.5).sum()) for rent, error in relative.items()}
    assert relative[0.05][0] < 0.2
    assert represented[0.05] < represented[0.0] - 3, represented
