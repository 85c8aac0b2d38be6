"""Benchmark: a toy training step with the sampled output loss against the dense loss, at a
wide feature pool, in the same run; and the estimate against the dense loss on one batch.

    python benchmarks/bench_toy_sampled.py [--features 8192] [--steps 10] [--draws 200]

The dense output layer costs ~6 B H n FLOP a step; the sampled loss computes the exact head
(--exact-outputs) and --output-samples tail draws per seed, so its output layer costs
~6 B H (K + m). Times are CPU seconds of the process on one thread (--threads 1, the
default), which a busy shared machine disturbs far less than wall time. Prints the time per
step of both, their ratio, and the floor neither avoids: one Adam update of the 2 S n H
weights alone. Then the mean of --draws estimates of the loss and of its gradient on one
batch next to the dense values (they must agree within the Monte Carlo error and float32
rounding; tests/theory/test_toy_arms.py holds the expectation equal exactly). With
--train-check it also trains a small sweep both ways and prints what each learnt (Adam is not
linear in the gradient, so equal expectations do not make equal runs: this shows how far
apart they end).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch

from theory.toy.config import ToyConfig
from theory.toy.data import instance_generator, sample_batch
from theory.toy.model import importances, init_toy_nets, instance_losses, output_columns
from theory.toy.training import SAMPLING_STREAM, train_toy_nets


def cpu_seconds(fn) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def adam_seconds(config: ToyConfig, repeats: int = 5) -> float:
    """CPU seconds of one fused Adam step over the sweep's parameters (gradients given)."""
    params = [p.requires_grad_() for p in init_toy_nets(config).parameters()]
    for p in params:
        p.grad = torch.randn_like(p)
    optimiser = torch.optim.Adam(params, lr=1e-3, fused=True)
    optimiser.step()
    return cpu_seconds(lambda: [optimiser.step() for _ in range(repeats)]) / repeats


def estimate_check(config: ToyConfig, draws: int) -> tuple[float, float, float]:
    """Relative error of the mean of `draws` loss estimates against the dense loss, its
    Monte Carlo standard error, and the relative error of the mean W2 gradient."""
    nets = init_toy_nets(config)
    params = [p.requires_grad_() for p in nets.parameters()]
    batch = sample_batch(config.batch, config, generators=[instance_generator(s)
                                                            for s in config.seeds])
    dense = instance_losses(nets, batch)
    dense_grad = torch.autograd.grad(dense.sum(), params[2])[0]
    weight = importances(config)
    gens = [instance_generator(s, SAMPLING_STREAM) for s in config.seeds]
    losses, grad = [], torch.zeros_like(dense_grad)
    for _ in range(draws):
        loss = instance_losses(nets, batch, output_columns(config, weight, generators=gens))
        grad += torch.autograd.grad(loss.sum(), params[2])[0] / draws
        losses.append(loss.detach().sum())
    losses = torch.stack(losses)
    total = dense.detach().sum()
    return (float((losses.mean() - total) / total),
            float(losses.std() / draws**0.5 / total),
            float((grad - dense_grad).norm() / dense_grad.norm()))


def train_check(features: int, width: int, steps: int, exact: int, samples: int) -> None:
    """Dense and sampled training of the same small sweep: the top feature's relative error
    and the dense evaluation loss of every net, side by side."""
    from empirics.toy.capture import evaluation_inputs
    from theory.toy.internals import feature_errors

    dense = ToyConfig(n_features=features, p=10.24 / features, beta=2.0, widths=(width,),
                      seeds=(0, 1), steps=steps, batch=256)
    sampled = replace(dense, output_samples=samples, exact_outputs=exact)
    x = evaluation_inputs(dense)
    variance = x.square().mean(0)
    for name, config in (("dense", dense), ("sampled", sampled)):
        errors = feature_errors(train_toy_nets(config).nets, x)
        top = (errors[..., 0] / variance[0]).ravel().tolist()
        loss = (errors * importances(config)).sum(-1).ravel().tolist()
        print(f"{name:>8}: n = {features}, N = {width}, {steps} steps, seeds 0 and 1: top "
              f"feature's relative error {top[0]:.3f} {top[1]:.3f}, evaluation loss "
              f"{loss[0]:.2e} {loss[1]:.2e}")


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(prog="python benchmarks/bench_toy_sampled.py")
    parser.add_argument("--features", type=int, default=8192)
    parser.add_argument("--widths", default="16,32,64,128,256")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--exact-outputs", type=int, default=512)
    parser.add_argument("--output-samples", type=int, default=512)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--train-check", action="store_true",
                        help="also train n = 2048, N = 64 dense and sampled for 2000 steps")
    parser.add_argument("--smoke", action="store_true", help="a tiny run (seconds)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.features, args.widths, args.steps, args.draws = 256, "8,16", 2, 8
        args.exact_outputs, args.output_samples = 32, 32
    torch.set_num_threads(args.threads)
    widths = tuple(int(w) for w in args.widths.split(","))
    dense = ToyConfig(n_features=args.features, p=10.24 / args.features, widths=widths,
                      steps=args.steps, warmup=1, batch=256)
    sampled = replace(dense, output_samples=args.output_samples,
                      exact_outputs=args.exact_outputs)
    print(f"n = {args.features}, widths {list(widths)} x 3 seeds, batch 256, "
          f"{args.steps} steps, {torch.get_num_threads()} threads; sampled: head "
          f"{args.exact_outputs} + {args.output_samples} draws")
    train_toy_nets(replace(dense, n_features=64, p=0.1, steps=2))  # warm the kernels
    t_dense, t_sampled = (cpu_seconds(lambda c=c: train_toy_nets(c)) / args.steps
                          for c in (dense, sampled))
    ratio = t_dense / t_sampled
    print(f"dense {t_dense:7.3f} s/step   sampled {t_sampled:7.3f} s/step   ratio "
          f"{ratio:5.2f}x   (an Adam update alone: {adam_seconds(dense):.3f} s)")
    bias, error, grad = estimate_check(replace(sampled, widths=widths[:2]), args.draws)
    print(f"mean of {args.draws} estimates vs dense loss: relative error {bias:+.2e} "
          f"(Monte Carlo standard error {error:.2e}); mean W2 gradient vs dense: relative "
          f"error {grad:.2e}")
    if args.train_check:
        train_check(2048, 64, 2000, args.exact_outputs, args.output_samples)
    return ratio


if __name__ == "__main__":
    main()
