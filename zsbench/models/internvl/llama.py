"""LLaMA text tower (notes section 4, section 11): RoPE rotate-half, causal + key-padding mask, SwiGLU.

The same decoder serves the QLLaMA query branch: a layer may carry a ``cross_attn`` module (attached by
:mod:`zsbench.models.internvl.qllama`), which only runs when vision states are given. Module names follow the
HF checkpoint (``qllama.model.*``); the .pth names (``transformer.*``) are mapped by the checkpoint loader.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from zsbench.models.internvl.config import TextConfig
from zsbench.models.internvl.layers import RMSNorm, RotaryEmbedding, apply_rotary, merge_heads, split_heads


class LlamaAttention(nn.Module):
    def __init__(self, cfg: TextConfig) -> None:
        super().__init__()
        d = cfg.hidden_size
        self.num_heads = cfg.num_heads
        self.q_proj = nn.Linear(d, d, bias=False)
        self.k_proj = nn.Linear(d, d, bias=False)
        self.v_proj = nn.Linear(d, d, bias=False)
        self.o_proj = nn.Linear(d, d, bias=False)

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        mask: torch.Tensor | None,
        is_causal: bool,
    ) -> torch.Tensor:
        h = self.num_heads
        v = split_heads(self.v_proj(x), h)
        # RoPE per head after the split; the stored q/k weights need no permutation (HF layout).
        q = apply_rotary(split_heads(self.q_proj(x), h), cos.to(v.dtype), sin.to(v.dtype)).to(v.dtype)
        k = apply_rotary(split_heads(self.k_proj(x), h), cos.to(v.dtype), sin.to(v.dtype)).to(v.dtype)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal and mask is None)
        return self.o_proj(merge_heads(out))


class LlamaMLP(nn.Module):
    def __init__(self, cfg: TextConfig) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.up_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.down_proj = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    """Pre-norm: self-attention residual, then (QLLaMA only) cross-attention residual on the query tokens,
    then the MLP residual."""

    def __init__(self, cfg: TextConfig, *, norm_cast: str = "input") -> None:
        super().__init__()
        self.self_attn = LlamaAttention(cfg)
        self.mlp = LlamaMLP(cfg)
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps, cast=norm_cast)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps, cast=norm_cast)
        self.cross_attn: nn.Module | None = None

    def forward(
        self,
        x: torch.Tensor,
        cos: torch.Tensor,
        sin: torch.Tensor,
        mask: torch.Tensor | None,
        is_causal: bool,
        vision_states: torch.Tensor | None = None,
        num_query_token: int = 0,
    ) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask, is_causal)
        if self.cross_attn is not None and vision_states is not None:
            # Only the leading query positions attend to the image (the reference's layout).
            queries = x[:, :num_query_token]
            queries = queries + self.cross_attn(queries, vision_states)
            x = torch.cat([queries, x[:, num_query_token:]], dim=1)
        return x + self.mlp(self.post_attention_layernorm(x))


def text_attention_mask(ids: torch.Tensor, pad_id: int) -> torch.Tensor | None:
    """Boolean (B, 1, L, L) mask, True = may attend: key j is visible to query i when ``j <= i`` and
    ``ids[j] != pad_id``. None when nothing is padded (then SDPA's own causal path is used)."""
    keep = ids != pad_id
    if bool(keep.all()):
        return None
    n = ids.shape[1]
    causal = torch.ones(n, n, dtype=torch.bool, device=ids.device).tril()
    mask = causal[None, None] & keep[:, None, None, :]
    # A row with no visible key (an all-padding sequence) would give NaN in SDPA; the reference's additive
    # mask gives a uniform softmax there, so let such rows see every key instead.
    empty = ~mask.any(-1, keepdim=True)
    return mask | empty


class LlamaModel(nn.Module):
    def __init__(self, cfg: TextConfig, *, norm_cast: str = "input") -> None:
        super().__init__()
        self.config = cfg
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(LlamaDecoderLayer(cfg, norm_cast=norm_cast) for _ in range(cfg.num_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps, cast=norm_cast)
        self.rotary = RotaryEmbedding(cfg.head_dim, cfg.rope_theta)

    def forward_text(self, ids: torch.Tensor) -> torch.Tensor:
        """Final-norm hidden states (B, L, hidden) for right-padded ``ids``; causal + key-padding mask,
        positions 0..L-1, no cross-attention."""
        x = self.embed_tokens(ids)
        cos, sin = self.rotary(ids.shape[1], torch.float32)
        mask = text_attention_mask(ids, self.config.pad_token_id)
        for layer in self.layers:
            x = layer(x, cos, sin, mask, True)
        return self.norm(x)

    def forward_queries(self, queries: torch.Tensor, vision_states: torch.Tensor) -> torch.Tensor:
        """QLLaMA query branch: bidirectional self-attention among the queries (RoPE positions 0..Q-1) and
        cross-attention to ``vision_states`` in the layers that have it. Returns final-norm states (B, Q, hidden)."""
        cos, sin = self.rotary(queries.shape[1], torch.float32)
        x = queries
        for layer in self.layers:
            x = layer(x, cos, sin, None, False, vision_states=vision_states, num_query_token=queries.shape[1])
        return self.norm(x)
