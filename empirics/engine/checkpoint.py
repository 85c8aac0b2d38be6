"""The matching engine's accumulation state, saved after every block so that a run resumes.

The state holds what survives a block: the moments of every neuron (learnt by the first pass),
the best partners of the rows done so far and the running best partners of every column. It is
a record (runstore), written atomically. A state whose settings (widths, kept candidates,
dtype, ranks) differ from the new run's is refused before anything is reused, and a state is
reused only for the stream it was started on: its fingerprint (`StreamDigest`, every batch's
shape and sampled values) is checked on every later pass, and a finished state is verified by
one pass before its result is returned. The block partition (`block_rows`) belongs to the
state: a resume keeps it, whatever the free memory is now, so the result is the same bit for
bit.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from empirics.engine.moments import Moments
from empirics.engine.topk import TopK, merge_partners
from runstore import Record, RecordError, record_exists


@dataclasses.dataclass(frozen=True)
class MatchState(Record):
    """`config` holds the settings {n, m, keep, dtype} (and rank, world for a neuron split)
    and the partition `block_rows`."""

    kind: ClassVar[str] = "match_state"
    version: ClassVar[int] = 1

    done_blocks: int
    fingerprint: str
    count: int
    arrays: dict  # mean_a, m2_a, mean_b, m2_b, row_values, row_indices, col_values, col_indices
    resumed: bool = False

    @classmethod
    def fresh(cls, settings: dict) -> MatchState:
        return cls(config=dict(settings), done_blocks=0, fingerprint="", count=0,
                   arrays={"empty": np.zeros(0)})

    @property
    def settings(self) -> dict:
        return self.config

    @property
    def keep(self) -> int:
        return self.config["keep"]

    def moments(self) -> tuple[Moments, Moments] | None:
        """The stream's moments once the first block is done."""
        if self.done_blocks == 0:
            return None
        t = {k: torch.from_numpy(v) for k, v in self.arrays.items()}
        return (Moments(self.count, t["mean_a"], t["m2_a"]),
                Moments(self.count, t["mean_b"], t["m2_b"]))

    def rows(self):
        return TopK(torch.from_numpy(self.arrays["row_values"]),
                    torch.from_numpy(self.arrays["row_indices"]))

    def cols(self):
        return TopK(torch.from_numpy(self.arrays["col_values"]),
                    torch.from_numpy(self.arrays["col_indices"]))

    @property
    def block_rows(self) -> int:
        return self.config["block_rows"]

    def check_fingerprint(self, fingerprint: str) -> None:
        if fingerprint != self.fingerprint:
            raise ValueError("the activation stream differs from the one the checkpoint was "
                             f"started on (stream fingerprint {fingerprint}, saved "
                             f"{self.fingerprint}); delete the checkpoint or give the same "
                             "inputs")

    def advance(self, moments, fingerprint, rows, cols) -> MatchState:
        """The state after one more block with best partners `rows` and `cols` (TopK)."""
        ma, mb = moments
        arrays = {"mean_a": ma.mean.cpu().numpy(), "m2_a": ma.m2.cpu().numpy(),
                  "mean_b": mb.mean.cpu().numpy(), "m2_b": mb.m2.cpu().numpy()}
        if self.done_blocks:
            done = self.rows()
            rows = TopK(torch.cat([done.values, rows.values]),
                        torch.cat([done.indices, rows.indices]))
            cols = merge_partners(self.cols(), cols, self.keep)
        arrays.update(row_values=rows.values.numpy(), row_indices=rows.indices.numpy(),
                      col_values=cols.values.numpy(), col_indices=cols.indices.numpy())
        return MatchState(config=self.config, done_blocks=self.done_blocks + 1,
                          fingerprint=fingerprint, count=ma.count, arrays=arrays)


def load_state(directory: str | Path, settings: dict) -> MatchState | None:
    """The saved state in `directory` if any; refuse one saved with other settings (the
    partition `block_rows` aside: it is the state's own)."""
    if not record_exists(directory):
        return None
    state = MatchState.load(directory)
    saved = {key: value for key, value in state.config.items() if key != "block_rows"}
    if saved != settings:
        raise RecordError(f"the checkpoint in {directory} was saved with settings {saved}, "
                          f"not {settings}; delete it or use a new directory")
    return dataclasses.replace(state, resumed=True)
