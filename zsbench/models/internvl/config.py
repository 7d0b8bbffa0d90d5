"""InternVL-C / InternVL-G hyper-parameters as frozen dataclasses.

Every module size is read from here; the defaults are the real InternViT-6B + LLaMA-7B/QLLaMA values of
``internvl_c_13b_224px.pth`` and ``InternVL-14B-224px`` (notes ``internvl_reference.md`` sections 2-5).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from zsbench.errors import CheckpointError


@dataclass(frozen=True)
class VisionConfig:
    """InternViT (pre-norm ViT with RMSNorm, full-width qk RMSNorm, layer scale, class token)."""

    image_size: int = 224
    patch_size: int = 14
    num_channels: int = 3
    hidden_size: int = 3200
    num_heads: int = 25
    intermediate_size: int = 12800
    depth: int = 48
    norm_eps: float = 1e-6
    qkv_bias: bool = False
    qk_normalization: bool = True

    @property
    def num_patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads


@dataclass(frozen=True)
class TextConfig:
    """LLaMA text tower; in the HF checkpoint also the QLLaMA query branch (cross-attention every few layers)."""

    vocab_size: int = 49954
    hidden_size: int = 4096
    num_layers: int = 32
    num_heads: int = 32
    intermediate_size: int = 11008
    rms_norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    max_position_embeddings: int = 2048
    pad_token_id: int = 0
    bos_token_id: int = 1
    eos_token_id: int = 2
    cross_attention_frequency: int = 2

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads


@dataclass(frozen=True)
class InternVLConfig:
    """The whole model. ``num_query_token`` and the cross-attention k/v width (= vision hidden size) are read
    from here, although the reference code hard-codes 96 and 3200 for them."""

    vision: VisionConfig = field(default_factory=VisionConfig)
    text: TextConfig = field(default_factory=TextConfig)
    clip_embed_dim: int = 768
    attn_pool_num_heads: int = 16  # shared by clip_projector and clip_projector2
    pool_norm_eps: float = 1e-5  # the poolers' LayerNorms (not the 1e-6 of the RMSNorms)
    num_query_token: int = 96
    context_length: int = 80

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> InternVLConfig:
        """Inverse of :meth:`to_dict`."""
        rest = {k: v for k, v in d.items() if k not in ("vision", "text")}
        return cls(vision=VisionConfig(**d.get("vision", {})), text=TextConfig(**d.get("text", {})), **rest)

    def with_changes(self, **changes: Any) -> InternVLConfig:
        return replace(self, **changes)


def pth_config() -> InternVLConfig:
    """The fixed config of ``internvl_c_13b_224px.pth``: the .pth has no config file, its code hard-codes these."""
    return InternVLConfig()


_VISION_FIELDS = {  # our name -> HF ``vision_config`` field
    "image_size": "image_size",
    "patch_size": "patch_size",
    "num_channels": "num_channels",
    "hidden_size": "hidden_size",
    "num_heads": "num_attention_heads",
    "intermediate_size": "intermediate_size",
    "depth": "num_hidden_layers",
    "norm_eps": "layer_norm_eps",
    "qkv_bias": "qkv_bias",
    "qk_normalization": "qk_normalization",
}
_TEXT_FIELDS = {  # our name -> HF ``qllama_config`` field
    "vocab_size": "vocab_size",
    "hidden_size": "hidden_size",
    "num_layers": "num_hidden_layers",
    "num_heads": "num_attention_heads",
    "intermediate_size": "intermediate_size",
    "rms_norm_eps": "rms_norm_eps",
    "rope_theta": "rope_theta",
    "max_position_embeddings": "max_position_embeddings",
    "pad_token_id": "pad_token_id",
    "bos_token_id": "bos_token_id",
    "eos_token_id": "eos_token_id",
    "cross_attention_frequency": "cross_attention_frequency",
}


def _pick(src: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    # Missing fields fall back to the dataclass defaults (the real model's values), as the reference config
    # classes' defaults do.
    return {ours: src[theirs] for ours, theirs in names.items() if theirs in src}


def from_hf_config(cfg: dict[str, Any], *, source: str = "config.json") -> InternVLConfig:
    """Build the config from an ``InternVL-14B-224px``-style ``config.json`` dict (``InternVLConfig`` fields)."""
    vis = cfg.get("vision_config") or {}
    txt = cfg.get("qllama_config") or {}
    unsupported = []
    if vis.get("hidden_act", "gelu") != "gelu":
        unsupported.append(f"vision_config.hidden_act={vis['hidden_act']!r} (only 'gelu')")
    if txt.get("hidden_act", "silu") != "silu":
        unsupported.append(f"qllama_config.hidden_act={txt['hidden_act']!r} (only 'silu')")
    if txt.get("rope_scaling") is not None:
        unsupported.append("qllama_config.rope_scaling (only null)")
    kv_heads = txt.get("num_key_value_heads")
    if kv_heads is not None and kv_heads != txt.get("num_attention_heads", kv_heads):
        unsupported.append("qllama_config.num_key_value_heads != num_attention_heads (no grouped-query attention)")
    force = cfg.get("force_image_size")
    if force is not None and not (isinstance(force, int) and not isinstance(force, bool) and force > 0):
        unsupported.append(f"force_image_size={force!r} (a positive integer or null)")
    if cfg.get("use_backbone_lora") or cfg.get("use_qllama_lora"):
        unsupported.append("use_backbone_lora/use_qllama_lora (LoRA weights are not supported)")
    if unsupported:
        raise CheckpointError(f"{source}: unsupported InternVL settings: {'; '.join(unsupported)}")
    vision = VisionConfig(**_pick(vis, _VISION_FIELDS))
    if force:
        # The retrieval fine-tunes (InternVL-14B-*-FT-364px) keep vision_config.image_size 224 and set
        # force_image_size 364: the reference resizes the position embedding to that grid before loading the
        # checkpoint, which stores it resized (677 positions), and transforms images to that size.
        vision = replace(vision, image_size=force)
    text = TextConfig(**_pick(txt, _TEXT_FIELDS))
    top = {}
    for name in ("clip_embed_dim", "attn_pool_num_heads", "num_query_token"):
        if name in cfg:
            top[name] = cfg[name]
    return InternVLConfig(vision=vision, text=text, **top)


def load_hf_config(path: str | os.PathLike[str]) -> InternVLConfig:
    """Read ``config.json`` (or the folder holding it) into an :class:`InternVLConfig`."""
    p = Path(path)
    if p.is_dir():
        p = p / "config.json"
    if not p.is_file():
        raise CheckpointError(f"no InternVL config at {p} (an HF folder needs its config.json)")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise CheckpointError(f"cannot read {p}: {e}") from e
    return from_hf_config(data, source=str(p))


def resolve_config(value: Any) -> InternVLConfig | None:
    """``config=`` option: an :class:`InternVLConfig`, a dict of its fields, a path to an HF config.json, or None."""
    if value is None or isinstance(value, InternVLConfig):
        return value
    if isinstance(value, dict):
        return InternVLConfig.from_dict(value)
    if isinstance(value, (str, os.PathLike)):
        return load_hf_config(value)
    raise CheckpointError(f"config option must be an InternVLConfig, a dict or a path, not {type(value).__name__}")


def to_hf_config(cfg: InternVLConfig) -> dict[str, Any]:
    """An HF ``config.json`` dict with the reference field names (the inverse of :func:`from_hf_config`)."""
    vision = {theirs: getattr(cfg.vision, ours) for ours, theirs in _VISION_FIELDS.items()}
    text = {theirs: getattr(cfg.text, ours) for ours, theirs in _TEXT_FIELDS.items()}
    vision |= {"model_type": "intern_vit_6b", "hidden_act": "gelu", "drop_path_rate": 0.0, "use_flash_attn": False}
    text |= {
        "model_type": "llama",
        "hidden_act": "silu",
        "num_key_value_heads": cfg.text.num_heads,
        "num_query_token": cfg.num_query_token,
        "rope_scaling": None,
        "tie_word_embeddings": False,
    }
    return {
        "architectures": ["InternVLModel"],
        "model_type": "internvl",
        "attn_pool_num_heads": cfg.attn_pool_num_heads,
        "clip_embed_dim": cfg.clip_embed_dim,
        "force_image_size": None,
        "hidden_size": cfg.text.hidden_size,
        "num_query_token": cfg.num_query_token,
        "use_backbone_lora": 0,
        "use_qllama_lora": 0,
        "torch_dtype": "float32",
        "vision_config": vision,
        "qllama_config": text,
    }
