"""The toy study: the toy family over arms x beta x feature pool x training length, one toy
sweep each (`empirics.toy.sweep.run_toy_sweep`, reused when saved), read off into one
table of exponents next to 1/beta and to the exponent the nets' internals predict
(docs/theory.md, section 7).

Arms are configs of one model: "none" (importance-weighted costs and capacity only) and
"rent" (each neuron pays kappa/N, kappa from `theory.toy.config.auto_rent`). The pool scan
keeps p n = `active` fixed while n grows; pools past `dense_limit` features train with the
sampled output loss (at n = 2048 and width 64 the dense loss is faster, and both train
to the same nets: measured). The default grid's 16 cells trained in 74.5 min of one-thread time
(n = 512: 1-2 min a cell; n = 1024 at 4,000 steps: 8 min; n = 2048 at 8,000 steps: 20 min;
two cells at a time on two CPU cores); `pools=(512, 2048, 4096, 8192)` is the design for a
GPU. Two
training lengths check convergence: an exponent that moves between them by more than its
interval's half-width is flagged "not converged".
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from empirics.records.toy import ToyStudy, ToySweep
from empirics.toy.sweep import run_toy_sweep, toy_sweep_dir
from runstore import RecordError, record_exists, reuse_or_build, run_dir
from runstore.options import check_fields, flag, float_list
from runstore.progress import progress_bar
from theory.toy.config import ToyConfig, auto_rent, revives_outputs

log = logging.getLogger(__name__)

ARMS = ("none", "rent")


@dataclass(frozen=True)
class StudyDesign:
    """The grid of the study: every arm x beta at `pools[0]` and both training lengths, and
    the pool scan (every pool) at `scan_beta`, trained `scan_steps(n)` steps.
    `rho_star` is the Rosetta threshold of every sweep (the commands' `--tau`; the name the
    saved sweeps and studies hold in their configs)."""

    arms: tuple[str, ...] = flag(ARMS, "comma-separated arms: none, rent", choices=ARMS)
    betas: tuple[float, ...] = flag((1.5, 2.0, 3.0), "importance exponents", type=float_list,
                                    above=0.0)
    pools: tuple[int, ...] = flag((512, 1024, 2048), "feature pools n; the first is the arms' "
                                  "pool, all are scanned", at_least=1)
    scan_beta: float = flag(2.0, "beta of the pool scan", above=0.0)
    active: float = flag(10.24, "mean active features p*n, fixed over the pool scan",
                         above=0.0)
    widths: tuple[int, ...] = flag((16, 32, 64, 128, 256), "hidden widths", at_least=1)
    seeds: tuple[int, ...] = flag((0, 1, 2), "seed ids", cli=False)
    steps: tuple[int, ...] = flag((2000, 4000), "the two training lengths (convergence check)",
                                  at_least=1)
    batch: int = flag(256, "samples per step", at_least=1)
    dense_limit: int = flag(2048, "pools above this train with the sampled output loss",
                            at_least=1)
    output_samples: int = flag(512, "tail draws per step of the sampled output loss",
                               at_least=0)
    rho_star: float = flag(0.5, "Rosetta threshold rho* of every sweep (theory.simulate's "
                           "--tau)", name="--tau", above=0.0, at_most=1.0)
    scale_scan_steps: bool = flag(True, "train the pool scan at the short length (default: "
                                  "scaled by n / n_0, so every feature fires as often as in "
                                  "the first pool)", name="--fixed-scan-steps")
    revive_outputs: bool = flag(True, "train on the loss's bound that keeps a gradient on dead "
                                "outputs (--no-revive-outputs: the plain loss; docs/theory.md, "
                                "section 7)", action=argparse.BooleanOptionalAction)

    def __post_init__(self) -> None:
        check_fields(self)
        if len(self.steps) != 2 or self.steps[0] >= self.steps[1]:
            raise ValueError(f"steps must be two increasing lengths, got {list(self.steps)}")

    def config(self, arm: str, beta: float, pool: int, steps: int) -> ToyConfig:
        """The toy sweep of one cell."""
        p = self.active / pool
        sampled = pool > self.dense_limit
        return ToyConfig(
            n_features=pool, p=p, beta=beta, widths=self.widths, seeds=self.seeds,
            steps=steps, batch=self.batch, warmup=min(ToyConfig.warmup, steps // 10),
            rent=auto_rent(beta, p, min(self.widths)) if arm == "rent" else 0.0,
            output_samples=self.output_samples if sampled else 0,
            exact_outputs=min(self.dense_limit, pool - 1), revive_outputs=self.revive_outputs)

    def cells(self) -> list[tuple[str, float, int, int]]:
        """(arm, beta, pool, steps) of every sweep, the cheapest informative first: the
        arms x betas at the short length, the pool scan, then the long length."""
        first = [(a, b, self.pools[0], self.steps[0]) for a, b in
                 itertools.product(self.arms, self.betas)]
        scan = [(a, self.scan_beta, n, self.scan_steps(n)) for a, n in
                itertools.product(self.arms, self.pools[1:])]
        long = [(a, b, self.pools[0], self.steps[1]) for a, b in
                itertools.product(self.arms, self.betas)]
        return first + scan + long

    def scan_steps(self, pool: int) -> int:
        """Training steps of a pool-scan cell: the short length, times n / n_0 when
        `scale_scan_steps` (p = active / n falls with n, so each feature fires as often in
        training as in the first pool)."""
        if not self.scale_scan_steps:
            return self.steps[0]
        return int(round(self.steps[0] * pool / self.pools[0]))

    def to_config(self) -> dict:
        return {key: list(value) if isinstance(value, tuple) else value
                for key, value in dataclasses.asdict(self).items()}


def study_row(arm: str, sweep: ToySweep, directory: Path) -> dict:
    """One line of the study table from one sweep."""
    toy = sweep.config["toy"]
    failed = sweep.per_instance["failed"]
    return {"arm": arm, "beta": toy["beta"], "n_features": toy["n_features"], "p": toy["p"],
            "steps": toy["steps"], "rent": toy["rent"], "sampled": toy["output_samples"] > 0,
            "revive_outputs": revives_outputs(toy),
            "inverse_beta": 1.0 / toy["beta"],
            "exponent_neurons": list(sweep.exponent_neurons),
            "exponent_features": list(sweep.exponent_features),
            "exponent_internal": list(sweep.exponent_internal),
            "exponent_price": list(sweep.exponent_price),
            "failed": int(failed.sum()), "nets": int(failed.size),
            "seconds": float(sweep.seconds), "sweep": str(directory)}


def converged(rows: list[dict]) -> None:
    """Mark each long-length row with whether its R_neurons exponent stayed within the
    short row's interval half-width ("converged" True/False; None without a twin)."""
    short = {(r["arm"], r["beta"], r["n_features"]): r for r in rows
             if r["steps"] == min(x["steps"] for x in rows)}
    for row in rows:
        twin = short.get((row["arm"], row["beta"], row["n_features"]))
        row["converged"] = None
        if twin is not None and twin is not row:
            estimate, low, high = twin["exponent_neurons"]
            moved = abs(row["exponent_neurons"][0] - estimate)
            row["converged"] = (bool(moved <= (high - low) / 2)
                                if np.isfinite(moved) and np.isfinite(high - low) else None)
            twin["converged"] = row["converged"]


