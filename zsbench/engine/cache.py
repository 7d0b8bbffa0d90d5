"""Embedding cache: memory first, then disk, keyed by everything that determines the vectors.

A key is the SHA-256 of a canonical JSON of its parts (model identity incl. the weights fingerprint, precision,
transform, dataset, split, image-set fingerprint, cache format version). Entries are safetensors files written
atomically, with the parts stored as metadata and checked on read, so a hit is bit-identical to a recompute
and a hash collision or a hand-copied file cannot pass for another entry.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zsbench.engine.atomic import atomic_write

CACHE_FORMAT = 1


def default_cache_dir() -> Path:
    """``$ZSBENCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/zsbench`` (``~/.cache/zsbench``): never the package folder."""
    env = os.environ.get("ZSBENCH_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "zsbench"


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
            path = self._path(key)
            if path.exists():
                tensor = self._read(path, parts)
                if tensor is not None:
                    stats.disk_hits += 1
                    self._memory[key] = tensor
                    return tensor, "disk"
        stats.misses += 1
        return None, "miss"

    def put(self, kind: str, parts: dict[str, Any], tensors: dict[str, Any]) -> None:
        """Store named tensors under ``parts`` (in memory, and on disk unless the cache is memory-only)."""
        key = cache_key(parts)
        tensors = {name: t.detach().cpu().contiguous() for name, t in tensors.items()}
        self._memory[key] = tensors
        if self.root is None:
            return
        from safetensors.torch import save

        meta = {"parts": json.dumps({"format": CACHE_FORMAT, **parts}, sort_keys=True, default=str)}
        data = save(tensors, metadata=meta)
        atomic_write(self._path(key), lambda f: f.write(data))
        self._stats(kind).writes += 1

    @staticmethod
    def _read(path: Path, parts: dict[str, Any]) -> Any:
        from safetensors import safe_open

        expected = json.dumps({"format": CACHE_FORMAT, **parts}, sort_keys=True, default=str)
        try:
            with safe_open(str(path), framework="pt") as f:
                if (f.metadata() or {}).get("parts") != expected:
                    return None
                return {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118 - safe_open is not a dict
        except Exception:  # a truncated or foreign file is a miss, and gets rewritten
            return None

    def summary(self) -> dict[str, dict[str, int]]:
        return {kind: s.as_dict() for kind, s in self.stats.items()}
