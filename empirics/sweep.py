"""python -m empirics.sweep: every pair of a family as an independent job (submitit).

    python -m empirics.sweep --family language --executor slurm --partition gpu --gpus 1
    python -m empirics.sweep --family language --executor local --model-dir /data/models

Each pair is one job: one task of a Slurm job array (submitted through submitit), or on one
machine one subprocess after another (`local`; `debug` runs them in this process). A pair
whose record exists is skipped before anything is submitted, and a job checks again before it
loads a model, so a sweep is simply re-submitted after failures: finished pairs are not
recomputed and an interrupted pair resumes from its engine checkpoint. Every job writes its
record exactly as `python -m empirics.match` would (same run directory, same config).
"""

from __future__ import annotations

import argparse
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import submitit

from empirics.engine.distributed import SINGLE, SPLITS, launched_ranks, stop_group
from empirics.match import add_match_options, options_of, placement_of
from empirics.models.registry import ModelSpec, get_spec, matched_pairs
from empirics.pipeline.match import (
    FAMILY_PAIRS,
    inputs_for,
    match_pair,
    pair_config,
    pair_directory,
)
from runstore import record_exists
from theory.runtime import resolve_device

log = logging.getLogger("empirics.sweep")

EXECUTORS = ("local", "slurm", "debug")


@dataclass(frozen=True)
class PairJob:
    """One pair to match; `paths` are local checkpoints (None: the Hugging Face cache)."""

    spec_a: ModelSpec
    spec_b: ModelSpec
    paths: tuple = (None, None)

    @property
    def name(self) -> str:
        return f"{self.spec_a.name}--{self.spec_b.name}"


@dataclass(frozen=True)
class SweepSettings:
    """What every job of a sweep shares: the inputs, the options of `empirics.match`, where
    records go, the device name (resolved on the node), the models' placement, and the
    processes (`tasks`) that share each pair's work (empirics.engine.distributed, `split`)."""

    family: str
    inputs: list
    options: dict
    out: Path
    device: str = "auto"
    placement: dict = field(default_factory=dict)
    force: bool = False
    tasks: int = 1
    split: str = "data"

    def directory(self, job: PairJob) -> Path:
        config = pair_config(job.spec_a, job.spec_b, family=self.family, inputs=self.inputs,
                             options=self.options)
        return pair_directory(self.out, config)


@dataclass
class SweepReport:
    """Pairs skipped (record found), finished, failed (with the error) or submitted (job ids)."""

    skipped: list = field(default_factory=list)
    finished: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    submitted: list = field(default_factory=list)


def run_pair(job: PairJob, settings: SweepSettings) -> str:
    """The body of one job (each of its tasks): match the pair, or reuse its record; return
    the record directory. A job of several tasks joins them in one process group."""
    device = resolve_device(settings.device)
    ranks = SINGLE
    if settings.tasks > 1:
        submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False)
        ranks, device = launched_ranks(device, split=settings.split)
    try:
        return str(match_pair(job.spec_a, job.spec_b, family=settings.family,
                              inputs=settings.inputs, options=settings.options,
                              out=settings.out, device=device, paths=job.paths,
                              placement=settings.placement, force=settings.force,
                              ranks=ranks))
    finally:
        stop_group()


def make_executor(kind: str, folder: str | Path, *, tasks: int = 1,
                  **slurm) -> submitit.Executor:
    """A submitit executor: `slurm` (keyword options such as slurm_partition, gpus_per_node,
    timeout_min, slurm_array_parallelism), `local` (subprocesses) or `debug` (in process,
    one task, stops in pdb on an error). `tasks` processes run each job."""
    if kind not in EXECUTORS:
        raise ValueError(f"executor must be one of {EXECUTORS}, not {kind!r}")
    if kind == "debug" and tasks > 1:
        raise ValueError("the debug executor runs one task per job")
    executor = submitit.AutoExecutor(folder=folder, cluster=kind)
    if kind == "slurm":
        executor.update_parameters(**slurm)
    if kind != "debug":
        executor.update_parameters(tasks_per_node=tasks)
    return executor


