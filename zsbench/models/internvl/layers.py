"""Small building blocks shared by the InternViT and LLaMA towers: RMSNorm and rotary embeddings."""

from __future__ import annotations

import torch
from torch import nn


class RMSNorm(nn.Module):
    """``weight * (x * rsqrt(mean(x^2) + eps))`` computed in float32.

    Two cast orders exist in the reference (they differ only in fp16/bf16): ``"input"`` (InternViT and the
    transformers LLaMA of the .pth path) casts the normalised value back to the input dtype before the weight
    multiply; ``"weight"`` (the HF QLLaMA) multiplies in float32 and casts to the weight's dtype when that is
    half precision.
    """

    def __init__(self, dim: int, eps: float, cast: str = "input") -> None:
        super().__init__()
        if cast not in ("input", "weight"):
            raise ValueError(f"cast must be 'input' or 'weight', not {cast!r}")
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps
        self.cast = cast

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        input_dtype = x.dtype
        h = x.to(torch.float32)
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        if self.cast == "input":
            return self.weight * h.to(input_dtype)
        if self.weight.dtype in (torch.float16, torch.bfloat16):
            h = h.to(self.weight.dtype)
        return self.weight * h


class RotaryEmbedding(nn.Module):
    """LLaMA RoPE tables (rotate-half convention, the angle vector concatenated with itself).

    ``inv_freq`` is a non-persistent buffer: it is not in any checkpoint, so after a meta-device build it must
    be recomputed with :meth:`reset` once the real device is known.
    """

    inv_freq: torch.Tensor

    def __init__(self, head_dim: int, theta: float) -> None:
        super().__init__()
        self.head_dim = head_dim
        self.theta = theta
        self.register_buffer("inv_freq", self._compute(None), persistent=False)

    def _compute(self, device: torch.device | str | None) -> torch.Tensor:
        exponent = torch.arange(0, self.head_dim, 2, dtype=torch.int64, device=device).float() / self.head_dim
        return 1.0 / (self.theta**exponent)

    def reset(self, device: torch.device | str) -> None:
        self.inv_freq = self._compute(device)

    def forward(self, seq_len: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        """cos, sin of shape (seq_len, head_dim) for positions 0..seq_len-1, in ``dtype``."""
        t = torch.arange(seq_len, device=self.inv_freq.device, dtype=torch.float32)
        freqs = torch.outer(t, self.inv_freq.float())
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().to(dtype), emb.sin().to(dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """``x`` (B, heads, L, head_dim); cos/sin (L, head_dim)."""
    return x * cos + rotate_half(x) * sin


def split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """(B, L, heads*head_dim) -> (B, heads, L, head_dim); heads are contiguous slices of the width."""
    b, n, _ = x.shape
    return x.view(b, n, num_heads, -1).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, heads, L, head_dim) -> (B, L, heads*head_dim), head-major."""
    b, h, n, d = x.shape
    return x.transpose(1, 2).reshape(b, n, h * d)
