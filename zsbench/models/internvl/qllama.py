"""QLLaMA (notes section 5): the LLaMA tower plus cross-attention to the vision tokens in the layers with
``idx % cross_attention_frequency == 0``, driven by learned query tokens for the InternVL-G image path."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from zsbench.models.internvl.config import TextConfig
from zsbench.models.internvl.layers import RMSNorm, merge_heads, split_heads
from zsbench.models.internvl.llama import LlamaModel


class QLlamaCrossAttention(nn.Module):
    """Queries (width ``hidden``) attend to vision tokens (width ``kv_dim``); no RoPE, no mask."""

    def __init__(self, cfg: TextConfig, kv_dim: int, *, norm_cast: str = "weight") -> None:
        super().__init__()
        d = cfg.hidden_size
        self.num_heads = cfg.num_heads
        self.q_proj = nn.Linear(d, d, bias=False)
        self.k_proj = nn.Linear(kv_dim, d, bias=False)
        self.v_proj = nn.Linear(kv_dim, d, bias=False)
        self.o_proj = nn.Linear(d, d, bias=False)
        self.norm1 = RMSNorm(d, cfg.rms_norm_eps, cast=norm_cast)
        self.norm2 = RMSNorm(kv_dim, cfg.rms_norm_eps, cast=norm_cast)

    def forward(self, x: torch.Tensor, vision_states: torch.Tensor) -> torch.Tensor:
        h = self.num_heads
        kv = self.norm2(vision_states)
        v = split_heads(self.v_proj(kv), h)
        q = split_heads(self.q_proj(self.norm1(x)), h).to(v.dtype)
        k = split_heads(self.k_proj(kv), h).to(v.dtype)
        return self.o_proj(merge_heads(F.scaled_dot_product_attention(q, k, v)))


def cross_attention_layers(cfg: TextConfig) -> list[int]:
    return [i for i in range(cfg.num_layers) if i % cfg.cross_attention_frequency == 0]


class QLlama(nn.Module):
    """``model`` is the decoder; ``lm_head`` is only built to mirror the checkpoint (never used here)."""

    def __init__(
        self,
        cfg: TextConfig,
        *,
        cross_attention_kv_dim: int | None,
        norm_cast: str = "weight",
        with_lm_head: bool = False,
    ) -> None:
        super().__init__()
        self.model = LlamaModel(cfg, norm_cast=norm_cast)
        if cross_attention_kv_dim is not None:
            for i in cross_attention_layers(cfg):
                self.model.layers[i].cross_attn = QLlamaCrossAttention(cfg, cross_attention_kv_dim, norm_cast=norm_cast)
        if with_lm_head:
            self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
