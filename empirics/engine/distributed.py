"""The matching engine over several processes with `torch.distributed` (launched by torchrun).

`Ranks` is the engine's one hook into distribution: the engine calls its reductions at fixed
points, and `SINGLE` (one process) makes every one of them a no-op, so the single-process
path is the same code. Two ways to split the work:

- ``split="data"``: rank r streams the batches i with i mod W == r (`shard_inputs`,
  `shard_source`). Every pass's statistics are combined over the ranks before any decision
  (top-k, the re-done pass, a checkpoint): the float64 cross-products of a block and the
  candidate pass's sums are summed, the moments merged with Chan's update in rank order, and
  the offsets and first-batch fingerprint come from rank 0, whose first batch is the stream's
  first. Every rank then holds the same state and the result equals the single-process one up
  to the rounding of the sums. Chunk group g of the bootstrap takes global batches i mod G.
- ``split="neurons"``: every rank streams all batches but makes the passes of its own
  contiguous share of A's row blocks, keeping only their best partners; the partners are
  gathered and merged in rank order at the end (so lower indices still win ties).

Only rank 0 writes records and data-split checkpoints (after a barrier); a neuron-split rank
checkpoints its own blocks in ``<checkpoint>/rank-<r>-of-<W>``. A rank that fails makes the
others fail at their next collective (a closed connection, or the process group's timeout).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import multiprocessing
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch
import torch.distributed as dist

from empirics.engine.moments import Moments, Source, merge_moments
from empirics.engine.topk import TopK, merge_partners

SPLITS = ("data", "neurons")


@dataclass(frozen=True)
class Ranks:
    """This process's place among the ranks and how the engine's work is split.

    `device` is where collectives run (the rank's CUDA device under NCCL, else the CPU);
    `local_world` the ranks on this machine (they share its host memory).
    """

    rank: int = 0
    world: int = 1
    split: str = "data"
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    local_world: int = 1

    def __post_init__(self):
        if self.split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, not {self.split!r}")
        if not 0 <= self.rank < self.world:
            raise ValueError(f"rank {self.rank} is outside a world of {self.world}")

    @property
    def shards_data(self) -> bool:
        return self.world > 1 and self.split == "data"

    @property
    def shards_neurons(self) -> bool:
        return self.world > 1 and self.split == "neurons"

    @property
    def writer(self) -> bool:
        """Rank 0 writes the records of the run."""
        return self.rank == 0

    def global_batch(self, local: int) -> int:
        """The stream index of this rank's `local`-th batch."""
        return local * self.world + self.rank if self.shards_data else local

    def sum_(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum `tensor` over the ranks in place (data split only)."""
        if self.shards_data:
            _in_place(tensor, self.device, lambda t: dist.all_reduce(t, dist.ReduceOp.SUM))
        return tensor

    def broadcast_(self, tensor: torch.Tensor) -> torch.Tensor:
        """Overwrite `tensor` with rank 0's in place (data split only)."""
        if self.shards_data:
            _in_place(tensor, self.device, lambda t: dist.broadcast(t, src=0))
        return tensor

    def rank0_text(self, text: str) -> str:
        """Rank 0's string (data split), e.g. the fingerprint of the stream's first batch."""
        if not self.shards_data:
            return text
        box = [text]
        dist.broadcast_object_list(box, src=0, device=self.device)
        return box[0]

    def merge_moments(self, moments: Moments) -> Moments:
        """The moments of all ranks' batches, merged in rank order (data split only)."""
        if not self.shards_data:
            return moments
        parts = [moments.mean, moments.m2,
                 torch.tensor([float(moments.count)], dtype=torch.float64)]
        gathered = [self._gather(x) for x in parts]
        merged = None
        for mean, m2, count in zip(*gathered):
            part = Moments(int(count.item()), mean.to(moments.mean.device),
                           m2.to(moments.m2.device))
            merged = merge_moments(merged, part)
        return merged

    def agree_min(self, value: int) -> int:
        """The smallest of every rank's `value` (e.g. block sizes from each rank's memory)."""
        if self.world == 1:
            return value
        box = torch.tensor([value], dtype=torch.int64, device=self.device)
        dist.all_reduce(box, dist.ReduceOp.MIN)
        return int(box.item())

    def gather_objects(self, value) -> list:
        """Every rank's `value` (picklable, on the CPU), in rank order (data split; else
        [value])."""
        if not self.shards_data:
            return [value]
        values = [None] * self.world
        dist.all_gather_object(values, value)
        return values

    def share_from_(self, tensor: torch.Tensor, sender: int) -> torch.Tensor:
        """Overwrite `tensor` (contiguous) with rank `sender`'s, bit for bit, in place (data
        split; sent as bytes, so any dtype)."""
        if self.shards_data and tensor.numel():
            _in_place(tensor.view(torch.uint8), self.device,
                      lambda t: dist.broadcast(t, src=sender))
        return tensor

    def row_share(self, n_rows: int) -> slice:
        """This rank's contiguous share of A's `n_rows` rows in a data split (all of them in
        one process): the two-stage screen's split."""
        if not self.shards_data:
            return slice(0, n_rows)
        return slice(self.rank * n_rows // self.world, (self.rank + 1) * n_rows // self.world)

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def block_share(self, n_blocks: int) -> range:
        """The row blocks this rank passes over: all of them, or a neuron split's share."""
        if not self.shards_neurons:
            return range(n_blocks)
        return range(self.rank * n_blocks // self.world, (self.rank + 1) * n_blocks // self.world)

    def state_dir(self, checkpoint: str | Path | None) -> Path | None:
        """Where this rank's engine state lives (a neuron split's ranks each keep their own)."""
        if checkpoint is None or not self.shards_neurons:
            return None if checkpoint is None else Path(checkpoint)
        return Path(checkpoint) / f"rank-{self.rank}-of-{self.world}"

    def save_state(self, state, directory: Path) -> None:
        """Write the engine state (a record): a data split's rank 0 once every rank has
        finished the block, each rank of a neuron split its own."""
        if self.shards_data:
            dist.barrier()
        if self.shards_neurons or self.writer:
            state.save(directory)

    def gather_partners(self, rows: TopK, cols: TopK, keep: int) -> tuple[TopK, TopK]:
        """Every row's partners (ranks' rows in order) and every column's best `keep` over
        all ranks (neuron split; the others already hold everything)."""
        if not self.shards_neurons:
            return rows, cols
        shares = [None] * self.world
        dist.all_gather_object(shares, (rows, cols))
        all_rows = TopK(torch.cat([r.values for r, _ in shares]),
                        torch.cat([r.indices for r, _ in shares]))
        merged = shares[0][1]
        for _, share in shares[1:]:
            merged = merge_partners(merged, share, keep)
        return all_rows, merged

    def _gather(self, tensor: torch.Tensor) -> list[torch.Tensor]:
        local = tensor.to(self.device)
        parts = [torch.empty_like(local) for _ in range(self.world)]
        dist.all_gather(parts, local)
        return parts


SINGLE = Ranks()


def _in_place(tensor: torch.Tensor, device: torch.device, collective) -> None:
    """Run `collective` on `tensor`, through a copy on `device` when it lives elsewhere."""
    if tensor.device == device:
        collective(tensor)
        return
    buffer = tensor.to(device)
    collective(buffer)
    tensor.copy_(buffer)


def backend_for(device: torch.device | str) -> str:
    """NCCL for CUDA devices, gloo for the CPU."""
    return "nccl" if torch.device(device).type == "cuda" else "gloo"


def start_group(device: torch.device | str, *, split: str = "data", rank: int = -1,
                world: int = -1, init_method: str = "env://",
                timeout_s: float = 1800.0) -> Ranks:
    """Join the process group (backend by device) and return this process's `Ranks`.

    With the defaults, rank and world come from torchrun's environment (``env://``). A
    collective that waits longer than `timeout_s` (a dead or failed rank) raises.
    """
    device = torch.device(device)
    backend = backend_for(device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend, init_method=init_method, rank=rank, world_size=world,
                            timeout=dt.timedelta(seconds=timeout_s))
    comm_device = device if backend == "nccl" else torch.device("cpu")
    return Ranks(dist.get_rank(), dist.get_world_size(), split, comm_device)


def stop_group() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def launched_ranks(device: torch.device, *, split: str = "data", timeout_s: float = 1800.0
                   ) -> tuple[Ranks, torch.device]:
    """For a CLI's main(): the Ranks of a torchrun launch (WORLD_SIZE > 1), else `SINGLE`.

    Under torchrun a CUDA run uses the rank's local GPU (LOCAL_RANK); returns the device too.
    """
    if launched_world() <= 1:
        return Ranks(split=split), device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    ranks = start_group(device, split=split, timeout_s=timeout_s)
    local = int(os.environ.get("LOCAL_WORLD_SIZE", str(ranks.world)))
    return dataclasses.replace(ranks, local_world=local), device


def launched_world() -> int:
    """The processes of a torchrun launch (WORLD_SIZE; 1 without torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def shard_inputs(items: Sequence, per_batch: int, ranks: Ranks) -> list:
    """The inputs of this rank's batches (batch i = items[i*per_batch : (i+1)*per_batch] for
    i mod W == rank), in order: batching them again by `per_batch` gives those batches."""
    if not ranks.shards_data:
        return list(items)
    if per_batch < 1:
        raise ValueError(f"at least one input per batch is needed, got {per_batch}")
    n_batches = math.ceil(len(items) / per_batch)
    if n_batches < ranks.world:
        raise ValueError(f"{len(items)} inputs make {n_batches} batches of {per_batch}, fewer "
                         f"than the {ranks.world} ranks; use more inputs or smaller batches")
    return [item for start in range(ranks.rank * per_batch, len(items), ranks.world * per_batch)
            for item in items[start:start + per_batch]]


def shard_source(source: Source, ranks: Ranks) -> Source:
    """This rank's batches (i mod W == rank) of a full stream (cheap streams, tests)."""
    if not ranks.shards_data:
        return source

    def stream():
        for index, batch in enumerate(source()):
            if index % ranks.world == ranks.rank:
                yield batch

    return stream


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for a process group on one machine)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_local_ranks(target: Callable, world: int, *args, timeout_s: float = 60.0,
                    threads: int = 1) -> list[int]:
    """Run ``target(ranks, *args)`` in `world` fresh CPU processes joined by gloo on this
    machine (tests and benchmarks; use torchrun for real runs); return their exit codes.

    `target` must be importable by name (spawned processes import it). Every process gets
    `threads` torch threads; a rank that raises exits with code 1.
    """
    context = multiprocessing.get_context("spawn")
    address = f"tcp://127.0.0.1:{free_port()}"
    processes = [context.Process(target=_rank_main,
                                 args=(target, rank, world, address, timeout_s, threads, args))
                 for rank in range(world)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout_s * 4)
        if process.is_alive():
            process.kill()
            process.join()
    return [process.exitcode for process in processes]


def _rank_main(target, rank, world, address, timeout_s, threads, args) -> None:
    torch.set_num_threads(threads)
    ranks = start_group("cpu", rank=rank, world=world, init_method=address, timeout_s=timeout_s)
    try:
        target(ranks, *args)
    finally:
        stop_group()
