"""Helpers shared by the task metrics (torch only; no model, dataset or engine imports)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def l2_normalize(x: Tensor) -> Tensor:
    """Row-wise ``F.normalize(x.float(), dim=-1)``.

    Casting first reproduces CLIP_benchmark for float32 encoders and for fp16 encoders under CUDA autocast, where
    ``norm`` is autocast to float32 and the division promotes to float32 (same bits as casting up front).
    """
    return F.normalize(x.float(), dim=-1)


def require_dim(name: str, x: Tensor, dim: int) -> None:
    """Raise ``ValueError`` unless ``x`` has exactly ``dim`` dimensions."""
    if x.dim() != dim:
        raise ValueError(f"{name} must be {dim}-D, got shape {tuple(x.shape)}")


def require_labels(name: str, labels: Tensor, length: int, upper: int) -> Tensor:
    """Check a 1-D integer label tensor of the given length with values in ``[0, upper)``; return it as int64 on CPU."""
    require_dim(name, labels, 1)
    if labels.dtype.is_floating_point or labels.dtype == torch.bool or labels.is_complex():
        raise ValueError(f"{name} must be an integer tensor, got {labels.dtype}")
    if len(labels) != length:
        raise ValueError(f"{name} has {len(labels)} entries, expected {length}")
    labels = labels.to("cpu", torch.long)
    if length and (int(labels.min()) < 0 or int(labels.max()) >= upper):
        raise ValueError(f"{name} values must lie in [0, {upper}), got [{int(labels.min())}, {int(labels.max())}]")
    return labels
