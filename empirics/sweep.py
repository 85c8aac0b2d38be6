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
from pathlib import Path

from empirics.engine.distributed import SPLITS
from empirics.pipeline.options import (
    InputChoice,
    MatchOptions,
    Placement,
    add_pair_flags,
    from_flags,
)
from empirics.pipeline.pairs import FAMILY_PAIRS, inputs_for
from empirics.pipeline.sweep import (
    EXECUTORS,
    SweepReport,
    SweepSettings,
    make_executor,
    submit_sweep,
    sweep_jobs,
)
from runstore.commands import command_parser

log = logging.getLogger("empirics.sweep")


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("python -m empirics.sweep", __doc__)
    p.add_argument("--family", choices=sorted(FAMILY_PAIRS), required=True,
                   help="the kind of models paired")
    p.add_argument("--executor", choices=EXECUTORS, default="local",
                   help="where the jobs run: one after another on this machine (local), in "
                        "this process (debug), or as a Slurm job array (slurm)")
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
                   help="how the tasks of a job share a pair: batches or A's neuron blocks "
                        "(block engine only; the two-stage engine shares the batches)")
    slurm.add_argument("--cpus", type=int, default=8, help="CPUs per job")
    slurm.add_argument("--mem-gb", type=int, default=64, help="memory per job")
    slurm.add_argument("--hours", type=float, default=12.0, help="time limit per job")
    slurm.add_argument("--parallel", type=int, default=16, help="jobs of the array at once")
    slurm.add_argument("--wait", action="store_true", help="wait for the array to finish")
    add_pair_flags(p)
    return p


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
        jobs = sweep_jobs(args.family, args.pairs, args.model_dir,
                          cache_dir=args.cache_dir, download=args.download)
        inputs, provenance = inputs_for(args.family, from_flags(InputChoice, args))
        settings = SweepSettings(
            args.family, inputs, from_flags(MatchOptions, args), args.out,
            from_flags(Placement, args), args.force, args.tasks, args.split, provenance)
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
        parser.exit(1, f"{len(report.failed)} pair(s) failed (their errors above); once "
                       "the cause is fixed, the same command retries them (finished pairs "
                       "are skipped)\n")
    return report


if __name__ == "__main__":
    main()
