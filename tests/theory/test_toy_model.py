"""Toy superposition nets: configuration, sampling, batched training, isolation."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from theory.toy.config import ToyConfig
from theory.toy.data import (
    active_features,
    instance_generator,
    sample_batch,
    sample_eval_set,
    sample_features,
)
from theory.toy.internals import feature_errors, neuron_isolation
from theory.toy.model import ToyNets, importances, init_toy_nets, instance_losses
from theory.toy.training import learning_rate, train_toy_nets

TINY = ToyConfig(n_features=64, p=0.05, widths=(4, 8), seeds=(0, 1), steps=30, batch=64,
                 warmup=3, n_eval=2048, log_every=10)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("change, message", [
    ({"p": 0.0}, "p"), ({"p": 1.5}, "p"), ({"beta": -1.0}, "beta"), ({"widths": ()}, "widths"),
    ({"widths": (8, 8)}, "distinct"), ({"widths": (0, 4)}, "widths"), ({"seeds": (-1,)}, "seeds"),
    ({"steps": 0}, "steps"), ({"warmup": 50}, "warmup"), ({"lr": 0.0}, "lr"),
    ({"batch": 2.5}, "batch"), ({"init_scale": 0.0}, "init_scale"),
    ({"final_lr": 2.0}, "final_lr"),
])
def test_config_rejects_bad_values_naming_them(change, message):
    with pytest.raises((ValueError, TypeError), match=message):
        replace(TINY, **change)


def test_config_round_trip_and_hidden_layout():
    assert ToyConfig.from_config(TINY.to_config()) == TINY


def test_a_config_saved_before_revive_outputs_reads_as_the_plain_loss():
    """Records saved before the field existed trained on the plain loss: never read them as
    revived (the default for new configs)."""
    old = TINY.to_config()
    del old["revive_outputs"]
    assert ToyConfig().revive_outputs and not ToyConfig.from_config(old).revive_outputs
    assert TINY.n_hidden == 12
    assert TINY.hidden_slice(8) == slice(4, 12)


def test_features_are_sparse_uniform_and_reproducible():
    config = replace(TINY, p=0.1)
    x = sample_features(4000, config, generator=instance_generator(3))
    active = x != 0
    assert active.float().mean().item() == pytest.approx(0.1, abs=0.005)
    # independent entries: every feature fires at rate p, neighbours fire together at p^2
    assert active.float().mean(0).sub(0.1).abs().max() < 0.02
    both = (active[:, :-1] & active[:, 1:]).float().mean().item()
    assert both == pytest.approx(0.01, abs=0.002)
    assert x.abs().max() <= 1.0
    assert x[active].abs().mean().item() == pytest.approx(0.5, abs=0.01)
    assert x[active].mean().item() == pytest.approx(0.0, abs=0.02)
    again = sample_features(4000, config, generator=instance_generator(3))
    assert torch.equal(x, again)
    assert not torch.equal(x, sample_eval_set(replace(config, n_eval=4000),
                                              generator=instance_generator(4)))


def test_learning_rate_warms_up_then_decays_to_its_floor():
    config = replace(TINY, steps=100, warmup=10, lr=1e-2, final_lr=0.1)
    rates = [learning_rate(step, config) for step in range(100)]
    assert rates[9] == pytest.approx(1e-2) and rates[0] == pytest.approx(1e-3)
    assert rates[-1] == pytest.approx(1e-3)
    assert np.all(np.diff(rates[10:]) <= 1e-15)


def test_isolation_of_planted_weights():
    config = replace(TINY, widths=(3,), seeds=(0,), n_features=4)
    w_in = torch.tensor([[[0.0, 1.0, 1.0], [-2.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]])
    nets = ToyNets(config, w_in, torch.zeros(1, 3), torch.zeros(1, 3, 4), torch.zeros(1, 1, 4))
    isolation, dominant, sign = neuron_isolation(nets)
    torch.testing.assert_close(isolation[0], torch.tensor([1.0, 0.25, 1.0]))
    assert dominant[0, 0] == 1 and dominant[0, 2] == 0
    assert sign[0, 0] == -1 and sign[0, 2] == 1


def test_initialisation_is_small_and_per_instance():
    nets = init_toy_nets(TINY)
    assert nets.w_in.shape == (2, 64, 12) and nets.w_out.shape == (2, 12, 64)
    assert nets.b_out.shape == (2, 2, 64)
    expected = TINY.init_scale / np.sqrt(64 * 0.05)
    assert nets.w_in.std().item() == pytest.approx(expected, rel=0.1)
    alone = init_toy_nets(replace(TINY, widths=(8,), seeds=(1,)))
    torch.testing.assert_close(alone.w_in[0], nets.w_in[1, :, 4:12], rtol=0, atol=0)


def test_batched_training_equals_training_each_instance_alone():
    batched = train_toy_nets(TINY).nets
    alone = train_toy_nets(replace(TINY, widths=(8,), seeds=(1,))).nets
    part = TINY.hidden_slice(8)
    torch.testing.assert_close(alone.w_in[0], batched.w_in[1, :, part], rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(alone.w_out[0], batched.w_out[1, part], rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(alone.b_out[0, 0], batched.b_out[1, 1], rtol=1e-4, atol=1e-6)


def weighted_loss(nets, x):
    return (feature_errors(nets, x) * importances(nets.config)).sum(-1)


def test_training_reduces_the_loss():
    config = replace(TINY, widths=(8,), seeds=(0, 1), steps=300, warmup=20)
    x = sample_eval_set(config, generator=instance_generator(99))
    trained = train_toy_nets(config)
    before, after = weighted_loss(init_toy_nets(config), x), weighted_loss(trained.nets, x)
    assert trained.logged_steps[-1] == 299 and trained.loss.shape == (31, 2, 1)
    assert torch.all(after < 0.8 * before), (before, after)


def test_top_features_are_learned_first_when_beta_is_large():
    """Mid-training on the plain loss, error falls in order of importance: feature 1 is
    learned, feature 2 half-learned, feature 3 barely started, the rest untouched (relative
    error ~ 1). (The revived bound also pulls dead outputs of less important features, so at
    300 steps its order is not strict: feature 4 was ahead of feature 2 at this seed.)"""
    config = ToyConfig(n_features=32, p=0.1, beta=3.0, widths=(6,), seeds=(0,), steps=300,
                       batch=128, lr=1e-2, warmup=20, n_eval=4096, revive_outputs=False)
    nets = train_toy_nets(config).nets
    x = sample_eval_set(config, generator=instance_generator(99))
    relative = (feature_errors(nets, x)[0, 0] / x.square().mean(0)).numpy()
    assert relative[0] < 0.1 < relative[1] < 0.7 < relative[2]
    assert relative[3:].min() > 0.85


def one_sign_net(revive: bool) -> ToyNets:
    """A net caught in the one-sign trap: neuron 0 is ReLU(x_1) and feeds output 1; neuron 1
    is ReLU(-x_1) but does not feed it, and output 1's bias is negative, so output 1 is dead
    wherever x_1 < 0."""
    config = ToyConfig(n_features=4, p=0.5, beta=1.0, widths=(2,), seeds=(0,), steps=10,
                       batch=64, warmup=1, revive_outputs=revive)
    w_in = torch.zeros(1, 4, 2)
    w_in[0, 0, 0], w_in[0, 0, 1] = 1.0, -1.0
    w_out = torch.zeros(1, 2, 4)
    w_out[0, 0, 0] = 1.0
    b_out = torch.zeros(1, 1, 4)
    b_out[0, 0, 0] = -0.1
    return ToyNets(config, w_in, torch.zeros(1, 2), w_out, b_out)


@pytest.mark.parametrize("revive", [False, True])
def test_only_the_revived_loss_pulls_a_dead_output_back(revive):
    """On the plain loss the weight that would teach output 1 the sign x_1 < 0 has no
    gradient at all (the trap is a fixed point); on the revived bound it is pushed up."""
    nets = one_sign_net(revive)
    w_out = nets.w_out.requires_grad_()
    x = torch.zeros(1, 64, 4)
    x[0, :, 0] = -torch.linspace(0.1, 1.0, 64)  # x_1 < 0 only: output 1 dead throughout
    loss = instance_losses(nets, active_features(x))
    (grad,) = torch.autograd.grad(loss.sum(), [w_out])
    if revive:
        assert grad[0, 1, 0] < -0.1  # descent raises W2[neuron 1 -> output 1]
    else:
        assert grad[0, 1, 0] == 0.0


def test_a_net_wider_than_the_features_isolates_every_feature():
    """N = 4n: every feature gets a neuron (almost) all of whose input weight it holds."""
    config = ToyConfig(n_features=12, p=0.1, beta=1.5, widths=(48,), seeds=(0,), steps=3000,
                       batch=256, warmup=100)
    nets = train_toy_nets(config).nets
    isolation, dominant, _ = (t[0].numpy() for t in neuron_isolation(nets))
    best = np.array([isolation[dominant == r].max(initial=0.0) for r in range(12)])
    assert best.min() > 0.95, best


def test_a_sparse_batch_holds_each_seed_stream():
    config = replace(TINY, p=0.1)
    batch = sample_batch(50, config, generators=[instance_generator(s) for s in (3, 4)])
    dense = torch.zeros(batch.shape).view(-1).index_put_((batch.flat,), batch.value)
    for seed, stream in enumerate((3, 4)):
        expected = sample_features(50, config, generator=instance_generator(stream))
        assert torch.equal(dense.view(batch.shape)[seed], expected)
    rebuilt = active_features(dense.view(batch.shape))
    assert all(torch.equal(getattr(rebuilt, key), getattr(batch, key))
               for key in ("flat", "row", "seed", "feature", "value"))


def test_fused_loss_gradient_equals_autograd():
    """The sparse-target loss and its hand-formed gradient equal autograd's dense formula."""
    from theory.toy.model import relu_regression

    gen = torch.Generator().manual_seed(0)
    z = torch.randn(2, 50, 7, generator=gen, dtype=torch.float64, requires_grad=True)
    x = torch.randn(2, 50, 7, generator=gen, dtype=torch.float64)
    x = torch.where(torch.rand(2, 50, 7, generator=gen, dtype=torch.float64) < 0.3, x, 0.0)
    weight = torch.rand(7, dtype=torch.float64)
    for scale in (torch.ones(2, dtype=torch.float64), torch.tensor([1.0, -2.0]).double()):
        fused = relu_regression(z, active_features(x), weight)
        (fused * scale).sum().backward()
        fused_grad, z.grad = z.grad.clone(), None
        reference = ((torch.relu(z) - x.abs()) ** 2 * weight).sum(-1).mean(-1)
        (reference * scale).sum().backward()
        torch.testing.assert_close(fused_grad, z.grad)
        torch.testing.assert_close(fused, reference)
        z.grad = None


