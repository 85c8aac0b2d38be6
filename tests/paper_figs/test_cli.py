"""python -m paper_figs and the figure modules' own command lines."""

import subprocess
import sys
from pathlib import Path

import pytest

from paper_figs import fig05_frontiers
from paper_figs.__main__ import main
from paper_figs.registry import MODULES, PLANNED, all_figures
from tests.paper_figs.builders import write_theory_run

ROOT = Path(__file__).resolve().parents[2]


def test_after_the_main_command_figures_5_and_27_are_built(tmp_path, capsys,
                                                            one_torch_thread):
    """The README's main command (here on a small grid and a short toy sweep) writes at
    least the records of Figs. 5 and 27; the others are listed with the command that makes
    theirs."""
    from theory.simulate import main as simulate

    runs, out = tmp_path / "runs", tmp_path / "figures"
    simulate(["--beta", "1.5", "--n-max", "4096", "--points", "4", "--widths", "8,16,32",
              "--seeds", "2", "--steps", "100", "--features", "64", "--p", "0.05",
              "--no-plot", "--out", str(runs)])
    capsys.readouterr()
    report = main(["--records", str(runs), "--out", str(out)])
    assert set(report.built) >= {"fig05_frontiers", "fig27_toy"}
    assert {p.name for p in out.iterdir()} == {
        f"{name}{suffix}" for name in report.built for suffix in (".png", ".pdf")}
    printed = capsys.readouterr().out
    assert f"python -m bridge.compare --family FAMILY --size params --beta 1.5 --records {runs}" \
        in report.skipped["fig03_counts"]
    for name, flag in (("fig04_untrained_null", "--init random"),
                       ("fig26_permuted_null", "--null permuted")):
        assert name in report.built or flag in report.skipped[name]
    for name in [*report.skipped, *report.built]:
        assert name in printed
    assert set(PLANNED) <= set(report.skipped)


def test_a_missing_records_folder_names_the_command_that_makes_records(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--records", str(tmp_path / "absent")])
    assert exit_info.value.code == 1
    assert "python -m theory.simulate --beta 1.5" in capsys.readouterr().err


def test_no_figure_to_build_exits_nonzero_and_lists_every_skip(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--records", str(tmp_path), "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 1
    printed = capsys.readouterr().out
    assert all(f"skipped {figure.name}" in printed for figure in all_figures())
    assert not (tmp_path / "out").exists()


def test_a_damaged_record_is_reported_and_the_rest_is_built(tmp_path, capsys):
    runs = tmp_path / "runs"
    write_theory_run(runs, points=3)
    (runs / "theory" / "broken").mkdir(parents=True)
    (runs / "theory" / "broken" / "record.json").write_text("{")
    report = fig05_frontiers.main(["--records", str(runs), "--out", str(tmp_path)])
    assert list(report.built) == ["fig05_frontiers"]
    assert len(report.problems) == 1 and "broken/record.json is not valid JSON" in \
        capsys.readouterr().out


def test_a_figure_module_builds_only_its_figure(records_root, tmp_path):
    report = fig05_frontiers.main(["--records", str(records_root), "--out", str(tmp_path)])
    assert list(report.built) == ["fig05_frontiers"] and report.skipped == {}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig05_frontiers.pdf",
                                                          "fig05_frontiers.png"]


# Slow: draws all 15 figures again in a fresh process. The default run keeps both halves:
# tests/test_layers.py::test_records_report_bridge_and_figures_import_without_torch (every
# figure module imports without torch) and tests/paper_figs/test_figures.py (each figure
# builds); this test adds that building them imports none either.
@pytest.mark.slow
def test_figures_are_built_without_torch(records_root, tmp_path):
    code = ("import sys; from paper_figs.__main__ import main; "
            f"report = main(['--records', {str(records_root)!r}, '--out', {str(tmp_path)!r}]); "
            f"assert len(report.built) == {len(all_figures())}, report; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr


def test_the_registry_names_each_figure_once():
    names = [figure.name for figure in all_figures()]
    assert len(names) == len(set(names)) == 15 and not set(names) & set(PLANNED)
    assert len(MODULES) == len(set(MODULES))
    assert all(figure.produced_by.startswith("python -m ") for figure in all_figures())
