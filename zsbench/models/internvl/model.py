"""InternVL-C / InternVL-G wrapper: image and text embeddings (notes section 6).

One module class covers both checkpoints. Its parameter names are the HF folder's; the .pth names are a
fixed renaming (see :mod:`zsbench.models.internvl.checkpoint`). Which parts exist is a build choice:
the .pth (and the HF folder in C mode) needs no query branch; ``lm_head`` and ``itm_head`` are never used and
are built only to check names against the manifests.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from zsbench.models.internvl.config import InternVLConfig
from zsbench.models.internvl.pooling import AttentionPooling
from zsbench.models.internvl.qllama import QLlama
from zsbench.models.internvl.vision import InternViT

MODES = ("InternVL-C", "InternVL-G")


@dataclass(frozen=True)
class BuildOptions:
    """What to build and which reference code's fp16/bf16 cast order to follow.

    ``style``: ``"pth"`` (clip_benchmark ``internvl_c_pytorch``: layer scale in fp32, transformers-LLaMA norm
    cast) or ``"hf"`` (remote code: layer scale in the activations' dtype, QLLaMA norm cast). Identical in fp32.
    """

    style: str = "hf"
    query_branch: bool = True  # query_tokens, cross-attention layers, clip_projector2 (InternVL-G)
    unused_heads: bool = False  # qllama.lm_head, itm_head (in the HF checkpoint, unused for retrieval)

    def __post_init__(self) -> None:
        if self.style not in ("pth", "hf"):
            raise ValueError(f"style must be 'pth' or 'hf', not {self.style!r}")


def l2n(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=1, keepdim=True)


class InternVLModel(nn.Module):
    def __init__(self, config: InternVLConfig, options: BuildOptions | None = None) -> None:
        super().__init__()
        opts = options or BuildOptions()
        self.config = config
        self.options = opts
        v, t = config.vision, config.text
        self.vision_model = InternViT(v, layerscale_fp32=opts.style == "pth")
        self.qllama = QLlama(
            t,
            cross_attention_kv_dim=v.hidden_size if opts.query_branch else None,
            norm_cast="input" if opts.style == "pth" else "weight",
            with_lm_head=opts.unused_heads,
        )
        heads = config.attn_pool_num_heads
        self.clip_projector = AttentionPooling(v.hidden_size, heads, config.clip_embed_dim, config.pool_norm_eps)
        if opts.query_branch:
            self.query_tokens = nn.Parameter(torch.zeros(1, config.num_query_token, t.hidden_size))
            self.clip_projector2 = AttentionPooling(t.hidden_size, heads, config.clip_embed_dim, config.pool_norm_eps)
        if opts.unused_heads:
            self.itm_head = nn.Linear(t.hidden_size, 2)
        self.text_projection = nn.Parameter(torch.zeros(t.hidden_size, config.clip_embed_dim))
        self.logit_scale = nn.Parameter(torch.tensor(0.0))

    def init_non_persistent_buffers(self, device: torch.device | str) -> None:
        """Recompute buffers that no checkpoint holds (RoPE ``inv_freq``), e.g. after a meta-device build."""
        self.qllama.model.rotary.reset(device)

    # -- towers ------------------------------------------------------------------------------------------
    def vision_hidden_states(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.vision_model(pixels)

    def query_hidden_states(self, vision_states: torch.Tensor) -> torch.Tensor:
        if not self.options.query_branch:
            raise RuntimeError("this InternVL model was built without the QLLaMA query branch (InternVL-G)")
        queries = self.query_tokens.to(vision_states.dtype).expand(vision_states.shape[0], -1, -1)
        return self.qllama.model.forward_queries(queries, vision_states)

    def text_hidden_states(self, ids: torch.Tensor) -> torch.Tensor:
        return self.qllama.model.forward_text(ids)

    # -- embeddings (not normalised, except the two halves of G) ----------------------------------------
    def encode_image(self, pixels: torch.Tensor, mode: str = "InternVL-C") -> torch.Tensor:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        vision = self.vision_hidden_states(pixels)
        backbone = self.clip_projector(vision)
        if mode == "InternVL-C":
            return backbone
        query = self.clip_projector2(self.query_hidden_states(vision))
        # The sum of two unit vectors, returned without renormalising (as the reference does).
        return l2n(backbone) + l2n(query)

    def encode_text(self, ids: torch.Tensor) -> torch.Tensor:
        hidden = self.text_hidden_states(ids)
        eos = (ids > self.config.text.pad_token_id).sum(1) - 1  # the appended EOS under right padding
        feature = hidden[torch.arange(ids.shape[0], device=ids.device), eos]
        return feature @ self.text_projection.to(feature.dtype)

    def forward(self, pixels: torch.Tensor, ids: torch.Tensor, mode: str = "InternVL-C") -> tuple[torch.Tensor, ...]:
        """``(logits_per_image, logits_per_text)`` as the reference ``forward``."""
        img = l2n(self.encode_image(pixels, mode))
        txt = l2n(self.encode_text(ids))
        logits = self.logit_scale.exp() * img @ txt.T
        return logits, logits.T


def build_model(
    config: InternVLConfig,
    options: BuildOptions | None = None,
    *,
    device: torch.device | str = "meta",
    dtype: torch.dtype | None = None,
) -> InternVLModel:
    """Build without allocating (``device="meta"``) or on a device; eval mode, no grad."""
    with torch.device(device):
        model = InternVLModel(config, options)
    if dtype is not None:
        model.to(dtype=dtype)
    if torch.device(device).type != "meta":
        model.init_non_persistent_buffers(device)  # keep RoPE frequencies in fp32 whatever ``dtype`` is
    model.eval().requires_grad_(False)
    return model