def revived_reference(z, x, weight):
    """The revived bound written densely: (z - t)^2 where a target t > 0 meets z < 0."""
    t = x.abs()
    term = torch.where((t > 0) & (z < 0), (z - t) ** 2, (torch.relu(z) - t) ** 2)
    return (term * weight).sum(-1).mean(-1)


def test_revived_loss_and_gradient_equal_autograd_and_bound_the_loss():
    """With revive the fused loss and gradient are those of the dense bound; the bound is
    above the loss and equal to it once every active output is alive."""
    from theory.toy.model import relu_regression

    gen = torch.Generator().manual_seed(1)
    z = torch.randn(2, 50, 7, generator=gen, dtype=torch.float64, requires_grad=True)
    x = torch.randn(2, 50, 7, generator=gen, dtype=torch.float64)
    x = torch.where(torch.rand(2, 50, 7, generator=gen, dtype=torch.float64) < 0.3, x, 0.0)
    weight = torch.rand(7, dtype=torch.float64)
    active = active_features(x)
    fused = relu_regression(z, active, weight, revive=True)
    fused.sum().backward()
    fused_grad, z.grad = z.grad.clone(), None
    reference = revived_reference(z, x, weight)
    reference.sum().backward()
    torch.testing.assert_close(fused, reference)
    torch.testing.assert_close(fused_grad, z.grad)
    plain = relu_regression(z, active, weight)
    assert bool((fused > plain + 1e-3).all())  # some active outputs are dead here
    alive = z.detach().abs() + 0.01  # every output alive
    torch.testing.assert_close(relu_regression(alive, active, weight, revive=True),
                               relu_regression(alive, active, weight))
