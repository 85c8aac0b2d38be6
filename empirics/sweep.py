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

from empirics.pipeline.options import InputChoice, MatchOptions, Placement, add_pair_flags
from empirics.pipeline.pairs import inputs_for
from empirics.pipeline.sweep import (
    SlurmOptions,
    SweepPlan,
    SweepReport,
    SweepSettings,
    make_executor,
    submit_sweep,
    sweep_jobs,
)
from runstore.commands import command_parser
from runstore.options import add_flags, from_flags

log = logging.getLogger("empirics.sweep")


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("python -m empirics.sweep", __doc__)
    add_flags(p, SweepPlan)
    add_flags(p.add_argument_group("slurm"), SlurmOptions)
    add_pair_flags(p)
    return p


def main(argv: list[str] | None = None) -> SweepReport:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        plan, slurm = from_flags(SweepPlan, args), from_flags(SlurmOptions, args)
        jobs = sweep_jobs(plan.family, plan.pairs, plan.model_dir,
                          cache_dir=args.cache_dir, download=args.download)
        inputs, provenance = inputs_for(plan.family, from_flags(InputChoice, args))
        settings = SweepSettings(
            plan.family, inputs, from_flags(MatchOptions, args), args.out,
            from_flags(Placement, args), args.force, plan.tasks, plan.split, provenance)
        executor = make_executor(plan.executor, plan.jobs_dir or args.out / "sweep-jobs",
                                 tasks=plan.tasks, **slurm.executor_options())
    except (ValueError, KeyError) as error:
        parser.error(str(error))
    report = submit_sweep(jobs, settings, executor, wait=slurm.wait)
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
