"""Turn image sets and texts into embeddings, in large batches, through the model protocol."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from zsbench.datasets.base import CorruptImageError, ImageSet
from zsbench.models.base import ZeroShotModel


class _TransformedImages:
    """A map-style dataset: index -> (pixels, index), or None for a corrupt image when skipping."""

    def __init__(self, images: ImageSet, transform: Any, skip_corrupt: bool, indices: Sequence[int] | None = None):
        self.images = images
        # A dataset may act inside the model's transform (imagenet-w: a watermark after the centre crop).
        wrap = getattr(images, "wrap_transform", None)
        self.transform = wrap(transform) if wrap is not None else transform
        self.skip_corrupt = skip_corrupt
        self.indices = list(range(len(images))) if indices is None else list(indices)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> Any:
        index = self.indices[i]
        try:
            return self.transform(self.images.load_image(index)), index
        except CorruptImageError as e:
            # Raised in the main process instead: a worker's exception would arrive wrapped in a traceback dump,
            # and the user should get the one-line message naming the file.
            return None if self.skip_corrupt else _Failure(str(e))


class _Failure:
    def __init__(self, message: str) -> None:
        self.message = message


def _collate(batch: list[Any]) -> Any:
    import torch

    for b in batch:
        if isinstance(b, _Failure):
            return b  # collate runs in the worker too; the main loop raises
    kept = [b for b in batch if b is not None]
    if not kept:
        return None
    return torch.stack([b[0] for b in kept]), torch.tensor([b[1] for b in kept], dtype=torch.long)


@dataclass
class LoaderSettings:
    """DataLoader settings. On CUDA, pinned memory, prefetch and several workers keep the GPU fed."""

    batch_size: int = 64
    num_workers: int = 4
    progress: bool = True
    skip_corrupt: bool = False

    def effective_workers(self) -> int:
        import os

        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        return max(0, min(self.num_workers, cores))

    def dataloader(self, dataset: Any, device: str) -> Any:
        import torch

        # More loader processes than usable cores only adds contention (CLIP_benchmark's default of 4 on a
        # 2-core machine makes torch warn); the effective number is what the provenance records.
        workers = self.effective_workers()
        kwargs: dict[str, Any] = {}
        if workers > 0:
            kwargs["prefetch_factor"] = 4
        return torch.utils.data.DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=False,  # the image index must be the dataset order (retrieval ground truth)
            num_workers=workers,
            pin_memory=device.startswith("cuda"),
            collate_fn=_collate,
            **kwargs,
        )


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc mallopt parameters (malloc.h)
_allocator_tuned: bool | None = None


def keep_freed_memory() -> bool:
    """On the CPU, have glibc keep the memory of freed tensors for the next ones (once per process; True if set).

    glibc's default serves every allocation above a (dynamic, at most 32 MiB) threshold with a fresh ``mmap`` and
    returns it to the OS when freed, and trims the heap when its top is free. A transformer block frees and
    reallocates the same tens-of-MB activation tensors in every layer, so each layer faults them in again page by
    page: ViT-B-32 at batch 64 took 380k page faults and 1.8 s of system time per batch on the 2-core VM (and a
    fault in one compute thread stalls the other at the next barrier); with allocations up to 1 GiB served from
    the heap and no trimming, 56k faults and 0.3 s (``benchmarks/perf/levers.py``: ``keep_freed_memory``). The
    same effect as running under jemalloc or tcmalloc. Only where memory is allocated, never what is computed: the
    embeddings are bit-identical (tests/engine/test_cpu_levers.py). The cost is that the process keeps its peak
    heap until it exits, which an evaluation process does anyway.
    """
    global _allocator_tuned
    if _allocator_tuned is not None:
        return _allocator_tuned
    _allocator_tuned = False
    import ctypes
    import platform
    import sys

    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    # 1 GiB where this glibc accepts it, else its maximum (32 MiB); the trim threshold only together with it (alone
    # it would freeze the mmap threshold at 128 KiB: more faults, not fewer).
    if mallopt(_M_MMAP_THRESHOLD, 1 << 30) or mallopt(_M_MMAP_THRESHOLD, 32 << 20):
        _allocator_tuned = bool(mallopt(_M_TRIM_THRESHOLD, (1 << 31) - 1))
    return _allocator_tuned


def encode_images(
    model: ZeroShotModel,
    images: ImageSet,
    settings: LoaderSettings,
    *,
    indices: Sequence[int] | None = None,
    desc: str = "images",
    fn: Callable[[Any], Any] | None = None,
) -> tuple[Any, list[int]]:
    """Embeddings (N_kept, D) float32 on the CPU, in index order, and the indices that were skipped as corrupt.

    ``fn`` replaces ``model.encode_image`` per batch (``model.generate_captions`` for captioning: same loading,
    batching, skipping and order, (N_kept, L) token ids instead of embeddings).
    """
    import torch

    fn = fn or model.encode_image
    if model.device.startswith("cpu"):
        keep_freed_memory()

    dataset = _TransformedImages(images, model.transform, settings.skip_corrupt, indices)
    loader = settings.dataloader(dataset, model.device)
    chunks: list[Any] = []
    seen: list[Any] = []
    bar = _progress(len(dataset), desc, settings.progress)
    for batch in loader:
        if isinstance(batch, _Failure):
            raise CorruptImageError(batch.message)
        if batch is not None:
            pixels, idx = batch
            chunks.append(fn(pixels).cpu())
            seen.append(idx)
        bar.update(min(settings.batch_size, bar.total - bar.n))
    bar.close()
    wanted = dataset.indices
    kept = torch.cat(seen).tolist() if seen else []
    skipped = sorted(set(wanted) - set(kept))
    if not chunks:
        return torch.zeros(0, 0), skipped
    return torch.cat(chunks), skipped


def encode_texts(model: ZeroShotModel, texts: Sequence[str], batch_size: int, *, progress: bool = False) -> Any:
    """Embeddings (N, D) float32 on the CPU for ``texts``; each distinct text is encoded once.

    CLIP_benchmark runs one forward pass per class; batching prompts across classes is the same math in
    fewer, fuller passes.
    """
    import torch

    if model.device.startswith("cpu"):
        keep_freed_memory()
    unique = list(dict.fromkeys(texts))
    position = {t: i for i, t in enumerate(unique)}
    out: list[Any] = []
    bar = _progress(len(unique), "texts", progress)
    for start in range(0, len(unique), batch_size):
        chunk = unique[start : start + batch_size]
        out.append(model.encode_text(model.tokenize(chunk)).cpu())
        bar.update(len(chunk))
    bar.close()
    if not out:
        return torch.zeros(0, 0)
    emb = torch.cat(out)
    if len(unique) == len(texts):
        return emb
    return emb[torch.tensor([position[t] for t in texts])]


def _progress(total: int, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="it", disable=not enabled, leave=False, dynamic_ncols=True)
