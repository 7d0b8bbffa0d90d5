"""InternViT-6B: the InternVL vision tower (notes section 2). Module names follow the HF checkpoint."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from zsbench.models.internvl.config import VisionConfig
from zsbench.models.internvl.layers import RMSNorm, merge_heads


class VisionEmbeddings(nn.Module):
    """Patch conv, class token first, learned absolute position embedding (no norm, no interpolation)."""

    def __init__(self, cfg: VisionConfig) -> None:
        super().__init__()
        d = cfg.hidden_size
        self.class_embedding = nn.Parameter(torch.zeros(1, 1, d))
        self.patch_embedding = nn.Conv2d(cfg.num_channels, d, kernel_size=cfg.patch_size, stride=cfg.patch_size)
        self.position_embedding = nn.Parameter(torch.zeros(1, cfg.num_patches + 1, d))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = self.patch_embedding(pixels).flatten(2).transpose(1, 2)  # row-major grid -> tokens
        cls = self.class_embedding.to(x.dtype).expand(x.shape[0], -1, -1)
        return torch.cat([cls, x], dim=1) + self.position_embedding.to(x.dtype)


class VisionAttention(nn.Module):
    """Fused qkv laid out as [3, heads, head_dim]; q and k RMSNorm'd over the full width before the head split."""

    def __init__(self, cfg: VisionConfig) -> None:
        super().__init__()
        d = cfg.hidden_size
        self.num_heads = cfg.num_heads
        self.qkv = nn.Linear(d, 3 * d, bias=cfg.qkv_bias)
        self.qk_normalization = cfg.qk_normalization
        if cfg.qk_normalization:
            self.q_norm = RMSNorm(d, cfg.norm_eps)
            self.k_norm = RMSNorm(d, cfg.norm_eps)
        self.proj = nn.Linear(d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, d).unbind(2)
        if self.qk_normalization:
            q, k = self.q_norm(q), self.k_norm(k)
        h = self.num_heads
        q, k, v = (t.reshape(b, n, h, d // h).transpose(1, 2) for t in (q, k, v))
        # Under autocast the norm weights can promote q/k to fp32 while v stays half; SDPA wants one dtype.
        out = F.scaled_dot_product_attention(q.to(v.dtype), k.to(v.dtype), v)
        return self.proj(merge_heads(out))


class VisionMLP(nn.Module):
    def __init__(self, cfg: VisionConfig) -> None:
        super().__init__()
        self.fc1 = nn.Linear(cfg.hidden_size, cfg.intermediate_size)
        self.fc2 = nn.Linear(cfg.intermediate_size, cfg.hidden_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))  # exact erf GELU


class VisionBlock(nn.Module):
    """Pre-norm block: ``x + ls1 * attn(norm1(x))``, ``x + ls2 * mlp(norm2(x))``.

    ``layerscale_fp32`` reproduces the .pth code (``layerscale_force_fp32=True``); the HF code multiplies in
    the activations' dtype. Both are identical in float32.
    """

    def __init__(self, cfg: VisionConfig, *, layerscale_fp32: bool = True) -> None:
        super().__init__()
        d = cfg.hidden_size
        self.norm1 = RMSNorm(d, cfg.norm_eps)
        self.attn = VisionAttention(cfg)
        self.ls1 = nn.Parameter(torch.ones(d))
        self.norm2 = RMSNorm(d, cfg.norm_eps)
        self.mlp = VisionMLP(cfg)
        self.ls2 = nn.Parameter(torch.ones(d))
        self.layerscale_fp32 = layerscale_fp32

    def _scale(self, x: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
        if self.layerscale_fp32:
            return (x.float() * gamma.float()).to(x.dtype)
        return x * gamma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self._scale(self.attn(self.norm1(x)), self.ls1)
        return x + self._scale(self.mlp(self.norm2(x)), self.ls2)


class VisionEncoder(nn.Module):
    def __init__(self, cfg: VisionConfig, *, layerscale_fp32: bool = True) -> None:
        super().__init__()
        self.layers = nn.ModuleList(VisionBlock(cfg, layerscale_fp32=layerscale_fp32) for _ in range(cfg.depth))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class InternViT(nn.Module):
    """Returns the last block's hidden states, all tokens (class token first); no final norm."""

    def __init__(self, cfg: VisionConfig, *, layerscale_fp32: bool = True) -> None:
        super().__init__()
        self.config = cfg
        self.embeddings = VisionEmbeddings(cfg)
        self.encoder = VisionEncoder(cfg, layerscale_fp32=layerscale_fp32)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.encoder(self.embeddings(pixels))