def run_study(design: StudyDesign, *, out: str | Path, device="cpu", force: bool = False,
              progress: bool = False, limit: int | None = None,
              saved_only: bool = False) -> tuple[ToyStudy, Path]:
    """Run (or reuse) every sweep of the design and save the ToyStudy table beside them.

    `limit` runs only the first cells (in `StudyDesign.cells` order); `saved_only` trains
    nothing and tables the cells whose sweeps are already saved. Either way the table says
    how many of the design's cells it holds, never pretending to be the whole design.
    """
    directory = run_dir(out, "empirics", {"study": design.to_config()}, label="toy-study")
    cells = design.cells()[:limit]
    if saved_only:
        cells = [cell for cell in cells if record_exists(
            toy_sweep_dir(design.config(*cell), rho_star=design.rho_star, out=out))]
        force = True

    def build() -> ToyStudy:
        rows = []
        for arm, beta, pool, steps in progress_bar(cells, desc="toy study", show=progress):
            config = design.config(arm, beta, pool, steps)
            log.info("toy study: %s arm, beta %g, n %d, %d steps", arm, beta, pool, steps)
            sweep, sweep_dir = run_toy_sweep(config, rho_star=design.rho_star, out=out,
                                             device=device, progress=progress)
            rows.append(study_row(arm, sweep, sweep_dir))
        converged(rows)
        return ToyStudy(config={"study": design.to_config()}, rows=rows,
                        n_cells=len(design.cells()))

    study, _ = reuse_or_build(directory, ToyStudy, build,
                              force=force or _short_of(directory, len(cells)))
    return study, directory


def _short_of(directory: Path, n_cells: int) -> bool:
    """Whether a saved study holds fewer cells than now asked for (then it is rebuilt: its
    sweeps are reused, so only the missing cells run)."""
    if not record_exists(directory):
        return False
    try:
        return len(ToyStudy.load(directory).rows) < n_cells
    except RecordError:
        return False  # reuse_or_build reports what is wrong with it
