"""How a run spreads over processes: a strategy the engine is given, never code that reaches into it.

``LocalStrategy`` encodes every image in this process (CPU, one GPU, or JPEGs decoded on the GPU).
``ShardedStrategy`` is ``torchrun --nproc-per-node N -m zsbench eval ...`` (or ``srun``): each rank encodes whole
batches of the image set (batch b goes to rank b mod N, with the batch boundaries of a single-process run, so every
image sees exactly the batch it would see alone and its embedding is bit-identical); the embeddings are gathered
in order on every rank, and rank 0 writes the result. CLIP_benchmark's ``--distributed`` only spreads whole runs
over GPUs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from zsbench.datasets.base import ImageSet
from zsbench.engine.encode import LoaderSettings, encode_images
from zsbench.errors import ZsbenchError
from zsbench.models.base import ZeroShotModel


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.size > 1


def world_from_env(env: dict[str, str] | None = None) -> World:
    """The process group a launcher describes in environment variables, or a world of one.

    torchrun sets ``RANK``/``WORLD_SIZE``; OpenMPI its ``OMPI_COMM_WORLD_*``. Slurm counts only for a process that
    ``srun`` started as one task of a multi-task step (``SLURM_STEP_NUM_TASKS`` > 1): ``SLURM_NTASKS`` describes
    the allocation, so a plain ``zsbench eval`` typed inside ``salloc -n 8`` or an sbatch script is one process,
    not rank 0 of eight that would wait forever for the other seven.
    """
    env = dict(os.environ) if env is None else env
    if "WORLD_SIZE" in env:
        return World(int(env.get("RANK", 0)), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", 0)))
    if "OMPI_COMM_WORLD_SIZE" in env:
        return World(
            int(env.get("OMPI_COMM_WORLD_RANK", 0)),
            int(env["OMPI_COMM_WORLD_SIZE"]),
            int(env.get("OMPI_COMM_WORLD_LOCAL_RANK", 0)),
        )
    if int(env.get("SLURM_STEP_NUM_TASKS", "1") or 1) > 1:
        return World(
            int(env.get("SLURM_PROCID", 0)), int(env["SLURM_STEP_NUM_TASKS"]), int(env.get("SLURM_LOCALID", 0))
        )
    return World()


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


class LocalStrategy:
    """Everything in this process."""

    world = World()
    device: str | None = None  # the configured device

    @property
    def is_writer(self) -> bool:
        return True

    def __enter__(self) -> LocalStrategy:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def encode_images(
        self,
        model: ZeroShotModel,
        images: ImageSet,
        loader: LoaderSettings,
        *,
        desc: str,
        gpu_decode: bool = False,
        fn: Callable[[Any], Any] | None = None,
    ) -> tuple[Any, list[int]]:
        """Embeddings (N_kept, D) in index order and the indices skipped as corrupt (``fn``: see ``encode_images``;
        the GPU-decode path encodes embeddings only)."""
        if gpu_decode and fn is None:
            from zsbench.engine.gpu_decode import encode_images_gpu_decode

            return encode_images_gpu_decode(model, images, loader), []
        return encode_images(model, images, loader, desc=desc, fn=fn)


class ShardedStrategy(LocalStrategy):
    """Images of each set sharded over the ranks of a process group (joined on ``__enter__``)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.device = None

    @property
    def is_writer(self) -> bool:
        return self.world.rank == 0

    def __enter__(self) -> ShardedStrategy:
        import torch
        import torch.distributed as dist

        missing = [k for k in ("MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
        if missing and not dist.is_initialized():
            raise ZsbenchError(
                f"rank {self.world.rank} of {self.world.size}: {' and '.join(missing)} not set; launch with torchrun, "
                "or export MASTER_ADDR (the first node) and MASTER_PORT before srun (see README, 'Many GPUs')"
            )
        cuda = torch.cuda.is_available()
        if not dist.is_initialized():
            dist.init_process_group(
                backend="nccl" if cuda else "gloo", rank=self.world.rank, world_size=self.world.size
            )
        if cuda:
            torch.cuda.set_device(self.world.local_rank)
            self.device = f"cuda:{self.world.local_rank}"
        else:
            self.device = "cpu"
        return self

    def __exit__(self, *exc: object) -> None:
        import torch.distributed as dist

        if dist.is_initialized():
            if exc[0] is None:
                dist.barrier()
            dist.destroy_process_group()

    def encode_images(
        self,
        model: ZeroShotModel,
        images: ImageSet,
        loader: LoaderSettings,
        *,
        desc: str,
        gpu_decode: bool = False,
        fn: Callable[[Any], Any] | None = None,
    ) -> tuple[Any, list[int]]:
        mine = my_batches(len(images), loader.batch_size, self.world)
        emb, skipped = encode_images(model, images, loader, indices=mine, desc=desc, fn=fn)
        return gather_in_order(mine, emb, skipped, len(images))


def strategy_from_env() -> LocalStrategy:
    """Sharded when a launcher started several processes, else local (``--distributed`` alone changes nothing)."""
    world = world_from_env()
    return ShardedStrategy(world) if world.active else LocalStrategy()


__all__ = ["LocalStrategy", "ShardedStrategy", "World", "gather_in_order", "my_batches", "strategy_from_env"]
