"""The narrow model protocol every adapter implements, and the precision policy they share.

The engine only ever calls ``transform``, ``tokenize``, ``encode_image`` and ``encode_text``; adapters move
inputs to their device and return float32 embeddings on the CPU-independent device of the model (not
normalised: the tasks normalise, exactly as CLIP_benchmark does).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zsbench.errors import ZsbenchError

PRECISIONS = ("auto", "amp", "amp_fp16", "amp_bf16", "fp32", "fp16", "bf16")


@dataclass(frozen=True)
class Precision:
    """How a model runs: the dtype its weights are cast to and the autocast dtype (None = no autocast)."""

    name: str
    weights: str  # "fp32" | "fp16" | "bf16"
    autocast: str | None  # None | "fp16" | "bf16"

    @property
    def weights_dtype(self) -> Any:
        import torch

        return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[self.weights]

    def autocast_context(self, device_type: str) -> contextlib.AbstractContextManager[Any]:
        import torch

        if self.autocast is None:
            return contextlib.nullcontext()
        dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}[self.autocast]
        return torch.autocast(device_type=device_type, dtype=dtype)


def resolve_precision(name: str, device: str, *, gpu_default: str = "amp") -> Precision:
    """Turn a ``--precision`` value into a :class:`Precision` for ``device``.

    ``amp`` is CLIP_benchmark's behaviour: autocast with the device's default dtype (fp16 on CUDA, bf16 on
    CPU). ``auto`` is zsbench's default: ``gpu_default`` on CUDA (bf16 autocast where the GPU supports it), and
    plain fp32 on the CPU, where bf16 autocast is slower on most CPUs and moves the metrics.
    """
    if name not in PRECISIONS:
        raise ZsbenchError(f"unknown precision {name!r}; valid choices: {', '.join(PRECISIONS)}")
    device_type = device.split(":")[0]
    if name == "auto":
        if device_type != "cuda":
            return Precision("fp32", "fp32", None)
        name = gpu_default
        if name == "amp":
            import torch

            name = "amp_bf16" if torch.cuda.is_bf16_supported() else "amp_fp16"
    if name == "amp":
        name = "amp_fp16" if device_type == "cuda" else "amp_bf16"
    table = {
        "fp32": ("fp32", None),
        "fp16": ("fp16", None),
        "bf16": ("bf16", None),
        "amp_fp16": ("fp32", "fp16"),
        "amp_bf16": ("fp32", "bf16"),
    }
    weights, autocast = table[name]
    return Precision(name, weights, autocast)


def fingerprint_path(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Identity of a weights file or folder for cache keys, cheap even for a 25 GB checkpoint.

    Files up to 64 MiB are hashed whole; larger ones by size, mtime and the first and last 4 MiB. A folder
    is the combination of its files' fingerprints.
    """
    p = Path(path)
    if p.is_dir():
        parts = {str(f.relative_to(p)): fingerprint_path(f)["sha256"] for f in sorted(p.rglob("*")) if f.is_file()}
        digest = hashlib.sha256(repr(sorted(parts.items())).encode()).hexdigest()
        return {"path": str(p), "kind": "folder", "sha256": digest}
    st = p.stat()
    h = hashlib.sha256()
    chunk = 4 << 20
    with open(p, "rb") as f:
        if st.st_size <= 64 << 20:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
            kind = "full"
        else:
            h.update(f.read(chunk))
            f.seek(st.st_size - chunk)
            h.update(f.read(chunk))
            h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
            kind = "head+tail+size+mtime"
    return {"path": str(p), "kind": kind, "sha256": h.hexdigest(), "size": st.st_size}


@dataclass
class ZeroShotModel:
    """A loaded model, ready for the engine.

    Attributes:
        name: ``model`` as the user gave it (e.g. ``ViT-B-32`` or ``internvl_c_retrieval``).
        model_type: the registry key (``open_clip``, ``hf``, ``internvl``).
        pretrained: as the user gave it.
        transform: PIL image -> float tensor (C, H, W).
        tokenize_fn: list of texts -> token batch (a tensor or a dict of tensors), on the CPU.
        image_fn / text_fn: batch on ``device`` -> embeddings; called under the precision's autocast.
        device: torch device string.
        precision: the resolved precision.
        identity: JSON-able facts that determine the embeddings (weights fingerprint, architecture,
            preprocessing, tokenizer); part of every cache key and recorded in results.
        module: the underlying ``torch.nn.Module`` (for ``.eval()``, parameter counts, ``torch.compile``).
    """

    name: str
    model_type: str
    pretrained: str
    transform: Callable[[Any], Any]
    tokenize_fn: Callable[[Sequence[str]], Any]
    image_fn: Callable[[Any], Any]
    text_fn: Callable[[Any], Any]
    device: str
    precision: Precision
    identity: dict[str, Any] = field(default_factory=dict)
    module: Any = None

    def tokenize(self, texts: Sequence[str]) -> Any:
        return self.tokenize_fn(list(texts))

    @contextlib.contextmanager
    def _running(self) -> Iterator[None]:
        import torch

        with torch.inference_mode(), self.precision.autocast_context(self.device.split(":")[0]):
            yield

    def encode_image(self, pixels: Any) -> Any:
        """Image embeddings (float32, not normalised) for a (B, C, H, W) batch."""
        pixels = pixels.to(self.device, dtype=self.precision.weights_dtype, non_blocking=True)
        with self._running():
            return self.image_fn(pixels).float()

    def encode_text(self, tokens: Any) -> Any:
        """Text embeddings (float32, not normalised) for what :meth:`tokenize` returned."""
        tokens = _to_device(tokens, self.device)
        with self._running():
            return self.text_fn(tokens).float()


def _to_device(batch: Any, device: str) -> Any:
    if isinstance(batch, dict):
        return {k: v.to(device, non_blocking=True) for k, v in batch.items()}
    if hasattr(batch, "to"):
        return batch.to(device, non_blocking=True)
    return batch


ModelLoader = Callable[..., ZeroShotModel]
"""Signature: ``load(model, pretrained, *, device, precision, cache_dir=None, **options) -> ZeroShotModel``."""
