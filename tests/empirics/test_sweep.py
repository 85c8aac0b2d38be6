"""python -m empirics.sweep: pairs as independent submitit jobs, skipped once recorded."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from empirics.models.missing import MissingModelError
from empirics.pipeline.options import InputChoice, MatchOptions, Placement
from empirics.pipeline.pairs import inputs_for
from empirics.pipeline.sweep import (
    PairJob,
    SweepSettings,
    make_executor,
    submit_sweep,
    sweep_jobs,
)
from empirics.records.match import MatchRecord
from empirics.sweep import main
from tests.empirics.tiny_models import hub_entry, save_text_model, train_tokenizers

ARGS = ["--family", "language", "--docs", "6", "--batch", "2", "--tokens", "64",
        "--groups", "2", "--examples", "0", "--device", "cpu"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Tiny models saved under registry names (as a user's model folder would hold them)."""
    bpe, unigram = train_tokenizers()
    root = tmp_path_factory.mktemp("sweep-models")
    specs = {"tiny-neox": save_text_model(root / "tiny-neox", "gpt_neox", bpe, seed=1),
             "tiny-opt": save_text_model(root / "tiny-opt", "opt", unigram, seed=2)}
    return root, specs


def _settings(out, **options):
    """The settings `empirics.sweep ARGS` makes (its inputs: 6 documents drawn, and the draw)."""
    matching = MatchOptions(batch=2, tokens=64, groups=2, examples=0, **options)
    inputs, provenance = inputs_for("language", InputChoice(docs=6))
    return SweepSettings("language", inputs, matching, out, Placement("cpu"),
                         provenance=provenance)


def _stamps(out):
    return {p.parent.name: p.stat().st_mtime_ns for p in out.glob("match/*/record.json")}


# submitit's debug executor leaves its log files' handlers open (a ResourceWarning of its own)
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_two_pairs_run_once_and_are_skipped_on_rerun(models, tmp_path):
    root, specs = models
    a, b = specs["tiny-neox"], specs["tiny-opt"]
    jobs = [PairJob(a, b, (root / "tiny-neox", root / "tiny-opt")),
            PairJob(b, a, (root / "tiny-opt", root / "tiny-neox"))]
    settings = _settings(tmp_path)
    first = submit_sweep(jobs, settings, make_executor("debug", tmp_path / "jobs"))
    assert len(first.finished) == 2 and not first.skipped and not first.failed
    forward, backward = (MatchRecord.load(d) for d in first.finished)
    assert (forward.model_a, backward.model_a) == (a.name, b.name)
    assert forward.n_rosetta == backward.n_rosetta > 0  # mutual matching is symmetric
    assert np.allclose(np.sort(forward.pairs["r"]), np.sort(backward.pairs["r"]), atol=1e-9)
    stamps = _stamps(tmp_path)
    again = submit_sweep(jobs, settings, make_executor("debug", tmp_path / "jobs"))
    assert again.skipped == [job.name for job in jobs] and not again.finished
    assert _stamps(tmp_path) == stamps


def test_cli_on_the_local_executor_reports_failures_and_skips_finished_pairs(models, tmp_path):
    root, _ = models
    argv = [*ARGS, "--executor", "local", "--model-dir", str(root), "--out", str(tmp_path),
            "--pairs", "tiny-neox:tiny-opt", "pythia-160m:opt-125m"]  # no pythia-160m here
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 1
    (record,) = tmp_path.glob("match/*/record.json")
    assert MatchRecord.load(record.parent).model_a == "tiny-neox"
    assert list((tmp_path / "sweep-jobs").glob("*_log.out"))  # they ran as submitit jobs
    stamps = _stamps(tmp_path)
    jobs = sweep_jobs("language", argv[-2:], root)
    report = submit_sweep(jobs, _settings(tmp_path), make_executor("local", tmp_path / "jobs"))
    assert report.skipped == ["tiny-neox--tiny-opt"] and not report.finished
    (name, message), = report.failed
    assert name == "pythia-160m--opt-125m" and "not available offline" in message
    assert _stamps(tmp_path) == stamps


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("engine", ["block", "two-stage"])
def test_a_job_of_two_tasks_writes_the_one_task_record(models, tmp_path, engine):
    """Two processes of one local job share the pair over gloo (submitit's torch.distributed
    environment, the data split); the record equals one process's, in the same run
    directory, for either engine (`--gpus 8 --tasks 8` in docs/scale-out.md, scaled down)."""
    root, specs = models
    job = PairJob(specs["tiny-neox"], specs["tiny-opt"],
                  (root / "tiny-neox", root / "tiny-opt"))
    one = submit_sweep([job], _settings(tmp_path / "one", engine=engine),
                       make_executor("debug", tmp_path / "j"))
    two = submit_sweep([job], dataclasses.replace(_settings(tmp_path / "two", engine=engine),
                                                  tasks=2),
                       make_executor("local", tmp_path / "jobs", tasks=2))
    assert len(two.finished) == 1, two.failed
    assert Path(one.finished[0]).name == Path(two.finished[0]).name
    single, shared = MatchRecord.load(one.finished[0]), MatchRecord.load(two.finished[0])
    assert shared.n_rosetta == single.n_rosetta > 0 and shared.n_tokens == single.n_tokens
    for name in single.pairs:
        np.testing.assert_allclose(shared.pairs[name], single.pairs[name], atol=1e-6)
    assert len(list((tmp_path / "jobs").glob("*_result.pkl"))) == 2  # one per task


def test_a_split_the_engine_cannot_share_is_refused_before_any_job(models, tmp_path, capsys):
    """--tasks 2 --split neurons with the two-stage engine: exit 2 naming the fix, nothing
    submitted, and no advice to re-run the same command."""
    root, _ = models
    with pytest.raises(SystemExit) as exited:
        main([*ARGS, "--executor", "local", "--model-dir", str(root), "--out", str(tmp_path),
              "--pairs", "tiny-neox:tiny-opt", "--tasks", "2", "--split", "neurons"])
    error = capsys.readouterr().err
    assert exited.value.code == 2 and "--split data" in error and "same command" not in error
    assert not (tmp_path / "sweep-jobs").exists()
    with pytest.raises(ValueError, match="--split data"):
        dataclasses.replace(_settings(tmp_path), tasks=2, split="neurons")
    assert dataclasses.replace(_settings(tmp_path), tasks=2).tasks == 2  # a data split runs


def test_pairs_name_any_model_as_match_does(models, tmp_path):
    root, _ = models
    hub_entry(tmp_path / "hub", "someone/tiny-opt", root / "tiny-opt")
    [job] = sweep_jobs("language", [f"{root / 'tiny-neox'}:someone/tiny-opt"], None,
                       cache_dir=tmp_path / "hub")
    assert (job.spec_a.name, job.spec_b.name, job.spec_b.architecture) == (
        "tiny-neox", "someone/tiny-opt", "opt")
    assert job.paths == (root / "tiny-neox", None)  # the id loads from the cache
    with pytest.raises(MissingModelError, match="someone/absent"):
        sweep_jobs("language", ["someone/absent:pythia-70m"], None, cache_dir=tmp_path / "hub")
