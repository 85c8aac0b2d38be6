"""A family's pairs as independent jobs (submitit): a Slurm job array, or on one machine one
subprocess after another (`local`; `debug` runs them in this process). A pair whose record
exists is skipped before anything is submitted, and a job checks again before it loads a model,
so a sweep is simply re-submitted after failures. Every job writes its record exactly as
`python -m empirics.match` would (same run directory, same config).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import submitit

from empirics.engine.distributed import SINGLE, SPLITS, launched_ranks, stop_group
from empirics.models.detect import resolve_model
from empirics.models.load import MissingModelError
from empirics.models.registry import ModelSpec, matched_pairs
from empirics.pipeline.match import (
    check_sharing,
    match_pair,
    pair_config,
    pair_directory,
)
from empirics.pipeline.options import MatchOptions, Placement
from empirics.pipeline.pairs import MATCH_FAMILIES, match_family
from runstore import reusable
from runstore.devices import resolve_device
from runstore.options import check_fields, flag

log = logging.getLogger(__name__)


EXECUTORS = ("local", "slurm", "debug")


@dataclass(frozen=True)
class SweepPlan:
    """Which pairs of a family run (`pairs` as "A:B"; None: its matched-scale pairs), from
    which checkpoints, on which executor (its logs in `jobs_dir`), and how many processes
    share each pair (`tasks`, `split`: empirics.engine.distributed)."""

    family: str = flag(help="the kind of models paired", choices=sorted(MATCH_FAMILIES.names()))
    executor: str = flag("local", "where the jobs run: one after another on this machine "
                         "(local), in this process (debug), or as a Slurm job array (slurm)",
                         choices=EXECUTORS)
    pairs: tuple | None = flag(None, "pairs to run (default: the family's matched-scale pairs)",
                               nargs="+", metavar="A:B")
    model_dir: Path | None = flag(None, "local checkpoints as DIR/<model name>", type=Path)
    jobs_dir: Path | None = flag(None, "submitit logs and job files (default: "
                                 "<out>/sweep-jobs)", type=Path)
    tasks: int = flag(1, "processes per job sharing each pair (one per GPU; torch.distributed)",
                      at_least=1)
    split: str = flag("data", "how the tasks of a job share a pair: batches or A's neuron "
                      "blocks (block engine only; the two-stage engine shares the batches)",
                      choices=SPLITS)

    def __post_init__(self):
        check_fields(self)


@dataclass(frozen=True)
class SlurmOptions:
    """The resources of each job of a Slurm array, and whether to wait for the array."""

    partition: str | None = flag(None, "Slurm partition")
    gpus: int = flag(1, "GPUs per job", at_least=0)
    cpus: int = flag(8, "CPUs per job", at_least=1)
    mem_gb: int = flag(64, "memory per job", at_least=1)
    hours: float = flag(12.0, "time limit per job", above=0.0)
    parallel: int = flag(16, "jobs of the array at once", at_least=1)
    wait: bool = flag(False, "wait for the array to finish")

    def __post_init__(self):
        check_fields(self)

    def executor_options(self) -> dict:
        """The keyword options of `make_executor` for a Slurm array."""
        options = {"gpus_per_node": self.gpus, "cpus_per_task": self.cpus,
                   "mem_gb": self.mem_gb, "timeout_min": int(self.hours * 60),
                   "slurm_array_parallelism": self.parallel, "name": "rosetta-sweep"}
        if self.partition:
            options["slurm_partition"] = self.partition
        return options


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
    records go, the models' placement (its device resolved on the node), and the
    processes (`tasks`) that share each pair's work (empirics.engine.distributed, `split`)."""

    family: str
    inputs: list
    options: MatchOptions
    out: Path
    placement: Placement = Placement()
    force: bool = False
    tasks: int = 1
    split: str = "data"
    provenance: dict | None = None

    def __post_init__(self):
        check_sharing(self.family, self.options, self.tasks, self.split)

    def directory(self, job: PairJob) -> Path:
        config = pair_config(job.spec_a, job.spec_b, family=self.family, inputs=self.inputs,
                             options=self.options, paths=job.paths,
                             provenance=self.provenance)
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
    device = resolve_device(settings.placement.device)
    ranks = SINGLE
    if settings.tasks > 1:
        submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False)
        ranks, device = launched_ranks(device, split=settings.split)
    try:
        return str(match_pair(job.spec_a, job.spec_b, family=settings.family,
                              inputs=settings.inputs, options=settings.options,
                              out=settings.out, device=device, paths=job.paths,
                              placement=settings.placement, force=settings.force,
                              ranks=ranks, provenance=settings.provenance))
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
        try:
            done = reusable(settings.directory(job), force=settings.force)
        except MissingModelError:  # the job fails with the message that says what is missing
            done = False
        (report.skipped if done else pending).append(job.name if done else job)
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


def sweep_jobs(family: str, pairs: list[str] | None, model_dir: Path | None,
               **lookup) -> list[PairJob]:
    """The pairs ("A:B", each any model `resolve_model` names, which `lookup` passes
    cache_dir and download; default: the family's matched-scale pairs) with local
    checkpoints from `model_dir/<name>` where such a directory exists."""
    def local(name: str) -> Path | None:
        return model_dir / name if model_dir and (model_dir / name).is_dir() else None

    if not pairs:
        return [PairJob(a, b, (local(a.name), local(b.name)))
                for a, b in matched_pairs(*match_family(family).sides)]
    jobs = []
    for text in pairs:
        a, sep, b = text.partition(":")
        if not sep:
            raise ValueError(f"pairs are given as A:B, got {text!r}")
        (spec_a, path_a), (spec_b, path_b) = (resolve_model(name, local(name), **lookup)
                                              for name in (a, b))
        jobs.append(PairJob(spec_a, spec_b, (path_a, path_b)))
    return jobs
