"""Every script in benchmarks/ runs end to end at its tiny --smoke setting, so none rots."""

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Modules of benchmarks/ that are helpers of the scripts, not benchmarks.
HELPERS = {"timing.py"}
SCRIPTS = sorted(p.name for p in (ROOT / "benchmarks").glob("*.py") if p.name not in HELPERS)


def missing_browser() -> str | None:
    """Why the neuron browser's benchmark cannot run here (it needs a headless chromium)."""
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed"
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        return "Debian's chromium is not installed (.ci/run installs it)"
    return None


def test_every_benchmark_is_listed():
    assert len(SCRIPTS) >= 11 and "bench_two_stage.py" in SCRIPTS


#: Scripts with no smaller size than their whole run: slow (the solver they call is tested).
FULL_SIZE = {"budget_binding.py"}


@pytest.mark.parametrize("script", [pytest.param(s, marks=pytest.mark.slow) if s in FULL_SIZE
                                    else s for s in SCRIPTS])
def test_benchmark_runs_with_smoke(script, tmp_path):
    if script == "bench_report.py" and missing_browser():
        pytest.skip(missing_browser())
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--smoke"],
                            capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
    assert result.returncode == 0, f"{script} --smoke failed:\n{result.stderr[-3000:]}"
    assert result.stdout.strip(), f"{script} --smoke printed nothing"
    assert not list(tmp_path.iterdir()), f"{script} --smoke left files in its folder"


GPU_CHECK = ROOT / "benchmarks" / "gpu_check.sh"


def test_the_gpu_check_parses_and_refuses_an_unknown_flag():
    subprocess.run(["bash", "-n", str(GPU_CHECK)], check=True)
    usage = subprocess.run(["bash", str(GPU_CHECK), "--fast"], capture_output=True, text=True)
    assert usage.returncode == 2 and "usage" in usage.stderr


def test_the_gpu_check_names_only_test_files_that_exist():
    """The CUDA-test step lists its test paths; a moved test file would fail it on the GPU."""
    text = GPU_CHECK.read_text()
    paths = {word for word in text.split() if word.startswith("tests/")}
    assert paths and all((ROOT / path).exists() for path in paths), paths


# Slow: its steps after the first are bench_matching.py and bench_official.py at their --smoke
# sizes, which test_benchmark_runs_with_smoke runs in the default run; the two tests above keep
# the script's parse, its usage and its test paths there.
@pytest.mark.slow
def test_the_gpu_check_parses_and_runs_its_steps_on_cpu_at_smoke_size():
    result = subprocess.run(["bash", str(GPU_CHECK), "--smoke"], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("\n-- ") == 3  # every step ran to its end