def submit_sweep(jobs: list[PairJob], settings: SweepSettings, executor: submitit.Executor,
                 *, wait: bool = True) -> SweepReport:
    """Skip the pairs whose record exists and run the others as independent jobs.

    On a cluster the pending pairs go out as one job array; `wait` then collects their
    results. Local and debug executors run one pair at a time (one machine's devices are
    not shared between pairs) and always wait. A failed pair is reported, not raised.
    """
    report = SweepReport()
    pending = []
    for job in jobs:
        if record_exists(settings.directory(job)) and not settings.force:
            report.skipped.append(job.name)
        else:
            pending.append(job)
    if executor.cluster == "slurm":
        submitted = executor.map_array(run_pair, pending, [settings] * len(pending))
        report.submitted = [j.job_id for j in submitted]
        outcomes = zip(pending, submitted) if wait else ()
    else:
        outcomes = ((job, executor.submit(run_pair, job, settings)) for job in pending)
    for job, submitted in outcomes:
        try:
            report.finished.append(submitted.results()[0])  # task 0's, as every task's
        except Exception as error:  # a failed pair must not stop the sweep
            report.failed.append((job.name, _error_line(error)))
            log.error("pair %s failed: %s", job.name, _error_line(error))
    return report


def _error_line(error: Exception) -> str:
    """The error's own line: for a failed job, the last exception line of its traceback."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    raised = [line for line in lines if re.match(r"^[\w.]+(Error|Exception|Interrupt)\b", line)]
    if raised:
        return raised[-1]
    return f"{type(error).__name__}: {lines[0] if lines else ''}"


def sweep_jobs(family: str, pairs: list[str] | None, model_dir: Path | None) -> list[PairJob]:
    """The pairs ("A:B" names, default: the family's matched-scale pairs) with local
    checkpoints from `model_dir/<name>` where such a directory exists."""
    if pairs:
        specs = []
        for text in pairs:
            a, sep, b = text.partition(":")
            if not sep:
                raise ValueError(f"pairs are given as A:B, got {text!r}")
            specs.append((get_spec(a), get_spec(b)))
    else:
        specs = list(matched_pairs(*FAMILY_PAIRS[family]))

    def local(spec):
        return model_dir / spec.name if model_dir and (model_dir / spec.name).is_dir() else None

    return [PairJob(a, b, (local(a), local(b))) for a, b in specs]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m empirics.sweep",
                                description=__doc__.splitlines()[0])
    p.add_argument("--family", choices=sorted(FAMILY_PAIRS), required=True)
    p.add_argument("--executor", choices=EXECUTORS, default="local")
    p.add_argument("--pairs", nargs="+", metavar="A:B",
                   help="pairs to run (default: the family's matched-scale pairs)")
    p.add_argument("--model-dir", type=Path, help="local checkpoints as DIR/<model name>")
    p.add_argument("--jobs-dir", type=Path, default=None,
                   help="submitit logs and job files (default: <out>/sweep-jobs)")
    slurm = p.add_argument_group("slurm")
    slurm.add_argument("--partition", help="Slurm partition")
    slurm.add_argument("--gpus", type=int, default=1, help="GPUs per job")
    p.add_argument("--tasks", type=int, default=1,
                   help="processes per job sharing each pair (one per GPU; torch.distributed)")
    p.add_argument("--split", choices=SPLITS, default="data",
                   help="how the tasks of a job share a pair: batches or A's neuron blocks")
    slurm.add_argument("--cpus", type=int, default=8, help="CPUs per job")
    slurm.add_argument("--mem-gb", type=int, default=64, help="memory per job")
    slurm.add_argument("--hours", type=float, default=12.0, help="time limit per job")
    slurm.add_argument("--parallel", type=int, default=16, help="jobs of the array at once")
    slurm.add_argument("--wait", action="store_true", help="wait for the array to finish")
    return add_match_options(p)


def slurm_options(args) -> dict:
    options = dict(gpus_per_node=args.gpus, cpus_per_task=args.cpus, mem_gb=args.mem_gb,
                   timeout_min=int(args.hours * 60), slurm_array_parallelism=args.parallel,
                   name="rosetta-sweep")
    if args.partition:
        options["slurm_partition"] = args.partition
    return options


def main(argv: list[str] | None = None) -> SweepReport:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        jobs = sweep_jobs(args.family, args.pairs, args.model_dir)
        settings = SweepSettings(args.family, inputs_for(args), options_of(args), args.out,
                                 args.device, placement_of(args), args.force, args.tasks,
                                 args.split)
        executor = make_executor(args.executor, args.jobs_dir or args.out / "sweep-jobs",
                                 tasks=args.tasks, **slurm_options(args))
    except (ValueError, KeyError) as error:
        parser.error(str(error))
    report = submit_sweep(jobs, settings, executor, wait=args.wait)
    log.info("skipped (record exists): %d, finished: %d, failed: %d, submitted: %s",
             len(report.skipped), len(report.finished), len(report.failed),
             ", ".join(report.submitted) or "none")
    for name, message in report.failed:
        log.info("failed %s: %s", name, message)
    if report.failed:
        parser.exit(1, f"{len(report.failed)} pair(s) failed; re-run the same command to "
                       "retry them (finished pairs are skipped)\n")
    return report


if __name__ == "__main__":
    main()
