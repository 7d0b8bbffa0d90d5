"""Attention pooling heads ``clip_projector`` / ``clip_projector2`` (notes section 3, section 11)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from zsbench.models.internvl.layers import merge_heads, split_heads


class PoolingCrossAttention(nn.Module):
    """q/k/v Linear without bias plus separate bias vectors (the checkpoint's layout); proj changes the width."""

    def __init__(self, dim: int, num_heads: int, out_dim: int) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"pooling width {dim} is not divisible by {num_heads} heads")
        self.num_heads = num_heads
        self.q = nn.Linear(dim, dim, bias=False)
        self.k = nn.Linear(dim, dim, bias=False)
        self.v = nn.Linear(dim, dim, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(dim))
        self.k_bias = nn.Parameter(torch.zeros(dim))
        self.v_bias = nn.Parameter(torch.zeros(dim))
        self.proj = nn.Linear(dim, out_dim)

    def forward(self, xq: torch.Tensor, xk: torch.Tensor, xv: torch.Tensor) -> torch.Tensor:
        q = F.linear(xq, self.q.weight, self.q_bias)
        k = F.linear(xk, self.k.weight, self.k_bias)
        v = F.linear(xv, self.v.weight, self.v_bias)
        h = self.num_heads
        out = F.scaled_dot_product_attention(split_heads(q, h), split_heads(k, h), split_heads(v, h))
        return self.proj(merge_heads(out))


class AttentionPooling(nn.Module):
    """One query = mean of all tokens (class token included), then LayerNorm; keys/values get their own
    LayerNorms. No residual, no MLP. (B, N, dim) -> (B, out_dim)."""

    def __init__(self, dim: int, num_heads: int, out_dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.norm1_q = nn.LayerNorm(dim, eps=eps)
        self.norm1_k = nn.LayerNorm(dim, eps=eps)
        self.norm1_v = nn.LayerNorm(dim, eps=eps)
        self.cross_attn = PoolingCrossAttention(dim, num_heads, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = self.norm1_q(x.mean(1, keepdim=True))  # mean first, then the norm
        return self.cross_attn(q, self.norm1_k(x), self.norm1_v(x)).squeeze(1)
