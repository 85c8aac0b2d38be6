"""The toy family measured with the matching engine: planted features, counts, records, CLI."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from empirics.records.examples import ExamplesRecord
from empirics.records.match import MatchRecord
from empirics.toy.pairs import EXAMPLES, GROUPS, THRESHOLDS, measure_nets, seed_pairs
from empirics.toy.readouts import pair_bootstrap
from empirics.toy.sweep import ToySweep, run_toy_sweep
from theory.toy.config import ToyConfig
from theory.toy.data import (
    instance_generator,
    sample_eval_set,
)
from theory.toy.internals import neuron_isolation
from theory.toy.model import ToyNets
from theory.toy.training import train_toy_nets

SMALL = ToyConfig(n_features=64, p=0.05, widths=(8, 16), seeds=(0, 1, 2), steps=200, batch=128,
                  warmup=20, n_eval=4096)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def planted_nets(config: ToyConfig, planted, positions_b, *, seed: int = 0) -> ToyNets:
    """Two seeds whose neurons are dense random mixtures, except that A's neuron i and B's
    neuron positions_b[i] read only feature planted[i] (with weight 1 and -1 alike)."""
    gen = torch.Generator().manual_seed(seed)
    n, width = config.n_features, config.widths[0]
    w_in = torch.randn(2, n, width, generator=gen) / np.sqrt(n)
    for i, (feature, j) in enumerate(zip(planted, positions_b)):
        sign = 1.0 if i % 2 == 0 else -1.0
        for s, unit in ((0, i), (1, j)):
            w_in[s, :, unit] = 0.0
            w_in[s, feature, unit] = sign
    return ToyNets(config, w_in, torch.zeros(2, width), torch.zeros(2, width, n),
                   torch.zeros(2, 1, n))


def test_neurons_isolating_the_same_feature_are_matched_as_rosetta_pairs():
    config = replace(SMALL, widths=(24,), seeds=(0, 1))
    planted, positions_b = [3, 0, 17, 40, 9], [20, 2, 11, 7, 15]
    nets = planted_nets(config, planted, positions_b)
    x = sample_eval_set(config, generator=instance_generator(5))
    seen = {}
    pairs, stats, thresholds = measure_nets(
        nets, x, rho_star=0.7, on_match=lambda w, a, b, m, tops: seen.setdefault((w, a, b), m))
    matches = seen[(24, 0, 1)]
    rosetta = {(int(a), int(b)) for a, b, r in
               zip(matches.index_a, matches.index_b, matches.correlation) if r >= 0.7}
    assert rosetta == set(zip(range(5), positions_b))
    np.testing.assert_array_equal(pairs, [[0, 1]])
    assert stats["rosetta_neurons"][0, 0] == 5 and stats["rosetta_features"][0, 0] == 5
    assert stats["feature_agreement"][0, 0] == 1.0 and stats["redundancy"][0, 0] == 1
    assert stats["isolation_rosetta"][0, 0] == pytest.approx(1.0)
    assert stats["isolation_nonrosetta"][0, 0] < 0.3
    assert thresholds[:, 0, 0].tolist() == sorted(thresholds[:, 0, 0].tolist(), reverse=True)
    assert thresholds[THRESHOLDS.index(0.7), 0, 0] == 5


def test_pair_bootstrap_recovers_a_planted_exponent(rng):
    widths = np.array([8.0, 16, 32, 64, 128, 256])
    counts = 2.0 * widths**0.6 * rng.lognormal(0.0, 0.1, size=(6, len(widths)))
    estimate, low, high = pair_bootstrap(widths, counts, rng=rng)
    assert low < 0.6 < high and low < estimate < high and high - low < 0.2
    assert seed_pairs((0, 1, 2)) == [(0, 1), (0, 2), (1, 2)]


def test_toy_sweep_record_match_records_and_null(tmp_path):
    sweep, directory = run_toy_sweep(SMALL, rho_star=0.5, out=tmp_path)
    loaded = ToySweep.load(directory)
    assert loaded.per_pair.keys() == sweep.per_pair.keys()
    counts = loaded.per_pair["rosetta_neurons"]
    assert counts.shape == (3, 2) and loaded.threshold_counts.shape == (len(THRESHOLDS), 3, 2)
    assert np.all(counts <= np.array(SMALL.widths))
    assert np.all(loaded.per_pair["rosetta_features"] <= counts)
    assert np.all(loaded.per_pair["null_neurons"] < counts)
    assert np.all(loaded.per_pair["null_max_correlation"] < 0.5)
    assert np.all(loaded.per_pair["permuted_neurons"] < counts)
    assert np.all(loaded.per_pair["permuted_max_correlation"] < 0.5)
    assert np.all(loaded.final_loss > 0) and loaded.final_loss.shape == (3, 2)
    record = MatchRecord.load(directory / "matches" / "N16-s0-s2")
    assert record.family == "toy" and record.n_rosetta == counts[1, 1]
    assert np.all(record.pairs["r"] >= 0.5) and record.layer_sizes_a == [16]
    # the chunk statistics recount the same Rosetta pairs (threshold included)
    assert 0 < record.n_chunk_groups <= GROUPS  # groups without an evaluation batch dropped
    ones = np.ones((1, record.n_chunk_groups))
    assert record.resampled_counts(ones).tolist() == [record.n_rosetta]
    nulls = [MatchRecord.load(directory / "matches" / f"{null}-N16-s0-s2")
             for null in ("untrained", "permuted")]
    assert [r.null for r in nulls] == ["untrained", "permuted"]
    assert [r.n_rosetta for r in nulls] == [loaded.per_pair["null_neurons"][1, 1],
                                            loaded.per_pair["permuted_neurons"][1, 1]]
    assert len(list((directory / "matches").iterdir())) == 18
    examples = ExamplesRecord.load(directory / "matches" / "N16-s0-s2" / "examples")
    assert examples.values_a.shape == (16, EXAMPLES) and len(examples.texts) <= 2 * 16 * EXAMPLES
    # a neuron's top inputs hold the neuron's dominant feature
    nets = train_toy_nets(SMALL).nets
    iso, dominant, _ = (t[0, SMALL.hidden_slice(16)].numpy() for t in neuron_isolation(nets))
    best = int(np.argmax(np.where(examples.values_a[:, 0] > 0, iso, 0.0)))  # alive
    top_inputs = [examples.texts[examples.sample_table["input"][i]]
                  for i in examples.samples_a[best, :3]]
    assert all(f" f{dominant[best]}=" in line for line in top_inputs), top_inputs
    again, same = run_toy_sweep(SMALL, rho_star=0.5, out=tmp_path)
    assert same == directory
    np.testing.assert_array_equal(again.per_pair["rosetta_neurons"], counts)


def test_simulate_cli_runs_the_toy_sweep(tmp_path, capsys):
    from theory.simulate import main

    args = ["--beta", "2", "--n-max", "4096", "--points", "4", "--widths", "8,16", "--seeds",
            "2", "--steps", "100", "--features", "64", "--p", "0.05", "--out", str(tmp_path)]
    main(args)
    out = capsys.readouterr().out
    assert "R_neur" in out and "R_pred" in out and "exponent of R_neurons" in out
    assert "derived 0.5000" in out and "toy nets (no rent, revived loss" in out
    figures = list((tmp_path / "empirics").glob("toy-*/rosetta_toy.png"))
    assert len(figures) == 1 and figures[0].stat().st_size > 10_000
    assert list((tmp_path / "empirics").glob("toy-*/prediction/record.json"))
    with pytest.raises(SystemExit):
        main([*args, "--seeds", "1"])
    assert "--seeds" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("beta", [1.5, 2.0])
def test_measured_exponent_is_sublinear(beta, tmp_path):
    """The default sweep: the exponent of R_neurons and R_features lies below 1 with its
    bootstrap interval; the numbers are printed next to 1/beta (run with -s to see them)."""
    from bridge.powerlaw import fit_power_law

    sweep, _ = run_toy_sweep(replace(ToyConfig(), beta=beta), rho_star=0.5, out=tmp_path)
    for name in ("rosetta_neurons", "rosetta_features"):
        estimate, low, high = getattr(sweep, "exponent_" + name.split("_")[1])
        fit = fit_power_law(sweep.widths, sweep.mean(name))
        print(f"beta={beta} {name}: means {np.round(sweep.mean(name), 2).tolist()} "
              f"slope {estimate:.3f} pair-bootstrap [{low:.3f}, {high:.3f}]; bridge OLS "
              f"{fit.alpha:.3f} t-interval [{fit.low:.3f}, {fit.high:.3f}]; 1/beta {1 / beta:.3f}")
        assert high < 1.0 and estimate > 0.0


def test_the_toy_command_has_its_own_usage(capsys):
    from empirics.toy.__main__ import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m empirics.toy") and "--tau" in out
    assert "--closure" not in out  # not theory.simulate's usage
    assert "--rho-star" not in out  # one name for the threshold: --tau, as in theory.simulate


def test_a_prediction_at_another_beta_or_threshold_is_refused(tmp_path):
    """One beta: the model's and the nets' must agree before anything trains, and a table
    never pairs a sweep with a prediction at another beta or threshold."""
    from empirics.toy.summary import format_toy_table
    from empirics.toy.sweep import check_prediction, measure_and_predict
    from theory.params import AllocationParams
    from theory.sweep import build_theory_run

    with pytest.raises(ValueError, match=r"beta \(2\) is not the toy nets' beta \(1.5\)"):
        measure_and_predict(AllocationParams(beta=2.0), SMALL, out=tmp_path)
    assert not any(tmp_path.iterdir())
    from tests.paper_figs.builders import write_toy_sweep

    sweep = write_toy_sweep(tmp_path / "saved", np.random.default_rng(0))
    toy, widths = sweep.config["toy"], sweep.widths
    same = AllocationParams(beta=toy["beta"], tau=sweep.config["rho_star"])
    check_prediction(sweep, build_theory_run(same, widths, seed=0))
    for other, message in ((replace(same, beta=toy["beta"] + 0.5), "beta"),
                           (replace(same, tau=0.9), "threshold rho")):
        with pytest.raises(ValueError, match=message):
            format_toy_table(sweep, build_theory_run(other, widths, seed=0))
    with pytest.raises(ValueError, match="widths"):
        format_toy_table(sweep, build_theory_run(same, widths[:-1], seed=0))
