"""The command line: python -m theory.simulate."""

import subprocess
import sys

import numpy as np
import pytest

from theory.simulate import main
from theory.sweep import TheoryRun

SMALL = ["--n-min", "16", "--n-max", "65536", "--points", "7", "--no-train"]


def test_writes_record_table_and_figure(tmp_path, capsys):
    directory = main(["--beta", "1.5", *SMALL, "--out", str(tmp_path)])
    out = capsys.readouterr().out
    run = TheoryRun.load(directory)
    np.testing.assert_array_equal(run.sweep["n_neurons"], [16, 64, 256, 1024, 4096, 16384, 65536])
    np.testing.assert_array_equal(run.sweep["rosetta_count"], [4, 11, 28, 71, 181, 456, 1149])
    assert run.derived_exponent == pytest.approx(2 / 3)
    assert abs(run.fitted_exponent - 2 / 3) <= run.fitted_exponent_bound
    assert "derived 0.6667" in out and "R(N)" in out and "s_Rosetta" in out
    assert (directory / "frontiers.png").stat().st_size > 10_000
    assert (directory / "frontiers.pdf").is_file()


def test_reuses_an_existing_record_unless_forced(tmp_path, caplog):
    args = ["--beta", "2", *SMALL, "--out", str(tmp_path), "--no-plot"]
    first = main(args)
    stamp = (first / "record.json").stat().st_mtime_ns
    with caplog.at_level("INFO"):
        assert main(args) == first
    assert "reusing" in caplog.text
    assert (first / "record.json").stat().st_mtime_ns == stamp
    main([*args, "--force"])
    assert (first / "record.json").stat().st_mtime_ns != stamp
    other = main(["--beta", "2", "--tau", "0.7", *SMALL, "--out", str(tmp_path), "--no-plot"])
    assert other != first


@pytest.mark.parametrize(
    "args, message",
    [(["--beta", "1.0"], "--beta"), (["--beta", "0.3"], "--beta"), (["--tau", "0"], "--tau"),
     (["--tau", "1.2"], "--tau"), (["--n-min", "0.5"], "--n-min"), (["--beta", "abc"], "--beta"),
     (["--n-min", "100", "--n-max", "10"], "--n-max"),
     (["--shape", "2", "--beta", "2"], "kurtosis"),
     (["--closure", "Q"], "--closure")],
)
def test_bad_input_exits_with_a_message_naming_the_parameter(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_module_entry_point_runs(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "theory.simulate", "--beta", "3", "--closure", "A", *SMALL,
         "--out", str(tmp_path), "--no-plot"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "closure A" in done.stdout


def test_fit_leaves_out_widths_where_the_budget_binds(tmp_path, capsys):
    directory = main(["--beta", "1.5", "--kappa", "0.001", "--n-max", "1e12", "--out",
                      str(tmp_path), "--no-plot", "--no-train"])
    run = TheoryRun.load(directory)
    binding = run.sweep["budget_multiplier"] > 0
    assert binding.sum() >= 3 and run.n_fit_points == (~binding).sum()
    assert abs(run.fitted_exponent - 2 / 3) <= run.fitted_exponent_bound + 1e-12
    assert "binds at" in capsys.readouterr().out


def test_a_closure_whose_budget_binds_everywhere_says_it_fitted_nothing(tmp_path, capsys):
    """Closure A (a hard budget, no rent) binds at every width: no slope, no "nan"."""
    main(["--beta", "1.5", "--closure", "A", "--n-max", "1e6", "--out", str(tmp_path),
          "--no-train"])
    out = capsys.readouterr().out
    assert "not fitted on the numeric solution" in out and "nan" not in out
    assert "fraction R(N)/N: exponent" not in out


@pytest.mark.parametrize("flag, value, message", [
    ("--beta", "inf", "--beta must be a number in (1, inf), got inf"),
    ("--kappa", "inf", "--kappa must be a number in (0, inf), got inf"),
    ("--beta", "nan", "--beta must be a number in (1, inf), got nan")])
def test_infinite_or_nan_parameters_are_refused_at_once(flag, value, message, tmp_path,
                                                        capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([flag, value, "--out", str(tmp_path), "--no-train", "--no-plot"])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "theory").exists()


def test_a_theory_run_is_one_row_per_width():
    pytest.importorskip("pandas")
    from theory.params import AllocationParams
    from theory.sweep import build_theory_run, width_grid

    run = build_theory_run(AllocationParams(beta=1.5), width_grid(16, 4096, 3), seed=0)
    table = run.to_frame()
    assert len(table) == 3 and table["n_neurons"].tolist() == run.sweep["n_neurons"].tolist()
    assert table["rosetta_count"].tolist() == run.sweep["rosetta_count"].tolist()


def test_the_recorded_crossover_is_that_of_the_runs_own_budget():
    from theory.params import AllocationParams
    from theory.sweep import build_theory_run, width_grid

    widths = width_grid(1, 1e9, 9)
    run = build_theory_run(AllocationParams(beta=1.5, kappa=1e-3, budget=0.25), widths, seed=0)
    # phi = 1/4: N_* = (c_tau J_B / phi)^3 = 64 times that of phi = 1, and above it the
    # budget is slack (docs/theory.md, section 3)
    unit = build_theory_run(AllocationParams(beta=1.5, kappa=1e-3), widths, seed=0)
    assert run.budget_crossover == pytest.approx(64 * unit.budget_crossover, rel=1e-12)
    above = run.sweep["n_neurons"] >= run.budget_crossover
    assert above.any() and np.all(run.sweep["budget_multiplier"][above] == 0)
    assert np.any(run.sweep["budget_multiplier"][~above] > 0)


def test_a_crossover_saved_without_its_budget_is_not_shown(tmp_path):
    import dataclasses

    from theory.params import AllocationParams
    from theory.simulate import format_summary
    from theory.sweep import build_theory_run, width_grid

    run = build_theory_run(AllocationParams(beta=1.5, kappa=1e-3, budget=0.25),
                           width_grid(16, 4096, 3), seed=0)
    assert "is slack above N_* = " in format_summary(run)
    old = dataclasses.replace(run, crossover_with_budget=False)  # as saved before the fix
    old.save(tmp_path / "old")
    text = format_summary(TheoryRun.load(tmp_path / "old"))
    assert "N_* not shown: this record computed it without the budget phi = 0.25" in text
    assert "slack above" not in text
    unit = dataclasses.replace(build_theory_run(AllocationParams(beta=1.5), width_grid(
        16, 4096, 3), seed=0), crossover_with_budget=False)
    assert "is slack above N_* = " in format_summary(unit)  # phi = 1: N_* was right
