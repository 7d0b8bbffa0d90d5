"""Embedding cache: memory first, then disk, keyed by everything that determines the vectors.

A key is the SHA-256 of a canonical JSON of its parts (model identity incl. the weights fingerprint, precision,
transform, dataset, resolved dataset root, split, image-set fingerprint and its mode, cache format version).
Entries are safetensors files written atomically, with the parts and a SHA-256 of each tensor's bytes stored as
metadata and checked on read: a hash collision or a hand-copied file cannot pass for another entry, and an entry
whose bytes changed on disk (bit rot, a bad copy, an edit) is a miss that is recomputed and rewritten, so a hit is
bit-identical to a recompute.

The cache is an accelerator, never a reason to lose a result: a cache that cannot be read or written (full disk,
read-only folder) logs one warning and the run goes on without it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zsbench.engine.atomic import atomic_write, describe_os_error, remove_stale_temps

log = logging.getLogger("zsbench")
# 2: per-tensor SHA-256 digests in the metadata; the image key holds the resolved root and fingerprint mode.
CACHE_FORMAT = 2


def tensor_digest(tensor: Any) -> str:
    """SHA-256 of a CPU tensor's dtype, shape and raw bytes (what safetensors stores)."""
    import torch

    t = tensor.detach().cpu().contiguous()
    h = hashlib.sha256(f"{t.dtype}\0{tuple(t.shape)}\0".encode())
    h.update(t.reshape(-1).view(torch.uint8).numpy())  # hashed in place, no copy
    return h.hexdigest()


def cache_key(parts: dict[str, Any]) -> str:
    blob = json.dumps({"format": CACHE_FORMAT, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass
class CacheStats:
    memory_hits: int = 0
    disk_hits: int = 0
    misses: int = 0
    writes: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class EmbeddingCache:
    """``get``/``put`` tensors by parts. ``root=None`` keeps entries in memory only (``--no_cache``)."""

    root: Path | None = None
    stats: dict[str, CacheStats] = field(default_factory=dict)
    _memory: dict[str, Any] = field(default_factory=dict)
    _write_warned: bool = False

    def _stats(self, kind: str) -> CacheStats:
        return self.stats.setdefault(kind, CacheStats())

    def _path(self, key: str) -> Path:
        assert self.root is not None
        return self.root / "embeddings" / key[:2] / f"{key}.safetensors"

    def get(self, kind: str, parts: dict[str, Any]) -> tuple[Any, str]:
        """``(tensors, "memory" | "disk")`` or ``(None, "miss")``."""
        key = cache_key(parts)
        stats = self._stats(kind)
        if key in self._memory:
            stats.memory_hits += 1
            return self._memory[key], "memory"
        if self.root is not None:
            tensor = self._read(self._path(key), parts)
            if tensor is not None:
                stats.disk_hits += 1
                self._memory[key] = tensor
                return tensor, "disk"
        stats.misses += 1
        return None, "miss"

    def put(self, kind: str, parts: dict[str, Any], tensors: dict[str, Any]) -> None:
        """Store named tensors under ``parts`` (in memory, and on disk unless the cache is memory-only).

        A failed disk write (full disk, read-only folder) is logged once and otherwise ignored: the entry stays
        in memory for this run, and the result is still written.
        """
        key = cache_key(parts)
        tensors = {name: t.detach().cpu().contiguous() for name, t in tensors.items()}
        self._memory[key] = tensors
        if self.root is None:
            return
        from safetensors.torch import save

        meta = {
            "parts": json.dumps({"format": CACHE_FORMAT, **parts}, sort_keys=True, default=str),
            "sha256": json.dumps({name: tensor_digest(t) for name, t in tensors.items()}, sort_keys=True),
        }
        data = save(tensors, metadata=meta)
        path = self._path(key)
        try:
            atomic_write(path, lambda f: f.write(data))
        except OSError as e:
            self._warn_write_failed(path, e)
            return
        self._stats(kind).writes += 1

    def _warn_write_failed(self, path: Path, error: OSError) -> None:
        if not self._write_warned:  # one line per run, not one per entry
            self._write_warned = True
            log.warning(
                "zsbench: warning: cannot write the embedding cache (%s: %s); continuing without it",
                path,
                describe_os_error(error),
            )

    @staticmethod
    def _read(path: Path, parts: dict[str, Any]) -> Any:
        """The tensors at ``path`` if it is the entry for ``parts`` and its bytes match their digests, else None."""
        from safetensors import safe_open

        expected = json.dumps({"format": CACHE_FORMAT, **parts}, sort_keys=True, default=str)
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
                if meta.get("parts") != expected:
                    return None
                tensors = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118 - safe_open is not a dict
                digests = json.loads(meta.get("sha256", "null"))
        except FileNotFoundError:
            return None
        except Exception as e:  # a truncated, foreign or unreadable file is a miss, and gets rewritten
            if path.exists():
                log.warning("zsbench: warning: cache entry %s is unreadable (%s); recomputing it", path, e)
            return None
        if not isinstance(digests, dict) or digests != {name: tensor_digest(t) for name, t in tensors.items()}:
            log.warning(
                "zsbench: warning: cache entry %s does not match its stored SHA-256 (changed on disk); recomputing it",
                path,
            )
            return None
        return tensors

    def remove_stale_temps(self) -> int:
        """Remove temporary files that killed runs left in the cache folder (see :mod:`zsbench.engine.atomic`)."""
        if self.root is None:
            return 0
        return remove_stale_temps(self.root / "embeddings", recursive=True)

    def summary(self) -> dict[str, dict[str, int]]:
        return {kind: s.as_dict() for kind, s in self.stats.items()}
