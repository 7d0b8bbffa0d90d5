"""Many GPUs for one dataset: ``torchrun --nproc-per-node N -m zsbench eval ...``.

Each rank encodes whole batches of the image set (batch b goes to rank b mod N, with the batch boundaries of
a single-process run, so every image sees exactly the batch it would see alone and its embedding is
bit-identical); the embeddings are gathered in order on every rank, and rank 0 computes the metrics and writes
the result. CLIP_benchmark's ``--distributed`` only spreads whole runs over GPUs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.size > 1


def world_from_env() -> World:
    """torchrun (and SLURM/OpenMPI launchers) describe the process group in environment variables."""
    for rank_key, size_key, local_key in (
        ("RANK", "WORLD_SIZE", "LOCAL_RANK"),
        ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"),
        ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"),
    ):
        if size_key in os.environ:
            return World(int(os.environ[rank_key]), int(os.environ[size_key]), int(os.environ.get(local_key, 0)))
    return World()


def init_process_group(world: World) -> str:
    """Join the process group (NCCL on GPUs, gloo on CPUs); returns this rank's device."""
    import torch
    import torch.distributed as dist

    cuda = torch.cuda.is_available()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if cuda else "gloo", rank=world.rank, world_size=world.size)
    if cuda:
        torch.cuda.set_device(world.local_rank)
        return f"cuda:{world.local_rank}"
    return "cpu"


def my_batches(n_items: int, batch_size: int, world: World) -> list[int]:
    """Indices of the batches this rank encodes (batch b -> rank b mod world size)."""
    indices: list[int] = []
    for b, start in enumerate(range(0, n_items, batch_size)):
        if b % world.size == world.rank:
            indices.extend(range(start, min(start + batch_size, n_items)))
    return indices


def gather_in_order(indices: list[int], embeddings: Any, skipped: list[int], n_items: int) -> tuple[Any, list[int]]:
    """All ranks' (indices, embeddings) -> the full (N_kept, D) matrix in index order, on every rank."""
    import torch
    import torch.distributed as dist

    skipped_set = set(skipped)
    kept = [i for i in indices if i not in skipped_set]
    parts: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(parts, (kept, embeddings.cpu(), skipped))
    rows: dict[int, Any] = {}
    all_skipped: list[int] = []
    for part_kept, part_emb, part_skipped in parts:
        rows.update({i: part_emb[j] for j, i in enumerate(part_kept)})
        all_skipped.extend(part_skipped)
    order = sorted(rows)
    return torch.stack([rows[i] for i in order]), sorted(all_skipped)


def run_distributed(evaluator: Any) -> list[dict[str, Any]]:
    """Run the evaluator's plan with the images of each dataset sharded over the ranks."""
    world = world_from_env()
    if not world.active:
        return evaluator.run()
    device = init_process_group(world)
    evaluator.config = replace(
        evaluator.config,
        device=device,
        write_results=evaluator.config.write_results and world.rank == 0,
        verbose=evaluator.config.verbose and world.rank == 0,
        progress=evaluator.config.progress and world.rank == 0,
    )
    evaluator.loader.progress = evaluator.config.progress
    evaluator.world = world
    try:
        records = evaluator.run()
    finally:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
    return records if world.rank == 0 else []
